//! Webhook signatures, verified on the raw bytes before anything is parsed.
//!
//! Meta signs each POST with `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the exact body
//! under the app secret (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started>).
//!
//! Stripe signs each event with `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`: the
//! HMAC-SHA256 of `"{t}.{raw body}"` keyed with the whole `whsec_…` string (not decoded), as
//! stripe-python's `WebhookSignature.verify_header` and stripe-node's `Webhooks.ts` check it. While a
//! secret is rolled Stripe sends one `v1` per active secret, so any `v1` matching is enough (checking
//! only the last one, as some libraries do, refuses valid deliveries during a roll); `v0` is a
//! test-mode scheme and ignored. Beyond the official libraries, which refuse only old timestamps, a
//! timestamp further in the future than the tolerance is refused too: no clock of Stripe's is that
//! far ahead, and a signature made for later could otherwise be replayed for that long.
//!
//! Chatwoot (4.12+ account webhooks, 4.13+ agent bots and API inboxes, `lib/webhooks/trigger.rb`)
//! signs with `X-Chatwoot-Signature: sha256=<hex>`, the HMAC-SHA256 of `"{X-Chatwoot-Timestamp}.{raw
//! body}"` keyed with the webhook's secret as stored; Chatwoot checks no age itself, so a timestamp
//! older than the tolerance (or as far ahead) is refused here. Versions that sign nothing are
//! authenticated by a `?token=` query parameter equal to the secret.
//! The generic signed channel (`/webhooks/custom`) signs with `X-Signature: <hex>`, the bare
//! HMAC-SHA256 of the exact body under `CUSTOM_WEBHOOK_SECRET`, and its replies are signed the
//! same way.
//!
//! Comparisons are constant-time (`Mac::verify_slice`, `subtle`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header missing")]
    Missing,
    #[error("signature header malformed")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
    /// The signature matches, but its timestamp is older (or further ahead) than the tolerance.
    #[error("signature timestamp outside the tolerance")]
    Stale,
}

/// Checks a `sha256=<hex>` header against the body.
pub fn verify_sha256_header(
    secret: &[u8],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`: `sha256=<hex>`. Used by the load generator and tests.
pub fn sign_sha256_header(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a bare hex `X-Signature` header (the generic channel's) against the body; upper- or
/// lower-case hex, surrounding spaces ignored.
pub fn verify_hex_header(
    secret: &[u8],
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header.trim_ascii();
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The bare hex HMAC-SHA256 of `body` under `secret`: the generic channel's `X-Signature`, on its
/// replies (and in tests and examples, on its messages).
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `Stripe-Signature` header against the raw body: some `v1` must be the HMAC of
/// `"{t}.{body}"` under one of `secrets` (several while one is rolled), and `t` must be within
/// `tolerance_secs` of `now` (Unix seconds) either way.
pub fn verify_stripe_header(
    secrets: &[&[u8]],
    header: Option<&[u8]>,
    body: &[u8],
    now: i64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((scheme, value)) = item.trim().split_once('=') else {
            continue;
        };
        match scheme {
            // The first `t` counts, as in stripe-python.
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            "v1" => {
                // A value that is not 32 bytes of hex can match nothing; the others may still.
                let mut digest = [0u8; 32];
                if hex::decode_to_slice(value, &mut digest).is_ok() {
                    signatures.push(digest);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matched = secrets.iter().any(|secret| {
        let expected = stripe_mac(secret, timestamp, body);
        signatures
            .iter()
            .any(|candidate| bool::from(candidate.ct_eq(&expected)))
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let tolerance = i64::try_from(tolerance_secs).unwrap_or(i64::MAX);
    if timestamp < now.saturating_sub(tolerance) || timestamp > now.saturating_add(tolerance) {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The `Stripe-Signature` header Stripe would send for `body` at `timestamp`, one `v1` per secret.
/// Used by the simulator, the load generator and tests.
pub fn sign_stripe_header(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(&format!(
            ",v1={}",
            hex::encode(stripe_mac(secret, timestamp, body))
        ));
    }
    header
}

/// Checks Chatwoot's `X-Chatwoot-Signature` and `X-Chatwoot-Timestamp` headers against the raw body:
/// the HMAC of `"{timestamp}.{body}"` under `secret`, with the timestamp within `tolerance_secs` of
/// `now` (Unix seconds) either way.
pub fn verify_chatwoot_headers(
    secret: &[u8],
    signature: Option<&[u8]>,
    timestamp: Option<&[u8]>,
    body: &[u8],
    now: i64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?;
    let hex_digest = signature
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let mut candidate = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut candidate).map_err(|_| SignatureError::Malformed)?;
    let timestamp = timestamp
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| t.trim().parse::<i64>().ok())
        .ok_or(SignatureError::Malformed)?;
    let expected = stripe_mac(secret, timestamp, body);
    if !bool::from(candidate.ct_eq(&expected)) {
        return Err(SignatureError::Mismatch);
    }
    let tolerance = i64::try_from(tolerance_secs).unwrap_or(i64::MAX);
    if timestamp < now.saturating_sub(tolerance) || timestamp > now.saturating_add(tolerance) {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The `X-Chatwoot-Signature` value Chatwoot would send for `body` at `timestamp`. Used by the
/// simulator and tests.
pub fn sign_chatwoot(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(stripe_mac(secret, timestamp, body))
    )
}

/// Whether a `?token=` value equals the secret, compared in constant time.
pub fn token_matches(secret: &[u8], token: &[u8]) -> bool {
    secret.len() == token.len() && bool::from(secret.ct_eq(token))
}

/// HMAC-SHA256 of `"{timestamp}.{body}"`: Stripe's and Chatwoot's scheme alike.
fn stripe_mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";

    #[test]
    fn chatwoot_signature_matches_the_reference_vector() {
        // Computed with Python's hmac (shared reference, part A.1).
        let body = br#"{"event":"message_created","id":1}"#;
        let header = sign_chatwoot(b"cw_secret_test", 1776680000, body);
        assert_eq!(
            header,
            "sha256=7cd195ed054bbd8ca85f10005fa8c7ea502ab1d17c6b10271d8d1b10c7b36c14"
        );
        let check = |secret: &[u8], ts: &[u8], body: &[u8], now| {
            verify_chatwoot_headers(secret, Some(header.as_bytes()), Some(ts), body, now, 300)
        };
        assert_eq!(
            check(b"cw_secret_test", b"1776680000", body, 1776680100),
            Ok(())
        );
        assert_eq!(
            check(b"other", b"1776680000", body, 1776680100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(b"cw_secret_test", b"1776680000", body, 1776680301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            check(b"cw_secret_test", b"1776680000", b"{}", 1776680100),
            Err(SignatureError::Mismatch)
        );
        assert!(token_matches(b"abc", b"abc") && !token_matches(b"abc", b"abd"));
        assert!(!token_matches(b"abc", b"ab"));
    }
    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

    #[test]
    fn accepts_the_right_signature() {
        let header = sign_sha256_header(SECRET, BODY);
        assert_eq!(
            verify_sha256_header(SECRET, Some(header.as_bytes()), BODY),
            Ok(())
        );
    }

    #[test]
    fn known_vector() {
        // printf '%s' 'hello' | openssl dgst -sha256 -hmac 'key'
        assert_eq!(
            sign_sha256_header(b"key", b"hello"),
            "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"
        );
    }

    #[test]
    fn rejects_wrong_secret_changed_body_and_bad_headers() {
        let header = sign_sha256_header(SECRET, BODY);
        assert_eq!(
            verify_sha256_header(b"other", Some(header.as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
        let mut changed = BODY.to_vec();
        changed[5] ^= 1;
        assert_eq!(
            verify_sha256_header(SECRET, Some(header.as_bytes()), &changed),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_sha256_header(SECRET, None, BODY),
            Err(SignatureError::Missing)
        );
        for bad in [
            "sha1=abcd",
            "sha256=zz",
            "sha256=",
            "sha256=abcd",
            &header[7..],
        ] {
            assert_eq!(
                verify_sha256_header(SECRET, Some(bad.as_bytes()), BODY),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn hex_signatures_match_the_openssl_vector_and_refuse_what_differs() {
        // printf '%s' 'hello' | openssl dgst -sha256 -hmac 'key'
        let known = "9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b";
        assert_eq!(sign_hex(b"key", b"hello"), known);
        let upper = known.to_ascii_uppercase();
        for good in [
            known,
            upper.as_str(),
            " 9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b ",
        ] {
            assert_eq!(
                verify_hex_header(b"key", Some(good.as_bytes()), b"hello"),
                Ok(())
            );
        }
        assert_eq!(
            verify_hex_header(b"key", Some(known.as_bytes()), b"hellO"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hex_header(b"other", Some(known.as_bytes()), b"hello"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_hex_header(b"key", None, b"hello"),
            Err(SignatureError::Missing)
        );
        for bad in ["", "zz", "sha256=9307", &known[2..]] {
            assert_eq!(
                verify_hex_header(b"key", Some(bad.as_bytes()), b"hello"),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // Meta's prefixed form is not this channel's.
        let prefixed = format!("sha256={known}");
        assert_eq!(
            verify_hex_header(b"key", Some(prefixed.as_bytes()), b"hello"),
            Err(SignatureError::Malformed)
        );
    }

    /// The vector of the issue, computed with Python's `hmac` (not with this module):
    /// `hmac.new(b"whsec_test", b"1776680000." + body, sha256).hexdigest()`.
    const STRIPE_SECRET: &[u8] = b"whsec_test";
    const STRIPE_T: i64 = 1_776_680_000;
    const STRIPE_BODY: &[u8] =
        br#"{"id":"evt_test","object":"event","type":"checkout.session.completed"}"#;
    const STRIPE_V1: &str = "4ed9e232af1f6f3f7c920d18a3b979b24763ff4927a73b42e9ecae6dbd2a1ea6";

    fn stripe(header: &str, now: i64) -> Result<(), SignatureError> {
        verify_stripe_header(
            &[STRIPE_SECRET],
            Some(header.as_bytes()),
            STRIPE_BODY,
            now,
            300,
        )
    }

    #[test]
    fn stripe_known_vector() {
        assert_eq!(
            sign_stripe_header(&[STRIPE_SECRET], STRIPE_T, STRIPE_BODY),
            format!("t={STRIPE_T},v1={STRIPE_V1}")
        );
        assert_eq!(
            stripe(&format!("t={STRIPE_T},v1={STRIPE_V1}"), STRIPE_T),
            Ok(())
        );
    }

    #[test]
    fn stripe_accepts_any_v1_and_ignores_v0_and_unknown_schemes() {
        let wrong = "0".repeat(64);
        for header in [
            format!("t={STRIPE_T},v1={wrong},v1={STRIPE_V1}"),
            format!("t={STRIPE_T},v1={STRIPE_V1},v1={wrong}"),
            format!("v1={STRIPE_V1},t={STRIPE_T},v0={wrong}"),
            format!("t={STRIPE_T}, v1=nothex, v1={STRIPE_V1}, v2=x"),
        ] {
            assert_eq!(stripe(&header, STRIPE_T), Ok(()), "{header}");
        }
        // A v0 alone is no signature (test mode's dummy scheme).
        assert_eq!(
            stripe(&format!("t={STRIPE_T},v0={STRIPE_V1}"), STRIPE_T),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn stripe_accepts_an_event_signed_by_any_of_the_rolled_secrets() {
        let header = sign_stripe_header(&[b"whsec_old"], STRIPE_T, STRIPE_BODY);
        let check = |secrets: &[&[u8]]| {
            verify_stripe_header(secrets, Some(header.as_bytes()), STRIPE_BODY, STRIPE_T, 300)
        };
        assert_eq!(check(&[b"whsec_new", b"whsec_old"]), Ok(()));
        assert_eq!(check(&[b"whsec_new"]), Err(SignatureError::Mismatch));
        assert_eq!(check(&[]), Err(SignatureError::Mismatch));
    }

    #[test]
    fn stripe_refuses_stale_and_future_timestamps_at_the_edge_of_the_tolerance() {
        let header = format!("t={STRIPE_T},v1={STRIPE_V1}");
        assert_eq!(stripe(&header, STRIPE_T + 300), Ok(()));
        assert_eq!(stripe(&header, STRIPE_T + 301), Err(SignatureError::Stale));
        assert_eq!(stripe(&header, STRIPE_T - 300), Ok(()));
        assert_eq!(stripe(&header, STRIPE_T - 301), Err(SignatureError::Stale));
    }

    #[test]
    fn stripe_refuses_a_changed_body_a_wrong_secret_and_bad_headers() {
        let header = format!("t={STRIPE_T},v1={STRIPE_V1}");
        let mut changed = STRIPE_BODY.to_vec();
        changed[10] ^= 1;
        assert_eq!(
            verify_stripe_header(
                &[STRIPE_SECRET],
                Some(header.as_bytes()),
                &changed,
                STRIPE_T,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is part of what is signed.
        assert_eq!(
            stripe(&format!("t={},v1={STRIPE_V1}", STRIPE_T + 1), STRIPE_T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe_header(&[STRIPE_SECRET], None, STRIPE_BODY, STRIPE_T, 300),
            Err(SignatureError::Missing)
        );
        for bad in [
            String::new(),
            format!("v1={STRIPE_V1}"),
            format!("t=soon,v1={STRIPE_V1}"),
            format!("t={STRIPE_T}"),
            format!("t={STRIPE_T},v1="),
        ] {
            assert_eq!(
                stripe(&bad, STRIPE_T),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
