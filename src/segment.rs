//! Sentence segmentation for news text.
//!
//! Rule-based rather than learned: news has a small, stable set of traps (titles,
//! abbreviations, initials, decimals, quotes with speech tags, datelines, headlines) and
//! every rule here is visible and testable. Each sentence keeps its byte span into the
//! document so outputs can point back at the source.

use crate::record::Span;

/// A stage that cuts a document into sentence spans.
pub trait Segmenter {
    fn segment(&self, text: &str) -> Vec<Span>;
}

/// The default segmenter, tuned on news conventions.
#[derive(Debug, Default, Clone, Copy)]
pub struct NewsSegmenter;

impl Segmenter for NewsSegmenter {
    fn segment(&self, text: &str) -> Vec<Span> {
        let mut out = Vec::new();
        for block in blocks(text) {
            split_block(text, block, &mut out);
        }
        out
    }
}

/// One sentence per non-empty line (`--sentence-per-line`), trimmed.
pub fn split_lines(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if let Some(span) = trim_span(text, pos, pos + line.len()) {
            out.push(span);
        }
        pos += line.len();
    }
    out
}

/// Shrinks `[start, end)` to exclude surrounding whitespace; `None` if nothing is left.
fn trim_span(text: &str, start: usize, end: usize) -> Option<Span> {
    let slice = &text[start..end];
    let lead = slice.len() - slice.trim_start().len();
    let trimmed = slice.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(Span {
        start: start + lead,
        end: start + lead + trimmed.len(),
    })
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_closing(c: char) -> bool {
    matches!(c, '"' | '”' | '’' | '\'' | ')' | ']' | '»')
}

fn ends_sentence_like(line: &str) -> bool {
    let t = line.trim_end();
    let stripped = t.trim_end_matches(is_closing);
    stripped.ends_with(is_terminal) || t.ends_with(':')
}

/// Cuts the text into blocks that no sentence crosses: paragraphs, headlines, lines.
///
/// Most scraped news keeps one paragraph per line; some text is hard-wrapped at ~70
/// columns. A document counts as wrapped when most lines inside paragraphs end without
/// sentence punctuation; then single newlines are spaces and only blank lines break.
fn blocks(text: &str) -> Vec<(usize, usize)> {
    let mut lines: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        lines.push((pos, pos + content.len()));
        pos += line.len();
    }
    let blank = |&(s, e): &(usize, usize)| text[s..e].trim().is_empty();
    let mut inner = 0usize;
    let mut inner_open = 0usize;
    let mut lower_next = 0usize;
    for w in lines.windows(2) {
        if blank(&w[0]) || blank(&w[1]) {
            continue;
        }
        inner += 1;
        if !ends_sentence_like(&text[w[0].0..w[0].1]) {
            inner_open += 1;
            if text[w[1].0..w[1].1]
                .trim_start()
                .starts_with(|c: char| c.is_lowercase())
            {
                lower_next += 1;
            }
        }
    }
    let wrapped = inner >= 3 && inner_open * 2 >= inner && lower_next >= 1;

    let mut out = Vec::new();
    let mut cur: Option<(usize, usize)> = None;
    for (i, &(s, e)) in lines.iter().enumerate() {
        if blank(&(s, e)) {
            if let Some(b) = cur.take() {
                out.push(b);
            }
            continue;
        }
        match cur {
            None => cur = Some((s, e)),
            Some((bs, be)) => {
                let prev = &text[lines[i - 1].0..lines[i - 1].1];
                let next_lower = text[s..e]
                    .trim_start()
                    .starts_with(|c: char| c.is_lowercase());
                let join = if wrapped {
                    true
                } else {
                    next_lower && !ends_sentence_like(prev)
                };
                if join {
                    cur = Some((bs, e));
                } else {
                    out.push((bs, be));
                    cur = Some((s, e));
                }
            }
        }
    }
    if let Some(b) = cur {
        out.push(b);
    }
    out
}

/// Titles before a name: a period after them never ends a sentence.
const TITLES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "Gen", "Lt", "Col", "Maj", "Capt", "Cpt", "Sgt",
    "Cpl", "Pvt", "Adm", "Cmdr", "Cdr", "Brig", "Gov", "Sen", "Rep", "Rev", "Hon", "Amb", "Pres",
    "Supt", "Insp", "St", "Mt", "Ft", "Sheikh", "Fr", "Msgr", "vs", "v", "cf", "viz",
];
/// Abbreviations that precede a number ("Jan. 5", "No. 3").
const BEFORE_NUMBER: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "No",
    "Nos", "Art", "Fig", "p", "pp", "para", "Vol", "vol", "ch",
];
/// Abbreviations that may end a sentence, but usually do not.
const SOFT_ABBREVIATIONS: &[&str] = &[
    "Inc", "Ltd", "Co", "Corp", "Bros", "Jr", "Sr", "etc", "approx", "est", "Jan", "Feb", "Mar",
    "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Ave", "Dept", "Univ", "Gov",
];
/// Abbreviations that never end a sentence.
const NEVER_FINAL: &[&str] = &["e.g", "i.e", "eg", "ie", "a.k.a", "aka"];

/// Words that begin a new sentence after an ambiguous abbreviation ("... the U.S. The ...").
const SENTENCE_STARTERS: &[&str] = &[
    "The",
    "A",
    "An",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "You",
    "This",
    "That",
    "These",
    "Those",
    "But",
    "And",
    "Or",
    "So",
    "Yet",
    "In",
    "On",
    "At",
    "However",
    "Meanwhile",
    "Its",
    "Their",
    "His",
    "Her",
    "Our",
    "There",
    "After",
    "Before",
    "When",
    "While",
    "As",
    "If",
    "Officials",
    "According",
    "Earlier",
    "Later",
    "Last",
    "On",
    "Both",
    "No",
    "Some",
    "Many",
];

/// Verbs that close a speech tag after a quote (`"...!" Khan warned.`).
const TAG_VERBS: &[&str] = &[
    "said",
    "says",
    "warned",
    "warns",
    "told",
    "tells",
    "added",
    "adds",
    "asked",
    "asks",
    "insisted",
    "declared",
    "stated",
    "wrote",
    "writes",
    "tweeted",
    "posted",
    "shouted",
    "replied",
    "countered",
    "continued",
    "noted",
    "stressed",
    "vowed",
    "urged",
    "claimed",
    "alleged",
    "charged",
    "argued",
    "cried",
    "chanted",
    "reiterated",
    "announced",
];

fn word_before(block: &str, dot: usize) -> &str {
    let before = &block[..dot];
    let start = before
        .rfind(|c: char| c.is_whitespace() || matches!(c, '(' | '"' | '“' | '‘' | '[' | '—' | '–'))
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    &before[start..]
}

fn first_word(s: &str) -> &str {
    let s = s
        .trim_start()
        .trim_start_matches(['"', '“', '‘', '\'', '(', '[']);
    let end = s
        .find(|c: char| !c.is_alphanumeric() && c != '-')
        .unwrap_or(s.len());
    &s[..end]
}

/// Decides whether a period after `word` may end a sentence, given the following text.
fn period_may_end(word: &str, rest: &str) -> bool {
    let next = first_word(rest);
    let next_is_number = rest.trim_start().starts_with(|c: char| c.is_ascii_digit());
    let starter = SENTENCE_STARTERS.contains(&next);
    if NEVER_FINAL.iter().any(|a| a.eq_ignore_ascii_case(word)) {
        return false;
    }
    if BEFORE_NUMBER.contains(&word) && next_is_number {
        return false;
    }
    if TITLES.contains(&word) {
        return false;
    }
    if SOFT_ABBREVIATIONS.contains(&word) {
        return starter;
    }
    // Initials ("John F. Kennedy") and dotted abbreviations ("U.S.", "a.m.").
    let single_upper = word.chars().count() == 1 && word.chars().all(|c| c.is_uppercase());
    if single_upper {
        return false;
    }
    if word.contains('.') && word.chars().filter(|c| c.is_alphabetic()).count() <= 4 {
        return starter;
    }
    true
}

/// Whether the text after a closing quote is a speech tag that belongs to the quote.
fn speech_tag_follows(rest: &str) -> bool {
    for (i, w) in rest.split_whitespace().take(5).enumerate() {
        let clean = w.trim_matches(|c: char| !c.is_alphanumeric());
        if TAG_VERBS.contains(&clean) {
            return true;
        }
        if i > 0 && w.ends_with(['.', '!', '?']) {
            return false;
        }
    }
    false
}

/// Byte offset of the next closing double quote in `s`, if any.
fn closes_quote_later(s: &str) -> bool {
    s.contains(['"', '”'])
}

fn split_block(text: &str, (bs, be): (usize, usize), out: &mut Vec<Span>) {
    let block = &text[bs..be];
    let mut start = 0usize;
    let mut in_quote = false;
    let chars: Vec<(usize, char)> = block.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            '“' => in_quote = true,
            '”' => in_quote = false,
            '"' => in_quote = !in_quote,
            _ => {}
        }
        if !is_terminal(c) {
            i += 1;
            continue;
        }
        // Consume the run of terminal marks, then closing quotes and brackets.
        let first_mark = c;
        let mut j = i;
        while j < chars.len() && is_terminal(chars[j].1) {
            j += 1;
        }
        let marks = j - i;
        let mut closed_quote = false;
        while j < chars.len() && is_closing(chars[j].1) {
            match chars[j].1 {
                '"' if in_quote => {
                    in_quote = false;
                    closed_quote = true;
                }
                '"' => {
                    in_quote = true;
                }
                '”' => {
                    in_quote = false;
                    closed_quote = true;
                }
                '’' | '\'' => closed_quote = true,
                _ => {}
            }
            j += 1;
        }
        let end = chars.get(j).map_or(block.len(), |&(p, _)| p);
        i = j;
        // A boundary needs whitespace after it ("U.S.-led", "3.5" and "e.g.," do not end).
        let Some(&(_, after)) = chars.get(j) else {
            break;
        };
        if !after.is_whitespace() {
            continue;
        }
        let rest = &block[end..];
        let next = rest.trim_start();
        let Some(nc) = next.chars().next() else {
            break;
        };
        if nc.is_lowercase() || matches!(nc, ',' | ';' | ':' | '—' | '–' | ')') {
            continue;
        }
        if first_mark == '.' && marks == 1 && !period_may_end(word_before(block, pos), rest) {
            continue;
        }
        if in_quote && closes_quote_later(rest) {
            continue;
        }
        if closed_quote && matches!(first_mark, '!' | '?') && speech_tag_follows(rest) {
            continue;
        }
        if let Some(span) = trim_span(text, bs + start, bs + end) {
            out.push(span);
        }
        start = end;
    }
    if let Some(span) = trim_span(text, bs + start, be) {
        out.push(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        NewsSegmenter
            .segment(text)
            .iter()
            .map(|s| &text[s.start..s.end])
            .collect()
    }

    #[test]
    fn lines_are_trimmed_and_blank_lines_dropped() {
        let t = "  one  \n\n two\r\nthree";
        let spans = split_lines(t);
        let got: Vec<&str> = spans.iter().map(|s| &t[s.start..s.end]).collect();
        assert_eq!(got, ["one", "two", "three"]);
    }

    #[test]
    fn simple_sentences() {
        assert_eq!(
            split("Talks failed. Both sides left."),
            ["Talks failed.", "Both sides left."]
        );
    }
}
