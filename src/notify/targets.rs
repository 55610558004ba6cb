//! Where webhooks may go. A token holder registers the URL, so the service must not become a way
//! to reach the city's internal network: unless the operator allows it
//! (`WEBHOOK_ALLOW_PRIVATE_TARGETS`), a target that is, or resolves to, a loopback, private,
//! link-local, shared, documentation or otherwise non-public address is refused. The check is made
//! when the URL is registered (for an address written in it) and again at every delivery, on the
//! addresses the connection then uses, so that a name re-pointed later (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Longest target URL accepted.
pub const MAX_URL: usize = 2000;

/// A target URL's shape: absolute `http` or `https` with a host, no user or password (they would
/// show in every listing), no fragment.
pub fn check_shape(text: &str) -> Result<url::Url, String> {
    if text.chars().count() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = url::Url::parse(text).map_err(|error| format!("must be an absolute http or https URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an absolute http or https URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password: receivers check the signature instead".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    // What the HTTP client will parse: a URL it could not send to would fail every delivery.
    if ureq::http::Uri::try_from(url.as_str()).is_err() {
        return Err("must be a URL an HTTP client can send to".into());
    }
    Ok(url)
}

/// Why a registered URL is refused before any name is looked up: its host is an address, or a name
/// that is always local, outside the public internet.
pub fn refusal(url: &url::Url, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    match url.host()? {
        url::Host::Ipv4(ip) => not_public(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => not_public(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let local = name == "localhost"
                || [".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix));
            if local {
                Some(format!(
                    "{name} is a local name; targets must be reachable on the public internet"
                ))
            } else if !name.contains('.') {
                // Resolved through the local search domains, into the local network.
                Some(format!(
                    "{name} is a name without a domain; give the receiver's full host name"
                ))
            } else {
                None
            }
        }
    }
}

/// Why an address is not a public one (None when it is).
pub fn not_public(ip: IpAddr) -> Option<String> {
    let kind = match ip {
        IpAddr::V4(ip) => v4_kind(ip),
        IpAddr::V6(ip) => v6_kind(ip),
    }?;
    Some(format!(
        "{ip} is {kind}; targets must be public addresses (WEBHOOK_ALLOW_PRIVATE_TARGETS allows others)"
    ))
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "an unspecified address",
        (127, ..) => "a loopback address",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "a private address",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, ..) => "a multicast address",
        (240..=255, ..) => "a reserved address",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address inside IPv6 (mapped, NAT64, 6to4) is judged as that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let segments = ip.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
    // NAT64 (RFC 6052) and SIIT (RFC 7915, ::ffff:0:a.b.c.d) carry an IPv4 address at the end.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return v4_kind(embedded(segments[6], segments[7]));
    }
    if segments[..3] == [0x64, 0xff9b, 1] {
        return Some("a local-use NAT64 address");
    }
    if segments[0] == 0x2002 {
        return v4_kind(embedded(segments[1], segments[2]));
    }
    Some(match segments {
        [0, 0, 0, 0, 0, 0, 0, 0] => "an unspecified address",
        [0, 0, 0, 0, 0, 0, 0, 1] => "a loopback address",
        [0, 0, 0, 0, 0, 0, ..] => "an IPv4-compatible address",
        [first, ..] if first & 0xfe00 == 0xfc00 => "a unique local (private) address",
        [first, ..] if first & 0xffc0 == 0xfe80 => "a link-local address",
        [first, ..] if first & 0xffc0 == 0xfec0 => "a site-local address",
        [first, ..] if first & 0xff00 == 0xff00 => "a multicast address",
        [0x2001, 0x0db8, ..] => "a documentation address",
        [0x2001, 0, ..] => "a Teredo tunnel address",
        [0x0100, 0, 0, 0, ..] => "a discard-only address",
        _ => return None,
    })
}

/// Resolves a delivery's host as usual, then refuses a connection when any address it gave is
/// not public (unless allowed): the addresses checked are the ones connected to.
#[derive(Debug)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addresses = DefaultResolver::default().resolve(uri, config, timeout)?;
        if !self.allow_private {
            if let Some(reason) = addresses.iter().find_map(|address| not_public(address.ip())) {
                return Err(ureq::Error::Other(format!("refused: {reason}").into()));
            }
        }
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        refusal(&check_shape(text).unwrap(), false).is_some()
    }

    #[test]
    fn internal_addresses_and_local_names_are_refused() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0.0.0.0/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://198.18.0.1/",
            "http://203.0.113.9/",
            "http://224.0.0.1/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:c0a8:0101::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[2001:db8::1]/",
            "http://[64:ff9b:1::a00:1]/",
            "http://[::ffff:0:a00:1]/",
            "http://localhost/",
            "http://jenkins:8080/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://printer.local/",
            "http://metadata.google.internal/",
        ] {
            assert!(refused(url), "{url} should be refused");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for url in [
            "https://hooks.example.jp/strategy",
            "http://8.8.8.8/",
            "https://[2606:4700:4700::1111]/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "https://[::ffff:8.8.8.8]/",
        ] {
            assert!(!refused(url), "{url} should pass");
        }
        assert!(refusal(&check_shape("http://127.0.0.1/").unwrap(), true).is_none());
    }

    #[test]
    fn only_plain_http_urls_fit() {
        for url in [
            "ftp://example.jp/",
            "mailto:a@example.jp",
            "https://user:pass@example.jp/",
            "https://example.jp/#part",
            "/relative",
            "https://",
        ] {
            assert!(check_shape(url).is_err(), "{url} should not fit");
        }
        assert!(check_shape(&format!("https://example.jp/{}", "a".repeat(MAX_URL))).is_err());
        assert!(check_shape("https://example.jp/hook?city=atsugi").is_ok());
    }
}
