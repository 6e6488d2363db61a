//! Sending a task from the page so that it is never lost and never made twice.
//!
//! Each submission gets a random key before it is sent and is stored (localStorage) as not yet
//! confirmed. The key names exactly one job on the server, so when a request times out or the
//! queue is unreachable the page sends the same key again, with back-off, until the queue
//! answers: the answer is the task that the first request may already have made, or a new one,
//! never both. A reload or another tab picks the stored submissions up and does the same.

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(feature = "hydrate")]
mod browser {
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    use crate::home::api::{EnqueueTask, enqueue_form};
    use crate::home::client::call;
    use crate::home::storage::{self, Submission};
    use crate::home::tasks::TaskStore;
    use crate::home::view::label;
    use crate::model::types::EnqueueOutcome;

    /// Wait before the first resend, doubled each time up to the cap.
    const FIRST_RETRY_MS: u32 = 1000;
    const MAX_RETRY_MS: u32 = 8000;

    /// What the queue said of a submission.
    pub enum Answer {
        /// The task exists: listed.
        Listed(String),
        /// Refused; the message says why.
        Refused(String),
        /// No answer yet (kept, to be sent again).
        NotYet(String),
    }

    /// What sending needs from the page.
    #[derive(Clone, Copy)]
    pub struct Sender {
        /// The list.
        pub store: TaskStore,
        /// Called when tasks joined the list (to store it).
        pub listed: Callback<()>,
        /// Called with the reason when the queue refused a submission.
        pub refused: Callback<String>,
    }

    /// A fresh random key (128 bits, hex).
    pub fn new_key() -> String {
        let mut bytes = [0u8; 16];
        let filled = web_sys::window()
            .and_then(|w| w.crypto().ok())
            .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
        if !filled {
            for byte in &mut bytes {
                *byte = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        crate::model::url::hex(bytes)
    }

    /// Records a new submission (stored first, so that a reload or a closed tab cannot lose
    /// it) and shows it.
    pub fn begin(store: TaskStore, submission: &Submission) {
        storage::add_pending(submission);
        store.add_pending(submission.clone());
    }

    /// Sends a submission once.
    pub async fn send_once(sender: Sender, submission: &Submission) -> Answer {
        let store = sender.store;
        let body = enqueue_form(submission.seconds, &submission.key, &submission.options);
        match call::<EnqueueTask>(body).await {
            Ok(EnqueueOutcome::Enqueued { id }) => {
                storage::remove_pending(&submission.key);
                store.remove_pending(&submission.key);
                store.add(&id, submission.at);
                sender.listed.run(());
                store.announce(format!("Task {} queued.", label(&id)));
                crate::home::live::read_now(store, vec![id.clone()]).await;
                Answer::Listed(id)
            }
            Ok(EnqueueOutcome::Rejected { message }) => {
                storage::remove_pending(&submission.key);
                store.remove_pending(&submission.key);
                Answer::Refused(message)
            }
            Ok(EnqueueOutcome::Unconfirmed { message }) => {
                Answer::NotYet(format!("Not confirmed: {message}."))
            }
            Err(_) => Answer::NotYet("Not confirmed: the server did not answer.".to_string()),
        }
    }

    /// Sends a submission again and again (same key) until the queue answers, or another tab
    /// got the answer first.
    pub async fn keep_sending(sender: Sender, submission: Submission, first: Option<Answer>) {
        let store = sender.store;
        let mut wait = FIRST_RETRY_MS;
        let mut answer = first;
        loop {
            let current = match answer.take() {
                Some(answer) => answer,
                None => send_once(sender, &submission).await,
            };
            match current {
                Answer::Listed(_) => return,
                Answer::Refused(message) => {
                    sender.refused.run(message);
                    return;
                }
                Answer::NotYet(why) => {
                    store.note_pending(
                        &submission.key,
                        format!(
                            "{why} Trying again in {} s; it will be listed once, however many tries it takes.",
                            wait / 1000
                        ),
                    );
                }
            }
            TimeoutFuture::new(wait).await;
            wait = (wait * 2).min(MAX_RETRY_MS);
            if !store.is_pending(&submission.key) {
                // Confirmed by another tab.
                return;
            }
        }
    }
}
