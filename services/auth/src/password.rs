//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2 passes,
//! 1 lane), on the blocking pool and at most a few at a time, so a login
//! flood cannot exhaust memory or starve the async workers.
//!
//! Verifying a login for an unknown email hashes against a dummy hash of the
//! same parameters, so "no such user" costs the same time as "wrong password".

use std::sync::{Arc, OnceLock};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::SaltString,
};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Semaphore;

use crate::AuthError;

/// Memory cost in KiB (OWASP: 19 MiB).
pub const M_COST_KIB: u32 = 19_456;
/// Passes (OWASP: 2).
pub const T_COST: u32 = 2;
/// Lanes (OWASP: 1).
pub const P_COST: u32 = 1;

fn argon2() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| AuthError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| AuthError::Internal(format!("salt: {e}")))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("hashing: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("map-auth dummy password").unwrap_or_default())
}

fn verify_blocking(password: &str, hash: Option<&str>) -> bool {
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(argon2) = argon2() else {
        return false;
    };
    argon2.verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// Hashes and verifies passwords off the async workers.
#[derive(Debug, Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Passwords {
            permits: Arc::new(Semaphore::new(cores * 2)),
        }
    }
}

impl Passwords {
    /// Warms the dummy hash so the first unknown-email login is not slower.
    pub async fn warm_up(&self) {
        let _ = tokio::task::spawn_blocking(|| dummy_hash().len()).await;
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &SecretString) -> Result<String, AuthError> {
        self.off_workers("hash", password, hash_blocking).await?
    }

    /// Whether `password` matches `hash`; with `None` (unknown user) it
    /// spends the same time on a dummy hash and answers false.
    pub async fn verify(
        &self,
        password: &SecretString,
        hash: Option<String>,
    ) -> Result<bool, AuthError> {
        self.off_workers("verify", password, move |p| {
            verify_blocking(p, hash.as_deref())
        })
        .await
    }

    /// Runs `work` on `password` on the blocking pool, at most `permits` at
    /// a time (argon2 is CPU- and memory-bound).
    async fn off_workers<T: Send + 'static>(
        &self,
        what: &str,
        password: &SecretString,
        work: impl FnOnce(&str) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let password = password.clone();
        tokio::task::spawn_blocking(move || work(password.expose_secret()))
            .await
            .map_err(|e| AuthError::Internal(format!("{what} task: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_owasp_params() {
        let p = Passwords::default();
        let secret = SecretString::from("correct horse battery");
        let hash = p.hash(&secret).await.map_err(|e| e.to_string());
        let hash = hash.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(matches!(
            p.verify(&secret, Some(hash.clone())).await,
            Ok(true)
        ));
        let wrong = SecretString::from("wrong horse battery");
        assert!(matches!(p.verify(&wrong, Some(hash)).await, Ok(false)));
        assert!(matches!(p.verify(&secret, None).await, Ok(false)));
    }
}
