//! `partyline finetune` (cargo feature `train`): fine-tunes the encoder with low-rank
//! adapters and the two heads jointly, on libtorch through tch.
//!
//! Two cores cannot afford backpropagation through all of MPNet for every sentence, so
//! the adapters sit on the top layers only: the layers below run once per sentence and
//! their output is kept, and each step runs the adapted layers forward and backward.
//! The run is seeded (tch's generator and the batch order), stops early on dev stance
//! macro-F1, and writes the adapter and heads as safetensors with a manifest; the
//! merged encoder is exported to ONNX through the same exporter as the base encoders and
//! the scoring path's (ONNX Runtime) output is checked against tch's.

pub mod network;

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::{Array1, Array2};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use crate::error::{Error, Result};
use crate::eval::{GoldDoc, Report, task_scores};
use crate::model::adapter::{AdapterInfo, merged_dir, write_merged};
use crate::model::assets::{EncoderId, Fetch, build_onnx, encoder_files, sha256_file};
use crate::model::encoder::{Encoder, load_tokenizer};
use crate::model::heads::{Heads, Linear, TrainConfig};
use crate::model::train::load_all;
use crate::model::{DataInfo, Manifest};
use crate::record::{SENTIMENTS, STANCES};
use network::{NetConfig, Network};

/// Settings of `partyline finetune`.
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    pub train: Vec<PathBuf>,
    pub dev: Vec<PathBuf>,
    pub out: PathBuf,
    pub encoder: EncoderId,
    /// Adapters on this many top layers.
    pub layers: usize,
    pub rank: usize,
    pub alpha: f64,
    pub epochs: usize,
    /// Stop after this many epochs without a better dev stance macro-F1.
    pub patience: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
    pub threads: usize,
    /// Start the heads from a trained heads file (e.g. the frozen model's) instead of zero.
    pub init_heads: Option<PathBuf>,
    /// Use only the first N training sentences (the CI smoke test).
    pub limit: Option<usize>,
    pub try_int8: bool,
    pub fetch: Fetch,
}

/// What a run measured besides the dev report.
#[derive(Debug, Clone)]
pub struct FinetuneOutcome {
    pub manifest: Manifest,
    pub report: Report,
    /// Mean training loss of each epoch.
    pub losses: Vec<f64>,
    /// Dev stance macro-F1 before training (frozen encoder, initial heads) and per epoch.
    pub dev_curve: Vec<f64>,
    /// Largest |tch - ONNX Runtime| over the dev sentences' embeddings.
    pub onnx_max_abs_diff: f64,
}

/// Token ids of each gold sentence, tokenised as the scoring path does.
fn token_ids(tokenizer_path: &Path, texts: &[String]) -> Result<Vec<Vec<i64>>> {
    let tokenizer = load_tokenizer(tokenizer_path)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let enc = tokenizer
        .encode_batch(texts, true)
        .map_err(|e| Error::Other(format!("tokenizer failed: {e}")))?;
    Ok(enc
        .iter()
        .map(|e| e.get_ids().iter().map(|&i| i64::from(i)).collect())
        .collect())
}

/// Pads id sequences into `[B, L]` ids and mask tensors.
fn pad_ids(seqs: &[&Vec<i64>], pad: i64) -> (Tensor, Tensor) {
    let len = seqs.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
    let mut ids = vec![pad; seqs.len() * len];
    let mut mask = vec![0i64; seqs.len() * len];
    for (r, s) in seqs.iter().enumerate() {
        for (c, &t) in s.iter().enumerate() {
            ids[r * len + c] = t;
            mask[r * len + c] = 1;
        }
    }
    let shape = [seqs.len() as i64, len as i64];
    (
        Tensor::from_slice(&ids).view(shape),
        Tensor::from_slice(&mask).view(shape),
    )
}

/// Hidden states below the adapted layers, one `[len, H]` tensor per sentence; kept on
/// disk (keyed by encoder, layer count and token ids) so that a second run with other
/// settings skips the most expensive part. The key is a running hash, so a run whose data
/// only appends sentences (a new batch sorts after the old ones) reuses the states of the
/// longest cached prefix and encodes just the rest.
fn cache_lower_layers(net: &Network, ids: &[Vec<i64>], label: &str) -> Result<Vec<Tensor>> {
    use sha2::{Digest, Sha256};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let dir = crate::model::assets::cache_dir().join("finetune-states");
    let mut h = Sha256::new();
    h.update(format!("{}-{}-{}", net.cfg.arch, net.cfg.hidden, net.first_adapted).as_bytes());
    let mut prefix_paths = Vec::with_capacity(ids.len());
    for s in ids {
        for t in s {
            h.update(t.to_le_bytes());
        }
        h.update([0xff]);
        let digest: String = h
            .clone()
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        prefix_paths.push(dir.join(format!("{digest}.safetensors")));
    }
    let mut out = Vec::new();
    for k in (1..=ids.len()).rev() {
        if prefix_paths[k - 1].is_file()
            && let Some(states) = read_states(&prefix_paths[k - 1], &ids[..k])
        {
            out = states;
            break;
        }
    }
    if out.len() == ids.len() {
        return Ok(out);
    }
    if !out.is_empty() {
        eprintln!(
            "partyline: {label}: reusing cached states of the first {} of {} sentences",
            out.len(),
            ids.len()
        );
    }
    out.extend(compute_lower_layers(net, &ids[out.len()..], label)?);
    let _ = std::fs::create_dir_all(&dir);
    let all = Tensor::cat(&out, 0);
    let _ = Tensor::write_safetensors(&[("states", &all)], &prefix_paths[ids.len() - 1]);
    Ok(out)
}

/// Cached states split back into sentences, or `None` when the file does not fit `ids`.
fn read_states(path: &std::path::Path, ids: &[Vec<i64>]) -> Option<Vec<Tensor>> {
    let (_, all) = Tensor::read_safetensors(path)
        .ok()?
        .into_iter()
        .find(|(n, _)| n == "states")?;
    let total: usize = ids.iter().map(Vec::len).sum();
    if all.size().first().copied() != Some(total as i64) {
        return None;
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut at = 0i64;
    for s in ids {
        out.push(all.narrow(0, at, s.len() as i64));
        at += s.len() as i64;
    }
    Some(out)
}

fn compute_lower_layers(net: &Network, ids: &[Vec<i64>], label: &str) -> Result<Vec<Tensor>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    let mut out: Vec<Option<Tensor>> = (0..ids.len()).map(|_| None).collect();
    let bar = progress_bar(
        ids.len() as u64,
        &format!("encoding {label} (frozen layers)"),
    );
    let _guard = tch::no_grad_guard();
    for chunk in order.chunks(32) {
        let seqs: Vec<&Vec<i64>> = chunk.iter().map(|&i| &ids[i]).collect();
        let (t, m) = pad_ids(&seqs, net.cfg.pad_id);
        let bias = net.attention_bias(&m)?;
        let x = net.layers(net.embeddings(&t, &m)?, &bias, 0, net.first_adapted, false);
        for (row, &i) in chunk.iter().enumerate() {
            out[i] = Some(x.get(row as i64).narrow(0, 0, ids[i].len() as i64).copy());
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out.into_iter().map(|t| t.unwrap_or_default()).collect())
}

fn progress_bar(len: u64, msg: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}/{eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(msg.to_string());
    bar
}

/// The trainable part: adapters live in `vs`, heads too.
struct Heads2 {
    stance_w: Tensor,
    stance_b: Tensor,
    sentiment_w: Tensor,
    sentiment_b: Tensor,
}

impl Heads2 {
    fn new(vs: &nn::Path, hidden: i64, init: Option<&Heads>) -> Result<Heads2> {
        let var = |name: &str, shape: &[i64], init_values: Option<Vec<f32>>| -> Tensor {
            let t = vs.zeros(name, shape);
            if let Some(v) = init_values {
                tch::no_grad(|| {
                    let mut t = t.shallow_clone();
                    t.copy_(&Tensor::from_slice(&v).view(shape));
                });
            }
            t
        };
        let flat = |l: &Linear| (l.w.iter().copied().collect(), l.b.to_vec());
        if let Some(h) = init
            && h.stance.w.ncols() as i64 != hidden
        {
            return Err(Error::Usage(format!(
                "--init-heads: the heads take {} features, the encoder gives {hidden}",
                h.stance.w.ncols()
            )));
        }
        let (sw, sb) = init.map(|h| flat(&h.stance)).unzip();
        let (tw, tb) = init.map(|h| flat(&h.sentiment)).unzip();
        Ok(Heads2 {
            stance_w: var("stance_w", &[STANCES.len() as i64, hidden], sw),
            stance_b: var("stance_b", &[STANCES.len() as i64], sb),
            sentiment_w: var("sentiment_w", &[SENTIMENTS.len() as i64, hidden], tw),
            sentiment_b: var("sentiment_b", &[SENTIMENTS.len() as i64], tb),
        })
    }

    fn logits(&self, pooled: &Tensor) -> (Tensor, Tensor) {
        (
            pooled.linear(&self.stance_w, Some(&self.stance_b)),
            pooled.linear(&self.sentiment_w, Some(&self.sentiment_b)),
        )
    }

    fn to_heads(&self) -> Heads {
        let lin = |w: &Tensor, b: &Tensor| {
            let shape = w.size();
            let wv: Vec<f32> = Vec::try_from(w.flatten(0, -1)).unwrap_or_default();
            let bv: Vec<f32> = Vec::try_from(b).unwrap_or_default();
            Linear {
                w: Array2::from_shape_vec((shape[0] as usize, shape[1] as usize), wv)
                    .unwrap_or_else(|_| Array2::zeros((shape[0] as usize, shape[1] as usize))),
                b: Array1::from(bv),
            }
        };
        Heads {
            stance: lin(&self.stance_w, &self.stance_b),
            sentiment: lin(&self.sentiment_w, &self.sentiment_b),
        }
    }
}

/// Pads cached states into `[B, L, H]` with their mask.
fn batch_states(states: &[Tensor], rows: &[usize]) -> (Tensor, Tensor) {
    let seqs: Vec<&Tensor> = rows.iter().map(|&i| &states[i]).collect();
    let x = Tensor::pad_sequence(&seqs, true, 0.0);
    let len = x.size()[1];
    let lens: Vec<i64> = seqs.iter().map(|t| t.size()[0]).collect();
    let mask = Tensor::arange(len, (Kind::Int64, Device::Cpu))
        .unsqueeze(0)
        .lt_tensor(&Tensor::from_slice(&lens).unsqueeze(1))
        .to_kind(Kind::Int64);
    (x, mask)
}

/// Forward through the adapted layers and pooling.
fn pooled(net: &Network, states: &[Tensor], rows: &[usize], train: bool) -> Result<Tensor> {
    let (x, mask) = batch_states(states, rows);
    let bias = net.attention_bias(&mask)?;
    let x = net.layers(x, &bias, net.first_adapted, net.cfg.layers, train);
    Ok(Network::pool(&x, &mask))
}

/// Stance and sentiment predictions for cached sentences.
fn predict(
    net: &Network,
    heads: &Heads2,
    states: &[Tensor],
    batch: usize,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let _guard = tch::no_grad_guard();
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|&i| states[i].size()[0]);
    let mut ps = vec![0; states.len()];
    let mut pt = vec![0; states.len()];
    for chunk in order.chunks(batch.max(1) * 2) {
        let p = pooled(net, states, chunk, false)?;
        let (s, t) = heads.logits(&p);
        let s: Vec<i64> = Vec::try_from(s.argmax(1, false)).unwrap_or_default();
        let t: Vec<i64> = Vec::try_from(t.argmax(1, false)).unwrap_or_default();
        for (k, &i) in chunk.iter().enumerate() {
            ps[i] = s[k] as usize;
            pt[i] = t[k] as usize;
        }
    }
    Ok((ps, pt))
}

/// Inverse-frequency class weights, so that macro-F1 is what the loss cares about.
fn class_weights(y: &[i64], classes: usize) -> Tensor {
    let mut counts = vec![0f32; classes];
    for &c in y {
        counts[c as usize] += 1.0;
    }
    let n = y.len() as f32;
    let w: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c > 0.0 {
                n / (classes as f32 * c)
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_slice(&w)
}

/// A small seeded generator for the batch order (splitmix64).
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn restore(vs: &nn::VarStore, saved: &[(String, Tensor)]) {
    let vars = vs.variables();
    tch::no_grad(|| {
        for (n, t) in saved {
            if let Some(v) = vars.get(n) {
                v.shallow_clone().copy_(t);
            }
        }
    });
}

/// Runs the fine-tuning and writes the model folder.
pub fn finetune(opts: &FinetuneOptions) -> Result<FinetuneOutcome> {
    tch::manual_seed(opts.seed as i64);
    tch::set_num_threads(opts.threads.max(1) as i32);
    let (mut train_docs, train_hash) = load_all(&opts.train)?;
    let (dev_docs, dev_hash) = load_all(&opts.dev)?;
    if let Some(limit) = opts.limit {
        let mut kept = 0;
        train_docs.retain_mut(|d| {
            let room = limit.saturating_sub(kept);
            d.sentences.truncate(room);
            kept += d.sentences.len();
            !d.sentences.is_empty()
        });
    }
    if train_docs.is_empty() || dev_docs.is_empty() {
        return Err(Error::Usage(
            "train and dev must each hold at least one gold document".into(),
        ));
    }
    let spec = opts.encoder.spec();
    let base_dir = encoder_files(spec, opts.fetch)?;
    let cfg = NetConfig::read(&base_dir, spec.arch)?;
    if opts.layers == 0 || opts.layers > cfg.layers || opts.rank == 0 {
        return Err(Error::Usage(format!(
            "--layers must be 1..={} and --rank at least 1",
            cfg.layers
        )));
    }
    let mut info = AdapterInfo {
        file: "adapter.safetensors".into(),
        sha256: String::new(),
        rank: opts.rank,
        alpha: opts.alpha,
        layers: opts.layers,
        onnx_sha256: String::new(),
        onnx_int8_sha256: String::new(),
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Network::load(
        &base_dir.join("model.safetensors"),
        cfg,
        Some(&info),
        &vs.root(),
    )?;
    let init = match &opts.init_heads {
        Some(p) => Some(Heads::load(p)?),
        None => None,
    };
    let heads = Heads2::new(&vs.root(), net.cfg.hidden, init.as_ref())?;

    let gold_of = |docs: &[GoldDoc]| -> (Vec<String>, Vec<i64>, Vec<i64>) {
        let s: Vec<_> = docs.iter().flat_map(|d| d.sentences.iter()).collect();
        (
            s.iter().map(|g| g.text.clone()).collect(),
            s.iter().map(|g| g.stance as i64).collect(),
            s.iter().map(|g| g.sentiment as i64).collect(),
        )
    };
    let (train_text, ys, yt) = gold_of(&train_docs);
    let (dev_text, dev_ys, _) = gold_of(&dev_docs);
    let tok = base_dir.join("tokenizer.json");
    let train_ids = token_ids(&tok, &train_text)?;
    let dev_ids = token_ids(&tok, &dev_text)?;
    let started = Instant::now();
    let train_states = cache_lower_layers(&net, &train_ids, "train")?;
    let dev_states = cache_lower_layers(&net, &dev_ids, "dev")?;
    eprintln!(
        "partyline: cached layers 0..{} for {} + {} sentences in {:.0}s",
        net.first_adapted,
        train_ids.len(),
        dev_ids.len(),
        started.elapsed().as_secs_f64()
    );

    let dev_f1 = |net: &Network, heads: &Heads2| -> Result<f64> {
        let (ps, _) = predict(net, heads, &dev_states, opts.batch_size)?;
        let gold: Vec<usize> = dev_ys.iter().map(|&v| v as usize).collect();
        Ok(task_scores(&gold, &ps, &STANCES).macro_f1)
    };
    let mut dev_curve = vec![dev_f1(&net, &heads)?];
    eprintln!(
        "partyline: before fine-tuning: dev stance macro-F1 {:.3}",
        dev_curve[0]
    );
    let mut best = (dev_curve[0], snapshot(&vs), 0usize);
    let stance_w = class_weights(&ys, STANCES.len());
    let sentiment_w = class_weights(&yt, SENTIMENTS.len());
    let ys_t = Tensor::from_slice(&ys);
    let yt_t = Tensor::from_slice(&yt);
    let mut opt = nn::AdamW::default()
        .build(&vs, opts.learning_rate)
        .map_err(|e| Error::Other(format!("optimizer: {e}")))?;
    let mut rng = SplitMix(opts.seed);
    let mut losses = Vec::new();
    let steps_per_epoch = train_states.len().div_ceil(opts.batch_size.max(1));
    for epoch in 1..=opts.epochs {
        let mut order: Vec<usize> = (0..train_states.len()).collect();
        rng.shuffle(&mut order);
        let bar = progress_bar(steps_per_epoch as u64, &format!("epoch {epoch}"));
        let mut total = 0.0;
        for (step, rows) in order.chunks(opts.batch_size.max(1)).enumerate() {
            let p = pooled(&net, &train_states, rows, true)?;
            let (s, t) = heads.logits(&p);
            let idx = Tensor::from_slice(&rows.iter().map(|&i| i as i64).collect::<Vec<_>>());
            let loss = s.cross_entropy_loss(
                &ys_t.index_select(0, &idx),
                Some(&stance_w),
                Reduction::Mean,
                -100,
                0.0,
            ) + t.cross_entropy_loss(
                &yt_t.index_select(0, &idx),
                Some(&sentiment_w),
                Reduction::Mean,
                -100,
                0.0,
            );
            opt.backward_step(&loss);
            total += loss.double_value(&[]);
            bar.set_message(format!(
                "epoch {epoch} loss {:.3} (best dev {:.3})",
                total / (step + 1) as f64,
                best.0
            ));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let mean = total / steps_per_epoch.max(1) as f64;
        losses.push(mean);
        let f1 = dev_f1(&net, &heads)?;
        dev_curve.push(f1);
        eprintln!(
            "partyline: epoch {epoch}: loss {mean:.4}, dev stance macro-F1 {f1:.3} ({:.0}s)",
            started.elapsed().as_secs_f64()
        );
        if f1 > best.0 {
            best = (f1, snapshot(&vs), epoch);
        } else if epoch - best.2 >= opts.patience {
            eprintln!("partyline: no gain for {} epochs: stopping", opts.patience);
            break;
        }
    }
    restore(&vs, &best.1);
    eprintln!("partyline: keeping epoch {} (dev {:.3})", best.2, best.0);

    // Adapter and heads as safetensors.
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::Write(opts.out.clone(), e))?;
    let adapter_path = opts.out.join(&info.file);
    let adapters: Vec<(String, Tensor)> = best
        .1
        .iter()
        .filter(|(n, _)| n.ends_with("|lora_a") || n.ends_with("|lora_b"))
        .map(|(n, t)| (n.replace('|', "."), t.shallow_clone()))
        .collect();
    Tensor::write_safetensors(&adapters, &adapter_path)
        .map_err(|e| Error::Write(adapter_path.clone(), std::io::Error::other(e.to_string())))?;
    info.sha256 = sha256_file(&adapter_path)?;
    let trained_heads = heads.to_heads();
    let heads_path = opts.out.join("heads.safetensors");
    trained_heads.save(&heads_path)?;

    // Merge, export, and check the scoring path against tch.
    let dir = merged_dir(&info);
    let onnx = dir.join("model.onnx");
    let onnx_int8 = dir.join("model.int8.onnx");
    write_merged(opts.encoder, &adapter_path, &info, &dir, opts.fetch)?;
    build_onnx(spec, &dir, &onnx, &onnx_int8, opts.fetch)?;
    info.onnx_sha256 = sha256_file(&onnx)?;
    info.onnx_int8_sha256 = sha256_file(&onnx_int8)?;
    let onnx_max_abs_diff = compare_with_onnx(&net, &dir, &dev_ids, opts)?;
    eprintln!("partyline: ONNX Runtime vs tch, largest difference {onnx_max_abs_diff:.2e}");

    let mut manifest = Manifest::for_trained(
        &opts.out,
        opts.encoder,
        &heads_path,
        TrainConfig {
            l2: 0.0,
            iterations: best.2,
            learning_rate: opts.learning_rate as f32,
        },
        DataInfo {
            train_sha256: train_hash,
            train_documents: train_docs.len(),
            train_sentences: ys.len(),
            dev_sha256: dev_hash,
            dev_documents: dev_docs.len(),
            dev_sentences: dev_ids.len(),
        },
    )?;
    manifest.adapter = Some(info);
    manifest.finetune = Some(crate::model::FinetuneInfo {
        epochs_run: losses.len(),
        best_epoch: best.2,
        seed: opts.seed,
        batch_size: opts.batch_size,
        learning_rate: opts.learning_rate,
        losses: losses.clone(),
        dev_curve: dev_curve.clone(),
        onnx_max_abs_diff,
    });
    manifest.write(&opts.out)?;

    let report = crate::model::score_dev_and_choose_int8(
        &opts.out,
        &mut manifest,
        &dev_docs,
        opts.try_int8,
        opts.fetch,
        opts.threads,
        opts.batch_size,
    )?;
    Ok(FinetuneOutcome {
        manifest,
        report,
        losses,
        dev_curve,
        onnx_max_abs_diff,
    })
}

/// Largest absolute difference between tch's and ONNX Runtime's sentence embeddings of
/// the merged encoder (as scoring uses them), over up to 64 dev sentences.
fn compare_with_onnx(
    net: &Network,
    dir: &Path,
    ids: &[Vec<i64>],
    opts: &FinetuneOptions,
) -> Result<f64> {
    let sample: Vec<&Vec<i64>> = ids.iter().take(64).collect();
    let assets = crate::model::assets::EncoderAssets {
        spec: opts.encoder.spec(),
        onnx: dir.join("model.onnx"),
        tokenizer: dir.join("tokenizer.json"),
    };
    let mut encoder = Encoder::load(&assets, opts.threads, opts.fetch)?;
    let u32s: Vec<Vec<u32>> = sample
        .iter()
        .map(|s| s.iter().map(|&v| v as u32).collect())
        .collect();
    let ort = encoder.embed_ids(&u32s, opts.batch_size)?;
    let _guard = tch::no_grad_guard();
    let mut worst = 0f64;
    for (i, s) in sample.iter().enumerate() {
        let (t, m) = pad_ids(&[*s], net.cfg.pad_id);
        let e: Vec<f32> = Vec::try_from(net.sentence_embedding(&t, &m)?.flatten(0, -1))
            .map_err(|e: tch::TchError| Error::Other(e.to_string()))?;
        for (d, v) in e.iter().enumerate() {
            worst = worst.max(f64::from((v - ort[[i, d]]).abs()));
        }
    }
    Ok(worst)
}
