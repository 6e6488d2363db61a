//! The OpenAPI description of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and the shared types' schemas, served at `GET /openapi.json`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use utoipa::OpenApi;

use crate::config::Config;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sentinel",
        description = "Long-running tasks on a BullMQ queue: enqueue, follow, count."
    ),
    paths(
        crate::http::tasks::enqueue,
        crate::http::tasks::status,
        crate::http::tasks::retry,
        crate::http::tasks::counts,
        crate::http::health::healthz,
        crate::http::health::readyz,
        crate::http::signin::whoami,
        crate::http::admin::list_jobs,
        crate::http::admin::search_across,
        crate::http::admin::job,
        crate::http::admin::why,
        crate::http::admin::job_action,
        crate::http::writes::edit_data,
        crate::http::writes::add_job,
        crate::http::admin::pause,
        crate::http::admin::resume,
        crate::http::admin::clean,
        crate::http::admin::workers,
        crate::http::admin::queues,
        crate::http::admin::audit,
        crate::http::admin::alerts,
        crate::http::admin::firing,
        crate::http::admin::ack,
        crate::http::admin::metrics,
        crate::http::admin::history,
        crate::http::admin::flow,
        crate::http::admin::bulk_action,
        crate::http::admin::bulk_progress,
        crate::http::admin::list_schedulers,
        crate::http::admin::upsert_scheduler,
        crate::http::admin::remove_scheduler,
        crate::http::admin::scheduler_action,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::http::schema::EnqueueBody,
        crate::http::schema::BackoffBody,
        crate::http::schema::BulkBody,
        crate::http::schema::AddJobBody,
        crate::http::schema::BulkIds,
        crate::http::schema::BulkQuery
    ))
)]
pub struct ApiDoc;

/// `GET /openapi.json`: the generated description, with the limits this server runs with.
pub async fn document(State(config): State<std::sync::Arc<Config>>) -> Json<Value> {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    let max = Value::from(config.max_seconds);
    if let Some(params) = doc
        .pointer_mut("/paths/~1tasks~1enqueue/post/parameters")
        .and_then(Value::as_array_mut)
    {
        for param in params.iter_mut().filter(|p| p["name"] == "seconds") {
            param["schema"]["maximum"] = max.clone();
        }
    }
    if let Some(seconds) = doc.pointer_mut("/components/schemas/EnqueueBody/properties/seconds") {
        seconds["maximum"] = max;
    }
    // The queue's own key names (see `keys.rs`) and what BullMQ reads as integers are no
    // custom ids: the description says which.
    if let Some(job_id) = doc.pointer_mut("/components/schemas/EnqueueBody/properties/jobId") {
        job_id["not"] = serde_json::json!({
            "anyOf": [
                { "enum": crate::queue::keys::RESERVED.to_vec() },
                { "type": "string", "pattern": "^(-?[0-9]+|NaN)$" },
            ]
        });
    }
    // The search grammar's patterns live beside the code that parses them.
    let across = crate::service::search::cursor_pattern();
    for (path, cursor) in [
        (
            "/paths/~1admin~1api~1jobs/get/parameters",
            crate::queue::search::CURSOR_PATTERN,
        ),
        (
            "/paths/~1admin~1api~1search/get/parameters",
            across.as_str(),
        ),
    ] {
        let Some(params) = doc.pointer_mut(path).and_then(Value::as_array_mut) else {
            continue;
        };
        for param in params.iter_mut() {
            let pattern = match param["name"].as_str() {
                Some("q") => app::search::QUERY_PATTERN,
                Some("cursor") => cursor,
                _ => continue,
            };
            param["schema"]["pattern"] = Value::from(pattern);
        }
    }
    Json(doc)
}
