//! The client address used for rate limits and audit rows (api.md §0.4).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The socket peer, unless it is a trusted proxy: then `X-Forwarded-For` is walked from the right,
/// skipping trusted hops, and the first other well-formed entry is the client.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    entries
        .iter()
        .rev()
        .filter_map(|e| e.parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        // Set by the outermost layer on every request; loopback only when a handler runs without it (tests).
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_ignores_forwarded_header() {
        assert_eq!(
            resolve(ip("1.2.3.4"), &headers("9.9.9.9"), &[]),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn trusted_peer_walks_from_the_right_skipping_trusted_and_malformed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers("6.6.6.6, 5.5.5.5, garbage, 10.1.1.1");
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted), ip("5.5.5.5"));
    }

    #[test]
    fn trusted_peer_without_other_entries_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(ip("10.0.0.1"), &headers("10.2.2.2"), &trusted),
            ip("10.0.0.1")
        );
    }
}
