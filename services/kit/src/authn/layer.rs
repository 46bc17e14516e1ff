//! The tower layer in front of a generated service: no credential, no call.

use std::{
    convert::Infallible,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tonic::{Status, body::Body, server::NamedService};

use super::{Credential, Validator, invalid_credentials, missing_credentials};

/// A generated tonic service behind authentication: see the module docs.
pub struct Authenticated<S> {
    inner: S,
    validator: Arc<dyn Validator>,
    anonymous: Arc<[&'static str]>,
}

impl<S: Clone> Clone for Authenticated<S> {
    fn clone(&self) -> Self {
        Authenticated {
            inner: self.inner.clone(),
            validator: self.validator.clone(),
            anonymous: self.anonymous.clone(),
        }
    }
}

impl<S> fmt::Debug for Authenticated<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

impl<S> Authenticated<S> {
    /// Every call of `inner` needs a valid credential.
    pub fn new(inner: S, validator: Arc<dyn Validator>) -> Self {
        Authenticated {
            inner,
            validator,
            anonymous: Arc::from(Vec::new()),
        }
    }

    /// These methods (full paths, e.g. `/map.auth.v1.AuthService/Login`)
    /// pass without credentials, and credentials sent to them are ignored.
    pub fn allow_anonymous(mut self, paths: &[&'static str]) -> Self {
        self.anonymous = Arc::from(paths.to_vec());
        self
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Authenticated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone is fresh and may not be ready; the one made ready above
        // serves this call (the usual tower pattern).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let validator = self.validator.clone();
        let anonymous = self.anonymous.iter().any(|p| *p == request.uri().path());
        Box::pin(async move {
            if anonymous {
                return inner.call(request).await;
            }
            let checked = match Credential::from_headers(request.headers()) {
                Ok(Some(credential)) => validator
                    .validate(credential.secret())
                    .await
                    .and_then(|p| p.ok_or_else(invalid_credentials)),
                Ok(None) => Err(missing_credentials()),
                Err(e) => Err(e),
            };
            match checked {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(e) => Ok(Status::from(e).into_http()),
            }
        })
    }
}
