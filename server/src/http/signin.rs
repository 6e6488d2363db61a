//! The sign-in page (a token, for people), sign-out, and `whoami`. Plain server-rendered HTML
//! with the site's style sheet: it works without JavaScript and before the WebAssembly loads.

use std::time::Duration;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tracing::{info, warn};

use crate::auth::client::client_addr;
use crate::auth::session::{self, ANONYMOUS_COOKIE, SESSION_COOKIE, SESSION_SECONDS};
use crate::auth::{Principal, tokens};
use crate::service::state::AppState;

/// How long a failed sign-in waits before it is answered (slows guessing).
const FAILED_SIGN_IN_DELAY: Duration = Duration::from_secs(1);

fn page(message: Option<&str>, status: StatusCode) -> Response {
    let message = message
        .map(|m| {
            format!(
                r#"<p id="token-error" class="field-error" role="alert">{}</p>"#,
                escape(m)
            )
        })
        .unwrap_or_default();
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><meta name="color-scheme" content="light dark"/><title>Sign in · Sentinel</title><link rel="stylesheet" href="/pkg/sentinel.css"/><link rel="icon" href="data:,"/></head><body><main class="page"><h1>Sentinel</h1><p class="lede">Sign in with the access token you were given.</p><form method="post" action="/signin"><div class="field"><label for="token">Token</label><input id="token" name="token" type="password" autocomplete="current-password" required minlength="32" aria-describedby="token-error" autofocus/><button type="submit">Sign in</button></div>{message}</form></main></body></html>"#
    );
    (status, Html(html)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /signin`.
pub async fn show() -> Response {
    page(None, StatusCode::OK)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

/// `POST /signin`: a valid token opens a session (a signed cookie naming the token, valid while
/// the token is in the file) and goes to the page; anything else waits a second and says so.
pub async fn submit(
    State(state): State<AppState>,
    parts: Parts,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let access = &state.access;
    let Some(key) = access.key() else {
        return page(
            Some("Sign-in with a token is not set up on this server."),
            StatusCode::BAD_REQUEST,
        );
    };
    let Ok(Form(form)) = form else {
        return page(Some("Enter your token."), StatusCode::BAD_REQUEST);
    };
    let Some(entry) = access.tokens().find(form.token.trim()) else {
        warn!(client = ?client_addr(&parts.extensions), "failed sign-in");
        tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
        return page(Some("That token is not valid."), StatusCode::UNAUTHORIZED);
    };
    info!(name = %entry.name, role = %entry.role, "signed in");
    let opened = session::Session {
        name: entry.name.clone(),
        digest_prefix: tokens::hex(&entry.digest)[..16].to_string(),
        expiry: session::now() + SESSION_SECONDS,
        id: session::random_id(),
    };
    record_session(&state, &entry, "sign-in").await;
    let cookie = session::set_cookie(
        SESSION_COOKIE,
        &key.sign(&opened.payload()),
        SESSION_SECONDS,
        access.secure_cookies(&parts),
    );
    redirect_with_cookies("/", &[cookie])
}

/// `POST /signout`: ends the session (and any anonymous identity) and goes to the sign-in page.
/// The session is revoked, not only its cookie cleared: a copy of the cookie stops working at
/// once on this process and within a second on every other.
pub async fn sign_out(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let secure = state.access.secure_cookies(&parts);
    if let Some(key) = state.access.key()
        && let Some(session) = session::cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|value| key.verify(value))
            .and_then(|payload| session::Session::parse(&payload))
    {
        let revoked = state
            .access
            .revoked
            .revoke(state.queue().ok(), &session.id, session.expiry)
            .await;
        if let Some(entry) = state
            .access
            .tokens()
            .by_name(&session.name, &session.digest_prefix)
        {
            record_session(&state, &entry, "sign-out").await;
        }
        match revoked {
            Ok(()) => info!(name = %session.name, "signed out"),
            Err(error) => warn!(
                name = %session.name,
                error = %crate::telemetry::error_chain(&error),
                "signed out on this process only: Redis did not take the revocation"
            ),
        }
    }
    redirect_with_cookies(
        "/signin",
        &[
            session::clear_cookie(SESSION_COOKIE, secure),
            session::clear_cookie(ANONYMOUS_COOKIE, secure),
        ],
    )
}

/// Puts a session's start or end (`action`) on the audit log, as the token's holder.
async fn record_session(state: &AppState, entry: &tokens::TokenEntry, action: &str) {
    let principal = Principal {
        owner: format!("token:{}", entry.name).into(),
        role: entry.role,
        credential: crate::auth::Credential::Session,
        network: None,
        queues: entry.queues.clone(),
        home_hidden: false,
    };
    let done = crate::service::audit::Done {
        action,
        target: None,
        count: None,
    };
    let _ = crate::service::audit::record(state, &principal, done, Ok(()), |()| "done".to_string())
        .await;
}

fn redirect_with_cookies(to: &str, cookies: &[String]) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        LOCATION,
        HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")),
    );
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// `GET /whoami`: the caller's owner and role (`401` when nobody).
#[utoipa::path(get, path = "/whoami", responses(
    (status = 200, description = "`{\"owner\", \"role\"}` of the caller"),
    (status = 401, description = "Nobody is signed in", body = crate::http::openapi::ErrorBody),
))]
pub async fn whoami(principal: Option<axum::Extension<Principal>>) -> Response {
    match principal {
        Some(axum::Extension(p)) => axum::Json(serde_json::json!({
            "owner": &*p.owner,
            "role": p.role.as_str(),
        }))
        .into_response(),
        None => crate::error::AppError::Unauthorized.into_response(),
    }
}
