//! Evaluation against gold records in the labeling guide's format: stance macro-F1 with
//! per-class precision/recall/F1 and the confusion matrix, sentiment macro-F1, speaker
//! exact-set accuracy and target accuracy.
//!
//! Gold documents are run through the same pipeline as real input (their sentences as
//! given, one per line, then attribution and the model), so the figures describe what a
//! user gets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::attribute::{Lexicon, attribute_document};
use crate::error::{Error, Location, Result};
use crate::parties::Gazetteer;
use crate::record::{Document, Meta, SENTIMENTS, STANCES, SentenceRecord, Span};

/// One gold sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldSentence {
    pub text: String,
    pub speakers: Vec<String>,
    pub targets: Vec<String>,
    pub stance: usize,
    pub sentiment: usize,
}

/// One gold document, with the parties file found beside it (if any).
#[derive(Debug, Clone)]
pub struct GoldDoc {
    pub doc: String,
    pub sentences: Vec<GoldSentence>,
    pub parties: Option<PathBuf>,
}

fn list(v: &Value, field: &str) -> std::result::Result<Vec<String>, String> {
    match &v[field] {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or(format!("\"{field}\" must list strings"))
            })
            .collect(),
        _ => Err(format!("\"{field}\" must be a list")),
    }
}

fn label(v: &Value, field: &str, allowed: &[&str]) -> std::result::Result<usize, String> {
    let s = v[field].as_str().ok_or(format!("missing \"{field}\""))?;
    allowed.iter().position(|a| *a == s).ok_or(format!(
        "unknown {field} {s:?} (expected one of {})",
        allowed.join(", ")
    ))
}

/// Reads gold records from a JSONL file or a directory of them (recursively; each
/// directory's `documents.jsonl` index is skipped). Records are grouped by `doc` and
/// ordered by `n`. An unknown label names its file and line.
pub fn load_gold(path: &Path) -> Result<Vec<GoldDoc>> {
    let mut files = Vec::new();
    if path.is_dir() {
        for s in crate::ingest::expand_inputs(&[path.to_path_buf()], None)? {
            if let crate::ingest::Source::File(p, crate::ingest::InputFormat::Jsonl) = s
                && p.file_name().is_some_and(|n| n != "documents.jsonl")
            {
                files.push(p);
            }
        }
    } else {
        files.push(path.to_path_buf());
    }
    let mut docs: Vec<GoldDoc> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::Io(file.clone(), e))?;
        let parties = file
            .parent()
            .map(|d| d.join("parties.toml"))
            .filter(|p| p.exists());
        let mut rows: Vec<(String, u64, GoldSentence)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let loc = || Location::line(&file, i as u64 + 1);
            let v: Value = serde_json::from_str(line)
                .map_err(|e| Error::data(loc(), format!("malformed JSON: {e}")))?;
            let parse = || -> std::result::Result<(String, u64, GoldSentence), String> {
                let doc = v["doc"].as_str().ok_or("missing \"doc\"")?.to_string();
                let n = v["n"].as_u64().ok_or("missing \"n\"")?;
                let text = v["text"].as_str().ok_or("missing \"text\"")?.to_string();
                Ok((
                    doc,
                    n,
                    GoldSentence {
                        text,
                        speakers: list(&v, "speakers")?,
                        targets: list(&v, "targets")?,
                        stance: label(&v, "stance", &STANCES)?,
                        sentiment: label(&v, "sentiment", &SENTIMENTS)?,
                    },
                ))
            };
            rows.push(parse().map_err(|m| Error::data(loc(), m))?);
        }
        rows.sort_by_key(|r| (r.0.clone(), r.1));
        for (doc, _, s) in rows {
            let i = *index.entry(doc.clone()).or_insert_with(|| {
                docs.push(GoldDoc {
                    doc: doc.clone(),
                    sentences: Vec::new(),
                    parties: parties.clone(),
                });
                docs.len() - 1
            });
            docs[i].sentences.push(s);
        }
    }
    Ok(docs)
}

/// Runs attribution over gold documents exactly as `attribute --sentence-per-line` would.
pub fn attribute_gold(
    docs: &[GoldDoc],
    user_parties: Option<&Path>,
) -> Result<Vec<SentenceRecord>> {
    let mut gazetteers: HashMap<Option<PathBuf>, Gazetteer> = HashMap::new();
    let mut out = Vec::new();
    for d in docs {
        let parties = user_parties
            .map(Path::to_path_buf)
            .or_else(|| d.parties.clone());
        if !gazetteers.contains_key(&parties) {
            gazetteers.insert(
                parties.clone(),
                Gazetteer::with_user_file(parties.as_deref())?,
            );
        }
        let gaz = &gazetteers[&parties];
        let mut text = String::new();
        let mut spans = Vec::new();
        for s in &d.sentences {
            let start = text.len();
            text.push_str(&s.text.replace('\n', " "));
            spans.push(Span {
                start,
                end: text.len(),
            });
            text.push('\n');
        }
        let doc = Document {
            id: d.doc.clone(),
            text,
            meta: Meta::default(),
            presplit: Some(spans.clone()),
        };
        out.extend(attribute_document(&doc, &spans, gaz));
    }
    Ok(out)
}

/// The keyword baseline: the stance cue of the first speech verb or noun in the sentence
/// (from the maintained lists), neutral when there is none or no speaker.
pub fn keyword_stance(record: &SentenceRecord) -> usize {
    let lex = Lexicon::get();
    if record.speakers.is_empty() {
        return 3;
    }
    for word in record
        .text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = word.to_lowercase();
        let cue = lex
            .verbs
            .get(&w)
            .map(|v| v.cue.as_str())
            .or_else(|| lex.nouns.get(&w).map(String::as_str));
        if let Some(cue) = cue.filter(|c| *c != "neutral") {
            return STANCES.iter().position(|s| *s == cue).unwrap_or(3);
        }
    }
    3
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ClassScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Scores of one labeling task.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskScores {
    pub macro_f1: f64,
    pub accuracy: f64,
    pub classes: Vec<(String, ClassScore)>,
    /// rows: gold, columns: predicted, in label order.
    pub confusion: Vec<Vec<usize>>,
}

pub fn task_scores(gold: &[usize], pred: &[usize], labels: &[&str]) -> TaskScores {
    let k = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&g, &p) in gold.iter().zip(pred) {
        confusion[g][p] += 1;
    }
    let mut classes = Vec::new();
    let mut f1_sum = 0.0;
    for (c, name) in labels.iter().enumerate() {
        let tp = confusion[c][c] as f64;
        let predicted: usize = (0..k).map(|g| confusion[g][c]).sum();
        let support: usize = confusion[c].iter().sum();
        let precision = if predicted > 0 {
            tp / predicted as f64
        } else {
            0.0
        };
        let recall = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        f1_sum += f1;
        classes.push((
            name.to_string(),
            ClassScore {
                precision,
                recall,
                f1,
                support,
            },
        ));
    }
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    TaskScores {
        macro_f1: f1_sum / k as f64,
        accuracy: if gold.is_empty() {
            0.0
        } else {
            correct as f64 / gold.len() as f64
        },
        classes,
        confusion,
    }
}

/// Everything `partyline eval` reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub documents: usize,
    pub sentences: usize,
    pub stance: TaskScores,
    pub sentiment: Option<TaskScores>,
    pub speaker_exact: f64,
    pub target_exact: f64,
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

/// Scores attributed gold sentences with a model and compares with gold.
pub fn model_report(
    model: &mut crate::model::Model,
    docs: &[GoldDoc],
    mut records: Vec<SentenceRecord>,
    batch_size: usize,
) -> Result<Report> {
    model.score(&mut records, batch_size)?;
    let idx = |v: &Option<String>, labels: &[&str]| {
        v.as_deref()
            .and_then(|s| labels.iter().position(|l| *l == s))
            .unwrap_or(0)
    };
    let ps: Vec<usize> = records.iter().map(|r| idx(&r.stance, &STANCES)).collect();
    let pt: Vec<usize> = records
        .iter()
        .map(|r| idx(&r.sentiment, &SENTIMENTS))
        .collect();
    Ok(report(docs, &records, &ps, Some(&pt)))
}

/// Compares predictions with gold; `records` are in gold order.
pub fn report(
    docs: &[GoldDoc],
    records: &[SentenceRecord],
    stance_pred: &[usize],
    sentiment_pred: Option<&[usize]>,
) -> Report {
    let gold: Vec<&GoldSentence> = docs.iter().flat_map(|d| &d.sentences).collect();
    let n = gold.len().max(1) as f64;
    let speaker_ok = gold
        .iter()
        .zip(records)
        .filter(|(g, r)| same_set(&g.speakers, &r.speakers))
        .count();
    let target_ok = gold
        .iter()
        .zip(records)
        .filter(|(g, r)| same_set(&g.targets, &r.targets))
        .count();
    let gs: Vec<usize> = gold.iter().map(|g| g.stance).collect();
    let gt: Vec<usize> = gold.iter().map(|g| g.sentiment).collect();
    Report {
        documents: docs.len(),
        sentences: gold.len(),
        stance: task_scores(&gs, stance_pred, &STANCES),
        sentiment: sentiment_pred.map(|p| task_scores(&gt, p, &SENTIMENTS)),
        speaker_exact: speaker_ok as f64 / n,
        target_exact: target_ok as f64 / n,
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} documents, {} sentences",
            self.documents, self.sentences
        )?;
        writeln!(
            f,
            "stance macro-F1     {:.3}  (accuracy {:.3})",
            self.stance.macro_f1, self.stance.accuracy
        )?;
        if let Some(s) = &self.sentiment {
            writeln!(
                f,
                "sentiment macro-F1  {:.3}  (accuracy {:.3})",
                s.macro_f1, s.accuracy
            )?;
        }
        writeln!(f, "speakers exact-set  {:.3}", self.speaker_exact)?;
        writeln!(f, "targets exact-set   {:.3}", self.target_exact)?;
        writeln!(f, "\nstance          precision  recall     f1  support")?;
        for (name, c) in &self.stance.classes {
            writeln!(
                f,
                "{name:<15} {:>9.3} {:>7.3} {:>6.3} {:>8}",
                c.precision, c.recall, c.f1, c.support
            )?;
        }
        writeln!(
            f,
            "\nconfusion (rows gold, columns predicted: {})",
            STANCES.map(|s| &s[..4]).join(" ")
        )?;
        for (name, row) in STANCES.iter().zip(&self.stance.confusion) {
            writeln!(
                f,
                "{name:<15} {}",
                row.iter().map(|v| format!("{v:>5}")).collect::<String>()
            )?;
        }
        if let Some(s) = &self.sentiment {
            writeln!(f, "\nsentiment       precision  recall     f1  support")?;
            for (name, c) in &s.classes {
                writeln!(
                    f,
                    "{name:<15} {:>9.3} {:>7.3} {:>6.3} {:>8}",
                    c.precision, c.recall, c.f1, c.support
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_and_confusion() {
        let gold = [0, 0, 1, 1, 2, 3];
        let pred = [0, 1, 1, 1, 3, 3];
        let s = task_scores(&gold, &pred, &STANCES);
        assert_eq!(s.confusion[0], vec![1, 1, 0, 0]);
        // class f1: c=2/3, a=0.8, t=0, n=2/3
        assert!((s.macro_f1 - (2.0 / 3.0 + 0.8 + 0.0 + 2.0 / 3.0) / 4.0).abs() < 1e-12);
        assert!((s.accuracy - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn unknown_labels_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.jsonl");
        std::fs::write(&p, "{\"doc\":\"a\",\"n\":0,\"text\":\"x\",\"stance\":\"neutral\",\"sentiment\":\"neutral\"}\n{\"doc\":\"a\",\"n\":1,\"text\":\"y\",\"stance\":\"hostile\",\"sentiment\":\"neutral\"}\n").unwrap();
        let e = load_gold(&p).unwrap_err().to_string();
        assert!(e.contains("g.jsonl:2: unknown stance \"hostile\""), "{e}");
    }
}
