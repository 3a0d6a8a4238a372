//! What we know of the caller before trusting anything it sent: its address and its body size.

use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

use crate::config::RateLimitConfig;
use crate::error::AppError;

/// The client's address: the socket peer, or, when the peer is a trusted proxy, the first address of
/// `X-Forwarded-For` (read from the right) that is not a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, limits: &RateLimitConfig) -> IpAddr {
    let peer_ip = peer.ip();
    if !limits.is_trusted_proxy(peer_ip) {
        return peer_ip;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .find(|ip| !limits.is_trusted_proxy(**ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer_ip)
}

/// Reads the whole body, refusing (413) one over `limit` bytes without reading past it.
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(AppError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            AppError::TooLarge { limit }
        } else {
            AppError::Malformed(format!("body could not be read: {err}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> RateLimitConfig {
        RateLimitConfig {
            trusted_proxies: trusted.iter().map(|s| s.parse().unwrap()).collect(),
            invalid_per_minute: 30,
            per_minute: None,
        }
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let peer: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        assert_eq!(
            client_ip(peer, &xff("1.2.3.4"), &limits(&["10.0.0.0/8"])),
            peer.ip()
        );
    }

    #[test]
    fn trusted_proxy_forwards_the_first_untrusted_address() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let l = limits(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(peer, &xff("203.0.113.5, 10.0.0.9"), &l),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        // A client cannot push a fake address past the proxy: the rightmost untrusted one wins.
        assert_eq!(
            client_ip(peer, &xff("6.6.6.6, 203.0.113.5, 10.0.0.9"), &l),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(peer, &HeaderMap::new(), &l), peer.ip());
    }
}
