//! The records that flow between stages. Field names are a public contract: later stages
//! add fields, they never rename them.

use serde::{Deserialize, Serialize};

/// Metadata a document carries to every output record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    /// ISO 8601 date (YYYY-MM-DD, or a full timestamp whose first 10 bytes are the date).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
}

/// One input document, as read by [`crate::ingest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub text: String,
    pub meta: Meta,
    /// Sentence spans given by the input (`--sentence-per-line`); `None` means segment.
    pub presplit: Option<Vec<Span>>,
}

/// A byte range into a document's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// How the speaker of a sentence was found (see the labeling guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Subject of a reporting or speech-act verb ("Pakistan warned ...").
    Verb,
    /// Agent of a speech-act noun ("a direct threat from the Taliban", "Islamabad's warning").
    Noun,
    /// Possessor of the speaking body or official ("Pakistan's negotiators urged ...").
    Possessive,
    /// "According to X" where X is a party, not a medium.
    AccordingTo,
    /// A pronoun or generic subject ("They", "the ministry") carried over from the last speaker.
    Pronoun,
    /// A quoted sentence continuing the previous quote's speaker.
    Quote,
    /// No speaker.
    #[default]
    None,
}

impl Attribution {
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Verb => "verb",
            Attribution::Noun => "noun",
            Attribution::Possessive => "possessive",
            Attribution::AccordingTo => "according_to",
            Attribution::Pronoun => "pronoun",
            Attribution::Quote => "quote",
            Attribution::None => "none",
        }
    }
}

/// Stance labels, in the order used by every probability vector.
pub const STANCES: [&str; 4] = ["conciliatory", "accusatory", "threatening", "neutral"];
/// Sentiment labels, in the order used by every probability vector.
pub const SENTIMENTS: [&str; 3] = ["positive", "negative", "neutral"];

/// A sentence with its parties: the output of `attribute`, and (with the model's fields
/// filled) of `score`. Optional fields are omitted from JSONL when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SentenceRecord {
    pub doc: String,
    pub n: usize,
    #[serde(default)]
    pub start: usize,
    #[serde(default)]
    pub end: usize,
    pub text: String,
    #[serde(default)]
    pub speakers: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub attribution: Attribution,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_conciliatory: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_accusatory: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_threatening: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_neutral: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sentiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_positive: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_negative: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p_neutral_sentiment: Option<f64>,
    #[serde(flatten)]
    pub meta: Meta,
}

impl SentenceRecord {
    /// Stance probabilities in [`STANCES`] order, when all four are present.
    pub fn stance_probs(&self) -> Option<[f64; 4]> {
        Some([
            self.p_conciliatory?,
            self.p_accusatory?,
            self.p_threatening?,
            self.p_neutral?,
        ])
    }
    /// Sentiment probabilities in [`SENTIMENTS`] order, when all three are present.
    pub fn sentiment_probs(&self) -> Option<[f64; 3]> {
        Some([
            self.p_positive?,
            self.p_negative?,
            self.p_neutral_sentiment?,
        ])
    }
}
