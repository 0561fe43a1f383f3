//! A uniform "model soup": several fine-tuning runs of one recipe (different seeds)
//! averaged in weight space (Wortsman et al., 2022).
//!
//! One fine-tuning run's dev score moves by about ±0.01 with the seed alone; averaging the
//! runs' weights removes much of that noise while scoring still costs one encoder (an
//! ensemble of outputs would cost one per run). With low-rank adapters the average of k
//! updates `(α/r)·B_i·A_i` is itself a rank `k·r` adapter: the `A`s stacked by rows, the
//! `B`s side by side, `α` unchanged (`α/(k·r) = (α/r)/k`). So a soup is shipped, merged and
//! checked exactly like a single adapter. The heads, linear, are averaged too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::eval::{Report, load_gold};
use crate::model::adapter::{AdapterInfo, merged_dir, write_merged};
use crate::model::assets::{Fetch, build_onnx, sha256_file};
use crate::model::heads::{Heads, Linear};
use crate::model::{Manifest, check_committed, score_dev_and_choose_int8};

/// One run that went into a soup, as the soup's manifest records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SoupMember {
    pub seed: u64,
    pub best_epoch: usize,
    pub adapter_sha256: String,
    pub dev_stance_macro_f1: f64,
    pub dev_sentiment_macro_f1: f64,
}

pub struct SoupOptions {
    /// Model folders written by `partyline finetune`, same recipe and data.
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    /// Gold documents to score the soup on (and to decide f32 or int8).
    pub dev: Vec<PathBuf>,
    pub fetch: Fetch,
    pub threads: usize,
    pub try_int8: bool,
}

pub struct SoupOutcome {
    pub manifest: Manifest,
    pub report: Report,
}

/// Averages the runs in `opts.inputs` into one model folder and scores it on dev.
pub fn soup(opts: &SoupOptions) -> Result<SoupOutcome> {
    if opts.inputs.len() < 2 {
        return Err(Error::Usage(
            "a soup needs at least two model folders".into(),
        ));
    }
    let manifests: Vec<Manifest> = opts
        .inputs
        .iter()
        .map(|d| Manifest::read(d))
        .collect::<Result<_>>()?;
    let first = &manifests[0];
    let first_adapter = adapter_of(first, &opts.inputs[0])?;
    for (m, dir) in manifests.iter().zip(&opts.inputs).skip(1) {
        let a = adapter_of(m, dir)?;
        let same = m.encoder == first.encoder
            && a.rank == first_adapter.rank
            && a.alpha == first_adapter.alpha
            && a.layers == first_adapter.layers
            && m.data.train_sha256 == first.data.train_sha256;
        if !same {
            return Err(Error::Usage(format!(
                "{} and {} differ in encoder, adapter shape or training data: a soup averages runs of one recipe",
                opts.inputs[0].display(),
                dir.display()
            )));
        }
    }

    std::fs::create_dir_all(&opts.out).map_err(|e| Error::Write(opts.out.clone(), e))?;
    let mut adapters = Vec::new();
    let mut heads = Vec::new();
    for (m, dir) in manifests.iter().zip(&opts.inputs) {
        let info = adapter_of(m, dir)?;
        let path = dir.join(&info.file);
        check_committed(&path, &info.sha256, "the adapter")?;
        adapters.push((path.clone(), read_file(&path)?));
        let heads_path = dir.join(&m.heads_file);
        check_committed(&heads_path, &m.heads_sha256, "the heads")?;
        heads.push(Heads::load(&heads_path)?);
    }
    let adapter_path = opts.out.join("adapter.safetensors");
    write_bytes(&adapter_path, &stack_adapters(&adapters)?)?;
    let heads_path = opts.out.join("heads.safetensors");
    average_heads(&heads).save(&heads_path)?;

    let mut info = AdapterInfo {
        file: "adapter.safetensors".into(),
        sha256: sha256_file(&adapter_path)?,
        rank: first_adapter.rank * opts.inputs.len(),
        alpha: first_adapter.alpha,
        layers: first_adapter.layers,
        onnx_sha256: String::new(),
        onnx_int8_sha256: String::new(),
    };
    let encoder = first.encoder_id()?;
    let dir = merged_dir(&info);
    let (onnx, onnx_int8) = (dir.join("model.onnx"), dir.join("model.int8.onnx"));
    write_merged(encoder, &adapter_path, &info, &dir, opts.fetch)?;
    build_onnx(encoder.spec(), &dir, &onnx, &onnx_int8, opts.fetch)?;
    info.onnx_sha256 = sha256_file(&onnx)?;
    info.onnx_int8_sha256 = sha256_file(&onnx_int8)?;

    let mut manifest = Manifest::for_trained(
        &opts.out,
        encoder,
        &heads_path,
        first.train_config,
        first.data.clone(),
    )?;
    manifest.adapter = Some(info);
    manifest.finetune = first.finetune.clone();
    manifest.soup = manifests
        .iter()
        .map(|m| SoupMember {
            seed: m.finetune.as_ref().map_or(0, |f| f.seed),
            best_epoch: m.finetune.as_ref().map_or(0, |f| f.best_epoch),
            adapter_sha256: m
                .adapter
                .as_ref()
                .map_or(String::new(), |a| a.sha256.clone()),
            dev_stance_macro_f1: m
                .scores
                .dev_stance_macro_f1_f32
                .unwrap_or(m.scores.dev_stance_macro_f1),
            dev_sentiment_macro_f1: m.scores.dev_sentiment_macro_f1,
        })
        .collect();
    manifest.write(&opts.out)?;

    let mut dev_docs = Vec::new();
    for path in &opts.dev {
        dev_docs.extend(load_gold(path)?);
    }
    let report = score_dev_and_choose_int8(
        &opts.out,
        &mut manifest,
        &dev_docs,
        opts.try_int8,
        opts.fetch,
        opts.threads,
        32,
    )?;
    Ok(SoupOutcome { manifest, report })
}

fn adapter_of<'a>(m: &'a Manifest, dir: &Path) -> Result<&'a AdapterInfo> {
    m.adapter.as_ref().ok_or_else(|| {
        Error::Usage(format!(
            "{}: not a fine-tuned model (its manifest has no adapter)",
            dir.display()
        ))
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io(path.to_path_buf(), e))
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::Write(path.to_path_buf(), e))
}

/// One adapter of summed rank: `*.lora_a` (`[r, in]`) stacked by rows, `*.lora_b`
/// (`[out, r]`) side by side, in input order.
pub fn stack_adapters(adapters: &[(PathBuf, Vec<u8>)]) -> Result<Vec<u8>> {
    let parsed: Vec<(&Path, SafeTensors)> = adapters
        .iter()
        .map(|(p, b)| {
            SafeTensors::deserialize(b)
                .map(|st| (p.as_path(), st))
                .map_err(|e| {
                    Error::Other(format!(
                        "{}: not a valid safetensors file ({e}); restore it from git",
                        p.display()
                    ))
                })
        })
        .collect::<Result<_>>()?;
    let mut names: Vec<String> = parsed[0].1.names().into_iter().map(String::from).collect();
    names.sort();
    let mut out: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for name in &names {
        let parts: Vec<(Vec<usize>, &[u8])> = parsed
            .iter()
            .map(|(p, st)| {
                let t = st
                    .tensor(name)
                    .map_err(|_| Error::Usage(format!("{}: has no tensor {name}", p.display())))?;
                if t.dtype() != Dtype::F32 || t.shape().len() != 2 {
                    return Err(Error::Usage(format!(
                        "{}: {name} is not a 2-d f32 matrix",
                        p.display()
                    )));
                }
                Ok((t.shape().to_vec(), t.data()))
            })
            .collect::<Result<_>>()?;
        let (rows, cols) = (parts[0].0[0], parts[0].0[1]);
        let stacked = if name.ends_with(".lora_a") {
            if parts.iter().any(|(s, _)| s[1] != cols) {
                return Err(Error::Usage(format!("{name}: the runs' shapes differ")));
            }
            let total: usize = parts.iter().map(|(s, _)| s[0]).sum();
            (
                vec![total, cols],
                parts.iter().flat_map(|(_, d)| d.iter().copied()).collect(),
            )
        } else if name.ends_with(".lora_b") {
            if parts.iter().any(|(s, _)| s[0] != rows) {
                return Err(Error::Usage(format!("{name}: the runs' shapes differ")));
            }
            let total: usize = parts.iter().map(|(s, _)| s[1]).sum();
            let mut data = Vec::with_capacity(rows * total * 4);
            for r in 0..rows {
                for (s, d) in &parts {
                    let w = s[1] * 4;
                    data.extend_from_slice(&d[r * w..(r + 1) * w]);
                }
            }
            (vec![rows, total], data)
        } else {
            return Err(Error::Usage(format!(
                "{name}: not an adapter matrix (.lora_a or .lora_b)"
            )));
        };
        out.insert(name.clone(), stacked);
    }
    let views: Vec<(String, TensorView)> = out
        .iter()
        .map(|(n, (shape, data))| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Other(e.to_string()))
        })
        .collect::<Result<_>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::Other(e.to_string()))
}

/// The element-wise mean of linear heads of one shape.
pub fn average_heads(heads: &[Heads]) -> Heads {
    let k = heads.len() as f32;
    let mean = |pick: fn(&Heads) -> &Linear| {
        let mut w = pick(&heads[0]).w.clone();
        let mut b = pick(&heads[0]).b.clone();
        for h in &heads[1..] {
            w += &pick(h).w;
            b += &pick(h).b;
        }
        Linear { w: w / k, b: b / k }
    };
    Heads {
        stance: mean(|h| &h.stance),
        sentiment: mean(|h| &h.sentiment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::adapter::merge;
    use crate::model::adapter::tests::st;
    use ndarray::{Array1, Array2};

    fn weight(merged: &[u8]) -> Vec<f32> {
        let st = SafeTensors::deserialize(merged).unwrap();
        st.tensor("l.weight")
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn a_stacked_adapter_merges_to_the_mean_of_its_runs() {
        let base = st(&[("l.weight", vec![2, 3], vec![1., 2., 3., 4., 5., 6.])]);
        // Rank 2 each: A is r x in = 2x3, B is out x r = 2x2.
        let run1 = st(&[
            ("l.lora_a", vec![2, 3], vec![1., 0., 2., 0., 1., 0.]),
            ("l.lora_b", vec![2, 2], vec![1., 2., 3., 4.]),
        ]);
        let run2 = st(&[
            ("l.lora_a", vec![2, 3], vec![0., 3., 1., 1., 1., 1.]),
            ("l.lora_b", vec![2, 2], vec![-1., 0., 2., 0.5]),
        ]);
        let (alpha, r) = (4.0, 2.0);
        let stacked =
            stack_adapters(&[("1".into(), run1.clone()), ("2".into(), run2.clone())]).unwrap();
        let what = Path::new("adapter");
        let soup = weight(&merge(&base, &stacked, alpha / (2.0 * r), what).unwrap());
        let w1 = weight(&merge(&base, &run1, alpha / r, what).unwrap());
        let w2 = weight(&merge(&base, &run2, alpha / r, what).unwrap());
        for ((s, a), b) in soup.iter().zip(&w1).zip(&w2) {
            assert!(
                (s - (a + b) / 2.0).abs() < 1e-5,
                "{s} vs mean of {a} and {b}"
            );
        }
        // And a run souped with itself is that run.
        let twice = stack_adapters(&[("1".into(), run1.clone()), ("1".into(), run1)]).unwrap();
        assert_eq!(
            weight(&merge(&base, &twice, alpha / (2.0 * r), what).unwrap()),
            w1
        );
    }

    #[test]
    fn runs_of_another_shape_or_a_stray_tensor_are_refused() {
        let a = st(&[
            ("l.lora_a", vec![1, 3], vec![1., 0., 2.]),
            ("l.lora_b", vec![2, 1], vec![1., 2.]),
        ]);
        let wider = st(&[
            ("l.lora_a", vec![1, 4], vec![1., 0., 2., 0.]),
            ("l.lora_b", vec![2, 1], vec![1., 2.]),
        ]);
        let err = stack_adapters(&[("a".into(), a.clone()), ("w".into(), wider)]).unwrap_err();
        assert!(err.to_string().contains("shapes differ"), "{err}");
        let stray = st(&[("l.weight", vec![1, 1], vec![1.])]);
        let err = stack_adapters(&[("s".into(), stray.clone()), ("s".into(), stray)]).unwrap_err();
        assert!(err.to_string().contains("not an adapter matrix"), "{err}");
        let err = stack_adapters(&[("a".into(), a), ("x".into(), b"junk".to_vec())]).unwrap_err();
        assert!(err.to_string().contains("restore it from git"), "{err}");
    }

    #[test]
    fn heads_are_averaged_element_wise() {
        let lin = |v: f32| Linear {
            w: Array2::from_elem((2, 3), v),
            b: Array1::from_elem(2, v),
        };
        let h = |v: f32| Heads {
            stance: lin(v),
            sentiment: lin(-v),
        };
        let mean = average_heads(&[h(1.0), h(2.0), h(6.0)]);
        assert!(mean.stance.w.iter().all(|&x| (x - 3.0).abs() < 1e-6));
        assert!(mean.sentiment.b.iter().all(|&x| (x + 3.0).abs() < 1e-6));
    }
}
