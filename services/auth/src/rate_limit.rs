//! Per-client-address rate limiting of Login and Refresh: a token bucket per
//! address, kept in a bounded cache (idle buckets are forgotten).
//!
//! Behind the gateway every caller shares the gateway's address, so the
//! client address is taken from `x-forwarded-for`, but only when the peer is
//! one of the configured trusted proxies (see [`client_address`]).

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

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the right-most address of `x-forwarded-for` that is not itself a trusted
/// proxy (the one the outermost trusted hop saw). Malformed entries end the
/// walk at the last trusted hop.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer.map(|p| p.to_canonical())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(list) = forwarded_for else {
        return Some(peer);
    };
    let mut client = peer;
    for entry in list.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let gw = ip("10.0.0.1");
        let trusted = [gw];
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), Some("1.2.3.4"), &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client_address(Some(gw), Some("6.6.6.6, 1.2.3.4"), &trusted),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            client_address(Some(gw), Some("1.2.3.4, 10.0.0.1"), &trusted),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(client_address(Some(gw), None, &trusted), Some(gw));
        assert_eq!(client_address(Some(gw), Some("junk"), &trusted), Some(gw));
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
