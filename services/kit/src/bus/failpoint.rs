//! Failpoints: deliberate crashes for recovery tests. TEST-ONLY.
//!
//! `MAP_FAILPOINT=<name>` makes the process exit (status 86, no cleanup, as a
//! crash would) the first time it reaches the named point;
//! `MAP_FAILPOINT=<name>:<n>` the n-th time. Unset in production, where each
//! check is one relaxed atomic load after the first.
//!
//! Points:
//! - `consumer-after-commit`: a consumer committed an event's transaction
//!   (inbox row and handler writes) but has not acknowledged the message.

use std::sync::{
    LazyLock,
    atomic::{AtomicU64, Ordering},
};

/// The exit status of a process stopped by a failpoint.
pub const EXIT_STATUS: i32 = 86;

/// Between a consumer's commit and its ack.
pub const CONSUMER_AFTER_COMMIT: &str = "consumer-after-commit";

struct Armed {
    name: String,
    at: u64,
    hits: AtomicU64,
}

static ARMED: LazyLock<Option<Armed>> = LazyLock::new(|| {
    let spec = std::env::var("MAP_FAILPOINT").ok()?;
    let (name, at) = match spec.split_once(':') {
        Some((name, n)) => (name.to_owned(), n.trim().parse().ok()?),
        None => (spec.clone(), 1),
    };
    Some(Armed {
        name,
        at,
        hits: AtomicU64::new(0),
    })
});

/// Exits the process if `name` is armed and this is its n-th hit.
pub fn hit(name: &str) {
    if let Some(armed) = ARMED.as_ref()
        && armed.name == name
        && armed.hits.fetch_add(1, Ordering::Relaxed) + 1 == armed.at
    {
        tracing::error!(failpoint = name, "failpoint reached: exiting");
        std::process::exit(EXIT_STATUS);
    }
}
