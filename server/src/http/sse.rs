//! `GET /tasks/stream`: the queue's events as Server-Sent Events.
//!
//! A client that reconnects with `Last-Event-ID` first gets the events after that id, read back
//! from the Redis stream page by page as it reads them (never the whole stream in memory, at
//! most `SSE_MAX_REPLAY_EVENTS`), then live ones. When the events after its id are no longer
//! all in Redis (trimmed, or more than the replay bound), it gets a `reset` event instead: the
//! page reloads its state from the API rather than showing a silent gap. We subscribe to the
//! live feed *before* reading the backlog and skip live events at or below the last id sent,
//! so nothing falls in the gap and nothing is sent twice.
//!
//! Besides the queue's events, a `status` event (no id) says whether the server reaches the
//! queue: first, on each change, and every few seconds.
//!
//! Streams are capped in total (`503`) and per client address (`429`), both with Retry-After.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use app::JobId;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::auth::Principal;
use crate::error::AppError;
use crate::events::pulse::QueueLink;
use crate::events::{EventHub, ResumePoint};
use crate::http::serve::ConnectionKill;
use crate::http::state::AppState;
use crate::queue::stream::{QueueEvent, StreamId};

/// Backlog entries read per round trip.
const BACKLOG_BATCH: usize = 500;
/// Live events taken from the fan-out at a time.
const LIVE_BATCH: usize = 256;
/// Interval of the keep-alive comments.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How soon a browser's `EventSource` should reconnect after the stream drops.
const RECONNECT_AFTER: Duration = Duration::from_millis(1000);
/// Longest `Last-Event-ID` taken (two 20-digit numbers and a dash).
const MAX_LAST_EVENT_ID: usize = 41;

/// The name of the event that tells a client its view may have a gap.
pub const RESET_EVENT: &str = "reset";

/// The name of the event that says whether the server reaches the queue: sent first, on each
/// change, and every [`STATUS_EVERY`] (so a client notices a stream that went silent).
pub const STATUS_EVENT: &str = "status";
/// How often the `status` event is repeated.
pub const STATUS_EVERY: Duration = Duration::from_secs(3);

/// Query of `GET /tasks/stream`.
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    /// Only events of this job.
    #[serde(rename = "jobId")]
    job_id: Option<String>,
    /// Same as the `Last-Event-ID` header, for clients that cannot set headers.
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// Reads `Last-Event-ID` (header first, then the query), refusing anything that is not a
/// stream entry id.
fn resume_after(headers: &HeaderMap, query: Option<String>) -> Result<Option<StreamId>, AppError> {
    let raw = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AppError::InvalidLastEventId("(not text)".to_string()))?
                .to_string(),
        ),
        None => query,
    };
    let Some(raw) = raw else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.len() > MAX_LAST_EVENT_ID {
        return Err(AppError::InvalidLastEventId(raw));
    }
    trimmed
        .parse::<StreamId>()
        .map(Some)
        .map_err(|()| AppError::InvalidLastEventId(raw))
}

/// The SSE handler.
pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let who = extensions
        .get::<Principal>()
        .ok_or(AppError::Unauthorized)?;
    // A submitter's stream carries its own jobs' events only.
    let follow = state.sentinel.follow(who).await?;
    let only_owner: Option<Arc<str>> = follow.only_owner;
    let job_filter = match query.job_id {
        Some(raw) => {
            Some(JobId::parse(&raw).map_err(|source| AppError::InvalidId { id: raw, source })?)
        }
        None => None,
    };
    let resume = resume_after(&headers, query.last_event_id)?;
    let hub = follow.hub;
    let limits = &state.config.limits;
    let slot = state.streams.take(
        state.access.client_network(&extensions, &headers),
        limits.max_sse_streams,
        limits.max_sse_streams_per_client,
    )?;
    let kill = extensions
        .get::<ConnectionKill>()
        .map_or_else(CancellationToken::new, |k| k.0.clone());
    let mut live = hub.subscribe(kill);
    let mut link = state.sentinel.pulse().subscribe();
    let max_replay = limits.sse_max_replay_events;
    debug!(?resume, "event stream client connected");

    let wanted = move |event: &QueueEvent| {
        // A pause or resume of the whole queue is news to every follower: a waiting task's
        // line says whether the queue is paused.
        let queue_wide =
            event.job_id.is_none() && matches!(event.name.as_deref(), Some("paused" | "resumed"));
        event.name.is_some()
            && (queue_wide
                || only_owner
                    .as_ref()
                    .is_none_or(|owner| event.owner.as_deref() == Some(&**owner)))
            && match &job_filter {
                Some(id) => event.job_id.as_deref() == Some(id.as_str()),
                None => true,
            }
    };
    let events = async_stream::stream! {
        let _slot = slot;
        yield Ok::<Event, Infallible>(Event::default().retry(RECONNECT_AFTER).comment("sentinel event stream"));
        let first = *link.borrow_and_update();
        yield Ok(status_event(first));
        let mut sent_up_to = resume;
        if let Some(after) = resume {
            match replay(&hub, after, max_replay).await {
                Ok(Replay::Pages(mut pages)) => {
                    while let Some(page) = pages.next().await {
                        match page {
                            Ok(Page::Events(page)) => {
                                for event in page {
                                    sent_up_to = Some(event.id);
                                    if wanted(&event) {
                                        yield Ok(to_sse(&event));
                                    }
                                }
                            }
                            Ok(Page::Bound) => {
                                // More to replay than we replay for one client: what is
                                // between here and the live feed is for the API to tell.
                                sent_up_to = None;
                                yield Ok(reset_event());
                            }
                            // Redis failed mid-replay: end the stream; the client resumes
                            // from the last id it got.
                            Err(_) => return,
                        }
                    }
                }
                Ok(Replay::Gap) => {
                    // Live events from now on; everything before is for the API to tell.
                    sent_up_to = None;
                    yield Ok(reset_event());
                }
                Err(_) => return,
            }
        }
        let mut batch = Vec::with_capacity(LIVE_BATCH);
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + STATUS_EVERY, STATUS_EVERY);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            batch.clear();
            let next = tokio::select! {
                taken = live.next_batch(&mut batch, LIVE_BATCH) => Next::Events(taken.is_ok()),
                changed = link.changed() => Next::Status(changed.is_ok()),
                _ = beat.tick() => Next::Status(true),
            };
            match next {
                Next::Events(true) => {}
                Next::Events(false) => {
                    // Too slow for the live feed: ending the stream lets the client reconnect
                    // with Last-Event-ID and catch up from Redis, without holding anyone back.
                    info!("dropping a slow event stream client");
                    break;
                }
                Next::Status(true) => {
                    let now = *link.borrow_and_update();
                    yield Ok(status_event(now));
                    continue;
                }
                Next::Status(false) => break,
            }
            for event in &batch {
                if sent_up_to.is_some_and(|sent| event.id <= sent) {
                    continue;
                }
                sent_up_to = Some(event.id);
                if wanted(event) {
                    yield Ok(to_sse(event));
                }
            }
        }
    };
    let events = events.take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// One step of a replay.
enum Page {
    /// Events after the cursor.
    Events(Vec<QueueEvent>),
    /// The replay bound was reached with events left.
    Bound,
}

/// What a resuming client gets before the live feed.
enum Replay<S> {
    /// The events after its id, page by page.
    Pages(S),
    /// Its id is older than what Redis keeps (or too far behind to replay): a `reset` event.
    Gap,
}

async fn replay(
    hub: &EventHub,
    after: StreamId,
    max_events: usize,
) -> Result<
    Replay<impl Stream<Item = Result<Page, crate::events::EventsError>> + use<>>,
    crate::events::EventsError,
> {
    if hub.resume_point(after).await? == ResumePoint::Gap {
        return Ok(Replay::Gap);
    }
    let hub = hub.clone();
    let pages = async_stream::stream! {
        let mut cursor = after;
        let mut sent = 0;
        loop {
            let count = BACKLOG_BATCH.min(max_events - sent);
            if count == 0 {
                // Anything left after the bound?
                match hub.read_after(cursor, 1).await {
                    Ok(rest) if rest.is_empty() => {}
                    Ok(_) => yield Ok(Page::Bound),
                    Err(error) => yield Err(error),
                }
                break;
            }
            let page = match hub.read_after(cursor, count).await {
                Ok(page) => page,
                Err(error) => {
                    yield Err(error);
                    break;
                }
            };
            let full = page.len() == count;
            sent += page.len();
            if let Some(last) = page.last() {
                cursor = last.id;
            }
            yield Ok(Page::Events(page));
            if !full {
                break;
            }
        }
    };
    Ok(Replay::Pages(Box::pin(pages)))
}

/// What woke the live loop.
enum Next {
    /// Events were taken (`false`: the stream fell behind).
    Events(bool),
    /// The queue's link changed or the beat is due (`false`: the server is stopping).
    Status(bool),
}

/// The `status` event: whether the server reaches the queue, and since when. It has no id, so
/// it never moves a client's `Last-Event-ID`.
fn status_event(link: QueueLink) -> Event {
    Event::default().event(STATUS_EVENT).data(link.to_json())
}

fn reset_event() -> Event {
    Event::default()
        .event(RESET_EVENT)
        .data(r#"{"reason":"events after your last id are no longer kept; reload the state from the API"}"#)
}

fn to_sse(event: &QueueEvent) -> Event {
    let sse = Event::default().id(event.id.to_string()).data(&*event.json);
    match &event.name {
        Some(name) => sse.event(name),
        None => sse,
    }
}
