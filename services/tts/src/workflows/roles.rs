//! Which `tts:<role>` roles exist in Auth, for checking a workflow's steps:
//! Auth's `AdminService.ListRoles` (system `tts`), which the service
//! identity (`auth:service`) may call, behind a short cache so publishing a
//! workflow costs no round trip most of the time.

use std::{fmt, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use map_contracts::auth::v1 as auth_pb;
use map_kit::{ApiError, authn::ApiKeyInterceptor};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

/// The roles of TTS that exist, as `tts:<role>`.
pub trait RoleCatalog: Send + Sync + fmt::Debug + 'static {
    /// Every role of TTS in Auth now (at most the cache's age old).
    fn roles(&self) -> BoxFuture<'_, Result<Arc<Vec<String>>, ApiError>>;
}

/// A fixed set of roles: for tests that need no Auth, and for `map dev`'s
/// in-process wiring where Auth's seed is known.
#[derive(Debug, Clone)]
pub struct FixedRoles(pub Arc<Vec<String>>);

impl FixedRoles {
    /// The roles Auth seeds for TTS.
    pub fn seeded() -> FixedRoles {
        FixedRoles(Arc::new(
            ["tts:agent", "tts:manager", "tts:admin"]
                .map(str::to_owned)
                .to_vec(),
        ))
    }
}

impl RoleCatalog for FixedRoles {
    fn roles(&self) -> BoxFuture<'_, Result<Arc<Vec<String>>, ApiError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

type AdminClient = auth_pb::admin_service_client::AdminServiceClient<
    InterceptedService<Channel, ApiKeyInterceptor>,
>;

/// Auth's roles of TTS, cached for [`AuthRoles::TTL`].
pub struct AuthRoles {
    client: AdminClient,
    cache: moka::sync::Cache<(), Arc<Vec<String>>>,
}

impl fmt::Debug for AuthRoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRoles").finish_non_exhaustive()
    }
}

impl AuthRoles {
    /// How long a listing is reused: a role made in Auth is usable in a
    /// workflow within this.
    pub const TTL: Duration = Duration::from_secs(30);

    /// Asks Auth over `channel` with this system's API key.
    ///
    /// # Errors
    /// When the key cannot be sent as a header.
    pub fn new(
        channel: Channel,
        key: &secrecy::SecretString,
    ) -> Result<AuthRoles, map_kit::authn::BadApiKey> {
        let interceptor = ApiKeyInterceptor::new(key)?;
        Ok(AuthRoles {
            client: auth_pb::admin_service_client::AdminServiceClient::with_interceptor(
                channel,
                interceptor,
            ),
            cache: moka::sync::Cache::builder()
                .max_capacity(1)
                .time_to_live(Self::TTL)
                .build(),
        })
    }

    async fn fetch(&self) -> Result<Arc<Vec<String>>, ApiError> {
        let mut client = self.client.clone();
        let mut roles = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_roles(auth_pb::ListRolesRequest {
                    page_size: 500,
                    page_token,
                    system: "tts".into(),
                })
                .await
                .map_err(|s| {
                    tracing::warn!(code = ?s.code(), "listing tts roles in auth failed");
                    ApiError::Unavailable("auth (listing roles)".into())
                })?
                .into_inner();
            roles.extend(
                page.roles
                    .into_iter()
                    .map(|r| format!("{}:{}", r.system, r.role)),
            );
            if page.next_page_token.is_empty() {
                return Ok(Arc::new(roles));
            }
            page_token = page.next_page_token;
        }
    }
}

impl RoleCatalog for AuthRoles {
    fn roles(&self) -> BoxFuture<'_, Result<Arc<Vec<String>>, ApiError>> {
        Box::pin(async move {
            if let Some(roles) = self.cache.get(&()) {
                return Ok(roles);
            }
            let roles = self.fetch().await?;
            self.cache.insert((), roles.clone());
            Ok(roles)
        })
    }
}
