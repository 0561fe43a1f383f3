//! The partyline command line. Only argument parsing and exit codes live here; the work
//! is in the library (`partyline::pipeline` and the stage modules).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use partyline::aggregate::{AggregateOptions, Period, Weights};
use partyline::error::{Error, Result};
use partyline::eval::{attribute_gold, keyword_stance, load_gold, model_report, report};
use partyline::export::{Format, write_table};
use partyline::ingest::{IngestOptions, InputFormat, expand_inputs};
use partyline::model::assets::{EncoderId, Fetch, onnxruntime_library};
use partyline::model::encoder::{Device, set_device};
use partyline::model::heads::FeatureSpec;
use partyline::model::train::{TrainOptions, train};
use partyline::model::{Manifest, Model, model_assets, resolve_model_dir};
use partyline::parties::{Gazetteer, check_file};
use partyline::pipeline::{self, TableChoice};
use partyline::report::Window;

#[derive(Parser)]
#[command(
    name = "partyline",
    version,
    about = "Who speaks, at whom, and how: party rhetoric in news about conflict and diplomacy."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Split documents into sentences and find each sentence's speakers and targets.
    #[command(after_help = "Examples:
  partyline attribute datasets/sample/                 # every .txt/.md/.jsonl/.csv inside, CSV to stdout
  partyline attribute --format jsonl news.jsonl -o sentences.jsonl
  partyline attribute --sentence-per-line --parties groups.toml --format jsonl article.txt
  cat article.txt | partyline attribute -")]
    Attribute(AttributeArgs),
    /// Aggregate sentence records with stance and sentiment per party, dyad, document and date.
    #[command(after_help = "Examples:
  partyline aggregate coded.jsonl                      # per-party table, CSV to stdout
  partyline aggregate coded.jsonl --table dyads --format jsonl
  partyline aggregate coded.jsonl --period week -o tables.xlsx
  partyline aggregate coded.jsonl --out-dir tables/ --weights threatening=-7")]
    Aggregate(AggregateArgs),
    /// Attribute, then score each sentence's stance and sentiment with the model.
    #[command(after_help = "Examples:
  partyline score datasets/sample/                     # CSV to stdout, the default model
  partyline score --format jsonl news.jsonl -o scored.jsonl --aggregate tables.xlsx
  partyline score --model fast --offline --sentence-per-line --parties groups.toml article.txt")]
    Score(ScoreArgs),
    /// Fetch and build the pinned assets (ONNX Runtime, encoders) into the cache.
    #[command(after_help = "Examples:
  partyline setup                                      # the default model's assets
  partyline setup --model fast
  PARTYLINE_CACHE=/data/partyline partyline setup --model all")]
    Setup(SetupArgs),
    /// Train the stance and sentiment heads on labeled documents.
    #[command(after_help = "Examples:
  partyline train --train datasets/train/t1 ... --train datasets/train/t5 --dev datasets/dev -o models/accurate-frozen --encoder mpnet
  partyline train --train datasets/train/t1 ... --train datasets/train/t5 --dev datasets/dev -o models/fast-frozen --encoder minilm")]
    Train(TrainArgs),
    /// Fine-tune the encoder (low-rank adapters on its top layers) and the heads on
    /// libtorch; built with `--features train` (see tools/setup_libtorch.sh).
    #[cfg(feature = "train")]
    #[command(after_help = "Examples:
  eval \"$(tools/setup_libtorch.sh)\" && cargo build --release --features train
  partyline finetune --train datasets/train --dev datasets/dev -o models/accurate \\
      --init-heads models/accurate-frozen/heads.safetensors")]
    Finetune(FinetuneArgs),
    /// Average several fine-tuning runs (seeds) of one recipe into one model: the
    /// adapters become one adapter of summed rank, the heads are averaged.
    #[command(after_help = "Examples:
  partyline soup runs/seed13 runs/seed14 runs/seed15 --dev datasets/dev -o models/accurate")]
    Soup(SoupArgs),
    /// Evaluate the pipeline on gold documents: stance, sentiment, speakers, targets.
    #[command(after_help = "Examples:
  partyline eval --gold datasets/dev                   # the default model
  partyline eval --gold datasets/dev --model fast --json
  partyline eval --gold datasets/dev --baseline keyword")]
    Eval(EvalArgs),
    /// Report per party: an HTML page, a workbook with charts, or a terminal table.
    #[command(
        after_help = "Inputs: sentence records (JSONL/CSV from `score`, or hand-coded) are read as
they are; corpora (.txt/.md, or JSONL/CSV documents) are scored first with --model. A JSONL
file is records when its first record has a \"stance\" field, a CSV file when its header has
a \"stance\" column; --records skips the check.

Examples:
  partyline report scored.jsonl -o report.html         # one self-contained page
  partyline report scored.jsonl -o report.xlsx         # workbook with native charts
  partyline report news/ --model fast --terminal       # score a corpus, table to stdout
  partyline report --compare sept.jsonl oct.jsonl -o change.html
  partyline report scored.jsonl --window-a 2025-09-01..2025-09-30 --window-b 2025-10-01.. --terminal"
    )]
    Report(ReportArgs),
    /// Measure throughput on a generated corpus, with the Python peers in the same run.
    #[command(
        after_help = "Writes bench.md and bench.json into --out-dir. bench/run.sh makes the
peers' venv and runs the published configuration (see BENCHMARKS.md).

Examples:
  partyline bench --model fast --sentences 10000 --runs 5
  partyline bench --model fast --peers target/bench-venv/bin/python
  partyline bench --sentences 300 --runs 1                 # a quick smoke run
  partyline bench --write-corpus corpus.jsonl --sentences 1000000"
    )]
    Bench(BenchArgs),
    /// List the party dictionary, and check a parties file.
    #[command(after_help = "Examples:
  partyline parties                                    # the built-in gazetteer as CSV
  partyline parties --parties groups.toml              # check the file, then list the merged dictionary")]
    Parties(PartiesArgs),
}

#[derive(Args)]
struct InputArgs {
    /// Files or directories (recursive) of .txt/.md, .jsonl or .csv; `-` reads stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Each non-empty line of a text input is one sentence, already split.
    #[arg(long)]
    sentence_per_line: bool,
    /// JSONL/CSV field holding the document id.
    #[arg(long, default_value = "id")]
    id_field: String,
    /// JSONL/CSV field holding the document text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Read every input as this format (txt, jsonl, csv) instead of by extension.
    #[arg(long, value_parser = parse_input_format)]
    input_format: Option<InputFormat>,
    /// Replace invalid UTF-8 with U+FFFD instead of stopping.
    #[arg(long)]
    lossy: bool,
    /// Skip malformed records (reported and counted) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// A TOML file of parties that adds to or overrides the built-in gazetteer.
    #[arg(long)]
    parties: Option<PathBuf>,
    /// Reject documents (and JSONL lines) larger than this many bytes.
    #[arg(long, default_value_t = partyline::ingest::DEFAULT_MAX_DOC_BYTES)]
    max_doc_bytes: usize,
}

#[derive(Args)]
struct OutputArgs {
    /// Output format: csv, jsonl or xlsx (default: from -o's extension, else csv).
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Output file (written atomically); CSV and JSONL go to stdout without it.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct AttributeArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Continue a killed run from the checkpoint beside -o FILE (same inputs and format).
    #[arg(long)]
    resume: bool,
}

#[derive(Args)]
struct AggregateArgs {
    /// Sentence records (JSONL or CSV from `attribute`/`score`, or hand-coded) or directories.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    /// Which table to write to a single CSV/JSONL output: parties, dyads, documents, dates.
    #[arg(long, default_value = "parties", value_parser = parse_table)]
    table: TableChoice,
    /// Write every table into this directory (CSV/JSONL files, or aggregates.xlsx).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Period of the per-date table: day, week (ISO) or month.
    #[arg(long, default_value = "day", value_parser = parse_period)]
    period: Period,
    /// Per-stance weights of the net cooperation score (default: CAMEO Goldstein scale).
    #[arg(long, value_parser = Weights::parse)]
    weights: Option<Weights>,
    /// Bootstrap resamples for the 95% intervals (0 turns intervals off).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the bootstrap, so tables are reproducible.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip records with missing or unknown labels (reported and counted).
    #[arg(long)]
    skip_bad: bool,
}

#[derive(Args)]
struct ModelArgs {
    /// The model: `accurate` (MPNet), `fast` (MiniLM), or a model folder.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: String,
    /// Never fetch assets; fail with a message if they are not cached.
    #[arg(long)]
    offline: bool,
    /// Inference threads.
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// Sentences per inference batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Where the encoder runs: cpu, or cuda (needs the onnxruntime-gpu library).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: Device,
    /// Score with the encoder's int8 graph even where the model chose f32: two to three
    /// times as fast on CPU, at a cost in accuracy (accurate: 3x, dev stance macro-F1 -0.059).
    #[arg(long)]
    int8: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// Sentences in the generated corpus.
    #[arg(long, default_value_t = 10_000)]
    sentences: usize,
    /// Timed runs (each figure is the median).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seed of the generated corpus.
    #[arg(long, default_value_t = partyline::bench::corpus::DEFAULT_SEED)]
    seed: u64,
    /// The model: `fast` (MiniLM), `accurate` (MPNet), or a model folder.
    #[arg(long, default_value = "fast")]
    model: String,
    /// Never fetch assets; fail with a message if they are not cached.
    #[arg(long)]
    offline: bool,
    /// Inference threads (the peers get the same).
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// Sentences per inference batch (the peers get the same).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Where the encoder runs: cpu, or cuda (needs the onnxruntime-gpu library).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: Device,
    /// Score with the encoder's int8 graph even where the model chose f32 (as `score --int8`).
    #[arg(long)]
    int8: bool,
    /// Folder for the corpus, the outputs and the report (bench.md, bench.json).
    #[arg(long, default_value = "target/bench")]
    out_dir: PathBuf,
    /// Python with the peers' packages (bench/requirements.txt); without it, no peers.
    #[arg(long)]
    peers: Option<PathBuf>,
    /// The peers' script.
    #[arg(long, default_value = "bench/peers.py")]
    peers_script: PathBuf,
    /// Score only, without the aggregate tables.
    #[arg(long)]
    no_aggregate: bool,
    /// Only write the generated corpus (JSONL documents) to this file, and exit.
    #[arg(long)]
    write_corpus: Option<PathBuf>,
}

const DEFAULT_MODEL: &str = "accurate";

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Args)]
struct ScoreArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Continue a killed run from the checkpoint beside -o FILE (same inputs and format).
    #[arg(long)]
    resume: bool,
    /// Also write the aggregate tables: FILE.xlsx, or a directory of CSV files.
    #[arg(long)]
    aggregate: Option<PathBuf>,
    /// Period of the per-date table in --aggregate: day, week or month.
    #[arg(long, default_value = "day", value_parser = parse_period)]
    period: Period,
}

#[derive(Args)]
struct ReportArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output file: FILE.html (self-contained page) or FILE.xlsx (workbook with charts).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print the compact per-party table to stdout (the default without -o).
    #[arg(long)]
    terminal: bool,
    /// Read every input as sentence records, without checking for a stance field.
    #[arg(long)]
    records: bool,
    #[command(flatten)]
    model: ModelArgs,
    /// Period of the timeline: day, week (ISO) or month.
    #[arg(long, default_value = "week", value_parser = parse_period)]
    period: Period,
    /// Per-stance weights of the net cooperation score (default: CAMEO Goldstein scale).
    #[arg(long, value_parser = Weights::parse)]
    weights: Option<Weights>,
    /// Bootstrap resamples for the 95% intervals.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the bootstrap, so reports are reproducible.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Compare two inputs: the change per party, second (B) minus first (A).
    #[arg(long)]
    compare: bool,
    /// Compare two date windows instead: A as FROM..TO (ISO dates, ends included, may be open).
    #[arg(long, value_parser = Window::parse, requires = "window_b")]
    window_a: Option<Window>,
    /// The B window, FROM..TO.
    #[arg(long, value_parser = Window::parse, requires = "window_a")]
    window_b: Option<Window>,
    /// Title of the report (default: from the input names).
    #[arg(long)]
    title: Option<String>,
}

#[derive(Args)]
struct SetupArgs {
    /// Which model's assets: accurate, fast, accurate-frozen, fast-frozen, all, or a model folder.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: String,
}

#[derive(Args)]
struct TrainArgs {
    /// Gold documents to train on (JSONL files or directories).
    #[arg(long, required = true)]
    train: Vec<PathBuf>,
    /// Gold documents to report on (kept apart from train by document).
    #[arg(long, required = true)]
    dev: Vec<PathBuf>,
    /// Output model folder (manifest.json and heads.safetensors).
    #[arg(short, long)]
    output: PathBuf,
    /// Base encoder: mpnet (accurate) or minilm (fast).
    #[arg(long, default_value = "mpnet")]
    encoder: String,
    /// Give the heads the previous sentence's embedding too.
    #[arg(long)]
    context: bool,
    /// Give the heads the attribution features (how the speaker was found, target, headline).
    #[arg(long)]
    attribution_features: bool,
    /// Skip the int8 check (the model then scores with the f32 encoder).
    #[arg(long)]
    no_int8: bool,
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

#[cfg(feature = "train")]
#[derive(Args)]
struct FinetuneArgs {
    /// Gold documents to train on (JSONL files or directories).
    #[arg(long, required = true)]
    train: Vec<PathBuf>,
    /// Gold documents for early stopping and the reported scores (apart by document).
    #[arg(long, required = true)]
    dev: Vec<PathBuf>,
    /// Output model folder (manifest.json, adapter.safetensors, heads.safetensors).
    #[arg(short, long)]
    output: PathBuf,
    /// Base encoder: mpnet (accurate) or minilm (fast).
    #[arg(long, default_value = "mpnet")]
    encoder: String,
    /// Adapt this many top layers (the ones below run once and are cached).
    #[arg(long, default_value_t = 3)]
    layers: usize,
    /// Rank of the low-rank adapters.
    #[arg(long, default_value_t = 16)]
    rank: usize,
    /// Adapter scale numerator (the update is alpha/rank · B·A).
    #[arg(long, default_value_t = 32.0)]
    alpha: f64,
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Stop after this many epochs without a better dev stance macro-F1.
    #[arg(long, default_value_t = 1)]
    patience: usize,
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    #[arg(long, default_value_t = 5e-4)]
    learning_rate: f64,
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Start the heads from a trained heads file (same encoder, no extra features).
    #[arg(long)]
    init_heads: Option<PathBuf>,
    /// Train on only the first N sentences (smoke tests).
    #[arg(long)]
    limit: Option<usize>,
    /// Skip the int8 check (the model then scores with the f32 encoder).
    #[arg(long)]
    no_int8: bool,
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
}

#[derive(Args)]
struct SoupArgs {
    /// Model folders written by `partyline finetune` (same encoder, adapter shape and data).
    #[arg(required = true, num_args = 2..)]
    runs: Vec<PathBuf>,
    /// Gold documents the soup is scored on (and f32 or int8 decided by).
    #[arg(long, required = true)]
    dev: Vec<PathBuf>,
    /// Output model folder.
    #[arg(short, long)]
    output: PathBuf,
    /// Skip the int8 check (the model then scores with the f32 encoder).
    #[arg(long)]
    no_int8: bool,
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
}

#[derive(Args)]
struct EvalArgs {
    /// Gold documents (JSONL files or directories) in the labeling guide's format.
    #[arg(long, required = true)]
    gold: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Score with a baseline instead of the model: `keyword` (the reporting-verb list).
    #[arg(long)]
    baseline: Option<String>,
    /// A parties file for every gold document (default: parties.toml beside each file).
    #[arg(long)]
    parties: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PartiesArgs {
    /// A TOML parties file to check and merge over the built-in gazetteer.
    #[arg(long)]
    parties: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

fn parse_format(s: &str) -> std::result::Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("unknown format {s:?} (csv, jsonl, xlsx)"))
}
fn parse_input_format(s: &str) -> std::result::Result<InputFormat, String> {
    InputFormat::parse(s).ok_or_else(|| format!("unknown input format {s:?} (txt, jsonl, csv)"))
}
fn parse_device(s: &str) -> std::result::Result<Device, String> {
    Device::parse(s).ok_or_else(|| format!("unknown device {s:?} (cpu, cuda)"))
}
fn parse_period(s: &str) -> std::result::Result<Period, String> {
    Period::parse(s).ok_or_else(|| format!("unknown period {s:?} (day, week, month)"))
}
fn parse_table(s: &str) -> std::result::Result<TableChoice, String> {
    TableChoice::parse(s)
        .ok_or_else(|| format!("unknown table {s:?} (parties, dyads, documents, dates)"))
}

impl InputArgs {
    fn ingest_options(&self) -> IngestOptions {
        IngestOptions {
            sentence_per_line: self.sentence_per_line,
            id_field: self.id_field.clone(),
            text_field: self.text_field.clone(),
            format: self.input_format,
            lossy: self.lossy,
            skip_bad: self.skip_bad,
            max_doc_bytes: self.max_doc_bytes,
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Attribute(args) => {
            let gazetteer = Gazetteer::with_user_file(args.input.parties.as_deref())?;
            let sources = expand_inputs(&args.input.inputs, args.input.input_format)?;
            let format = Format::choose(args.out.format, args.out.output.as_deref(), Format::Csv);
            let summary = pipeline::run_attribute(
                &sources,
                &args.input.ingest_options(),
                &gazetteer,
                pipeline::OutputSpec {
                    format,
                    path: args.out.output.as_deref(),
                    resume: args.resume,
                },
            )?;
            eprintln!("partyline: {summary}");
            Ok(())
        }
        Command::Aggregate(args) => {
            let opts = AggregateOptions {
                weights: args.weights.unwrap_or_default(),
                period: args.period,
                bootstrap: args.bootstrap,
                seed: args.seed,
            };
            let (aggs, skipped) = pipeline::load_and_aggregate(&args.inputs, args.skip_bad, &opts)?;
            let format = Format::choose(args.out.format, args.out.output.as_deref(), Format::Csv);
            pipeline::write_aggregates(
                &aggs,
                format,
                args.out.output.as_deref(),
                args.out_dir.as_deref(),
                args.table,
            )?;
            let s = &aggs.summary;
            eprintln!(
                "partyline: {} sentences in {} documents; {} with a speaker, {} without{}{}",
                s.sentences,
                s.documents,
                s.attributed,
                s.unattributed,
                if s.undated > 0 {
                    format!(", {} undated", s.undated)
                } else {
                    String::new()
                },
                if skipped > 0 {
                    format!(", {skipped} bad records skipped")
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Score(args) => {
            let gazetteer = Gazetteer::with_user_file(args.input.parties.as_deref())?;
            let sources = expand_inputs(&args.input.inputs, args.input.input_format)?;
            let format = Format::choose(args.out.format, args.out.output.as_deref(), Format::Csv);
            let mut model = load_model(&args.model)?;
            let agg_opts = AggregateOptions {
                period: args.period,
                ..Default::default()
            };
            let aggregate_to = args.aggregate.as_deref().map(|path| pipeline::AggregateTo {
                path,
                options: &agg_opts,
            });
            let summary = pipeline::run_score(
                &sources,
                &args.input.ingest_options(),
                &gazetteer,
                &mut model,
                pipeline::OutputSpec {
                    format,
                    path: args.out.output.as_deref(),
                    resume: args.resume,
                },
                args.model.batch_size,
                aggregate_to,
            )?;
            let truncated = model.truncated();
            let note = if truncated > 0 {
                format!(
                    ", {truncated} sentences truncated to {} tokens",
                    partyline::model::encoder::MAX_TOKENS
                )
            } else {
                String::new()
            };
            eprintln!("partyline: {summary}{note} (model {})", model.manifest.name);
            Ok(())
        }
        Command::Report(args) => {
            let gazetteer = Gazetteer::with_user_file(args.input.parties.as_deref())?;
            let opts = AggregateOptions {
                weights: args.weights.unwrap_or_default(),
                period: args.period,
                bootstrap: args.bootstrap,
                seed: args.seed,
            };
            let compare = match (args.window_a, args.window_b) {
                (Some(a), Some(b)) => Some(pipeline::CompareBy::Windows(a, b)),
                _ if args.compare => Some(pipeline::CompareBy::Inputs),
                _ => None,
            };
            let job = pipeline::ReportJob {
                inputs: &args.input.inputs,
                force_records: args.records,
                ingest: &args.input.ingest_options(),
                gazetteer: &gazetteer,
                options: &opts,
                compare,
                batch_size: args.model.batch_size,
                title: args.title,
            };
            let report = pipeline::build_report(&job, &mut || load_model(&args.model))?;
            if let Some(path) = &args.output {
                report.write(path)?;
                eprintln!("partyline: wrote {}", path.display());
            }
            if args.terminal || args.output.is_none() {
                print!("{}", partyline::report::terminal::render(&report));
            }
            Ok(())
        }
        Command::Setup(args) => {
            let names: Vec<String> = if args.model == "all" {
                vec![
                    "accurate".into(),
                    "accurate-frozen".into(),
                    "fast".into(),
                    "fast-frozen".into(),
                ]
            } else {
                vec![args.model.clone()]
            };
            for name in names {
                let dir = resolve_model_dir(&name)?;
                let manifest = Manifest::read(&dir)?;
                onnxruntime_library(Fetch::Allowed)?;
                let assets = model_assets(&dir, &manifest, Fetch::Allowed)?;
                Model::load(&dir, Fetch::Allowed, 1)?;
                eprintln!(
                    "partyline: model {name} ready ({}, {})",
                    manifest.encoder_name,
                    assets.onnx.display()
                );
            }
            Ok(())
        }
        Command::Train(args) => {
            let encoder = EncoderId::from_key(&args.encoder).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown encoder {:?} (mpnet, minilm)",
                    args.encoder
                ))
            })?;
            let opts = TrainOptions {
                train: args.train,
                dev: args.dev,
                out: args.output.clone(),
                encoder,
                features: FeatureSpec {
                    context: args.context,
                    attribution: args.attribution_features,
                },
                threads: args.threads,
                batch_size: args.batch_size,
                fetch: Fetch::Allowed,
                try_int8: !args.no_int8,
            };
            let (manifest, report) = train(&opts)?;
            println!("{report}");
            eprintln!(
                "partyline: wrote {} (cross-validated stance macro-F1 {:.3}, dev {:.3}, int8 {})",
                args.output.display(),
                manifest.scores.cv_stance_macro_f1,
                manifest.scores.dev_stance_macro_f1,
                manifest.int8
            );
            Ok(())
        }
        #[cfg(feature = "train")]
        Command::Finetune(args) => {
            use partyline::model::finetune::{FinetuneOptions, finetune};
            let encoder = EncoderId::from_key(&args.encoder).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown encoder {:?} (mpnet, minilm)",
                    args.encoder
                ))
            })?;
            let opts = FinetuneOptions {
                train: args.train,
                dev: args.dev,
                out: args.output.clone(),
                encoder,
                layers: args.layers,
                rank: args.rank,
                alpha: args.alpha,
                epochs: args.epochs,
                patience: args.patience,
                batch_size: args.batch_size,
                learning_rate: args.learning_rate,
                seed: args.seed,
                threads: args.threads,
                init_heads: args.init_heads,
                limit: args.limit,
                try_int8: !args.no_int8,
                fetch: Fetch::Allowed,
            };
            let outcome = finetune(&opts)?;
            println!("{}", outcome.report);
            eprintln!(
                "partyline: wrote {} (dev stance macro-F1 {:.3}, int8 {}, ONNX vs tch {:.1e})",
                args.output.display(),
                outcome.manifest.scores.dev_stance_macro_f1,
                outcome.manifest.int8,
                outcome.onnx_max_abs_diff
            );
            Ok(())
        }
        Command::Soup(args) => {
            use partyline::model::soup::{SoupOptions, soup};
            let outcome = soup(&SoupOptions {
                inputs: args.runs,
                out: args.output.clone(),
                dev: args.dev,
                fetch: Fetch::Allowed,
                threads: args.threads,
                try_int8: !args.no_int8,
            })?;
            println!("{}", outcome.report);
            eprintln!(
                "partyline: wrote {} (dev stance macro-F1 {:.3}, int8 {})",
                args.output.display(),
                outcome.manifest.scores.dev_stance_macro_f1,
                outcome.manifest.int8
            );
            Ok(())
        }
        Command::Eval(args) => {
            let docs = load_gold(&args.gold)?;
            let records = attribute_gold(&docs, args.parties.as_deref())?;
            let report = match args.baseline.as_deref() {
                Some("keyword") => {
                    let pred: Vec<usize> = records.iter().map(keyword_stance).collect();
                    report(&docs, &records, &pred, None)
                }
                Some(other) => {
                    return Err(Error::Usage(format!(
                        "unknown baseline {other:?} (keyword)"
                    )));
                }
                None => {
                    let mut model = load_model(&args.model)?;
                    model_report(&mut model, &docs, records, args.model.batch_size)?
                }
            };
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Error::Other(e.to_string()))?
                );
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Bench(args) => {
            if let Some(path) = &args.write_corpus {
                let (docs, n) =
                    partyline::bench::corpus::write_corpus(path, args.sentences, args.seed)?;
                eprintln!(
                    "partyline: wrote {n} sentences in {docs} documents to {}",
                    path.display()
                );
                return Ok(());
            }
            set_device(args.device);
            let opts = partyline::bench::BenchOptions {
                sentences: args.sentences,
                runs: args.runs,
                seed: args.seed,
                model: args.model,
                threads: args.threads,
                batch_size: args.batch_size,
                out_dir: args.out_dir,
                python: args.peers,
                peers_script: args.peers_script,
                aggregate: !args.no_aggregate,
                int8: args.int8,
                fetch: if args.offline {
                    Fetch::Offline
                } else {
                    Fetch::Allowed
                },
            };
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let report =
                partyline::bench::run(&opts, &command, &mut |m| eprintln!("partyline bench: {m}"))?;
            print!("{}", report.markdown());
            Ok(())
        }
        Command::Parties(args) => {
            if let Some(path) = &args.parties {
                let problems = check_file(path)?;
                let mut errors = 0;
                for (file, p) in &problems {
                    let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
                    let level = if p.is_error { "error" } else { "warning" };
                    eprintln!("{}{line}: {level}: {}", file.display(), p.message);
                    errors += usize::from(p.is_error);
                }
                if errors > 0 {
                    return Err(Error::Other(format!("{}: {errors} errors", path.display())));
                }
            }
            let gazetteer = Gazetteer::with_user_file(args.parties.as_deref())?;
            let format = Format::choose(args.out.format, args.out.output.as_deref(), Format::Csv);
            write_table(
                &pipeline::parties_table(&gazetteer),
                format,
                args.out.output.as_deref(),
            )
        }
    }
}

fn load_model(args: &ModelArgs) -> Result<Model> {
    let dir = resolve_model_dir(&args.model)?;
    let fetch = if args.offline {
        Fetch::Offline
    } else {
        Fetch::Allowed
    };
    set_device(args.device);
    Model::load_forcing_int8(&dir, fetch, args.threads, args.int8)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("partyline: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
