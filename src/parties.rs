//! The party dictionary: a built-in gazetteer (every UN member, observers, disputed
//! territories, international bodies, well-known armed groups) plus the user's TOML file,
//! and the matcher that finds party mentions in text.
//!
//! Matching is case-sensitive on whole words and longest-first, so "Tehrik-i-Taliban
//! Pakistan" is one mention of TTP, never AFG or PAK. Aliases are exact strings rather than
//! patterns, which keeps a user's file predictable and checkable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Location, Result};

/// The built-in gazetteer, shipped with the binary.
pub const BUILTIN_TOML: &str = include_str!("../data/parties.toml");

/// One party: a state, government, international body or armed group.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub aliases: Vec<String>,
    pub capitals: Vec<String>,
    pub demonyms: Vec<String>,
    pub members: Vec<String>,
}

/// What kind of alias matched: names and capitals can speak ("Kabul said"); a bare
/// demonym only speaks with an office noun ("Afghan officials said").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasKind {
    Name,
    Capital,
    Demonym,
}

/// A party mentioned in a text, by byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    /// Index into [`Gazetteer::parties`].
    pub party: usize,
    pub start: usize,
    pub end: usize,
    pub kind: AliasKind,
    /// Followed by "'s" / "’s" (or a bare apostrophe after s): "Pakistan's negotiators".
    pub possessive: bool,
}

/// A problem found in a parties file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<u64>,
    pub message: String,
    /// Errors stop a run; warnings are only reported by `partyline parties`.
    pub is_error: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyFile {
    /// Phrases that contain an alias but name no party ("Latin America", "National
    /// Security Council"); they are matched, longest-first, and dropped.
    #[serde(default)]
    stop: Vec<String>,
    #[serde(default)]
    party: Vec<PartyEntry>,
}

/// A parsed parties file: its parties and its stop phrases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartySet {
    pub parties: Vec<Party>,
    pub stops: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyEntry {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    #[serde(default)]
    capitals: Vec<Spanned<String>>,
    #[serde(default)]
    demonyms: Vec<Spanned<String>>,
    #[serde(default)]
    members: Vec<Spanned<String>>,
}

fn line_of(src: &str, offset: usize) -> u64 {
    src[..offset.min(src.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count() as u64
        + 1
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Parses a parties file and checks it. Returns the parties (in file order) and every
/// problem found; the parties are usable only when no problem is an error.
pub fn parse_parties(src: &str) -> (PartySet, Vec<Problem>) {
    let mut problems = Vec::new();
    let file: PartyFile = match toml::from_str(src) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map(|s| line_of(src, s.start));
            let message = format!("invalid TOML: {}", e.message().trim());
            problems.push(Problem {
                line,
                message,
                is_error: true,
            });
            return (PartySet::default(), problems);
        }
    };
    let stops = file
        .stop
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut parties = Vec::new();
    let mut id_lines: HashMap<String, u64> = HashMap::new();
    // alias -> (party id, line)
    let mut alias_owner: HashMap<String, (String, u64)> = HashMap::new();
    for entry in file.party {
        let id_line = line_of(src, entry.id.span().start);
        let id = entry.id.get_ref().trim().to_string();
        if !valid_id(&id) {
            problems.push(Problem {
                line: Some(id_line),
                message: format!("party id {id:?} must be upper-case letters, digits or _ (ISO 3166 alpha-3 for states)"),
                is_error: true,
            });
        }
        if let Some(first) = id_lines.insert(id.clone(), id_line) {
            problems.push(Problem {
                line: Some(id_line),
                message: format!("party id {id} is defined twice (first on line {first})"),
                is_error: true,
            });
        }
        let mut lists: [(Vec<String>, &Vec<Spanned<String>>); 3] = [
            (Vec::new(), &entry.aliases),
            (Vec::new(), &entry.capitals),
            (Vec::new(), &entry.demonyms),
        ];
        for (out, list) in lists.iter_mut() {
            for alias in list.iter() {
                let line = line_of(src, alias.span().start);
                let text = alias.get_ref().trim().to_string();
                if text.is_empty() {
                    problems.push(Problem {
                        line: Some(line),
                        message: format!("empty alias in party {id}"),
                        is_error: true,
                    });
                    continue;
                }
                match alias_owner.get(&text) {
                    Some((owner, first)) if *owner == id => problems.push(Problem {
                        line: Some(line),
                        message: format!(
                            "duplicate alias {text:?} in party {id} (first on line {first})"
                        ),
                        is_error: false,
                    }),
                    Some((owner, first)) => problems.push(Problem {
                        line: Some(line),
                        message: format!(
                            "alias {text:?} is on two ids: {owner} (line {first}) and {id}"
                        ),
                        is_error: true,
                    }),
                    None => {
                        alias_owner.insert(text.clone(), (id.clone(), line));
                        out.push(text);
                    }
                }
            }
        }
        let [(aliases, _), (capitals, _), (demonyms, _)] = lists;
        if aliases.is_empty() && capitals.is_empty() && demonyms.is_empty() {
            problems.push(Problem {
                line: Some(id_line),
                message: format!("party {id} has no aliases, so it can never be matched"),
                is_error: false,
            });
        }
        parties.push(Party {
            name: entry.name.clone().unwrap_or_else(|| id.clone()),
            id,
            kind: entry.kind.clone().unwrap_or_else(|| "other".into()),
            aliases,
            capitals,
            demonyms,
            members: entry
                .members
                .iter()
                .map(|m| m.get_ref().trim().to_string())
                .collect(),
        });
    }
    (PartySet { parties, stops }, problems)
}

/// The party dictionary with its compiled matcher.
#[derive(Debug, Clone)]
pub struct Gazetteer {
    parties: Vec<Party>,
    by_id: HashMap<String, usize>,
    automaton: AhoCorasick,
    /// Pattern index -> (party index, alias kind); stop phrases have no party.
    patterns: Vec<Option<(usize, AliasKind)>>,
}

impl Gazetteer {
    /// The built-in gazetteer alone.
    pub fn builtin() -> Result<Self> {
        let (set, problems) = parse_parties(BUILTIN_TOML);
        if let Some(p) = problems.iter().find(|p| p.is_error) {
            return Err(Error::Other(format!(
                "built-in gazetteer line {:?}: {}",
                p.line, p.message
            )));
        }
        Self::from_set(set)
    }

    /// The built-in gazetteer with a user's parties file on top: a user party with a
    /// built-in id replaces it, and an alias the user gives to a party is taken away from
    /// any built-in party that had it (the user knows their corpus).
    pub fn with_user_file(path: Option<&Path>) -> Result<Self> {
        let (builtin, problems) = parse_parties(BUILTIN_TOML);
        if let Some(p) = problems.iter().find(|p| p.is_error) {
            return Err(Error::Other(format!(
                "built-in gazetteer line {:?}: {}",
                p.line, p.message
            )));
        }
        let Some(path) = path else {
            return Self::from_set(builtin);
        };
        let PartySet {
            mut parties,
            mut stops,
        } = builtin;
        let user_set = load_user_file(path)?;
        let user = user_set.parties;
        let user_aliases: std::collections::HashSet<String> = user
            .iter()
            .flat_map(|p| p.aliases.iter().chain(&p.capitals).chain(&p.demonyms))
            .cloned()
            .collect();
        let user_ids: std::collections::HashSet<&str> =
            user.iter().map(|p| p.id.as_str()).collect();
        parties.retain(|p| !user_ids.contains(p.id.as_str()));
        drop(user_ids);
        for p in &mut parties {
            p.aliases.retain(|a| !user_aliases.contains(a));
            p.capitals.retain(|a| !user_aliases.contains(a));
            p.demonyms.retain(|a| !user_aliases.contains(a));
        }
        parties.extend(user);
        stops.retain(|s| !user_aliases.contains(s));
        stops.extend(user_set.stops);
        Self::from_set(PartySet { parties, stops })
    }

    fn from_set(set: PartySet) -> Result<Self> {
        let PartySet { parties, stops } = set;
        let mut strings = Vec::new();
        let mut patterns = Vec::new();
        for s in stops {
            strings.push(s);
            patterns.push(None);
        }
        for (i, p) in parties.iter().enumerate() {
            for (list, kind) in [
                (&p.aliases, AliasKind::Name),
                (&p.capitals, AliasKind::Capital),
                (&p.demonyms, AliasKind::Demonym),
            ] {
                for a in list {
                    strings.push(a.clone());
                    patterns.push(Some((i, kind)));
                }
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&strings)
            .map_err(|e| Error::Other(format!("cannot build the alias matcher: {e}")))?;
        let by_id = parties
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Ok(Gazetteer {
            parties,
            by_id,
            automaton,
            patterns,
        })
    }

    pub fn parties(&self) -> &[Party] {
        &self.parties
    }

    pub fn party(&self, index: usize) -> &Party {
        &self.parties[index]
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// All party mentions in `text`, leftmost-longest, on whole words, in text order.
    pub fn find(&self, text: &str) -> Vec<Mention> {
        let mut candidates: Vec<(usize, usize, usize)> = Vec::new();
        for m in self.automaton.find_overlapping_iter(text) {
            let (s, e) = (m.start(), m.end());
            if starts_word(text, s) && ends_word(text, e) {
                candidates.push((s, e, m.pattern().as_usize()));
            }
        }
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out = Vec::new();
        let mut covered = 0usize;
        for (s, e, pat) in candidates {
            if s < covered {
                continue;
            }
            covered = e;
            if let Some((party, kind)) = self.patterns[pat] {
                out.push(Mention {
                    party,
                    start: s,
                    end: e,
                    kind,
                    possessive: is_possessive(text, e),
                });
            }
        }
        out
    }
}

fn starts_word(text: &str, start: usize) -> bool {
    text[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric())
}

fn ends_word(text: &str, end: usize) -> bool {
    // An alias that itself ends in punctuation ("U.S.") ends a word by construction.
    if text[..end]
        .chars()
        .next_back()
        .is_some_and(|c| !c.is_alphanumeric())
    {
        return true;
    }
    text[end..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric())
}

fn is_possessive(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let after_s = |r: &str| r.chars().next().is_none_or(|c| !c.is_alphanumeric());
    for apos in ["'s", "’s"] {
        if let Some(r) = rest.strip_prefix(apos) {
            return after_s(r);
        }
    }
    let ends_in_s = text[..end].ends_with('s');
    ends_in_s && (rest.starts_with("' ") || rest.starts_with("’ "))
}

/// Reads and checks a user's parties file; any error names the file and line.
pub fn load_user_file(path: &Path) -> Result<PartySet> {
    let src = std::fs::read_to_string(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let (parties, problems) = parse_parties(&src);
    if let Some(p) = problems.iter().find(|p| p.is_error) {
        let loc = Location {
            path: path.to_path_buf(),
            line: p.line,
            byte: None,
        };
        return Err(Error::data(loc, p.message.clone()));
    }
    Ok(parties)
}

/// Checks a parties file for `partyline parties`: every problem, with file and line.
pub fn check_file(path: &Path) -> Result<Vec<(PathBuf, Problem)>> {
    let src = std::fs::read_to_string(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let (_, problems) = parse_parties(&src);
    Ok(problems
        .into_iter()
        .map(|p| (path.to_path_buf(), p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = r#"
stop = ["Afghanistan Cricket Board"]

[[party]]
id = "TTP"
name = "Tehrik-i-Taliban Pakistan"
aliases = ["Tehrik-i-Taliban Pakistan", "TTP"]

[[party]]
id = "AFG"
name = "Afghanistan"
aliases = ["Afghanistan", "Kabul", "Taliban"]
demonyms = ["Afghan"]

[[party]]
id = "PAK"
name = "Pakistan"
aliases = ["Pakistan", "Islamabad"]
demonyms = ["Pakistani"]
"#;

    fn gaz(src: &str) -> Gazetteer {
        let (set, problems) = parse_parties(src);
        assert!(problems.iter().all(|p| !p.is_error), "{problems:?}");
        Gazetteer::from_set(set).unwrap()
    }

    fn ids(g: &Gazetteer, text: &str) -> Vec<String> {
        g.find(text)
            .iter()
            .map(|m| g.party(m.party).id.clone())
            .collect()
    }

    #[test]
    fn longest_match_wins() {
        let g = gaz(USER);
        assert_eq!(
            ids(&g, "attacks by the Tehrik-i-Taliban Pakistan (TTP)."),
            ["TTP", "TTP"]
        );
    }

    #[test]
    fn stop_phrases_name_no_party() {
        let g = gaz(USER);
        assert_eq!(
            ids(&g, "the Afghanistan Cricket Board and Afghanistan"),
            ["AFG"]
        );
    }

    #[test]
    fn whole_words_only() {
        let g = gaz(USER);
        assert_eq!(ids(&g, "Pakistani officials met Afghans"), ["PAK"]);
        assert_eq!(ids(&g, "Pakistanis"), Vec::<String>::new());
    }

    #[test]
    fn possessives_are_flagged() {
        let g = gaz(USER);
        let m = g.find("Pakistan’s negotiators and Kabul's envoy");
        assert!(m[0].possessive && m[1].possessive);
        assert_eq!(m[0].end, "Pakistan".len());
    }

    #[test]
    fn problems_carry_lines() {
        let src = "[[party]]\nid = \"AAA\"\naliases = [\"X\"]\n[[party]]\nid = \"BBB\"\naliases = [\"X\"]\n";
        let (_, problems) = parse_parties(src);
        let errors: Vec<_> = problems.iter().filter(|p| p.is_error).collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(6));
        assert!(errors[0].message.contains("two ids"));
        let (_, problems) = parse_parties("[[party]]\nid = \"AAA\"\naliases = [\"X\"\n");
        assert!(problems[0].message.starts_with("invalid TOML"));
        assert!(problems[0].line.is_some());
    }
}
