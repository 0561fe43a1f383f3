//! Drives the stages for the CLI: ingest → segment → attribute → export, and the
//! aggregation of sentence records. Kept out of `main.rs` so the library can run a whole
//! job too, and so the CLI stays only argument parsing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aggregate::{AggregateOptions, Aggregates, aggregate, read_records};
use crate::attribute::attribute_document;
use crate::bench::stages::{self, Stage};
use crate::error::{Error, Result};
use crate::export::{
    Format, Row, RowSink, Table, TextSink, open_sink, write_table, write_workbook,
};
use crate::ingest::{IngestOptions, IngestStats, Source, read_all};
use crate::parties::Gazetteer;
use crate::record::{Document, SentenceRecord};
use crate::report::{self, Report, Window};
use crate::segment::{NewsSegmenter, Segmenter};

/// What a run did, printed on stderr at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub ingest: IngestStats,
    pub sentences: usize,
    /// Documents already in the output when a run was resumed.
    pub resumed_after: usize,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} documents, {} sentences",
            self.ingest.documents, self.sentences
        )?;
        if self.resumed_after > 0 {
            write!(
                f,
                " (resumed: the first {} documents were already done)",
                self.resumed_after
            )?;
        }
        if self.ingest.empty_skipped > 0 {
            write!(f, ", {} empty documents skipped", self.ingest.empty_skipped)?;
        }
        if self.ingest.bad_skipped > 0 {
            write!(f, ", {} bad records skipped", self.ingest.bad_skipped)?;
        }
        Ok(())
    }
}

/// A progress spinner on stderr, only when a person is watching.
pub fn progress(label: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label.to_string());
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// Sentence spans of a document: as given by the input, or from the segmenter.
pub fn sentence_spans(doc: &Document) -> Vec<crate::record::Span> {
    match &doc.presplit {
        Some(spans) => spans.clone(),
        None => NewsSegmenter.segment(&doc.text),
    }
}

/// What a checkpoint records: enough to continue a killed run exactly where its output
/// was last flushed, and to refuse to continue a different run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Checkpoint {
    inputs: Vec<String>,
    format: String,
    /// Documents whose records are all in the output.
    documents: usize,
    records: usize,
    /// Length of the output at that point; a resumed run truncates to it.
    bytes: u64,
}

/// `<output>.checkpoint`, beside the output.
pub fn checkpoint_path(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(".checkpoint");
    PathBuf::from(p)
}

/// Writes checkpoints for a file output as a run goes.
struct Checkpointer {
    path: PathBuf,
    inputs: Vec<String>,
    format: String,
    last: Instant,
    since: usize,
}

impl Checkpointer {
    /// Checkpoints are cheap but not free: one per 2,000 records or per second.
    fn due(&self) -> bool {
        self.since >= 2000 || self.last.elapsed() >= Duration::from_secs(1)
    }

    fn save(&mut self, documents: usize, sink: &mut dyn RowSink) -> Result<()> {
        let Some(bytes) = sink.sync_point()? else {
            return Ok(());
        };
        let cp = Checkpoint {
            inputs: self.inputs.clone(),
            format: self.format.clone(),
            documents,
            records: sink.written(),
            bytes,
        };
        let tmp = self.path.with_extension("checkpoint.tmp");
        let text = serde_json::to_string(&cp).map_err(|e| Error::Other(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| Error::Write(tmp.clone(), e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::Write(self.path.clone(), e))?;
        self.last = Instant::now();
        self.since = 0;
        Ok(())
    }
}

/// A run's output: the sink, its checkpointer (file outputs in CSV or JSONL), and how many
/// documents a resumed run skips because they are already in the output.
struct RunOutput {
    sink: Box<dyn RowSink>,
    checkpointer: Option<Checkpointer>,
    skip: usize,
}

fn source_names(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .map(|s| match s {
            Source::File(p, _) => p.display().to_string(),
            Source::Stdin => "-".into(),
        })
        .collect()
}

fn open_run_output(sources: &[Source], output: OutputSpec) -> Result<RunOutput> {
    let resume = output.resume;
    let format_name = if output.format == Format::Csv {
        "csv"
    } else {
        "jsonl"
    };
    let resumable =
        output.path.is_some() && output.format != Format::Xlsx && !sources.contains(&Source::Stdin);
    if resume && !resumable {
        return Err(Error::Usage(
            "--resume needs -o FILE in CSV or JSONL, and inputs that are files (not stdin)".into(),
        ));
    }
    let Some(path) = output.path.filter(|_| resumable) else {
        return Ok(RunOutput {
            sink: open_sink(output.format, output.path, "sentences")?,
            checkpointer: None,
            skip: 0,
        });
    };
    let cp_path = checkpoint_path(path);
    let inputs = source_names(sources);
    let (sink, skip) = if resume {
        let text = std::fs::read_to_string(&cp_path).map_err(|_| {
            Error::Other(format!(
                "no checkpoint at {}: there is nothing to resume (run without --resume)",
                cp_path.display()
            ))
        })?;
        let cp: Checkpoint = serde_json::from_str(&text).map_err(|e| {
            Error::Other(format!(
                "{}: damaged checkpoint ({e}); run without --resume",
                cp_path.display()
            ))
        })?;
        if cp.inputs != inputs || cp.format != format_name {
            return Err(Error::Other(format!(
                "{}: the checkpoint belongs to a run with other inputs or format ({} {:?}); run without --resume",
                cp_path.display(),
                cp.format,
                cp.inputs
            )));
        }
        (
            TextSink::resumable(output.format, path, Some((cp.bytes, cp.records)))?,
            cp.documents,
        )
    } else {
        let _ = std::fs::remove_file(&cp_path);
        (TextSink::resumable(output.format, path, None)?, 0)
    };
    let checkpointer = Checkpointer {
        path: cp_path,
        inputs,
        format: format_name.into(),
        last: Instant::now(),
        since: 0,
    };
    Ok(RunOutput {
        sink: Box::new(sink),
        checkpointer: Some(checkpointer),
        skip,
    })
}

impl RunOutput {
    /// Puts the finished output in place and removes the checkpoint.
    fn finish(self) -> Result<()> {
        self.sink.finish()?;
        if let Some(cp) = self.checkpointer {
            let _ = std::fs::remove_file(&cp.path);
        }
        Ok(())
    }
}

/// `partyline attribute`: sentence records with speakers, targets and attribution. With a
/// file output, the run writes as it goes with a checkpoint beside it; `resume` continues a
/// killed run where its output was last flushed.
pub fn run_attribute(
    sources: &[Source],
    ingest: &IngestOptions,
    gazetteer: &Gazetteer,
    output: OutputSpec,
) -> Result<RunSummary> {
    let RunOutput {
        mut sink,
        mut checkpointer,
        skip,
    } = open_run_output(sources, output)?;
    let mut summary = RunSummary {
        resumed_after: skip,
        ..Default::default()
    };
    let bar = progress("attributing");
    let (mut docs, mut sentences) = (0usize, 0usize);
    let result = read_all(sources, ingest, &mut summary.ingest, &mut |doc| {
        docs += 1;
        if docs <= skip {
            return Ok(());
        }
        let spans = sentence_spans(&doc);
        let records = attribute_document(&doc, &spans, gazetteer);
        sentences += records.len();
        for record in records {
            sink.write(record.cells())?;
        }
        if let Some(cp) = checkpointer.as_mut() {
            cp.since += spans.len();
            if cp.due() {
                cp.save(docs, sink.as_mut())?;
            }
        }
        bar.set_message(format!(
            "attributing: {docs} documents, {sentences} sentences"
        ));
        bar.tick();
        Ok(())
    });
    summary.sentences = sentences;
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            RunOutput {
                sink,
                checkpointer,
                skip,
            }
            .finish()?;
            Ok(summary)
        }
        Err(e) => Err(keep_partial(sink, e)?),
    }
}

/// Where sentence records go: a format, and a file (stdout for CSV and JSONL without one).
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec<'a> {
    pub format: Format,
    pub path: Option<&'a Path>,
    /// Continue a killed run from the checkpoint beside `path`.
    pub resume: bool,
}

/// Where `score --aggregate` writes its tables: an `.xlsx` workbook or a directory.
pub struct AggregateTo<'a> {
    pub path: &'a Path,
    pub options: &'a AggregateOptions,
}

/// `partyline score`: attribution plus the model's stance and sentiment. Sentences are
/// scored in chunks of whole documents (so the previous sentence is at hand as context)
/// and written as they are finished.
pub fn run_score(
    sources: &[Source],
    ingest: &IngestOptions,
    gazetteer: &Gazetteer,
    model: &mut crate::model::Model,
    output: OutputSpec,
    batch_size: usize,
    aggregate_to: Option<AggregateTo>,
) -> Result<RunSummary> {
    let RunOutput {
        mut sink,
        mut checkpointer,
        skip,
    } = open_run_output(sources, output)?;
    let mut summary = RunSummary {
        resumed_after: skip,
        ..Default::default()
    };
    // Tables are built from the finished file when there is one (a resumed run's earlier
    // records are only there); otherwise from the records kept in memory.
    let from_file = checkpointer.is_some();
    let keep = aggregate_to.is_some() && !from_file;
    let mut kept: Vec<SentenceRecord> = Vec::new();
    let mut write_chunk = |chunk: Vec<SentenceRecord>, docs_done: usize| -> Result<()> {
        for r in chunk {
            sink.write(r.cells())?;
            if keep {
                kept.push(r);
            }
        }
        match checkpointer.as_mut() {
            Some(cp) => cp.save(docs_done, sink.as_mut()),
            None => Ok(()),
        }
    };
    let result = score_stream(
        sources,
        ingest,
        gazetteer,
        model,
        batch_size,
        skip,
        &mut summary,
        &mut write_chunk,
    );
    match result {
        Ok(()) => stages::time(Stage::Export, || {
            RunOutput {
                sink,
                checkpointer,
                skip,
            }
            .finish()
        })?,
        Err(e) => return Err(keep_partial(sink, e)?),
    }
    if let Some(to) = aggregate_to {
        let start = Instant::now();
        if let (true, Some(path)) = (from_file, output.path) {
            let mut skipped = 0;
            kept = read_records(path, false, &mut skipped)?;
        }
        let aggs = aggregate(&kept, to.options);
        stages::add(Stage::Aggregate, start.elapsed());
        let _export = ExportTimer(Instant::now());
        let is_xlsx = to
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        if is_xlsx {
            write_aggregates(
                &aggs,
                Format::Xlsx,
                Some(to.path),
                None,
                TableChoice::Parties,
            )?;
        } else {
            write_aggregates(
                &aggs,
                Format::Csv,
                None,
                Some(to.path),
                TableChoice::Parties,
            )?;
        }
    }
    Ok(summary)
}

/// Counts its lifetime to the export stage (covers every exit of a block).
struct ExportTimer(Instant);

impl Drop for ExportTimer {
    fn drop(&mut self) {
        stages::add(Stage::Export, self.0.elapsed());
    }
}

/// Attributes and scores documents into memory, for commands that need the records
/// themselves rather than a file of them (`report` on a corpus).
pub fn score_records(
    sources: &[Source],
    ingest: &IngestOptions,
    gazetteer: &Gazetteer,
    model: &mut crate::model::Model,
    batch_size: usize,
) -> Result<(Vec<SentenceRecord>, RunSummary)> {
    let mut summary = RunSummary::default();
    let mut records = Vec::new();
    score_stream(
        sources,
        ingest,
        gazetteer,
        model,
        batch_size,
        0,
        &mut summary,
        &mut |mut chunk, _| {
            records.append(&mut chunk);
            Ok(())
        },
    )?;
    Ok((records, summary))
}

/// Sentences per chunk handed from the reader thread to inference: whole documents, at
/// least this many sentences (batches stay full when documents are short).
const CHUNK: usize = 512;

/// Chunks waiting for inference. Two keep the reader a step ahead without letting memory
/// grow with the corpus.
const QUEUE: usize = 2;

/// Whole documents, attributed, on their way to inference, with the count of documents
/// read so far (what a checkpoint records once they are written).
struct Chunk {
    records: Vec<SentenceRecord>,
    docs_done: usize,
}

/// What the reader thread found, for the run summary.
struct ReadTotals {
    ingest: IngestStats,
    sentences: usize,
}

/// The scoring loop shared by `score` and `report`. A reader thread ingests, segments and
/// attributes documents and gathers them into chunks of whole documents (the previous
/// sentence is at hand for context); this thread scores each chunk while the reader
/// prepares the next, so on two cores the text stages cost almost nothing beyond
/// inference. Chunks arrive in document order through a bounded queue, so memory stays
/// flat and a read error reaches `on_chunk`'s caller after every chunk before it, exactly
/// as in a single-threaded run. The first `skip` documents (already in a resumed output)
/// are read but not scored.
#[allow(clippy::too_many_arguments)]
fn score_stream(
    sources: &[Source],
    ingest: &IngestOptions,
    gazetteer: &Gazetteer,
    model: &mut crate::model::Model,
    batch_size: usize,
    skip: usize,
    summary: &mut RunSummary,
    on_chunk: &mut dyn FnMut(Vec<SentenceRecord>, usize) -> Result<()>,
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk>>(QUEUE);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_chunks(sources, ingest, gazetteer, skip, tx));
        let scored = (|| -> Result<()> {
            // The queue ends when the reader is done; a read error arrives in order.
            for chunk in rx {
                let Chunk {
                    mut records,
                    docs_done,
                } = chunk?;
                score_chunk(model, &mut records, batch_size)?;
                let start = Instant::now();
                on_chunk(records, docs_done)?;
                stages::add(Stage::Export, start.elapsed());
            }
            Ok(())
        })();
        // `rx` is gone here, so a reader blocked on a full queue stops too.
        let totals = reader
            .join()
            .map_err(|_| Error::Other("the reader thread panicked".into()))?;
        summary.ingest = totals.ingest;
        summary.sentences = totals.sentences;
        scored
    })
}

/// Scores one chunk, timing the heads as what the model spends beyond the encoder.
fn score_chunk(
    model: &mut crate::model::Model,
    records: &mut [SentenceRecord],
    batch_size: usize,
) -> Result<()> {
    let encoder = |t: &[Duration; 8]| t[Stage::Tokenize as usize] + t[Stage::Inference as usize];
    let before = encoder(&stages::snapshot());
    let start = Instant::now();
    model.score(records, batch_size)?;
    let spent = start.elapsed();
    let in_encoder = encoder(&stages::snapshot()).saturating_sub(before);
    stages::add(Stage::Heads, spent.saturating_sub(in_encoder));
    Ok(())
}

/// The reader thread: ingest, segmentation and attribution, chunk by chunk into `tx`.
/// Stops early, quietly, when the scoring side has hung up (it reports its own error).
fn read_chunks(
    sources: &[Source],
    ingest: &IngestOptions,
    gazetteer: &Gazetteer,
    skip: usize,
    tx: std::sync::mpsc::SyncSender<Result<Chunk>>,
) -> ReadTotals {
    let bar = progress("scoring");
    let mut stats = IngestStats::default();
    let mut pending: Vec<SentenceRecord> = Vec::new();
    let (mut docs, mut sentences) = (0usize, 0usize);
    let mut hung_up = false;
    // Ingest is what read_all spends outside this callback.
    let mut in_callback = Duration::ZERO;
    let start = Instant::now();
    let result = read_all(sources, ingest, &mut stats, &mut |doc| {
        let entered = Instant::now();
        docs += 1;
        if docs > skip {
            let spans = stages::time(Stage::Segment, || sentence_spans(&doc));
            let records = stages::time(Stage::Attribute, || {
                attribute_document(&doc, &spans, gazetteer)
            });
            sentences += records.len();
            pending.extend(records);
            if pending.len() >= CHUNK {
                let chunk = Chunk {
                    records: std::mem::take(&mut pending),
                    docs_done: docs,
                };
                if tx.send(Ok(chunk)).is_err() {
                    hung_up = true;
                    return Err(Error::Other("scoring stopped".into()));
                }
            }
            bar.set_message(format!("scoring: {docs} documents, {sentences} sentences"));
            bar.tick();
        }
        in_callback += entered.elapsed();
        Ok(())
    });
    stages::add(Stage::Ingest, start.elapsed().saturating_sub(in_callback));
    bar.finish_and_clear();
    if !hung_up {
        let last = result.map(|()| Chunk {
            records: pending,
            docs_done: docs,
        });
        // A failed send means the scoring side already has an error to report.
        let _ = tx.send(last);
    }
    ReadTotals {
        ingest: stats,
        sentences,
    }
}

/// What `report` compares, with `--compare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareBy {
    /// The first input is A, the second B.
    Inputs,
    /// Two date windows of the same records.
    Windows(Window, Window),
}

/// A `partyline report` job: inputs (records, or documents to score) and settings.
pub struct ReportJob<'a> {
    pub inputs: &'a [PathBuf],
    /// Read every input as sentence records (`--records`).
    pub force_records: bool,
    pub ingest: &'a IngestOptions,
    pub gazetteer: &'a Gazetteer,
    pub options: &'a AggregateOptions,
    pub compare: Option<CompareBy>,
    pub batch_size: usize,
    pub title: Option<String>,
}

/// Reads or scores the inputs and builds the report. The model is loaded only when some
/// input is a corpus of documents; its manifest then goes in the method box.
pub fn build_report(
    job: &ReportJob,
    load_model: &mut dyn FnMut() -> Result<crate::model::Model>,
) -> Result<Report> {
    let mut model: Option<crate::model::Model> = None;
    let mut scorer = |sources: &[Source]| -> Result<(Vec<crate::record::SentenceRecord>, usize)> {
        if model.is_none() {
            model = Some(load_model()?);
        }
        let m = model.as_mut().expect("loaded above");
        let (records, summary) =
            score_records(sources, job.ingest, job.gazetteer, m, job.batch_size)?;
        Ok((
            records,
            summary.ingest.empty_skipped + summary.ingest.bad_skipped,
        ))
    };
    let load = |paths: &[PathBuf], scorer: &mut report::Scorer| {
        report::load(
            paths,
            job.force_records,
            job.ingest.format,
            job.ingest.skip_bad,
            scorer,
        )
    };
    let name = |p: &Path| p.display().to_string();
    let (loaded, comparison) = match &job.compare {
        None => (load(job.inputs, &mut scorer)?, None),
        Some(CompareBy::Inputs) => {
            let [a, b] = job.inputs else {
                return Err(Error::Usage(format!(
                    "--compare needs two inputs, A and B (got {}); or give --window-a and --window-b",
                    job.inputs.len()
                )));
            };
            let la = load(std::slice::from_ref(a), &mut scorer)?;
            let lb = load(std::slice::from_ref(b), &mut scorer)?;
            let c = report::compare(&la.records, &lb.records, job.options, &name(a), &name(b));
            let mut all = la;
            all.records.extend(lb.records);
            all.files.extend(lb.files);
            all.skipped += lb.skipped;
            all.scored |= lb.scored;
            (all, Some(c))
        }
        Some(CompareBy::Windows(wa, wb)) => {
            let all = load(job.inputs, &mut scorer)?;
            let pick = |w: &Window| {
                all.records
                    .iter()
                    .filter(|r| w.contains(r))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            let (ra, rb) = (pick(wa), pick(wb));
            for (w, r) in [(wa, &ra), (wb, &rb)] {
                if r.is_empty() {
                    return Err(Error::Other(format!(
                        "no dated sentence record falls in the window {w} (dates in {})",
                        job.inputs
                            .iter()
                            .map(|p| name(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            let c = report::compare(
                &ra,
                &rb,
                job.options,
                &format!("dates {wa}"),
                &format!("dates {wb}"),
            );
            (all, Some(c))
        }
    };
    let title = job.title.clone().unwrap_or_else(|| {
        let names: Vec<String> = job
            .inputs
            .iter()
            .map(|p| {
                p.file_name()
                    .map_or_else(|| name(p), |n| n.to_string_lossy().into_owned())
            })
            .collect();
        format!("Party rhetoric: {}", names.join(", "))
    });
    let method = report::Method {
        model: if loaded.scored {
            model.as_ref().map(|m| m.manifest.clone())
        } else {
            None
        },
        inputs: loaded.files,
        skipped: loaded.skipped,
    };
    Ok(Report::build(
        &title,
        loaded.records,
        job.options,
        method,
        comparison,
    ))
}

/// On a failed run, keeps what was finished under a `.partial` name and says so.
fn keep_partial(sink: Box<dyn RowSink>, err: Error) -> Result<Error> {
    let written = sink.written();
    match sink.abandon()? {
        Some(path) if written > 0 => {
            let output = path.with_extension("");
            let checkpoint = checkpoint_path(&output);
            let how = if checkpoint.exists() {
                "; rerun with --resume to continue from the last checkpoint"
            } else {
                " (the last may be incomplete)"
            };
            Ok(Error::Other(format!(
                "{err}\n{written} records finished before the error were kept in {}{how}",
                path.display()
            )))
        }
        Some(path) => {
            let _ = std::fs::remove_file(&path);
            Ok(err)
        }
        None => Ok(err),
    }
}

/// Which aggregate table to write when only one is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableChoice {
    Parties,
    Dyads,
    Documents,
    Dates,
}

impl TableChoice {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "parties" => Some(TableChoice::Parties),
            "dyads" => Some(TableChoice::Dyads),
            "documents" => Some(TableChoice::Documents),
            "dates" => Some(TableChoice::Dates),
            _ => None,
        }
    }
}

/// `partyline aggregate`: reads sentence records and computes the four tables.
pub fn load_and_aggregate(
    inputs: &[PathBuf],
    skip_bad: bool,
    opts: &AggregateOptions,
) -> Result<(Aggregates, usize)> {
    let mut records = Vec::new();
    let mut skipped = 0;
    for input in inputs {
        let files = if input.is_dir() {
            crate::ingest::expand_inputs(std::slice::from_ref(input), None)?
        } else {
            vec![Source::File(
                input.clone(),
                crate::ingest::InputFormat::Jsonl,
            )]
        };
        for f in files {
            if let Source::File(path, _) = f {
                records.extend(read_records(&path, skip_bad, &mut skipped)?);
            }
        }
    }
    Ok((aggregate(&records, opts), skipped))
}

/// Writes aggregates: every table into a workbook or a directory, or one table to a file
/// or stdout.
pub fn write_aggregates(
    aggs: &Aggregates,
    format: Format,
    output: Option<&Path>,
    out_dir: Option<&Path>,
    table: TableChoice,
) -> Result<()> {
    let all: [&Table; 4] = [&aggs.parties, &aggs.dyads, &aggs.documents, &aggs.dates];
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write(dir.to_path_buf(), e))?;
        if format == Format::Xlsx {
            let tables: Vec<Table> = all.iter().map(|t| (*t).clone()).collect();
            return write_workbook(&dir.join("aggregates.xlsx"), &tables);
        }
        let ext = if format == Format::Csv {
            "csv"
        } else {
            "jsonl"
        };
        for t in all {
            write_table(t, format, Some(&dir.join(format!("{}.{ext}", t.name))))?;
        }
        return Ok(());
    }
    if format == Format::Xlsx {
        let tables: Vec<Table> = all.iter().map(|t| (*t).clone()).collect();
        let path = output
            .ok_or_else(|| Error::Usage("XLSX needs an output file: add -o FILE.xlsx".into()))?;
        return write_workbook(path, &tables);
    }
    let chosen = match table {
        TableChoice::Parties => &aggs.parties,
        TableChoice::Dyads => &aggs.dyads,
        TableChoice::Documents => &aggs.documents,
        TableChoice::Dates => &aggs.dates,
    };
    write_table(chosen, format, output)
}

/// The dictionary as a table, for `partyline parties`.
pub fn parties_table(gazetteer: &Gazetteer) -> Table {
    use crate::export::Cell;
    let columns = [
        "id", "name", "kind", "aliases", "capitals", "demonyms", "members",
    ]
    .map(String::from)
    .to_vec();
    let rows = gazetteer
        .parties()
        .iter()
        .map(|p| {
            vec![
                Cell::Str(p.id.clone()),
                Cell::Str(p.name.clone()),
                Cell::Str(p.kind.clone()),
                Cell::List(p.aliases.clone()),
                Cell::List(p.capitals.clone()),
                Cell::List(p.demonyms.clone()),
                Cell::List(p.members.clone()),
            ]
        })
        .collect();
    Table {
        name: "parties".into(),
        columns,
        rows,
    }
}
