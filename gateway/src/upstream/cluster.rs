//! A cluster: the endpoints of one system, discovered from static addresses
//! or DNS, and the choice of one for each call (power of two choices over
//! healthy, non-ejected endpoints by in-flight count).
//!
//! A call goes to another endpoint when it provably never left the gateway
//! (the connection was refused, or hyper handed the request back unsent
//! because the connection had just closed), and is replayed once when the
//! endpoint refused it unprocessed and its body can be sent again (see
//! [`super::replay`]). A call an endpoint may have processed is never
//! replayed.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use http::{Request, Response};
use hyper::body::Incoming;
use map_kit::System;
use rand::Rng as _;
use tonic::body::Body;

use super::{
    endpoint::{Endpoint, InFlight, label_of},
    replay::{self, Call},
    tls::UpstreamTls,
};
use crate::config::UpstreamSpec;

/// One endpoint to have: host, port, TLS.
type Target = (String, u16, Option<UpstreamTls>);

/// Why a call could not be delivered upstream.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No endpoint is configured, healthy, or accepting connections.
    #[error("no healthy upstream for {0}")]
    NoEndpoint(System),
    /// The endpoint failed after the call was sent, or (the last one tried)
    /// could not be reached: the reason says why (a refused connection, a
    /// TLS failure), so the caller's UNAVAILABLE names it.
    #[error("upstream {endpoint} failed: {reason}")]
    Failed {
        /// `host:port`.
        endpoint: String,
        /// What happened.
        reason: String,
    },
}

/// The endpoints of one system.
#[derive(Debug)]
pub struct Cluster {
    system: System,
    specs: Vec<UpstreamSpec>,
    eject_base: Duration,
    endpoints: RwLock<Arc<Vec<Arc<Endpoint>>>>,
}

impl Cluster {
    /// A cluster of `specs`; static endpoints exist at once, DNS ones after
    /// the first [`Cluster::refresh`].
    pub fn new(system: System, specs: Vec<UpstreamSpec>, eject_base: Duration) -> Cluster {
        let cluster = Cluster {
            system,
            specs,
            eject_base,
            endpoints: RwLock::new(Arc::new(Vec::new())),
        };
        cluster.apply(cluster.static_targets());
        cluster
    }

    /// The system served.
    pub fn system(&self) -> System {
        self.system
    }

    /// Whether any source is a DNS name (re-resolved periodically).
    pub fn has_dns(&self) -> bool {
        self.specs.iter().any(|s| s.dns_source().is_some())
    }

    /// The current endpoints.
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.endpoints.read().map(|e| e.clone()).unwrap_or_default()
    }

    fn static_targets(&self) -> Vec<Target> {
        self.specs
            .iter()
            .filter_map(UpstreamSpec::static_target)
            .map(|(host, port, tls)| (host.to_owned(), port, tls.cloned()))
            .collect()
    }

    /// Re-resolves DNS sources and updates the endpoint set, keeping the
    /// state (connection, health) of endpoints that remain. A failed lookup
    /// keeps that name's previous addresses.
    pub async fn refresh(&self) {
        let mut targets = self.static_targets();
        let previous = self.endpoints();
        for spec in &self.specs {
            let Some((name, port, tls)) = spec.dns_source() else {
                continue;
            };
            match tokio::net::lookup_host((name, port)).await {
                Ok(addrs) => {
                    targets.extend(addrs.map(|a| (a.ip().to_string(), a.port(), tls.cloned())));
                }
                Err(e) => {
                    tracing::warn!(cluster = %self.system, %name, error = %e, "dns lookup failed; keeping previous endpoints");
                    targets.extend(previous.iter().filter(|ep| !self.is_static(ep)).map(|ep| {
                        let (host, port) = split_label(ep.label());
                        (host, port, ep.tls().cloned())
                    }));
                }
            }
        }
        self.apply(targets);
    }

    fn is_static(&self, ep: &Endpoint) -> bool {
        self.static_targets()
            .iter()
            .any(|(h, p, _)| label_of(h, *p) == ep.label())
    }

    fn apply(&self, mut targets: Vec<Target>) {
        targets.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        targets.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let previous = self.endpoints();
        let by_label: HashMap<&str, &Arc<Endpoint>> =
            previous.iter().map(|e| (e.label(), e)).collect();
        let next: Vec<Arc<Endpoint>> = targets
            .into_iter()
            .map(
                |(host, port, tls)| match by_label.get(label_of(&host, port).as_str()) {
                    Some(existing) => Arc::clone(existing),
                    None => Arc::new(Endpoint::new(host, port, tls, self.eject_base)),
                },
            )
            .collect();
        let changed = next.len() != previous.len()
            || next
                .iter()
                .zip(previous.iter())
                .any(|(a, b)| !Arc::ptr_eq(a, b));
        if changed {
            let labels: Vec<&str> = next.iter().map(|e| e.label()).collect();
            tracing::info!(cluster = %self.system, endpoints = ?labels, "endpoints changed");
            if let Ok(mut slot) = self.endpoints.write() {
                *slot = Arc::new(next);
            }
        }
    }

    /// Power of two choices: two random candidates, the one with fewer
    /// calls in flight. Candidates are healthy, non-ejected endpoints not in
    /// `exclude`; when health checks fail everywhere, non-ejected ones are
    /// used anyway (Envoy's panic mode) rather than failing every call.
    pub fn pick(&self, exclude: &[Arc<Endpoint>]) -> Option<Arc<Endpoint>> {
        let all = self.endpoints();
        let now = Instant::now();
        let usable =
            |e: &&Arc<Endpoint>| !e.is_ejected(now) && !exclude.iter().any(|x| Arc::ptr_eq(x, e));
        let mut candidates: Vec<&Arc<Endpoint>> = all
            .iter()
            .filter(usable)
            .filter(|e| e.is_healthy())
            .collect();
        if candidates.is_empty() {
            candidates = all.iter().filter(usable).collect();
        }
        let chosen = match candidates.len() {
            0 => return None,
            1 => candidates[0],
            n => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let (a, b) = (candidates[a], candidates[b]);
                if b.in_flight() < a.in_flight() { b } else { a }
            }
        };
        Some(Arc::clone(chosen))
    }

    /// Sends `call` to an endpoint. A connection that cannot be had costs
    /// nothing: the call goes to another endpoint (each is tried once). A
    /// call hyper hands back unsent because its connection had just closed
    /// goes on a new connection (to the same endpoint, once, then to
    /// others). A call the upstream refused unprocessed
    /// ([`replay::never_processed`]) is replayed once on another endpoint,
    /// when its body can still be sent. Returns the response head and the
    /// in-flight guard to hold until the response body ends.
    pub async fn send(&self, call: Call) -> Result<(Response<Incoming>, InFlight), SendError> {
        let mut tried: Vec<Arc<Endpoint>> = Vec::new();
        let mut replayed = false;
        let mut reconnected = false;
        // The endpoint to use again on a new connection.
        let mut again: Option<Arc<Endpoint>> = None;
        // A request handed back unsent, to use as it is.
        let mut unsent: Option<Request<Body>> = None;
        // (endpoint, why) of the last endpoint that could not take the call.
        let mut last_failure: Option<(String, String)> = None;
        loop {
            let Some(endpoint) = again.take().or_else(|| self.pick(&tried)) else {
                return Err(self.unreachable(last_failure));
            };
            let mut sender = match endpoint.sender().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "connect failed; trying another endpoint");
                    endpoint.eject();
                    last_failure = Some((endpoint.label().to_owned(), e.to_string()));
                    tried.push(endpoint);
                    continue;
                }
            };
            let uri: http::Uri = match format!(
                "{}://{}{}",
                endpoint.scheme(),
                endpoint.label(),
                call.path()
            )
            .parse()
            {
                Ok(uri) => uri,
                Err(e) => {
                    return Err(SendError::Failed {
                        endpoint: endpoint.label().to_owned(),
                        reason: e.to_string(),
                    });
                }
            };
            let request = match unsent.take() {
                Some(mut request) => {
                    *request.uri_mut() = uri;
                    request
                }
                None => match call.attempt(uri) {
                    Some(request) => request,
                    None => {
                        let (endpoint, reason) = last_failure.unwrap_or_else(|| {
                            (
                                endpoint.label().to_owned(),
                                "the request body was already sent".to_owned(),
                            )
                        });
                        return Err(SendError::Failed { endpoint, reason });
                    }
                },
            };
            let guard = endpoint.begin_call();
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, guard)),
                Err(mut e) => {
                    if let Some(request) = e.take_message() {
                        let reason = super::error_chain(e.error());
                        tracing::debug!(endpoint = %endpoint.label(), error = %reason, "connection closed before the call was sent; sending it on a new connection");
                        endpoint.forget_connection();
                        last_failure = Some((endpoint.label().to_owned(), reason));
                        unsent = Some(request);
                        if reconnected {
                            tried.push(endpoint);
                        } else {
                            reconnected = true;
                            again = Some(endpoint);
                        }
                        continue;
                    }
                    let reason = replay::describe(e.error());
                    if replay::never_processed(e.error()) && !replayed && call.can_send() {
                        tracing::debug!(endpoint = %endpoint.label(), error = %reason, "call refused unprocessed; replaying it once elsewhere");
                        replayed = true;
                        last_failure = Some((endpoint.label().to_owned(), reason));
                        tried.push(endpoint);
                        continue;
                    }
                    return Err(SendError::Failed {
                        endpoint: endpoint.label().to_owned(),
                        reason,
                    });
                }
            }
        }
    }
}

impl Cluster {
    /// The error of a call no endpoint took: the last failure of this call,
    /// else the last connection failure of an ejected endpoint (a TLS
    /// failure stays visible while the endpoint sits out its ejection),
    /// else "no healthy upstream".
    fn unreachable(&self, last_failure: Option<(String, String)>) -> SendError {
        let (endpoint, reason) = match last_failure {
            Some(failure) => failure,
            None => match self
                .endpoints()
                .iter()
                .find_map(|e| e.last_connect_error().map(|r| (e.label().to_owned(), r)))
            {
                Some((endpoint, reason)) => (endpoint, format!("ejected after: {reason}")),
                None => return SendError::NoEndpoint(self.system),
            },
        };
        SendError::Failed { endpoint, reason }
    }
}

fn split_label(label: &str) -> (String, u16) {
    let (host, port) = label.rsplit_once(':').unwrap_or((label, "0"));
    (
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port.parse().unwrap_or(0),
    )
}
