//! Server functions: the page's only way to talk to the server (besides the event stream).
//! Their bodies run on the server against the [`TaskBackend`](crate::backend::TaskBackend)
//! that the server provides as context; the browser gets typed stubs.

// The enqueue server function takes each form field as an argument (so a plain HTML form post
// maps onto it); the browser's generated stub has as many.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{Deserialize, Serialize};

use crate::home::view::TaskView;
use crate::model::types::{EnqueueOutcome, JobCounts, PageSettings};
use crate::model::url::Form;

/// The answers of the home page's server functions: JSON, as `server_fn`'s default writes it,
/// read back from text with `serde_json::from_str`, the reader the browser already uses for the
/// server-rendered data (Leptos's resources), stored lists, stream events and `client`'s calls.
/// One reader instead of two (the default reads bytes, `from_slice`) keeps one copy of each
/// type's decoding code where the generated stubs are still used: the main bundle, whose
/// router holds the home route (8.6 KB gzip of `/admin`'s download).
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: serde::de::DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// The output codec of the home page's server functions (see [`JsonText`]).
pub type JsonAnswer = Post<JsonText>;

/// The arguments of [`enqueue_task`] as the page sends them.
pub fn enqueue_form(seconds: u64, key: &str, options: &crate::model::options::FormOptions) -> Form {
    let o = options;
    Form::default()
        .field("seconds", &seconds.to_string())
        .field("key", key)
        .optional("delay_s", o.delay_s.as_deref())
        .optional("priority", o.priority.as_deref())
        .optional("attempts", o.attempts.as_deref())
        .optional("backoff", o.backoff.as_deref())
        .optional("backoff_s", o.backoff_s.as_deref())
        .optional("job_id", o.job_id.as_deref())
        .optional("timeout_s", o.timeout_s.as_deref())
}

/// The arguments of [`task_statuses`] as the page sends them.
pub fn statuses_form(ids: &[String]) -> Form {
    Form::default().list("ids", ids)
}

/// Most task ids one status call looks up.
pub const MAX_IDS_PER_CALL: usize = 50;

/// Enqueues a task. `key` names the task: sending the same key again (after a timeout, from
/// another tab, after a reload) returns the same task instead of making a second one. Works as
/// a plain HTML form post too (the form carries a key the server rendered into it): then the
/// answer is a redirect back to the page with `?task=<id>` or `?error=<message>`.
#[server(prefix = "/api", endpoint = "enqueue", output = JsonAnswer)]
pub async fn enqueue_task(
    seconds: String,
    key: Option<String>,
    delay_s: Option<String>,
    priority: Option<String>,
    attempts: Option<String>,
    backoff: Option<String>,
    backoff_s: Option<String>,
    job_id: Option<String>,
    timeout_s: Option<String>,
) -> Result<EnqueueOutcome, ServerFnError> {
    use crate::backend::backend;
    let backend = backend()?;
    let key = key.filter(|k| !k.is_empty());
    let form = crate::model::options::FormOptions {
        delay_s,
        priority,
        attempts,
        backoff,
        backoff_s,
        job_id,
        timeout_s,
    };
    let options = form.parse();
    let outcome = match (
        crate::model::types::parse_seconds(&seconds, backend.max_seconds()),
        &key,
    ) {
        (_, _) if options.is_err() => EnqueueOutcome::Rejected {
            message: options
                .as_ref()
                .err()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
        },
        (_, Some(key)) if !crate::model::types::valid_key(key) => EnqueueOutcome::Rejected {
            message: format!("key {}", crate::model::types::KEY_RULE),
        },
        // A refusal (sign in, role, quota) is shown next to the form; an unreachable queue
        // leaves the task unconfirmed, to be asked again with the same key.
        (Ok(seconds), _) => match backend
            .enqueue(seconds, key.clone(), options.clone().unwrap_or_default())
            .await
        {
            Ok(id) => EnqueueOutcome::Enqueued { id },
            Err(error) if error.unavailable => EnqueueOutcome::Unconfirmed {
                message: error.message,
            },
            Err(error) => EnqueueOutcome::Rejected {
                message: error.message,
            },
        },
        (Err(error), _) => EnqueueOutcome::Rejected {
            message: error.to_string(),
        },
    };
    if backend.is_plain_form_post() {
        let target = match &outcome {
            EnqueueOutcome::Enqueued { id } => {
                backend.remember(id);
                format!("/?task={}", crate::model::url::encode(id))
            }
            EnqueueOutcome::Rejected { message } | EnqueueOutcome::Unconfirmed { message } => {
                format!(
                    "/?error={}&seconds={}",
                    crate::model::url::encode(message),
                    crate::model::url::encode(&seconds)
                )
            }
        };
        backend.redirect(&target);
    }
    Ok(outcome)
}

/// The current view of each task in `ids` (unknown or invalid ids come back as gone).
#[server(prefix = "/api", endpoint = "statuses", output = JsonAnswer)]
pub async fn task_statuses(ids: Vec<String>) -> Result<Vec<TaskView>, ServerFnError> {
    let backend = crate::backend::backend()?;
    let ids: Vec<String> = ids.into_iter().take(MAX_IDS_PER_CALL).collect();
    views_of(&*backend, &ids, false)
        .await
        .map_err(|e| ServerFnError::new(e.message))
}

/// Runs the caller's failed task `id` again (the Retry of a failed task's row): `None` when
/// it is waiting again, else why not in words (it has not failed, it is not the caller's, over
/// the action rate, the queue does not answer). Works as a plain HTML form post too: then the
/// answer is a redirect back to the page (`?task=<id>`, or `?error=<message>`).
#[server(prefix = "/api", endpoint = "retry", output = JsonAnswer)]
pub async fn retry_task(id: String) -> Result<Option<String>, ServerFnError> {
    let backend = crate::backend::backend()?;
    let refused = match crate::model::types::JobId::parse(&id) {
        Err(_) => Some("No task has this id.".to_string()),
        Ok(job) => backend.retry(job).await.err().map(|e| e.message),
    };
    if backend.is_plain_form_post() {
        backend.redirect(&match &refused {
            None => format!("/?task={}", crate::model::url::encode(&id)),
            Some(message) => format!("/?error={}", crate::model::url::encode(message)),
        });
    }
    Ok(refused)
}

/// The arguments of [`retry_task`] as the page sends them.
pub fn retry_form(id: &str) -> Form {
    Form::default().field("id", id)
}

/// The views of `ids`, in order, gone where the queue has no such job (or it is not the
/// caller's). When the queue does not answer: an error, or with `unread_while_unavailable`
/// every id that can name a job as not read yet (the page reads those again until the queue
/// answers).
#[cfg(feature = "ssr")]
async fn views_of(
    backend: &dyn crate::backend::TaskBackend,
    ids: &[String],
    unread_while_unavailable: bool,
) -> Result<Vec<TaskView>, crate::backend::BackendError> {
    use crate::model::types::JobId;
    // Ids that could never name a job are not looked up; they come back as gone.
    let valid: Vec<JobId> = ids
        .iter()
        .filter_map(|raw| JobId::parse(raw).ok())
        .collect();
    let found: Option<std::collections::HashMap<String, TaskView>> =
        match backend.statuses(valid).await {
            Ok(statuses) => Some(
                statuses
                    .iter()
                    .flatten()
                    .map(|status| (status.id.clone(), TaskView::from_status(status)))
                    .collect(),
            ),
            Err(e) if e.unavailable && unread_while_unavailable => None,
            Err(e) => return Err(e),
        };
    Ok(ids
        .iter()
        .map(|raw| match &found {
            Some(found) => found
                .get(raw)
                .cloned()
                .unwrap_or_else(|| TaskView::gone(raw)),
            None if JobId::parse(raw).is_ok() => TaskView::pending(raw),
            None => TaskView::gone(raw),
        })
        .collect())
}

/// Number of jobs per state; `None` for a caller who may not see the whole queue (a
/// submitter).
#[server(prefix = "/api", endpoint = "counts", output = JsonAnswer)]
pub async fn queue_counts() -> Result<Option<JobCounts>, ServerFnError> {
    crate::backend::backend()?
        .counts()
        .await
        .map_err(ServerFnError::new)
}

/// The settings the page is rendered with, and who it is for.
#[server(prefix = "/api", endpoint = "settings", output = JsonAnswer)]
pub async fn get_page_settings() -> Result<PageSettings, ServerFnError> {
    let backend = crate::backend::backend()?;
    let viewer = backend.viewer();
    Ok(PageSettings {
        max_seconds: backend.max_seconds(),
        auth: viewer.auth,
        who: viewer.who,
        role: viewer.role,
        can_see_counts: viewer.can_see_counts,
        tick_ms: backend.tick_ms(),
        form_key: backend.new_key(),
    })
}

/// Everything the home page is rendered with, read in one call (one resource, one round
/// trip, and less code in the page's WASM than three).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomePageData {
    /// As [`get_page_settings`].
    pub settings: PageSettings,
    /// As [`queue_counts`]; `None` also when they could not be read.
    pub counts: Option<JobCounts>,
    /// As [`listed_tasks`]; empty also when they could not be read.
    pub listed: Vec<TaskView>,
}

impl HomePageData {
    /// What the page shows when the call failed: [`PageSettings::fallback`], nothing else.
    pub fn fallback() -> Self {
        Self {
            settings: PageSettings::fallback(),
            counts: None,
            listed: Vec::new(),
        }
    }
}

/// The home page's data: the settings, the counts when the caller may see them, and the tasks
/// the page starts with (see [`listed_tasks`] for `task`). A part that cannot be read is left
/// empty rather than failing the page.
#[server(prefix = "/api", endpoint = "home", output = JsonAnswer)]
pub async fn home_data(task: Option<String>) -> Result<HomePageData, ServerFnError> {
    Ok(HomePageData {
        settings: get_page_settings().await?,
        counts: queue_counts().await.ok().flatten(),
        listed: listed_tasks(task).await.unwrap_or_default(),
    })
}

/// The tasks the page starts with: `task` (just enqueued by a plain form post), the tasks
/// this browser enqueued without JavaScript (a cookie), and the caller's own recent tasks when
/// access control is on (the list follows the identity across devices). Newest first; the
/// caller's own tasks that are gone are left out.
#[server(prefix = "/api", endpoint = "listed", output = JsonAnswer)]
pub async fn listed_tasks(task: Option<String>) -> Result<Vec<TaskView>, ServerFnError> {
    let backend = crate::backend::backend()?;
    let mut named: Vec<String> = task.into_iter().chain(backend.remembered()).collect();
    let mut seen = std::collections::HashSet::new();
    named.retain(|id| seen.insert(id.clone()));
    // While the queue does not answer, the caller's own list is left out (it comes with the
    // next load) and the named tasks are listed as not read yet (below).
    let owned: Vec<String> = match backend.my_tasks().await {
        Ok(owned) => owned,
        Err(e) if e.unavailable => Vec::new(),
        Err(e) => return Err(ServerFnError::new(e.message)),
    }
    .into_iter()
    .filter(|id| seen.insert(id.clone()))
    .collect();
    let named_count = named.len().min(MAX_IDS_PER_CALL);
    let ids: Vec<String> = named
        .into_iter()
        .take(MAX_IDS_PER_CALL)
        .chain(owned)
        .take(MAX_IDS_PER_CALL)
        .collect();
    // The task just submitted stays on the page while Redis is away: not read yet.
    let views = views_of(&*backend, &ids, true)
        .await
        .map_err(|e| ServerFnError::new(e.message))?;
    Ok(views
        .into_iter()
        .enumerate()
        .filter(|(i, view)| *i < named_count || view.presence != crate::home::view::Presence::Gone)
        .map(|(_, view)| view)
        .collect())
}

/// Whether the queue answers right now (the page asks while its event stream is down, to tell
/// "the server is unreachable" from "the queue is").
#[server(prefix = "/api", endpoint = "reachable", output = JsonAnswer)]
pub async fn queue_reachable() -> Result<bool, ServerFnError> {
    Ok(crate::backend::backend()?.queue_reachable().await)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::model::options::FormOptions;

    /// What the server function makes of a body: its own decoding (`server_fn`'s `PostUrl`).
    fn decoded<T: serde::de::DeserializeOwned>(form: Form) -> T {
        serde_qs::Config::new(5, false)
            .deserialize_str(&form.into_body())
            .expect("the server reads the page's body")
    }

    #[test]
    fn the_page_s_bodies_read_as_the_server_functions_arguments() {
        let options = FormOptions {
            delay_s: Some("5".into()),
            backoff: Some("fixed".into()),
            job_id: Some("a b&c=d/é+%".into()),
            ..FormOptions::default()
        };
        let args: EnqueueTask = decoded(enqueue_form(30, "k3y", &options));
        assert_eq!(args.seconds, "30");
        assert_eq!(args.key.as_deref(), Some("k3y"));
        assert_eq!(args.delay_s.as_deref(), Some("5"));
        assert_eq!(args.backoff.as_deref(), Some("fixed"));
        assert_eq!(args.job_id.as_deref(), Some("a b&c=d/é+%"));
        assert_eq!(
            (args.priority, args.attempts, args.backoff_s, args.timeout_s),
            (None, None, None, None)
        );

        for ids in [
            vec!["7".to_string()],
            (0..MAX_IDS_PER_CALL).map(|i| format!("id {i}&x")).collect(),
        ] {
            let args: TaskStatuses = decoded(statuses_form(&ids));
            assert_eq!(args.ids, ids);
        }
        let _: QueueCounts = decoded(Form::default());
        let _: QueueReachable = decoded(Form::default());
    }
}
