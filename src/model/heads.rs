//! The two classification heads (stance, sentiment) over sentence features, trained as
//! multinomial logistic regression with L2 and class-balanced weights.
//!
//! Kept in plain Rust: the heads are small, train in seconds on two cores, and load as
//! safetensors, so scoring needs nothing beyond ONNX Runtime for the encoder.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::{Attribution, SentenceRecord};

/// One linear softmax classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// classes × features
    pub w: Array2<f32>,
    pub b: Array1<f32>,
}

impl Linear {
    /// Class probabilities, one row per input.
    pub fn probs(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut logits = x.dot(&self.w.t());
        logits += &self.b;
        softmax_rows(&mut logits);
        logits
    }
}

fn softmax_rows(m: &mut Array2<f32>) {
    for mut row in m.rows_mut() {
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
}

/// Training settings for one head.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    pub l2: f32,
    pub iterations: usize,
    pub learning_rate: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            l2: 1e-3,
            iterations: 400,
            learning_rate: 0.05,
        }
    }
}

/// Fits a softmax regression with full-batch Adam; classes are weighted inversely to
/// their frequency so that rare stances count as much as common ones (macro-F1).
pub fn train_softmax(x: ArrayView2<f32>, y: &[usize], classes: usize, cfg: &TrainConfig) -> Linear {
    let (n, d) = x.dim();
    let mut counts = vec![0f32; classes];
    for &c in y {
        counts[c] += 1.0;
    }
    let weights: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c > 0.0 {
                n as f32 / (classes as f32 * c)
            } else {
                0.0
            }
        })
        .collect();
    let sample_w: Array1<f32> = y.iter().map(|&c| weights[c]).collect();
    let norm = sample_w.sum();
    let mut w = Array2::<f32>::zeros((classes, d));
    let mut b = Array1::<f32>::zeros(classes);
    let (mut mw, mut vw) = (
        Array2::<f32>::zeros((classes, d)),
        Array2::<f32>::zeros((classes, d)),
    );
    let (mut mb, mut vb) = (Array1::<f32>::zeros(classes), Array1::<f32>::zeros(classes));
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    for t in 1..=cfg.iterations {
        let mut p = x.dot(&w.t());
        p += &b;
        softmax_rows(&mut p);
        // Gradient of the weighted mean cross-entropy: (p - onehot) * sample weight.
        for (i, &c) in y.iter().enumerate() {
            p[[i, c]] -= 1.0;
        }
        for (mut row, &sw) in p.rows_mut().into_iter().zip(sample_w.iter()) {
            row *= sw / norm;
        }
        let gw = p.t().dot(&x) + &(&w * cfg.l2);
        let gb = p.sum_axis(Axis(0));
        let (bc1, bc2) = (1.0 - beta1.powi(t as i32), 1.0 - beta2.powi(t as i32));
        mw = &mw * beta1 + &(&gw * (1.0 - beta1));
        vw = &vw * beta2 + &(&gw * &gw * (1.0 - beta2));
        mb = &mb * beta1 + &(&gb * (1.0 - beta1));
        vb = &vb * beta2 + &(&gb * &gb * (1.0 - beta2));
        w = &w - &((&mw / bc1) / ((&vw / bc2).mapv(f32::sqrt) + eps) * cfg.learning_rate);
        b = &b - &((&mb / bc1) / ((&vb / bc2).mapv(f32::sqrt) + eps) * cfg.learning_rate);
    }
    Linear { w, b }
}

/// Which inputs the heads see besides the sentence's own embedding.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FeatureSpec {
    /// The previous sentence's embedding (same document), for pronouns and quote runs.
    pub context: bool,
    /// How the speaker was found, whether there is a speaker and a target, headline flag.
    pub attribution: bool,
}

const ATTRIBUTIONS: [Attribution; 7] = [
    Attribution::Verb,
    Attribution::Noun,
    Attribution::Possessive,
    Attribution::AccordingTo,
    Attribution::Pronoun,
    Attribution::Quote,
    Attribution::None,
];

impl FeatureSpec {
    pub fn width(&self, dim: usize) -> usize {
        dim + if self.context { dim } else { 0 }
            + if self.attribution {
                ATTRIBUTIONS.len() + 3
            } else {
                0
            }
    }

    /// Features for records in document order, given their sentence embeddings.
    pub fn build(&self, emb: ArrayView2<f32>, records: &[SentenceRecord]) -> Array2<f32> {
        let dim = emb.ncols();
        let mut x = Array2::<f32>::zeros((records.len(), self.width(dim)));
        for (i, r) in records.iter().enumerate() {
            let mut row = x.row_mut(i);
            row.slice_mut(ndarray::s![..dim]).assign(&emb.row(i));
            let mut at = dim;
            if self.context {
                if i > 0 && records[i - 1].doc == r.doc && records[i - 1].n + 1 == r.n {
                    row.slice_mut(ndarray::s![at..at + dim])
                        .assign(&emb.row(i - 1));
                }
                at += dim;
            }
            if self.attribution {
                let k = ATTRIBUTIONS
                    .iter()
                    .position(|a| *a == r.attribution)
                    .unwrap_or(6);
                row[at + k] = 1.0;
                at += ATTRIBUTIONS.len();
                row[at] = f32::from(!r.speakers.is_empty());
                row[at + 1] = f32::from(!r.targets.is_empty());
                row[at + 2] = f32::from(r.n == 0);
            }
        }
        x
    }
}

/// Both heads.
#[derive(Debug, Clone, PartialEq)]
pub struct Heads {
    pub stance: Linear,
    pub sentiment: Linear,
}

fn le_bytes(a: &[f32]) -> Vec<u8> {
    a.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Heads {
    /// Saves as safetensors (never pickles).
    pub fn save(&self, path: &Path) -> Result<()> {
        let parts: Vec<(&str, Vec<u8>, Vec<usize>)> = vec![
            (
                "stance.weight",
                le_bytes(&self.stance.w.iter().copied().collect::<Vec<_>>()),
                self.stance.w.shape().to_vec(),
            ),
            (
                "stance.bias",
                le_bytes(&self.stance.b.to_vec()),
                vec![self.stance.b.len()],
            ),
            (
                "sentiment.weight",
                le_bytes(&self.sentiment.w.iter().copied().collect::<Vec<_>>()),
                self.sentiment.w.shape().to_vec(),
            ),
            (
                "sentiment.bias",
                le_bytes(&self.sentiment.b.to_vec()),
                vec![self.sentiment.b.len()],
            ),
        ];
        let mut tensors = Vec::new();
        for (name, bytes, shape) in &parts {
            let v = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map_err(|e| Error::Other(format!("cannot store {name}: {e}")))?;
            tensors.push((name.to_string(), v));
        }
        let bytes = safetensors::serialize(tensors, None)
            .map_err(|e| Error::Other(format!("cannot serialise heads: {e}")))?;
        let (atomic, file) = crate::export::AtomicFile::new(path)?;
        drop(file);
        std::fs::write(atomic.tmp_path(), bytes)
            .map_err(|e| Error::Write(path.to_path_buf(), e))?;
        atomic.commit()
    }

    pub fn load(path: &Path) -> Result<Heads> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| {
            Error::Other(format!(
                "{}: not a valid safetensors file ({e}); the model is corrupt",
                path.display()
            ))
        })?;
        let get = |name: &str| -> Result<(Vec<usize>, Vec<f32>)> {
            let t = st
                .tensor(name)
                .map_err(|e| Error::Other(format!("{}: missing {name}: {e}", path.display())))?;
            if t.dtype() != Dtype::F32 {
                return Err(Error::Other(format!(
                    "{}: {name} is not f32",
                    path.display()
                )));
            }
            let data = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((t.shape().to_vec(), data))
        };
        let linear = |prefix: &str| -> Result<Linear> {
            let (ws, w) = get(&format!("{prefix}.weight"))?;
            let (_, b) = get(&format!("{prefix}.bias"))?;
            let w = Array2::from_shape_vec((ws[0], ws[1]), w)
                .map_err(|e| Error::Other(format!("{}: {prefix}: {e}", path.display())))?;
            Ok(Linear {
                w,
                b: Array1::from(b),
            })
        };
        Ok(Heads {
            stance: linear("stance")?,
            sentiment: linear("sentiment")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_regression_separates_classes() {
        // Three separable clusters in 2-D.
        let pts = [
            (0.0, 2.0, 0),
            (0.2, 1.8, 0),
            (2.0, 0.0, 1),
            (1.8, 0.3, 1),
            (-2.0, -2.0, 2),
            (-1.7, -2.1, 2),
        ];
        let x =
            Array2::from_shape_vec((6, 2), pts.iter().flat_map(|p| [p.0, p.1]).collect()).unwrap();
        let y: Vec<usize> = pts.iter().map(|p| p.2).collect();
        let lin = train_softmax(
            x.view(),
            &y,
            3,
            &TrainConfig {
                l2: 1e-4,
                iterations: 300,
                learning_rate: 0.1,
            },
        );
        let p = lin.probs(x.view());
        for (i, &c) in y.iter().enumerate() {
            let best = (0..3)
                .max_by(|&a, &b| p[[i, a]].total_cmp(&p[[i, b]]))
                .unwrap();
            assert_eq!(best, c);
        }
    }

    #[test]
    fn heads_round_trip_through_safetensors() {
        let h = Heads {
            stance: Linear {
                w: Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32 * 0.5),
                b: Array1::from(vec![0.1, 0.2, 0.3, 0.4]),
            },
            sentiment: Linear {
                w: Array2::from_shape_fn((3, 3), |(i, j)| i as f32 - j as f32),
                b: Array1::from(vec![1.0, -1.0, 0.0]),
            },
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heads.safetensors");
        h.save(&p).unwrap();
        assert_eq!(Heads::load(&p).unwrap(), h);
        std::fs::write(&p, b"garbage").unwrap();
        assert!(Heads::load(&p).unwrap_err().to_string().contains("corrupt"));
    }
}
