//! The client address of a call. Behind the gateway every caller shares the
//! gateway's address, so a service believes `x-forwarded-for` only from the
//! peers it trusts: `MAP_TRUSTED_PROXIES`, single addresses or CIDR ranges
//! (a Kubernetes pod network such as `10.244.0.0/16`, not pod IPs that
//! change on every restart).
//!
//! ```
//! # use map_kit::client_addr::TrustedProxies;
//! let trusted = TrustedProxies::parse(["10.244.0.0/16"]).unwrap();
//! let gateway = "10.244.3.7".parse().ok();
//! assert_eq!(
//!     trusted.client_address(gateway, Some("203.0.113.9")),
//!     "203.0.113.9".parse().ok()
//! );
//! ```

use std::net::IpAddr;

use ipnet::IpNet;

/// The peers whose `x-forwarded-for` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From entries such as `10.0.0.1`, `10.244.0.0/16` or `fd00::/8`
    /// (blank entries are skipped); `Err` names the first bad entry.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("'{e}' is neither an IP address nor a CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) is trusted.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a call from `peer`: the peer itself unless it is
    /// trusted; then the right-most `x-forwarded-for` hop that is not a
    /// trusted proxy (hops left of it could be forged by the client). A
    /// malformed hop ends the walk at the last good one.
    pub fn client_address(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: Option<&str>,
    ) -> Option<IpAddr> {
        let peer = peer.map(|p| p.to_canonical())?;
        if !self.contains(peer) {
            return Some(peer);
        }
        let Some(list) = forwarded_for else {
            return Some(peer);
        };
        let mut client = peer;
        for entry in list.rsplit(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        Some(client)
    }

    /// The client address of a gRPC request (its peer and `x-forwarded-for`).
    pub fn of_request<T>(&self, request: &tonic::Request<T>) -> Option<IpAddr> {
        let forwarded = request
            .metadata()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        self.client_address(request.remote_addr().map(|a| a.ip()), forwarded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let t = trusted(&["10.0.0.1"]);
        let gw = ip("10.0.0.1");
        assert_eq!(
            t.client_address(ip("203.0.113.9"), Some("1.2.3.4")),
            ip("203.0.113.9")
        );
        assert_eq!(
            t.client_address(gw, Some("6.6.6.6, 1.2.3.4")),
            ip("1.2.3.4")
        );
        assert_eq!(
            t.client_address(gw, Some("1.2.3.4, 10.0.0.1")),
            ip("1.2.3.4")
        );
        assert_eq!(t.client_address(gw, None), gw);
        assert_eq!(t.client_address(gw, Some("junk")), gw);
    }

    #[test]
    fn ranges_trust_a_whole_pod_network() {
        let t = trusted(&["10.244.0.0/16", "fd00::/8"]);
        for gw in [
            "10.244.0.5",
            "10.244.255.254",
            "fd00::1",
            "::ffff:10.244.1.1",
        ] {
            assert_eq!(
                t.client_address(ip(gw), Some("198.51.100.7")),
                ip("198.51.100.7"),
                "{gw}"
            );
        }
        // a hop inside the range is a proxy too: the walk goes on past it
        assert_eq!(
            t.client_address(ip("10.244.0.5"), Some("198.51.100.7, 10.244.9.9")),
            ip("198.51.100.7")
        );
        assert_eq!(
            t.client_address(ip("10.245.0.1"), Some("198.51.100.7")),
            ip("10.245.0.1")
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let e = TrustedProxies::parse(["10.0.0.1", "gateway"]);
        assert!(e.is_err_and(|m| m.contains("'gateway'")));
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err());
        assert_eq!(
            TrustedProxies::parse([" ", ""]),
            Ok(TrustedProxies::default())
        );
    }
}
