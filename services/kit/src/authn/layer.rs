//! The tower layer in front of a generated service: every call is checked
//! against the service's [`Policy`] — no entry, no call; no credential, no
//! call unless the entry says anonymous; no role, no call.

use std::{
    convert::Infallible,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tonic::{Status, body::Body, server::NamedService};

use super::{Credential, Validator, invalid_credentials, missing_credentials};
use crate::authz::{Access, Policy, not_declared};

/// A generated tonic service behind its access policy: see the module docs.
pub struct Authenticated<S> {
    inner: S,
    policy: &'static Policy,
    validator: Arc<dyn Validator>,
}

impl<S: Clone> Clone for Authenticated<S> {
    fn clone(&self) -> Self {
        Authenticated {
            inner: self.inner.clone(),
            policy: self.policy,
            validator: self.validator.clone(),
        }
    }
}

impl<S> fmt::Debug for Authenticated<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("policy", &self.policy.service)
            .finish_non_exhaustive()
    }
}

impl<S> Authenticated<S> {
    /// `inner` behind `policy`, with callers validated by `validator`.
    pub fn new(inner: S, policy: &'static Policy, validator: Arc<dyn Validator>) -> Self {
        Authenticated {
            inner,
            policy,
            validator,
        }
    }

    /// The policy this layer enforces.
    pub fn policy(&self) -> &'static Policy {
        self.policy
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
        let access = self.policy.access(request.uri().path()).copied();
        Box::pin(async move {
            let access = match access {
                Some(Access::Anonymous) => return inner.call(request).await,
                Some(access) => access,
                None => {
                    return Ok(Status::from(not_declared(request.uri().path())).into_http());
                }
            };
            let checked = match Credential::from_headers(request.headers()) {
                Ok(Some(credential)) => validator
                    .validate(credential.secret())
                    .await
                    .and_then(|p| p.ok_or_else(invalid_credentials)),
                Ok(None) => Err(missing_credentials()),
                Err(e) => Err(e),
            }
            .and_then(|principal| access.admit(&principal).map(|()| principal));
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
