//! The outbound address policy (`transfer.allow_primaries`,
//! `transfer.deny_primaries`): which addresses the daemon may send SOA queries
//! and transfer requests to. Anyone who may create a primary through the API
//! could otherwise make the daemon connect to any address it can reach
//! (internal networks, a cloud metadata service), which a multi-tenant operator
//! must be able to forbid.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Allow and deny lists of networks. An address is allowed when an `allow`
/// network contains it and no `deny` network does: deny wins. An IPv4-mapped
/// IPv6 address (`::ffff:10.0.0.1`) is the IPv4 host it names, so IPv4 rules
/// apply to it as well as IPv6 rules for `::ffff:0:0/96`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

/// Why an address is refused: it names the config key and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotAllowed {
        ip: IpAddr,
        allow: Vec<IpNet>,
    },
    Denied {
        ip: IpAddr,
        rule: IpNet,
    },
    /// Not an address of one host: unspecified, broadcast or multicast.
    NotAHost {
        ip: IpAddr,
        what: &'static str,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAllowed { ip, allow } if allow.is_empty() => {
                write!(f, "{ip} is refused by the outbound address policy: transfer.allow_primaries is empty")
            }
            Refusal::NotAllowed { ip, allow } => {
                let list = allow.iter().map(IpNet::to_string).collect::<Vec<_>>().join(", ");
                write!(f, "{ip} is refused by the outbound address policy: not in transfer.allow_primaries ({list})")
            }
            Refusal::Denied { ip, rule } => {
                write!(f, "{ip} is refused by the outbound address policy: transfer.deny_primaries has {rule}")
            }
            Refusal::NotAHost { ip, what } => write!(f, "{ip} is {what} address, not the address of a server"),
        }
    }
}

impl AddressPolicy {
    /// Everything allowed, nothing denied: a self-hoster's primaries are often
    /// on private networks.
    pub fn allow_all() -> AddressPolicy {
        AddressPolicy { allow: vec![IpNet::V4(Default::default()), IpNet::V6(Default::default())], deny: Vec::new() }
    }

    /// Whether the daemon may contact `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        // Whatever the lists say: no single server has these addresses.
        let what = match ip.to_canonical() {
            a if a.is_unspecified() => Some("an unspecified"),
            a if a.is_multicast() => Some("a multicast"),
            IpAddr::V4(a) if a.is_broadcast() => Some("the broadcast"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(Refusal::NotAHost { ip, what });
        }
        let forms = [ip, ip.to_canonical()];
        let matches = |net: &IpNet| forms.iter().any(|a| net.contains(a));
        if let Some(rule) = self.deny.iter().find(|n| matches(n)) {
            return Err(Refusal::Denied { ip, rule: *rule });
        }
        if self.allow.iter().any(matches) {
            Ok(())
        } else {
            Err(Refusal::NotAllowed { ip, allow: self.allow.clone() })
        }
    }
}

/// Parses a network (`10.0.0.0/8`, `::1/128`) or a single address (`127.0.0.1`,
/// taken as /32 or /128). Host bits below the prefix are an error, since
/// `10.1.2.3/8` is more likely a typo than a way of writing `10.0.0.0/8`.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet =
        s.parse().map_err(|_| format!("`{s}` is not a network such as 10.0.0.0/8 or 2001:db8::/32, or an address"))?;
    if net.trunc() != net {
        return Err(format!("`{s}` has host bits set below the prefix; did you mean {}?", net.trunc()));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| parse_network(s).unwrap_or_else(|e| panic!("{e}"))).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_default_allows_every_address() {
        let p = AddressPolicy::allow_all();
        for a in ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "2001:db8::1", "::ffff:10.0.0.1"] {
            assert_eq!(p.check(ip(a)), Ok(()), "{a}");
        }
    }

    #[test]
    fn unspecified_broadcast_and_multicast_addresses_are_never_contacted() {
        let p = AddressPolicy::allow_all();
        for (a, what) in [
            ("0.0.0.0", "an unspecified"),
            ("::", "an unspecified"),
            ("255.255.255.255", "the broadcast"),
            ("224.0.0.251", "a multicast"),
            ("ff02::fb", "a multicast"),
            ("::ffff:224.0.0.1", "a multicast"),
        ] {
            let e = p.check(ip(a)).expect_err(a);
            assert_eq!(e.to_string(), format!("{a} is {what} address, not the address of a server"));
        }
    }

    #[test]
    fn only_allowed_networks_pass_and_the_refusal_names_the_list() {
        let p = AddressPolicy { allow: nets(&["127.0.0.0/8", "::1/128"]), deny: vec![] };
        assert_eq!(p.check(ip("127.0.0.2")), Ok(()));
        assert_eq!(p.check(ip("::1")), Ok(()));
        let e = p.check(ip("192.0.2.1")).expect_err("outside");
        assert_eq!(
            e.to_string(),
            "192.0.2.1 is refused by the outbound address policy: not in transfer.allow_primaries (127.0.0.0/8, ::1/128)"
        );
        assert!(p.check(ip("2001:db8::1")).is_err());
    }

    #[test]
    fn deny_wins_and_covers_ipv4_mapped_forms() {
        let p = AddressPolicy {
            allow: AddressPolicy::allow_all().allow,
            deny: nets(&["10.0.0.0/8", "169.254.0.0/16", "fe80::/10"]),
        };
        let e = p.check(ip("::ffff:10.9.8.7")).expect_err("mapped form of a denied address");
        assert_eq!(
            e.to_string(),
            "::ffff:10.9.8.7 is refused by the outbound address policy: transfer.deny_primaries has 10.0.0.0/8"
        );
        assert!(p.check(ip("169.254.169.254")).is_err());
        assert!(p.check(ip("fe80::1")).is_err());
        assert_eq!(p.check(ip("192.168.1.1")), Ok(()));
        // A rule on the mapped range itself matches the IPv6 form too.
        let p = AddressPolicy { allow: AddressPolicy::allow_all().allow, deny: nets(&["::ffff:0:0/96"]) };
        assert!(p.check(ip("::ffff:192.0.2.1")).is_err());
        assert_eq!(p.check(ip("192.0.2.1")), Ok(()));
    }

    #[test]
    fn networks_parse_strictly() {
        assert_eq!(parse_network("127.0.0.1").map(|n| n.to_string()), Ok("127.0.0.1/32".to_string()));
        assert_eq!(parse_network(" ::1 ").map(|n| n.to_string()), Ok("::1/128".to_string()));
        assert!(parse_network("10.1.2.3/8").expect_err("host bits").contains("did you mean 10.0.0.0/8"));
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("localhost").is_err());
    }
}
