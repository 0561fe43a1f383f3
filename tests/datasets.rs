//! The project's labeled data follows the labeling guide: valid labels, known party ids,
//! sentences numbered in order, no reserved conflicts, and dev kept apart from train by
//! document and by conflict (an honest dev score depends on it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use partyline::parties::{Gazetteer, parse_parties};
use partyline::record::{SENTIMENTS, STANCES};
use serde_json::Value;

/// Words of the conflicts reserved for blind evaluation (DEVELOPERS.md).
const RESERVED: &[&str] = &[
    "Kosovo",
    "Guyana",
    "Houthi",
    "Taiwan",
    "Essequibo",
    "Nagorno",
    "Karabakh",
    "Pyongyang",
    "M23",
    "Rapid Support Forces",
    "Aegean",
    "Cambodia",
    "Philippine",
    "Hamas",
    "Zelensky",
    "Kremlin",
    "Ukraine",
    "Kyiv",
    "Gaza",
    "Seoul",
    "Manila",
    "Taipei",
    "Baku",
    "Yerevan",
];

fn batches(split: &str) -> Vec<PathBuf> {
    let dir = Path::new("datasets").join(split);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn documents(batch: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(batch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && p.file_name().unwrap() != "documents.jsonl"
        })
        .collect();
    out.sort();
    out
}

struct Split {
    docs: BTreeSet<String>,
    conflicts: BTreeSet<String>,
    sentences: usize,
    stance: BTreeMap<String, usize>,
}

fn check_split(split: &str, gaz: &Gazetteer) -> Split {
    let mut out = Split {
        docs: BTreeSet::new(),
        conflicts: BTreeSet::new(),
        sentences: 0,
        stance: BTreeMap::new(),
    };
    let mut problems = Vec::new();
    for batch in batches(split) {
        let mut known: BTreeSet<String> = gaz.parties().iter().map(|p| p.id.clone()).collect();
        let parties = batch.join("parties.toml");
        if parties.exists() {
            let (set, errs) = parse_parties(&std::fs::read_to_string(&parties).unwrap());
            assert!(
                errs.iter().all(|e| !e.is_error),
                "{}: {errs:?}",
                parties.display()
            );
            known.extend(set.parties.into_iter().map(|p| p.id));
        }
        let index = batch.join("documents.jsonl");
        if index.exists() {
            for line in std::fs::read_to_string(&index)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
            {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: {e}", index.display()));
                if let Some(c) = v["conflict"].as_str() {
                    out.conflicts.insert(c.to_lowercase());
                }
            }
        }
        for file in documents(&batch) {
            let text = std::fs::read_to_string(&file).unwrap();
            for word in RESERVED {
                if text.contains(word) {
                    problems.push(format!("{}: mentions reserved {word:?}", file.display()));
                }
            }
            let stem = file.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                out.docs.insert(stem.clone()),
                "document {stem} appears twice"
            );
            for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let at = format!("{}:{}", file.display(), i + 1);
                let v: Value = match serde_json::from_str(line) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{at}: {e}"));
                        continue;
                    }
                };
                if v["doc"] != stem.as_str() || v["n"] != i {
                    problems.push(format!("{at}: doc/n must be {stem}/{i}"));
                }
                let stance = v["stance"].as_str().unwrap_or("");
                if !STANCES.contains(&stance) {
                    problems.push(format!("{at}: stance {stance:?}"));
                }
                if !SENTIMENTS.contains(&v["sentiment"].as_str().unwrap_or("")) {
                    problems.push(format!("{at}: sentiment {:?}", v["sentiment"]));
                }
                for field in ["speakers", "targets"] {
                    for id in v[field].as_array().into_iter().flatten() {
                        let id = id.as_str().unwrap_or("");
                        if !known.contains(id) {
                            problems.push(format!("{at}: unknown party {id:?} in {field} (declare it in the batch's parties.toml)"));
                        }
                    }
                }
                if v["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
                    problems.push(format!("{at}: empty text"));
                }
                *out.stance.entry(stance.to_string()).or_default() += 1;
                out.sentences += 1;
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    out
}

#[test]
fn train_and_dev_follow_the_guide_and_stay_apart() {
    let gaz = Gazetteer::builtin().unwrap();
    let train = check_split("train", &gaz);
    let dev = check_split("dev", &gaz);
    eprintln!(
        "train: {} sentences in {} documents {:?}",
        train.sentences,
        train.docs.len(),
        train.stance
    );
    eprintln!(
        "dev: {} sentences in {} documents {:?}",
        dev.sentences,
        dev.docs.len(),
        dev.stance
    );
    assert!(
        train.docs.is_disjoint(&dev.docs),
        "a document is in both train and dev"
    );
    let shared: Vec<_> = train.conflicts.intersection(&dev.conflicts).collect();
    assert!(
        shared.is_empty(),
        "conflicts in both train and dev: {shared:?}"
    );
    assert!(
        dev.sentences >= 400 && dev.docs.len() >= 25,
        "dev: at least 400 sentences in 25 documents"
    );
    // Each stance is represented in dev, so per-class scores mean something.
    for s in STANCES {
        assert!(
            dev.stance.get(s).copied().unwrap_or(0) >= 20,
            "dev has too few {s} sentences"
        );
    }
}
