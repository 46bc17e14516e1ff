//! The upstream clusters: one per system, their endpoint discovery (DNS
//! re-resolution) and active health checks running in the background.

mod cluster;
mod endpoint;
mod health_check;
pub mod replay;
mod tls;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

pub use cluster::{Cluster, SendError};
pub use endpoint::{Endpoint, InFlight};
use map_kit::System;
pub use replay::Call;
pub use tls::{TlsFile, UpstreamTls, client_config};
use tokio::task::JoinHandle;

use crate::config::UpstreamSpec;

/// A snapshot of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    /// Its system.
    pub system: System,
    /// `host:port`.
    pub endpoint: String,
    /// The last health check passed.
    pub healthy: bool,
    /// Ejected after refusing connections.
    pub ejected: bool,
    /// An HTTP/2 connection is open.
    pub connected: bool,
    /// Calls in flight.
    pub in_flight: usize,
}

/// An error with its causes, `outer: inner: …` (hyper's errors say what
/// failed, their sources why: a TLS alert, a reset).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Every configured cluster, with its background tasks; dropping it stops them.
#[derive(Debug)]
pub struct Upstreams {
    clusters: BTreeMap<System, Arc<Cluster>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Upstreams {
    /// Builds the clusters, resolves DNS names once, and starts health
    /// checks (every `health_interval`) and re-resolution (every `dns_interval`).
    pub async fn start(
        specs: &BTreeMap<System, Vec<UpstreamSpec>>,
        health_interval: Duration,
        dns_interval: Duration,
        eject_base: Duration,
    ) -> Upstreams {
        let mut clusters = BTreeMap::new();
        let mut tasks = Vec::new();
        for (system, specs) in specs {
            let cluster = Arc::new(Cluster::new(*system, specs.clone(), eject_base));
            if cluster.has_dns() {
                cluster.refresh().await;
                let c = cluster.clone();
                tasks.push(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(dns_interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        c.refresh().await;
                    }
                }));
            }
            let c = cluster.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(health_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let endpoints = c.endpoints();
                    futures::future::join_all(endpoints.iter().map(|e| health_check::check(e)))
                        .await;
                }
            }));
            clusters.insert(*system, cluster);
        }
        Upstreams { clusters, tasks }
    }

    /// The state of every endpoint, for operators and tests.
    pub fn status(&self) -> Vec<EndpointStatus> {
        let now = std::time::Instant::now();
        self.clusters
            .iter()
            .flat_map(|(system, cluster)| {
                cluster
                    .endpoints()
                    .iter()
                    .map(move |e| EndpointStatus {
                        system: *system,
                        endpoint: e.label().to_owned(),
                        healthy: e.is_healthy(),
                        ejected: e.is_ejected(now),
                        connected: e.is_connected(),
                        in_flight: e.in_flight(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The cluster of `system`, if configured.
    pub fn cluster(&self, system: System) -> Option<&Arc<Cluster>> {
        self.clusters.get(&system)
    }
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
