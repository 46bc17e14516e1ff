//! Live watches: events for an API replica's open streams, outside the
//! work-queue topology. A watch sees every event published anywhere whose
//! routing key matches one of its patterns, so a stream served by replica A
//! sees a change committed (and relayed) on replica B.
//!
//! - RabbitMQ: the watch has its own exclusive, auto-delete, server-named
//!   queue bound to its patterns on the events exchange, consumed without
//!   acknowledgements; it goes with the watch (or the connection) and is
//!   declared afresh after a reconnect.
//! - In-process: a broadcast of every published event.
//!
//! Delivery is best effort by design — a watch that lags far behind, or a
//! broker failover, loses events — so a stream's protocol resumes from the
//! last version its client saw (`since_version`), never from the watch.
//!
//! ```no_run
//! # async fn example(bus: map_kit::bus::Bus) -> Result<(), map_kit::bus::BusError> {
//! let mut watch = bus.watch(&["tts.ticket.*"]).await?;
//! while let Some(event) = watch.next().await {
//!     println!("{} {} v{}", event.r#type, event.subject, event.subject_version);
//! }
//! # Ok(()) }
//! ```

use std::sync::{Arc, OnceLock};

use map_contracts::events::v1::Envelope;
use prost::Message as _;
use tokio::{sync::mpsc, task::JoinHandle};

use super::Bus;

/// Where an API process's live watches come from: its bus, once whoever
/// connects it has [`Feed::set`] it (an API reaches RabbitMQ in the
/// background and serves meanwhile), or none yet — a stream then falls back
/// to reading its database. Cheap to clone; every clone sees the same bus.
#[derive(Debug, Clone, Default)]
pub struct Feed(Arc<OnceLock<Bus>>);

impl Feed {
    /// A feed from `bus` from the start (`map dev`'s in-process bus, tests).
    pub fn of(bus: Bus) -> Feed {
        let feed = Feed::default();
        feed.set(bus);
        feed
    }

    /// The bus is connected; a second call changes nothing.
    pub fn set(&self, bus: Bus) {
        let _ = self.0.set(bus);
    }

    /// The bus, once connected.
    pub fn bus(&self) -> Option<&Bus> {
        self.0.get()
    }
}

/// Events buffered for a slow watcher before the oldest are dropped.
pub const WATCH_BUFFER: usize = 1024;

/// A live stream of matching events; dropping it ends the subscription.
#[derive(Debug)]
pub struct Watch {
    pub(crate) rx: mpsc::Receiver<Envelope>,
    pub(crate) task: JoinHandle<()>,
}

impl Watch {
    /// The next matching event; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Envelope> {
        self.rx.recv().await
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Decodes a message body into its envelope; undecodable bodies are
/// skipped (a watcher cannot do anything with them).
pub(crate) fn envelope(body: &[u8]) -> Option<Envelope> {
    match Envelope::decode(body) {
        Ok(e) => Some(e),
        Err(error) => {
            tracing::debug!(%error, "a watched message is not an envelope; skipped");
            None
        }
    }
}

/// Whether `key` matches one of `patterns` (topic rules: `*`, `#`).
pub(crate) fn matches(patterns: &[String], key: &str) -> bool {
    patterns
        .iter()
        .any(|p| super::topology::topic_matches(p, key))
}
