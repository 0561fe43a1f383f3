//! The sentence encoder: tokenizer plus an ONNX Runtime session.
//!
//! Batches are sorted by length and padded only to the longest sentence in each batch
//! (the base `tokenizer.json` pads everything to 128, which would cost ~4x on news
//! sentences); sentences longer than the window are truncated and counted.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use ndarray::{Array2, Axis};
use ort::ep::{CUDA, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use tokenizers::{Tokenizer, TruncationParams};

use crate::bench::stages::{self, Stage};
use crate::error::{Error, Result};
use crate::model::assets::{EncoderAssets, Fetch, onnxruntime_library};

/// Longest input in tokens; longer sentences are truncated (and counted).
pub const MAX_TOKENS: usize = 256;

static ORT_ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// Where the encoder runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// ONNX Runtime's CPU provider: the default, and all the tests need.
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA provider; needs the GPU build of the library (`onnxruntime-gpu`).
    Cuda,
}

impl Device {
    pub fn parse(s: &str) -> Option<Device> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Some(Device::Cpu),
            "cuda" | "gpu" => Some(Device::Cuda),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
}

/// The device of every encoder loaded from now on. Process-wide because `Model::load`,
/// shared by scoring and training, takes no device: the CLI sets it once from `--device`.
static DEVICE: AtomicU8 = AtomicU8::new(0);

pub fn set_device(device: Device) {
    DEVICE.store(device as u8, Ordering::Relaxed);
}

pub fn device() -> Device {
    match DEVICE.load(Ordering::Relaxed) {
        1 => Device::Cuda,
        _ => Device::Cpu,
    }
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH` when set (how the GPU build of the library
/// is used), otherwise the pinned CPU build from the cache.
fn library_path(fetch: Fetch) -> Result<PathBuf> {
    match std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        Some(p) => Ok(PathBuf::from(p)),
        None => onnxruntime_library(fetch),
    }
}

/// What to do when `--device cuda` cannot work, for the error messages.
const CUDA_FIX: &str = "install the GPU build of ONNX Runtime (pip install onnxruntime-gpu==1.32.0, \
which needs an NVIDIA driver, CUDA 12 and cuDNN 9) and point ORT_DYLIB_PATH at its \
onnxruntime/capi/libonnxruntime.so.1.32.0; or leave out --device cuda to run on the CPU";

/// Loads the ONNX Runtime library once per process.
fn ort_environment(fetch: Fetch) -> Result<&'static ort::environment::Environment> {
    let env = ORT_ENV.get_or_init(|| {
        let lib = library_path(fetch).map_err(|e| e.to_string())?;
        ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("partyline")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    });
    env.as_ref().map_err(|e| Error::Other(e.clone()))
}

/// Encodes sentences into L2-normalised mean-pooled embeddings.
pub struct Encoder {
    session: Session,
    tokenizer: Tokenizer,
    pad_id: u32,
    pub dim: usize,
    /// Sentences cut at [`MAX_TOKENS`] so far.
    pub truncated: usize,
}

impl Encoder {
    pub fn load(assets: &EncoderAssets, threads: usize, fetch: Fetch) -> Result<Encoder> {
        let env = ort_environment(fetch)?;
        let device = device();
        if device == Device::Cuda && !CUDA::is_available().unwrap_or(false) {
            return Err(Error::Other(format!(
                "--device cuda: the ONNX Runtime library loaded has no CUDA support; {CUDA_FIX}"
            )));
        }
        let session = Session::builder(env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
            .and_then(|b| Ok(b.with_intra_threads(threads.max(1))?))
            .map_err(|e| Error::Other(format!("cannot set up ONNX Runtime: {e}")))?;
        let mut session = match device {
            Device::Cpu => Ok(session),
            Device::Cuda => session
                .with_execution_providers([CUDA::default().build().error_on_failure()])
                .map_err(|e| {
                    Error::Other(format!(
                        "--device cuda: cannot start the CUDA provider ({e}); check the GPU \
                         and driver (nvidia-smi) and the CUDA 12 / cuDNN 9 libraries on \
                         LD_LIBRARY_PATH, or {CUDA_FIX}"
                    ))
                }),
        }?;
        let session = session.commit_from_file(&assets.onnx).map_err(|e| {
            Error::Other(format!(
                "cannot load the encoder {}: {e}",
                assets.onnx.display()
            ))
        })?;
        let tokenizer = load_tokenizer(&assets.tokenizer)?;
        Ok(Encoder {
            session,
            tokenizer,
            pad_id: assets.spec.pad_id,
            dim: assets.spec.hidden,
            truncated: 0,
        })
    }

    /// Token ids of each text (special tokens added, truncated to [`MAX_TOKENS`]).
    pub fn tokenize(&mut self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let start = Instant::now();
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Other(format!("tokenizer failed: {e}")))?;
        let ids = encodings
            .into_iter()
            .map(|e| {
                if !e.get_overflowing().is_empty() {
                    self.truncated += 1;
                }
                e.get_ids().to_vec()
            })
            .collect();
        stages::add(Stage::Tokenize, start.elapsed());
        Ok(ids)
    }

    /// Embeds texts in length-sorted batches; rows are in input order, L2-normalised.
    pub fn embed(&mut self, texts: &[&str], batch_size: usize) -> Result<Array2<f32>> {
        let ids = self.tokenize(texts)?;
        self.embed_ids(&ids, batch_size)
    }

    /// Embeds pre-tokenised inputs (so nothing is tokenised twice).
    pub fn embed_ids(&mut self, ids: &[Vec<u32>], batch_size: usize) -> Result<Array2<f32>> {
        let start = Instant::now();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = Array2::<f32>::zeros((ids.len(), self.dim));
        for chunk in order.chunks(batch_size.max(1)) {
            let longest = chunk
                .iter()
                .map(|&i| ids[i].len())
                .max()
                .unwrap_or(1)
                .max(1);
            let mut input = vec![i64::from(self.pad_id); chunk.len() * longest];
            let mut mask = vec![0i64; chunk.len() * longest];
            for (row, &i) in chunk.iter().enumerate() {
                for (col, &t) in ids[i].iter().enumerate() {
                    input[row * longest + col] = i64::from(t);
                    mask[row * longest + col] = 1;
                }
            }
            let shape = [chunk.len(), longest];
            let input = Tensor::from_array((shape, input)).map_err(ort_err)?;
            let mask = Tensor::from_array((shape, mask)).map_err(ort_err)?;
            let outputs = self
                .session
                .run(ort::inputs!["input_ids" => input, "attention_mask" => mask])
                .map_err(ort_err)?;
            let emb = outputs["sentence_embedding"]
                .try_extract_array::<f32>()
                .map_err(ort_err)?;
            for (row, &i) in chunk.iter().enumerate() {
                let v = emb.index_axis(Axis(0), row);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                for (d, x) in v.iter().enumerate() {
                    out[[i, d]] = x / norm;
                }
            }
        }
        stages::add(Stage::Inference, start.elapsed());
        Ok(out)
    }
}

fn ort_err(e: ort::Error) -> Error {
    Error::Other(format!("ONNX Runtime: {e}"))
}

/// The base tokenizer with its padding removed and truncation set to [`MAX_TOKENS`].
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| {
        Error::Other(format!(
            "{}: cannot load the tokenizer: {e}",
            path.display()
        ))
    })?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..Default::default()
        }))
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    Ok(tokenizer)
}
