//! Who gets a ticket: the next holder of a step's role, round-robin, from
//! Auth's `NextAssignee`, keyed so a retried call (the same request or
//! event) gets the same person instead of taking another turn.

use std::fmt;

use futures::future::BoxFuture;
use map_contracts::auth::v1 as auth_pb;
use map_kit::{
    ApiError,
    authn::{AuthClient, BadApiKey, auth_client},
};
use tonic::{Code, transport::Channel};

/// Picks assignees.
pub trait Assigner: Send + Sync + fmt::Debug + 'static {
    /// The next holder of `role` (`tts:agent`) for the pick `key`; `None`
    /// when no active user holds it.
    fn next<'a>(
        &'a self,
        role: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>>;
}

/// Auth's round-robin, with this system's API key.
#[derive(Clone)]
pub struct AuthAssigner {
    client: AuthClient,
}

impl fmt::Debug for AuthAssigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthAssigner").finish_non_exhaustive()
    }
}

impl AuthAssigner {
    /// Asks Auth over `channel` with `key`.
    ///
    /// # Errors
    /// When the key cannot be sent as a header.
    pub fn new(channel: Channel, key: &secrecy::SecretString) -> Result<AuthAssigner, BadApiKey> {
        Ok(AuthAssigner {
            client: auth_client(channel, key)?,
        })
    }
}

impl Assigner for AuthAssigner {
    fn next<'a>(
        &'a self,
        role: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async move {
            let (system, role) = role.split_once(':').unwrap_or(("tts", role));
            let answer = self
                .client
                .clone()
                .next_assignee(auth_pb::NextAssigneeRequest {
                    system: system.to_owned(),
                    role: role.to_owned(),
                    request_key: key.to_owned(),
                })
                .await;
            match answer {
                Ok(r) => Ok(r.into_inner().user.map(|u| u.id)),
                // Nobody holds the role (or the role is gone): unassigned.
                Err(s) if matches!(s.code(), Code::FailedPrecondition | Code::NotFound) => Ok(None),
                Err(s) => {
                    tracing::warn!(code = ?s.code(), "asking auth for the next assignee failed");
                    Err(ApiError::Unavailable("auth (next assignee)".into()))
                }
            }
        })
    }
}
