//! Attribution: which parties speak in a sentence and at whom, by the labeling guide.
//!
//! Deliberately a transparent rule system over tokens and party mentions, not a parser:
//! every decision is recorded in the `attribution` field so analysts can audit it, and
//! the rules follow the guide's cases one by one (reporting verbs, speech-act nouns,
//! possessives, "according to", coordination, pronoun and quote carry-over).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::parties::{AliasKind, Gazetteer, Mention};
use crate::record::{Attribution, Document, SentenceRecord, Span};

/// The maintained verb list (lemma, stance cue, forms).
pub const SPEECH_VERBS_TSV: &str = include_str!("../data/speech_verbs.tsv");
/// The maintained speech-act noun list (stance cue, forms).
pub const SPEECH_NOUNS_TSV: &str = include_str!("../data/speech_nouns.tsv");

/// A verb form from the list.
#[derive(Debug, Clone)]
pub struct VerbForm {
    pub lemma: String,
    pub cue: String,
    /// Also a common noun: a verb only right after its subject.
    pub ambiguous: bool,
}

/// The speech lexicon: verb forms and noun forms with their stance cues.
#[derive(Debug)]
pub struct Lexicon {
    pub verbs: HashMap<String, VerbForm>,
    pub nouns: HashMap<String, String>,
}

impl Lexicon {
    pub fn get() -> &'static Lexicon {
        static LEX: OnceLock<Lexicon> = OnceLock::new();
        LEX.get_or_init(|| {
            let mut verbs = HashMap::new();
            for line in SPEECH_VERBS_TSV
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            {
                let cols: Vec<&str> = line.split('\t').collect();
                if cols.len() != 3 {
                    continue;
                }
                for form in cols[2].split_whitespace() {
                    let ambiguous = form.ends_with('*');
                    let form = form.trim_end_matches('*').to_string();
                    verbs.insert(
                        form,
                        VerbForm {
                            lemma: cols[0].into(),
                            cue: cols[1].into(),
                            ambiguous,
                        },
                    );
                }
            }
            let mut nouns = HashMap::new();
            for line in SPEECH_NOUNS_TSV
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            {
                if let Some((cue, forms)) = line.split_once('\t') {
                    for form in forms.split_whitespace() {
                        nouns.insert(form.to_string(), cue.to_string());
                    }
                }
            }
            Lexicon { verbs, nouns }
        })
    }
}

/// Nouns for the people and bodies that speak for a party.
const OFFICE_NOUNS: &[&str] = &[
    "official",
    "officials",
    "minister",
    "ministers",
    "ministry",
    "ministries",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "spokespeople",
    "negotiator",
    "negotiators",
    "delegation",
    "delegations",
    "delegate",
    "delegates",
    "government",
    "governments",
    "president",
    "presidency",
    "premier",
    "army",
    "military",
    "forces",
    "force",
    "leader",
    "leaders",
    "leadership",
    "envoy",
    "envoys",
    "ambassador",
    "ambassadors",
    "authorities",
    "diplomat",
    "diplomats",
    "administration",
    "cabinet",
    "parliament",
    "lawmakers",
    "legislators",
    "junta",
    "regime",
    "troops",
    "commander",
    "commanders",
    "command",
    "general",
    "generals",
    "chief",
    "head",
    "secretary",
    "council",
    "embassy",
    "mission",
    "representative",
    "representatives",
    "side",
    "camp",
    "rebels",
    "fighters",
    "militants",
    "group",
    "movement",
    "party",
    "office",
    "counterpart",
    "counterparts",
    "foreign",
    "defence",
    "defense",
    "interior",
    "prime",
    "state",
    "national",
    "security",
    "senior",
    "top",
    "chancellor",
    "king",
    "emir",
    "prince",
    "sultan",
    "monarch",
    "parliamentarians",
    "mps",
    "senators",
    "prosecutor",
    "prosecutors",
    "court",
    "judges",
    "agency",
    "service",
    "services",
    "navy",
    "airforce",
    "guard",
    "police",
    "intelligence",
    "presidential",
    "palace",
    "coalition",
    "alliance",
    "bloc",
    "team",
    "officers",
    "soldiers",
    "veterans",
    "mediators",
    "mediator",
    "observers",
    "monitors",
    "secretariat",
    "commission",
    "summit",
    "members",
    "member",
    "staff",
    "adviser",
    "advisers",
    "advisor",
    "advisors",
    "aide",
    "aides",
    "deputy",
    "vice",
    "director",
    "lawmaker",
    "speaker",
    "mayor",
    "governor",
    "authority",
    "establishment",
    "elite",
    "counsel",
    "lawyers",
    "attorney",
    "attorneys",
];

/// Words that mark a party as a medium, not a speaker ("Afghan news reports").
const MEDIA_NOUNS: &[&str] = &[
    "news",
    "media",
    "press",
    "reports",
    "report",
    "newspaper",
    "newspapers",
    "outlet",
    "outlets",
    "television",
    "tv",
    "radio",
    "broadcaster",
    "daily",
    "journalists",
    "sources",
    "source",
    "agency",
    "wire",
];

/// Pronouns that take the last speaking party when they are a speech verb's subject.
const PRONOUNS: &[&str] = &["they", "he", "she", "it", "we"];

/// Prepositions after which a place name is a location, not an actor.
const LOCATIVES: &[&str] = &[
    "in",
    "inside",
    "within",
    "into",
    "at",
    "near",
    "across",
    "along",
    "through",
    "throughout",
    "around",
    "outside",
    "via",
    "toward",
    "towards",
    "between",
];

/// Prepositions after which a party is an object, never a subject.
const SUBJECT_BLOCKERS: &[&str] = &[
    "to",
    "from",
    "for",
    "with",
    "against",
    "on",
    "over",
    "about",
    "than",
    "like",
    "toward",
    "towards",
    "upon",
    "onto",
    "behind",
    "beyond",
    "without",
    "including",
    "unlike",
];

/// Words that close the search for a verb's subject.
const CLAUSE_STOPS: &[&str] = &[
    "that", "because", "although", "though", "if", "unless", "whether", "since", "whereas",
    "after", "before", "when", "while", "until", "once", "where", "but",
];

/// Nouns that make a preceding group name a topic ("the TTP issue"), not a target.
const TOPIC_NOUNS: &[&str] = &[
    "issue",
    "issues",
    "question",
    "matter",
    "problem",
    "file",
    "dossier",
    "case",
    "crisis",
    "conflict",
    "insurgency",
    "attacks",
    "attack",
    "violence",
    "threat",
    "presence",
    "fighters",
    "militants",
    "camps",
    "hideouts",
    "sanctuaries",
];

/// Verbs that make a speech act with a following noun ("issued a warning").
const LIGHT_VERBS: &[&str] = &[
    "issue",
    "issues",
    "issued",
    "issuing",
    "make",
    "makes",
    "made",
    "making",
    "deliver",
    "delivers",
    "delivered",
    "send",
    "sends",
    "sent",
    "lodge",
    "lodged",
    "lodges",
    "trade",
    "trades",
    "traded",
    "trading",
    "exchange",
    "exchanged",
    "exchanging",
    "level",
    "levelled",
    "leveled",
    "hurl",
    "hurled",
    "file",
    "filed",
    "renew",
    "renewed",
    "repeat",
    "repeated",
    "voice",
    "voiced",
    "voicing",
    "extend",
    "extended",
    "extends",
];

/// Words that make a speech act mutual ("trading accusations", "mutual recriminations").
const RECIPROCAL_WORDS: &[&str] = &[
    "trade",
    "trades",
    "traded",
    "trading",
    "exchange",
    "exchanged",
    "exchanging",
    "mutual",
];

const BE_FORMS: &[&str] = &["is", "are", "was", "were", "be", "been", "being"];

/// Adverbs and auxiliaries allowed between a subject and its verb.
const BETWEEN: &[&str] = &[
    "has",
    "have",
    "had",
    "will",
    "would",
    "shall",
    "should",
    "could",
    "can",
    "may",
    "might",
    "must",
    "did",
    "does",
    "do",
    "also",
    "again",
    "then",
    "however",
    "meanwhile",
    "not",
    "never",
    "repeatedly",
    "already",
    "once",
    "still",
    "now",
    "today",
    "later",
    "earlier",
    "separately",
    "too",
    "swiftly",
    "quickly",
    "publicly",
    "privately",
    "formally",
    "first",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Word,
    Punct,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    text: &'a str,
    lower: String,
    start: usize,
    kind: Tok,
    /// Index into the sentence's mentions when this token is part of one.
    mention: Option<usize>,
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut toks = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_alphanumeric() {
            let mut j = i + 1;
            while j < chars.len() {
                let cj = chars[j].1;
                let next_alnum = chars.get(j + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
                if cj.is_alphanumeric() || ((cj == '-' || cj == '.') && next_alnum) {
                    j += 1;
                } else {
                    break;
                }
            }
            let end = chars.get(j).map_or(text.len(), |&(p, _)| p);
            toks.push(Token {
                text: &text[pos..end],
                lower: text[pos..end].to_lowercase(),
                start: pos,
                kind: Tok::Word,
                mention: None,
            });
            i = j;
        } else {
            // "'s" and "’s" stay one token so possessives are easy to skip.
            let mut end = pos + c.len_utf8();
            let mut j = i + 1;
            if matches!(c, '\'' | '’')
                && chars.get(j).is_some_and(|&(_, n)| n == 's')
                && chars.get(j + 1).is_none_or(|&(_, n)| !n.is_alphanumeric())
            {
                end += 1;
                j += 1;
            }
            toks.push(Token {
                text: &text[pos..end],
                lower: text[pos..end].to_string(),
                start: pos,
                kind: Tok::Punct,
                mention: None,
            });
            i = j;
        }
    }
    toks
}

/// The attribution result for one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributed {
    pub speakers: Vec<String>,
    pub targets: Vec<String>,
    pub attribution: Attribution,
}

/// Carries discourse state across the sentences of one document.
#[derive(Debug, Default, Clone)]
pub struct Context {
    last_speakers: Vec<usize>,
    prev_quote_speakers: Option<Vec<usize>>,
    /// People introduced with their party ("Dominican President Luis Abinader"), by
    /// surname, so later "Abinader said" speaks for the Dominican Republic.
    people: HashMap<String, usize>,
}

/// Title words that introduce a person's name ("Foreign Minister", "Col.").
const TITLE_WORDS: &[&str] = &[
    "president",
    "minister",
    "foreign",
    "prime",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "envoy",
    "ambassador",
    "general",
    "gen",
    "colonel",
    "col",
    "captain",
    "capt",
    "lt",
    "lieutenant",
    "major",
    "maj",
    "commander",
    "chief",
    "secretary",
    "special",
    "deputy",
    "interior",
    "defence",
    "defense",
    "army",
    "military",
    "government",
    "cabinet",
    "king",
    "emir",
    "prince",
    "sheikh",
    "leader",
    "premier",
    "chancellor",
    "senator",
    "governor",
    "negotiator",
    "representative",
    "mediator",
    "counterpart",
    "adviser",
    "advisor",
    "director",
    "head",
    "vice",
    "top",
    "senior",
    "security",
    "national",
    "state",
    "junta",
    "rebel",
    "separatist",
    "official",
    "diplomat",
    "mr",
    "mrs",
    "ms",
    "dr",
    "admiral",
    "marshal",
    "brigadier",
    "sergeant",
];

struct Sentence<'a> {
    toks: Vec<Token<'a>>,
    mentions: Vec<Mention>,
    /// For each mention, its token range.
    mention_toks: Vec<(usize, usize)>,
}

impl<'a> Sentence<'a> {
    fn new(text: &'a str, gaz: &Gazetteer) -> Self {
        let mut toks = tokenize(text);
        let mentions = gaz.find(text);
        let mut mention_toks = Vec::with_capacity(mentions.len());
        for (mi, m) in mentions.iter().enumerate() {
            let first = toks
                .iter()
                .position(|t| t.start >= m.start && t.start < m.end);
            let Some(first) = first else {
                mention_toks.push((usize::MAX, usize::MAX));
                continue;
            };
            let mut last = first;
            while last < toks.len() && toks[last].start < m.end {
                toks[last].mention = Some(mi);
                last += 1;
            }
            mention_toks.push((first, last));
        }
        Sentence {
            toks,
            mentions,
            mention_toks,
        }
    }

    fn word(&self, i: usize) -> &str {
        self.toks.get(i).map_or("", |t| t.lower.as_str())
    }

    /// Whether the mention is introduced by a locative preposition ("talks in Doha").
    fn is_locative(&self, mi: usize) -> bool {
        let (first, _) = self.mention_toks[mi];
        let mut j = first;
        while j > 0 {
            j -= 1;
            let w = self.word(j);
            if w == "the" {
                continue;
            }
            return LOCATIVES.contains(&w);
        }
        false
    }

    /// Index of the first token after the mention and its possessive, if any.
    fn after_mention(&self, mi: usize) -> usize {
        let (_, last) = self.mention_toks[mi];
        if self
            .toks
            .get(last)
            .is_some_and(|t| t.text == "'s" || t.text == "’s" || t.text == "'" || t.text == "’")
        {
            last + 1
        } else {
            last
        }
    }

    /// The next word after the mention skips capitalised name parts and adjectives
    /// ("Pakistan's Defence Minister", "Afghan senior officials").
    fn heads_office(&self, mi: usize) -> bool {
        let mut j = self.after_mention(mi);
        for _ in 0..4 {
            let Some(t) = self.toks.get(j) else {
                return false;
            };
            if OFFICE_NOUNS.contains(&t.lower.as_str()) {
                return true;
            }
            if t.kind == Tok::Word && t.mention.is_none() {
                j += 1;
                continue;
            }
            return false;
        }
        false
    }

    fn is_medium(&self, mi: usize) -> bool {
        let j = self.after_mention(mi);
        (j..(j + 3).min(self.toks.len())).any(|k| MEDIA_NOUNS.contains(&self.word(k)))
            && !self.heads_office(mi)
    }

    /// Whether a preposition other than "of" stands before the mention ("a trip to Paris").
    fn after_preposition(&self, mi: usize) -> bool {
        let (first, _) = self.mention_toks[mi];
        let mut j = first;
        while j > 0 && self.word(j - 1) == "the" {
            j -= 1;
        }
        j > 0 && SUBJECT_BLOCKERS.contains(&self.word(j - 1))
    }

    /// Whether the mention can be the subject of a speech act.
    fn can_speak(&self, mi: usize) -> bool {
        if self.is_locative(mi) || self.after_preposition(mi) || self.is_medium(mi) {
            return false;
        }
        match self.mentions[mi].kind {
            AliasKind::Demonym => self.heads_office(mi),
            _ => true,
        }
    }

    /// Mentions coordinated with `mi` on its left ("Both Islamabad and Kabul").
    fn coordinated_left(&self, mi: usize) -> Vec<usize> {
        let mut out = vec![mi];
        let mut cur = mi;
        loop {
            let (first, _) = self.mention_toks[cur];
            if first < 2 {
                break;
            }
            let conj = self.word(first - 1);
            if conj != "and" && conj != "," {
                break;
            }
            let prev = &self.toks[first - 2];
            match prev.mention {
                Some(pm) if pm != cur && self.can_speak(pm) => {
                    out.push(pm);
                    cur = pm;
                }
                _ => {
                    // "Pakistan's and Afghanistan's officials": skip a possessive marker.
                    if (prev.text == "'s" || prev.text == "’s")
                        && first >= 3
                        && let Some(pm) = self.toks[first - 3].mention
                    {
                        out.push(pm);
                        cur = pm;
                        continue;
                    }
                    break;
                }
            }
        }
        out.reverse();
        out
    }

    /// Mentions coordinated with `mi` on its right ("Ethiopia and Eritrea said").
    fn coordinated_right(&self, mi: usize) -> Vec<usize> {
        let mut out = vec![mi];
        let mut cur = mi;
        loop {
            let j = self.after_mention(cur);
            let conj = self.word(j);
            if conj != "and" && conj != "," {
                break;
            }
            match self.toks.get(j + 1).and_then(|t| t.mention) {
                Some(nm) if nm != cur && self.can_speak(nm) => {
                    out.push(nm);
                    cur = nm;
                }
                _ => break,
            }
        }
        out
    }
}

/// What the leftward subject search found.
enum Subject {
    Parties(Vec<usize>, bool),
    /// A known person: the party they speak for.
    Person(usize),
    /// A pronoun or a generic speaker ("the ministry", "Officials", "Government spokesman
    /// X"); `trailing` when it sits in a tag after the clause ("..., the ministry said").
    Pronoun {
        trailing: bool,
    },
    Nothing,
}

fn is_capitalised(t: &Token) -> bool {
    t.kind == Tok::Word
        && t.mention.is_none()
        && t.text.chars().next().is_some_and(char::is_uppercase)
}

fn find_subject(s: &Sentence, verb: usize, ambiguous: bool, ctx: &Context) -> Subject {
    let mut j = verb;
    let mut steps = 0;
    let mut only_between = true;
    while j > 0 && steps < 24 {
        j -= 1;
        steps += 1;
        let t = &s.toks[j];
        if let Some(mi) = t.mention {
            if s.can_speak(mi) {
                let mut group = s.coordinated_left(mi);
                for extra in s.coordinated_right(mi) {
                    if !group.contains(&extra) {
                        group.push(extra);
                    }
                }
                let possessive = s.mentions[mi].possessive;
                return Subject::Parties(group, possessive);
            }
            // A location or adjective: skip to the mention's first token and go on.
            j = s.mention_toks[mi].0;
            only_between = false;
            continue;
        }
        let w = t.lower.as_str();
        if t.kind == Tok::Punct {
            if matches!(
                t.text,
                "." | ";" | ":" | "?" | "!" | "\"" | "”" | "“" | "(" | ")" | "—" | "–"
            ) {
                break;
            }
            if t.text == "," {
                only_between = false;
            }
            continue;
        }
        let trailing = j > 0 && matches!(s.toks[j - 1].text, "," | "”" | "\"" | "’");
        if only_between && is_capitalised(t) && !BETWEEN.contains(&w) {
            // A person right before the verb: known from earlier sentences, or generic.
            if let Some(&party) = ctx.people.get(t.text) {
                return Subject::Person(party);
            }
            let mut k = j;
            while k > 0
                && is_capitalised(&s.toks[k - 1])
                && !TITLE_WORDS.contains(&s.toks[k - 1].lower.as_str())
            {
                k -= 1;
            }
            let titled = k > 0 && TITLE_WORDS.contains(&s.toks[k - 1].lower.as_str());
            if titled {
                let start = (0..k)
                    .rev()
                    .take_while(|&i| TITLE_WORDS.contains(&s.toks[i].lower.as_str()))
                    .last()
                    .unwrap_or(k);
                let trailing =
                    start > 0 && matches!(s.toks[start - 1].text, "," | "”" | "\"" | "’");
                if start > 0 && s.toks[start - 1].mention.is_some() {
                    j = start;
                    continue;
                }
                return Subject::Pronoun { trailing };
            }
            if k < j || j == 0 || trailing {
                // "Abinader said", "Erik Solheim said": an unknown person speaks for the
                // party in focus.
                let trailing = k > 0 && matches!(s.toks[k - 1].text, "," | "”" | "\"" | "’");
                return Subject::Pronoun { trailing };
            }
        }
        if PRONOUNS.contains(&w) && (only_between || w != "it") {
            // "It" only counts right before the verb ("It said ..."), never "it" far left.
            return if w == "it" && !only_between {
                Subject::Nothing
            } else {
                Subject::Pronoun { trailing }
            };
        }
        if w == "the"
            && only_between
            && s.toks
                .get(j + 1)
                .is_some_and(|n| OFFICE_NOUNS.contains(&n.lower.as_str()))
        {
            return Subject::Pronoun { trailing };
        }
        if only_between && OFFICE_NOUNS.contains(&w) && (j == 0 || trailing) {
            // "Officials said ...", "..., officials said."
            return Subject::Pronoun { trailing };
        }
        if CLAUSE_STOPS.contains(&w) {
            break;
        }
        if ambiguous && !(BETWEEN.contains(&w) || w.ends_with("ly")) {
            break;
        }
        if !(BETWEEN.contains(&w)
            || w.ends_with("ly")
            || OFFICE_NOUNS.contains(&w)
            || TITLE_WORDS.contains(&w))
        {
            only_between = false;
        }
    }
    Subject::Nothing
}

/// Learns "Dominican President Luis Abinader" and "Erik Solheim, Norway's envoy".
fn register_people(s: &Sentence, ctx: &mut Context) {
    for (mi, m) in s.mentions.iter().enumerate() {
        if s.mention_toks[mi].0 == usize::MAX {
            continue;
        }
        // Party, then titles, then capitalised name words.
        let mut j = s.after_mention(mi);
        let mut titles = 0;
        while s.toks.get(j).is_some_and(|t| {
            t.kind == Tok::Word && TITLE_WORDS.contains(&t.lower.as_str()) || t.text == "."
        }) {
            titles += usize::from(s.toks[j].kind == Tok::Word);
            j += 1;
        }
        let mut last_name = None;
        while s.toks.get(j).is_some_and(is_capitalised) {
            last_name = Some(j);
            j += 1;
        }
        if titles > 0
            && let Some(n) = last_name
        {
            ctx.people.insert(s.toks[n].text.to_string(), m.party);
        }
        // Name, then ", the/Party's ... title".
        let (first, _) = s.mention_toks[mi];
        let mut k = first;
        if k > 0 && s.word(k - 1) == "the" {
            k -= 1;
        }
        if k >= 2
            && s.toks[k - 1].text == ","
            && is_capitalised(&s.toks[k - 2])
            && (m.possessive || s.heads_office(mi))
        {
            ctx.people.insert(s.toks[k - 2].text.to_string(), m.party);
        }
    }
}

/// Words after which a sentence-initial party is not the subject of a verb.
const NOT_A_VERB: &[&str] = &[
    "and", "or", "of", "in", "on", "at", "with", "between", "from", "for", "by", "as", "than",
    "is", "are", "was", "were", "'s", "’s", "nor", "but", "has", "have", "had",
];

/// Dateline and opening phrases that come before a sentence's subject.
const OPENERS: &[&str] = &[
    "on",
    "in",
    "at",
    "during",
    "after",
    "earlier",
    "later",
    "meanwhile",
    "however",
    "last",
    "this",
    "by",
    "despite",
    "separately",
    "also",
    "instead",
    "since",
    "for",
    "until",
    "over",
    "following",
    "amid",
    "with",
    "under",
    "as",
    "yesterday",
    "today",
    "now",
    "still",
    "then",
];

/// The subject of the main clause when it is a party: "Sri Lanka formally notified
/// Norway ...", "Dominican Republic to shut borders" (headline). The guide counts a party's
/// deliberate act as its position.
fn initial_subject(s: &Sentence) -> Option<Vec<usize>> {
    let n = s.toks.len();
    let mut i = 0;
    // Dateline: "COLOMBO, Jan 3 (Reuters) -".
    if let Some(d) = (0..n.min(14)).find(|&k| matches!(s.toks[k].text, "-" | "—" | "–")) {
        let head_is_dateline = (0..d).all(|k| {
            let t = &s.toks[k];
            t.kind == Tok::Punct
                || t.text.chars().all(|c| !c.is_lowercase())
                || t.text.len() <= 4
                || t.text == "Reuters"
        });
        if head_is_dateline && d > 0 && s.toks[0].text.chars().all(|c| !c.is_lowercase()) {
            i = d + 1;
        }
    }
    // An opening phrase up to its comma: "On Monday,", "In a statement,".
    if s.toks
        .get(i)
        .is_some_and(|t| OPENERS.contains(&t.lower.as_str()))
        && let Some(c) = (i..n.min(i + 10)).find(|&k| s.toks[k].text == ",")
    {
        i = c + 1;
    }
    while s.word(i) == "the" {
        i += 1;
    }
    let mi = s.toks.get(i)?.mention?;
    if !s.can_speak(mi) || s.is_locative(mi) {
        return None;
    }
    if s.mentions[mi].possessive && !s.heads_office(mi) {
        return None;
    }
    let group = s.coordinated_right(mi);
    let mut j = s.after_mention(*group.last()?);
    // Skip the rest of the noun phrase: offices, titles, names, adverbs, an appositive.
    loop {
        let t = s.toks.get(j)?;
        let w = t.lower.as_str();
        if t.kind == Tok::Word
            && (OFFICE_NOUNS.contains(&w)
                || TITLE_WORDS.contains(&w)
                || is_capitalised(t)
                || BETWEEN.contains(&w)
                || w.ends_with("ly"))
            && !NOT_A_VERB.contains(&w)
        {
            j += 1;
            continue;
        }
        if t.text == "," && matches!(s.word(j + 1), "which" | "who") {
            j = (j + 2..n).find(|&k| s.toks[k].text == ",")? + 1;
            continue;
        }
        break;
    }
    let t = s.toks.get(j)?;
    let w = t.lower.as_str();
    if t.kind != Tok::Word
        || t.mention.is_some()
        || !t.text.chars().next().is_some_and(char::is_lowercase)
        || NOT_A_VERB.contains(&w)
    {
        // "has/have/had" were skipped above as auxiliaries; a bare copula is not an act.
        return None;
    }
    Some(group)
}

/// Inverted speech tags: `"...," said Kenya's foreign minister`.
fn find_inverted_subject(s: &Sentence, verb: usize) -> Option<(Vec<usize>, bool)> {
    let prev = verb.checked_sub(1).map(|p| s.toks[p].text)?;
    if !matches!(prev, "," | "\"" | "”" | "’" | "'") {
        return None;
    }
    for j in verb + 1..(verb + 8).min(s.toks.len()) {
        let t = &s.toks[j];
        if let Some(mi) = t.mention {
            if s.can_speak(mi) {
                return Some((vec![mi], s.mentions[mi].possessive));
            }
            return None;
        }
        if t.kind == Tok::Punct {
            return None;
        }
    }
    None
}

/// Speaker of a speech-act noun: "X's warning", "a threat from X", "statements by X".
fn noun_agent(s: &Sentence, noun: usize) -> Option<Vec<usize>> {
    // Possessor on the left, over up to three adjectives.
    let mut j = noun;
    for _ in 0..4 {
        if j == 0 {
            break;
        }
        j -= 1;
        let t = &s.toks[j];
        if t.text == "'s" || t.text == "’s" {
            if let Some(mi) = j.checked_sub(1).and_then(|k| s.toks[k].mention) {
                return Some(s.coordinated_left(mi));
            }
            return None;
        }
        if let Some(mi) = t.mention {
            // "a Taliban warning", "the Ethiopian government's protest" handled above.
            if s.mentions[mi].possessive {
                return Some(s.coordinated_left(mi));
            }
            if s.mentions[mi].kind != AliasKind::Demonym && !s.is_locative(mi) {
                return Some(vec![mi]);
            }
            return None;
        }
        if t.kind == Tok::Punct || !t.text.chars().next().is_some_and(char::is_lowercase) {
            break;
        }
    }
    // Agent on the right: "from" / "by" (+ the) + party.
    let w = s.word(noun + 1);
    if w == "from" || w == "by" {
        let mut k = noun + 2;
        while s.word(k) == "the" {
            k += 1;
        }
        // The agent follows a preposition by construction, so only places, media and bare
        // adjectives are ruled out here.
        if let Some(mi) = s.toks.get(k).and_then(|t| t.mention)
            && (s.mentions[mi].possessive
                || !s.is_locative(mi)
                    && !s.is_medium(mi)
                    && (s.mentions[mi].kind != AliasKind::Demonym || s.heads_office(mi)))
        {
            return Some(s.coordinated_right(mi));
        }
    }
    None
}

fn light_verb_with_noun(s: &Sentence, verb: usize, lex: &Lexicon) -> bool {
    (verb + 1..(verb + 6).min(s.toks.len())).any(|k| lex.nouns.contains_key(s.word(k)))
}

/// Attributes one sentence, updating the document context.
pub fn attribute_sentence(text: &str, gaz: &Gazetteer, ctx: &mut Context) -> Attributed {
    let lex = Lexicon::get();
    let s = Sentence::new(text, gaz);
    register_people(&s, ctx);
    let mut speakers: Vec<usize> = Vec::new();
    let mut speaker_mentions: Vec<usize> = Vec::new();
    let mut attribution = Attribution::None;
    let mut excluded: HashSet<usize> = HashSet::new();
    let mut passive_subject: Vec<usize> = Vec::new();

    let push = |group: &[usize], speakers: &mut Vec<usize>, sm: &mut Vec<usize>| {
        for &mi in group {
            sm.push(mi);
            let p = s.mentions[mi].party;
            if !speakers.contains(&p) {
                speakers.push(p);
            }
        }
    };

    for k in 0..s.toks.len() {
        if !speakers.is_empty() {
            break;
        }
        let t = &s.toks[k];
        if t.mention.is_some() || t.kind != Tok::Word {
            continue;
        }
        let w = t.lower.as_str();
        // "According to X, ..."
        if w == "according" && s.word(k + 1) == "to" {
            let mut j = k + 2;
            while s.word(j) == "the" {
                j += 1;
            }
            if let Some(mi) = s.toks.get(j).and_then(|t| t.mention) {
                if s.is_medium(mi)
                    || s.mentions[mi].kind == AliasKind::Demonym && !s.heads_office(mi)
                {
                    excluded.insert(mi);
                } else {
                    push(
                        &s.coordinated_right(mi),
                        &mut speakers,
                        &mut speaker_mentions,
                    );
                    attribution = Attribution::AccordingTo;
                }
            }
            continue;
        }
        let is_light = LIGHT_VERBS.contains(&w) && light_verb_with_noun(&s, k, lex);
        let verb = lex.verbs.get(w);
        if verb.is_some() || is_light {
            let ambiguous = verb.is_some_and(|v| v.ambiguous) && !is_light;
            // Passive: "Eritrea was accused by Ethiopia of ...".
            let prev_be = (1..=2).any(|d| k >= d && BE_FORMS.contains(&s.word(k - d)));
            if prev_be && w.ends_with("ed") {
                let by = (k + 1..(k + 8).min(s.toks.len())).find(|&j| s.word(j) == "by");
                if let Some(by) = by {
                    let mut j = by + 1;
                    while s.word(j) == "the" {
                        j += 1;
                    }
                    if let Some(mi) = s.toks.get(j).and_then(|t| t.mention)
                        && s.can_speak(mi)
                    {
                        push(
                            &s.coordinated_right(mi),
                            &mut speakers,
                            &mut speaker_mentions,
                        );
                        attribution = Attribution::Verb;
                        if let Subject::Parties(subj, _) = find_subject(&s, k, false, ctx) {
                            passive_subject = subj;
                        }
                        continue;
                    }
                }
                continue;
            }
            match find_subject(&s, k, ambiguous, ctx) {
                Subject::Parties(group, possessive) => {
                    push(&group, &mut speakers, &mut speaker_mentions);
                    attribution = if possessive {
                        Attribution::Possessive
                    } else {
                        Attribution::Verb
                    };
                }
                Subject::Person(party) => {
                    speakers = vec![party];
                    attribution = Attribution::Verb;
                }
                Subject::Pronoun { trailing } => {
                    // "X will close its borders, President Y said": the clause's subject
                    // speaks; otherwise the last speaking party does.
                    match initial_subject(&s).filter(|_| trailing) {
                        Some(group) => {
                            push(&group, &mut speakers, &mut speaker_mentions);
                            attribution = Attribution::Verb;
                        }
                        None if !ctx.last_speakers.is_empty() => {
                            speakers = ctx.last_speakers.clone();
                            attribution = Attribution::Pronoun;
                        }
                        None => {}
                    }
                }
                Subject::Nothing => {
                    if let Some((group, possessive)) = find_inverted_subject(&s, k) {
                        push(&group, &mut speakers, &mut speaker_mentions);
                        attribution = if possessive {
                            Attribution::Possessive
                        } else {
                            Attribution::Verb
                        };
                    }
                }
            }
            continue;
        }
        if lex.nouns.contains_key(w)
            && let Some(group) = noun_agent(&s, k)
        {
            push(&group, &mut speakers, &mut speaker_mentions);
            attribution = Attribution::Noun;
        }
    }

    if speakers.is_empty()
        && let Some(group) = initial_subject(&s)
    {
        push(&group, &mut speakers, &mut speaker_mentions);
        attribution = Attribution::Verb;
    }
    let starts_quoted = text.trim_start().starts_with(['"', '“', '‘']);
    if speakers.is_empty()
        && starts_quoted
        && let Some(prev) = &ctx.prev_quote_speakers
    {
        speakers = prev.clone();
        attribution = Attribution::Quote;
    }

    // Targets: the other parties the speech act is aimed at.
    let mut targets: Vec<usize> = Vec::new();
    let mut skipped_parties: HashSet<usize> = HashSet::new();
    if !speakers.is_empty() {
        for &mi in &passive_subject {
            let p = s.mentions[mi].party;
            if !speakers.contains(&p) && !targets.contains(&p) {
                targets.push(p);
            }
        }
        for (mi, m) in s.mentions.iter().enumerate() {
            if speaker_mentions.contains(&mi)
                || excluded.contains(&mi)
                || speakers.contains(&m.party)
            {
                continue;
            }
            let (first, _) = s.mention_toks[mi];
            if first == usize::MAX {
                continue;
            }
            let by_agent = first > 0 && s.word(first - 1) == "by"
                || first > 1 && s.word(first - 1) == "the" && s.word(first - 2) == "by";
            let place = s.is_locative(mi) && m.kind != AliasKind::Demonym;
            let next = s.word(s.after_mention(mi));
            let topic = m.kind == AliasKind::Name
                && !m.possessive
                && gaz.party(m.party).kind == "armed_group"
                && TOPIC_NOUNS.contains(&next);
            // "(TTP)" after a skipped "Tehrik-i-Taliban Pakistan" repeats that decision.
            let parenthetical =
                first > 0 && s.word(first - 1) == "(" && skipped_parties.contains(&m.party);
            if by_agent || place || topic || parenthetical || s.is_medium(mi) {
                skipped_parties.insert(m.party);
                continue;
            }
            if !targets.contains(&m.party) {
                targets.push(m.party);
            }
        }
        // "trading accusations", "blamed each other": each speaker targets the others.
        let reciprocal = text.contains("each other")
            || text.contains("one another")
            || s.toks
                .iter()
                .any(|t| RECIPROCAL_WORDS.contains(&t.lower.as_str()));
        if targets.is_empty() && speakers.len() >= 2 && reciprocal {
            // "Both Islamabad and Kabul are trading accusations": each targets the other.
            let mut rotated = speakers.clone();
            rotated.rotate_left(1);
            targets = rotated;
        }
    }

    if !speakers.is_empty() {
        ctx.last_speakers = speakers.clone();
    }
    let has_quote = text.contains(['"', '“', '”']);
    ctx.prev_quote_speakers = if has_quote && !speakers.is_empty() {
        Some(speakers.clone())
    } else if starts_quoted {
        ctx.prev_quote_speakers.take()
    } else {
        None
    };

    let id = |p: &usize| gaz.party(*p).id.clone();
    Attributed {
        speakers: speakers.iter().map(id).collect(),
        targets: targets.iter().map(id).collect(),
        attribution,
    }
}

/// Attributes every sentence of a document; spans come from the segmenter or the input.
pub fn attribute_document(doc: &Document, spans: &[Span], gaz: &Gazetteer) -> Vec<SentenceRecord> {
    let mut ctx = Context::default();
    spans
        .iter()
        .enumerate()
        .map(|(n, span)| {
            let text = &doc.text[span.start..span.end];
            let a = attribute_sentence(text, gaz, &mut ctx);
            SentenceRecord {
                doc: doc.id.clone(),
                n,
                start: span.start,
                end: span.end,
                text: text.to_string(),
                speakers: a.speakers,
                targets: a.targets,
                attribution: a.attribution,
                meta: doc.meta.clone(),
                ..Default::default()
            }
        })
        .collect()
}

/// Targets once the stance is known (the `score` stage): a neutral sentence aims at no
/// one, so its targets are cleared; a stance-bearing sentence with a speaker but no party
/// named as its target aims, in news prose, at the counterpart in the running story, taken
/// as the latest other party named as speaker or target earlier in the same document
/// ("Dublin urged both sides...", "the ministry rejected the suggestion").
///
/// Records must be in document order; records without a stance are left alone.
pub fn refine_targets(records: &mut [SentenceRecord]) {
    let mut history: Vec<String> = Vec::new();
    let mut doc: Option<String> = None;
    for r in records.iter_mut() {
        if doc.as_deref() != Some(r.doc.as_str()) {
            history.clear();
            doc = Some(r.doc.clone());
        }
        let seen: Vec<String> = r.speakers.iter().chain(&r.targets).cloned().collect();
        match r.stance.as_deref() {
            Some("neutral") => r.targets.clear(),
            Some(_) if r.targets.is_empty() && !r.speakers.is_empty() => {
                if let Some(p) = history.iter().rev().find(|p| !r.speakers.contains(p)) {
                    r.targets.push(p.clone());
                }
            }
            _ => {}
        }
        history.extend(seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(doc: &str, speakers: &[&str], targets: &[&str], stance: &str) -> SentenceRecord {
        SentenceRecord {
            doc: doc.into(),
            speakers: speakers.iter().map(|s| s.to_string()).collect(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            stance: Some(stance.into()),
            ..Default::default()
        }
    }

    #[test]
    fn targets_follow_the_stance_and_the_running_story() {
        let mut r = vec![
            rec("a", &["ETH"], &["ERI"], "accusatory"),
            rec("a", &["ERI"], &[], "accusatory"),
            rec("a", &["ERI"], &["ETH"], "neutral"),
            rec("b", &["KEN"], &[], "threatening"),
        ];
        refine_targets(&mut r);
        assert_eq!(
            r[1].targets,
            ["ETH"],
            "the counterpart named earlier in the story"
        );
        assert!(r[2].targets.is_empty(), "a neutral sentence aims at no one");
        assert!(r[3].targets.is_empty(), "history does not cross documents");
    }
}
