//! The parties file parser and checker on arbitrary text: problems, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use partyline::parties::parse_parties;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let (set, problems) = parse_parties(src);
    for p in &problems {
        if let Some(line) = p.line {
            assert!(line >= 1 && line as usize <= src.lines().count() + 1);
        }
    }
    if problems.iter().all(|p| !p.is_error) {
        let _ = set.parties.len();
    }
});
