//! Calling Auth as this service: the API key interceptor and client.

use std::fmt;

use map_contracts::auth::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::{
    Status,
    metadata::{Ascii, MetadataValue},
    service::interceptor::InterceptedService,
    transport::Channel,
};

use super::API_KEY;

/// Adds this service's API key (`MAP_AUTH_API_KEY`) as `x-api-key` to every
/// call; for clients of Auth. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct ApiKeyInterceptor {
    value: MetadataValue<Ascii>,
}

impl fmt::Debug for ApiKeyInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyInterceptor([REDACTED])")
    }
}

/// An API key that cannot travel as metadata.
#[derive(Debug, thiserror::Error)]
#[error("the API key is not valid metadata (printable ASCII only)")]
pub struct BadApiKey;

impl ApiKeyInterceptor {
    /// An interceptor sending `key`.
    pub fn new(key: &SecretString) -> Result<Self, BadApiKey> {
        let mut value: MetadataValue<Ascii> = key.expose_secret().parse().map_err(|_| BadApiKey)?;
        value.set_sensitive(true);
        Ok(ApiKeyInterceptor { value })
    }
}

impl tonic::service::Interceptor for ApiKeyInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request.metadata_mut().insert(API_KEY, self.value.clone());
        Ok(request)
    }
}

/// A client of Auth's `AuthService` that authenticates with this service's
/// API key.
pub type AuthClient =
    pb::auth_service_client::AuthServiceClient<InterceptedService<Channel, ApiKeyInterceptor>>;

/// An [`AuthClient`] over `channel` sending `key`.
pub fn auth_client(channel: Channel, key: &SecretString) -> Result<AuthClient, BadApiKey> {
    Ok(
        pb::auth_service_client::AuthServiceClient::with_interceptor(
            channel,
            ApiKeyInterceptor::new(key)?,
        ),
    )
}

/// A client of Auth's `DepartmentService` that authenticates with this
/// service's API key.
pub type DepartmentClient = pb::department_service_client::DepartmentServiceClient<
    InterceptedService<Channel, ApiKeyInterceptor>,
>;

/// A [`DepartmentClient`] over `channel` sending `key`.
pub fn department_client(
    channel: Channel,
    key: &SecretString,
) -> Result<DepartmentClient, BadApiKey> {
    Ok(
        pb::department_service_client::DepartmentServiceClient::with_interceptor(
            channel,
            ApiKeyInterceptor::new(key)?,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_key() {
        let i = ApiKeyInterceptor::new(&SecretString::from("mapk_secret"));
        assert!(i.is_ok_and(|i| !format!("{i:?}").contains("mapk_secret")));
    }
}
