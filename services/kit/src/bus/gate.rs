//! A gate in front of the in-process bus's publishes. TEST-ONLY: it makes
//! a publish wait, as a slow broker's confirms would, for as long as a test
//! needs ([`super::Bus::in_process_gated`]).

use std::sync::Arc;

use tokio::sync::watch;

/// Holds every publish of its bus until [`PublishGate::open`].
#[derive(Debug, Clone)]
pub struct PublishGate {
    open: Arc<watch::Sender<bool>>,
    waiting: Arc<watch::Sender<usize>>,
}

impl PublishGate {
    pub(crate) fn closed() -> PublishGate {
        PublishGate {
            open: Arc::new(watch::Sender::new(false)),
            waiting: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Lets the waiting publishes and every later one through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Returns once `n` publishes are waiting at the gate.
    pub async fn waiting(&self, n: usize) {
        let mut rx = self.waiting.subscribe();
        let _ = rx.wait_for(|w| *w >= n).await;
    }

    /// Waits until the gate is open.
    pub(crate) async fn pass(&self) {
        self.waiting.send_modify(|w| *w += 1);
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
        self.waiting.send_modify(|w| *w -= 1);
    }
}
