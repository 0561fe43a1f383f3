//! Export: CSV (RFC 4180, UTF-8, header, lists joined with ";"), JSONL and XLSX.
//!
//! Every table goes through [`Cell`]s so the three formats agree on every value: numbers
//! stay numbers (in XLSX too), lists become arrays in JSONL and ";"-joined text elsewhere.
//! Files are written to a temporary name and renamed when complete, so a file under the
//! final name is never partial.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format as XlsxFormat, Workbook};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::record::SentenceRecord;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// `--format` wins; else the output's extension; else `default`.
    pub fn choose(explicit: Option<Format>, output: Option<&Path>, default: Format) -> Format {
        explicit
            .or_else(|| {
                output
                    .and_then(|p| p.extension())
                    .and_then(|e| e.to_str())
                    .and_then(Format::parse)
            })
            .unwrap_or(default)
    }
}

/// One value in a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Str(String),
    Int(i64),
    Num(f64),
    List(Vec<String>),
    Empty,
}

impl Cell {
    /// The cell as CSV writes it (the report prints these same strings).
    pub fn to_text(&self) -> String {
        match self {
            Cell::Str(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) if x.is_finite() => format_num(*x),
            Cell::Num(_) | Cell::Empty => String::new(),
            Cell::List(l) => l.join(";"),
        }
    }

    fn to_json(&self) -> Option<Value> {
        match self {
            Cell::Str(s) => Some(Value::String(s.clone())),
            Cell::Int(i) => Some(Value::from(*i)),
            Cell::Num(x) => {
                Some(serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number))
            }
            Cell::List(l) => Some(Value::Array(l.iter().cloned().map(Value::String).collect())),
            Cell::Empty => None,
        }
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Cell::Empty, Cell::Num)
    }
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        v.map_or(Cell::Empty, Cell::Str)
    }
}

/// Shortest text that round-trips, without exponent noise for ordinary values.
fn format_num(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// A row of named cells; every row of one table has the same names in the same order.
pub trait Row {
    fn cells(&self) -> Vec<(&'static str, Cell)>;
}

impl Row for SentenceRecord {
    fn cells(&self) -> Vec<(&'static str, Cell)> {
        let mut out = vec![
            ("doc", Cell::Str(self.doc.clone())),
            ("n", Cell::Int(self.n as i64)),
            ("start", Cell::Int(self.start as i64)),
            ("end", Cell::Int(self.end as i64)),
            ("text", Cell::Str(self.text.clone())),
            ("speakers", Cell::List(self.speakers.clone())),
            ("targets", Cell::List(self.targets.clone())),
        ];
        if self.stance.is_some() {
            out.extend([
                ("stance", Cell::from(self.stance.clone())),
                ("p_conciliatory", Cell::from(self.p_conciliatory)),
                ("p_accusatory", Cell::from(self.p_accusatory)),
                ("p_threatening", Cell::from(self.p_threatening)),
                ("p_neutral", Cell::from(self.p_neutral)),
            ]);
        }
        if self.sentiment.is_some() {
            out.extend([
                ("sentiment", Cell::from(self.sentiment.clone())),
                ("p_positive", Cell::from(self.p_positive)),
                ("p_negative", Cell::from(self.p_negative)),
                ("p_neutral_sentiment", Cell::from(self.p_neutral_sentiment)),
            ]);
        }
        out.extend([
            ("attribution", Cell::Str(self.attribution.as_str().into())),
            ("title", Cell::from(self.meta.title.clone())),
            ("date", Cell::from(self.meta.date.clone())),
            ("source", Cell::from(self.meta.source.clone())),
        ]);
        out
    }
}

/// A whole table, for multi-table outputs (aggregates, workbooks).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn from_rows<R: Row>(name: &str, rows: &[R], empty_columns: &[&str]) -> Table {
        let columns = match rows.first() {
            Some(r) => r.cells().iter().map(|(n, _)| n.to_string()).collect(),
            None => empty_columns.iter().map(|s| s.to_string()).collect(),
        };
        Table {
            name: name.into(),
            columns,
            rows: rows
                .iter()
                .map(|r| r.cells().into_iter().map(|(_, c)| c).collect())
                .collect(),
        }
    }
}

/// A file written under a temporary name and renamed into place by [`AtomicFile::commit`].
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
}

impl AtomicFile {
    pub fn new(dest: &Path) -> Result<(AtomicFile, File)> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::Write(tmp.clone(), e))?;
        Ok((
            AtomicFile {
                dest: dest.to_path_buf(),
                tmp,
            },
            file,
        ))
    }

    /// A file written under the stable name `<dest>.partial`, so a killed run can be
    /// resumed: `resume_at` truncates an existing partial file to the last checkpoint.
    pub fn resumable(dest: &Path, resume_at: Option<u64>) -> Result<(AtomicFile, File)> {
        let tmp = partial_path(dest);
        let file = match resume_at {
            Some(bytes) => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&tmp)
                    .map_err(|e| Error::Io(tmp.clone(), e))?;
                f.set_len(bytes).map_err(|e| Error::Write(tmp.clone(), e))?;
                let mut f = f;
                std::io::Seek::seek(&mut f, std::io::SeekFrom::End(0))
                    .map_err(|e| Error::Write(tmp.clone(), e))?;
                f
            }
            None => File::create(&tmp).map_err(|e| Error::Write(tmp.clone(), e))?,
        };
        Ok((
            AtomicFile {
                dest: dest.to_path_buf(),
                tmp,
            },
            file,
        ))
    }

    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the finished file into place.
    pub fn commit(self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::Write(self.dest.clone(), e))
    }

    /// Keeps what was written as `<dest>.partial`, clearly not the finished output.
    pub fn keep_partial(self) -> Result<PathBuf> {
        let partial = partial_path(&self.dest);
        if self.tmp != partial {
            std::fs::rename(&self.tmp, &partial).map_err(|e| Error::Write(partial.clone(), e))?;
        }
        Ok(partial)
    }

    /// Removes the temporary file.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// `<dest>.partial`: where unfinished output lives.
pub fn partial_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

/// Where a stream of rows goes.
pub trait RowSink {
    fn write(&mut self, cells: Vec<(&'static str, Cell)>) -> Result<()>;
    /// Flushes and puts the output in place.
    fn finish(self: Box<Self>) -> Result<()>;
    /// Keeps what was written so far under a name that says it is partial.
    fn abandon(self: Box<Self>) -> Result<Option<PathBuf>>;
    fn written(&self) -> usize;
    /// Flushes what was written and returns the output's length in bytes, for a
    /// checkpoint; `None` when the output cannot be resumed (stdout, XLSX).
    fn sync_point(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
}

enum Dest {
    Stdout,
    File(AtomicFile),
}

fn io_err(dest: &Dest) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| match dest {
        Dest::Stdout => Error::Write(PathBuf::from("<stdout>"), e),
        Dest::File(f) => Error::Write(f.tmp_path().to_path_buf(), e),
    }
}

/// Streams CSV or JSONL rows to a file or stdout.
pub struct TextSink {
    dest: Dest,
    out: BufWriter<Box<dyn Write>>,
    format: Format,
    header_written: bool,
    written: usize,
    /// Bytes in the output so far (including what a resumed run started from).
    bytes: u64,
}

impl TextSink {
    pub fn new(format: Format, output: Option<&Path>) -> Result<TextSink> {
        let (dest, out): (Dest, Box<dyn Write>) = match output {
            Some(p) => {
                let (atomic, file) = AtomicFile::new(p)?;
                (Dest::File(atomic), Box::new(file))
            }
            None => (Dest::Stdout, Box::new(std::io::stdout())),
        };
        Ok(TextSink {
            dest,
            out: BufWriter::with_capacity(1 << 16, out),
            format,
            header_written: false,
            written: 0,
            bytes: 0,
        })
    }

    /// A file sink that can be checkpointed and resumed (see [`AtomicFile::resumable`]):
    /// `resume` is the checkpoint's (bytes, records).
    pub fn resumable(
        format: Format,
        path: &Path,
        resume: Option<(u64, usize)>,
    ) -> Result<TextSink> {
        let (atomic, file) = AtomicFile::resumable(path, resume.map(|r| r.0))?;
        let (bytes, written) = resume.unwrap_or((0, 0));
        Ok(TextSink {
            dest: Dest::File(atomic),
            out: BufWriter::with_capacity(1 << 16, Box::new(file)),
            format,
            header_written: bytes > 0,
            written,
            bytes,
        })
    }
}

fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let _ = w.write_record(fields.collect::<Vec<_>>());
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

impl TextSink {
    /// Writes one row given column names and cells (shared by streams and whole tables).
    fn write_named<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str> + Clone,
        cells: &[Cell],
    ) -> Result<()> {
        let err = io_err(&self.dest);
        match self.format {
            Format::Csv => {
                if !self.header_written {
                    let header = csv_line(names.map(str::to_string));
                    self.out.write_all(header.as_bytes()).map_err(&err)?;
                    self.bytes += header.len() as u64;
                    self.header_written = true;
                }
                let line = csv_line(cells.iter().map(Cell::to_text));
                self.out.write_all(line.as_bytes()).map_err(&err)?;
                self.bytes += line.len() as u64;
            }
            _ => {
                let mut map = Map::new();
                for (name, cell) in names.zip(cells) {
                    if let Some(v) = cell.to_json() {
                        map.insert(name.to_string(), v);
                    }
                }
                let mut line =
                    serde_json::to_vec(&Value::Object(map)).map_err(|e| err(e.into()))?;
                line.push(b'\n');
                self.out.write_all(&line).map_err(&err)?;
                self.bytes += line.len() as u64;
            }
        }
        self.written += 1;
        Ok(())
    }
}

impl RowSink for TextSink {
    fn write(&mut self, cells: Vec<(&'static str, Cell)>) -> Result<()> {
        let (names, values): (Vec<&'static str>, Vec<Cell>) = cells.into_iter().unzip();
        self.write_named(names.iter().copied(), &values)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.out.flush().map_err(io_err(&self.dest))?;
        let TextSink { dest, out, .. } = *self;
        drop(out);
        match dest {
            Dest::Stdout => Ok(()),
            Dest::File(f) => f.commit(),
        }
    }

    fn abandon(mut self: Box<Self>) -> Result<Option<PathBuf>> {
        let _ = self.out.flush();
        let TextSink { dest, out, .. } = *self;
        drop(out);
        match dest {
            Dest::Stdout => Ok(None),
            Dest::File(f) => f.keep_partial().map(Some),
        }
    }

    fn written(&self) -> usize {
        self.written
    }

    fn sync_point(&mut self) -> Result<Option<u64>> {
        if matches!(self.dest, Dest::Stdout) {
            return Ok(None);
        }
        self.out.flush().map_err(io_err(&self.dest))?;
        Ok(Some(self.bytes))
    }
}

/// Collects rows and writes a one-sheet workbook on finish.
pub struct XlsxSink {
    path: PathBuf,
    sheet: String,
    table: Option<Table>,
}

impl XlsxSink {
    pub fn new(path: &Path, sheet: &str) -> XlsxSink {
        XlsxSink {
            path: path.to_path_buf(),
            sheet: sheet.into(),
            table: None,
        }
    }
}

impl RowSink for XlsxSink {
    fn write(&mut self, cells: Vec<(&'static str, Cell)>) -> Result<()> {
        let table = self.table.get_or_insert_with(|| Table {
            name: self.sheet.clone(),
            columns: cells.iter().map(|(n, _)| n.to_string()).collect(),
            rows: Vec::new(),
        });
        if table.rows.len() + 1 >= 1_048_576 {
            return Err(Error::Other(format!(
                "{}: more than 1,048,575 rows do not fit in one Excel sheet; write CSV or JSONL instead",
                self.path.display()
            )));
        }
        table.rows.push(cells.into_iter().map(|(_, c)| c).collect());
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let table = self.table.unwrap_or(Table {
            name: self.sheet.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
        });
        write_workbook(&self.path, &[table])
    }

    fn abandon(self: Box<Self>) -> Result<Option<PathBuf>> {
        let mut partial = self.path.clone().into_os_string();
        partial.push(".partial.xlsx");
        let partial = PathBuf::from(partial);
        let table = self.table.unwrap_or(Table {
            name: self.sheet.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
        });
        write_workbook(&partial, &[table])?;
        Ok(Some(partial))
    }

    fn written(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.rows.len())
    }
}

/// Opens the sink for a format and optional output path (stdout for CSV and JSONL).
pub fn open_sink(format: Format, output: Option<&Path>, sheet: &str) -> Result<Box<dyn RowSink>> {
    match (format, output) {
        (Format::Xlsx, Some(p)) => Ok(Box::new(XlsxSink::new(p, sheet))),
        (Format::Xlsx, None) => Err(Error::Usage(
            "XLSX needs an output file: add -o FILE.xlsx".into(),
        )),
        (f, out) => Ok(Box::new(TextSink::new(f, out)?)),
    }
}

/// Writes tables as one workbook: a sheet each, bold frozen header, autofilter, numbers
/// stored as numbers.
pub fn write_workbook(path: &Path, tables: &[Table]) -> Result<()> {
    let mut wb = Workbook::new();
    add_table_sheets(&mut wb, tables, path)?;
    save_workbook(&mut wb, path)
}

/// An xlsxwriter error as ours, naming the workbook.
pub fn xlsx_error(path: &Path) -> impl Fn(rust_xlsxwriter::XlsxError) -> Error + Copy + '_ {
    move |e| {
        Error::Other(format!(
            "{}: cannot write the workbook: {e}",
            path.display()
        ))
    }
}

/// Adds one sheet per table with the workbook conventions above; split from
/// [`write_workbook`] so the report can add charts to the same workbook before saving.
pub fn add_table_sheets(wb: &mut Workbook, tables: &[Table], path: &Path) -> Result<()> {
    let xerr = xlsx_error(path);
    let bold = XlsxFormat::new().set_bold();
    for table in tables {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(&table.name)).map_err(xerr)?;
        for (c, name) in table.columns.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, name, &bold)
                .map_err(xerr)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = (r + 1) as u32;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Int(i) => ws.write_number(r, c, *i as f64).map(|_| ()),
                    Cell::Num(x) if x.is_finite() => ws.write_number(r, c, *x).map(|_| ()),
                    Cell::Empty | Cell::Num(_) => Ok(()),
                    other => ws
                        .write_string(r, c, other.to_text().replace(';', "; "))
                        .map(|_| ()),
                }
                .map_err(xerr)?;
            }
        }
        if !table.columns.is_empty() {
            ws.set_freeze_panes(1, 0).map_err(xerr)?;
            ws.autofilter(
                0,
                0,
                table.rows.len() as u32,
                (table.columns.len() - 1) as u16,
            )
            .map_err(xerr)?;
            for (c, name) in table.columns.iter().enumerate() {
                let width = if name == "text" {
                    80.0
                } else {
                    (name.len() as f64 + 4.0).max(10.0)
                };
                ws.set_column_width(c as u16, width).map_err(xerr)?;
            }
        }
    }
    Ok(())
}

/// Saves a workbook atomically (temporary name, then renamed).
pub fn save_workbook(wb: &mut Workbook, path: &Path) -> Result<()> {
    let (atomic, file) = AtomicFile::new(path)?;
    drop(file);
    wb.save(atomic.tmp_path()).map_err(xlsx_error(path))?;
    atomic.commit()
}

fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if cleaned.is_empty() {
        "Sheet1".into()
    } else {
        cleaned
    }
}

/// Writes one table as CSV or JSONL to a file (atomically) or stdout.
pub fn write_table(table: &Table, format: Format, output: Option<&Path>) -> Result<()> {
    if format == Format::Xlsx {
        let path = output
            .ok_or_else(|| Error::Usage("XLSX needs an output file: add -o FILE.xlsx".into()))?;
        return write_workbook(path, std::slice::from_ref(table));
    }
    let mut sink = TextSink::new(format, output)?;
    if table.rows.is_empty() && format == Format::Csv {
        let header = csv_line(table.columns.iter().cloned());
        sink.out
            .write_all(header.as_bytes())
            .map_err(io_err(&sink.dest))?;
    }
    for row in &table.rows {
        sink.write_named(table.columns.iter().map(String::as_str), row)?;
    }
    Box::new(sink).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_plainly() {
        assert_eq!(format_num(0.5), "0.5");
        assert_eq!(format_num(3.0), "3");
        assert_eq!(format_num(-0.0000001), "0");
        assert_eq!(format_num(1.0 / 3.0), "0.333333");
    }

    #[test]
    fn csv_quotes_per_rfc4180() {
        assert_eq!(
            csv_line(["a,b".to_string(), "say \"hi\"".to_string(), "x".to_string()].into_iter()),
            "\"a,b\",\"say \"\"hi\"\"\",x\r\n"
        );
    }
}
