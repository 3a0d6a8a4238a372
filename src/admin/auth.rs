//! Who may use the staff pages and the operator API: the bearer of `ADMIN_TOKEN` (the API), or a
//! browser holding a session cookie given for it at the login page (the pages).
//!
//! The token is compared in constant time (both sides hashed first, so the length leaks nothing
//! either) and never logged. A wrong or missing token spends the caller's failed-authentication
//! budget, the same one forged webhooks spend (`ingress::ratelimit`), and once it is spent the
//! address gets 429 before any comparison until the window ends.
//!
//! The session cookie is `<expiry>.<nonce>.<mac>`: HMAC-SHA256, under a key derived from the token,
//! of the expiry (Unix seconds) and a random nonce. Nothing is stored on the server; changing
//! `ADMIN_TOKEN` ends every session. It is HttpOnly and `SameSite=Strict`, and `Secure` when the
//! request came over HTTPS through a trusted proxy (`X-Forwarded-Proto`). Every form of a page
//! carries a CSRF token, the HMAC of the session's nonce under another label, checked on each POST.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::AppError;
use crate::ingress::client::client_ip;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "salonbot_admin";
/// The login form's cookie (its CSRF nonce, before there is a session).
pub const LOGIN_COOKIE: &str = "salonbot_login";
/// How long a session lasts.
pub const SESSION_SECONDS: u64 = 12 * 3600;

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The keys derived from `ADMIN_TOKEN`.
#[derive(Clone)]
pub struct Keys {
    token_digest: [u8; 32],
    /// HMAC-SHA256's block size, so that the key is taken as it is.
    mac_key: [u8; 64],
}

impl Keys {
    pub fn new(token: &str) -> Self {
        let token_digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut mac_key = [0u8; 64];
        for (half, label) in mac_key.chunks_mut(32).zip([
            &b"salonbot admin key 1\0"[..],
            &b"salonbot admin key 2\0"[..],
        ]) {
            let mut derive = Sha256::new();
            derive.update(label);
            derive.update(token.as_bytes());
            half.copy_from_slice(&derive.finalize());
        }
        Self {
            token_digest,
            mac_key,
        }
    }

    /// Whether `candidate` is the token, in time independent of where they differ.
    pub fn token_matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        digest.ct_eq(&self.token_digest).into()
    }

    fn mac(&self, label: &str, data: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as hmac::digest::KeyInit>::new(&self.mac_key.into());
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac
    }

    fn sign(&self, label: &str, data: &str) -> String {
        hex::encode(self.mac(label, data).finalize().into_bytes())
    }

    fn verify(&self, label: &str, data: &str, signature: &str) -> bool {
        match hex::decode(signature) {
            Ok(bytes) => self.mac(label, data).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// A new session cookie's value, valid until `now + SESSION_SECONDS`.
    pub fn new_session(&self, now: u64) -> String {
        let expiry = now + SESSION_SECONDS;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let data = format!("{expiry}.{nonce}");
        let mac = self.sign("session", &data);
        format!("{data}.{mac}")
    }

    /// The session's nonce, when `value` is a session cookie this token signed and not expired.
    pub fn session_nonce(&self, value: &str, now: u64) -> Option<String> {
        let mut parts = value.splitn(3, '.');
        let (expiry, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let data = format!("{expiry}.{nonce}");
        if !self.verify("session", &data, mac) {
            return None;
        }
        (expiry.parse::<u64>().ok()? > now).then(|| nonce.to_owned())
    }

    /// The CSRF token of the forms of a session (or of the login form, by its nonce).
    pub fn csrf(&self, nonce: &str) -> String {
        self.sign("csrf", nonce)
    }

    pub fn csrf_matches(&self, nonce: &str, token: &str) -> bool {
        self.verify("csrf", nonce, token)
    }
}

/// The configured keys, or 404: without `ADMIN_TOKEN` the admin routes do not exist.
pub fn keys(state: &AppState) -> Result<Keys, AppError> {
    state
        .config
        .admin_token
        .as_ref()
        .map(|t| Keys::new(t.expose()))
        .ok_or_else(|| AppError::NotFound("not found".into()))
}

/// The caller's address, as rate limits see it.
pub fn caller(state: &AppState, parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    client_of(state, peer, &parts.headers)
}

/// The same, from the socket's peer (when known) and the headers.
pub fn client_of(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
    let peer = peer.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    client_ip(peer, headers, &state.config.rate_limit)
}

/// 429 when the caller's failed-authentication budget is spent.
pub fn admit(state: &AppState, client: IpAddr) -> Result<(), AppError> {
    state
        .limiter
        .check_blocked(client, unix_now())
        .map_err(AppError::Throttled)
}

/// Spends one unit of the caller's budget and gives the error to answer with.
pub async fn refuse(state: &AppState, client: IpAddr) -> AppError {
    state.limiter.note_invalid(client, unix_now()).await;
    tracing::info!(client = %client, "admin authentication refused");
    AppError::Unauthorized
}

/// An operator of the JSON API: the request carried `Authorization: Bearer <ADMIN_TOKEN>`.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let keys = keys(state)?;
        let client = caller(state, parts);
        admit(state, client)?;
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match bearer {
            Some(token) if keys.token_matches(token) => Ok(Operator),
            _ => Err(refuse(state, client).await),
        }
    }
}

/// A signed-in member of staff on the pages; `None` of it means "show the login page".
#[derive(Clone)]
pub struct Staff {
    pub keys: Keys,
    /// The session's nonce, which its CSRF token is made from.
    pub nonce: String,
}

impl Staff {
    pub fn csrf(&self) -> String {
        self.keys.csrf(&self.nonce)
    }

    /// Checks a form's CSRF token.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), AppError> {
        match token {
            Some(token) if self.keys.csrf_matches(&self.nonce, token) => Ok(()),
            _ => Err(AppError::Forbidden),
        }
    }
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session of a request, if it has a valid one.
pub fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<Staff>, AppError> {
    let keys = keys(state)?;
    let nonce = cookie(headers, SESSION_COOKIE).and_then(|v| keys.session_nonce(v, unix_now()));
    Ok(nonce.map(|nonce| Staff { keys, nonce }))
}

/// Whether the request reached us over HTTPS (through a trusted proxy that says so).
pub fn over_https(state: &AppState, parts_headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    let trusted = peer.is_some_and(|p| state.config.rate_limit.is_trusted_proxy(p.ip()));
    trusted
        && parts_headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, `SameSite=Strict`, path `/admin`, `Secure` when asked.
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_matches() {
        let keys = Keys::new("s3cret-token");
        assert!(keys.token_matches("s3cret-token"));
        assert!(!keys.token_matches("s3cret-tokeN"));
        assert!(!keys.token_matches(""));
    }

    #[test]
    fn sessions_expire_and_belong_to_their_token() {
        let keys = Keys::new("one");
        let cookie = keys.new_session(1_000);
        let nonce = keys.session_nonce(&cookie, 1_001).unwrap();
        assert!(
            keys.session_nonce(&cookie, 1_000 + SESSION_SECONDS)
                .is_none()
        );
        assert!(Keys::new("two").session_nonce(&cookie, 1_001).is_none());
        let forged = cookie.replacen(&(1_000 + SESSION_SECONDS).to_string(), "99999999999", 1);
        assert!(keys.session_nonce(&forged, 1_001).is_none());
        let csrf = keys.csrf(&nonce);
        assert!(keys.csrf_matches(&nonce, &csrf));
        assert!(!keys.csrf_matches("other", &csrf));
        assert!(!keys.csrf_matches(&nonce, "zz"));
    }
}
