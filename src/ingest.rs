//! Ingest: turns files, directories and stdin into [`Document`]s, one at a time.
//!
//! Documents stream through a callback so a corpus never has to fit in memory, and a bad
//! record either stops the run with its file and line (what was already handed on is
//! kept) or, with `skip_bad`, is counted and reported.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Location, Result};
use crate::record::{Document, Meta, Span};
use crate::segment::split_lines;

/// How an input is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One document a file (`.txt`, `.md`).
    Text,
    /// One JSON object a line.
    Jsonl,
    /// A header row, then one document a row.
    Csv,
}

impl InputFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "txt" | "text" | "md" => Some(InputFormat::Text),
            "jsonl" | "ndjson" | "json" => Some(InputFormat::Jsonl),
            "csv" => Some(InputFormat::Csv),
            _ => None,
        }
    }

    fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::parse)
    }
}

/// Options shared by every command that reads corpora.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Each non-empty line of a text input is one sentence, already split.
    pub sentence_per_line: bool,
    pub id_field: String,
    pub text_field: String,
    /// Forces the format of every input (otherwise by extension; stdin is sniffed).
    pub format: Option<InputFormat>,
    /// Replace invalid UTF-8 instead of failing.
    pub lossy: bool,
    /// Skip malformed records (counted) instead of stopping.
    pub skip_bad: bool,
    /// Documents (and JSONL lines) larger than this are rejected with a message; memory
    /// stays bounded by it whatever the input.
    pub max_doc_bytes: usize,
}

/// The default document size limit: 10 MB, far above any news article.
pub const DEFAULT_MAX_DOC_BYTES: usize = 10_000_000;

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            sentence_per_line: false,
            id_field: "id".into(),
            text_field: "text".into(),
            format: None,
            lossy: false,
            skip_bad: false,
            max_doc_bytes: DEFAULT_MAX_DOC_BYTES,
        }
    }
}

/// Counts for the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub files: usize,
    pub documents: usize,
    pub empty_skipped: usize,
    pub bad_skipped: usize,
}

/// One input: a file or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf, InputFormat),
    Stdin,
}

/// Expands the command line's inputs: directories recursively (sorted, so runs are
/// reproducible), keeping the files whose extension is a known format.
pub fn expand_inputs(inputs: &[PathBuf], forced: Option<InputFormat>) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            out.push(Source::Stdin);
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|e| Error::Io(input.clone(), e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(input, &mut files)?;
            files.sort();
            for f in files {
                if let Some(fmt) = forced.or_else(|| InputFormat::from_path(&f)) {
                    out.push(Source::File(f, fmt));
                }
            }
        } else {
            let fmt = forced
                .or_else(|| InputFormat::from_path(input))
                .unwrap_or(InputFormat::Text);
            out.push(Source::File(input.clone(), fmt));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Io(dir.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io(dir.to_path_buf(), e))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| Error::Io(path.clone(), e))?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if ft.is_file() || ft.is_symlink() && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads every source in order and hands each non-empty document to `sink`.
pub fn read_all(
    sources: &[Source],
    opts: &IngestOptions,
    stats: &mut IngestStats,
    sink: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    for source in sources {
        stats.files += 1;
        match source {
            Source::File(path, fmt) => {
                let file = std::fs::File::open(path).map_err(|e| Error::Io(path.clone(), e))?;
                read_one(path, *fmt, file, opts, stats, sink)?;
            }
            Source::Stdin => {
                let path = PathBuf::from("<stdin>");
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::Io(path.clone(), e))?;
                let fmt = opts.format.unwrap_or_else(|| sniff(&bytes));
                read_one(&path, fmt, &bytes[..], opts, stats, sink)?;
            }
        }
    }
    Ok(())
}

fn sniff(bytes: &[u8]) -> InputFormat {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => InputFormat::Jsonl,
        _ => InputFormat::Text,
    }
}

/// Reads one input of a known format.
pub fn read_one(
    path: &Path,
    fmt: InputFormat,
    reader: impl Read,
    opts: &IngestOptions,
    stats: &mut IngestStats,
    sink: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    match fmt {
        InputFormat::Text => read_text(path, reader, opts, stats, sink),
        InputFormat::Jsonl => read_jsonl(path, reader, opts, stats, sink),
        InputFormat::Csv => read_csv(path, reader, opts, stats, sink),
    }
}

/// Decodes UTF-8, or names the byte offset of the first bad byte.
fn decode(bytes: Vec<u8>, lossy: bool, loc: impl Fn(u64) -> Location) -> Result<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) if lossy => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(e) => Err(Error::Utf8 {
            loc: loc(e.utf8_error().valid_up_to() as u64),
        }),
    }
}

fn strip_bom(s: String) -> String {
    match s.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// Handles a bad record: an error, or (with `skip_bad`) a warning and a count.
fn bad(err: Error, opts: &IngestOptions, stats: &mut IngestStats) -> Result<()> {
    if opts.skip_bad {
        eprintln!("warning: skipped: {err}");
        stats.bad_skipped += 1;
        Ok(())
    } else {
        Err(err)
    }
}

fn emit(
    doc: Document,
    stats: &mut IngestStats,
    sink: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    let empty = match &doc.presplit {
        Some(spans) => spans.is_empty(),
        None => doc.text.trim().is_empty(),
    };
    if empty {
        stats.empty_skipped += 1;
        return Ok(());
    }
    stats.documents += 1;
    sink(doc)
}

fn presplit(text: &str, opts: &IngestOptions) -> Option<Vec<Span>> {
    opts.sentence_per_line.then(|| split_lines(text))
}

fn read_text(
    path: &Path,
    reader: impl Read,
    opts: &IngestOptions,
    stats: &mut IngestStats,
    sink: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    let mut bytes = Vec::new();
    // Read at most one byte past the limit: enough to know the document is too large.
    reader
        .take(opts.max_doc_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Io(path.to_path_buf(), e))?;
    if bytes.len() > opts.max_doc_bytes {
        let msg = format!(
            "document larger than {} bytes (--max-doc-bytes); split it or raise the limit",
            opts.max_doc_bytes
        );
        return bad(Error::data(Location::file(path), msg), opts, stats);
    }
    let text = match decode(bytes, opts.lossy, |b| Location {
        path: path.to_path_buf(),
        line: None,
        byte: Some(b),
    }) {
        Ok(t) => strip_bom(t),
        Err(e) => return bad(e, opts, stats),
    };
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stdin")
        .to_string();
    let id = if id == "<stdin>" {
        "stdin".to_string()
    } else {
        id
    };
    let doc = Document {
        id,
        presplit: presplit(&text, opts),
        text,
        meta: Meta::default(),
    };
    emit(doc, stats, sink)
}

fn field_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks that a date starts with an ISO 8601 calendar date (YYYY-MM-DD).
pub fn valid_date(s: &str) -> bool {
    s.get(..10)
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
        && (s.len() == 10 || s[10..].starts_with(['T', ' ']))
}

/// Builds a document from named fields; the error says which field is wrong.
fn document_from_fields(
    get: &dyn Fn(&str) -> Option<Option<String>>,
    opts: &IngestOptions,
) -> std::result::Result<Document, String> {
    let id = match get(&opts.id_field) {
        Some(Some(id)) if !id.trim().is_empty() => id,
        Some(_) => {
            return Err(format!(
                "field \"{}\" must be a non-empty string or number",
                opts.id_field
            ));
        }
        None => {
            return Err(format!(
                "missing field \"{}\" (name another with --id-field)",
                opts.id_field
            ));
        }
    };
    let text = match get(&opts.text_field) {
        Some(Some(t)) => t,
        Some(None) => return Err(format!("field \"{}\" must be a string", opts.text_field)),
        None => {
            return Err(format!(
                "missing field \"{}\" (name another with --text-field)",
                opts.text_field
            ));
        }
    };
    let opt = |name: &str| get(name).flatten().filter(|s| !s.trim().is_empty());
    let date = opt("date");
    if let Some(d) = &date
        && !valid_date(d)
    {
        return Err(format!(
            "field \"date\" is not an ISO 8601 date (YYYY-MM-DD): {d:?}"
        ));
    }
    let meta = Meta {
        title: opt("title"),
        date,
        source: opt("source"),
    };
    let presplit = opts.sentence_per_line.then(|| split_lines(&text));
    Ok(Document {
        id,
        text,
        meta,
        presplit,
    })
}

fn read_jsonl(
    path: &Path,
    reader: impl Read,
    opts: &IngestOptions,
    stats: &mut IngestStats,
    sink: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    let mut reader = BufReader::new(reader);
    let mut line_no = 0u64;
    let mut offset = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let (n, complete) = read_line_capped(&mut reader, &mut buf, opts.max_doc_bytes)
            .map_err(|e| Error::Io(path.to_path_buf(), e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line_start = offset;
        offset += n as u64;
        if !complete {
            let msg = format!(
                "line longer than {} bytes (--max-doc-bytes); the record was not read",
                opts.max_doc_bytes
            );
            let loc = Location {
                path: path.to_path_buf(),
                line: Some(line_no),
                byte: None,
            };
            bad(Error::data(loc, msg), opts, stats)?;
            continue;
        }
        let loc = |byte: Option<u64>| Location {
            path: path.to_path_buf(),
            line: Some(line_no),
            byte,
        };
        let line = match decode(std::mem::take(&mut buf), opts.lossy, |b| {
            loc(Some(line_start + b))
        }) {
            Ok(l) => l,
            Err(e) => {
                bad(e, opts, stats)?;
                continue;
            }
        };
        let line = if line_no == 1 { strip_bom(line) } else { line };
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                bad(
                    Error::data(loc(None), format!("malformed JSON: {e}")),
                    opts,
                    stats,
                )?;
                continue;
            }
        };
        let Value::Object(obj) = value else {
            bad(
                Error::data(loc(None), "expected a JSON object"),
                opts,
                stats,
            )?;
            continue;
        };
        let get = |name: &str| obj.get(name).map(field_string);
        match document_from_fields(&get, opts) {
            Ok(doc) => emit(doc, stats, sink)?,
            Err(msg) => bad(Error::data(loc(None), msg), opts, stats)?,
        }
    }
    Ok(())
}

/// Reads one line into `buf`, keeping at most `cap` bytes; the rest of an overlong line is
/// read and dropped so memory stays bounded. Returns (bytes consumed, line kept whole).
fn read_line_capped(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut complete = true;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((consumed, complete));
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let len = chunk.len();
        if complete && buf.len() + len <= cap + 1 {
            buf.extend_from_slice(chunk);
        } else {
            complete = false;
            buf.clear();
        }
        reader.consume(len);
        consumed += len;
        if done {
            return Ok((consumed, complete));
        }
    }
}

fn read_csv(
    path: &Path,
    reader: impl Read,
    opts: &IngestOptions,
    stats: &mut IngestStats,
    sink: &mut dyn FnMut(Document) -> Result<()>,
) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let headers = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(Error::data(
                Location::line(path, 1),
                format!("cannot read the CSV header: {e}"),
            ));
        }
    };
    let headers: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                let err = Error::data(
                    Location::line(path, line),
                    format!("malformed CSV row: {e}"),
                );
                // A row with the wrong number of fields leaves the reader usable.
                if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    bad(err, opts, stats)?;
                    continue;
                }
                return Err(err);
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let mut fields = Vec::with_capacity(record.len());
        let mut utf8_error = None;
        for (i, f) in record.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => fields.push(s.to_string()),
                Err(e) if opts.lossy => {
                    let _ = e;
                    fields.push(String::from_utf8_lossy(f).into_owned())
                }
                Err(e) => {
                    let byte = record.position().map(|p| p.byte()).unwrap_or(0);
                    utf8_error = Some((i, byte + e.valid_up_to() as u64));
                    break;
                }
            }
        }
        if let Some((_, byte)) = utf8_error {
            let loc = Location {
                path: path.to_path_buf(),
                line: Some(line),
                byte: Some(byte),
            };
            bad(Error::Utf8 { loc }, opts, stats)?;
            continue;
        }
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .map(|i| fields.get(i).cloned())
        };
        match document_from_fields(&get, opts) {
            Ok(doc) => emit(doc, stats, sink)?,
            Err(msg) => bad(Error::data(Location::line(path, line), msg), opts, stats)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        fmt: InputFormat,
        input: &str,
        opts: &IngestOptions,
    ) -> (Result<()>, Vec<Document>, IngestStats) {
        let mut docs = Vec::new();
        let mut stats = IngestStats::default();
        let r = read_one(
            Path::new("in"),
            fmt,
            input.as_bytes(),
            opts,
            &mut stats,
            &mut |d| {
                docs.push(d);
                Ok(())
            },
        );
        (r, docs, stats)
    }

    #[test]
    fn jsonl_with_meta_and_numeric_ids() {
        let (r, docs, _) = read(
            InputFormat::Jsonl,
            "{\"id\": 7, \"text\": \"A.\", \"date\": \"2025-10-02\", \"title\": \"T\"}\n",
            &IngestOptions::default(),
        );
        r.unwrap();
        assert_eq!(docs[0].id, "7");
        assert_eq!(docs[0].meta.date.as_deref(), Some("2025-10-02"));
        assert_eq!(docs[0].meta.title.as_deref(), Some("T"));
    }

    #[test]
    fn malformed_line_names_the_line_and_earlier_docs_are_kept() {
        let input = "{\"id\":\"a\",\"text\":\"x\"}\n{oops\n{\"id\":\"b\",\"text\":\"y\"}\n";
        let (r, docs, _) = read(InputFormat::Jsonl, input, &IngestOptions::default());
        let msg = r.unwrap_err().to_string();
        assert!(msg.starts_with("in:2: malformed JSON"), "{msg}");
        assert_eq!(docs.len(), 1);
        let opts = IngestOptions {
            skip_bad: true,
            ..Default::default()
        };
        let (r, docs, stats) = read(InputFormat::Jsonl, input, &opts);
        r.unwrap();
        assert_eq!((docs.len(), stats.bad_skipped), (2, 1));
    }

    #[test]
    fn bad_dates_and_missing_fields_are_errors() {
        let (r, _, _) = read(
            InputFormat::Jsonl,
            "{\"id\":\"a\",\"text\":\"x\",\"date\":\"02/10/2025\"}",
            &IngestOptions::default(),
        );
        assert!(r.unwrap_err().to_string().contains("ISO 8601"));
        let (r, _, _) = read(
            InputFormat::Jsonl,
            "{\"text\":\"x\"}",
            &IngestOptions::default(),
        );
        assert!(r.unwrap_err().to_string().contains("missing field \"id\""));
    }

    #[test]
    fn csv_rows_and_lines() {
        let input = "id,text,date\na,\"Hello, world.\",2025-01-01\nb,Second,\n";
        let (r, docs, _) = read(InputFormat::Csv, input, &IngestOptions::default());
        r.unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "Hello, world.");
        let (r, _, _) = read(
            InputFormat::Csv,
            "id,text\na,b,c\n",
            &IngestOptions::default(),
        );
        assert!(r.unwrap_err().to_string().starts_with("in:2:"));
    }

    #[test]
    fn invalid_utf8_names_the_byte() {
        let mut docs = Vec::new();
        let mut stats = IngestStats::default();
        let r = read_one(
            Path::new("f.txt"),
            InputFormat::Text,
            &b"ok \xff bad"[..],
            &IngestOptions::default(),
            &mut stats,
            &mut |d| {
                docs.push(d);
                Ok(())
            },
        );
        assert_eq!(
            r.unwrap_err().to_string(),
            "f.txt (byte 3): invalid UTF-8 (use --lossy to replace bad bytes)"
        );
    }

    #[test]
    fn empty_documents_are_counted() {
        let (r, docs, stats) = read(
            InputFormat::Jsonl,
            "{\"id\":\"a\",\"text\":\"  \"}\n",
            &IngestOptions::default(),
        );
        r.unwrap();
        assert!(docs.is_empty());
        assert_eq!(stats.empty_skipped, 1);
    }
}
