//! Properties over generated inputs (proptest): offsets tile the text, segmentation is
//! stable under re-joining, attribution returns only dictionary parties, and aggregation
//! counts match the attributed sentences. Also a stable-toolchain fuzz of every reader
//! (the libFuzzer campaign is in fuzz/, see TESTING.md).

use std::path::Path;
use std::sync::OnceLock;

use partyline::aggregate::{AggregateOptions, aggregate};
use partyline::attribute::attribute_document;
use partyline::export::Cell;
use partyline::ingest::{IngestOptions, IngestStats, InputFormat, read_one};
use partyline::parties::{Gazetteer, parse_parties};
use partyline::record::{Document, Meta, STANCES, SentenceRecord};
use partyline::segment::{NewsSegmenter, Segmenter};
use proptest::prelude::*;

fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| Gazetteer::builtin().unwrap())
}

/// News-like words, with the traps: abbreviations, initials, decimals, quotes, parties.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Kenya".to_string()),
        Just("Somalia's".to_string()),
        Just("Mr.".to_string()),
        Just("U.S.".to_string()),
        Just("Gen.".to_string()),
        Just("Jan.".to_string()),
        Just("3.5".to_string()),
        Just("said".to_string()),
        Just("warned".to_string()),
        Just("\"We".to_string()),
        Just("force!\"".to_string()),
        Just("officials".to_string()),
        Just("the".to_string()),
        Just("A.".to_string()),
        "[a-z]{1,8}",
        "[A-Z][a-z]{1,8}",
    ]
}

fn sentence() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(word(), 1..12),
        prop_oneof![Just("."), Just("!"), Just("?"), Just("...")],
    )
        .prop_map(|(words, end)| format!("{}{end}", words.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn offsets_tile_any_text(text in "\\PC{0,400}") {
        let spans = NewsSegmenter.segment(&text);
        let mut last = 0;
        for s in &spans {
            prop_assert!(s.start >= last && s.start < s.end && s.end <= text.len());
            prop_assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
            prop_assert!(text[last..s.start].trim().is_empty(), "non-space text lost");
            last = s.end;
        }
        prop_assert!(text[last..].trim().is_empty());
    }

    #[test]
    fn segmentation_is_stable_when_rejoined(sentences in prop::collection::vec(sentence(), 1..8)) {
        let text = sentences.join(" ");
        let first: Vec<&str> = NewsSegmenter.segment(&text).iter().map(|s| &text[s.start..s.end]).collect();
        let rejoined = first.join(" ");
        let second: Vec<&str> = NewsSegmenter.segment(&rejoined).iter().map(|s| &rejoined[s.start..s.end]).collect();
        prop_assert_eq!(first, second);
    }

    #[test]
    fn attribution_only_returns_dictionary_parties(sentences in prop::collection::vec(sentence(), 1..6), noise in "\\PC{0,80}") {
        let text = format!("{} {noise}", sentences.join(" "));
        let doc = Document { id: "p".into(), text: text.clone(), meta: Meta::default(), presplit: None };
        let spans = NewsSegmenter.segment(&text);
        let gaz = gazetteer();
        for r in attribute_document(&doc, &spans, gaz) {
            for id in r.speakers.iter().chain(&r.targets) {
                prop_assert!(gaz.index_of(id).is_some(), "{} is not a party", id);
            }
        }
    }

    #[test]
    fn aggregation_counts_equal_attributed_sentences(
        rows in prop::collection::vec((0usize..5, prop::collection::vec(0usize..4, 0..3), 0usize..4), 1..60)
    ) {
        let ids = ["ETH", "ERI", "KEN", "SOM"];
        let records: Vec<SentenceRecord> = rows
            .iter()
            .enumerate()
            .map(|(i, (doc, speakers, stance))| SentenceRecord {
                doc: format!("d{doc}"),
                n: i,
                text: "x".into(),
                speakers: speakers.iter().map(|&s| ids[s].to_string()).collect(),
                stance: Some(STANCES[*stance].to_string()),
                ..Default::default()
            })
            .collect();
        let a = aggregate(&records, &AggregateOptions { bootstrap: 20, ..Default::default() });
        let attributed = records.iter().filter(|r| !r.speakers.is_empty()).count();
        prop_assert_eq!(a.summary.attributed, attributed);
        prop_assert_eq!(a.summary.sentences, records.len());
        let col = a.parties.columns.iter().position(|c| c == "sentences").unwrap();
        let total: i64 = a.parties.rows.iter().map(|r| match r[col] { Cell::Int(n) => n, _ => 0 }).sum();
        let expected: usize = records
            .iter()
            .map(|r| r.speakers.iter().collect::<std::collections::BTreeSet<_>>().len())
            .sum();
        prop_assert_eq!(total as usize, expected, "a sentence with two speakers counts for each");
    }

    #[test]
    fn readers_never_panic_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        for fmt in [InputFormat::Text, InputFormat::Jsonl, InputFormat::Csv] {
            for skip_bad in [false, true] {
                let opts = IngestOptions { skip_bad, lossy: skip_bad, max_doc_bytes: 256, ..Default::default() };
                let mut stats = IngestStats::default();
                let _ = read_one(Path::new("p"), fmt, &data[..], &opts, &mut stats, &mut |_| Ok(()));
            }
        }
    }

    #[test]
    fn parties_parser_never_panics(src in "\\PC{0,300}", id in "[A-Z]{1,4}", alias in "[A-Za-z ]{1,10}") {
        let _ = parse_parties(&src);
        let file = format!("[[party]]\nid = \"{id}\"\naliases = [\"{alias}\"]\n{src}");
        let (_, problems) = parse_parties(&file);
        for p in problems {
            prop_assert!(p.line.is_none_or(|l| l >= 1));
        }
    }
}
