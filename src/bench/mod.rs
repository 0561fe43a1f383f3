//! Throughput benchmarks: a generated corpus, per-stage timers, and the `partyline bench`
//! harness that runs the whole pipeline and the Python peers on the same sentences.
//!
//! A subcommand rather than criterion: the figures that matter are end to end on a real
//! corpus file, with peers in other processes measured in the same run, and a user can
//! repeat them on their own machine with the release binary alone.

pub mod corpus;
pub mod stages;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::aggregate::AggregateOptions;
use crate::error::{Error, Result};
use crate::export::Format;
use crate::ingest::{IngestOptions, InputFormat, Source};
use crate::model::assets::Fetch;
use crate::model::{Model, resolve_model_dir};
use crate::parties::Gazetteer;
use crate::pipeline::{self, AggregateTo, OutputSpec};
use stages::Stage;

/// What `partyline bench` runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub sentences: usize,
    pub runs: usize,
    pub seed: u64,
    /// Model name (`fast`, `accurate`) or folder.
    pub model: String,
    pub threads: usize,
    pub batch_size: usize,
    /// Corpus, outputs and the report (`bench.md`, `bench.json`) go here.
    pub out_dir: PathBuf,
    /// Python interpreter with the peers' packages; `None` measures partyline alone.
    pub python: Option<PathBuf>,
    pub peers_script: PathBuf,
    /// Build the aggregate tables too (the full `score --aggregate` job).
    pub aggregate: bool,
    pub fetch: Fetch,
    /// Score with the int8 graph even where the model chose f32 (`--int8`).
    pub int8: bool,
}

/// One timed end-to-end run of partyline.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub seconds: f64,
    /// Busy seconds per stage, in [`Stage::ALL`] order.
    pub stages: Vec<f64>,
    pub peak_rss_bytes: Option<u64>,
}

/// One peer's timed runs over the same sentences.
#[derive(Debug, Clone, Serialize)]
pub struct PeerResult {
    /// `hf` (transformers on torch) or `ort` (Python onnxruntime).
    pub peer: String,
    /// What it ran, for the table ("ONNX int8, the file partyline uses").
    pub label: String,
    pub model_file: String,
    pub seconds: Vec<f64>,
    pub sentences: usize,
    pub stance_agreement: f64,
    /// What partyline's median end-to-end rate is of this peer's median rate.
    pub ratio: f64,
    /// The target for this ratio, if it sets one.
    pub target: Option<f64>,
    /// The peer process's peak resident memory (model and runtime included).
    pub peak_rss_bytes: Option<u64>,
    pub versions: Value,
}

/// Everything a bench run measured, written as `bench.json` and `bench.md`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub command: String,
    pub machine: String,
    pub load_before: String,
    pub load_after: String,
    pub model: String,
    pub encoder_file: String,
    pub threads: usize,
    pub batch_size: usize,
    pub documents: usize,
    pub sentences: usize,
    pub seed: u64,
    pub aggregate: bool,
    pub model_load_seconds: f64,
    pub runs: Vec<Run>,
    pub median_seconds: f64,
    pub sentences_per_second: f64,
    pub median_peak_rss_bytes: Option<u64>,
    pub peers: Vec<PeerResult>,
}

/// The median of a non-empty list (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The machine in one line: CPU model, cores and memory, from /proc.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb as f64 / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{mem}")
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs the benchmark: generates the corpus, times `runs` end-to-end scoring runs with
/// stage shares and peak memory, exports the scored sentences, times the peers on them,
/// and writes `bench.json` and `bench.md` into the output folder. `log` gets progress.
pub fn run(opts: &BenchOptions, command: &str, log: &mut dyn FnMut(&str)) -> Result<BenchReport> {
    if opts.runs == 0 || opts.sentences == 0 {
        return Err(Error::Usage(
            "--runs and --sentences must be at least 1".into(),
        ));
    }
    let out = &opts.out_dir;
    std::fs::create_dir_all(out).map_err(|e| Error::Write(out.clone(), e))?;
    let corpus_path = out.join(format!("corpus-{}-{}.jsonl", opts.sentences, opts.seed));
    let (documents, _) = corpus::write_corpus(&corpus_path, opts.sentences, opts.seed)?;
    log(&format!(
        "corpus: {documents} documents, {} sentences in {}",
        opts.sentences,
        corpus_path.display()
    ));

    let dir = resolve_model_dir(&opts.model)?;
    let load_start = Instant::now();
    let mut model = Model::load_forcing_int8(&dir, opts.fetch, opts.threads, opts.int8)?;
    let model_load_seconds = load_start.elapsed().as_secs_f64();
    // The file the model scores with (for a fine-tuned model, the merged graph).
    let assets = crate::model::model_assets(&dir, &model.manifest, Fetch::Offline)?;
    let gazetteer = Gazetteer::builtin()?;
    let ingest = IngestOptions::default();
    let scored = out.join("scored.jsonl");
    let tables = out.join("tables");
    let agg_opts = AggregateOptions::default();

    let score = |model: &mut Model, input: &Path| -> Result<usize> {
        let sources = [Source::File(input.to_path_buf(), InputFormat::Jsonl)];
        let summary = pipeline::run_score(
            &sources,
            &ingest,
            &gazetteer,
            model,
            OutputSpec {
                format: Format::Jsonl,
                path: Some(&scored),
                resume: false,
            },
            opts.batch_size,
            opts.aggregate.then_some(AggregateTo {
                path: &tables,
                options: &agg_opts,
            }),
        )?;
        Ok(summary.sentences)
    };

    // A short warm-up, so the first timed run pays no lazy initialisation.
    let warm = out.join("warmup.jsonl");
    corpus::write_corpus(&warm, 200, opts.seed ^ 1)?;
    score(&mut model, &warm)?;

    let peer_jobs = match &opts.python {
        Some(_) => peer_jobs(&model, &assets, &dir)?,
        None => Vec::new(),
    };
    let mut peer_seconds: Vec<Vec<f64>> = vec![Vec::new(); peer_jobs.len()];
    let mut peer_last: Vec<Value> = vec![Value::Null; peer_jobs.len()];

    // Rounds: partyline once, then each peer once. On a shared machine, load that comes
    // and goes then falls on every runtime alike, and the ratios stay fair.
    let load_before = load_average();
    let mut runs = Vec::new();
    let mut sentences = 0;
    for i in 0..opts.runs {
        stages::reset();
        stages::reset_peak_rss();
        let start = Instant::now();
        sentences = score(&mut model, &corpus_path)?;
        let seconds = start.elapsed().as_secs_f64();
        let run = Run {
            seconds,
            stages: stages::snapshot()
                .iter()
                .map(Duration::as_secs_f64)
                .collect(),
            peak_rss_bytes: stages::peak_rss(),
        };
        log(&format!(
            "round {}/{}: partyline {:.2} s, {:.0} sentences/s",
            i + 1,
            opts.runs,
            seconds,
            sentences as f64 / seconds
        ));
        runs.push(run);
        if let Some(python) = &opts.python {
            for (j, job) in peer_jobs.iter().enumerate() {
                let v = run_peer(python, opts, &assets, &scored, job)?;
                let secs = v["seconds"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN);
                log(&format!(
                    "round {}/{}: peer {} ({}) {:.2} s, {:.0} sentences/s",
                    i + 1,
                    opts.runs,
                    job.peer,
                    job.label,
                    secs,
                    sentences as f64 / secs
                ));
                peer_seconds[j].push(secs);
                peer_last[j] = v;
            }
        }
    }
    let median_seconds = median(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>());
    let rss: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.peak_rss_bytes.map(|b| b as f64))
        .collect();
    let ours_rate = sentences as f64 / median_seconds;
    let peers: Vec<PeerResult> = peer_jobs
        .into_iter()
        .zip(peer_seconds)
        .zip(peer_last)
        .map(|((job, seconds), v)| {
            let n = v["sentences"].as_u64().unwrap_or(0) as usize;
            PeerResult {
                ratio: ours_rate / (n as f64 / median(&seconds)),
                peer: job.peer,
                label: job.label,
                model_file: v["model_file"].as_str().unwrap_or_default().to_string(),
                sentences: n,
                stance_agreement: v["stance_agreement"].as_f64().unwrap_or(f64::NAN),
                target: job.target,
                peak_rss_bytes: v["peak_rss_bytes"].as_u64(),
                versions: v["versions"].clone(),
                seconds,
            }
        })
        .collect();
    for p in &peers {
        log(&format!(
            "peer {} ({}): partyline/peer {:.2}x, stance agreement {:.1}%",
            p.peer,
            p.label,
            p.ratio,
            100.0 * p.stance_agreement
        ));
    }

    let report = BenchReport {
        command: command.to_string(),
        machine: machine(),
        load_before,
        load_after: load_average(),
        model: model.manifest.name.clone(),
        encoder_file: assets.onnx.display().to_string(),
        threads: opts.threads,
        batch_size: opts.batch_size,
        documents,
        sentences,
        seed: opts.seed,
        aggregate: opts.aggregate,
        model_load_seconds,
        median_seconds,
        sentences_per_second: ours_rate,
        median_peak_rss_bytes: (!rss.is_empty()).then(|| median(&rss) as u64),
        runs,
        peers,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Other(e.to_string()))?;
    let json_path = out.join("bench.json");
    std::fs::write(&json_path, json).map_err(|e| Error::Write(json_path.clone(), e))?;
    let md_path = out.join("bench.md");
    std::fs::write(&md_path, report.markdown()).map_err(|e| Error::Write(md_path.clone(), e))?;
    Ok(report)
}

/// One peer configuration: which peer, on what, and the target ratio if any.
struct PeerJob {
    peer: String,
    label: String,
    args: Vec<String>,
    target: Option<f64>,
}

/// The peers for a model: Python onnxruntime on the very ONNX file partyline uses (and on
/// the f32 graph when that file is int8), and transformers on torch.
fn peer_jobs(
    model: &Model,
    assets: &crate::model::assets::EncoderAssets,
    dir: &Path,
) -> Result<Vec<PeerJob>> {
    let heads = dir.join(&model.manifest.heads_file).display().to_string();
    let ort = |file: &Path| {
        vec![
            "--peer".to_string(),
            "ort".into(),
            "--onnx".into(),
            file.display().to_string(),
            "--heads".into(),
            heads.clone(),
        ]
    };
    let int8 = model.manifest.int8;
    let mut jobs = vec![PeerJob {
        peer: "ort".into(),
        label: if int8 {
            "Python onnxruntime, ONNX int8 (the file partyline uses)".into()
        } else {
            "Python onnxruntime, ONNX f32 (the file partyline uses)".into()
        },
        args: ort(&assets.onnx),
        target: Some(0.9),
    }];
    if int8 {
        let mut f32_manifest = model.manifest.clone();
        f32_manifest.int8 = false;
        let f32_assets = crate::model::model_assets(dir, &f32_manifest, Fetch::Offline)?;
        jobs.push(PeerJob {
            peer: "ort".into(),
            label: "Python onnxruntime, ONNX f32 (same graph, not quantized)".into(),
            args: ort(&f32_assets.onnx),
            target: None,
        });
    }
    let encoder_dir = assets.tokenizer.parent().unwrap_or(Path::new("."));
    jobs.push(PeerJob {
        peer: "hf".into(),
        label: "transformers on torch, f32 (no int8 path in torch here)".into(),
        args: vec![
            "--peer".into(),
            "hf".into(),
            "--encoder-dir".into(),
            encoder_dir.display().to_string(),
            "--heads".into(),
            heads,
        ],
        target: Some(3.0),
    });
    Ok(jobs)
}

/// Runs one peer once over the sentences partyline just scored (text and stance), and
/// returns its JSON result.
fn run_peer(
    python: &Path,
    opts: &BenchOptions,
    assets: &crate::model::assets::EncoderAssets,
    scored: &Path,
    job: &PeerJob,
) -> Result<Value> {
    let output = Command::new(python)
        .arg(&opts.peers_script)
        .arg("--sentences")
        .arg(scored)
        .arg("--tokenizer")
        .arg(&assets.tokenizer)
        .args(["--pad-id", &assets.spec.pad_id.to_string()])
        .args(["--batch-size", &opts.batch_size.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .args(["--runs", "1"])
        .args(&job.args)
        .output()
        .map_err(|e| {
            Error::Other(format!(
                "cannot run the peers with {}: {e} (bench/run.sh makes their venv)",
                python.display()
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Other(format!(
            "peer {} failed ({}):\n{}",
            job.peer,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::Other(format!(
            "peer {}: unreadable result ({e}): {}",
            job.peer,
            String::from_utf8_lossy(&output.stdout)
        ))
    })
}

impl BenchReport {
    /// The report as Markdown, ready to paste into BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let rate = |secs: &[f64], n: usize| n as f64 / median(secs);
        let all: Vec<f64> = self.runs.iter().map(|r| r.seconds).collect();
        s.push_str(&format!(
            "Command: `{}`\n\nMachine: {}; load average before {}, after {}.\n\n",
            self.command, self.machine, self.load_before, self.load_after
        ));
        s.push_str(&format!(
            "Model `{}` ({}), {} threads, batch {}; corpus {} sentences in {} documents (seed {}){}; {} runs, medians.\n\n",
            self.model,
            self.encoder_file,
            self.threads,
            self.batch_size,
            self.sentences,
            self.documents,
            self.seed,
            if self.aggregate {
                ", aggregate tables included"
            } else {
                ""
            },
            self.runs.len()
        ));
        let mb = |b: Option<u64>| b.map_or_else(String::new, |b| format!("{:.0}", b as f64 / 1e6));
        s.push_str("| runtime | sentences/s (median) | runs, seconds | partyline / peer | target | stance agreement | peak RSS, MB |\n|---|---|---|---|---|---|---|\n");
        s.push_str(&format!(
            "| partyline end to end (ingest → export) | {:.0} | {} | | | | {} |\n",
            self.sentences_per_second,
            fmt_list(&all),
            mb(self.median_peak_rss_bytes)
        ));
        for p in &self.peers {
            let target = p.target.map_or_else(String::new, |t| {
                format!("≥ {t}x: {}", if p.ratio >= t { "holds" } else { "misses" })
            });
            s.push_str(&format!(
                "| peer ({}) {} | {:.0} | {} | {:.2}x | {} | {:.1}% | {} |\n",
                if p.peer == "hf" { "a" } else { "b" },
                p.label,
                rate(&p.seconds, p.sentences),
                fmt_list(&p.seconds),
                p.ratio,
                target,
                100.0 * p.stance_agreement,
                mb(p.peak_rss_bytes)
            ));
        }
        s.push_str("\nTime per stage (busy time, median over runs; the reader thread's stages overlap inference):\n\n| stage | seconds | share |\n|---|---|---|\n");
        let medians: Vec<f64> = (0..Stage::ALL.len())
            .map(|i| median(&self.runs.iter().map(|r| r.stages[i]).collect::<Vec<_>>()))
            .collect();
        let total: f64 = medians.iter().sum();
        for (stage, secs) in Stage::ALL.iter().zip(&medians) {
            s.push_str(&format!(
                "| {} | {:.3} | {:.1}% |\n",
                stage.name(),
                secs,
                100.0 * secs / total.max(1e-9)
            ));
        }
        s.push_str(&format!(
            "\nWall time (median) {:.2} s against {:.2} s of stage busy time. Model load {:.2} s (not in the runs).",
            self.median_seconds, total, self.model_load_seconds
        ));
        if let Some(b) = self.median_peak_rss_bytes {
            s.push_str(&format!(
                " Peak resident memory (median of runs, VmHWM): {:.0} MB.",
                b as f64 / 1e6
            ));
        }
        s.push('\n');
        s
    }
}

fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
