//! A search across queues: the jobs listing's search language, run queue after queue over
//! every queue the caller's grant reaches (or only Sentinel's own and the queue in view), with
//! one budget of examined jobs shared by all of them, so that each answer stays bounded
//! whatever the number of queues. The queue in view comes first, then Sentinel's own, then the
//! others in the queues page's order. The cursor names the queue it goes on in and where in it.

use app::admin::{AcrossPage, AcrossQuery, FoundJob, ListedJob, MAX_PAGE_SIZE, QueueName};
use app::search::Search;
use app::types::JobState;

use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::{TaskQueue, inspect, search};

/// Jobs one request examines at most, over all the queues it searches.
pub const BUDGET: u64 = search::BUDGET;

/// The form of a cursor of a search across queues, for the OpenAPI description: an inner
/// cursor (or `-`), `@`, a queue's name.
pub fn cursor_pattern() -> String {
    let inner = search::CURSOR_PATTERN
        .trim_start_matches('^')
        .trim_end_matches('$');
    format!(
        r"^(-|{inner})@[^\u0000-\u001f\u007f-\u009f]{{1,256}}:[^:\u0000-\u001f\u007f-\u009f]{{1,256}}$"
    )
}

/// Where a search across queues goes on: in `queue`, at `inner` (from its start when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrossCursor {
    /// The queue, `<prefix>:<name>`.
    pub queue: String,
    /// Where in it.
    pub inner: Option<search::Cursor>,
}

impl AcrossCursor {
    /// `<inner>@<queue>` (`-` for the start of the queue): the inner cursor has no `@`.
    pub fn to_text(&self) -> String {
        let inner = self
            .inner
            .map_or_else(|| "-".to_string(), search::Cursor::to_text);
        format!("{inner}@{}", self.queue)
    }

    /// Reads what [`AcrossCursor::to_text`] writes.
    pub fn parse(raw: &str) -> Option<Self> {
        let (inner, queue) = raw.split_once('@')?;
        QueueName::parse(queue).ok()?;
        let inner = match inner {
            "-" => None,
            other => Some(search::Cursor::parse(other)?),
        };
        Some(Self {
            queue: queue.to_string(),
            inner,
        })
    }
}

/// What one queue gave.
struct InQueue {
    jobs: Vec<ListedJob>,
    matched: u64,
    complete: bool,
    next: Option<search::Cursor>,
    examined: u64,
}

impl Sentinel {
    /// A page of the jobs `asked.q` finds across queues: what `GET /admin/api/search`
    /// answers. The caller's role is checked first; queues outside its grant are never read.
    pub async fn search_across(
        &self,
        who: &Principal,
        asked: &AcrossQuery,
    ) -> Result<AcrossPage, AppError> {
        self.allow(who, Op::ReadJobs).await?;
        // A blank search finds every job (each queue's listing order), bounded as any search.
        let parsed = Search::parse(asked.q.trim()).map_err(|e| AppError::param("q", e.0))?;
        if asked.size == 0 || asked.size > MAX_PAGE_SIZE as u64 {
            return Err(AppError::param(
                "size",
                "must be a whole number from 1 to 100",
            ));
        }
        let cursor = match asked.cursor.as_deref() {
            None => None,
            Some(raw) => Some(AcrossCursor::parse(raw).ok_or_else(|| {
                AppError::param(
                    "cursor",
                    "must be a cursor from a search's answer (its `next`)",
                )
            })?),
        };
        if let Some(view) = asked.queue.as_deref() {
            self.queue_name(Some(view))?;
        }
        let order = self.search_order(who, asked).await?;
        let start = match &cursor {
            None => 0,
            // A queue that is gone, or that the caller may not see: the same 404 as anywhere.
            Some(at) => {
                order
                    .iter()
                    .position(|q| *q == at.queue)
                    .ok_or_else(|| AppError::NoQueue {
                        queue: at.queue.clone(),
                    })?
            }
        };
        let states: Vec<JobState> = if parsed.states.is_empty() {
            inspect::DEFAULT_STATES.to_vec()
        } else {
            parsed.states.clone()
        };
        let mut budget = BUDGET;
        let mut next: Option<AcrossCursor> = None;
        let mut page = AcrossPage {
            jobs: Vec::new(),
            queues: Vec::new(),
            of: order.len() as u64,
            complete: false,
            next: None,
        };
        for (at, name) in order.iter().enumerate().skip(start) {
            let room = asked.size - page.jobs.len() as u64;
            if room == 0 || budget == 0 {
                next = Some(AcrossCursor {
                    queue: name.clone(),
                    inner: None,
                });
                break;
            }
            let queue = match self.target(who, Some(name)).await {
                Ok(queue) => queue,
                // Gone since the queues were listed, or one Sentinel lists but cannot open.
                Err(AppError::NoQueue { .. } | AppError::InvalidOption(_)) => continue,
                Err(other) => return Err(other),
            };
            let inner = if at == start {
                cursor.as_ref().and_then(|c| c.inner)
            } else {
                None
            };
            let found = in_queue(&queue, &parsed, &states, inner, room, budget).await?;
            budget = budget.saturating_sub(found.examined);
            page.queues.push(app::admin::QueueMatches {
                queue: name.clone(),
                matches: found.matched,
                complete: found.complete,
            });
            page.jobs
                .extend(found.jobs.into_iter().map(|listed| FoundJob {
                    queue: name.clone(),
                    listed,
                }));
            if let Some(inner) = found.next {
                next = Some(AcrossCursor {
                    queue: name.clone(),
                    inner: Some(inner),
                });
                break;
            }
        }
        page.complete = next.is_none();
        page.next = next.map(|c| c.to_text());
        Ok(page)
    }

    /// The queues a search across queues covers, in the order it searches them: the queue in
    /// view, Sentinel's own, then (unless only those are asked) every other queue `who` may
    /// see, in the queues page's order.
    async fn search_order(
        &self,
        who: &Principal,
        asked: &AcrossQuery,
    ) -> Result<Vec<String>, AppError> {
        let home = self.home_name();
        let mut order: Vec<String> = Vec::new();
        let add = |name: &QueueName, order: &mut Vec<String>| {
            let text = name.text();
            if who.may_see_queue(&name.prefix, &name.name) && !order.contains(&text) {
                order.push(text);
            }
        };
        if let Some(view) = asked.queue.as_deref() {
            add(&self.queue_name(Some(view))?, &mut order);
        }
        if !who.home_hidden {
            add(&home, &mut order);
        }
        if !asked.only_in_view {
            let found = self.discovered(false).await?;
            for queue in &found.queues {
                let name = QueueName {
                    prefix: queue.prefix.clone(),
                    name: queue.name.clone(),
                };
                add(&name, &mut order);
            }
        }
        Ok(order)
    }
}

/// One queue's part: as the jobs listing searches one queue (an id, a bare word that is an id,
/// or the walk), at most `room` jobs, examining at most `budget`.
async fn in_queue(
    queue: &TaskQueue,
    parsed: &Search,
    states: &[JobState],
    cursor: Option<search::Cursor>,
    room: u64,
    budget: u64,
) -> Result<InQueue, AppError> {
    if cursor.is_none()
        && let Some(found) = super::jobs::by_id_first(queue, parsed, states, 0, room).await?
    {
        return Ok(InQueue {
            matched: found.total,
            jobs: found.jobs,
            complete: true,
            next: None,
            examined: 1,
        });
    }
    let walked = search::walk_within(queue, parsed, states, cursor, 0, room, budget).await?;
    let (jobs, _skipped) = inspect::listed_jobs(queue, &walked.picked).await?;
    Ok(InQueue {
        jobs,
        matched: walked.matched,
        complete: walked.complete,
        next: walked.next,
        examined: walked.examined.max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back() {
        let pattern = regex::Regex::new(&cursor_pattern()).unwrap();
        for cursor in [
            AcrossCursor {
                queue: "bull:payments".into(),
                inner: None,
            },
            AcrossCursor {
                queue: "{team}:a@b".into(),
                inner: Some(search::Cursor::Scan {
                    term: None,
                    source: 2,
                    offset: 500,
                }),
            },
        ] {
            assert!(pattern.is_match(&cursor.to_text()), "{}", cursor.to_text());
            assert_eq!(AcrossCursor::parse(&cursor.to_text()), Some(cursor));
        }
        for bad in ["", "-", "@", "-@nocolon", "x.1@bull:a", "s.-.1.2"] {
            assert_eq!(AcrossCursor::parse(bad), None, "{bad}");
        }
    }
}
