//! Throughput benchmarks: a generated corpus, per-stage timers, and the `partyline bench`
//! harness that runs the whole pipeline and the Python peers on the same sentences.
//!
//! A subcommand rather than criterion: the figures that matter are end to end on a real
//! corpus file, with peers in other processes measured in the same run, and a user can
//! repeat them on their own machine with the release binary alone.

pub mod corpus;
pub mod stages;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::aggregate::AggregateOptions;
use crate::error::{Error, Result};
use crate::export::Format;
use crate::ingest::{IngestOptions, InputFormat, Source};
use crate::model::assets::{Fetch, encoder_assets};
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
    let mut model = Model::load(&dir, opts.fetch, opts.threads)?;
    let model_load_seconds = load_start.elapsed().as_secs_f64();
    let spec_id = model.manifest.encoder_id()?;
    let assets = encoder_assets(spec_id, model.manifest.int8, Fetch::Offline)?;
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
            "partyline run {}/{}: {:.2} s, {:.0} sentences/s",
            i + 1,
            opts.runs,
            seconds,
            sentences as f64 / seconds
        ));
        runs.push(run);
    }
    let median_seconds = median(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>());
    let rss: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.peak_rss_bytes.map(|b| b as f64))
        .collect();
    let ours_rate = sentences as f64 / median_seconds;

    let mut peers = Vec::new();
    if let Some(python) = &opts.python {
        let sentences_file = out.join("sentences.jsonl");
        export_sentences(&scored, &sentences_file)?;
        let heads = dir.join(&model.manifest.heads_file);
        let encoder_dir = assets
            .tokenizer
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut jobs: Vec<(String, String, Vec<String>, Option<f64>)> = Vec::new();
        let ort = |file: &Path| {
            vec![
                "--peer".to_string(),
                "ort".into(),
                "--onnx".into(),
                file.display().to_string(),
            ]
        };
        let same = if model.manifest.int8 {
            "ONNX int8, the file partyline uses"
        } else {
            "ONNX f32, the file partyline uses"
        };
        jobs.push(("ort".into(), same.into(), ort(&assets.onnx), Some(0.9)));
        if model.manifest.int8 {
            let f32_assets = encoder_assets(spec_id, false, Fetch::Offline)?;
            jobs.push((
                "ort".into(),
                "ONNX f32 (same graph, not quantized)".into(),
                ort(&f32_assets.onnx),
                None,
            ));
        }
        jobs.push((
            "hf".into(),
            "transformers on torch, f32 (torch has no int8 path here)".into(),
            vec![
                "--peer".into(),
                "hf".into(),
                "--encoder-dir".into(),
                encoder_dir.display().to_string(),
            ],
            Some(3.0),
        ));
        for (peer, label, args, target) in jobs {
            log(&format!("peer {peer}: {label} ..."));
            let mut cmd = Command::new(python);
            cmd.arg(&opts.peers_script)
                .arg("--sentences")
                .arg(&sentences_file)
                .arg("--tokenizer")
                .arg(&assets.tokenizer)
                .arg("--heads")
                .arg(&heads)
                .args(["--pad-id", &assets.spec.pad_id.to_string()])
                .args(["--batch-size", &opts.batch_size.to_string()])
                .args(["--threads", &opts.threads.to_string()])
                .args(["--runs", &opts.runs.to_string()])
                .args(&args);
            let output = cmd.output().map_err(|e| {
                Error::Other(format!(
                    "cannot run the peers with {}: {e} (bench/run.sh makes the venv)",
                    python.display()
                ))
            })?;
            if !output.status.success() {
                return Err(Error::Other(format!(
                    "peer {peer} failed ({}):\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                )));
            }
            let v: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
                Error::Other(format!(
                    "peer {peer}: unreadable result ({e}): {}",
                    String::from_utf8_lossy(&output.stdout)
                ))
            })?;
            let seconds: Vec<f64> = v["seconds"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            let n = v["sentences"].as_u64().unwrap_or(0) as usize;
            let rate = n as f64 / median(&seconds);
            let result = PeerResult {
                peer,
                label,
                model_file: v["model_file"].as_str().unwrap_or_default().to_string(),
                sentences: n,
                stance_agreement: v["stance_agreement"].as_f64().unwrap_or(f64::NAN),
                ratio: ours_rate / rate,
                target,
                versions: v["versions"].clone(),
                seconds,
            };
            log(&format!(
                "peer {}: {:.0} sentences/s, partyline/peer {:.2}x, stance agreement {:.1}%",
                result.peer,
                rate,
                result.ratio,
                100.0 * result.stance_agreement
            ));
            peers.push(result);
        }
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

/// Writes the scored sentences as the peers read them: text and partyline's stance.
fn export_sentences(scored: &Path, dest: &Path) -> Result<()> {
    let file = std::fs::File::open(scored).map_err(|e| Error::Io(scored.to_path_buf(), e))?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(dest).map_err(|e| Error::Write(dest.to_path_buf(), e))?,
    );
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::Io(scored.to_path_buf(), e))?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| Error::Other(format!("{}: {e}", scored.display())))?;
        let row = serde_json::json!({"text": v["text"], "stance": v["stance"]});
        writeln!(out, "{row}").map_err(|e| Error::Write(dest.to_path_buf(), e))?;
    }
    out.flush().map_err(|e| Error::Write(dest.to_path_buf(), e))
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
        s.push_str("| runtime | sentences/s (median) | runs, seconds | partyline / peer | target | stance agreement |\n|---|---|---|---|---|---|\n");
        s.push_str(&format!(
            "| partyline end to end (ingest → export) | {:.0} | {} | | | |\n",
            self.sentences_per_second,
            fmt_list(&all)
        ));
        for p in &self.peers {
            let target = p.target.map_or_else(String::new, |t| {
                format!("≥ {t}x: {}", if p.ratio >= t { "holds" } else { "misses" })
            });
            s.push_str(&format!(
                "| peer ({}) {}: {} | {:.0} | {} | {:.2}x | {} | {:.1}% |\n",
                if p.peer == "hf" { "a" } else { "b" },
                p.peer,
                p.label,
                rate(&p.seconds, p.sentences),
                fmt_list(&p.seconds),
                p.ratio,
                target,
                100.0 * p.stance_agreement
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
