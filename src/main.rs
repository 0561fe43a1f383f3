//! The partyline command line. Only argument parsing and exit codes live here; the work
//! is in the library (`partyline::pipeline` and the stage modules).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use partyline::aggregate::{AggregateOptions, Period, Weights};
use partyline::error::{Error, Result};
use partyline::export::{Format, write_table};
use partyline::ingest::{IngestOptions, InputFormat, expand_inputs};
use partyline::parties::{Gazetteer, check_file};
use partyline::pipeline::{self, TableChoice};

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
                format,
                args.out.output.as_deref(),
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
