//! Page tokens for the List RPCs: the last key of a page plus a fingerprint
//! of the request's filters, authenticated with an HMAC-SHA256 under a key
//! derived from the signing key (so every replica accepts every replica's
//! tokens, and a token never issued, tampered with, or reused with other
//! filters is INVALID_ARGUMENT).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use sha2::{Digest as _, Sha256};

use crate::AuthError;

/// Default page size when the request says 0.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page.
pub const MAX_PAGE_SIZE: u64 = 500;

/// Signs and opens page tokens.
#[derive(Clone)]
pub struct Pager {
    key: [u8; 32],
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pager([REDACTED])")
    }
}

fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut inner = Sha256::new();
    let mut outer = Sha256::new();
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    inner.update(ipad);
    inner.update(message);
    outer.update(opad);
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Validates `page_size`: negative is invalid, 0 the default, capped at the max.
pub fn page_size(size: i32) -> Result<u64, AuthError> {
    match u64::try_from(size) {
        Err(_) => Err(AuthError::invalid("page_size", "must not be negative")),
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
    }
}

impl Pager {
    /// A pager keyed from `seed` (secret material).
    pub fn new(seed: &[u8]) -> Pager {
        let mut h = Sha256::new();
        h.update(b"map-auth page tokens\0");
        h.update(seed);
        Pager {
            key: h.finalize().into(),
        }
    }

    /// A token continuing after `last` for a listing of `kind` with `filters`.
    pub fn issue(&self, kind: &str, filters: &str, last: &str) -> String {
        let payload = format!("{kind}\n{filters}\n{last}");
        let tag = hmac(&self.key, payload.as_bytes());
        format!("{}.{}", B64.encode(last), B64.encode(&tag[..16]))
    }

    /// The last key of the previous page; `None` for an empty token.
    pub fn open(
        &self,
        kind: &str,
        filters: &str,
        token: &str,
    ) -> Result<Option<String>, AuthError> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || AuthError::invalid("page_token", "is not a token issued for this listing");
        let (last, tag) = token.split_once('.').ok_or_else(bad)?;
        let last = B64
            .decode(last)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let tag = B64.decode(tag).map_err(|_| bad())?;
        let payload = format!("{kind}\n{filters}\n{last}");
        let expected = hmac(&self.key, payload.as_bytes());
        // Constant-time compare: no early exit on the first differing byte.
        let same = tag.len() == 16
            && tag
                .iter()
                .zip(&expected[..16])
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same { Ok(Some(last)) } else { Err(bad()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_for_their_listing() {
        let pager = Pager::new(b"seed");
        let t = pager.issue("users", "active=1", "0190-abc");
        assert_eq!(
            pager
                .open("users", "active=1", &t)
                .ok()
                .flatten()
                .as_deref(),
            Some("0190-abc")
        );
        assert!(pager.open("users", "active=0", &t).is_err());
        assert!(pager.open("roles", "active=1", &t).is_err());
        assert!(Pager::new(b"other").open("users", "active=1", &t).is_err());
        for junk in ["x", "abc.def", "never-issued", "..."] {
            assert!(pager.open("users", "", junk).is_err(), "{junk}");
        }
        assert!(matches!(pager.open("users", "", ""), Ok(None)));
    }

    #[test]
    fn page_sizes() {
        assert!(page_size(-1).is_err());
        assert_eq!(page_size(0).ok(), Some(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(10_000).ok(), Some(MAX_PAGE_SIZE));
    }
}
