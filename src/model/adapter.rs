//! Fine-tuned encoders shipped as low-rank adapters.
//!
//! A fine-tuned MPNet is 438 MB, too large to commit; its change is not: `W' = W + s·B·A`
//! with rank-r matrices on a few top layers is a few MB. The committed adapter is merged
//! into the pinned base weights on first use, in plain Rust (no libtorch in the default
//! build), in a fixed order with f64 sums so every machine writes the same bytes; the
//! merged weights then go through the same ONNX exporter as the base encoders and the
//! graph's sha256 is checked against the manifest.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::assets::{
    EncoderAssets, EncoderId, Fetch, build_onnx, cache_dir, check_sha, encoder_files,
};

/// Which linear maps of a layer carry adapters (all of them).
pub const LORA_TARGETS: [&str; 6] = ["q", "k", "v", "o", "inter", "out"];

/// The adapter of a fine-tuned model, as its manifest records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdapterInfo {
    pub file: String,
    pub sha256: String,
    pub rank: usize,
    pub alpha: f64,
    /// Adapters sit on this many top layers.
    pub layers: usize,
    /// sha256 of the ONNX graph built from base + adapter (f32), and of its int8 version.
    pub onnx_sha256: String,
    pub onnx_int8_sha256: String,
}

/// Full weight names (without `.weight`/`.bias`) of one encoder layer.
#[derive(Debug, Clone)]
pub struct LayerWeightNames {
    pub q: String,
    pub k: String,
    pub v: String,
    pub o: String,
    pub attn_ln: String,
    pub inter: String,
    pub out: String,
    pub out_ln: String,
}

impl LayerWeightNames {
    /// The name of an adapted map by its [`LORA_TARGETS`] key.
    pub fn target(&self, key: &str) -> &str {
        match key {
            "q" => &self.q,
            "k" => &self.k,
            "v" => &self.v,
            "o" => &self.o,
            "inter" => &self.inter,
            _ => &self.out,
        }
    }
}

/// The same names tools/export_onnx.py uses (`LAYER_NAMES`).
pub fn layer_weight_names(arch: &str, layer: usize) -> Result<LayerWeightNames> {
    let p = format!("encoder.layer.{layer}.");
    let n = |s: &str| format!("{p}{s}");
    match arch {
        "bert" => Ok(LayerWeightNames {
            q: n("attention.self.query"),
            k: n("attention.self.key"),
            v: n("attention.self.value"),
            o: n("attention.output.dense"),
            attn_ln: n("attention.output.LayerNorm"),
            inter: n("intermediate.dense"),
            out: n("output.dense"),
            out_ln: n("output.LayerNorm"),
        }),
        "mpnet" => Ok(LayerWeightNames {
            q: n("attention.attn.q"),
            k: n("attention.attn.k"),
            v: n("attention.attn.v"),
            o: n("attention.attn.o"),
            attn_ln: n("attention.LayerNorm"),
            inter: n("intermediate.dense"),
            out: n("output.dense"),
            out_ln: n("output.LayerNorm"),
        }),
        other => Err(Error::Other(format!(
            "unknown encoder architecture {other}"
        ))),
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `base` with every adapted weight replaced by `W + scale·B·A`, as safetensors bytes.
pub fn merge(base: &[u8], adapter: &[u8], scale: f64, what: &Path) -> Result<Vec<u8>> {
    let bad = |m: String| Error::Other(format!("{}: {m}; the adapter is corrupt", what.display()));
    let base = SafeTensors::deserialize(base)
        .map_err(|e| Error::Other(format!("base encoder weights: {e}")))?;
    let adapter = SafeTensors::deserialize(adapter).map_err(|e| bad(e.to_string()))?;
    let mut merged: HashMap<String, Vec<u8>> = HashMap::new();
    for name in adapter.names() {
        let Some(stem) = name.strip_suffix(".lora_a") else {
            continue;
        };
        let a = adapter.tensor(name).map_err(|e| bad(e.to_string()))?;
        let b = adapter
            .tensor(&format!("{stem}.lora_b"))
            .map_err(|e| bad(e.to_string()))?;
        let w = base
            .tensor(&format!("{stem}.weight"))
            .map_err(|_| bad(format!("{stem}.weight is not in the base encoder")))?;
        let (r, inp) = (a.shape()[0], a.shape()[1]);
        let out = b.shape()[0];
        if a.dtype() != Dtype::F32
            || b.dtype() != Dtype::F32
            || w.dtype() != Dtype::F32
            || b.shape() != [out, r]
            || w.shape() != [out, inp]
        {
            return Err(bad(format!("{stem}: shapes or types do not fit the base")));
        }
        let (a, b, mut w) = (f32s(a.data()), f32s(b.data()), f32s(w.data()));
        for o in 0..out {
            for i in 0..inp {
                let mut delta = 0f64;
                for k in 0..r {
                    delta += f64::from(b[o * r + k]) * f64::from(a[k * inp + i]);
                }
                let cell = &mut w[o * inp + i];
                *cell = (f64::from(*cell) + scale * delta) as f32;
            }
        }
        merged.insert(
            format!("{stem}.weight"),
            w.iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
    }
    if merged.is_empty() {
        return Err(bad("no `.lora_a` tensors".into()));
    }
    let mut names: Vec<String> = base.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut views = Vec::with_capacity(names.len());
    for name in &names {
        let t = base.tensor(name).map_err(|e| Error::Other(e.to_string()))?;
        let data: &[u8] = merged.get(name).map_or(t.data(), |v| v.as_slice());
        let view = TensorView::new(t.dtype(), t.shape().to_vec(), data)
            .map_err(|e| Error::Other(e.to_string()))?;
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, None).map_err(|e| Error::Other(e.to_string()))
}

/// The ONNX graph of a base encoder with a committed adapter merged in: built on first
/// use into the cache, then checked against the sha256s in the manifest.
pub fn adapted_encoder_assets(
    id: EncoderId,
    model_dir: &Path,
    info: &AdapterInfo,
    int8: bool,
    fetch: Fetch,
) -> Result<EncoderAssets> {
    let spec = id.spec();
    let adapter_path = model_dir.join(&info.file);
    crate::model::check_committed(&adapter_path, &info.sha256, "the model's adapter")?;
    let dir = merged_dir(info);
    let onnx = dir.join("model.onnx");
    let onnx_int8 = dir.join("model.int8.onnx");
    if !onnx.exists() || !onnx_int8.exists() {
        write_merged(id, &adapter_path, info, &dir, fetch)?;
        build_onnx(spec, &dir, &onnx, &onnx_int8, fetch)?;
    }
    let (used, sha) = if int8 {
        (onnx_int8, &info.onnx_int8_sha256)
    } else {
        (onnx, &info.onnx_sha256)
    };
    check_sha(&used, sha, "the fine-tuned encoder's ONNX graph")?;
    Ok(EncoderAssets {
        spec,
        onnx: used,
        tokenizer: dir.join("tokenizer.json"),
    })
}

/// Where the merged encoder of an adapter lives in the cache.
pub fn merged_dir(info: &AdapterInfo) -> PathBuf {
    cache_dir()
        .join("finetuned")
        .join(&info.sha256[..16.min(info.sha256.len())])
}

/// Writes merged weights plus the base's config and tokenizer into `dir`.
pub fn write_merged(
    id: EncoderId,
    adapter_path: &Path,
    info: &AdapterInfo,
    dir: &Path,
    fetch: Fetch,
) -> Result<()> {
    let spec = id.spec();
    let base_dir = encoder_files(spec, fetch)?;
    check_sha(
        &base_dir.join("model.safetensors"),
        spec.safetensors_sha256,
        "the encoder weights",
    )?;
    check_sha(
        &base_dir.join("tokenizer.json"),
        spec.tokenizer_sha256,
        "the tokenizer",
    )?;
    fs::create_dir_all(dir).map_err(|e| Error::Write(dir.to_path_buf(), e))?;
    let base_path = base_dir.join("model.safetensors");
    let base = fs::read(&base_path).map_err(|e| Error::Io(base_path.clone(), e))?;
    let adapter = fs::read(adapter_path).map_err(|e| Error::Io(adapter_path.to_path_buf(), e))?;
    eprintln!(
        "partyline: merging the adapter {} into {} (once)",
        adapter_path.display(),
        spec.name
    );
    let merged = merge(&base, &adapter, info.alpha / info.rank as f64, adapter_path)?;
    let out = dir.join("model.safetensors");
    fs::write(&out, merged).map_err(|e| Error::Write(out.clone(), e))?;
    for f in ["config.json", "tokenizer.json"] {
        fs::copy(base_dir.join(f), dir.join(f)).map_err(|e| Error::Write(dir.join(f), e))?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Safetensors bytes of named f32 tensors (also used by the soup tests).
    pub(crate) fn st(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = tensors
            .iter()
            .map(|t| t.2.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .zip(&bytes)
            .map(|(t, b)| {
                (
                    t.0.to_string(),
                    TensorView::new(Dtype::F32, t.1.clone(), b).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn merge_adds_the_scaled_low_rank_product_and_keeps_the_rest() {
        let base = st(&[
            ("l.weight", vec![2, 3], vec![1., 2., 3., 4., 5., 6.]),
            ("l.bias", vec![2], vec![0.5, 0.5]),
        ]);
        // A: 1x3, B: 2x1 -> B·A = [[1,0,2],[3,0,6]]
        let adapter = st(&[
            ("l.lora_a", vec![1, 3], vec![1., 0., 2.]),
            ("l.lora_b", vec![2, 1], vec![1., 3.]),
        ]);
        let out = merge(&base, &adapter, 0.5, Path::new("a")).unwrap();
        let out = SafeTensors::deserialize(&out).unwrap();
        assert_eq!(
            f32s(out.tensor("l.weight").unwrap().data()),
            vec![1.5, 2., 4., 5.5, 5., 9.]
        );
        assert_eq!(f32s(out.tensor("l.bias").unwrap().data()), vec![0.5, 0.5]);
    }

    #[test]
    fn merge_refuses_an_adapter_that_does_not_fit() {
        let base = st(&[("l.weight", vec![2, 3], vec![0.; 6])]);
        let adapter = st(&[
            ("l.lora_a", vec![1, 4], vec![0.; 4]),
            ("l.lora_b", vec![2, 1], vec![0.; 2]),
        ]);
        let e = merge(&base, &adapter, 1.0, Path::new("x.safetensors")).unwrap_err();
        assert!(e.to_string().contains("x.safetensors"), "{e}");
        let e = merge(&base, b"junk", 1.0, Path::new("x.safetensors")).unwrap_err();
        assert!(e.to_string().contains("corrupt"), "{e}");
    }
}
