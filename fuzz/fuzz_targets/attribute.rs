//! Party matching and attribution on arbitrary text: no panic, only dictionary parties.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use partyline::attribute::attribute_document;
use partyline::parties::Gazetteer;
use partyline::record::{Document, Meta};
use partyline::segment::{NewsSegmenter, Segmenter};

static GAZ: OnceLock<Gazetteer> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let gaz = GAZ.get_or_init(|| Gazetteer::builtin().unwrap());
    for m in gaz.find(text) {
        assert!(m.start < m.end && m.end <= text.len());
    }
    let doc = Document { id: "f".into(), text: text.to_string(), meta: Meta::default(), presplit: None };
    let spans = NewsSegmenter.segment(text);
    for r in attribute_document(&doc, &spans, gaz) {
        for id in r.speakers.iter().chain(&r.targets) {
            assert!(gaz.index_of(id).is_some(), "{id} is not in the dictionary");
        }
    }
});
