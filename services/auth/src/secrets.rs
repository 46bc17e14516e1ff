//! Opaque secrets: API keys (`mapk_` + 43 base64url characters, 256 random
//! bits), refresh tokens (`mapr_` + the same), generated passwords, and their
//! SHA-256 digests, which are all the database ever holds of them.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use sha2::{Digest as _, Sha256};

/// Prefix of API key secrets.
pub const API_KEY_PREFIX: &str = "mapk_";
/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "mapr_";
/// Length of an API key secret: the prefix and 43 characters.
pub const API_KEY_LEN: usize = 5 + 43;
/// Characters of a key shown to administrators ("mapk_" plus 7).
pub const KEY_PREFIX_LEN: usize = 12;

/// `prefix` followed by 256 random bits in base64url (43 characters).
pub fn random_secret(prefix: &str) -> String {
    format!("{prefix}{}", B64.encode(rand::random::<[u8; 32]>()))
}

/// A password of 24 base64url characters (144 random bits).
pub fn generate_password() -> String {
    B64.encode(rand::random::<[u8; 18]>())
}

/// Hex SHA-256 of a secret, as stored.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether `s` has the shape of an API key secret (not whether it is valid).
pub fn looks_like_api_key(s: &str) -> bool {
    s.len() == API_KEY_LEN
        && s.starts_with(API_KEY_PREFIX)
        && s[API_KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_have_the_contract_shape() {
        let key = random_secret(API_KEY_PREFIX);
        assert_eq!(key.len(), API_KEY_LEN);
        assert!(looks_like_api_key(&key));
        assert_ne!(key, random_secret(API_KEY_PREFIX));
        assert!(!looks_like_api_key("mapk_short"));
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
