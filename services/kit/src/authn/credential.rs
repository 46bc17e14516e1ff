//! The credential a caller presents, read from request metadata.

use std::fmt;

use super::{API_KEY, AUTHORIZATION};
use crate::ApiError;

/// A credential as presented by a caller. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token from `authorization: Bearer`.
    Bearer(String),
    /// An API key secret from `x-api-key`.
    ApiKey(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Bearer(_) => f.write_str("Bearer([REDACTED])"),
            Credential::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
        }
    }
}

impl Credential {
    /// Reads the credential of a request: `None` when there is none, an
    /// UNAUTHENTICATED error when the metadata is malformed (not UTF-8, not
    /// `Bearer`, empty). A bearer token wins over an API key.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Option<Credential>, ApiError> {
        let malformed = |what: &str| {
            ApiError::unauthenticated(
                "MALFORMED_CREDENTIALS",
                format!("malformed {what} metadata"),
            )
        };
        if let Some(value) = headers.get(AUTHORIZATION) {
            let value = value.to_str().map_err(|_| malformed(AUTHORIZATION))?;
            let (scheme, token) = value
                .split_once(' ')
                .ok_or_else(|| malformed(AUTHORIZATION))?;
            let token = token.trim();
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
                return Err(malformed(AUTHORIZATION));
            }
            return Ok(Some(Credential::Bearer(token.to_owned())));
        }
        if let Some(value) = headers.get(API_KEY) {
            let value = value.to_str().map_err(|_| malformed(API_KEY))?.trim();
            if value.is_empty() {
                return Err(malformed(API_KEY));
            }
            return Ok(Some(Credential::ApiKey(value.to_owned())));
        }
        Ok(None)
    }

    /// The secret to validate.
    pub fn secret(&self) -> &str {
        match self {
            Credential::Bearer(s) | Credential::ApiKey(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_metadata() {
        let mut h = http::HeaderMap::new();
        assert_eq!(Credential::from_headers(&h).ok(), Some(None));
        h.insert(API_KEY, http::HeaderValue::from_static("mapk_abc"));
        assert_eq!(
            Credential::from_headers(&h).ok(),
            Some(Some(Credential::ApiKey("mapk_abc".into())))
        );
        h.insert(
            AUTHORIZATION,
            http::HeaderValue::from_static("Bearer t.o.k"),
        );
        assert_eq!(
            Credential::from_headers(&h).ok(),
            Some(Some(Credential::Bearer("t.o.k".into())))
        );
        h.insert(AUTHORIZATION, http::HeaderValue::from_static("Basic abc"));
        assert!(Credential::from_headers(&h).is_err());
        h.insert(AUTHORIZATION, http::HeaderValue::from_static("Bearer "));
        assert!(Credential::from_headers(&h).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Credential::Bearer("secret-token".into());
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}
