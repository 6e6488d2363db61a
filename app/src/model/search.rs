//! The admin search language, shared so the dashboard checks a query exactly as the server
//! does: `id:42`, `name:longTask`, `state:failed,completed`, `data.<field>:<value>` (a dotted
//! path into the job's data), and words (or `"quoted phrases"`) that must all appear in the
//! failed reason. Values with spaces or `:` are quoted: `name:"nightly: export"`.
//!
//! The grammar is exact (the OpenAPI pattern [`QUERY_PATTERN`] says the same): tokens are
//! separated by spaces; a bare word holds no `:` or `"`; control characters never appear. A
//! query that is one bare word is also looked up as a job id.

use serde_json::Value;

use crate::model::types::JobState;

/// The longest query taken, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// The query grammar as a regular expression (ECMA-262), for the OpenAPI description.
pub const QUERY_PATTERN: &str = r#"^ *((id:("[^"\u0000-\u001f\u007f-\u009f:]+"|[^ ":\u0000-\u001f\u007f-\u009f]+)|name:("[^"\u0000-\u001f\u007f-\u009f]*"|[^ ":\u0000-\u001f\u007f-\u009f]+)|state:(waiting|active|delayed|prioritized|completed|failed|waiting-children)(,(waiting|active|delayed|prioritized|completed|failed|waiting-children))*|data\.[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*:("[^"\u0000-\u001f\u007f-\u009f]*"|[^ ":\u0000-\u001f\u007f-\u009f]+)|"[^"\u0000-\u001f\u007f-\u009f]*"|[^ ":\u0000-\u001f\u007f-\u009f]+)( +(id:("[^"\u0000-\u001f\u007f-\u009f:]+"|[^ ":\u0000-\u001f\u007f-\u009f]+)|name:("[^"\u0000-\u001f\u007f-\u009f]*"|[^ ":\u0000-\u001f\u007f-\u009f]+)|state:(waiting|active|delayed|prioritized|completed|failed|waiting-children)(,(waiting|active|delayed|prioritized|completed|failed|waiting-children))*|data\.[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*:("[^"\u0000-\u001f\u007f-\u009f]*"|[^ ":\u0000-\u001f\u007f-\u009f]+)|"[^"\u0000-\u001f\u007f-\u009f]*"|[^ ":\u0000-\u001f\u007f-\u009f]+))*)? *$"#;

/// A parsed search: every part given must hold for a job to match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// `id:` (the last one given).
    pub id: Option<String>,
    /// `name:` (the last one given).
    pub name: Option<String>,
    /// `state:` (all given, in order, once each); empty means any state.
    pub states: Vec<JobState>,
    /// `data.<path>:<value>`: the path's segments and the value.
    pub data: Vec<(Vec<String>, String)>,
    /// Words and phrases that must appear in the failed reason (lower-cased; empty ones left
    /// out).
    pub words: Vec<String>,
    /// The query was one bare word: also a job id (a leading `#`, as people's labels have,
    /// left out).
    pub bare: Option<String>,
    /// The query was one bare word that can be a people's label (`#3f9a1c0b`, `3f9a1c0b`: 4
    /// to 32 hex digits): a job whose id starts with `idem-<those digits>` matches too.
    pub id_prefix: Option<String>,
}

/// Why a query was refused (the message names the part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

fn refuse(message: impl Into<String>) -> QueryError {
    QueryError(message.into())
}

/// A character a bare word or value may hold.
fn bare_char(c: char) -> bool {
    c != ' ' && c != '"' && c != ':' && !c.is_control()
}

/// A character a field name may hold.
fn field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-')
}

/// A value: `"anything but quotes"` or a bare word. `None` when it is neither.
fn value(raw: &str, allow_empty: bool) -> Option<String> {
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        if inner.contains('"') || inner.chars().any(char::is_control) {
            return None;
        }
        if inner.is_empty() && !allow_empty {
            return None;
        }
        return Some(inner.to_string());
    }
    (!raw.is_empty() && raw.chars().all(bare_char)).then(|| raw.to_string())
}

fn short(text: &str) -> String {
    crate::model::text::shorten(text, 40)
}

/// Splits a query into tokens at spaces outside quotes.
fn tokens(q: &str) -> Result<Vec<&str>, QueryError> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (at, c) in q.char_indices() {
        match (c, quoted) {
            ('"', _) => {
                quoted = !quoted;
                start.get_or_insert(at);
            }
            (' ', false) => {
                if let Some(from) = start.take() {
                    tokens.push(&q[from..at]);
                }
            }
            _ => {
                start.get_or_insert(at);
            }
        }
    }
    if quoted {
        return Err(refuse("a quote is not closed"));
    }
    if let Some(from) = start {
        tokens.push(&q[from..]);
    }
    Ok(tokens)
}

impl Search {
    /// Parses a query (see the module's grammar).
    pub fn parse(q: &str) -> Result<Self, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(refuse(format!(
                "a search is at most {MAX_QUERY_CHARS} characters"
            )));
        }
        if q.chars().any(char::is_control) {
            return Err(refuse("a search holds no control characters"));
        }
        let mut search = Search::default();
        let tokens = tokens(q)?;
        let only = tokens.len() == 1;
        for token in tokens {
            search.add(token, only)?;
        }
        Ok(search)
    }

    fn add(&mut self, token: &str, only: bool) -> Result<(), QueryError> {
        if token.starts_with('"') {
            let phrase = value(token, true)
                .ok_or_else(|| refuse(format!("{:?} is not a quoted phrase", short(token))))?;
            if !phrase.is_empty() {
                self.words.push(phrase.to_lowercase());
            }
            return Ok(());
        }
        let Some((qualifier, raw)) = token.split_once(':') else {
            if !token.chars().all(bare_char) {
                return Err(refuse(format!(
                    "{:?}: put a word holding a quote in quotes",
                    short(token)
                )));
            }
            if only {
                let word = token
                    .strip_prefix('#')
                    .filter(|w| !w.is_empty())
                    .unwrap_or(token);
                self.bare = Some(word.to_string());
                if (4..=32).contains(&word.len()) && word.chars().all(|c| c.is_ascii_hexdigit()) {
                    self.id_prefix = Some(format!("idem-{}", word.to_ascii_lowercase()));
                }
            }
            self.words.push(token.to_lowercase());
            return Ok(());
        };
        match qualifier {
            "id" => {
                let id = value(raw, false)
                    .filter(|id| !id.contains(':'))
                    .ok_or_else(|| refuse("id: takes a job id (no ':'; quote one with spaces)"))?;
                self.id = Some(id);
            }
            "name" => {
                self.name = Some(value(raw, true).ok_or_else(|| {
                    refuse("name: takes a job name (quote one with spaces or ':')")
                })?);
            }
            "state" => {
                for name in raw.split(',') {
                    let state = JobState::parse(name).ok_or_else(|| {
                        refuse(format!(
                            "{:?} is not a state; use waiting, active, delayed, prioritized, completed, failed or waiting-children",
                            short(name)
                        ))
                    })?;
                    if !self.states.contains(&state) {
                        self.states.push(state);
                    }
                }
            }
            _ => {
                let Some(path) = qualifier.strip_prefix("data.") else {
                    return Err(refuse(format!(
                        "{:?} is not a qualifier; use id:, name:, state:, data.<field>: or words of the failed reason (quote text holding ':')",
                        short(qualifier)
                    )));
                };
                let segments: Vec<String> = path.split('.').map(str::to_string).collect();
                if segments
                    .iter()
                    .any(|s| s.is_empty() || !s.chars().all(field_char))
                {
                    return Err(refuse(format!(
                        "{:?} is not a data field: letters, digits, _ $ - and dots between names",
                        short(path)
                    )));
                }
                let wanted = value(raw, true).ok_or_else(|| {
                    refuse(format!(
                        "data.{}: takes a value (quote one with spaces or ':')",
                        short(path)
                    ))
                })?;
                self.data.push((segments, wanted));
            }
        }
        Ok(())
    }

    /// Whether nothing but states is asked (a plain listing).
    pub fn only_states(&self) -> bool {
        self.id.is_none() && self.name.is_none() && self.data.is_empty() && self.words.is_empty()
    }

    /// Whether a job with this name, data and failed reason matches (states and id aside).
    pub fn matches(&self, name: &str, data: &Value, failed_reason: Option<&str>) -> bool {
        if self.name.as_deref().is_some_and(|wanted| wanted != name) {
            return false;
        }
        if !self
            .data
            .iter()
            .all(|(path, wanted)| value_at(data, path).is_some_and(|v| equals(v, wanted)))
        {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let Some(reason) = failed_reason else {
            return false;
        };
        let reason = reason.to_lowercase();
        self.words.iter().all(|word| reason.contains(word.as_str()))
    }

    /// Whether job `id` matches by the people's label the query is (see [`Search::id_prefix`]).
    pub fn id_matches(&self, id: &str) -> bool {
        self.id_prefix
            .as_deref()
            .is_some_and(|prefix| id.starts_with(prefix))
    }

    /// Whether a job in `state` matches the states asked.
    pub fn in_states(&self, state: JobState) -> bool {
        self.states.is_empty() || self.states.contains(&state)
    }
}

fn value_at<'a>(data: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(data, |at, segment| at.get(segment.as_str()))
}

/// Whether a JSON value equals a query value: a string exactly, a number numerically, a
/// boolean or `null` by its text, an array when any element does.
pub fn equals(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(text) => text == wanted,
        Value::Number(n) => match (n.as_f64(), wanted.trim().parse::<f64>()) {
            (Some(have), Ok(want)) => wanted.trim() == wanted && have == want,
            _ => false,
        },
        Value::Bool(b) => wanted == if *b { "true" } else { "false" },
        Value::Null => wanted == "null",
        Value::Array(items) => items
            .iter()
            .any(|item| !item.is_array() && equals(item, wanted)),
        Value::Object(_) => false,
    }
}

/// The form a value takes in the search index: numbers in one spelling (`5`, `5.0` and `"5"`
/// meet), other text as it is.
pub fn index_form(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && text.trim() == text && !text.is_empty() => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                format!("{}", n as i64)
            } else {
                format!("{n}")
            }
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_each_part() {
        let s = Search::parse(
            r#" name:longTask  state:failed,completed data.user.id:"a b" "Time Out" boom id:7 "#,
        )
        .unwrap();
        assert_eq!(s.name.as_deref(), Some("longTask"));
        assert_eq!(s.states, vec![JobState::Failed, JobState::Completed]);
        assert_eq!(
            s.data,
            vec![(vec!["user".into(), "id".into()], "a b".to_string())]
        );
        assert_eq!(s.words, vec!["time out".to_string(), "boom".to_string()]);
        assert_eq!(s.id.as_deref(), Some("7"));
        assert_eq!(s.bare, None);
        assert_eq!(Search::parse("42").unwrap().bare.as_deref(), Some("42"));
        // A people's label: `#` left out for the id, and its hex digits as an id prefix.
        let label = Search::parse("#B1003114").unwrap();
        assert_eq!(label.bare.as_deref(), Some("B1003114"));
        assert_eq!(label.id_prefix.as_deref(), Some("idem-b1003114"));
        assert!(label.id_matches("idem-b1003114aa00"));
        assert!(!label.id_matches("idem-b1003115aa00"));
        assert_eq!(Search::parse("#42").unwrap().bare.as_deref(), Some("42"));
        assert_eq!(Search::parse("#42").unwrap().id_prefix, None);
        assert_eq!(Search::parse("b100 boom").unwrap().id_prefix, None);
        assert!(Search::parse("").unwrap().only_states());
        assert_eq!(
            Search::parse(r#"name:"a: b""#).unwrap().name.as_deref(),
            Some("a: b")
        );
        assert_eq!(Search::parse(r#""""#).unwrap(), Search::default());
    }

    #[test]
    fn refuses_what_the_grammar_does_not_hold() {
        for bad in [
            "foo:bar",
            "state:bogus",
            "state:",
            "state:failed,",
            "data.:5",
            "data.a..b:5",
            "data.a b:5",
            "data.x:",
            "id:",
            r#"id:"""#,
            r#"id:"a:b""#,
            r#""open"#,
            r#"a"b"#,
            r#""a"b"#,
            "name:",
            "tab\there",
        ] {
            assert!(Search::parse(bad).is_err(), "{bad:?} was taken");
        }
        assert!(Search::parse(&"x".repeat(201)).is_err());
        assert!(Search::parse(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn matches_name_data_and_reason() {
        let data = json!({"seconds": 5, "user": {"id": "u1"}, "tags": ["a", "b"], "ok": true});
        let s = |q: &str| Search::parse(q).unwrap();
        assert!(s("name:longTask data.seconds:5").matches("longTask", &data, None));
        assert!(s("data.seconds:5.0").matches("x", &data, None));
        assert!(!s("data.seconds:6").matches("x", &data, None));
        assert!(!s("name:other").matches("longTask", &data, None));
        assert!(s("data.user.id:u1 data.tags:b data.ok:true").matches("x", &data, None));
        assert!(!s("data.user:u1").matches("x", &data, None));
        assert!(!s("data.missing:1").matches("x", &data, None));
        assert!(s("timed OUT").matches("x", &data, Some("Timed out after 5 ms")));
        assert!(!s("timed boom").matches("x", &data, Some("Timed out after 5 ms")));
        assert!(!s("timed").matches("x", &data, None));
        assert!(s(r#""out after""#).matches("x", &data, Some("timed out after 1 ms")));
    }

    #[test]
    fn index_form_meets_numbers_and_text() {
        assert_eq!(index_form("5"), "5");
        assert_eq!(index_form("5.0"), "5");
        assert_eq!(index_form("5.5"), "5.5");
        assert_eq!(index_form("abc"), "abc");
        assert_eq!(index_form(" 5"), " 5");
        assert_eq!(index_form("NaN"), "NaN");
    }
}

#[cfg(test)]
mod grammar {
    use super::*;

    /// The OpenAPI pattern and the parser take exactly the same queries: checked on queries
    /// built from the pieces the grammar turns on.
    #[test]
    fn pattern_and_parser_agree() {
        let pattern = regex::Regex::new(QUERY_PATTERN).unwrap();
        let pieces = [
            "id:",
            "name:",
            "state:",
            "data.",
            "failed",
            "waiting",
            ",",
            ":",
            "\"",
            " ",
            "  ",
            "a",
            "7",
            ".",
            "x.y",
            "é",
            "\t",
            "$",
            "-",
            "waiting-children",
            "\u{85}",
            "\u{a0}",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut taken, mut refused) = (0, 0);
        for _ in 0..200_000 {
            let len = 1 + next(7);
            let q: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            let parsed = Search::parse(&q).is_ok();
            assert_eq!(parsed, pattern.is_match(&q), "{q:?}");
            if parsed { taken += 1 } else { refused += 1 }
        }
        assert!(
            taken > 10_000 && refused > 10_000,
            "{taken} taken, {refused} refused"
        );
    }
}
