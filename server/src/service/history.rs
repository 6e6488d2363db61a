//! Every queue's history (see `queue/history.rs` for what is kept and where): the collector that
//! reads each queue's events stream and adds what finished to the history, one process at a
//! time, and the read behind each queue's charts.
//!
//! The collector runs in every process every `SENTINEL_HISTORY_EVERY_MS`; only the lease's
//! holder reads and writes. A round: one pipelined `XREAD` for every queue found on the Redis
//! (a queue with nothing new costs that one command), then, for the queues that moved, the
//! times of jobs whose start it did not see (read from the job if still kept), the stored
//! periods it touches that it does not hold in memory, and one script per queue that writes
//! them and moves the cursor. A queue whose read filled its batch is read again at once, up to
//! [`MAX_READS_PER_ROUND`] times.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use app::JobId;
use app::admin::{History, HistoryRange, MinuteStats};

use super::{Op, Sentinel};
use crate::auth::Principal;
use crate::error::AppError;
use crate::queue::TaskQueue;
use crate::queue::discovery::FoundQueue;
use crate::queue::history::{
    self as store, Cursor, Event, Kind, Record, TIERS, Tier, Write, Written,
};
use crate::queue::stats::bucket;
use crate::queue::stream::StreamId;

/// Events read from one queue in one read, at most (fewer when there are many queues: see
/// [`MAX_EVENTS_PER_READ`]).
const EVENTS_PER_QUEUE: usize = 1000;
/// Events read from all queues in one read, at most.
const MAX_EVENTS_PER_READ: usize = 200_000;
/// Reads of one round (a queue with more events than that is caught up over several rounds).
pub const MAX_READS_PER_ROUND: usize = 20;
/// Jobs whose times are read from their hash in one round, at most.
const MAX_TIME_LOOKUPS: usize = 5000;
/// How often a queue's periods past their keep are dropped (ms).
const TRIM_EVERY_MS: u64 = 600_000;
/// Jobs of one queue whose start is remembered, at most.
const MAX_STARTS_PER_QUEUE: usize = 100_000;

/// What one read of every pending queue did.
struct Read<'q> {
    /// Events read.
    events: usize,
    /// Queues whose history was written; `None` when this process must stop (it lost the
    /// lease, or another collector moved a cursor).
    written: Option<usize>,
    /// The queues whose batch was full (read again at once).
    full: Vec<&'q FoundQueue>,
}

/// What one read found of one queue: its new cursor and the periods its events touched.
struct Delta<'q> {
    name: String,
    queue: &'q FoundQueue,
    cursor: Cursor,
    periods: BTreeMap<(Tier, u64), Record>,
}

/// A job that finished without the collector seeing it start: its times are read from its
/// hash if it is still kept, else what the events gave is used.
struct Lookup {
    /// Its queue's index among the [`Delta`]s.
    delta: usize,
    job: JobId,
    /// When it finished.
    at: u64,
    wait: Option<u64>,
    run: Option<u64>,
}

/// When a job the collector saw start was added and taken.
#[derive(Debug, Clone, Copy, Default)]
struct Starts {
    added: Option<u64>,
    first_taken: Option<u64>,
    last_taken: Option<u64>,
}

/// The collector of one process. Its memory (cursors, the last period of each resolution it
/// wrote, the starts it saw) is only a cache of what Redis holds: a collector that loses the
/// lease forgets it and reads it back when it holds the lease again.
pub struct HistoryCollector {
    me: String,
    lease_ms: u64,
    /// Queue → (the cursor as stored, parsed if it parses); `None` until read from Redis.
    cursors: Option<HashMap<String, (String, Option<Cursor>)>>,
    /// (queue, resolution) → the last period written.
    last: HashMap<(String, Tier), (u64, Record)>,
    starts: HashMap<String, HashMap<String, Starts>>,
    /// Queue → when its old periods were last dropped (ms).
    trimmed: HashMap<String, u64>,
    /// The queues found last, and when (read again after the least interval between scans).
    found: Option<(
        tokio::time::Instant,
        std::sync::Arc<crate::queue::discovery::Found>,
    )>,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Whether this process held the lease.
    pub held: bool,
    /// Queues read.
    pub queues: usize,
    /// Events read.
    pub events: usize,
    /// Queues whose history was written.
    pub written: usize,
}

impl HistoryCollector {
    /// A collector for the process `me`, its lease held `lease_ms` past each round.
    pub fn new(me: &str, lease_ms: u64) -> Self {
        Self {
            me: me.to_string(),
            lease_ms,
            cursors: None,
            last: HashMap::new(),
            starts: HashMap::new(),
            trimmed: HashMap::new(),
            found: None,
        }
    }

    fn forget(&mut self) {
        self.cursors = None;
        self.last.clear();
        self.starts.clear();
        self.trimmed.clear();
    }

    /// One round over every queue `sentinel` finds on the Redis.
    pub async fn round(&mut self, sentinel: &Sentinel) -> Result<Round, AppError> {
        let home = sentinel.queue()?;
        if !store_lease(home, &self.me, self.lease_ms).await? {
            self.forget();
            return Ok(Round::default());
        }
        let every = Duration::from_millis(sentinel.config().guards.discovery_min_interval_ms);
        let found = match &self.found {
            Some((at, found)) if at.elapsed() < every => found.clone(),
            _ => {
                let found = std::sync::Arc::new(sentinel.discovered_in_background().await?);
                self.found = Some((tokio::time::Instant::now(), found.clone()));
                found
            }
        };
        let cluster = !sentinel.config().redis_cluster_nodes.is_empty();
        let mut round = Round {
            held: true,
            queues: found.queues.len(),
            ..Round::default()
        };
        let mut pending: Vec<&FoundQueue> = found.queues.iter().collect();
        for _ in 0..MAX_READS_PER_ROUND {
            if pending.is_empty() {
                break;
            }
            let read = self.read_once(home, &pending, cluster).await?;
            round.events += read.events;
            let Some(written) = read.written else {
                // The lease is gone or another collector wrote: stop here.
                round.written = 0;
                break;
            };
            round.written += written;
            pending = read.full;
        }
        Ok(round)
    }

    /// One read of `queues` and its writes.
    async fn read_once<'q>(
        &mut self,
        home: &TaskQueue,
        queues: &[&'q FoundQueue],
        cluster: bool,
    ) -> Result<Read<'q>, AppError> {
        if self.cursors.is_none() {
            self.cursors = Some(store::cursors(home).await?);
            self.last.clear();
        }
        let per_queue = (MAX_EVENTS_PER_READ / queues.len().max(1)).clamp(10, EVENTS_PER_QUEUE);
        let cursors = self.cursors.as_ref().expect("read above");
        let asks: Vec<(&FoundQueue, Option<StreamId>)> = queues
            .iter()
            .map(|q| (*q, cursor_of(cursors, q).map(|c| c.last)))
            .collect();
        let read = store::read_events(home, &asks, per_queue, cluster).await?;
        let moved: Vec<(&'q FoundQueue, Vec<Event>)> = queues
            .iter()
            .zip(read)
            .filter(|(_, events)| !events.is_empty())
            .map(|(q, events)| (*q, events))
            .collect();
        let events: usize = moved.iter().map(|(_, e)| e.len()).sum();
        let full: Vec<&'q FoundQueue> = moved
            .iter()
            .filter(|(_, e)| e.len() >= per_queue)
            .map(|(q, _)| *q)
            .collect();
        if moved.is_empty() {
            return Ok(Read {
                events: 0,
                written: Some(0),
                full,
            });
        }
        // Events lost: the stream's oldest entry is past the cursor (trimmed before it was read).
        let with_cursor: Vec<&FoundQueue> = moved
            .iter()
            .filter(|(q, _)| cursor_of(cursors, q).is_some())
            .map(|(q, _)| *q)
            .collect();
        let firsts = store::first_ids(home, &with_cursor, cluster).await?;
        let trimmed: HashMap<String, StreamId> = with_cursor
            .iter()
            .zip(firsts)
            .filter_map(|(q, first)| Some((q.text(), first?)))
            .collect();

        let mut deltas: Vec<Delta<'q>> = Vec::new();
        let mut lookups: Vec<Lookup> = Vec::new();
        for (queue, events) in &moved {
            let name = queue.text();
            let was = cursor_of(cursors, queue);
            let mut periods: BTreeMap<(Tier, u64), Record> = BTreeMap::new();
            if let (Some(was), Some(first)) = (was, trimmed.get(&name))
                && *first > was.last
                && events.first().map(|e| e.id) == Some(*first)
            {
                add(&mut periods, first.ms(), |r| r.lost += 1);
            }
            let starts = self.starts.entry(name.clone()).or_default();
            for event in events {
                let at = event.id.ms();
                let Some(job) = &event.job else { continue };
                match event.kind {
                    Kind::Added => {
                        starts.insert(
                            job.as_str().to_string(),
                            Starts {
                                added: Some(at),
                                ..Starts::default()
                            },
                        );
                    }
                    Kind::Active => {
                        let s = starts.entry(job.as_str().to_string()).or_default();
                        s.first_taken.get_or_insert(at);
                        s.last_taken = Some(at);
                    }
                    Kind::Completed | Kind::Failed => {
                        let seen = starts.remove(job.as_str()).unwrap_or_default();
                        let wait = seen
                            .first_taken
                            .zip(seen.added)
                            .map(|(t, a)| t.saturating_sub(a));
                        let run = seen.last_taken.map(|t| at.saturating_sub(t));
                        if event.kind == Kind::Completed {
                            add(&mut periods, at, |r| r.completed += 1);
                        } else {
                            add(&mut periods, at, |r| r.failed += 1);
                        }
                        if (wait.is_none() || run.is_none()) && lookups.len() < MAX_TIME_LOOKUPS {
                            lookups.push(Lookup {
                                delta: deltas.len(),
                                job: job.clone(),
                                at,
                                wait,
                                run,
                            });
                        } else {
                            add_times(&mut periods, at, wait, run);
                        }
                    }
                    Kind::Removed => {
                        starts.remove(job.as_str());
                    }
                    Kind::Other => {}
                }
            }
            if starts.len() > MAX_STARTS_PER_QUEUE {
                let hour_ago = crate::clock::now_ms().saturating_sub(3_600_000);
                starts.retain(|_, s| s.last_taken.or(s.added).is_some_and(|t| t >= hour_ago));
                if starts.len() > MAX_STARTS_PER_QUEUE {
                    starts.clear();
                }
            }
            let last = events.last().map_or(StreamId::ZERO, |e| e.id);
            let since = was.map_or_else(|| events.first().map_or(0, |e| e.id.ms()), |c| c.since);
            deltas.push(Delta {
                name,
                queue,
                cursor: Cursor { last, since },
                periods,
            });
        }

        // The times the events did not give, from the jobs still kept (else what they gave).
        if !lookups.is_empty() {
            let asks: Vec<(&FoundQueue, &JobId)> = lookups
                .iter()
                .map(|l| (deltas[l.delta].queue, &l.job))
                .collect();
            let times = store::job_times(home, &asks, cluster).await?;
            for (l, times) in lookups.iter().zip(times) {
                let periods = &mut deltas[l.delta].periods;
                match times.taken {
                    Some(taken) => add_times(
                        periods,
                        l.at,
                        times.added.map(|a| taken.saturating_sub(a)),
                        Some(times.finished.unwrap_or(l.at).saturating_sub(taken)),
                    ),
                    None => add_times(periods, l.at, l.wait, l.run),
                }
            }
        }

        // Each touched period's whole record: the one in memory, or the stored one.
        let mut asks: Vec<(String, Tier, u64)> = Vec::new();
        for Delta { name, periods, .. } in &deltas {
            for (tier, start) in periods.keys() {
                let held = self.last.get(&(name.clone(), *tier));
                if held.is_none_or(|(s, _)| s != start) {
                    asks.push((name.clone(), *tier, *start));
                }
            }
        }
        let stored = store::records(
            home,
            &asks
                .iter()
                .map(|(q, t, s)| (q.as_str(), *t, *s))
                .collect::<Vec<_>>(),
        )
        .await?;
        let stored: HashMap<(String, Tier, u64), Record> = asks
            .into_iter()
            .zip(stored)
            .filter_map(|(k, r)| Some((k, r?)))
            .collect();
        let mut writes = Vec::new();
        for Delta {
            name,
            cursor: now,
            periods,
            ..
        } in deltas
        {
            let mut whole = Vec::new();
            for ((tier, start), delta) in periods {
                let mut record = match self.last.get(&(name.clone(), tier)) {
                    Some((s, r)) if *s == start => r.clone(),
                    _ => stored
                        .get(&(name.clone(), tier, start))
                        .cloned()
                        .unwrap_or_default(),
                };
                record.merge(&delta);
                whole.push((tier, start, record));
            }
            let was = cursors
                .get(&name)
                .map(|(raw, _)| raw.clone())
                .unwrap_or_default();
            // Old periods are dropped once every few minutes per queue, not on every write.
            let now_ms = crate::clock::now_ms();
            let trim = self
                .trimmed
                .get(&name)
                .is_none_or(|at| now_ms.saturating_sub(*at) >= TRIM_EVERY_MS);
            if trim {
                self.trimmed.insert(name.clone(), now_ms);
            }
            writes.push(Write {
                queue: name,
                was,
                now,
                periods: whole,
                trim,
            });
        }
        let results = store::write(home, &self.me, &writes, crate::clock::now_ms()).await?;
        let mut written = 0;
        for (write, result) in writes.into_iter().zip(results) {
            match result {
                Written::Done => {
                    written += 1;
                    for (tier, start, record) in write.periods {
                        let slot = self
                            .last
                            .entry((write.queue.clone(), tier))
                            .or_insert((0, Record::default()));
                        if start >= slot.0 {
                            *slot = (start, record);
                        }
                    }
                    if let Some(cursors) = self.cursors.as_mut() {
                        cursors.insert(write.queue, (write.now.to_text(), Some(write.now)));
                    }
                }
                Written::NoLease | Written::Moved => {
                    self.forget();
                    return Ok(Read {
                        events,
                        written: None,
                        full: Vec::new(),
                    });
                }
            }
        }
        Ok(Read {
            events,
            written: Some(written),
            full,
        })
    }

    /// Gives the lease up (at shutdown: another process takes over at its next round).
    pub async fn release(&self, sentinel: &Sentinel) {
        if let Ok(home) = sentinel.queue() {
            let _ = crate::queue::lease::release(home, home.keys().history_lease(), &self.me).await;
        }
    }
}

async fn store_lease(home: &TaskQueue, me: &str, ms: u64) -> Result<bool, AppError> {
    Ok(crate::queue::lease::hold(home, home.keys().history_lease(), me, ms).await?)
}

/// A queue's cursor, if it has one that parses.
fn cursor_of(
    cursors: &HashMap<String, (String, Option<Cursor>)>,
    queue: &FoundQueue,
) -> Option<Cursor> {
    cursors.get(&queue.text()).and_then(|(_, c)| *c)
}

/// Applies `change` to the period holding `at` in every resolution.
fn add(periods: &mut BTreeMap<(Tier, u64), Record>, at: u64, change: impl Fn(&mut Record)) {
    for tier in TIERS {
        let start = at - at % tier.step_ms;
        change(periods.entry((tier, start)).or_default());
    }
}

fn add_times(
    periods: &mut BTreeMap<(Tier, u64), Record>,
    at: u64,
    wait: Option<u64>,
    run: Option<u64>,
) {
    if wait.is_none() && run.is_none() {
        return;
    }
    add(periods, at, |r| {
        if let Some(w) = wait {
            *r.wait.entry(bucket(w)).or_default() += 1;
        }
        if let Some(t) = run {
            *r.run.entry(bucket(t)).or_default() += 1;
        }
    });
}

impl Sentinel {
    /// Collects the history every `SENTINEL_HISTORY_EVERY_MS` until shutdown (0: never).
    pub async fn run_history(self) {
        let every = self.config().guards.history_every_ms;
        if every == 0 {
            return;
        }
        let lease_ms = every.saturating_mul(3).max(15_000);
        let mut collector = HistoryCollector::new(self.inner.alerts.me(), lease_ms);
        let shutdown = self.shutdown_token().clone();
        let mut ticker = crate::clock::Ticker::every(Duration::from_millis(every));
        while ticker.tick(&shutdown).await {
            if !self.is_connected() {
                continue;
            }
            if let Err(error) = collector.round(&self).await {
                tracing::debug!(%error, "history round failed");
            }
        }
        collector.release(&self).await;
    }

    /// A queue's history over `range`: one point per period, oldest first, every period from
    /// the range's start (or the history's, if later) to now.
    pub async fn history(
        &self,
        who: &Principal,
        queue: Option<&str>,
        range: HistoryRange,
    ) -> Result<History, AppError> {
        let target = self.open(who, Op::ReadMetrics, queue).await?;
        let home = self.queue()?;
        let name = target.text();
        let tier = match range {
            HistoryRange::Hour | HistoryRange::Day => store::MINUTE,
            HistoryRange::Week => store::HALF_HOUR,
            HistoryRange::Quarter => store::SIX_HOURS,
        };
        let step = tier.step_ms;
        let now = crate::clock::now_ms();
        let last = now - now % step;
        let first = last.saturating_sub(step * (range.points() - 1));
        let cursor = store::cursor(home, &name).await?;
        let stored: HashMap<u64, Record> = store::range(home, &name, tier, first)
            .await?
            .into_iter()
            .collect();
        let since = cursor.map(|c| c.since);
        let from = since.map_or(last, |s| first.max(s - s % step));
        let mut total = Record::default();
        let mut lost_at = Vec::new();
        let points: Vec<MinuteStats> = (0..)
            .map(|i| from + i * step)
            .take_while(|at| *at <= last)
            .map(|at| {
                let record = stored.get(&at).cloned().unwrap_or_default();
                total.merge(&record);
                if record.lost > 0 {
                    lost_at.push(at);
                }
                stats_of(at, &record)
            })
            .collect();
        let points = if since.is_none() { Vec::new() } else { points };
        Ok(History {
            queue: name,
            range,
            step_ms: step,
            since,
            read_until: cursor.map(|c| c.last.ms()),
            total: stats_of(from, &total),
            lost_at,
            points,
        })
    }
}

fn stats_of(at: u64, record: &Record) -> MinuteStats {
    MinuteStats {
        at,
        completed: record.completed,
        failed: record.failed,
        wait_ms: crate::queue::stats::summary(&record.wait),
        run_ms: crate::queue::stats::summary(&record.run),
    }
}
