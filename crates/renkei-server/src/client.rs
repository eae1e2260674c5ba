//! The address a request comes from, as the throttles count it.
//!
//! Behind a reverse proxy every request arrives from the proxy, so
//! throttling by the peer address would put all users in one bucket: one
//! attacker would lock everyone out. The proxy says who its client was in
//! `X-Forwarded-For`; but any client can write that header, so it is read
//! only when the peer is a proxy the deployment names
//! (`server.trusted_proxies`), and then from the right: each trusted hop
//! appends the address it saw, so the first address from the right that
//! is not a trusted proxy is the client. Anything a client wrote to the
//! left of that is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::AppState;

/// The client's address, after the trusted proxies (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client behind `peer`, given the `X-Forwarded-For` values in the
/// order received and the proxies the deployment trusts.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .rev();
    let mut nearest = peer;
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => nearest = ip,
            Ok(ip) => return ip,
            // Not an address: nothing left of it can be trusted, so the
            // request counts as coming from the last proxy that spoke.
            Err(_) => return nearest,
        }
    }
    nearest
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Served without connection info (a test router): loopback.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(client_ip(
            peer,
            &forwarded,
            &state.config().server.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_client_cannot_name_its_own_address() {
        // Not through a trusted proxy: the header is the client's own words.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["198.51.100.1"], &[]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["198.51.100.1"], &[ip("10.0.0.1")]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn through_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client forged a first entry; the proxies appended the truth.
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                &["1.2.3.4, 203.0.113.9, 10.0.0.2"],
                &proxies
            ),
            ip("203.0.113.9")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["1.2.3.4", "203.0.113.9"], &proxies),
            ip("203.0.113.9")
        );
        // No header, or garbage where the client would be: the proxy.
        assert_eq!(client_ip(ip("10.0.0.1"), &[], &proxies), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["not-an-address, 10.0.0.2"], &proxies),
            ip("10.0.0.2")
        );
    }
}
