//! The sign-in page (a token, for people), sign-out, and `whoami`. Plain server-rendered HTML
//! with the site's style sheet: it works without JavaScript and before the WebAssembly loads.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::auth::Principal;
use crate::auth::session::{self, ANONYMOUS_COOKIE, SESSION_COOKIE};
use crate::error::AppError;
use crate::http::state::AppState;
use crate::service::sessions::SignInError;

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
/// the token is in the file) and goes to the page; anything else waits a second and says so;
/// too many sign-ins for the token or from the network get a `429` page with `Retry-After`.
pub async fn submit(
    State(state): State<AppState>,
    parts: Parts,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page(Some("Enter your token."), StatusCode::BAD_REQUEST);
    };
    let network = state
        .access
        .client_network(&parts.extensions, &parts.headers);
    match state.sentinel.sign_in(&form.token, network).await {
        Ok(opened) => {
            let cookie = session::set_cookie(
                SESSION_COOKIE,
                &opened.value,
                opened.max_age,
                state.access.secure_cookies(&parts),
            );
            redirect_with_cookies("/", &[cookie])
        }
        Err(SignInError::NotSetUp) => page(
            Some("Sign-in with a token is not set up on this server."),
            StatusCode::BAD_REQUEST,
        ),
        Err(SignInError::Invalid) => {
            page(Some("That token is not valid."), StatusCode::UNAUTHORIZED)
        }
        Err(SignInError::Refused(refusal)) => {
            let retry_after = match &refusal {
                AppError::RateLimited { retry_after, .. } => *retry_after,
                _ => 2,
            };
            let status = refusal.status();
            let mut answer = page(
                Some(&format!("Too many sign-ins; try again in {retry_after} s.")),
                status,
            );
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after));
            answer
        }
    }
}

/// `POST /signout`: ends the session (and any anonymous identity) and goes to the sign-in page.
/// The session is revoked, not only its cookie cleared: a copy of the cookie stops working at
/// once on this process and within a second on every other.
pub async fn sign_out(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let secure = state.access.secure_cookies(&parts);
    if let Some(cookie) = session::cookie(&parts.headers, SESSION_COOKIE) {
        let network = state
            .access
            .client_network(&parts.extensions, &parts.headers);
        if let Err(refusal) = state.sentinel.sign_out(cookie, network).await {
            return refusal.into_response();
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
    (status = 401, description = "Nobody is signed in", body = crate::error::ErrorBody),
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
