//! Sending one message to one target: a webhook (the alert as JSON, signed), a Slack-compatible
//! incoming webhook, or a mail through SMTP (`lettre`). A failed attempt is retried with
//! back-off (1, 2, 4 ... 64 s, divided by the file's time scale; 8 attempts in all), and every
//! attempt is written to the delivery log the alerts page shows.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::rules::{Target, TargetKind};
use super::transition::Notice;
use crate::queue::TaskQueue;

/// Attempts per message and target.
pub const ATTEMPTS: u32 = 8;
/// Longest value a message takes from a job, a queue or a person (the check's words).
pub const MAX_TEXT: usize = 500;

/// `text` as data, whatever it holds: control characters (line breaks among them: no header
/// or line can be injected into a mail) become spaces, and it is cut to [`MAX_TEXT`] bytes.
pub fn plain(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match crate::queue::cut(&cleaned, MAX_TEXT) {
        cut if cut.len() < cleaned.len() => format!("{cut}…"),
        whole => whole.to_string(),
    }
}

/// `text` for Slack's message format, where `<…>` is a link or a mention (`<!channel>`) and
/// `&` starts an entity: the three are written as the entities Slack documents, so a job's
/// or a person's text is shown, never acted on.
pub fn for_slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
/// The longest one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One message about one rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// A stable id for this message (the same on every retry): receivers can drop repeats.
    pub id: String,
    /// The rule's name.
    pub alert: String,
    /// `firing`, `repeat` or `resolved`.
    pub status: &'static str,
    /// What the rule watches (`no_worker`, `failures`, ...).
    pub condition: String,
    /// The queue (`<prefix>:<name>`), for rules about one.
    pub queue: Option<String>,
    /// What the check saw, in words.
    pub detail: String,
    /// When this was decided (ms since the epoch).
    pub at: u64,
    /// Since when it fires (ms since the epoch).
    pub firing_since: u64,
}

impl Message {
    /// One line for people (Slack, the mail's subject).
    pub fn line(&self) -> String {
        let word = match self.status {
            "firing" => "FIRING",
            "repeat" => "STILL FIRING",
            _ => "RESOLVED",
        };
        let queue = self
            .queue
            .as_deref()
            .map(|q| format!(" on {q}"))
            .unwrap_or_default();
        format!("[Sentinel] {word}: {}{queue}: {}", self.alert, self.detail)
    }

    /// Builds the message for `send` (not `Nothing`).
    pub fn new(
        rule: &super::rules::Rule,
        queue: Option<String>,
        send: Notice,
        detail: &str,
        at: u64,
        since: u64,
    ) -> Self {
        Self {
            id: format!("{}:{since}:{}:{at}", rule.name, send.word()),
            alert: plain(&rule.name),
            status: send.word(),
            condition: plain(&rule.when),
            queue: queue.as_deref().map(plain),
            detail: plain(detail),
            at,
            firing_since: since,
        }
    }
}

/// The signature header's value for `body` sent at `timestamp` (s): `sha256=` and the hex
/// HMAC-SHA256 of `<timestamp>.<body>` with the target's secret.
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", app::url::hex(mac.finalize().into_bytes()))
}

/// The HTTP client of every webhook: no redirects followed, a deadline per attempt.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent("Sentinel-alerts")
        .build()
        .unwrap_or_default()
}

/// One attempt; `Err` says why it failed.
async fn attempt(http: &reqwest::Client, target: &Target, message: &Message) -> Result<(), String> {
    match &target.kind {
        TargetKind::Webhook { url, secret } => {
            let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
            let mut request = http
                .post(url)
                .header("content-type", "application/json")
                .header("x-sentinel-delivery", &message.id);
            if let Some(secret) = secret {
                let timestamp = crate::clock::now_ms() / 1000;
                request = request
                    .header("x-sentinel-timestamp", timestamp.to_string())
                    .header("x-sentinel-signature", signature(secret, timestamp, &body));
            }
            answered(request.body(body).send().await)
        }
        TargetKind::Slack { url } => {
            let body = serde_json::json!({ "text": for_slack(&message.line()) });
            answered(http.post(url).json(&body).send().await)
        }
        TargetKind::Email { smtp, from, to } => mail(smtp, from, to, message).await,
    }
}

fn answered(reply: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
    match reply {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("answered HTTP {}", response.status().as_u16())),
        Err(error) if error.is_timeout() => Err("no answer within 10 s".into()),
        Err(error) if error.is_connect() => Err("could not connect".into()),
        // Without the address: a webhook's path is often its secret (Slack's are).
        Err(error) => Err(format!("request failed: {}", error.without_url())),
    }
}

async fn mail(smtp: &str, from: &str, to: &[String], message: &Message) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let mut builder = lettre::Message::builder()
        .from(
            from.parse()
                .map_err(|_| "from: not a mail address".to_string())?,
        )
        .subject(message.line())
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        builder = builder.to(address
            .parse()
            .map_err(|_| format!("to: {address:?} is not a mail address"))?);
    }
    let text = format!(
        "{}\n\nRule: {}\nCondition: {}\nQueue: {}\nStatus: {}\nWhat was seen: {}\nFiring since (ms): {}\nAt (ms): {}\nMessage id: {}\n",
        message.line(),
        message.alert,
        message.condition,
        message.queue.as_deref().unwrap_or("-"),
        message.status,
        message.detail,
        message.firing_since,
        message.at,
        message.id,
    );
    let email = builder
        .body(text)
        .map_err(|e| format!("mail not built: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp)
        .map_err(|e| format!("smtp: {e}"))?
        .timeout(Some(ATTEMPT_TIMEOUT))
        .build();
    transport
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP: {e}"))
}

/// Delivers `message` to `target`, retrying with back-off, logging every attempt to the
/// delivery log; gives up after [`ATTEMPTS`] or when `stop` fires. Whether it was delivered.
pub async fn deliver(
    http: &reqwest::Client,
    queue: &TaskQueue,
    target: &Target,
    message: &Message,
    time_scale: f64,
    stop: &tokio_util::sync::CancellationToken,
) -> bool {
    for n in 1..=ATTEMPTS {
        let result = attempt(http, target, message).await;
        let outcome = match &result {
            Ok(()) => "sent".to_string(),
            Err(why) => why.clone(),
        };
        if let Err(error) = crate::queue::alerts::log_delivery(
            queue,
            &message.alert,
            message.status,
            &target.name,
            n,
            &outcome,
        )
        .await
        {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), "alert delivery not logged");
        }
        match result {
            Ok(()) => {
                tracing::info!(alert = %message.alert, status = message.status, target = %target.name, attempt = n, "alert sent");
                return true;
            }
            Err(why) => {
                tracing::warn!(alert = %message.alert, status = message.status, target = %target.name, attempt = n, %why, "alert not delivered");
            }
        }
        if n == ATTEMPTS {
            break;
        }
        let wait = Duration::from_secs_f64((f64::from(1u32 << (n - 1)) / time_scale).max(0.05));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_jobs_is_data_for_every_target() {
        let hostile = "<!channel> <https://evil.example|your bank> & co\r\nBcc: x@evil.example";
        let text = plain(hostile);
        assert!(!text.contains('\r') && !text.contains('\n'), "{text}");
        let slack = for_slack(&text);
        assert!(!slack.contains('<') && !slack.contains('>'), "{slack}");
        assert!(
            slack.contains("&lt;!channel&gt;") && slack.contains("&amp; co"),
            "{slack}"
        );
        let long = plain(&"x".repeat(10_000));
        assert!(long.len() <= MAX_TEXT + "…".len(), "{}", long.len());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Known answer from `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
