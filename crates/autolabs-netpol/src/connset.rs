//! Connection sets: for each protocol NetworkPolicy knows (TCP, UDP, SCTP), the set of
//! destination ports, as sorted disjoint `[lo, hi]` intervals.
//!
//! Internally one interval set over a single number line where protocol `p` owns the
//! block `p * 65536 + port`, so union/intersection/complement are one merge each and a
//! `ConnSet` is one small vector. Ports run 1..=65535, the range
//! `k8s.io/apimachinery/pkg/util/validation.IsValidPortNum` accepts.

use std::fmt;

use crate::intervals;

/// The transport protocols of `NetworkPolicyPort.protocol` (`core/v1.Protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// Parses the API spelling; the API is case-sensitive (`ValidateNetworkPolicyPort`).
    pub fn parse(value: &str) -> Option<Protocol> {
        match value {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    fn base(self) -> u32 {
        (self as u32) << 16
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowest valid port.
pub const MIN_PORT: u16 = 1;
/// Highest valid port.
pub const MAX_PORT: u16 = 65535;

/// A set of (protocol, port) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConnSet {
    ranges: Vec<(u32, u32)>,
}

fn key(protocol: Protocol, port: u16) -> u32 {
    protocol.base() | u32::from(port)
}

impl ConnSet {
    /// No connection at all.
    pub fn empty() -> Self {
        ConnSet { ranges: Vec::new() }
    }

    /// Every port of every protocol.
    pub fn all() -> Self {
        ConnSet { ranges: Protocol::ALL.iter().map(|&p| (key(p, MIN_PORT), key(p, MAX_PORT))).collect() }
    }

    /// Every port of one protocol.
    pub fn protocol(protocol: Protocol) -> Self {
        ConnSet::range(protocol, MIN_PORT, MAX_PORT)
    }

    /// One port.
    pub fn port(protocol: Protocol, port: u16) -> Self {
        ConnSet::range(protocol, port, port)
    }

    /// Ports `lo..=hi` of one protocol (clamped to 1..=65535; empty when `lo > hi`).
    pub fn range(protocol: Protocol, lo: u16, hi: u16) -> Self {
        let (lo, hi) = (lo.max(MIN_PORT), hi);
        if lo > hi {
            return ConnSet::empty();
        }
        ConnSet { ranges: vec![(key(protocol, lo), key(protocol, hi))] }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.ranges.len() == Protocol::ALL.len()
            && Protocol::ALL
                .iter()
                .zip(&self.ranges)
                .all(|(&p, &r)| r == (key(p, MIN_PORT), key(p, MAX_PORT)))
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        intervals::contains(&self.ranges, key(protocol, port))
    }

    pub fn union(&self, other: &ConnSet) -> ConnSet {
        ConnSet { ranges: intervals::union(&self.ranges, &other.ranges) }
    }

    /// In-place union, the hot path when rules accumulate.
    pub fn add(&mut self, other: &ConnSet) {
        if other.is_empty() || self.is_all() || *self == *other {
            return;
        }
        if self.is_empty() {
            self.ranges.clone_from(&other.ranges);
            return;
        }
        self.ranges.extend_from_slice(&other.ranges);
        intervals::normalize(&mut self.ranges);
    }

    pub fn intersection(&self, other: &ConnSet) -> ConnSet {
        ConnSet { ranges: intervals::intersection(&self.ranges, &other.ranges) }
    }

    /// Everything (all protocols, all ports) not in `self`.
    pub fn complement(&self) -> ConnSet {
        let mut ranges = Vec::new();
        for p in Protocol::ALL {
            let universe = (key(p, MIN_PORT), key(p, MAX_PORT));
            let inside = intervals::intersection(&self.ranges, &[universe]);
            ranges.extend(intervals::complement_within(&inside, universe));
        }
        ConnSet { ranges }
    }

    pub fn difference(&self, other: &ConnSet) -> ConnSet {
        ConnSet { ranges: intervals::difference(&self.ranges, &other.ranges) }
    }

    /// The port intervals of one protocol, in order.
    pub fn port_ranges(&self, protocol: Protocol) -> Vec<(u16, u16)> {
        let universe = [(key(protocol, MIN_PORT), key(protocol, MAX_PORT))];
        intervals::intersection(&self.ranges, &universe)
            .into_iter()
            .map(|(lo, hi)| ((lo & 0xffff) as u16, (hi & 0xffff) as u16))
            .collect()
    }
}

/// `All`, `None`, or per protocol its ports: `TCP 80,443,8000-8080; UDP 53`; a protocol
/// with every port prints as `SCTP all`.
impl fmt::Display for ConnSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("None");
        }
        if self.is_all() {
            return f.write_str("All");
        }
        let mut first = true;
        for p in Protocol::ALL {
            let ranges = self.port_ranges(p);
            if ranges.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{p} ")?;
            if ranges == [(MIN_PORT, MAX_PORT)] {
                f.write_str("all")?;
                continue;
            }
            for (i, (lo, hi)) in ranges.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if lo == hi {
                    write!(f, "{lo}")?;
                } else {
                    write!(f, "{lo}-{hi}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_the_documented_format() {
        let set = ConnSet::port(Protocol::Tcp, 443)
            .union(&ConnSet::port(Protocol::Tcp, 80))
            .union(&ConnSet::port(Protocol::Udp, 53));
        assert_eq!(set.to_string(), "TCP 80,443; UDP 53");
        assert_eq!(ConnSet::all().to_string(), "All");
        assert_eq!(ConnSet::empty().to_string(), "None");
        assert_eq!(ConnSet::range(Protocol::Tcp, 8000, 8080).to_string(), "TCP 8000-8080");
        assert_eq!(ConnSet::protocol(Protocol::Sctp).to_string(), "SCTP all");
    }

    #[test]
    fn algebra() {
        let tcp80 = ConnSet::port(Protocol::Tcp, 80);
        let all = ConnSet::all();
        assert!(all.is_all());
        assert!(all.complement().is_empty());
        assert!(ConnSet::empty().complement().is_all());
        assert_eq!(tcp80.complement().complement(), tcp80);
        assert!(tcp80.complement().contains(Protocol::Udp, 80));
        assert!(!tcp80.complement().contains(Protocol::Tcp, 80));
        assert_eq!(all.intersection(&tcp80), tcp80);
        assert!(tcp80.intersection(&ConnSet::port(Protocol::Udp, 80)).is_empty());
        // Adjacent port ranges of different protocols must not merge.
        let tcp_top = ConnSet::port(Protocol::Tcp, MAX_PORT).union(&ConnSet::port(Protocol::Udp, MIN_PORT));
        assert_eq!(tcp_top.port_ranges(Protocol::Tcp), [(MAX_PORT, MAX_PORT)]);
        assert_eq!(tcp_top.to_string(), "TCP 65535; UDP 1");
    }

    mod laws {
        use super::*;
        use proptest::prelude::*;

        /// A small model: the set as explicit (protocol, port) pairs over a few ports.
        const PORTS: [u16; 8] = [1, 2, 3, 80, 81, 443, 65534, 65535];

        fn arb_set() -> impl Strategy<Value = ConnSet> {
            prop::collection::vec((0usize..3, 0usize..PORTS.len(), 0usize..PORTS.len()), 0..5).prop_map(
                |parts| {
                    parts.into_iter().fold(ConnSet::empty(), |acc, (p, a, b)| {
                        let (lo, hi) = (PORTS[a.min(b)], PORTS[a.max(b)]);
                        acc.union(&ConnSet::range(Protocol::ALL[p], lo, hi))
                    })
                },
            )
        }

        fn model(set: &ConnSet) -> Vec<bool> {
            Protocol::ALL.iter().flat_map(|&p| PORTS.iter().map(move |&port| set.contains(p, port))).collect()
        }

        proptest! {
            #[test]
            fn operations_agree_with_pointwise_logic(a in arb_set(), b in arb_set()) {
                let (ma, mb) = (model(&a), model(&b));
                let zip = |f: fn(bool, bool) -> bool| ma.iter().zip(&mb).map(|(x, y)| f(*x, *y)).collect::<Vec<_>>();
                prop_assert_eq!(model(&a.union(&b)), zip(|x, y| x || y));
                prop_assert_eq!(model(&a.intersection(&b)), zip(|x, y| x && y));
                prop_assert_eq!(model(&a.difference(&b)), zip(|x, y| x && !y));
                prop_assert_eq!(model(&a.complement()), ma.iter().map(|x| !x).collect::<Vec<_>>());
                let mut added = a.clone();
                added.add(&b);
                prop_assert_eq!(&added, &a.union(&b));
                prop_assert_eq!(a.union(&a.complement()).is_all(), true);
                prop_assert!(a.intersection(&a.complement()).is_empty());
                prop_assert_eq!(a.complement().complement(), a);
            }
        }
    }
}
