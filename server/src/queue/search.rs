//! Search: the jobs that match a query (`app::search`), a page at a time, with a continuation.
//!
//! Two walks, chosen per query from what Redis says they would cost (one round trip):
//! - **Index** (when the query names a job name or a top-level data field and that term's
//!   index set is smaller than the states asked for): the term's set in `index.rs`, newest
//!   first; each candidate's job is read and checked, its state looked up. Then, for the jobs
//!   other producers added (which are not indexed), the scan below, stepping over the jobs that
//!   the index walk already saw.
//! - **Scan**: the states' lists and sets in the listing's order (failed first for a search of
//!   failed reasons), each job read and checked.
//!
//! Each request examines at most [`BUDGET`] jobs; it keeps counting matches for
//! [`COUNT_AHEAD`] more jobs after its page is full (so small searches get an exact total) and
//! answers a cursor to go on from after its last job. Fields are measured before they are read: a job whose data or failed reason is
//! over [`MAX_MATCHED_BYTES`] does not match (it is never read whole).

use app::JobId;
use app::admin::JobPage;
use app::search::Search;
use app::types::JobState;
use serde_json::Value;

use super::inspect::{Source, listed_jobs, sources};
use super::{index, keys};
use crate::queue::record::text;
use crate::queue::{EngineError, TaskQueue};

/// Jobs one request examines at most.
pub const BUDGET: u64 = 5_000;
/// Jobs examined after the page is full, to count the matches of small searches exactly.
const COUNT_AHEAD: u64 = 1_000;
/// Jobs read per round.
const CHUNK: u64 = 500;
/// The largest data or failed reason a search reads to match.
pub const MAX_MATCHED_BYTES: i64 = 64 * 1024;
/// The form of a cursor, for the OpenAPI description.
pub const CURSOR_PATTERN: &str =
    r"^(i\.[0-9]{1,2}\.[0-9]{1,12}|s\.(-|[0-9]{1,2})\.[0-9]{1,2}\.[0-9]{1,12})$";

/// Where a search goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// In the index walk of the query's `term`-th indexed term, `offset` entries in.
    Index {
        /// Which of the query's indexed terms.
        term: usize,
        /// Entries already walked.
        offset: u64,
    },
    /// In the scan of the `source`-th list or set, `offset` entries in, stepping over the
    /// jobs of the index walk of `term` if there was one.
    Scan {
        /// The term the index walk used.
        term: Option<usize>,
        /// Which list or set.
        source: usize,
        /// Entries already walked.
        offset: u64,
    },
}

impl Cursor {
    /// Reads a cursor as [`Cursor::to_text`] writes it (and [`CURSOR_PATTERN`] describes).
    pub fn parse(raw: &str) -> Option<Self> {
        let parts: Vec<&str> = raw.split('.').collect();
        let number = |s: &str, digits: usize| {
            (!s.is_empty() && s.len() <= digits && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        match parts.as_slice() {
            ["i", term, offset] => Some(Cursor::Index {
                term: number(term, 2)? as usize,
                offset: number(offset, 12)?,
            }),
            ["s", term, source, offset] => Some(Cursor::Scan {
                term: if *term == "-" {
                    None
                } else {
                    Some(number(term, 2)? as usize)
                },
                source: number(source, 2)? as usize,
                offset: number(offset, 12)?,
            }),
            _ => None,
        }
    }

    /// The cursor as text.
    pub fn to_text(self) -> String {
        match self {
            Cursor::Index { term, offset } => format!("i.{term}.{offset}"),
            Cursor::Scan {
                term,
                source,
                offset,
            } => format!(
                "s.{}.{source}.{offset}",
                term.map_or("-".to_string(), |t| t.to_string())
            ),
        }
    }
}

/// The index keys of a query's name and top-level data terms.
fn indexed_terms(queue: &TaskQueue, search: &Search) -> Vec<String> {
    let mut terms: Vec<String> = search
        .name
        .as_deref()
        .and_then(index::name_term)
        .into_iter()
        .collect();
    for (path, value) in &search.data {
        if let [field] = path.as_slice() {
            terms.extend(index::data_term(field, value));
        }
    }
    terms.iter().map(|t| index::key(queue, t)).collect()
}

/// The lists and sets a search walks, in order.
fn search_sources(
    queue: &TaskQueue,
    search: &Search,
    states: &[JobState],
) -> Vec<(JobState, Source)> {
    let mut order: Vec<JobState> = states.to_vec();
    if !search.words.is_empty() {
        // Failed reasons are mostly on failed jobs: look there first.
        order.sort_by_key(|s| *s != JobState::Failed);
    }
    order
        .into_iter()
        .flat_map(|state| sources(queue, state).into_iter().map(move |s| (state, s)))
        .collect()
}

/// The page being filled.
struct Page {
    skip: u64,
    size: u64,
    matched: u64,
    picked: Vec<(JobState, String)>,
    next: Option<Cursor>,
}

impl Page {
    fn take(&mut self, state: JobState, id: String, after: Cursor) {
        self.matched += 1;
        if self.matched > self.skip && (self.picked.len() as u64) < self.size {
            self.picked.push((state, id));
            if self.picked.len() as u64 == self.size {
                self.next = Some(after);
            }
        }
    }
}

/// A candidate after its job was read.
enum Check {
    /// No job by that id (any more).
    Gone,
    /// The job does not match.
    No,
    /// It matches.
    Yes,
}

/// The ids a walk picked, with what it knows of the rest.
#[derive(Debug)]
pub struct Walked {
    /// The page's jobs: their state and id.
    pub picked: Vec<(JobState, String)>,
    /// Matches counted (all of them when `complete`).
    pub matched: u64,
    /// Whether every job was examined.
    pub complete: bool,
    /// Where to go on, when there may be more.
    pub next: Option<Cursor>,
    /// Jobs examined.
    pub examined: u64,
}

/// Runs `search` over `states` from `cursor` (or the start), skipping `skip` matches, for
/// page `page` of `size` (`skip` is `page × size`), and reads the page's jobs.
pub async fn run(
    queue: &TaskQueue,
    search: &Search,
    states: &[JobState],
    cursor: Option<Cursor>,
    page: u64,
    size: u64,
) -> Result<JobPage, EngineError> {
    let skip = page.saturating_mul(size);
    let walked = walk(queue, search, states, cursor, skip, size).await?;
    let (jobs, skipped) = listed_jobs(queue, &walked.picked).await?;
    Ok(JobPage {
        total: walked.matched,
        page,
        size,
        jobs,
        complete: walked.complete,
        next: walked.next.map(Cursor::to_text),
        skipped,
    })
}

/// As [`run`], answering the ids only.
pub async fn walk(
    queue: &TaskQueue,
    search: &Search,
    states: &[JobState],
    cursor: Option<Cursor>,
    skip: u64,
    size: u64,
) -> Result<Walked, EngineError> {
    walk_within(queue, search, states, cursor, skip, size, BUDGET).await
}

/// As [`walk`], examining at most `budget` jobs (a search across queues shares one budget
/// among them).
pub async fn walk_within(
    queue: &TaskQueue,
    search: &Search,
    states: &[JobState],
    cursor: Option<Cursor>,
    skip: u64,
    size: u64,
    budget: u64,
) -> Result<Walked, EngineError> {
    let terms = indexed_terms(queue, search);
    let sources = search_sources(queue, search, states);
    let mut at = match cursor {
        Some(cursor) => cursor,
        None => plan(queue, &terms, &sources).await?,
    };
    let mut page = Page {
        skip,
        size,
        matched: 0,
        picked: Vec::new(),
        next: None,
    };
    let mut examined = 0;
    let mut full_at: Option<u64> = None;
    let complete = loop {
        if full_at.is_none() && page.picked.len() as u64 == size {
            full_at = Some(examined);
        }
        let counted_enough = full_at.is_some_and(|at| examined >= at + COUNT_AHEAD);
        if examined >= budget || counted_enough {
            break false;
        }
        match at {
            Cursor::Index { term, offset } => {
                let Some(key) = terms.get(term) else {
                    at = Cursor::Scan {
                        term: None,
                        source: 0,
                        offset: 0,
                    };
                    continue;
                };
                let mut range = redis::cmd("ZREVRANGE");
                range.arg(key).arg(offset).arg(offset + CHUNK - 1);
                let ids = id_texts(queue.run_cmd(&range).await?);
                let walked = ids.len() as u64;
                let checks = check(queue, search, &ids).await?;
                let gone: Vec<&str> = ids
                    .iter()
                    .zip(&checks)
                    .filter(|(_, c)| matches!(c, Check::Gone))
                    .map(|(id, _)| id.as_str())
                    .collect();
                let _ = index::drop_gone(queue, key, &gone).await;
                let hits: Vec<(usize, &String)> = ids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| matches!(checks[*i], Check::Yes))
                    .collect();
                let hit_ids: Vec<&str> = hits.iter().map(|(_, id)| id.as_str()).collect();
                let hit_states = queue.states_of(&hit_ids).await?;
                for ((i, id), state) in hits.into_iter().zip(hit_states) {
                    if states.contains(&state) {
                        let after = Cursor::Index {
                            term,
                            offset: offset + i as u64 + 1,
                        };
                        page.take(state, id.clone(), after);
                    }
                }
                examined += walked;
                at = if walked < CHUNK {
                    Cursor::Scan {
                        term: Some(term),
                        source: 0,
                        offset: 0,
                    }
                } else {
                    Cursor::Index {
                        term,
                        offset: offset + walked,
                    }
                };
            }
            Cursor::Scan {
                term,
                source,
                offset,
            } => {
                let Some((state, list)) = sources.get(source) else {
                    break true;
                };
                let ids = id_texts(
                    queue
                        .run_cmd(&list.range(offset, offset + CHUNK - 1))
                        .await?,
                );
                let walked = ids.len() as u64;
                // Jobs in the walked term's set were seen by the index walk.
                let seen = match term.and_then(|t| terms.get(t)) {
                    Some(key) if !ids.is_empty() => {
                        let mut pipe = redis::pipe();
                        pipe.ignore_errors();
                        for id in &ids {
                            pipe.cmd("ZSCORE").arg(key).arg(id);
                        }
                        let scores: Vec<redis::Value> = queue.run(&pipe).await?;
                        scores.iter().map(|s| text(s).is_some()).collect()
                    }
                    _ => vec![false; ids.len()],
                };
                let fresh: Vec<(usize, String)> = ids
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !seen[*i])
                    .collect();
                let fresh_ids: Vec<String> = fresh.iter().map(|(_, id)| id.clone()).collect();
                let checks = check(queue, search, &fresh_ids).await?;
                for ((i, id), check) in fresh.into_iter().zip(checks) {
                    if matches!(check, Check::Yes) {
                        let after = Cursor::Scan {
                            term,
                            source,
                            offset: offset + i as u64 + 1,
                        };
                        page.take(*state, id, after);
                    }
                }
                examined += walked;
                at = if walked < CHUNK {
                    Cursor::Scan {
                        term,
                        source: source + 1,
                        offset: 0,
                    }
                } else {
                    Cursor::Scan {
                        term,
                        source,
                        offset: offset + walked,
                    }
                };
            }
        }
    };
    let full = page.picked.len() as u64 == size;
    let next = match (complete, full) {
        // Everything examined: more only if more matched than this page took.
        (true, _) => page.next.filter(|_| page.matched > skip + size),
        (false, true) => page.next,
        (false, false) => Some(at),
    };
    Ok(Walked {
        picked: page.picked,
        matched: page.matched,
        complete,
        next,
        examined,
    })
}

/// Where a new search starts: the index walk of its smallest term when that is smaller than
/// the states to scan, else the scan.
async fn plan(
    queue: &TaskQueue,
    terms: &[String],
    sources: &[(JobState, Source)],
) -> Result<Cursor, EngineError> {
    let scan = Cursor::Scan {
        term: None,
        source: 0,
        offset: 0,
    };
    if terms.is_empty() {
        return Ok(scan);
    }
    let mut pipe = redis::pipe();
    for key in terms {
        pipe.cmd("ZCARD").arg(key);
    }
    for (_, source) in sources {
        pipe.add_command(source.len());
    }
    let counts: Vec<u64> = queue.run(&pipe).await?;
    let (term_counts, source_counts) = counts.split_at(terms.len());
    let in_states: u64 = source_counts.iter().sum();
    let smallest = term_counts
        .iter()
        .enumerate()
        .min_by_key(|(_, n)| **n)
        .map(|(i, n)| (i, *n));
    Ok(match smallest {
        Some((term, n)) if n < in_states => Cursor::Index { term, offset: 0 },
        _ => scan,
    })
}

fn id_texts(reply: Vec<redis::Value>) -> Vec<String> {
    reply.iter().filter_map(text).collect()
}

/// Reads what the query needs of each job (sizes first) and checks it.
async fn check(
    queue: &TaskQueue,
    search: &Search,
    ids: &[String],
) -> Result<Vec<Check>, EngineError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys = queue.keys();
    let mut fields: Vec<&str> = Vec::new();
    if search.name.is_some() {
        fields.push("name");
    }
    if !search.data.is_empty() {
        fields.push("data");
    }
    if !search.words.is_empty() {
        fields.push("failedReason");
    }
    // Another producer's id may name a key that is not a hash: its error is that job's, not
    // the search's.
    // An id that can name no job (a key name, `:`) is not read at all.
    let valid: Vec<Option<JobId>> = ids.iter().map(|id| keys::is_job_id(id)).collect();
    let mut sizes = redis::pipe();
    sizes.ignore_errors();
    for id in valid.iter().flatten() {
        let key = keys.job(id);
        sizes.cmd("HEXISTS").arg(&key).arg("timestamp");
        for field in &fields {
            sizes.cmd("HSTRLEN").arg(&key).arg(*field);
        }
    }
    let sizes: Vec<i64> = queue
        .run::<Vec<redis::RedisResult<i64>>>(&sizes)
        .await?
        .into_iter()
        .map(|n| n.unwrap_or(0))
        .collect();
    let per = 1 + fields.len();
    let mut checks: Vec<Check> = Vec::with_capacity(ids.len());
    let mut to_read: Vec<usize> = Vec::new();
    let mut rows = sizes.chunks(per);
    for (i, id) in valid.iter().enumerate() {
        let row = match id {
            Some(_) => rows.next().unwrap_or(&[]),
            None => &[],
        };
        if row.first().is_none_or(|exists| *exists == 0) {
            checks.push(Check::Gone);
        } else if search.id_matches(&ids[i]) {
            // A people's label: the id decides (the query is that one word).
            checks.push(Check::Yes);
        } else if row[1..].iter().any(|n| *n > MAX_MATCHED_BYTES) {
            checks.push(Check::No);
        } else {
            checks.push(Check::Yes);
            to_read.push(i);
        }
    }
    if fields.is_empty() || to_read.is_empty() {
        return Ok(checks);
    }
    let mut read = redis::pipe();
    read.ignore_errors();
    for id in to_read.iter().filter_map(|i| valid[*i].as_ref()) {
        read.cmd("HMGET").arg(keys.job(id)).arg(&fields);
    }
    let rows: Vec<Vec<Option<Vec<u8>>>> = queue
        .run::<Vec<redis::RedisResult<Vec<Option<Vec<u8>>>>>>(&read)
        .await?
        .into_iter()
        .map(|row| row.unwrap_or_default())
        .collect();
    for (i, row) in to_read.into_iter().zip(rows) {
        let field = |name: &str| -> Option<String> {
            let at = fields.iter().position(|f| *f == name)?;
            row.get(at)?
                .as_ref()
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        };
        let name = field("name").unwrap_or_default();
        let data = field("data")
            .and_then(|raw| serde_json::from_str::<Value>(&raw).ok())
            .unwrap_or(Value::Null);
        let reason = field("failedReason");
        if !search.matches(&name, &data, reason.as_deref()) {
            checks[i] = Check::No;
        }
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back() {
        let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
        for cursor in [
            Cursor::Index { term: 0, offset: 0 },
            Cursor::Index {
                term: 3,
                offset: 123_456,
            },
            Cursor::Scan {
                term: None,
                source: 2,
                offset: 9,
            },
            Cursor::Scan {
                term: Some(1),
                source: 0,
                offset: 500,
            },
        ] {
            let text = cursor.to_text();
            assert!(pattern.is_match(&text), "{text}");
            assert_eq!(Cursor::parse(&text), Some(cursor));
        }
        for bad in [
            "",
            "i",
            "i.1",
            "i.x.1",
            "s.1.2",
            "s.-.x.1",
            "i.123.1",
            "i.1.1234567890123",
            "q.1.1",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
