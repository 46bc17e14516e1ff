//! The platform's load generator: concurrency, duration, warm-up, HDR percentiles, JSON reports.
#![forbid(unsafe_code)]
