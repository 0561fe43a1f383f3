//! The seed article must come out right: gold speakers for at least 15 of 16 sentences,
//! gold targets for at least 13 (the foundation issue's figures).

use partyline::attribute::attribute_document;
use partyline::parties::Gazetteer;
use partyline::record::{Document, Meta};
use partyline::segment::{NewsSegmenter, Segmenter};
use serde_json::Value;

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn seed_article_speakers_and_targets() {
    let text = std::fs::read_to_string("../shared/examples/istanbul-talks.txt").unwrap();
    let gold: Vec<Value> = std::fs::read_to_string("../shared/examples/istanbul-talks.gold.jsonl")
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let doc = Document {
        id: "istanbul-talks".into(),
        text: text.clone(),
        meta: Meta::default(),
        presplit: None,
    };
    let spans = NewsSegmenter.segment(&text);
    let gaz = match std::env::var("SEED_PARTIES") {
        Ok(p) => Gazetteer::with_user_file(Some(std::path::Path::new(&p))).unwrap(),
        Err(_) => Gazetteer::builtin().unwrap(),
    };
    let records = attribute_document(&doc, &spans, &gaz);
    assert_eq!(records.len(), gold.len());
    let mut speakers_ok = 0;
    let mut targets_ok = 0;
    let mut report = String::new();
    for (r, g) in records.iter().zip(&gold) {
        let mut sp = r.speakers.clone();
        sp.sort();
        let mut tg = r.targets.clone();
        tg.sort();
        let (gs, gt) = (sorted(&g["speakers"]), sorted(&g["targets"]));
        speakers_ok += usize::from(sp == gs);
        targets_ok += usize::from(tg == gt);
        if sp != gs || tg != gt {
            report += &format!(
                "n={} got {sp:?}->{tg:?} ({:?}) gold {gs:?}->{gt:?}: {}\n",
                r.n, r.attribution, r.text
            );
        }
    }
    eprintln!("speakers {speakers_ok}/16 targets {targets_ok}/16\n{report}");
    assert!(speakers_ok >= 15, "speakers {speakers_ok}/16\n{report}");
    assert!(targets_ok >= 13, "targets {targets_ok}/16\n{report}");
}
