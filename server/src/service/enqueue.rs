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
//!   client network too, since such identities are free to make), then the jobs waiting or
//!   running, counted and reserved in one Redis script per owner (and network) so parallel
//!   requests cannot overshoot it.

use app::TaskPayload;
use app::options::TaskOptions;
use sha2::Digest;

use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::queue::keys::{CustomIdError, NewJobId};
use crate::service::state::AppState;

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

/// Enqueues a task for `principal`; returns the job's id.
pub async fn enqueue(
    state: &AppState,
    principal: &Principal,
    request: EnqueueRequest<'_>,
) -> Result<String, AppError> {
    let access = &state.access;
    let Some(other) = request.options.on_behalf_of.clone() else {
        let owner = access.enabled.then(|| principal.owner.to_string());
        return enqueue_for(state, principal, owner, request).await;
    };
    // On another's behalf: operators and admins only; the job is the other owner's (their
    // list, their quota); the audit log says who did it.
    if principal.role < crate::auth::Role::Operator {
        return Err(AppError::Forbidden);
    }
    let added = enqueue_for(state, principal, Some(other.clone()), request).await;
    let target = format!("for {other}");
    let done = super::audit::Done {
        action: "enqueue:on-behalf",
        target: Some(&target),
        count: Some(1),
    };
    super::audit::record(state, principal, done, added, |id| {
        format!("added job {id}")
    })
    .await
}

/// Enqueues a task owned by `owner` (none: access control is off), holding that owner's quotas.
async fn enqueue_for(
    state: &AppState,
    principal: &Principal,
    owner: Option<String>,
    request: EnqueueRequest<'_>,
) -> Result<String, AppError> {
    let queue = state.queue()?;
    let access = &state.access;
    let job_id = job_id_for(principal, owner.as_deref(), &request)?;
    let mut reservation = None;
    if let Some(owner) = owner.as_ref().filter(|_| access.enabled) {
        let anonymous_network = (principal.credential == Credential::Anonymous)
            .then_some(principal.network)
            .flatten()
            .map(|net| net.to_string());
        let over_rate = access.rate.check(owner).err().or_else(|| {
            anonymous_network
                .as_ref()
                .and_then(|net| access.network_rate.check(net).err())
        });
        if let Some(wait) = over_rate {
            return Err(AppError::RateLimited {
                per_minute: access.rate.per_minute(),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        let keys = queue.keys();
        let mut indexes = vec![keys.owner(owner)];
        indexes.extend(anonymous_network.map(|net| keys.quota_network(&net)));
        match queue.reserve(&indexes, access.max_pending).await? {
            Ok(place) => reservation = Some(place),
            Err(_) => {
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
    let added = queue.enqueue(payload, job_id, request.options).await;
    if let Some(reservation) = reservation {
        // The place becomes the job, or is given back; if Redis fails here the reservation
        // lapses by itself (`RESERVATION_MS`).
        let settled = queue
            .settle(reservation, added.as_ref().ok().map(String::as_str))
            .await;
        if let Err(error) = settled {
            tracing::warn!(error = %crate::telemetry::error_chain(&error), "quota reservation not settled; it lapses by itself");
        }
    }
    Ok(added?)
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
