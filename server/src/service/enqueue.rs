//! Enqueueing a task for someone: the one path every edge takes (the HTTP API, the page's form
//! and server function, the dashboard's add-job form). It decides the job's id, holds the
//! quotas, and records the owner.
//!
//! - **Ids.** A custom id is checked as a [`NewJobId`] (never one of the queue's key names,
//!   never an integer). With access control on, the custom ids and idempotency keys of
//!   principals below operator are theirs alone: the job's id carries a digest of the owner,
//!   so one owner can neither take another's id first nor learn whether it exists.
//!   Operators and admins add exactly the id they give.
//! - **Quotas** (access control on): the rate per owner (and, for an anonymous identity, per
//!   client network too, since such identities are free to make) and the jobs waiting or
//!   running, taken and reserved in one Redis script (see `queue/owners.rs`), so parallel
//!   requests and several web processes cannot overshoot them.
//! - **Memory**: no new job while Redis is past the memory guard's limit (`memory.rs`).

use app::TaskPayload;
use app::options::TaskOptions;
use sha2::Digest;

use super::audit::Done;
use super::limits::digest;
use super::{Op, Sentinel};
use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::queue::Refusal;
use crate::queue::keys::{CustomIdError, NewJobId};
use crate::queue::limits::Limit;

/// What to enqueue.
#[derive(Debug, Clone)]
pub struct EnqueueRequest<'a> {
    /// Ticks the task runs.
    pub seconds: u64,
    /// The job's options (its custom id among them).
    pub options: &'a TaskOptions,
    /// The caller's idempotency key (`Idempotency-Key`, or the page's submission key).
    pub idempotency_key: Option<&'a str>,
}

impl Sentinel {
    /// Enqueues a task for `who` (or, with `onBehalfOf`, for that owner: operators and admins
    /// whose grant reaches Sentinel's own queue); returns the job's id.
    pub async fn enqueue(
        &self,
        who: &Principal,
        request: EnqueueRequest<'_>,
    ) -> Result<String, AppError> {
        let Some(other) = request.options.on_behalf_of.clone() else {
            self.allow(who, Op::Enqueue).await?;
            let owner = self.access().enabled.then(|| who.owner.to_string());
            return self.enqueue_for(who, owner, request).await;
        };
        // On another's behalf: the job is the other owner's (their list, their quota); the
        // audit log says who did it.
        let added = async {
            self.allow(who, Op::EnqueueOnBehalf).await?;
            self.enqueue_for(who, Some(other.clone()), request).await
        }
        .await;
        if matches!(added, Err(AppError::Forbidden)) {
            return added;
        }
        let target = format!("for {other}");
        let done = Done {
            action: "enqueue:on-behalf",
            target: Some(&target),
            count: Some(1),
        };
        self.record(who, done, added, |id| format!("added job {id}"))
            .await
    }

    /// Enqueues a task owned by `owner` (none: access control is off), holding that owner's
    /// rate and pending quota (and its client network's, for an anonymous identity).
    async fn enqueue_for(
        &self,
        who: &Principal,
        owner: Option<String>,
        request: EnqueueRequest<'_>,
    ) -> Result<String, AppError> {
        let queue = self.queue()?;
        let access = self.access();
        let job_id = job_id_for(who, owner.as_deref(), &request)?;
        self.admit_new_jobs().await?;
        let mut reservation = None;
        if let Some(owner) = owner.as_ref().filter(|_| access.enabled) {
            let anonymous_network = (who.credential == Credential::Anonymous)
                .then_some(who.network)
                .flatten()
                .map(|net| net.to_string());
            let keys = queue.keys();
            let mut pending = vec![keys.quota_owner(owner)];
            pending.extend(
                anonymous_network
                    .as_ref()
                    .map(|net| keys.quota_network(net)),
            );
            let per_minute = self.inner.limits.enqueue_per_minute();
            let mut rates = vec![Limit {
                key: keys.rate("enqueue", &digest(owner)),
                per_minute,
            }];
            rates.extend(anonymous_network.as_ref().map(|net| Limit {
                key: keys.rate("enqueue", &digest(&format!("net:{net}"))),
                per_minute,
            }));
            let listing = Some(keys.owner(owner));
            match queue
                .reserve(&pending, listing, access.max_pending, &rates)
                .await?
            {
                Ok(place) => reservation = Some(place),
                Err(Refusal::Rate(_, wait)) => {
                    return Err(AppError::RateLimited {
                        limit: "ENQUEUE_RATE_PER_MINUTE",
                        per_minute,
                        retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
                    });
                }
                Err(Refusal::Pending(_)) => {
                    return Err(AppError::TooManyPending {
                        max: access.max_pending,
                    });
                }
            }
        }
        let payload = TaskPayload {
            seconds: request.seconds,
            owner: owner.clone(),
            timeout_ms: request.options.timeout_ms,
        };
        // The reservation becomes the job behind the add (`queue/writes.rs`).
        let added = queue
            .enqueue(payload, job_id, request.options, reservation)
            .await;
        Ok(added?)
    }
}

/// The id the job gets: the custom id (the owner's own, below operator), else one made from
/// the idempotency key (per owner), else none (BullMQ's counter).
fn job_id_for(
    principal: &Principal,
    owner: Option<&str>,
    request: &EnqueueRequest<'_>,
) -> Result<Option<NewJobId>, AppError> {
    let refuse = |message: String| {
        AppError::InvalidOption(app::options::OptionError {
            field: "jobId",
            message,
        })
    };
    if let Some(custom) = &request.options.job_id {
        let exact = NewJobId::parse(custom).map_err(|e| refuse(e.to_string()))?;
        return match owner.filter(|_| principal.ids_are_namespaced()) {
            Some(owner) => owned_job_id(owner, custom).map(Some).map_err(refuse),
            None => Ok(Some(exact)),
        };
    }
    // A custom id already makes a retry return the same job; without one, the key does. The
    // same key from two owners is two jobs.
    Ok(request
        .idempotency_key
        .map(|key| idempotent_job_id(owner, key)))
}

/// The digest of `text` in `bytes` bytes of hex.
fn digest_hex(text: &str, bytes: usize) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    app::url::hex(digest[..bytes].iter().copied())
}

/// The job id of an idempotency key: a digest of the key (and of the owner, with access control
/// on), so any key of any length or alphabet gives a valid id, and the same key always the
/// same job while that job is kept (an hour, or the last 100 finished).
pub fn idempotent_job_id(owner: Option<&str>, key: &str) -> NewJobId {
    let digest = match owner {
        Some(owner) => digest_hex(&format!("{owner}\n{key}"), 12),
        None => digest_hex(key, 12),
    };
    NewJobId::parse(&format!("idem-{digest}"))
        .unwrap_or_else(|_| unreachable!("idem-<hex> is a valid, unreserved, non-integer id"))
}

/// The id of `owner`'s custom id `custom`: `<custom>@<digest of the owner>`, readable on the
/// dashboard, and never another owner's (nor an id anyone else could give: each owner's
/// digest differs, and an id already ending in one is wrapped again).
pub fn owned_job_id(owner: &str, custom: &str) -> Result<NewJobId, String> {
    let id = format!("{custom}@{}", digest_hex(owner, 5));
    NewJobId::parse(&id).map_err(|error| match error {
        CustomIdError::Invalid(app::JobIdError::TooLong) => format!(
            "must be at most {} bytes (the id is made yours by a suffix of 11)",
            app::JobId::MAX_LEN - 11
        ),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_ids_never_meet() {
        let alice = owned_job_id("token:alice", "order-17").unwrap();
        let bob = owned_job_id("token:bob", "order-17").unwrap();
        assert_ne!(alice, bob);
        assert!(alice.as_str().starts_with("order-17@"));
        assert_eq!(alice, owned_job_id("token:alice", "order-17").unwrap());
        // Bob cannot give Alice's full id and get her job.
        let forged = owned_job_id("token:bob", alice.as_str()).unwrap();
        assert_ne!(forged, alice);
        assert!(owned_job_id("token:alice", &"x".repeat(245)).is_ok());
        let long = owned_job_id("token:alice", &"x".repeat(246)).unwrap_err();
        assert!(long.contains("at most 245 bytes"), "{long}");
    }

    #[test]
    fn idempotency_keys_name_one_job_per_owner() {
        let a = idempotent_job_id(Some("anon:1"), "k");
        assert_eq!(a, idempotent_job_id(Some("anon:1"), "k"));
        assert_ne!(a, idempotent_job_id(Some("anon:2"), "k"));
        assert_ne!(a, idempotent_job_id(None, "k"));
        assert!(a.as_str().starts_with("idem-") && a.as_str().len() == 29);
    }
}
