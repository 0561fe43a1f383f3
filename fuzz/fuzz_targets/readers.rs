//! The input readers (text, JSONL, CSV) on arbitrary bytes: errors, never panics.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use partyline::ingest::{IngestOptions, IngestStats, InputFormat, read_one};

fuzz_target!(|data: &[u8]| {
    for fmt in [InputFormat::Text, InputFormat::Jsonl, InputFormat::Csv] {
        for (lossy, skip_bad, sentence_per_line) in [(false, false, false), (true, true, true)] {
            let opts = IngestOptions { lossy, skip_bad, sentence_per_line, max_doc_bytes: 1 << 16, ..Default::default() };
            let mut stats = IngestStats::default();
            let _ = read_one(Path::new("fuzz"), fmt, data, &opts, &mut stats, &mut |d| {
                assert!(d.text.len() <= 1 << 16 || fmt == InputFormat::Csv);
                Ok(())
            });
        }
    }
});
