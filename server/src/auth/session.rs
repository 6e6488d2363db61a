//! Signed cookies: a browser session after sign-in, and an anonymous visitor's identity. The
//! value is `<payload>.<signature>`, the signature an HMAC-SHA256 of the payload with the
//! `SENTINEL_SESSION_SECRET`, so any web process with the same secret accepts it and a restart
//! keeps it valid. HttpOnly, SameSite=Lax, Path=/, and Secure when served over HTTPS.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The session cookie's name (a signed-in person).
pub const SESSION_COOKIE: &str = "sentinel_session";
/// The anonymous identity cookie's name.
pub const ANONYMOUS_COOKIE: &str = "sentinel_anon";
/// How long a session lasts.
pub const SESSION_SECONDS: u64 = 12 * 3600;
/// How long an anonymous identity lasts.
pub const ANONYMOUS_SECONDS: u64 = 365 * 24 * 3600;

/// The signing key.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl SessionKey {
    /// A key from the configured secret.
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().to_vec())
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| {
            <Hmac<Sha256> as Mac>::new_from_slice(b"k").expect("HMAC takes any key")
        });
        mac.update(payload.as_bytes());
        mac
    }

    /// `payload` with its signature, ready to be a cookie value.
    pub fn sign(&self, payload: &str) -> String {
        let encoded = b64().encode(payload);
        let tag = b64().encode(self.mac(&encoded).finalize().into_bytes());
        format!("{encoded}.{tag}")
    }

    /// The payload of a value signed with this key (checked in constant time), else `None`.
    pub fn verify(&self, value: &str) -> Option<String> {
        let (encoded, tag) = value.split_once('.')?;
        let tag = b64().decode(tag).ok()?;
        self.mac(encoded).verify_slice(&tag).ok()?;
        String::from_utf8(b64().decode(encoded).ok()?).ok()
    }
}

/// What a session cookie carries: `t|<token name>|<digest prefix>|<expiry>|<session id>`. The
/// id is what signing out revokes ([`super::revoked`]); the digest prefix ties the session to
/// the token it was opened with, so it ends when that token leaves the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token's name.
    pub name: String,
    /// The first 16 hex digits of the token's digest.
    pub digest_prefix: String,
    /// When it expires, in seconds since the epoch.
    pub expiry: u64,
    /// Its id (128 random bits, hex).
    pub id: String,
}

impl Session {
    /// A payload as [`Session::payload`] writes it; `None` for anything else (among them the
    /// sessions of older versions, which had no id: their holders sign in again).
    pub fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split('|');
        let (Some("t"), Some(name), Some(prefix), Some(expiry), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let id_ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
        let expiry = expiry.parse().ok().filter(|_| id_ok)?;
        Some(Self {
            name: name.to_string(),
            digest_prefix: prefix.to_string(),
            expiry,
            id: id.to_string(),
        })
    }

    /// The payload to sign.
    pub fn payload(&self) -> String {
        format!(
            "t|{}|{}|{}|{}",
            self.name, self.digest_prefix, self.expiry, self.id
        )
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", 0, secure)
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A random id (128 bits, hex).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness at all: refuse to make predictable ids by making them unique per call
        // at least; this never happens on Linux.
        bytes = now().to_le_bytes().repeat(2).try_into().unwrap_or([0; 16]);
    }
    app::url::hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip_and_old_or_odd_payloads_are_none() {
        let session = Session {
            name: "ci".into(),
            digest_prefix: "0123456789abcdef".into(),
            expiry: 99,
            id: "a".repeat(32),
        };
        assert_eq!(Session::parse(&session.payload()), Some(session));
        assert_eq!(Session::parse("t|ci|0123456789abcdef|99"), None, "no id");
        assert_eq!(
            Session::parse(&format!("t|ci|p|99|{}|x", "a".repeat(32))),
            None
        );
        assert_eq!(
            Session::parse(&format!("t|ci|p|soon|{}", "a".repeat(32))),
            None
        );
        assert_eq!(Session::parse("t|ci|p|99|short"), None);
    }

    #[test]
    fn signed_values_round_trip_and_forgeries_fail() {
        let key = SessionKey::new("a secret of at least thirty-two bytes!");
        let value = key.sign("t|ci|0123456789abcdef|99");
        assert_eq!(
            key.verify(&value).as_deref(),
            Some("t|ci|0123456789abcdef|99")
        );
        let other = SessionKey::new("another secret of thirty-two bytes!!");
        assert_eq!(other.verify(&value), None);
        let (payload, tag) = value.split_once('.').unwrap();
        let forged = format!("{}.{tag}", b64().encode("t|admin|0123456789abcdef|99"));
        assert_eq!(key.verify(&forged), None);
        assert_eq!(key.verify(payload), None);
        assert_eq!(key.verify("garbage"), None);
    }
}
