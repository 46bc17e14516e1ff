//! Readiness and liveness through `grpc.health.v1`, the way orchestrators
//! and the gateway probe a replica:
//!
//! - the empty service name (and each served service) is **readiness**:
//!   SERVING while the system's database answers, NOT_SERVING while it
//!   cannot be reached, SERVING again when it can — the gateway and a
//!   Kubernetes readiness probe take the replica out of rotation meanwhile;
//! - the service name [`LIVENESS`] stays SERVING while the process is
//!   healthy, database or not, so a liveness probe does not restart every
//!   pod during a database outage.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::db::Db;

/// The health service name that reports the process alive.
pub const LIVENESS: &str = "liveness";

/// How readiness is decided: the database to ping and how often.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// The system's database.
    pub db: Db,
    /// Time between pings.
    pub interval: Duration,
    /// How long a ping may take before the database counts as unreachable.
    pub timeout: Duration,
}

impl Readiness {
    /// Pings `db` every 2 s, each ping bounded to 2 s.
    pub fn of(db: Db) -> Readiness {
        Readiness {
            db,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
        }
    }

    /// Whether the database answers now.
    pub async fn ready(&self) -> bool {
        matches!(
            tokio::time::timeout(self.timeout, self.db.conn().ping()).await,
            Ok(Ok(()))
        )
    }

    /// Keeps the readiness of `names` (and the empty name) in step with the
    /// database until `stop` is cancelled; returns without touching a
    /// status once it is.
    pub(crate) async fn watch(
        self,
        label: String,
        reporter: HealthReporter,
        names: Vec<String>,
        stop: CancellationToken,
    ) {
        let mut was_ready = true;
        loop {
            let ready = tokio::select! {
                () = stop.cancelled() => return,
                ready = self.ready() => ready,
            };
            if stop.is_cancelled() {
                return;
            }
            if ready != was_ready {
                if ready {
                    tracing::info!(server = %label, "database reachable again: ready");
                } else {
                    tracing::warn!(server = %label, "database unreachable: not ready");
                }
                let status = if ready {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                for name in names.iter().map(String::as_str).chain([""]) {
                    reporter.set_service_status(name, status).await;
                }
                was_ready = ready;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}
