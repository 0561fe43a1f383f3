//! The analyst's report: who is escalating, toward whom, and since when.
//!
//! It sits after [`crate::aggregate`]: every number it prints comes from the aggregate
//! tables (so the page, the workbook and `partyline aggregate` agree), plus the example
//! sentences and, with `--compare`, a change table whose intervals bootstrap documents.
//! Three renderings share one [`Report`]: a self-contained HTML page ([`html`]), a
//! workbook with native charts ([`xlsx`]) and a compact terminal table ([`terminal`]).

pub mod html;
pub mod terminal;
pub mod xlsx;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::aggregate::{
    AggregateOptions, Aggregates, Rng, aggregate, percentile, read_records, seed_for,
};
use crate::error::{Error, Result};
use crate::export::{AtomicFile, Cell, Table};
use crate::ingest::{InputFormat, Source, expand_inputs};
use crate::model::Manifest;
use crate::record::{STANCES, SentenceRecord};

/// The labeling guide the stance and sentiment labels follow, cited in the method box.
pub const LABEL_GUIDE: &str =
    "../shared/spec/labeling-guide.md (Labeling guide: speaker, target, stance, sentiment)";

/// How an input file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Sentence records with a stance (from `score`, or hand-coded).
    Records,
    /// Documents to attribute and score first.
    Documents,
}

/// Decides whether a file holds records or documents. Text files are documents; a JSONL
/// file is records when its first record has a `stance` field, a CSV file when its header
/// has a `stance` column. `force_records` (`--records`) skips the check.
pub fn classify(path: &Path, format: InputFormat, force_records: bool) -> Result<InputKind> {
    if force_records {
        return Ok(InputKind::Records);
    }
    let first_line = || -> Result<Option<String>> {
        let file = std::fs::File::open(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| Error::Io(path.to_path_buf(), e))?;
            if !line.trim().is_empty() {
                return Ok(Some(line));
            }
        }
        Ok(None)
    };
    Ok(match format {
        InputFormat::Text => InputKind::Documents,
        InputFormat::Jsonl => {
            let has = first_line()?
                .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
                .is_some_and(|v| v.get("stance").is_some());
            if has {
                InputKind::Records
            } else {
                InputKind::Documents
            }
        }
        InputFormat::Csv => {
            let has = first_line()?.is_some_and(|l| {
                csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(l.as_bytes())
                    .records()
                    .next()
                    .and_then(|r| r.ok())
                    .is_some_and(|r| r.iter().any(|h| h.trim() == "stance"))
            });
            if has {
                InputKind::Records
            } else {
                InputKind::Documents
            }
        }
    })
}

/// Records gathered from the inputs, with what the method box needs to say about them.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<SentenceRecord>,
    /// Every file read, records and documents alike.
    pub files: Vec<PathBuf>,
    /// Records and documents skipped (bad records with `--skip-bad`, empty documents).
    pub skipped: usize,
    /// Whether any input was scored here (then the model goes in the method box).
    pub scored: bool,
}

/// Scores documents: given the sources, returns their records and how many were skipped.
pub type Scorer<'a> = dyn FnMut(&[Source]) -> Result<(Vec<SentenceRecord>, usize)> + 'a;

/// Reads record files and scores document files, in the order given.
pub fn load(
    inputs: &[PathBuf],
    force_records: bool,
    forced_format: Option<InputFormat>,
    skip_bad: bool,
    scorer: &mut Scorer,
) -> Result<Loaded> {
    let mut out = Loaded::default();
    let mut documents = Vec::new();
    for source in expand_inputs(inputs, forced_format)? {
        match &source {
            Source::Stdin => documents.push(source),
            Source::File(path, format) => {
                out.files.push(path.clone());
                match classify(path, *format, force_records)? {
                    InputKind::Records => {
                        out.records
                            .extend(read_records(path, skip_bad, &mut out.skipped)?)
                    }
                    InputKind::Documents => documents.push(source),
                }
            }
        }
    }
    if !documents.is_empty() {
        let (records, skipped) = scorer(&documents)?;
        out.records.extend(records);
        out.skipped += skipped;
        out.scored = true;
    }
    if out.records.is_empty() {
        return Err(Error::Other(format!(
            "no sentence records in {}",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// A date window `FROM..TO` (ISO dates, both ends included, either end open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Window {
    pub fn parse(s: &str) -> std::result::Result<Window, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("expected FROM..TO (ISO dates), got {s:?}"))?;
        let date = |x: &str| -> std::result::Result<Option<NaiveDate>, String> {
            let x = x.trim();
            if x.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(x, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| format!("not an ISO date (YYYY-MM-DD): {x:?}"))
        };
        Ok(Window {
            from: date(a)?,
            to: date(b)?,
        })
    }

    /// Whether a record's date falls in the window; undated records never do.
    pub fn contains(&self, r: &SentenceRecord) -> bool {
        let Some(d) = r
            .meta
            .date
            .as_deref()
            .and_then(|d| d.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            return false;
        };
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.from, self.to) {
            (Some(a), Some(b)) => write!(f, "{a} to {b}"),
            (Some(a), None) => write!(f, "{a} onward"),
            (None, Some(b)) => write!(f, "up to {b}"),
            (None, None) => write!(f, "all dates"),
        }
    }
}

/// One party's row of the aggregate `parties` table, read back by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyRow {
    pub party: String,
    pub sentences: i64,
    pub docs: i64,
    pub share: [f64; 4],
    pub low: [f64; 4],
    pub high: [f64; 4],
    pub sentiment: [Option<f64>; 3],
    pub net: f64,
    pub net_low: f64,
    pub net_high: f64,
}

/// A numeric cell of a table by column name.
pub fn num(table: &Table, row: &[Cell], column: &str) -> Option<f64> {
    let i = table.columns.iter().position(|c| c == column)?;
    match &row[i] {
        Cell::Num(x) => Some(*x),
        Cell::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A text cell of a table by column name.
pub fn text<'a>(table: &Table, row: &'a [Cell], column: &str) -> Option<&'a str> {
    let i = table.columns.iter().position(|c| c == column)?;
    match &row[i] {
        Cell::Str(s) => Some(s),
        _ => None,
    }
}

/// Reads party rows (parties table, or the per-period table) from the aggregate cells.
pub fn party_rows(table: &Table) -> Vec<PartyRow> {
    table
        .rows
        .iter()
        .map(|row| {
            let n = |c: &str| num(table, row, c).unwrap_or(f64::NAN);
            let per = |suffix: &str| {
                let mut v = [0.0; 4];
                for (i, s) in STANCES.iter().enumerate() {
                    v[i] = n(&format!("share_{s}{suffix}"));
                }
                v
            };
            PartyRow {
                party: text(table, row, "party").unwrap_or_default().to_string(),
                sentences: n("sentences") as i64,
                docs: n("docs") as i64,
                share: per(""),
                low: per("_low"),
                high: per("_high"),
                sentiment: ["positive", "negative", "neutral"]
                    .map(|s| num(table, row, &format!("share_sentiment_{s}"))),
                net: n("net_score"),
                net_low: n("net_score_low"),
                net_high: n("net_score_high"),
            }
        })
        .collect()
}

/// An example sentence for a party and stance.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub doc: String,
    pub n: usize,
    pub text: String,
    /// The model's probability of the stance, when the record carries one.
    pub p: Option<f64>,
}

/// The three most confident sentences of each stance per party: highest `p_<stance>`
/// among sentences predicted with that stance; hand-coded records without
/// probabilities keep their order in the input.
pub fn examples(records: &[SentenceRecord], per: usize) -> BTreeMap<String, [Vec<Example>; 4]> {
    let mut out: BTreeMap<String, [Vec<Example>; 4]> = BTreeMap::new();
    for r in records {
        let Some(s) = r
            .stance
            .as_deref()
            .and_then(|s| STANCES.iter().position(|x| *x == s))
        else {
            continue;
        };
        let p = [
            r.p_conciliatory,
            r.p_accusatory,
            r.p_threatening,
            r.p_neutral,
        ][s];
        let mut speakers = r.speakers.clone();
        speakers.sort();
        speakers.dedup();
        for sp in speakers {
            out.entry(sp).or_default()[s].push(Example {
                doc: r.doc.clone(),
                n: r.n,
                text: r.text.clone(),
                p,
            });
        }
    }
    for lists in out.values_mut() {
        for list in lists.iter_mut() {
            // Stable sort: without probabilities the input order stands.
            list.sort_by(|a, b| {
                b.p.unwrap_or(f64::NEG_INFINITY)
                    .total_cmp(&a.p.unwrap_or(f64::NEG_INFINITY))
            });
            list.truncate(per);
        }
    }
    out
}

/// The change of one party between A and B (B minus A).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub party: String,
    pub sentences_a: usize,
    pub sentences_b: usize,
    pub net_a: f64,
    pub net_b: f64,
    /// Net score change, with its 95% interval.
    pub net: (f64, f64, f64),
    /// Share changes per stance, with 95% intervals.
    pub share: [(f64, f64, f64); 4],
}

/// Per-party changes between two sets of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub label_a: String,
    pub label_b: String,
    pub rows: Vec<Change>,
}

#[derive(Debug, Clone, Copy, Default)]
struct DocSums {
    n: f64,
    stance: [f64; 4],
    weight: f64,
}

impl DocSums {
    fn merge(&mut self, o: &DocSums) {
        self.n += o.n;
        self.weight += o.weight;
        for i in 0..4 {
            self.stance[i] += o.stance[i];
        }
    }
    fn net(&self) -> f64 {
        self.weight / self.n
    }
    fn share(&self, i: usize) -> f64 {
        self.stance[i] / self.n
    }
}

/// Sums per party and document, counted as `aggregate` counts (each speaker once).
fn party_docs(
    records: &[SentenceRecord],
    opts: &AggregateOptions,
) -> BTreeMap<String, BTreeMap<String, DocSums>> {
    let mut out: BTreeMap<String, BTreeMap<String, DocSums>> = BTreeMap::new();
    for r in records {
        let Some(s) = r
            .stance
            .as_deref()
            .and_then(|s| STANCES.iter().position(|x| *x == s))
        else {
            continue;
        };
        let mut speakers = r.speakers.clone();
        speakers.sort();
        speakers.dedup();
        for sp in speakers {
            let d = out.entry(sp).or_default().entry(r.doc.clone()).or_default();
            d.n += 1.0;
            d.stance[s] += 1.0;
            d.weight += opts.weights.0[s];
        }
    }
    out
}

/// Compares A and B per party present in both. Intervals are percentile bootstraps of the
/// difference, resampling A's and B's documents independently, seeded like `aggregate`.
pub fn compare(
    a: &[SentenceRecord],
    b: &[SentenceRecord],
    opts: &AggregateOptions,
    label_a: &str,
    label_b: &str,
) -> Comparison {
    let da = party_docs(a, opts);
    let db = party_docs(b, opts);
    let mut rows = Vec::new();
    for (party, docs_a) in &da {
        let Some(docs_b) = db.get(party) else {
            continue;
        };
        let ca: Vec<DocSums> = docs_a.values().copied().collect();
        let cb: Vec<DocSums> = docs_b.values().copied().collect();
        let total = |c: &[DocSums]| {
            let mut t = DocSums::default();
            for d in c {
                t.merge(d);
            }
            t
        };
        let (ta, tb) = (total(&ca), total(&cb));
        let mut rng = Rng(seed_for(&format!("compare\u{1f}{party}"), opts.seed));
        let mut nets = Vec::new();
        let mut shares: [Vec<f64>; 4] = Default::default();
        for _ in 0..opts.bootstrap {
            let mut draw = |c: &[DocSums]| {
                let mut t = DocSums::default();
                for _ in 0..c.len() {
                    t.merge(&c[rng.below(c.len())]);
                }
                t
            };
            let (sa, sb) = (draw(&ca), draw(&cb));
            nets.push(sb.net() - sa.net());
            for (i, v) in shares.iter_mut().enumerate() {
                v.push(sb.share(i) - sa.share(i));
            }
        }
        let ci = |v: &mut Vec<f64>, point: f64| {
            if v.is_empty() {
                return (point, point, point);
            }
            v.sort_by(|x, y| x.total_cmp(y));
            (point, percentile(v, 0.025), percentile(v, 0.975))
        };
        let mut share = [(0.0, 0.0, 0.0); 4];
        for (i, v) in shares.iter_mut().enumerate() {
            share[i] = ci(v, tb.share(i) - ta.share(i));
        }
        rows.push(Change {
            party: party.clone(),
            sentences_a: ta.n as usize,
            sentences_b: tb.n as usize,
            net_a: ta.net(),
            net_b: tb.net(),
            net: ci(&mut nets, tb.net() - ta.net()),
            share,
        });
    }
    Comparison {
        label_a: label_a.into(),
        label_b: label_b.into(),
        rows,
    }
}

impl Comparison {
    /// The change table, for the workbook and as the page's machine-readable table.
    pub fn table(&self) -> Table {
        let mut columns: Vec<String> = [
            "party",
            "sentences_a",
            "sentences_b",
            "net_score_a",
            "net_score_b",
            "net_score_change",
            "net_score_change_low",
            "net_score_change_high",
        ]
        .map(String::from)
        .to_vec();
        for s in STANCES {
            columns.extend([
                format!("share_{s}_change"),
                format!("share_{s}_change_low"),
                format!("share_{s}_change_high"),
            ]);
        }
        let rows = self
            .rows
            .iter()
            .map(|c| {
                let mut row = vec![
                    Cell::Str(c.party.clone()),
                    Cell::Int(c.sentences_a as i64),
                    Cell::Int(c.sentences_b as i64),
                    Cell::Num(c.net_a),
                    Cell::Num(c.net_b),
                    Cell::Num(c.net.0),
                    Cell::Num(c.net.1),
                    Cell::Num(c.net.2),
                ];
                for s in c.share {
                    row.extend([Cell::Num(s.0), Cell::Num(s.1), Cell::Num(s.2)]);
                }
                row
            })
            .collect();
        Table {
            name: "Change".into(),
            columns,
            rows,
        }
    }
}

/// What the method box reports about how the numbers were made.
#[derive(Debug, Clone, Default)]
pub struct Method {
    /// The model's manifest, when the inputs were scored here.
    pub model: Option<Manifest>,
    pub inputs: Vec<PathBuf>,
    pub skipped: usize,
}

/// Everything the three renderings print.
pub struct Report {
    pub title: String,
    pub records: Vec<SentenceRecord>,
    pub aggs: Aggregates,
    pub opts: AggregateOptions,
    pub parties: Vec<PartyRow>,
    pub examples: BTreeMap<String, [Vec<Example>; 4]>,
    pub method: Method,
    pub comparison: Option<Comparison>,
}

impl Report {
    /// Aggregates the records and gathers the examples.
    pub fn build(
        title: &str,
        records: Vec<SentenceRecord>,
        opts: &AggregateOptions,
        method: Method,
        comparison: Option<Comparison>,
    ) -> Report {
        let aggs = aggregate(&records, opts);
        let parties = party_rows(&aggs.parties);
        let examples = examples(&records, 3);
        Report {
            title: title.into(),
            records,
            aggs,
            opts: opts.clone(),
            parties,
            examples,
            method,
            comparison,
        }
    }

    /// Parties from the most to the fewest sentences (ties by id), the order of the charts.
    pub fn parties_by_size(&self) -> Vec<&PartyRow> {
        let mut v: Vec<&PartyRow> = self.parties.iter().collect();
        v.sort_by(|a, b| b.sentences.cmp(&a.sentences).then(a.party.cmp(&b.party)));
        v
    }

    /// Writes the report as HTML (`.html`, `.htm`) or a workbook (`.xlsx`), by extension.
    pub fn write(&self, path: &Path) -> Result<()> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html" | "htm") => {
                let page = html::render(self);
                let (atomic, mut file) = AtomicFile::new(path)?;
                file.write_all(page.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|e| Error::Write(path.to_path_buf(), e))?;
                drop(file);
                atomic.commit()
            }
            Some("xlsx") => xlsx::write(self, path),
            _ => Err(Error::Usage(format!(
                "{}: the report is written as .html or .xlsx (or use --terminal)",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Meta;

    fn rec(doc: &str, sp: &str, stance: &str, p: Option<f64>, date: &str) -> SentenceRecord {
        SentenceRecord {
            doc: doc.into(),
            text: format!("{sp} {stance}"),
            speakers: vec![sp.into()],
            stance: Some(stance.into()),
            p_accusatory: p,
            meta: Meta {
                date: Some(date.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn records_are_told_from_documents() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let rec = write(
            "r.jsonl",
            "\n{\"doc\":\"a\",\"n\":0,\"text\":\"x\",\"stance\":\"neutral\"}\n",
        );
        let doc = write("d.jsonl", "{\"id\":\"a\",\"text\":\"Kenya said so.\"}\n");
        let rcsv = write("r.csv", "doc,n,text,speakers,stance\na,0,x,KEN,neutral\n");
        let dcsv = write("d.csv", "id,text\na,Kenya said so.\n");
        let txt = write("t.txt", "{\"stance\": 1}");
        use InputFormat::*;
        assert_eq!(classify(&rec, Jsonl, false).unwrap(), InputKind::Records);
        assert_eq!(classify(&doc, Jsonl, false).unwrap(), InputKind::Documents);
        assert_eq!(classify(&rcsv, Csv, false).unwrap(), InputKind::Records);
        assert_eq!(classify(&dcsv, Csv, false).unwrap(), InputKind::Documents);
        assert_eq!(classify(&txt, Text, false).unwrap(), InputKind::Documents);
        assert_eq!(classify(&doc, Jsonl, true).unwrap(), InputKind::Records);
    }

    #[test]
    fn windows_parse_and_filter() {
        let w = Window::parse("2025-01-01..2025-01-31").unwrap();
        assert!(w.contains(&rec("a", "X", "neutral", None, "2025-01-31T10:00:00Z")));
        assert!(!w.contains(&rec("a", "X", "neutral", None, "2025-02-01")));
        assert!(Window::parse("..2025-01-31").unwrap().from.is_none());
        assert!(Window::parse("2025-13-01..").is_err());
        assert!(Window::parse("2025-01-01").is_err());
    }

    #[test]
    fn examples_take_the_most_confident() {
        let r = vec![
            rec("a", "X", "accusatory", Some(0.5), "2025-01-01"),
            rec("b", "X", "accusatory", Some(0.9), "2025-01-01"),
            rec("c", "X", "accusatory", Some(0.7), "2025-01-01"),
            rec("d", "X", "accusatory", Some(0.6), "2025-01-01"),
        ];
        let e = examples(&r, 3);
        let docs: Vec<&str> = e["X"][1].iter().map(|x| x.doc.as_str()).collect();
        assert_eq!(docs, ["b", "c", "d"]);
    }

    #[test]
    fn comparison_is_b_minus_a() {
        let a: Vec<_> = (0..6)
            .map(|i| rec(&format!("a{i}"), "X", "conciliatory", None, "2025-01-01"))
            .collect();
        let b: Vec<_> = (0..6)
            .map(|i| {
                let s = if i % 2 == 0 { "threatening" } else { "neutral" };
                rec(&format!("b{i}"), "X", s, None, "2025-02-01")
            })
            .collect();
        let c = compare(&a, &b, &AggregateOptions::default(), "A", "B");
        let x = &c.rows[0];
        assert!((x.net.0 - (-3.0 - 3.5)).abs() < 1e-12);
        assert!(x.net.1 <= x.net.0 && x.net.0 <= x.net.2 && x.net.1 < x.net.2);
        assert!((x.share[0].0 + 1.0).abs() < 1e-12);
    }
}
