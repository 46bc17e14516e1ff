//! The platform's load generator, built once for every scenario.
//!
//! [`run_load`] drives a call at a fixed concurrency (closed loop) or at a
//! fixed rate (open loop, latency measured from each call's *intended* start
//! so a stalled server cannot hide its queueing: no coordinated omission),
//! for a duration after a warm-up, and returns a [`Report`] with throughput
//! and HDR-histogram percentiles. Scenarios live in their systems' crates or
//! in `scenarios/`; `map bench <scenario>` runs them.
#![forbid(unsafe_code)]

use std::{
    fmt::Display,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

pub mod scenarios;
pub mod system;
use serde::Serialize;

/// How to drive a scenario (shared flags of every `map bench` scenario).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// Concurrent callers.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Warm-up in seconds (calls made, not recorded).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Target calls per second across all callers; unset → as fast as possible.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            concurrency: 64,
            duration: 10.0,
            warmup: 2.0,
            rate: None,
            json: false,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest call.
    pub max_us: u64,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Concurrent callers.
    pub concurrency: usize,
    /// Target rate, if open loop.
    pub target_rate: Option<f64>,
    /// Measured seconds.
    pub duration_s: f64,
    /// Successful calls in the measured window.
    pub calls: u64,
    /// Failed calls in the measured window.
    pub errors: u64,
    /// Successful calls per second.
    pub throughput: f64,
    /// Latency of successful calls.
    pub latency: Latency,
    /// The first error seen, to explain `errors`.
    pub first_error: Option<String>,
    /// Free-form facts of the scenario (e.g. distinct tokens used).
    pub notes: Vec<String>,
}

impl Report {
    /// Prints the report as a table or JSON.
    #[allow(clippy::print_stdout)] // the report is the command's output
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
            return;
        }
        let l = &self.latency;
        println!(
            "{:<28} c={:<4} {:>10.0} calls/s  errors={:<6} p50={}µs p90={}µs p99={}µs p99.9={}µs max={}µs",
            self.scenario,
            self.concurrency,
            self.throughput,
            self.errors,
            l.p50_us,
            l.p90_us,
            l.p99_us,
            l.p999_us,
            l.max_us
        );
        for note in &self.notes {
            println!("    {note}");
        }
        if let Some(e) = &self.first_error {
            println!("    first error: {e}");
        }
    }
}

struct Tally {
    hist: Histogram<u64>,
    calls: u64,
    errors: u64,
    first_error: Option<String>,
}

/// A histogram of latencies in microseconds, as every report keeps them:
/// 1 µs .. 60 s at 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

impl Latency {
    /// The percentiles of `h` (microseconds, from [`new_histogram`]).
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Runs `call(worker)` under `opts` and reports. `call` is made by
/// `opts.concurrency` workers; the argument is the worker's index (to pick
/// per-worker state such as a token or a connection).
pub async fn run_load<F, Fut, E>(scenario: &str, opts: &LoadOptions, call: F) -> Report
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    let concurrency = opts.concurrency.max(1);
    let call = Arc::new(call);
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(opts.warmup.max(0.0));
    let end = warm_end + Duration::from_secs_f64(opts.duration.max(0.001));
    // Open loop: each worker owns an equal share of the rate.
    let interval = opts
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(concurrency as f64 / r));

    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let call = Arc::clone(&call);
        workers.spawn(async move {
            let mut tally = Tally {
                hist: new_histogram(),
                calls: 0,
                errors: 0,
                first_error: None,
            };
            // Stagger open-loop workers across one interval.
            let mut next = interval.map(|i| start + i.mul_f64(worker as f64 / concurrency as f64));
            loop {
                let intended = match (next, interval) {
                    (Some(at), Some(i)) => {
                        tokio::time::sleep_until(at.into()).await;
                        next = Some(at + i);
                        at
                    }
                    _ => Instant::now(),
                };
                if intended >= end {
                    break;
                }
                let result = call(worker).await;
                let done = Instant::now();
                if intended < warm_end {
                    continue;
                }
                match result {
                    Ok(()) => {
                        tally.calls += 1;
                        let us = u64::try_from(done.duration_since(intended).as_micros())
                            .unwrap_or(u64::MAX);
                        tally.hist.saturating_record(us.max(1));
                    }
                    Err(e) => {
                        tally.errors += 1;
                        if tally.first_error.is_none() {
                            tally.first_error = Some(e.to_string());
                        }
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally {
        hist: new_histogram(),
        calls: 0,
        errors: 0,
        first_error: None,
    };
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(t) => {
                let _ = total.hist.add(&t.hist);
                total.calls += t.calls;
                total.errors += t.errors;
                total.first_error = total.first_error.or(t.first_error);
            }
            Err(e) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    let measured = Instant::now()
        .min(end)
        .saturating_duration_since(warm_end)
        .as_secs_f64()
        .max(1e-9);
    Report {
        scenario: scenario.to_owned(),
        concurrency,
        target_rate: opts.rate,
        duration_s: measured,
        calls: total.calls,
        errors: total.errors,
        throughput: total.calls as f64 / measured,
        latency: Latency::of(&total.hist),
        first_error: total.first_error,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn quick(rate: Option<f64>) -> LoadOptions {
        LoadOptions {
            concurrency: 4,
            duration: 0.3,
            warmup: 0.05,
            rate,
            json: false,
        }
    }

    #[tokio::test]
    async fn counts_calls_and_errors_in_the_window() {
        let n = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&n);
        let report = run_load("test", &quick(None), move |_| {
            let k = seen.fetch_add(1, Ordering::Relaxed);
            async move {
                tokio::task::yield_now().await;
                if k.is_multiple_of(10) {
                    Err("every tenth fails")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let made = n.load(Ordering::Relaxed);
        assert!(report.calls > 0 && report.errors > 0, "{report:?}");
        assert!(
            report.calls + report.errors <= made,
            "recorded more than was made"
        );
        assert_eq!(report.first_error.as_deref(), Some("every tenth fails"));
        assert!(
            report.latency.p50_us <= report.latency.p99_us
                && report.latency.p99_us <= report.latency.max_us
        );
    }

    #[tokio::test]
    async fn open_loop_holds_the_rate() {
        let report = run_load("rate", &quick(Some(200.0)), |_| async {
            Ok::<(), String>(())
        })
        .await;
        // 200/s over 0.3 s is 60 calls; allow scheduling slack, but a closed
        // loop would make tens of thousands.
        assert!((40..=80).contains(&report.calls), "{report:?}");
    }

    #[tokio::test]
    async fn open_loop_charges_queueing_to_latency() {
        // One worker, 100/s, each call 30 ms: calls fall behind their
        // schedule, and the latency must show the backlog, not 30 ms.
        let opts = LoadOptions {
            concurrency: 1,
            duration: 0.3,
            warmup: 0.0,
            rate: Some(100.0),
            json: false,
        };
        let report = run_load("backlog", &opts, |_| async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<(), String>(())
        })
        .await;
        assert!(report.latency.max_us > 100_000, "{report:?}");
    }
}
