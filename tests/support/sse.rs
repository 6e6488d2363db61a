//! A small Server-Sent Events client over reqwest, for reading `/tasks/stream` in tests.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::Value;

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// The `id:` field.
    pub id: Option<String>,
    /// The `event:` field (`message` when absent).
    pub event: String,
    /// The `data:` field parsed as JSON.
    pub data: Value,
}

impl SseEvent {
    /// Whether this is event `name` about job `job_id`.
    pub fn is(&self, name: &str, job_id: &str) -> bool {
        self.event == name && self.data["jobId"] == job_id
    }
}

/// The progress values reported for job `job_id`, in stream order.
pub fn progress_of(events: &[SseEvent], job_id: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.is("progress", job_id))
        .map(|e| e.data["data"].clone())
        .collect()
}

type Lines = Pin<Box<dyn Stream<Item = Result<String, reqwest::Error>> + Send>>;

/// An open event stream.
pub struct SseClient {
    lines: Lines,
    statuses: bool,
}

impl SseClient {
    /// Opens `url`, sending `Last-Event-ID` when given; panics unless the answer is 200
    /// `text/event-stream`.
    pub async fn connect(url: &str, last_event_id: Option<&str>) -> Self {
        match last_event_id {
            Some(id) => Self::connect_with(url, &[("last-event-id", id)]).await,
            None => Self::connect_with(url, &[]).await,
        }
    }

    /// Opens `url` with extra request headers; panics unless the answer is 200
    /// `text/event-stream`.
    pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Self {
        let mut request = reqwest::Client::new()
            .get(url)
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("open the event stream");
        assert_eq!(response.status(), 200, "event stream status");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "content type {content_type}"
        );
        Self {
            lines: Box::pin(crate::byte_lines(response)),
            statuses: false,
        }
    }

    /// Also returns the server's `status` events (skipped by default: they come every few
    /// seconds and say whether the server reaches the queue).
    pub fn with_statuses(mut self) -> Self {
        self.statuses = true;
        self
    }

    /// The next event, or `None` when the stream ends or nothing comes within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Option<SseEvent> {
        tokio::time::timeout(limit, self.next_event())
            .await
            .ok()
            .flatten()
    }

    /// The next event (comments, retry-only blocks and, unless asked for, `status` events are
    /// skipped); `None` at end of stream.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        let mut id = None;
        let mut event = None;
        let mut data = Vec::<String>::new();
        while let Some(line) = self.lines.next().await {
            let line = line.ok()?;
            if line.is_empty() {
                if data.is_empty() {
                    id = None;
                    event = None;
                    continue;
                }
                let text = data.join("\n");
                let event = SseEvent {
                    id: id.take(),
                    event: event.take().unwrap_or_else(|| "message".to_string()),
                    data: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                };
                data.clear();
                if event.event == "status" && !self.statuses {
                    continue;
                }
                return Some(event);
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match field {
                "id" => id = Some(value),
                "event" => event = Some(value),
                "data" => data.push(value),
                _ => {}
            }
        }
        None
    }

    /// Reads events until one satisfies `stop` (which is included), or panics after `limit`.
    pub async fn collect_until(
        &mut self,
        limit: Duration,
        mut stop: impl FnMut(&SseEvent) -> bool,
    ) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.next_within(left).await else {
                panic!("event stream ended or went quiet; got so far: {events:#?}");
            };
            let done = stop(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }
}
