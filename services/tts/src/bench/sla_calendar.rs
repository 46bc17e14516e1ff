//! `map bench sla-calendar`: a deadline 500 business hours out over a
//! calendar with 50 holidays in a DST zone, by the fast arithmetic and by
//! the minute-walking oracle it is tested against, same run.

use map_bench::{Latency, Report, new_histogram};

use crate::sla::calendar::micro_bench;

/// `map bench sla-calendar` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SlaCalendarArgs {
    /// Deadlines computed by the fast arithmetic (the oracle computes one in
    /// a hundred of them).
    #[arg(long, default_value_t = 100_000)]
    pub iterations: u32,
}

/// Runs the micro-benchmark; one report per method.
pub fn run(args: &SlaCalendarArgs) -> Vec<Report> {
    let m = micro_bench::measure(args.iterations);
    let report = |name: &str, calls: u32, per_call: std::time::Duration| {
        let mut h = new_histogram();
        let _ = h.record(
            u64::try_from(per_call.as_micros())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        Report {
            scenario: name.to_owned(),
            concurrency: 1,
            target_rate: None,
            duration_s: per_call.as_secs_f64() * f64::from(calls),
            calls: u64::from(calls),
            errors: 0,
            throughput: 1.0 / per_call.as_secs_f64().max(f64::MIN_POSITIVE),
            latency: Latency::of(&h),
            first_error: None,
            notes: vec![
                format!("{:.2} µs per deadline", per_call.as_secs_f64() * 1e6),
                format!(
                    "{} of the oracle's deadlines differ from the fast ones",
                    m.mismatches
                ),
            ],
        }
    };
    vec![
        report(
            "sla-calendar: fast arithmetic",
            m.fast_calls,
            m.fast_per_call,
        ),
        report(
            "sla-calendar: minute-walking oracle",
            m.oracle_calls,
            m.oracle_per_call,
        ),
    ]
}
