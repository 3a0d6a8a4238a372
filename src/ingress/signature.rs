//! Webhook signatures, verified on the raw bytes before anything is parsed.
//!
//! Meta signs each POST with `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the exact body
//! under the app secret (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started>).
//! The comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header missing")]
    Missing,
    #[error("signature header malformed")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";
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
}
