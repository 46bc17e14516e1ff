//! Waiting for a condition that becomes true through other tasks or
//! processes: polled with a short pause and a deadline, never a fixed sleep
//! that hopes the work is done.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// Polls `condition` every 20 ms; `true` as soon as it holds, `false` once
/// `within` has passed without it.
pub async fn poll_until<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Like [`poll_until`], failing the test with "timed out waiting for
/// `what`" when `within` passes.
///
/// # Panics
/// When the condition does not hold within `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    assert!(
        poll_until(within, condition).await,
        "timed out waiting for {what}"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_condition_that_comes_true_is_seen_and_one_that_never_does_times_out() {
        let calls = AtomicUsize::new(0);
        let third = poll_until(Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst) == 2
        })
        .await;
        assert!(third);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(!poll_until(Duration::from_millis(50), || async { false }).await);
    }
}
