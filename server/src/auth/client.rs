//! Where a request comes from: the client's address (its peer's, or the one a trusted proxy
//! forwarded), the network that address counts in for per-client limits, and which `Host`
//! names a server with access control off answers for.
//!
//! Per-client limits (anonymous identities' quotas, event streams per client) count networks,
//! not single addresses: an IPv6 client is handed a whole /64 and can pick a fresh address for
//! every request, so an IPv6 client is its /64; an IPv4 client is its address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::header::HOST;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The address a request came from (set for every connection by `http::serve`).
pub fn client_addr(request_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// The prefix length an IPv6 client is counted by.
pub const IPV6_CLIENT_PREFIX: u8 = 64;

/// The client's address: the peer's, or, when the peer is one of `proxies`, the nearest
/// address in `X-Forwarded-For` that is not a trusted proxy (read from the right: everything
/// left of the first untrusted hop could have been written by the client itself).
pub fn client_ip(
    extensions: &Extensions,
    headers: &HeaderMap,
    proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = client_addr(extensions)?.ip();
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(parse_hop)
        .collect();
    // Every hop trusted (or none given): the request is the proxy's own, or the leftmost hop's.
    Some(
        hops.iter()
            .rev()
            .find(|hop| !trusted(hop))
            .or(hops.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    raw.parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The network `ip` counts in: an IPv4 address (or an IPv4-mapped IPv6 one) alone, an IPv6
/// address's /64.
pub fn network_of(ip: IpAddr) -> IpNet {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let prefix = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => IPV6_CLIENT_PREFIX,
    };
    IpNet::new(ip, prefix).map_or(IpNet::from(ip), |net| net.trunc())
}

/// The `Host` names a server with access control off answers for: loopback names, the host of
/// the listen address (unless it is `0.0.0.0` or `::`) and `SENTINEL_ALLOWED_HOSTS`. Ports are
/// not compared: a rebinding page has a name of its own, whatever port it aims at.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// The names for a server listening on `listen`, plus `extra` (host names, lower-cased).
    pub fn new(listen: SocketAddr, extra: &[String]) -> Result<Self, String> {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !listen.ip().is_unspecified() {
            names.push(listen.ip().to_string());
        }
        for raw in extra.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
            let name = host_name(raw).ok_or_else(|| format!("{raw:?} is not a host name"))?;
            names.push(name);
        }
        Ok(Self { names })
    }

    /// Whether a request with these headers names a host of ours (a request without `Host`,
    /// which no browser sends, is not a rebinding page's).
    pub fn allows(&self, parts: &axum::http::request::Parts) -> bool {
        let Some(value) = parts.headers.get(HOST) else {
            return true;
        };
        let Some(name) = value.to_str().ok().and_then(host_name) else {
            return false;
        };
        name.ends_with(".localhost")
            || self.names.contains(&name)
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// The host name of a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased.
fn host_name(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let name = if let Some(rest) = raw.strip_prefix('[') {
        rest.split_once(']')?.0
    } else if raw.matches(':').count() > 1 {
        // A bare IPv6 address (as a setting may give it).
        raw
    } else {
        raw.split(':').next()?
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'));
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut builder = axum::http::Request::get("/");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let mut parts = builder.body(()).unwrap().into_parts().0;
        parts.extensions.insert(axum::extract::ConnectInfo(
            peer.parse::<SocketAddr>().unwrap(),
        ));
        parts
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies = vec![
            "10.0.0.2/32".parse().unwrap(),
            "10.0.0.3/32".parse().unwrap(),
        ];
        let ip = |peer: &str, xff: &[&str]| {
            let headers: Vec<(&str, &str)> = xff.iter().map(|v| ("x-forwarded-for", *v)).collect();
            let p = parts(peer, &headers);
            client_ip(&p.extensions, &p.headers, &proxies).map(|ip| ip.to_string())
        };
        // Anyone else's header is ignored.
        assert_eq!(ip("203.0.113.9:5000", &["1.1.1.1"]).unwrap(), "203.0.113.9");
        // From the proxy: the nearest untrusted hop; a spoofed left part is ignored.
        assert_eq!(
            ip("10.0.0.2:80", &["6.6.6.6, 198.51.100.4"]).unwrap(),
            "198.51.100.4"
        );
        assert_eq!(
            ip("10.0.0.2:80", &["6.6.6.6", "198.51.100.4, 10.0.0.3"]).unwrap(),
            "198.51.100.4"
        );
        assert_eq!(
            ip("10.0.0.2:80", &["[2001:db8::1]:443"]).unwrap(),
            "2001:db8::1"
        );
        // Nothing usable: the proxy itself.
        assert_eq!(ip("10.0.0.2:80", &["garbage"]).unwrap(), "10.0.0.2");
        assert_eq!(ip("10.0.0.2:80", &[]).unwrap(), "10.0.0.2");
    }

    #[test]
    fn ipv6_clients_count_as_their_64() {
        let a = network_of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = network_of("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        let c = network_of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            network_of("192.0.2.7".parse().unwrap()).to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            network_of("::ffff:192.0.2.7".parse().unwrap()).to_string(),
            "192.0.2.7/32"
        );
    }

    #[test]
    fn only_our_host_names_are_served_with_access_control_off() {
        let hosts = AllowedHosts::new(
            "127.0.0.1:3001".parse().unwrap(),
            &["Sentinel.Example".to_string()],
        )
        .unwrap();
        let allowed = |host: &str| hosts.allows(&parts("127.0.0.1:1", &[("host", host)]));
        for ok in [
            "127.0.0.1:3001",
            "localhost:3001",
            "LOCALHOST",
            "[::1]:3001",
            "127.0.0.2",
            "app.localhost:3001",
            "sentinel.example",
            "sentinel.example.:80",
        ] {
            assert!(allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:3001",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "10.0.0.1:3001",
            "",
            "a b",
        ] {
            assert!(!allowed(refused), "{refused}");
        }
        let no_host = parts("127.0.0.1:1", &[]);
        assert!(hosts.allows(&no_host));
        let everywhere = AllowedHosts::new("0.0.0.0:3001".parse().unwrap(), &[]).unwrap();
        assert!(!everywhere.allows(&parts("127.0.0.1:1", &[("host", "0.0.0.0:3001")])));
        assert!(AllowedHosts::new("127.0.0.1:1".parse().unwrap(), &["bad/host".into()]).is_err());
    }
}
