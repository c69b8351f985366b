//! Signatures: ours on generic webhooks, and the two robot platforms' own.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Our webhook signature: `sha256=` and the hex HMAC-SHA256, keyed with the
/// channel's secret, of `{timestamp}.{body}`. The timestamp (Unix seconds,
/// also sent as a header) lets a receiver refuse old replays.
pub fn webhook(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp}.").into_bytes();
    msg.extend_from_slice(body);
    format!("sha256={}", hex(&hmac(secret.as_bytes(), &msg)))
}

/// DingTalk's 加签: base64 of HMAC-SHA256 keyed with the secret over
/// `{timestamp_ms}\n{secret}`; sent URL-encoded as the `sign` parameter.
pub fn dingtalk(secret: &str, timestamp_ms: i64) -> String {
    STANDARD.encode(hmac(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes()))
}

/// Feishu's 签名校验: base64 of HMAC-SHA256 keyed with
/// `{timestamp}\n{secret}` over the empty message; sent in the body.
pub fn feishu(secret: &str, timestamp: i64) -> String {
    STANDARD.encode(hmac(format!("{timestamp}\n{secret}").as_bytes(), b""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_have_their_platforms_shapes() {
        let w = webhook("k", 1_700_000_000, b"{}");
        assert!(w.starts_with("sha256=") && w.len() == 7 + 64);
        assert_ne!(w, webhook("k", 1_700_000_001, b"{}"), "the timestamp is signed");
        // 32 bytes of HMAC are 44 characters of padded base64.
        assert_eq!(dingtalk("SEC000", 1_700_000_000_000).len(), 44);
        assert_eq!(feishu("secret", 1_700_000_000).len(), 44);
        assert_ne!(dingtalk("a", 1), dingtalk("b", 1));
    }
}
