//! Per-client-address rate limiting of Login and Refresh: a token bucket per
//! address, kept in a bounded cache (idle buckets are forgotten).
//!
//! Behind the gateway every caller shares the gateway's address, so the
//! client address is taken from `x-forwarded-for`, but only when the peer is
//! one of the configured trusted proxies (`map_kit::client_addr`).

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::config::RatePolicy;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by client address.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    buckets: moka::sync::Cache<IpAddr, Arc<Mutex<Bucket>>>,
    per_second: f64,
    capacity: f64,
}

impl RateLimiter {
    /// Buckets refilled at `policy.per_minute`, holding `policy.burst` plus one.
    pub fn new(policy: RatePolicy) -> RateLimiter {
        RateLimiter {
            buckets: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            per_second: f64::from(policy.per_minute) / 60.0,
            capacity: f64::from(policy.burst) + 1.0,
        }
    }

    /// Takes one request from `addr`'s bucket, or says how long to wait.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        let capacity = self.capacity;
        let bucket = self.buckets.get_with(addr, || {
            Arc::new(Mutex::new(Bucket {
                tokens: capacity,
                at: Instant::now(),
            }))
        });
        let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(b.at).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn buckets_allow_the_burst_then_refuse() {
        let limiter = RateLimiter::new(RatePolicy {
            per_minute: 1,
            burst: 2,
        });
        let a = ip("1.1.1.1");
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a);
        assert!(wait.is_err_and(|d| d > Duration::from_secs(30)));
        assert!(limiter.check(ip("2.2.2.2")).is_ok());
    }
}
