//! Access tokens: JWTs signed with Ed25519 (`alg` EdDSA), written by hand on
//! ed25519-dalek. The header names the key (`kid`, derived from the public
//! key), so keys can rotate: the first configured key signs, all verify.
//!
//! Claims: `iss` "map-auth", `sub` user id, `sid` session id, `iat`, `exp`
//! (Unix seconds). Verification checks the header, the key, the signature,
//! the issuer and the expiry; the session and the user are checked by the
//! caller against the database.

use std::collections::HashMap;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ed25519_dalek::{
    Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey,
    pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, spki::der::pem::LineEnding},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Issuer of every access token.
pub const ISSUER: &str = "map-auth";
/// Longest token accepted for verification (a JWT of ours is ~300 bytes).
const MAX_TOKEN_LEN: usize = 4096;

/// A key configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No PEM block found.
    #[error("no PEM private key found")]
    Empty,
    /// A block is not a PKCS#8 Ed25519 private key (its content is not quoted).
    #[error("PEM block {0} is not a PKCS#8 Ed25519 private key")]
    NotEd25519(usize),
}

/// Why a token was refused (never shown to callers: they get valid=false).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// Unknown `kid` or unsupported `alg`.
    #[error("unknown key or algorithm")]
    UnknownKey,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// Past `exp`, or not ours.
    #[error("expired or foreign token")]
    Expired,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Unique token id (random), so two tokens are never equal.
    pub jti: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// The signing key and every verification key, by key id.
pub struct Keyset {
    signing: SigningKey,
    kid: String,
    verifying: HashMap<String, VerifyingKey>,
}

impl std::fmt::Debug for Keyset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyset")
            .field("kid", &self.kid)
            .field("verifying", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The key id of a public key: 16 base64url characters of its SHA-256.
fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    B64.encode(digest)[..16].to_owned()
}

impl Keyset {
    /// Parses one or more PEM PKCS#8 Ed25519 private keys; the first signs.
    pub fn from_pem(pem: &str) -> Result<Keyset, KeyError> {
        const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
        let mut keys = Vec::new();
        for (i, block) in pem.split(BEGIN).skip(1).enumerate() {
            let block = format!("{BEGIN}{block}");
            let key = SigningKey::from_pkcs8_pem(block.trim())
                .map_err(|_| KeyError::NotEd25519(i + 1))?;
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        let signing = keys.next().ok_or(KeyError::Empty)?;
        Ok(Keyset::new(signing, keys))
    }

    fn new(signing: SigningKey, others: impl Iterator<Item = SigningKey>) -> Keyset {
        let kid = key_id(&signing.verifying_key());
        let mut verifying = HashMap::from([(kid.clone(), signing.verifying_key())]);
        for key in others {
            let vk = key.verifying_key();
            verifying.insert(key_id(&vk), vk);
        }
        Keyset {
            signing,
            kid,
            verifying,
        }
    }

    /// A fresh random key (for `map dev` and tests) and its PEM.
    pub fn generate() -> (Keyset, SecretString) {
        let signing = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        // Encoding a valid key cannot fail; an empty PEM would only make a
        // restart generate another key.
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| SecretString::from(p.to_string()))
            .unwrap_or_else(|_| SecretString::from(String::new()));
        (Keyset::new(signing, std::iter::empty()), pem)
    }

    /// A secret derived from the signing key for another purpose (e.g. page
    /// tokens); the same on every replica sharing the key.
    pub fn derived_secret(&self, purpose: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"map-auth derived secret\0");
        h.update(purpose);
        h.update(self.signing.to_bytes());
        h.finalize().into()
    }

    /// The key id tokens are signed with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            alg: "EdDSA".into(),
            typ: "JWT".into(),
            kid: self.kid.clone(),
        };
        // Serialising these plain structs cannot fail.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let claims = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let signature = self.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
    }

    /// Verifies a token's header, signature, issuer and expiry at `now`
    /// (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::UnknownKey);
        }
        let key = self
            .verifying
            .get(&header.kid)
            .ok_or(TokenError::UnknownKey)?;
        let signature: [u8; 64] = B64
            .decode(s)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + c.len()];
        key.verify(signing_input.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.iss != ISSUER || claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "u".into(),
            sid: "s".into(),
            iat: 0,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn signed_tokens_verify_until_they_expire() {
        let (keys, _) = Keyset::generate();
        let token = keys.sign(&claims(100));
        assert_eq!(keys.verify(&token, 99), Ok(claims(100)));
        assert_eq!(keys.verify(&token, 100), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let (keys, _) = Keyset::generate();
        let (other, _) = Keyset::generate();
        let token = other.sign(&claims(100));
        assert_eq!(keys.verify(&token, 0), Err(TokenError::UnknownKey));
        // Same kid, tampered claims: the signature no longer matches.
        let good = keys.sign(&claims(100));
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(serde_json::to_vec(&claims(i64::MAX)).unwrap_or_default()),
            parts[2]
        );
        assert_eq!(keys.verify(&tampered, 0), Err(TokenError::BadSignature));
        for junk in ["", "a.b", "a.b.c.d", "x.y.z", &"a".repeat(5000)] {
            assert!(keys.verify(junk, 0).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn pem_round_trips_and_old_keys_still_verify() {
        let (old, old_pem) = Keyset::generate();
        let (new, new_pem) = Keyset::generate();
        let both = format!("{}\n{}", new_pem.expose_secret(), old_pem.expose_secret());
        let rotated = Keyset::from_pem(&both).map_err(|e| e.to_string());
        let rotated = rotated.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rotated.kid(), new.kid());
        assert!(rotated.verify(&old.sign(&claims(100)), 0).is_ok());
        assert!(Keyset::from_pem("not a key").is_err());
        assert!(
            Keyset::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
