//! The stance and sentiment model: a sentence encoder (ONNX, from pinned registry
//! packages) and two linear heads trained by the project, described by a manifest.

pub mod adapter;
pub mod assets;
pub mod encoder;
#[cfg(feature = "train")]
pub mod finetune;
pub mod heads;
pub mod soup;
pub mod train;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::{SENTIMENTS, STANCES, SentenceRecord};
use assets::{EncoderId, Fetch, encoder_assets, sha256_file};
use encoder::Encoder;
use heads::{FeatureSpec, Heads};

/// What a trained model is made of and how well it did; written beside the heads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub created: String,
    pub partyline_version: String,
    /// `minilm` (fast) or `mpnet` (accurate).
    pub encoder: String,
    pub encoder_name: String,
    pub encoder_packages: Vec<PinnedPackage>,
    pub encoder_safetensors_sha256: String,
    /// Whether scoring uses the int8 ONNX graph.
    pub int8: bool,
    pub heads_file: String,
    pub heads_sha256: String,
    pub features: FeatureSpec,
    pub train_config: heads::TrainConfig,
    /// A fine-tuned encoder: the committed low-rank adapter merged into the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<adapter::AdapterInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneInfo>,
    /// A soup (`partyline soup`): the runs averaged into this model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soup: Vec<soup::SoupMember>,
    pub data: DataInfo,
    pub scores: Scores,
}

/// How a fine-tuning run went (`partyline finetune`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FinetuneInfo {
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub seed: u64,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Mean training loss per epoch.
    pub losses: Vec<f64>,
    /// Dev stance macro-F1 before training (index 0) and after each epoch.
    pub dev_curve: Vec<f64>,
    /// Largest |tch - ONNX Runtime| over dev sentence embeddings after export.
    pub onnx_max_abs_diff: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PinnedPackage {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DataInfo {
    pub train_sha256: String,
    pub train_documents: usize,
    pub train_sentences: usize,
    pub dev_sha256: String,
    pub dev_documents: usize,
    pub dev_sentences: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Scores {
    /// Grouped (by document) cross-validation on train, used to pick the L2 strength.
    pub cv_stance_macro_f1: f64,
    pub dev_stance_macro_f1: f64,
    pub dev_sentiment_macro_f1: f64,
    pub dev_stance_macro_f1_f32: Option<f64>,
}

/// The rule for int8: its graph becomes a model's default only if dev stance macro-F1
/// drops by less than 0.01 (train, finetune and soup all apply it).
pub fn int8_keeps_accuracy(f32_stance_f1: f64, int8_stance_f1: f64) -> bool {
    int8_stance_f1 > f32_stance_f1 - 0.01
}

/// Scores the model saved in `dir` on dev through the shipped scoring path (ONNX Runtime),
/// f32 and, with `try_int8`, int8; keeps int8 by [`int8_keeps_accuracy`] and records the
/// scores in `manifest`, on disk too. Returns the report of the graph the model will use.
/// `finetune` and `soup` both end with this.
pub(crate) fn score_dev_and_choose_int8(
    dir: &Path,
    manifest: &mut Manifest,
    dev_docs: &[crate::eval::GoldDoc],
    try_int8: bool,
    fetch: Fetch,
    threads: usize,
    batch_size: usize,
) -> Result<crate::eval::Report> {
    use crate::eval::{attribute_gold, model_report};
    let records = attribute_gold(dev_docs, None)?;
    let mut model = Model::load_forcing_int8(dir, fetch, threads, false)?;
    let dev32 = model_report(&mut model, dev_docs, records.clone(), batch_size)?;
    manifest.int8 = false;
    let mut report = dev32.clone();
    if try_int8 {
        let mut model8 = Model::load_forcing_int8(dir, fetch, threads, true)?;
        let dev8 = model_report(&mut model8, dev_docs, records, batch_size)?;
        eprintln!(
            "partyline: dev stance macro-F1 f32 {:.3}, int8 {:.3}",
            dev32.stance.macro_f1, dev8.stance.macro_f1
        );
        if int8_keeps_accuracy(dev32.stance.macro_f1, dev8.stance.macro_f1) {
            manifest.int8 = true;
            report = dev8;
        }
    }
    manifest.scores = Scores {
        cv_stance_macro_f1: 0.0,
        dev_stance_macro_f1: report.stance.macro_f1,
        dev_sentiment_macro_f1: report.sentiment.as_ref().map_or(0.0, |s| s.macro_f1),
        dev_stance_macro_f1_f32: Some(dev32.stance.macro_f1),
    };
    manifest.write(dir)?;
    Ok(report)
}

/// A loaded model ready to score.
pub struct Model {
    pub manifest: Manifest,
    pub dir: PathBuf,
    encoder: Encoder,
    heads: Heads,
}

/// Finds a model by name (`fast`, `accurate`, a folder under `models/`) or path.
pub fn resolve_model_dir(name: &str) -> Result<PathBuf> {
    let direct = PathBuf::from(name);
    if direct.join("manifest.json").exists() {
        return Ok(direct);
    }
    let mut roots = vec![PathBuf::from("models")];
    if let Ok(exe) = std::env::current_exe() {
        for a in exe.ancestors().skip(1).take(4) {
            roots.push(a.join("models"));
        }
    }
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    for root in roots {
        let dir = root.join(name);
        if dir.join("manifest.json").exists() {
            return Ok(dir);
        }
    }
    Err(Error::Other(format!(
        "no model named {name:?}: expected a folder with manifest.json (models/{name}/ in the partyline checkout, or a path)"
    )))
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Other(format!(
                "{}: not a valid model manifest ({e}); the model is corrupt",
                path.display()
            ))
        })
    }

    /// A manifest for a model trained into `out`: its name (the folder's), today's date,
    /// the base encoder's pins and the heads file's sha256; the caller fills the rest.
    pub fn for_trained(
        out: &Path,
        encoder: EncoderId,
        heads_path: &Path,
        train_config: heads::TrainConfig,
        data: DataInfo,
    ) -> Result<Manifest> {
        let spec = encoder.spec();
        Ok(Manifest {
            name: out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            created: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            partyline_version: env!("CARGO_PKG_VERSION").into(),
            encoder: encoder.key().into(),
            encoder_name: spec.name.into(),
            encoder_packages: spec
                .packages
                .iter()
                .map(|p| PinnedPackage {
                    name: p.name.into(),
                    version: p.version.into(),
                    sha256: p.sha256.into(),
                })
                .collect(),
            encoder_safetensors_sha256: spec.safetensors_sha256.into(),
            int8: false,
            heads_file: heads_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            heads_sha256: sha256_file(heads_path)?,
            features: FeatureSpec::default(),
            train_config,
            adapter: None,
            finetune: None,
            soup: Vec::new(),
            data,
            scores: Scores::default(),
        })
    }

    /// Writes `manifest.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("manifest.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        std::fs::write(&path, text + "\n").map_err(|e| Error::Write(path.clone(), e))
    }

    pub fn encoder_id(&self) -> Result<EncoderId> {
        EncoderId::from_key(&self.encoder).ok_or_else(|| {
            Error::Other(format!(
                "model {}: unknown encoder {:?}",
                self.name, self.encoder
            ))
        })
    }
}

/// The encoder files a model scores with: the base encoder's ONNX graph, or for a
/// fine-tuned model the graph of the base with its adapter merged in.
pub fn model_assets(
    dir: &Path,
    manifest: &Manifest,
    fetch: Fetch,
) -> Result<assets::EncoderAssets> {
    let id = manifest.encoder_id()?;
    match &manifest.adapter {
        Some(info) => adapter::adapted_encoder_assets(id, dir, info, manifest.int8, fetch),
        None => encoder_assets(id, manifest.int8, fetch),
    }
}

/// Checks a committed model file (heads, adapter) against its manifest's sha256; the fix
/// for a mismatch is git, not the asset cache.
pub(crate) fn check_committed(path: &Path, expected: &str, what: &str) -> Result<()> {
    let got = sha256_file(path)?;
    if got != expected {
        return Err(Error::Other(format!(
            "{}: sha256 {got} does not match the manifest ({expected}): {what} is corrupt; restore it from git",
            path.display()
        )));
    }
    Ok(())
}

impl Model {
    /// Loads a model; missing assets are fetched unless `fetch` is offline.
    pub fn load(dir: &Path, fetch: Fetch, threads: usize) -> Result<Model> {
        Model::load_forcing_int8(dir, fetch, threads, false)
    }

    /// Loads a model; `force_int8` scores with its int8 graph even where the manifest chose
    /// f32 (`--int8`: speed for accuracy).
    pub fn load_forcing_int8(
        dir: &Path,
        fetch: Fetch,
        threads: usize,
        force_int8: bool,
    ) -> Result<Model> {
        let mut manifest = Manifest::read(dir)?;
        manifest.int8 |= force_int8;
        let heads_path = dir.join(&manifest.heads_file);
        check_committed(&heads_path, &manifest.heads_sha256, "the model")?;
        let heads = Heads::load(&heads_path)?;
        let assets = model_assets(dir, &manifest, fetch)?;
        let encoder = Encoder::load(&assets, threads, fetch)?;
        let width = manifest.features.width(encoder.dim);
        if heads.stance.w.ncols() != width {
            return Err(Error::Other(format!(
                "{}: heads expect {} features, the encoder gives {width}",
                heads_path.display(),
                heads.stance.w.ncols()
            )));
        }
        Ok(Model {
            manifest,
            dir: dir.to_path_buf(),
            encoder,
            heads,
        })
    }

    /// Sentences truncated at the encoder window so far.
    pub fn truncated(&self) -> usize {
        self.encoder.truncated
    }

    /// Adds stance and sentiment with their probabilities to records in document order.
    pub fn score(&mut self, records: &mut [SentenceRecord], batch_size: usize) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
        let emb = self.encoder.embed(&texts, batch_size)?;
        let x = self.manifest.features.build(emb.view(), records);
        let ps = self.heads.stance.probs(x.view());
        let pt = self.heads.sentiment.probs(x.view());
        for (i, r) in records.iter_mut().enumerate() {
            let s = ps.row(i);
            let t = pt.row(i);
            let argmax = |v: ndarray::ArrayView1<f32>| {
                (0..v.len())
                    .max_by(|&a, &b| v[a].total_cmp(&v[b]))
                    .unwrap_or(0)
            };
            r.stance = Some(STANCES[argmax(s)].to_string());
            r.p_conciliatory = Some(round(s[0]));
            r.p_accusatory = Some(round(s[1]));
            r.p_threatening = Some(round(s[2]));
            r.p_neutral = Some(round(s[3]));
            r.sentiment = Some(SENTIMENTS[argmax(t)].to_string());
            r.p_positive = Some(round(t[0]));
            r.p_negative = Some(round(t[1]));
            r.p_neutral_sentiment = Some(round(t[2]));
        }
        crate::attribute::refine_targets(records);
        Ok(())
    }
}

/// Probabilities to 4 decimals: enough for analysis, and outputs stay readable.
fn round(p: f32) -> f64 {
    (f64::from(p) * 10_000.0).round() / 10_000.0
}
