//! Address sets for `ipBlock` peers (`cidr` minus every `except`) and the CIDR parsing
//! the API server applies to those fields.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::intervals;

/// A set of IPv4 and IPv6 addresses, as address intervals per family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpSet {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

fn bounds(net: &IpNet) -> (bool, u128, u128) {
    match net.trunc() {
        IpNet::V4(n) => (true, u128::from(u32::from(n.network())), u128::from(u32::from(n.broadcast()))),
        IpNet::V6(n) => (false, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

impl IpSet {
    pub fn empty() -> Self {
        IpSet::default()
    }

    /// Every address of the network (host bits are ignored, as `net.ParseCIDR` does).
    pub fn from_net(net: &IpNet) -> Self {
        let (is_v4, lo, hi) = bounds(net);
        if is_v4 {
            IpSet { v4: vec![(lo, hi)], v6: Vec::new() }
        } else {
            IpSet { v4: Vec::new(), v6: vec![(lo, hi)] }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn union(&self, other: &IpSet) -> IpSet {
        IpSet { v4: intervals::union(&self.v4, &other.v4), v6: intervals::union(&self.v6, &other.v6) }
    }

    pub fn intersection(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: intervals::intersection(&self.v4, &other.v4),
            v6: intervals::intersection(&self.v6, &other.v6),
        }
    }

    pub fn difference(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: intervals::difference(&self.v4, &other.v4),
            v6: intervals::difference(&self.v6, &other.v6),
        }
    }

    /// Is every address of `other` in `self`?
    pub fn contains_set(&self, other: &IpSet) -> bool {
        intervals::is_subset(&other.v4, &self.v4) && intervals::is_subset(&other.v6, &self.v6)
    }

    /// Is every address of `net` in `self`?
    pub fn contains_net(&self, net: &IpNet) -> bool {
        self.contains_set(&IpSet::from_net(net))
    }

    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => intervals::contains(&self.v4, u128::from(u32::from(a))),
            IpAddr::V6(a) => intervals::contains(&self.v6, u128::from(a)),
        }
    }

    /// Every IPv4 and IPv6 address (`0.0.0.0/0` and `::/0`).
    pub fn every_address() -> IpSet {
        IpSet { v4: vec![(0, u128::from(u32::MAX))], v6: vec![(0, u128::MAX)] }
    }

    /// The public internet as our findings mean it: `0.0.0.0/0` minus the RFC 1918
    /// private ranges, and `::/0` minus unique-local `fc00::/7` and link-local `fe80::/10`.
    pub fn internet() -> IpSet {
        let all = IpSet::every_address();
        let private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"]
            .iter()
            .filter_map(|s| s.parse::<IpNet>().ok())
            .fold(IpSet::empty(), |acc, n| acc.union(&IpSet::from_net(&n)));
        all.difference(&private)
    }
}

impl IpSet {
    /// One address of each region of `self` on which every set of `cuts` is constant
    /// (wholly in or wholly out), as a host network (`/32`, `/128`): asking a question once
    /// per representative answers it for every address of `self`, when the answer depends
    /// on addresses only through membership in `cuts`.
    pub(crate) fn representatives(&self, cuts: &[&IpSet]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for (v4, target) in [(true, &self.v4), (false, &self.v6)] {
            if target.is_empty() {
                continue;
            }
            let mut points: Vec<u128> = Vec::new();
            for ranges in std::iter::once(target).chain(cuts.iter().map(|c| if v4 { &c.v4 } else { &c.v6 })) {
                for &(lo, hi) in ranges {
                    points.push(lo);
                    if let Some(after) = hi.checked_add(1) {
                        points.push(after);
                    }
                }
            }
            points.sort_unstable();
            points.dedup();
            // Every region starts at one of the points; keep the starts inside the target.
            for start in points.into_iter().filter(|&p| intervals::contains(target, p)) {
                out.push(host_net(v4, start));
            }
        }
        out
    }
}

/// The single-address network of `point` in its family.
fn host_net(v4: bool, point: u128) -> IpNet {
    if v4 {
        let addr = Ipv4Addr::from(u32::try_from(point).unwrap_or(u32::MAX));
        IpNet::V4(Ipv4Net::from(addr))
    } else {
        IpNet::V6(Ipv6Net::from(Ipv6Addr::from(point)))
    }
}

/// Parses a CIDR the way `IsValidCIDRForLegacyField` does with strict validation off (the
/// default of the `StrictIPCIDRValidation` gate through Kubernetes 1.33): IPv4 octets and
/// the prefix length may carry leading zeros, and host bits may be set
/// (`k8s.io/kubernetes/pkg/apis/core/validation` → `k8s.io/utils/net.ParseCIDRSloppy`).
pub fn parse_cidr_legacy(value: &str) -> Result<IpNet, String> {
    let invalid = || {
        format!("Invalid value: {value:?}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
    };
    let (addr, prefix) = value.split_once('/').ok_or_else(invalid)?;
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    if let Some(v4) = parse_ipv4_sloppy(addr) {
        return Ipv4Net::new(v4, prefix).map(IpNet::V4).map_err(|_| invalid());
    }
    if addr.contains(':') {
        // An IPv6 address may embed a dotted IPv4 tail (`::ffff:1.2.3.4`); std parses it.
        if let Ok(v6) = addr.parse::<Ipv6Addr>() {
            return Ipv6Net::new(v6, prefix).map(IpNet::V6).map_err(|_| invalid());
        }
    }
    Err(invalid())
}

/// Dotted-quad IPv4 where each part is 1–3 decimal digits (leading zeros are decimal, as
/// in Go's pre-1.17 `net.ParseIP` that `ParseIPSloppy` preserves).
fn parse_ipv4_sloppy(addr: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = addr.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_parsing_accepts_what_the_api_server_accepts() {
        // Rows: (input, accepted) — k8s.io/utils/net.ParseCIDRSloppy.
        let rows = [
            ("10.0.0.0/8", true),
            ("192.168.1.1/24", true), // host bits set: "ifaddr" form is legal in legacy fields
            ("010.000.001.002/8", true), // leading zeros are decimal
            ("10.0.0.0/08", true),
            ("2001:db8::/64", true),
            ("10.0.0.0", false),
            ("10.0.0.0/33", false),
            ("2001:db8::/129", false),
            ("10.0.0/8", false),
            ("1.2.3.4.5/8", false),
            ("256.0.0.0/8", false),
            ("", false),
            ("10.0.0.0/-1", false),
        ];
        for (input, ok) in rows {
            assert_eq!(parse_cidr_legacy(input).is_ok(), ok, "{input}");
        }
        assert_eq!(
            parse_cidr_legacy("010.000.001.002/8").map(|n| n.to_string()),
            Ok("10.0.1.2/8".to_string())
        );
    }

    #[test]
    fn sets_and_containment() {
        let net = |s: &str| s.parse::<IpNet>().unwrap_or_default();
        let block = IpSet::from_net(&net("10.0.0.0/8")).difference(&IpSet::from_net(&net("10.1.0.0/16")));
        assert!(block.contains_net(&net("10.2.0.0/16")));
        assert!(!block.contains_net(&net("10.1.2.0/24")));
        assert!(!block.contains_net(&net("10.0.0.0/8")));
        assert!(block.contains_ip("10.0.0.1".parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
        let internet = IpSet::internet();
        assert!(internet.contains_net(&net("8.8.8.8/32")));
        assert!(!internet.contains_net(&net("192.168.1.1/32")));
        assert!(internet.contains_net(&net("2001:db8::1/128")));
        assert!(!internet.contains_net(&net("fd00::1/128")));
    }
}
