//! Standard Webhooks signatures: a secret per subscription (`whsec_` and 32 random bytes in
//! base64), and `v1,<base64 HMAC-SHA256 of id.timestamp.body>` with each secret in use, space
//! separated, so that a receiver verifies with either secret while a rotation overlaps.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new signing secret, as the receiver configures it: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> Result<String, String> {
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|error| format!("no randomness for a secret: {error}"))?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(key)))
}

/// `v1,<signature>` of one message with one secret (`whsec_…`, or bare base64).
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = STANDARD
        .decode(secret.strip_prefix(PREFIX).unwrap_or(secret))
        .map_err(|error| format!("the stored secret is not base64: {error}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|error| error.to_string())?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per secret in use, the current one first.
pub fn header(secrets: &[&str], message_id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret, message_id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing vector every Standard Webhooks library is tested with (Go, JavaScript, Java,
    /// C#: `TestWebhookSign` in github.com/standard-webhooks/standard-webhooks).
    #[test]
    fn signs_the_specifications_test_vector() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_current_first() {
        let (old, new) = (new_secret().unwrap(), new_secret().unwrap());
        let both = header(&[&new, &old], "msg_1", 1, b"{}").unwrap();
        let signatures: Vec<&str> = both.split(' ').collect();
        assert_eq!(
            signatures,
            [
                sign(&new, "msg_1", 1, b"{}").unwrap(),
                sign(&old, "msg_1", 1, b"{}").unwrap()
            ]
        );
    }

    #[test]
    fn secrets_are_32_random_bytes_with_the_prefix() {
        let secret = new_secret().unwrap();
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(secret, new_secret().unwrap());
    }
}
