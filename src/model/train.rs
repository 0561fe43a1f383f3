//! Training the heads on the project's labeled data, with the encoder frozen.
//!
//! The L2 strength of each head is chosen by five-fold cross-validation on the training
//! set with folds by document (never by sentence), so the dev set is used only to report,
//! and to decide whether the int8 encoder is good enough to be the default.

use std::path::PathBuf;

use ndarray::{Array2, ArrayView2, Axis};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::eval::{GoldDoc, Report, attribute_gold, load_gold, report, task_scores};
use crate::model::assets::{EncoderId, Fetch, cache_dir, encoder_assets};
use crate::model::encoder::Encoder;
use crate::model::heads::{FeatureSpec, Heads, Linear, TrainConfig, train_softmax};
use crate::model::{DataInfo, Manifest, Scores};
use crate::record::{SENTIMENTS, STANCES, SentenceRecord};

/// Settings of `partyline train`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub train: Vec<PathBuf>,
    pub dev: Vec<PathBuf>,
    pub out: PathBuf,
    pub encoder: EncoderId,
    pub features: FeatureSpec,
    pub threads: usize,
    pub batch_size: usize,
    pub fetch: Fetch,
    /// Check the int8 encoder on dev and make it the default if it costs < 0.01 macro-F1.
    pub try_int8: bool,
}

const L2_GRID: [f32; 6] = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2];
const FOLDS: usize = 5;

/// Gold documents of several files or folders, and a hash of their labeled content.
pub(crate) fn load_all(paths: &[PathBuf]) -> Result<(Vec<GoldDoc>, String)> {
    let mut docs = Vec::new();
    let mut hasher = Sha256::new();
    for p in paths {
        let d = load_gold(p)?;
        for doc in &d {
            hasher.update(doc.doc.as_bytes());
            for s in &doc.sentences {
                hasher.update(s.text.as_bytes());
                hasher.update([s.stance as u8, s.sentiment as u8]);
            }
        }
        docs.extend(d);
    }
    let hash = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((docs, hash))
}

/// Sentence embeddings, cached on disk by encoder and text so repeated training runs do
/// not re-encode the corpus.
fn embeddings(
    encoder: &mut Encoder,
    key: &str,
    records: &[SentenceRecord],
    batch: usize,
) -> Result<Array2<f32>> {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    for r in records {
        h.update(r.text.as_bytes());
        h.update([0]);
    }
    let digest: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = cache_dir()
        .join("embeddings")
        .join(format!("{key}-{digest}.f32"));
    let dim = encoder.dim;
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() == records.len() * dim * 4
    {
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Array2::from_shape_vec((records.len(), dim), v)
            .map_err(|e| Error::Other(e.to_string()));
    }
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    let started = std::time::Instant::now();
    let emb = encoder.embed(&texts, batch)?;
    eprintln!(
        "partyline: encoded {} sentences in {:.1}s",
        texts.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let bytes: Vec<u8> = emb.iter().flat_map(|v| v.to_le_bytes()).collect();
    let _ = std::fs::write(&path, bytes);
    Ok(emb)
}

fn argmax_rows(p: &Array2<f32>) -> Vec<usize> {
    p.rows()
        .into_iter()
        .map(|r| {
            (0..r.len())
                .max_by(|&a, &b| r[a].total_cmp(&r[b]))
                .unwrap_or(0)
        })
        .collect()
}

fn select_rows(x: ArrayView2<f32>, rows: &[usize]) -> Array2<f32> {
    x.select(Axis(0), rows)
}

/// Mean macro-F1 over document folds for one L2 value.
fn cross_validate(
    x: ArrayView2<f32>,
    y: &[usize],
    fold_of: &[usize],
    classes: usize,
    labels: &[&str],
    cfg: &TrainConfig,
) -> f64 {
    let mut total = 0.0;
    for f in 0..FOLDS {
        let train: Vec<usize> = (0..y.len()).filter(|&i| fold_of[i] != f).collect();
        let test: Vec<usize> = (0..y.len()).filter(|&i| fold_of[i] == f).collect();
        let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
        let yte: Vec<usize> = test.iter().map(|&i| y[i]).collect();
        let lin = train_softmax(select_rows(x, &train).view(), &ytr, classes, cfg);
        let pred = argmax_rows(&lin.probs(select_rows(x, &test).view()));
        total += task_scores(&yte, &pred, labels).macro_f1;
    }
    total / FOLDS as f64
}

fn fit_head(
    x: ArrayView2<f32>,
    y: &[usize],
    fold_of: &[usize],
    classes: usize,
    labels: &[&str],
) -> (Linear, TrainConfig, f64) {
    let mut best = (TrainConfig::default(), f64::NEG_INFINITY);
    for l2 in L2_GRID {
        let cfg = TrainConfig {
            l2,
            ..TrainConfig::default()
        };
        let f1 = cross_validate(x, y, fold_of, classes, labels, &cfg);
        eprintln!("partyline:   l2={l2:<7} cross-validated macro-F1 {f1:.3}");
        if f1 > best.1 {
            best = (cfg, f1);
        }
    }
    (train_softmax(x, y, classes, &best.0), best.0, best.1)
}

fn dev_report(
    encoder: &mut Encoder,
    key: &str,
    heads: &Heads,
    features: FeatureSpec,
    dev: &[GoldDoc],
    records: &[SentenceRecord],
    batch: usize,
) -> Result<Report> {
    let emb = embeddings(encoder, key, records, batch)?;
    let x = features.build(emb.view(), records);
    let ps = argmax_rows(&heads.stance.probs(x.view()));
    let pt = argmax_rows(&heads.sentiment.probs(x.view()));
    Ok(report(dev, records, &ps, Some(&pt)))
}

/// Trains heads and writes `heads.safetensors` and `manifest.json` into `opts.out`.
pub fn train(opts: &TrainOptions) -> Result<(Manifest, Report)> {
    let (train_docs, train_hash) = load_all(&opts.train)?;
    let (dev_docs, dev_hash) = load_all(&opts.dev)?;
    if train_docs.is_empty() || dev_docs.is_empty() {
        return Err(Error::Usage(
            "train and dev must each hold at least one gold document".into(),
        ));
    }
    let train_ids: std::collections::HashSet<&str> =
        train_docs.iter().map(|d| d.doc.as_str()).collect();
    if let Some(d) = dev_docs.iter().find(|d| train_ids.contains(d.doc.as_str())) {
        return Err(Error::Other(format!(
            "document {} is in both train and dev: keep the splits apart by document",
            d.doc
        )));
    }
    let train_records = attribute_gold(&train_docs, None)?;
    let dev_records = attribute_gold(&dev_docs, None)?;
    let assets = encoder_assets(opts.encoder, false, opts.fetch)?;
    let mut encoder = Encoder::load(&assets, opts.threads, opts.fetch)?;
    let key = format!("{}-f32", opts.encoder.key());
    let emb = embeddings(&mut encoder, &key, &train_records, opts.batch_size)?;
    let x = opts.features.build(emb.view(), &train_records);
    let gold: Vec<_> = train_docs.iter().flat_map(|d| d.sentences.iter()).collect();
    let ys: Vec<usize> = gold.iter().map(|g| g.stance).collect();
    let yt: Vec<usize> = gold.iter().map(|g| g.sentiment).collect();
    // Folds by document: a stable hash of the id, so folds do not depend on file order.
    let fold_of: Vec<usize> = train_records
        .iter()
        .map(|r| {
            let h = Sha256::digest(r.doc.as_bytes());
            h[0] as usize % FOLDS
        })
        .collect();
    eprintln!(
        "partyline: stance head ({} sentences, {} features)",
        ys.len(),
        x.ncols()
    );
    let (stance, stance_cfg, cv_stance) =
        fit_head(x.view(), &ys, &fold_of, STANCES.len(), &STANCES);
    eprintln!("partyline: sentiment head");
    let (sentiment, _, _) = fit_head(x.view(), &yt, &fold_of, SENTIMENTS.len(), &SENTIMENTS);
    let heads = Heads { stance, sentiment };

    let dev_f32 = dev_report(
        &mut encoder,
        &key,
        &heads,
        opts.features,
        &dev_docs,
        &dev_records,
        opts.batch_size,
    )?;
    let mut int8 = false;
    let mut dev = dev_f32.clone();
    if opts.try_int8 {
        let assets8 = encoder_assets(opts.encoder, true, opts.fetch)?;
        let mut encoder8 = Encoder::load(&assets8, opts.threads, opts.fetch)?;
        let dev8 = dev_report(
            &mut encoder8,
            &format!("{}-int8", opts.encoder.key()),
            &heads,
            opts.features,
            &dev_docs,
            &dev_records,
            opts.batch_size,
        )?;
        eprintln!(
            "partyline: dev stance macro-F1 f32 {:.3}, int8 {:.3}",
            dev_f32.stance.macro_f1, dev8.stance.macro_f1
        );
        if crate::model::int8_keeps_accuracy(dev_f32.stance.macro_f1, dev8.stance.macro_f1) {
            int8 = true;
            dev = dev8;
        }
    }

    std::fs::create_dir_all(&opts.out).map_err(|e| Error::Write(opts.out.clone(), e))?;
    let heads_path = opts.out.join("heads.safetensors");
    heads.save(&heads_path)?;
    let mut manifest = Manifest::for_trained(
        &opts.out,
        opts.encoder,
        &heads_path,
        stance_cfg,
        DataInfo {
            train_sha256: train_hash,
            train_documents: train_docs.len(),
            train_sentences: ys.len(),
            dev_sha256: dev_hash,
            dev_documents: dev_docs.len(),
            dev_sentences: dev_records.len(),
        },
    )?;
    manifest.int8 = int8;
    manifest.features = opts.features;
    manifest.scores = Scores {
        cv_stance_macro_f1: cv_stance,
        dev_stance_macro_f1: dev.stance.macro_f1,
        dev_sentiment_macro_f1: dev.sentiment.as_ref().map_or(0.0, |s| s.macro_f1),
        dev_stance_macro_f1_f32: Some(dev_f32.stance.macro_f1),
    };
    manifest.write(&opts.out)?;
    Ok((manifest, dev))
}
