//! Who may do what. Every request is identified once, by the edge's [`admit`] step, as a
//! [`Principal`] (an owner and a [`Role`]) or as nobody:
//! 1. `Authorization: Bearer <token>`: a token from `SENTINEL_TOKENS_FILE` (programs);
//! 2. the header `SENTINEL_TRUSTED_USER_HEADER`, only from an address in
//!    `SENTINEL_TRUSTED_PROXIES` (a reverse proxy that signed the person in);
//! 3. the session cookie set by the sign-in page;
//! 4. an anonymous identity, when `SENTINEL_ANONYMOUS_ROLE` allows one (a signed cookie, so an
//!    anonymous submitter keeps seeing its own tasks).
//!
//! With auth off (the default on a loopback address) everyone is an admin owned as `local`.
//! The same middleware refuses cross-site state changes made with cookies (CSRF). Handlers say
//! what they need with [`require`]; `401` without credentials, `403` for a role that may not.

pub mod client;
pub mod revoked;
pub mod scope;
pub mod session;
pub mod tokens;

pub use scope::{Grant, QueueScope};

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use tracing::{debug, warn};

use crate::auth::client::client_addr;
use crate::config::{AnonymousRole, AuthSettings};
use crate::error::AppError;
use session::{ANONYMOUS_COOKIE, ANONYMOUS_SECONDS, SESSION_COOKIE, SessionKey};
use tokens::TokenStore;

/// Longest user name taken from a trusted proxy's header.
const MAX_USER_LEN: usize = 256;

/// What a principal may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Enqueue; see and follow its own tasks only.
    Submitter,
    /// Read every job, the counts, the event stream, the dashboard.
    Viewer,
    /// Viewer, plus job and queue actions.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "submitter" => Ok(Role::Submitter),
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A bearer token.
    Bearer,
    /// The sign-in page's session cookie.
    Session,
    /// The trusted proxy's header.
    Proxy,
    /// An anonymous identity.
    Anonymous,
    /// Auth is off.
    Open,
    /// Sentinel itself (a re-read of the tokens file).
    System,
}

impl Credential {
    /// Its name, for the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::Bearer => "bearer",
            Credential::Session => "session",
            Credential::Proxy => "proxy",
            Credential::Anonymous => "anonymous",
            Credential::Open => "open",
            Credential::System => "system",
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The owner recorded in the jobs it adds (`token:<name>`, `user:<name>`, `anon:<id>`,
    /// `local`).
    pub owner: Arc<str>,
    /// What it may do.
    pub role: Role,
    /// How it proved it.
    pub credential: Credential,
    /// The network the request came from (see [`client::network_of`]), when known: anonymous
    /// identities cost nothing to make, so their quotas hold per network too.
    pub network: Option<IpNet>,
    /// The queues it may see (every queue unless its grant is limited: `operator@billing-*`).
    pub queues: QueueScope,
    /// Whether its grant leaves out Sentinel's own queue: then it sees only its own jobs there,
    /// whatever its role (the task API, the event stream, the home page's counts).
    pub home_hidden: bool,
}

impl Principal {
    /// Whether this principal may add jobs: a viewer is read-only, every other role may.
    pub fn may_enqueue(&self) -> bool {
        self.role != Role::Viewer
    }

    /// Whether this principal may see queue `name` under `prefix`.
    pub fn may_see_queue(&self, prefix: &str, name: &str) -> bool {
        self.queues.allows(prefix, name)
    }

    /// Whether this principal sees only its own jobs.
    pub fn sees_only_own(&self) -> bool {
        self.role == Role::Submitter || self.home_hidden
    }

    /// Whether this principal's custom job ids are its own (namespaced by owner, so nobody
    /// else can observe or take them first): everyone below operator, when access control
    /// is on.
    pub fn ids_are_namespaced(&self) -> bool {
        self.credential != Credential::Open && self.role < Role::Operator
    }

    /// A principal with access control off: everyone is an admin owned as `local`.
    pub fn open() -> Self {
        Self {
            owner: "local".into(),
            role: Role::Admin,
            credential: Credential::Open,
            network: None,
            queues: QueueScope::All,
            home_hidden: false,
        }
    }
}

/// Everything the access checks need, built once at start-up.
#[derive(Clone)]
pub struct Access {
    /// Whether auth is on.
    pub enabled: bool,
    tokens: TokenStore,
    key: Option<SessionKey>,
    user_header: Option<axum::http::HeaderName>,
    proxies: Vec<IpNet>,
    user_roles: Vec<(String, Grant)>,
    anonymous: AnonymousRole,
    cookie_secure: Option<bool>,
    /// Most jobs waiting or active per owner (and per network for anonymous identities).
    pub max_pending: u64,
    /// Hosts served while access control is off (DNS rebinding guard).
    hosts: client::AllowedHosts,
    /// Sessions signed out before they expired.
    pub revoked: Arc<revoked::RevokedSessions>,
    /// Sentinel's own queue (prefix, name): a principal whose grant does not reach it sees
    /// only its own jobs there.
    home: (String, String),
    /// The refusals this middleware logs, each kind at most once a minute.
    pub throttle: Arc<crate::telemetry::LogThrottle>,
}

/// Why the settings cannot make a safe server.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A setting is wrong.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// The variable.
        name: &'static str,
        /// What to do.
        reason: String,
    },
    /// The tokens file cannot be read.
    #[error(transparent)]
    Tokens(#[from] tokens::TokenFileError),
}

impl Access {
    /// Builds the checks from the settings; refuses settings that leave a public server open
    /// by accident or with no way in.
    pub fn new(
        settings: &AuthSettings,
        listen: std::net::SocketAddr,
        serves_api: bool,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<Self, AccessError> {
        let fail = |name, reason: &str| AccessError::Setting {
            name,
            reason: reason.to_string(),
        };
        let loopback = listen.ip().is_loopback();
        let enabled = match settings.auth {
            Some(crate::config::AuthMode::On) => true,
            Some(crate::config::AuthMode::Off) => false,
            None => !loopback,
        };
        // A worker process serves only its health endpoints, which stay open: nothing to guard.
        let enabled = enabled && serves_api;
        if serves_api && !enabled && !loopback {
            warn!(
                addr = %listen,
                "AUTH IS OFF ON A NON-LOOPBACK ADDRESS: anyone who can reach this server can enqueue, read every job and act on the queue. Set SENTINEL_AUTH=on."
            );
        }
        // An empty variable counts as unset (a compose file passes every variable through).
        let tokens_file = settings.tokens_file.as_ref().filter(|p| !p.is_empty());
        let tokens = match tokens_file {
            Some(path) => TokenStore::load(std::path::Path::new(path), shutdown)?,
            None => TokenStore::default(),
        };
        let mut proxies = Vec::new();
        for raw in settings
            .trusted_proxies
            .iter()
            .filter(|p| !p.trim().is_empty())
        {
            proxies.push(parse_proxy(raw).map_err(|e| fail("SENTINEL_TRUSTED_PROXIES", &e))?);
        }
        let user_header = match settings
            .trusted_user_header
            .as_ref()
            .filter(|h| !h.is_empty())
        {
            Some(name) => Some(
                axum::http::HeaderName::from_str(name)
                    .map_err(|_| fail("SENTINEL_TRUSTED_USER_HEADER", "is not a header name"))?,
            ),
            None => None,
        };
        if user_header.is_some() && proxies.is_empty() {
            return Err(fail(
                "SENTINEL_TRUSTED_PROXIES",
                "must list the proxy addresses when SENTINEL_TRUSTED_USER_HEADER is set",
            ));
        }
        let mut user_roles = Vec::new();
        for entry in settings.user_roles.iter().filter(|e| !e.trim().is_empty()) {
            let (user, role) = entry
                .split_once('=')
                .ok_or_else(|| fail("SENTINEL_USER_ROLES", "entries are user=role (or *=role)"))?;
            let grant: Grant = role
                .trim()
                .parse()
                .map_err(|e: String| fail("SENTINEL_USER_ROLES", &e))?;
            user_roles.push((user.trim().to_string(), grant));
        }
        let key = match settings.session_secret.as_ref().filter(|s| !s.0.is_empty()) {
            Some(secret) if secret.0.len() >= 32 => Some(SessionKey::new(&secret.0)),
            Some(_) => {
                return Err(fail(
                    "SENTINEL_SESSION_SECRET",
                    "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
            None => None,
        };
        if enabled {
            let can_sign_in = tokens_file.is_some()
                || user_header.is_some()
                || settings.anonymous_role != AnonymousRole::None;
            if !can_sign_in {
                return Err(fail(
                    "SENTINEL_AUTH",
                    "auth is on but nobody can sign in: set SENTINEL_TOKENS_FILE (tokens for programs and the sign-in page), SENTINEL_TRUSTED_USER_HEADER with SENTINEL_TRUSTED_PROXIES (a signing-in reverse proxy), or SENTINEL_ANONYMOUS_ROLE; or SENTINEL_AUTH=off to serve everyone as admin",
                ));
            }
            let needs_cookies =
                tokens_file.is_some() || settings.anonymous_role == AnonymousRole::Submitter;
            if needs_cookies && key.is_none() {
                return Err(fail(
                    "SENTINEL_SESSION_SECRET",
                    "must be set (at least 32 characters, the same on every web process) to sign browser sessions",
                ));
            }
        }
        Ok(Self {
            enabled,
            tokens,
            key,
            user_header,
            proxies,
            user_roles,
            anonymous: settings.anonymous_role,
            cookie_secure: settings.cookie_secure,
            max_pending: settings.max_pending_per_owner,
            hosts: client::AllowedHosts::new(listen, &settings.allowed_hosts)
                .map_err(|e| fail("SENTINEL_ALLOWED_HOSTS", &e))?,
            revoked: Arc::new(revoked::RevokedSessions::default()),
            home: (String::new(), String::new()),
            throttle: Arc::default(),
        })
    }

    /// Names Sentinel's own queue (see [`Principal::home_hidden`]).
    pub fn set_home(&mut self, prefix: &str, name: &str) {
        self.home = (prefix.to_string(), name.to_string());
    }

    /// Each re-read of the tokens file, when one is configured.
    pub fn token_reloads(&self) -> tokio::sync::watch::Receiver<Option<tokens::Reload>> {
        self.tokens.reloads()
    }

    /// The principal Sentinel's own changes are recorded as (the audit log's `system`).
    pub fn system() -> Principal {
        Principal {
            owner: "system".into(),
            role: Role::Admin,
            credential: Credential::System,
            network: None,
            queues: QueueScope::All,
            home_hidden: false,
        }
    }

    /// The network a request comes from: its peer's address, or, when the peer is a trusted
    /// proxy, the address the proxy forwarded (`X-Forwarded-For`).
    pub fn client_network(
        &self,
        extensions: &axum::http::Extensions,
        headers: &axum::http::HeaderMap,
    ) -> Option<IpNet> {
        client::client_ip(extensions, headers, &self.proxies).map(client::network_of)
    }

    /// Whether a request with this `Host` may be served: always with access control on; with
    /// it off, only for loopback names, the listen address and `SENTINEL_ALLOWED_HOSTS`.
    pub fn host_allowed(&self, parts: &axum::http::request::Parts) -> bool {
        self.enabled || self.hosts.allows(parts)
    }

    /// The token store (for sign-in).
    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    /// The cookie key, when sessions are possible.
    pub fn key(&self) -> Option<&SessionKey> {
        self.key.as_ref()
    }

    fn is_trusted_proxy(&self, ip: Option<IpAddr>) -> bool {
        ip.is_some_and(|ip| self.proxies.iter().any(|net| net.contains(&ip)))
    }

    /// Whether cookies set for this request should be `Secure`.
    pub fn secure_cookies(&self, request: &axum::http::request::Parts) -> bool {
        if let Some(forced) = self.cookie_secure {
            return forced;
        }
        let via_proxy = self.is_trusted_proxy(client_addr(&request.extensions).map(|a| a.ip()));
        via_proxy
            && request
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
    }

    fn grant_of_user(&self, user: &str) -> Option<&Grant> {
        self.user_roles
            .iter()
            .find(|(u, _)| u == user)
            .or_else(|| self.user_roles.iter().find(|(u, _)| u == "*"))
            .map(|(_, grant)| grant)
    }

    /// Identifies a request. `Err` answers it at once (a bearer token that is not valid).
    /// `Ok((principal, new_cookie))`: the principal if any, and an anonymous identity cookie to
    /// set when one was just made.
    fn identify(
        &self,
        parts: &axum::http::request::Parts,
    ) -> Result<(Option<Principal>, Option<String>), AppError> {
        if !self.enabled {
            return Ok((Some(Principal::open()), None));
        }
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or_default();
            return match self.tokens.find(token) {
                Some(entry) => Ok((
                    Some(Principal {
                        owner: format!("token:{}", entry.name).into(),
                        role: entry.role,
                        credential: Credential::Bearer,
                        network: None,
                        queues: entry.queues.clone(),
                        home_hidden: false,
                    }),
                    None,
                )),
                None => {
                    self.throttle.warn("bearer refused", |suppressed| {
                        warn!(client = ?client_addr(&parts.extensions), suppressed, "a bearer token was refused");
                    });
                    Err(AppError::Unauthorized)
                }
            };
        }
        if let Some(name) = &self.user_header
            && let Some(user) = parts.headers.get(name).and_then(|v| v.to_str().ok())
            && !user.is_empty()
        {
            if self.is_trusted_proxy(client_addr(&parts.extensions).map(|a| a.ip())) {
                // The user becomes an owner in job data and key names: bounded and printable.
                if user.len() > MAX_USER_LEN
                    || user.chars().any(|c| c.is_control() || c.is_whitespace())
                {
                    self.throttle.warn("user header refused", |suppressed| {
                        warn!(
                            suppressed,
                            "refused a user header that is too long or not printable"
                        );
                    });
                    return Err(AppError::Unauthorized);
                }
                let Some(grant) = self.grant_of_user(user) else {
                    return Err(AppError::Forbidden);
                };
                return Ok((
                    Some(Principal {
                        owner: format!("user:{user}").into(),
                        role: grant.role,
                        credential: Credential::Proxy,
                        network: None,
                        queues: grant.queues.clone(),
                        home_hidden: false,
                    }),
                    None,
                ));
            }
            debug!(client = ?client_addr(&parts.extensions), "ignored a user header from an address that is not a trusted proxy");
        }
        if let Some(key) = &self.key {
            if let Some(payload) =
                session::cookie(&parts.headers, SESSION_COOKIE).and_then(|value| key.verify(value))
                && let Some(principal) = self.session_principal(&payload)
            {
                return Ok((Some(principal), None));
            }
            if self.anonymous != AnonymousRole::None {
                if let Some(id) = session::cookie(&parts.headers, ANONYMOUS_COOKIE)
                    .and_then(|value| key.verify(value))
                    .and_then(|payload| payload.strip_prefix("a|").map(str::to_owned))
                {
                    return Ok((Some(self.anonymous_principal(&id)), None));
                }
                let id = session::random_id();
                let cookie = session::set_cookie(
                    ANONYMOUS_COOKIE,
                    &key.sign(&format!("a|{id}")),
                    ANONYMOUS_SECONDS,
                    self.secure_cookies(parts),
                );
                return Ok((Some(self.anonymous_principal(&id)), Some(cookie)));
            }
        } else if self.anonymous == AnonymousRole::Viewer {
            return Ok((Some(self.anonymous_principal("viewer")), None));
        }
        Ok((None, None))
    }

    fn anonymous_principal(&self, id: &str) -> Principal {
        let role = match self.anonymous {
            AnonymousRole::Viewer => Role::Viewer,
            _ => Role::Submitter,
        };
        Principal {
            owner: format!("anon:{id}").into(),
            role,
            credential: Credential::Anonymous,
            network: None,
            queues: QueueScope::All,
            home_hidden: false,
        }
    }

    /// A session payload (see [`session::Session`]): valid while unexpired, not signed out,
    /// and while the token it was opened with is still in the file.
    fn session_principal(&self, payload: &str) -> Option<Principal> {
        let session = session::Session::parse(payload)?;
        if session.expiry < session::now() || self.revoked.contains(&session.id) {
            return None;
        }
        let entry = self.tokens.by_name(&session.name, &session.digest_prefix)?;
        Some(Principal {
            owner: format!("token:{}", entry.name).into(),
            role: entry.role,
            credential: Credential::Session,
            network: None,
            queues: entry.queues.clone(),
            home_hidden: false,
        })
    }
}

/// Whether a state-changing request made with cookies (or by a browser with no credentials
/// at all) comes from another site: `Sec-Fetch-Site` says so, or `Origin` names another host.
fn is_cross_site(parts: &axum::http::request::Parts) -> bool {
    if let Some(site) = parts
        .headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
    {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// The edge's step that identifies a request (`http/edge.rs`): puts its [`Principal`] in its
/// extensions, or answers for it (a foreign host, a cross-site state change, nobody where
/// someone is needed). `Ok` carries the new anonymous identity cookie to set on the answer,
/// when one was made.
pub fn admit(access: &Access, parts: &mut Parts) -> Result<Option<String>, Box<Response>> {
    // A foreign page whose name resolves to this machine (DNS rebinding) must not reach a
    // server that trusts everyone; health stays open for orchestrators' probes.
    if !access.host_allowed(parts) && !matches!(parts.uri.path(), "/healthz" | "/readyz") {
        access.throttle.warn("foreign host", |suppressed| {
            warn!(host = ?parts.headers.get(header::HOST), suppressed, "refused a request for a host this server does not serve");
        });
        return Err(Box::new(AppError::MisdirectedHost.into_response()));
    }
    let (principal, new_cookie) = access
        .identify(parts)
        .map_err(IntoResponse::into_response)?;
    let network = access.client_network(&parts.extensions, &parts.headers);
    let principal = principal.map(|principal| Principal {
        network,
        home_hidden: !principal.queues.allows(&access.home.0, &access.home.1),
        ..principal
    });
    let changes_state = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let bearer = principal
        .as_ref()
        .is_some_and(|p| p.credential == Credential::Bearer);
    if changes_state && !bearer && is_cross_site(parts) {
        access.throttle.warn("cross-site", |suppressed| {
            warn!(path = %parts.uri.path(), suppressed, "refused a cross-site request");
        });
        return Err(Box::new(AppError::CrossSite.into_response()));
    }
    match principal {
        Some(principal) => {
            parts.extensions.insert(principal);
        }
        // Server functions other than the page's settings are for someone.
        None if parts.uri.path().starts_with("/api/") && parts.uri.path() != "/api/settings" => {
            return Err(Box::new(AppError::Unauthorized.into_response()));
        }
        // The page for nobody is the sign-in page.
        None if parts.method == Method::GET && parts.uri.path() == "/" => {
            return Err(Box::new(
                (
                    axum::http::StatusCode::SEE_OTHER,
                    [(header::LOCATION, HeaderValue::from_static("/signin"))],
                )
                    .into_response(),
            ));
        }
        None => {}
    }
    Ok(new_cookie)
}

/// The principal of a request if it may act as `role`: `401` when nobody is signed in, `403`
/// when the role is not enough.
pub fn require(principal: Option<&Principal>, role: Role) -> Result<&Principal, AppError> {
    let principal = principal.ok_or(AppError::Unauthorized)?;
    if principal.role < role {
        return Err(AppError::Forbidden);
    }
    Ok(principal)
}

/// The principal of a request if it may add jobs (`401` / `403` as [`require`]).
pub fn require_enqueue(principal: Option<&Principal>) -> Result<&Principal, AppError> {
    let principal = require(principal, Role::Submitter)?;
    if !principal.may_enqueue() {
        return Err(AppError::Forbidden);
    }
    Ok(principal)
}

/// Parses a `SENTINEL_TRUSTED_PROXIES` entry: an address or a network (`10.0.0.0/8`).
pub fn parse_proxy(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is not an address or a network"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Submitter < Role::Viewer && Role::Viewer < Role::Operator);
        assert!(Role::Operator < Role::Admin);
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
        let p = Principal {
            owner: "x".into(),
            role: Role::Viewer,
            credential: Credential::Bearer,
            network: None,
            queues: QueueScope::All,
            home_hidden: false,
        };
        assert!(require(Some(&p), Role::Submitter).is_ok());
        assert!(matches!(
            require(Some(&p), Role::Operator),
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            require(None, Role::Submitter),
            Err(AppError::Unauthorized)
        ));
    }

    #[test]
    fn cross_site_is_told_by_fetch_metadata_or_origin() {
        let parts = |headers: &[(&str, &str)]| {
            let mut builder =
                axum::http::Request::post("/tasks/enqueue").header("host", "app.example:3001");
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            builder.body(()).unwrap().into_parts().0
        };
        assert!(!is_cross_site(&parts(&[])));
        assert!(!is_cross_site(&parts(&[("sec-fetch-site", "same-origin")])));
        assert!(is_cross_site(&parts(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&parts(&[("sec-fetch-site", "same-site")])));
        assert!(!is_cross_site(&parts(&[(
            "origin",
            "http://app.example:3001"
        )])));
        assert!(is_cross_site(&parts(&[("origin", "https://evil.example")])));
        assert!(is_cross_site(&parts(&[("origin", "null")])));
        assert_eq!(parse_proxy("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_proxy("127.0.0.1").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert!(parse_proxy("proxy").is_err());
    }
}
