//! The segmenter on arbitrary text: spans ordered, on char boundaries, tiling the text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use partyline::segment::{NewsSegmenter, Segmenter, split_lines};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for spans in [NewsSegmenter.segment(text), split_lines(text)] {
        let mut last = 0;
        for s in spans {
            assert!(s.start >= last && s.start < s.end && s.end <= text.len());
            assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
            assert!(text[last..s.start].trim().is_empty());
            last = s.end;
        }
        assert!(text[last..].trim().is_empty());
    }
});
