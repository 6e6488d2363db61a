//! `GET /tasks/stream`: the queue's events as Server-Sent Events.
//!
//! A client that reconnects with `Last-Event-ID` first gets every event after that id, read
//! back from the Redis stream, then live ones. We subscribe to the live feed *before* reading
//! the backlog and skip live events at or below the last id sent, so nothing falls in the gap
//! and nothing is sent twice.

use std::convert::Infallible;
use std::time::Duration;

use app::JobId;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info};

use crate::error::AppError;
use crate::events::{QueueEvent, StreamId};
use crate::state::AppState;

/// Backlog entries read per round trip.
const BACKLOG_BATCH: usize = 500;
/// Interval of the keep-alive comments.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How soon a browser's `EventSource` should reconnect after the stream drops.
const RECONNECT_AFTER: Duration = Duration::from_millis(1000);

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

/// The SSE handler.
pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let job_filter = match query.job_id {
        Some(raw) => {
            Some(JobId::parse(&raw).map_err(|source| AppError::InvalidId { id: raw, source })?)
        }
        None => None,
    };
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or(query.last_event_id);
    let resume_after = match last_event_id {
        Some(raw) if !raw.trim().is_empty() => Some(
            raw.trim()
                .parse::<StreamId>()
                .map_err(|()| AppError::InvalidLastEventId(raw))?,
        ),
        _ => None,
    };

    let hub = state.hub()?.clone();
    let mut live = hub.subscribe();
    let mut backlog = Vec::new();
    if let Some(mut cursor) = resume_after {
        loop {
            let batch = hub.read_after(cursor, BACKLOG_BATCH).await?;
            let full = batch.len() == BACKLOG_BATCH;
            if let Some(last) = batch.last() {
                cursor = last.id;
            }
            backlog.extend(batch);
            if !full {
                break;
            }
        }
    }
    debug!(
        backlog = backlog.len(),
        ?resume_after,
        "event stream client connected"
    );

    let wanted = move |event: &QueueEvent| match &job_filter {
        Some(id) => event.job_id.as_deref() == Some(id.as_str()),
        None => true,
    };
    let events = async_stream::stream! {
        yield Ok::<Event, Infallible>(Event::default().retry(RECONNECT_AFTER).comment("sentinel event stream"));
        let mut sent_up_to = resume_after;
        for event in backlog {
            sent_up_to = Some(event.id);
            if wanted(&event) {
                yield Ok(to_sse(&event));
            }
        }
        loop {
            match live.recv().await {
                Ok(event) => {
                    if sent_up_to.is_some_and(|sent| event.id <= sent) {
                        continue;
                    }
                    sent_up_to = Some(event.id);
                    if wanted(&event) {
                        yield Ok(to_sse(&event));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    // This client is too slow for the live feed; ending its stream lets it
                    // reconnect with Last-Event-ID and catch up from Redis, without holding
                    // back anyone else.
                    info!(missed, "dropping a slow event stream client");
                    break;
                }
                Err(RecvError::Closed) => break,
            }
        }
    };
    let events = events.take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn to_sse(event: &QueueEvent) -> Event {
    Event::default()
        .event(&event.name)
        .id(event.id.to_string())
        .data(&*event.json)
}
