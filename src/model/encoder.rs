//! The sentence encoder: tokenizer plus an ONNX Runtime session.
//!
//! Batches are sorted by length and padded only to the longest sentence in each batch
//! (the base `tokenizer.json` pads everything to 128, which would cost ~4x on news
//! sentences); sentences longer than the window are truncated and counted.

use std::path::Path;
use std::sync::OnceLock;

use ndarray::{Array2, Axis};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::model::assets::{EncoderAssets, Fetch, onnxruntime_library};

/// Longest input in tokens; longer sentences are truncated (and counted).
pub const MAX_TOKENS: usize = 256;

static ORT_ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// Loads the pinned ONNX Runtime library once per process.
fn ort_environment(fetch: Fetch) -> Result<&'static ort::environment::Environment> {
    let env = ORT_ENV.get_or_init(|| {
        let lib = onnxruntime_library(fetch).map_err(|e| e.to_string())?;
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
        let session = Session::builder(env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
            .and_then(|b| Ok(b.with_intra_threads(threads.max(1))?))
            .and_then(|mut b| b.commit_from_file(&assets.onnx))
            .map_err(|e| {
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
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Other(format!("tokenizer failed: {e}")))?;
        Ok(encodings
            .into_iter()
            .map(|e| {
                if !e.get_overflowing().is_empty() {
                    self.truncated += 1;
                }
                e.get_ids().to_vec()
            })
            .collect())
    }

    /// Embeds texts in length-sorted batches; rows are in input order, L2-normalised.
    pub fn embed(&mut self, texts: &[&str], batch_size: usize) -> Result<Array2<f32>> {
        let ids = self.tokenize(texts)?;
        self.embed_ids(&ids, batch_size)
    }

    /// Embeds pre-tokenised inputs (so nothing is tokenised twice).
    pub fn embed_ids(&mut self, ids: &[Vec<u32>], batch_size: usize) -> Result<Array2<f32>> {
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
