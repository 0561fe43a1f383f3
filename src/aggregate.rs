//! Aggregation: stance and sentiment per party, per speaker→target dyad, per document and
//! per period, with a Goldstein-weighted net cooperation score and 95% bootstrap intervals.
//!
//! Intervals resample whole documents (sentences of one article are not independent), with
//! a seeded generator so the same input gives the same tables. The per-document table
//! resamples sentences, since it has a single document per row.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Location, Result};
use crate::export::{Cell, Table};
use crate::record::{Attribution, Meta, SENTIMENTS, STANCES, SentenceRecord};

/// Per-stance weights for the net cooperation score, in [`STANCES`] order.
///
/// Defaults follow the CAMEO adaptation of the Goldstein (1992) conflict-cooperation
/// scale: verbal cooperation (CAMEO 01-08) averages about +3.5, disapproval and rejection
/// (11-12) about -2, threats (13) about -6; neutral statements carry no weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights(pub [f64; 4]);

impl Default for Weights {
    fn default() -> Self {
        Weights([3.5, -2.0, -6.0, 0.0])
    }
}

impl Weights {
    /// Parses "conciliatory=3.5,threatening=-7" (unnamed stances keep their default).
    pub fn parse(s: &str) -> std::result::Result<Weights, String> {
        let mut w = Weights::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected STANCE=NUMBER, got {part:?}"))?;
            let i = STANCES
                .iter()
                .position(|s| *s == name.trim())
                .ok_or_else(|| {
                    format!(
                        "unknown stance {name:?} (expected one of {})",
                        STANCES.join(", ")
                    )
                })?;
            w.0[i] = value
                .trim()
                .parse()
                .map_err(|_| format!("weight for {name} is not a number: {value:?}"))?;
        }
        Ok(w)
    }
}

/// The time unit of the per-date table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The period label of an ISO date: "2025-10-02", "2025-W40" (ISO week), "2025-10".
    pub fn label(self, date: &str) -> Option<String> {
        let d = NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
        Some(match self {
            Period::Day => d.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => d.format("%Y-%m").to_string(),
        })
    }
}

/// Aggregation settings.
#[derive(Debug, Clone)]
pub struct AggregateOptions {
    pub weights: Weights,
    pub period: Period,
    pub bootstrap: usize,
    pub seed: u64,
}

impl Default for AggregateOptions {
    fn default() -> Self {
        AggregateOptions {
            weights: Weights::default(),
            period: Period::Day,
            bootstrap: 1000,
            seed: 42,
        }
    }
}

/// One sentence reduced to what aggregation needs.
#[derive(Debug, Clone)]
struct Obs {
    doc: usize,
    stance: usize,
    sentiment: Option<usize>,
    probs: Option<[f64; 4]>,
}

/// Sums over the sentences of one cluster (a document, or a sentence).
#[derive(Debug, Clone, Default)]
struct Sums {
    n: f64,
    stance: [f64; 4],
    sentiment: [f64; 3],
    n_sentiment: f64,
    weight: f64,
}

impl Sums {
    fn add(&mut self, o: &Obs, w: &Weights) {
        self.n += 1.0;
        self.stance[o.stance] += 1.0;
        self.weight += w.0[o.stance];
        if let Some(s) = o.sentiment {
            self.sentiment[s] += 1.0;
            self.n_sentiment += 1.0;
        }
    }
    fn merge(&mut self, other: &Sums) {
        self.n += other.n;
        self.n_sentiment += other.n_sentiment;
        self.weight += other.weight;
        for i in 0..4 {
            self.stance[i] += other.stance[i];
        }
        for i in 0..3 {
            self.sentiment[i] += other.sentiment[i];
        }
    }
}

/// SplitMix64: small, fast, and reproducible across platforms.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize
    }
}

pub(crate) fn seed_for(key: &str, seed: u64) -> u64 {
    // FNV-1a over the key, mixed with the user's seed: each group's draws are independent
    // of the order groups are met in.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Point estimates and 95% intervals for one group.
struct Estimate {
    total: Sums,
    share_ci: [(f64, f64); 4],
    net_ci: (f64, f64),
    mean_probs: Option<[f64; 4]>,
}

fn estimate(clusters: &[Sums], probs: &[[f64; 4]], opts: &AggregateOptions, key: &str) -> Estimate {
    let mut total = Sums::default();
    for c in clusters {
        total.merge(c);
    }
    let mut rng = Rng(seed_for(key, opts.seed));
    let b = opts.bootstrap;
    let mut shares: [Vec<f64>; 4] = Default::default();
    let mut nets = Vec::with_capacity(b);
    if clusters.len() > 1 && b > 0 {
        for _ in 0..b {
            let mut s = Sums::default();
            for _ in 0..clusters.len() {
                s.merge(&clusters[rng.below(clusters.len())]);
            }
            if s.n > 0.0 {
                for (share, count) in shares.iter_mut().zip(s.stance) {
                    share.push(count / s.n);
                }
                nets.push(s.weight / s.n);
            }
        }
    }
    let ci = |v: &mut Vec<f64>, point: f64| {
        if v.is_empty() {
            return (point, point);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        (percentile(v, 0.025), percentile(v, 0.975))
    };
    let mut share_ci = [(0.0, 0.0); 4];
    for i in 0..4 {
        share_ci[i] = ci(&mut shares[i], total.stance[i] / total.n);
    }
    let net_ci = ci(&mut nets, total.weight / total.n);
    let mean_probs = (!probs.is_empty()).then(|| {
        let mut m = [0.0; 4];
        for p in probs {
            for i in 0..4 {
                m[i] += p[i] / probs.len() as f64;
            }
        }
        m
    });
    Estimate {
        total,
        share_ci,
        net_ci,
        mean_probs,
    }
}

/// The columns every aggregate table shares after its key columns.
fn stat_columns() -> Vec<String> {
    let mut cols = vec!["sentences".to_string(), "docs".to_string()];
    for s in STANCES {
        cols.push(format!("count_{s}"));
    }
    for s in STANCES {
        cols.extend([
            format!("share_{s}"),
            format!("share_{s}_low"),
            format!("share_{s}_high"),
        ]);
    }
    for s in STANCES {
        cols.push(format!("mean_p_{s}"));
    }
    for s in SENTIMENTS {
        cols.push(format!("share_sentiment_{s}"));
    }
    cols.extend([
        "net_score".to_string(),
        "net_score_low".to_string(),
        "net_score_high".to_string(),
    ]);
    cols
}

fn stat_cells(e: &Estimate, docs: usize) -> Vec<Cell> {
    let t = &e.total;
    let mut out = vec![Cell::Int(t.n as i64), Cell::Int(docs as i64)];
    for i in 0..4 {
        out.push(Cell::Int(t.stance[i] as i64));
    }
    for i in 0..4 {
        out.extend([
            Cell::Num(t.stance[i] / t.n),
            Cell::Num(e.share_ci[i].0),
            Cell::Num(e.share_ci[i].1),
        ]);
    }
    for i in 0..4 {
        out.push(e.mean_probs.map_or(Cell::Empty, |m| Cell::Num(m[i])));
    }
    for i in 0..3 {
        out.push(if t.n_sentiment > 0.0 {
            Cell::Num(t.sentiment[i] / t.n_sentiment)
        } else {
            Cell::Empty
        });
    }
    out.extend([
        Cell::Num(t.weight / t.n),
        Cell::Num(e.net_ci.0),
        Cell::Num(e.net_ci.1),
    ]);
    out
}

/// One group's observations: sums per document, sums per sentence, stance probabilities.
#[derive(Default)]
struct GroupData {
    per_doc: BTreeMap<usize, Sums>,
    per_sentence: Vec<Sums>,
    probs: Vec<[f64; 4]>,
}

/// Groups observations and builds one table.
struct Grouper {
    groups: BTreeMap<Vec<String>, GroupData>,
}

impl Grouper {
    fn new() -> Self {
        Grouper {
            groups: BTreeMap::new(),
        }
    }
    fn add(&mut self, key: Vec<String>, o: &Obs, w: &Weights) {
        let entry = self.groups.entry(key).or_default();
        entry.per_doc.entry(o.doc).or_default().add(o, w);
        let mut one = Sums::default();
        one.add(o, w);
        entry.per_sentence.push(one);
        if let Some(p) = o.probs {
            entry.probs.push(p);
        }
    }
    fn table(
        self,
        name: &str,
        key_columns: &[&str],
        by_sentence: bool,
        opts: &AggregateOptions,
    ) -> Table {
        let mut columns: Vec<String> = key_columns.iter().map(|s| s.to_string()).collect();
        columns.extend(stat_columns());
        let mut rows = Vec::new();
        for (
            key,
            GroupData {
                per_doc,
                per_sentence,
                probs,
            },
        ) in self.groups
        {
            let clusters: Vec<Sums> = if by_sentence {
                per_sentence
            } else {
                per_doc.values().cloned().collect()
            };
            let e = estimate(
                &clusters,
                &probs,
                opts,
                &format!("{name}\u{1f}{}", key.join("\u{1f}")),
            );
            let mut row: Vec<Cell> = key.into_iter().map(Cell::Str).collect();
            row.extend(stat_cells(&e, per_doc.len()));
            rows.push(row);
        }
        Table {
            name: name.into(),
            columns,
            rows,
        }
    }
}

/// The four aggregate tables and a summary of what went in.
pub struct Aggregates {
    pub parties: Table,
    pub dyads: Table,
    pub documents: Table,
    pub dates: Table,
    pub summary: Summary,
}

/// Counts for the run summary and the report's method box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sentences: usize,
    pub documents: usize,
    pub attributed: usize,
    pub unattributed: usize,
    pub undated: usize,
}

/// Aggregates scored or hand-coded sentence records. Every record must carry a valid
/// stance (checked when records are read); sentiment is optional.
pub fn aggregate(records: &[SentenceRecord], opts: &AggregateOptions) -> Aggregates {
    let mut doc_index: HashMap<&str, usize> = HashMap::new();
    let mut parties = Grouper::new();
    let mut dyads = Grouper::new();
    let mut documents = Grouper::new();
    let mut dates = Grouper::new();
    let mut summary = Summary::default();
    let mut doc_meta: HashMap<usize, &Meta> = HashMap::new();
    for r in records {
        let Some(stance) = r
            .stance
            .as_deref()
            .and_then(|s| STANCES.iter().position(|x| *x == s))
        else {
            continue;
        };
        let next = doc_index.len();
        let doc = *doc_index.entry(r.doc.as_str()).or_insert(next);
        doc_meta.entry(doc).or_insert(&r.meta);
        let o = Obs {
            doc,
            stance,
            sentiment: r
                .sentiment
                .as_deref()
                .and_then(|s| SENTIMENTS.iter().position(|x| *x == s)),
            probs: r.stance_probs(),
        };
        summary.sentences += 1;
        if r.speakers.is_empty() {
            summary.unattributed += 1;
            continue;
        }
        summary.attributed += 1;
        let period = r.meta.date.as_deref().and_then(|d| opts.period.label(d));
        if period.is_none() {
            summary.undated += 1;
        }
        let speakers: BTreeSet<&String> = r.speakers.iter().collect();
        let targets: BTreeSet<&String> = r.targets.iter().collect();
        for sp in &speakers {
            parties.add(vec![sp.to_string()], &o, &opts.weights);
            documents.add(vec![r.doc.clone(), sp.to_string()], &o, &opts.weights);
            if let Some(p) = &period {
                dates.add(vec![p.clone(), sp.to_string()], &o, &opts.weights);
            }
            for tg in &targets {
                if tg != sp {
                    dyads.add(vec![sp.to_string(), tg.to_string()], &o, &opts.weights);
                }
            }
        }
    }
    summary.documents = doc_index.len();
    let mut documents = documents.table("documents", &["doc", "party"], true, opts);
    // Documents carry their date and title so the table reads on its own.
    let by_id: HashMap<usize, &str> = doc_index.iter().map(|(k, v)| (*v, *k)).collect();
    let meta_of: HashMap<&str, &Meta> = doc_meta.iter().map(|(d, m)| (by_id[d], *m)).collect();
    documents
        .columns
        .splice(1..1, ["date".to_string(), "title".to_string()]);
    for row in &mut documents.rows {
        let meta = match &row[0] {
            Cell::Str(d) => meta_of.get(d.as_str()).copied(),
            _ => None,
        };
        row.splice(
            1..1,
            [
                Cell::from(meta.and_then(|m| m.date.clone())),
                Cell::from(meta.and_then(|m| m.title.clone())),
            ],
        );
    }
    Aggregates {
        parties: parties.table("parties", &["party"], false, opts),
        dyads: dyads.table("dyads", &["speaker", "target"], false, opts),
        documents,
        dates: dates.table("dates", &["period", "party"], false, opts),
        summary,
    }
}

/// Checks a record's labels; the message names what is wrong.
fn check_labels(r: &SentenceRecord) -> std::result::Result<(), String> {
    match r.stance.as_deref() {
        None => return Err(
            "record has no \"stance\" (aggregate needs records from `score` or hand-coded ones)"
                .into(),
        ),
        Some(s) if !STANCES.contains(&s) => {
            return Err(format!(
                "unknown stance {s:?} (expected one of {})",
                STANCES.join(", ")
            ));
        }
        _ => {}
    }
    if let Some(s) = r.sentiment.as_deref()
        && !SENTIMENTS.contains(&s)
    {
        return Err(format!(
            "unknown sentiment {s:?} (expected one of {})",
            SENTIMENTS.join(", ")
        ));
    }
    Ok(())
}

/// Reads sentence records (JSONL, or CSV as `attribute`/`score` write it) for aggregation.
/// A bad record stops with its file and line, or is skipped and counted with `skip_bad`.
pub fn read_records(
    path: &Path,
    skip_bad: bool,
    skipped: &mut usize,
) -> Result<Vec<SentenceRecord>> {
    let file = std::fs::File::open(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut out = Vec::new();
    let mut handle = |line: u64, r: std::result::Result<SentenceRecord, String>| -> Result<()> {
        match r.and_then(|rec| check_labels(&rec).map(|_| rec)) {
            Ok(rec) => out.push(rec),
            Err(msg) => {
                let err = Error::data(Location::line(path, line), msg);
                if skip_bad {
                    eprintln!("warning: skipped: {err}");
                    *skipped += 1;
                } else {
                    return Err(err);
                }
            }
        }
        Ok(())
    };
    if is_csv {
        let mut rdr = csv::Reader::from_reader(file);
        let headers = rdr
            .headers()
            .map_err(|e| Error::data(Location::line(path, 1), format!("bad CSV header: {e}")))?
            .clone();
        for row in rdr.records() {
            match row {
                Ok(row) => {
                    let line = row.position().map_or(0, |p| p.line());
                    handle(line, record_from_csv(&headers, &row))?;
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    handle(line, Err(format!("malformed CSV row: {e}")))?;
                }
            }
        }
    } else {
        let reader = BufReader::new(file);
        for (i, line) in reader.split(b'\n').enumerate() {
            let line = line.map_err(|e| Error::Io(path.to_path_buf(), e))?;
            let text = match std::str::from_utf8(&line) {
                Ok(t) => t,
                Err(e) => {
                    handle(
                        i as u64 + 1,
                        Err(format!(
                            "invalid UTF-8 at byte {} of the line",
                            e.valid_up_to()
                        )),
                    )?;
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            handle(
                i as u64 + 1,
                serde_json::from_str(text).map_err(|e| format!("malformed record: {e}")),
            )?;
        }
    }
    Ok(out)
}

fn record_from_csv(
    headers: &csv::StringRecord,
    row: &csv::StringRecord,
) -> std::result::Result<SentenceRecord, String> {
    let get = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .filter(|s| !s.is_empty())
    };
    let list = |name: &str| {
        get(name)
            .map(|s| {
                s.split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let num = |name: &str| -> std::result::Result<Option<f64>, String> {
        get(name)
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| format!("column {name} is not a number: {s:?}"))
            })
            .transpose()
    };
    let int = |name: &str| -> std::result::Result<usize, String> {
        get(name).map_or(Ok(0), |s| {
            s.parse::<usize>()
                .map_err(|_| format!("column {name} is not a whole number: {s:?}"))
        })
    };
    let attribution = match get("attribution") {
        Some(a) => serde_json::from_value::<Attribution>(serde_json::Value::String(a.into()))
            .map_err(|_| format!("unknown attribution {a:?}"))?,
        None => Attribution::None,
    };
    Ok(SentenceRecord {
        doc: get("doc").ok_or("missing column \"doc\"")?.to_string(),
        n: int("n")?,
        start: int("start")?,
        end: int("end")?,
        text: get("text").unwrap_or_default().to_string(),
        speakers: list("speakers"),
        targets: list("targets"),
        attribution,
        stance: get("stance").map(str::to_string),
        p_conciliatory: num("p_conciliatory")?,
        p_accusatory: num("p_accusatory")?,
        p_threatening: num("p_threatening")?,
        p_neutral: num("p_neutral")?,
        sentiment: get("sentiment").map(str::to_string),
        p_positive: num("p_positive")?,
        p_negative: num("p_negative")?,
        p_neutral_sentiment: num("p_neutral_sentiment")?,
        meta: Meta {
            title: get("title").map(str::to_string),
            date: get("date").map(str::to_string),
            source: get("source").map(str::to_string),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        doc: &str,
        speakers: &[&str],
        targets: &[&str],
        stance: &str,
        date: Option<&str>,
    ) -> SentenceRecord {
        SentenceRecord {
            doc: doc.into(),
            text: "x".into(),
            speakers: speakers.iter().map(|s| s.to_string()).collect(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            stance: Some(stance.into()),
            sentiment: Some("negative".into()),
            meta: Meta {
                date: date.map(str::to_string),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn col(t: &Table, row: usize, name: &str) -> Cell {
        t.rows[row][t.columns.iter().position(|c| c == name).unwrap()].clone()
    }

    #[test]
    fn shares_net_score_and_two_speakers() {
        let records = vec![
            rec(
                "a",
                &["PAK", "AFG"],
                &["AFG", "PAK"],
                "accusatory",
                Some("2025-10-01"),
            ),
            rec("a", &["AFG"], &["PAK"], "threatening", Some("2025-10-01")),
            rec("b", &["AFG"], &[], "conciliatory", Some("2025-10-09")),
            rec("b", &[], &[], "neutral", None),
        ];
        let a = aggregate(&records, &AggregateOptions::default());
        assert_eq!(
            a.summary,
            Summary {
                sentences: 4,
                documents: 2,
                attributed: 3,
                unattributed: 1,
                undated: 0
            }
        );
        // parties sorted: AFG, PAK
        assert_eq!(col(&a.parties, 0, "party"), Cell::Str("AFG".into()));
        assert_eq!(col(&a.parties, 0, "sentences"), Cell::Int(3));
        assert_eq!(col(&a.parties, 0, "docs"), Cell::Int(2));
        let Cell::Num(net) = col(&a.parties, 0, "net_score") else {
            panic!()
        };
        assert!((net - (-2.0 - 6.0 + 3.5) / 3.0).abs() < 1e-12);
        assert_eq!(col(&a.parties, 1, "sentences"), Cell::Int(1));
        // dyads: AFG->PAK (2), PAK->AFG (1)
        assert_eq!(a.dyads.rows.len(), 2);
        assert_eq!(col(&a.dyads, 0, "sentences"), Cell::Int(2));
        let Cell::Num(lo) = col(&a.parties, 0, "net_score_low") else {
            panic!()
        };
        let Cell::Num(hi) = col(&a.parties, 0, "net_score_high") else {
            panic!()
        };
        assert!(lo <= net && net <= hi && lo < hi);
    }

    #[test]
    fn bootstrap_is_seeded() {
        let records: Vec<_> = (0..200)
            .map(|i| {
                rec(
                    &format!("d{}", (i * i) % 37),
                    &["ETH"],
                    &["ERI"],
                    STANCES[(i * 7 / 3) % 4],
                    None,
                )
            })
            .collect();
        let a = aggregate(&records, &AggregateOptions::default());
        let b = aggregate(&records, &AggregateOptions::default());
        assert_eq!(a.parties, b.parties);
        let c = aggregate(
            &records,
            &AggregateOptions {
                seed: 7,
                ..Default::default()
            },
        );
        assert_ne!(a.parties, c.parties);
    }

    #[test]
    fn periods() {
        assert_eq!(Period::Week.label("2025-10-02").unwrap(), "2025-W40");
        assert_eq!(
            Period::Month.label("2025-10-02T10:00:00Z").unwrap(),
            "2025-10"
        );
        assert_eq!(Period::Day.label("bad"), None);
    }

    #[test]
    fn weights_parse() {
        assert_eq!(
            Weights::parse("threatening=-7").unwrap().0,
            [3.5, -2.0, -7.0, 0.0]
        );
        assert!(Weights::parse("angry=1").is_err());
    }
}
