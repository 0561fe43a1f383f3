//! A deterministic news-like corpus for benchmarks: article-like JSONL documents with
//! dates, 20-30 word sentences, reporting verbs, quotes and party names from the built-in
//! gazetteer.
//!
//! Generated rather than shipped so any size (10 thousand to millions of sentences) can
//! be made on the spot from one seed, and nothing large is committed. The party pairs are
//! a fixed list of bilateral disputes chosen to stay clear of the conflicts reserved for
//! evaluation.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::error::{Error, Result};

/// The seed of every published figure.
pub const DEFAULT_SEED: u64 = 20_251_126;

/// SplitMix64: tiny, fast, and the same on every platform, so a seed names one corpus.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A state as the templates name it.
struct State {
    name: &'static str,
    capital: &'static str,
    demonym: &'static str,
}

const fn st(name: &'static str, capital: &'static str, demonym: &'static str) -> State {
    State {
        name,
        capital,
        demonym,
    }
}

/// Bilateral pairs with a plausible mediator; all names are gazetteer aliases.
const PAIRS: &[(State, State, &str)] = &[
    (
        st("Kenya", "Nairobi", "Kenyan"),
        st("Somalia", "Mogadishu", "Somali"),
        "the African Union",
    ),
    (
        st("Colombia", "Bogota", "Colombian"),
        st("Ecuador", "Quito", "Ecuadorian"),
        "the Organization of American States",
    ),
    (
        st("Morocco", "Rabat", "Moroccan"),
        st("Algeria", "Algiers", "Algerian"),
        "the United Nations",
    ),
    (
        st("Chile", "La Moneda", "Chilean"),
        st("Bolivia", "La Paz", "Bolivian"),
        "the Organization of American States",
    ),
    (
        st("Guatemala", "Guatemala City", "Guatemalan"),
        st("Belize", "Belmopan", "Belizean"),
        "the Organization of American States",
    ),
    (
        st("Tajikistan", "Dushanbe", "Tajik"),
        st("Kyrgyzstan", "Bishkek", "Kyrgyz"),
        "the United Nations",
    ),
    (
        st("Nigeria", "Abuja", "Nigerian"),
        st("Cameroon", "Yaounde", "Cameroonian"),
        "ECOWAS",
    ),
    (
        st("Qatar", "Doha", "Qatari"),
        st("Bahrain", "Manama", "Bahraini"),
        "the European Union",
    ),
];

const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const OFFICES: &[&str] = &[
    "foreign ministry",
    "defence ministry",
    "government",
    "interior minister",
    "foreign minister",
    "army chief",
    "presidential spokesperson",
];
const TOPICS: &[&str] = &[
    "the demarcation of their shared border",
    "fishing rights in the disputed waters",
    "the return of displaced families",
    "access to the river for farmers on both sides",
    "the reopening of the main border crossing",
    "a prisoner exchange agreed last year",
    "grazing rights in the highland pastures",
    "customs duties on cross-border trade",
];
const PLACES: &[&str] = &[
    "border crossing",
    "river delta",
    "highland pastures",
    "coastal islands",
    "mining concession",
    "frontier villages",
];
const ACCUSATIONS: &[&str] = &[
    "moving troops and armoured vehicles into the buffer zone",
    "detaining fishermen who had strayed into its waters",
    "arming militia groups operating along the frontier",
    "blocking food convoys bound for the border towns",
    "violating the ceasefire signed in the capital last spring",
    "spreading false reports about attacks on its border posts",
];
const CONSEQUENCES: &[&str] = &[
    "undermined months of patient diplomacy between the two neighbours",
    "put the lives of thousands of civilians at risk",
    "breached commitments made in front of regional leaders",
    "threatened the fragile peace along the frontier",
];
const THREATS: &[&str] = &[
    "take all necessary measures to defend its territory",
    "close the border to all trade and traffic",
    "recall its ambassador and suspend the joint commission",
    "respond with force to any further incursion",
];
const ACTIVITIES: &[&str] = &[
    "building roads and outposts",
    "sending patrols across the line",
    "holding military exercises",
    "expelling traders and seasonal workers",
];
const DEMANDS: &[&str] = &[
    "withdraw its forces from the disputed area",
    "release the detained citizens without delay",
    "respect the agreements signed by both governments",
    "allow independent observers into the border region",
];
const UNACCEPTABLE: &[&str] = &[
    "any violation of our sovereignty",
    "threats against our citizens living near the border",
    "a single new outpost on our land",
    "lectures from a government that breaks its own promises",
];
const VENUES: &[&str] = &[
    "Addis Ababa",
    "Nairobi",
    "Panama City",
    "Doha",
    "Brussels",
    "Lisbon",
];

/// Writes a corpus of at least `sentences` sentences to `path` as JSONL documents, and
/// returns (documents, sentences written).
pub fn write_corpus(path: &Path, sentences: usize, seed: u64) -> Result<(usize, usize)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write(dir.to_path_buf(), e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::Write(path.to_path_buf(), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let (docs, written) = generate(sentences, seed, &mut |line| {
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| Error::Write(path.to_path_buf(), e))
    })?;
    out.flush()
        .map_err(|e| Error::Write(path.to_path_buf(), e))?;
    Ok((docs, written))
}

/// Generates documents (JSONL lines) until `sentences` sentences are written.
pub fn generate(
    sentences: usize,
    seed: u64,
    emit: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<(usize, usize)> {
    let mut rng = Rng::new(seed);
    let (mut docs, mut written) = (0usize, 0usize);
    while written < sentences {
        let n = (8 + rng.below(7)).min(sentences - written);
        let (a, b, mediator) = rng.pick(PAIRS);
        let (a, b) = if rng.below(2) == 0 { (a, b) } else { (b, a) };
        // A date walks forward through 2024-2025, several articles a day.
        let day_index = docs / 6 % 731;
        let date = date_from_index(day_index);
        let mut text = String::new();
        for i in 0..n {
            let (speaker, target) = if rng.below(3) == 0 { (b, a) } else { (a, b) };
            let s = sentence(&mut rng, speaker, target, mediator);
            if i > 0 {
                text.push_str(if rng.below(4) == 0 { "\n\n" } else { " " });
            }
            text.push_str(&s);
        }
        let title = format!(
            "{} and {} at odds over {}",
            a.name,
            b.name,
            rng.pick(TOPICS).trim_start_matches("the ")
        );
        let line = json!({
            "id": format!("bench-{docs:07}"),
            "title": title,
            "date": date,
            "source": "partyline-bench",
            "text": text,
        })
        .to_string();
        emit(&line)?;
        docs += 1;
        written += n;
    }
    Ok((docs, written))
}

/// ISO date `index` days after 2024-01-01 (the corpus never leaves 2024-2025).
fn date_from_index(index: usize) -> String {
    const LENGTHS: [usize; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut year, mut rest) = (2024, index);
    loop {
        let days = if year == 2024 { 366 } else { 365 };
        if rest < days {
            break;
        }
        rest -= days;
        year += 1;
    }
    for (m, &len) in LENGTHS.iter().enumerate() {
        let len = if m == 1 && year == 2024 { 29 } else { len };
        if rest < len {
            return format!("{year}-{:02}-{:02}", m + 1, rest + 1);
        }
        rest -= len;
    }
    format!("{year}-12-31")
}

/// One news-like sentence of roughly 20-30 words.
fn sentence(rng: &mut Rng, a: &State, b: &State, mediator: &str) -> String {
    let day = rng.pick(DAYS);
    let a_subj = match rng.below(4) {
        0 => a.name.to_string(),
        1 => format!("{}'s {}", a.name, rng.pick(OFFICES)),
        2 => a.capital.to_string(),
        _ => format!("{} officials", a.demonym),
    };
    match rng.below(12) {
        0 => format!(
            "{a_subj} accused {} on {day} of {}, saying the move {}.",
            b.name,
            rng.pick(ACCUSATIONS),
            rng.pick(CONSEQUENCES)
        ),
        1 => format!(
            "{a_subj} warned that it would {} if {} continued {} near the {}.",
            rng.pick(THREATS),
            b.name,
            rng.pick(ACTIVITIES),
            rng.pick(PLACES)
        ),
        2 => format!(
            "{a_subj} said on {day} it welcomed the offer by {mediator} to host talks with {} and was ready to discuss {}.",
            b.name,
            rng.pick(TOPICS)
        ),
        3 => format!(
            "\"We will not accept {},\" the {} {} told reporters in {} on {day}, adding that {} bore full responsibility.",
            rng.pick(UNACCEPTABLE),
            a.demonym,
            rng.pick(&["foreign minister", "president", "defence minister"]),
            a.capital,
            b.name
        ),
        4 => format!(
            "According to {}'s foreign ministry, delegations from both sides met in {} for {} hours to discuss {}.",
            a.name,
            rng.pick(VENUES),
            3 + rng.below(9),
            rng.pick(TOPICS)
        ),
        5 => format!(
            "{} urged {} to {} and to return to the negotiating table before the end of {}.",
            a.capital,
            b.name,
            rng.pick(DEMANDS),
            rng.pick(MONTHS)
        ),
        6 => format!(
            "Officials in {} rejected the claims as baseless and said the {} army had only carried out routine exercises inside its own territory.",
            b.capital, b.demonym
        ),
        7 => format!(
            "The talks, brokered by {mediator}, ended on {day} without a joint statement, and diplomats said the two sides remained far apart on {}.",
            rng.pick(TOPICS)
        ),
        8 => format!(
            "{}'s president held a phone call with his {} counterpart on {day}, the first direct contact between the two leaders since the crisis began in {}.",
            a.name,
            b.demonym,
            rng.pick(MONTHS)
        ),
        9 => format!(
            "Trade across the main crossing has fallen by {} percent since {}, according to figures published by the {} statistics office on {day}.",
            10 + rng.below(60),
            rng.pick(MONTHS),
            a.demonym
        ),
        10 => format!(
            "{a_subj} threatened to expel {} diplomats and close the border unless {} handed over the suspects within {} days.",
            b.demonym,
            b.capital,
            2 + rng.below(12)
        ),
        _ => format!(
            "{} called on both governments to show restraint, release detained fishermen and allow observers to visit the disputed {}.",
            capitalize(mediator),
            rng.pick(PLACES)
        ),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_corpus_and_exact_size() {
        let collect = |seed| {
            let mut lines = Vec::new();
            let counts = generate(1000, seed, &mut |l| {
                lines.push(l.to_string());
                Ok(())
            })
            .unwrap();
            (lines, counts)
        };
        let (a, ca) = collect(7);
        let (b, cb) = collect(7);
        assert_eq!(a, b);
        assert_eq!(ca, cb);
        assert_eq!(ca.1, 1000);
        assert_ne!(collect(8).0, a);
    }

    #[test]
    fn segments_into_the_sentences_written() {
        use crate::segment::{NewsSegmenter, Segmenter};
        let mut total = 0;
        generate(300, 3, &mut |line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            total += NewsSegmenter.segment(v["text"].as_str().unwrap()).len();
            Ok(())
        })
        .unwrap();
        assert_eq!(total, 300);
    }

    #[test]
    fn dates_are_valid() {
        assert_eq!(date_from_index(0), "2024-01-01");
        assert_eq!(date_from_index(59), "2024-02-29");
        assert_eq!(date_from_index(366), "2025-01-01");
        assert_eq!(date_from_index(730), "2025-12-31");
    }
}
