//! `autolabs connlist`: every allowed connection at workload granularity, in the text format of
//! np-guard's netpol-analyzer (`k8snetpolicy list`), so that users can switch tools.
//!
//! # Model
//!
//! - A **workload** is what a person deployed: a Deployment, StatefulSet, DaemonSet, Job, …
//!   (one representative pod, its template) or a bare Pod; a Pod whose controller owner is not
//!   among the inputs is listed under that owner (`ns/name[ReplicaSet]`), a static pod's mirror
//!   (controller owner a `Node`) as itself (`kube-system/kube-apiserver-node1[Pod]`); the full
//!   rules are in [`crate::engines::netpol`]. Probe pods that stand in for flow endpoints
//!   nobody runs (see [`crate::intent`]) are listed as `ns/probe:…[Probe]`.
//! - Between two distinct workloads the connection set is the union over their pods (pods of
//!   one workload share a template, so this is the set of any one of them). A workload to
//!   itself is never listed, whatever its replica count — np-guard skips self-loops
//!   (`pkg/netpol/connlist/connlist.go` `includePairOfWorkloads`).
//! - **External peers** are IPv4 address ranges. The address space is cut at every boundary
//!   of every `ipBlock` `cidr` and `except` of every policy (np-guard's `getDisjointIPBlocks`
//!   does the same); inside one piece every policy treats all addresses alike, so one address
//!   answers for the piece. Adjacent pieces with identical connections are then merged — a
//!   deliberate difference from np-guard, which prints each disjoint block on its own line.
//!   Pairs of two external peers are not listed (np-guard skips them too).
//! - Lines are sorted by source then destination text, as np-guard sorts them
//!   (`conns_formatter.go` `sortConnFields`). Connection text follows np-guard's
//!   `ConnStrFromConnProperties`: `All Connections`, or per protocol (sorted by name) its
//!   ports, `SCTP 1-65535,TCP 80,443,UDP 53`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use autolabs_netpol::{
    Analysis, ConnSet, Endpoint, Explanation, IpNet, PodId, Protocol, Verdict, parse_cidr_legacy,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

use crate::engines::netpol::Built;

/// The probe pod that stands for "any other pod" of a namespace (named so in
/// [`crate::intent::analyse_with_probes`]); it is not a flow endpoint and is not listed.
const UNLABELLED_PROBE: &str = "probe:unlabelled";

/// A workload: `namespace/name[Kind]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
    pub kind: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

/// An inclusive IPv4 address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Range {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl Ipv4Range {
    fn from_bounds(first: u64, last: u64) -> Ipv4Range {
        let addr = |v: u64| Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX));
        Ipv4Range { first: addr(first), last: addr(last) }
    }

    fn bounds(&self) -> (u64, u64) {
        (u64::from(u32::from(self.first)), u64::from(u32::from(self.last)))
    }
}

/// `first-last`, or one address when the range holds one (np-guard's IP range text).
impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// One end of a listed connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Workload(Workload),
    /// Addresses outside the cluster, printed `0.0.0.0-9.255.255.255[External]`.
    External(Ipv4Range),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Workload(w) => w.fmt(f),
            Peer::External(r) => write!(f, "{r}[External]"),
        }
    }
}

/// One allowed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub src: Peer,
    pub dst: Peer,
    pub conns: ConnSet,
}

impl Connection {
    /// np-guard's connection text for this line.
    pub fn conn_string(&self) -> String {
        conn_string(&self.conns)
    }
}

/// The result of [`connlist`]: every workload (for graphs) and every allowed connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnList {
    /// Every workload of the input, sorted by text, whether or not it has connections.
    pub workloads: Vec<Workload>,
    /// Sorted by source text, then destination text.
    pub connections: Vec<Connection>,
}

/// np-guard's text for a connection set (`pkg/netpol/internal/common/connection.go`
/// `ConnStrFromConnProperties`): `All Connections`, `No Connections`, or per protocol in
/// name order (`SCTP` < `TCP` < `UDP`) `PROTO p1,lo-hi`, the groups joined by `,`.
pub fn conn_string(conns: &ConnSet) -> String {
    if conns.is_all() {
        return "All Connections".to_string();
    }
    if conns.is_empty() {
        return "No Connections".to_string();
    }
    let mut groups: Vec<String> = Vec::new();
    for protocol in Protocol::ALL {
        let ranges = conns.port_ranges(protocol);
        if ranges.is_empty() {
            continue;
        }
        let ports: Vec<String> = ranges
            .iter()
            .map(|(lo, hi)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") })
            .collect();
        groups.push(format!("{} {}", protocol.as_str(), ports.join(",")));
    }
    groups.sort();
    groups.join(",")
}

/// The workload a pod of the analysis stands for (decided when the cluster was built, see
/// [`crate::engines::netpol`]); `None` for pods that are not listed.
fn workload_of(analysis: &Analysis, built: &Built<'_>, pod: PodId) -> Option<Workload> {
    let pod = analysis.pod(pod)?;
    if pod.name == UNLABELLED_PROBE {
        return None;
    }
    if let Some(w) = built.workloads.get(&(pod.namespace.clone(), pod.name.clone())) {
        return Some(w.clone());
    }
    let kind = if pod.name.starts_with("probe:") { "Probe" } else { "Pod" };
    Some(Workload { namespace: pod.namespace.clone(), name: pod.name.clone(), kind: kind.to_string() })
}

/// Every IPv4 boundary of every `ipBlock` (`cidr` and each `except`) of the policies: the
/// first address of each block and the one after its last, plus both ends of the space.
fn ipv4_boundaries(policies: &[NetworkPolicy]) -> BTreeSet<u64> {
    let mut out = BTreeSet::from([0u64, 1u64 << 32]);
    for policy in policies {
        let Some(spec) = &policy.spec else { continue };
        let ingress_peers = spec.ingress.iter().flatten().flat_map(|r| r.from.iter().flatten());
        let egress_peers = spec.egress.iter().flatten().flat_map(|r| r.to.iter().flatten());
        for peer in ingress_peers.chain(egress_peers) {
            let Some(block) = &peer.ip_block else { continue };
            for text in std::iter::once(&block.cidr).chain(block.except.iter().flatten()) {
                if let Ok(IpNet::V4(net)) = parse_cidr_legacy(text) {
                    let net = net.trunc();
                    out.insert(u64::from(u32::from(net.network())));
                    out.insert(u64::from(u32::from(net.broadcast())) + 1);
                }
            }
        }
    }
    out
}

/// The pieces of the IPv4 space that every policy treats uniformly, in address order.
fn elementary_ranges(policies: &[NetworkPolicy]) -> Vec<Ipv4Range> {
    let bounds: Vec<u64> = ipv4_boundaries(policies).into_iter().collect();
    bounds.windows(2).map(|w| Ipv4Range::from_bounds(w[0], w[1] - 1)).collect()
}

/// Adjacent pieces with the same connections become one range; empty ones are dropped.
fn merge_ranges(pieces: Vec<(Ipv4Range, ConnSet)>) -> Vec<(Ipv4Range, ConnSet)> {
    let mut out: Vec<(Ipv4Range, ConnSet)> = Vec::new();
    for (range, conns) in pieces {
        if conns.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, last_conns)) if *last_conns == conns && last.bounds().1 + 1 == range.bounds().0 => {
                last.last = range.last;
            }
            _ => out.push((range, conns)),
        }
    }
    out
}

fn sort_connections(connections: &mut [Connection]) {
    connections.sort_by_cached_key(|c| (c.src.to_string(), c.dst.to_string()));
}

/// Every allowed connection between the workloads of an analysis, and between them and the
/// external address ranges its policies distinguish. `built` must be the one the analysis
/// was built from (it names the object behind each pod).
pub fn connlist(analysis: &Analysis, built: &Built<'_>) -> ConnList {
    // Workloads, and which workloads each class's pods belong to.
    let mut index: BTreeMap<Workload, usize> = BTreeMap::new();
    let mut workloads: Vec<Workload> = Vec::new();
    let mut class_workloads: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); analysis.classes().len()];
    for pod in analysis.pod_ids() {
        let (Some(w), Some(class)) = (workload_of(analysis, built, pod), analysis.class_of(pod)) else {
            continue;
        };
        let id = *index.entry(w.clone()).or_insert_with(|| {
            workloads.push(w);
            workloads.len() - 1
        });
        class_workloads[class.index()].insert(id);
    }

    // Workload → workload: the class pairs the analysis enumerates, spread to workloads.
    let mut pairs: BTreeMap<(usize, usize), ConnSet> = BTreeMap::new();
    for (c, d, conns) in analysis.connections() {
        for &a in &class_workloads[c.index()] {
            for &b in &class_workloads[d.index()] {
                if a != b {
                    pairs.entry((a, b)).or_default().add(&conns);
                }
            }
        }
    }
    let mut connections: Vec<Connection> = pairs
        .into_iter()
        .map(|((a, b), conns)| Connection {
            src: Peer::Workload(workloads[a].clone()),
            dst: Peer::Workload(workloads[b].clone()),
            conns,
        })
        .collect();

    // Workload ↔ external ranges: one probe address per uniform piece, per class.
    let pieces = elementary_ranges(&built.cluster.policies);
    let mut egress: Vec<Vec<ConnSet>> = vec![vec![ConnSet::empty(); pieces.len()]; workloads.len()];
    let mut ingress: Vec<Vec<ConnSet>> = vec![vec![ConnSet::empty(); pieces.len()]; workloads.len()];
    for class in analysis.classes() {
        let (Some(&member), false) = (class.members.first(), class_workloads[class.id.index()].is_empty())
        else {
            continue;
        };
        for (i, piece) in pieces.iter().enumerate() {
            let address = Endpoint::External(IpNet::from(std::net::IpAddr::V4(piece.first)));
            let out = analysis.allowed(Endpoint::Pod(member), address);
            let inbound = analysis.allowed(address, Endpoint::Pod(member));
            for &w in &class_workloads[class.id.index()] {
                egress[w][i].add(&out);
                ingress[w][i].add(&inbound);
            }
        }
    }
    for (w, workload) in workloads.iter().enumerate() {
        let to = pieces.iter().copied().zip(std::mem::take(&mut egress[w])).collect();
        for (range, conns) in merge_ranges(to) {
            connections.push(Connection {
                src: Peer::Workload(workload.clone()),
                dst: Peer::External(range),
                conns,
            });
        }
        let from = pieces.iter().copied().zip(std::mem::take(&mut ingress[w])).collect();
        for (range, conns) in merge_ranges(from) {
            connections.push(Connection {
                src: Peer::External(range),
                dst: Peer::Workload(workload.clone()),
                conns,
            });
        }
    }

    sort_connections(&mut connections);
    workloads.sort_by_cached_key(ToString::to_string);
    ConnList { workloads, connections }
}

/// `src => dst : conn`, one line each (np-guard's `txt`).
pub fn to_txt(list: &ConnList) -> String {
    list.connections.iter().map(|c| format!("{} => {} : {}\n", c.src, c.dst, c.conn_string())).collect()
}

/// `[{"src", "dst", "conn"}]` (np-guard's `json`).
pub fn to_json(list: &ConnList) -> Value {
    Value::Array(
        list.connections
            .iter()
            .map(|c| json!({"src": c.src.to_string(), "dst": c.dst.to_string(), "conn": c.conn_string()}))
            .collect(),
    )
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// `src,dst,conn` with a header (np-guard's `csv`).
pub fn to_csv(list: &ConnList) -> String {
    let mut out = String::from("src,dst,conn\n");
    for c in &list.connections {
        out.push_str(&format!(
            "{},{},{}\n",
            csv_field(&c.src.to_string()),
            csv_field(&c.dst.to_string()),
            csv_field(&c.conn_string())
        ));
    }
    out
}

/// A markdown table `| src | dst | conn |` (np-guard's `md`).
pub fn to_md(list: &ConnList) -> String {
    let mut out = String::from("| src | dst | conn |\n|-----|-----|------|\n");
    for c in &list.connections {
        out.push_str(&format!("| {} | {} | {} |\n", c.src, c.dst, c.conn_string()));
    }
    out
}

/// A DOT string literal.
fn dot_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The workload graph (np-guard's `dot`): workloads as boxes grouped in one subgraph
/// cluster per namespace, external ranges as ellipses, edges labelled with connections.
pub fn to_dot(list: &ConnList) -> String {
    let mut out = String::from("digraph {\n\tnode [shape=box]\n");
    let mut by_namespace: BTreeMap<&str, Vec<&Workload>> = BTreeMap::new();
    for w in &list.workloads {
        by_namespace.entry(w.namespace.as_str()).or_default().push(w);
    }
    for (namespace, members) in by_namespace {
        out.push_str(&format!("\tsubgraph {} {{\n", dot_quote(&format!("cluster_{namespace}"))));
        for w in members {
            out.push_str(&format!(
                "\t\t{} [label={} color=\"blue\" fontcolor=\"blue\"]\n",
                dot_quote(&w.to_string()),
                dot_quote(&format!("{}[{}]", w.name, w.kind))
            ));
        }
        out.push_str(&format!("\t\tlabel={}\n\t}}\n", dot_quote(namespace)));
    }
    let externals: BTreeSet<String> = list
        .connections
        .iter()
        .flat_map(|c| [&c.src, &c.dst])
        .filter(|p| matches!(p, Peer::External(_)))
        .map(ToString::to_string)
        .collect();
    for e in externals {
        out.push_str(&format!(
            "\t{} [label={} shape=ellipse color=\"red2\" fontcolor=\"red2\"]\n",
            dot_quote(&e),
            dot_quote(&e)
        ));
    }
    for c in &list.connections {
        out.push_str(&format!(
            "\t{} -> {} [label={} color=\"gold2\" fontcolor=\"darkgreen\"]\n",
            dot_quote(&c.src.to_string()),
            dot_quote(&c.dst.to_string()),
            dot_quote(&c.conn_string())
        ));
    }
    out.push_str("}\n");
    out
}

/// A cluster-wide policy rule as JSON (`kind`, `name`, `tier`, `priority`, `field`).
fn cluster_rule_json(rule: &autolabs_netpol::ClusterRuleRef) -> Value {
    json!({
        "kind": rule.kind.as_str(),
        "name": rule.name,
        "tier": rule.tier.as_str(),
        "priority": rule.priority,
        "direction": rule.direction.as_str(),
        "index": rule.index,
        "field": format!("spec.{}[{}]", rule.direction.as_str(), rule.index),
        "ruleName": rule.rule_name,
    })
}

/// One side of an explanation as JSON: `{"verdict", "allowed", "reason"}` plus the `rules`
/// that allow it or the `policies` that isolate without a matching rule.
fn verdict_json(verdict: &Verdict) -> Value {
    let (name, extra) = match verdict {
        Verdict::SamePod => ("same-pod", None),
        Verdict::HostNetwork => ("host-network", None),
        Verdict::External => ("external", None),
        Verdict::NotIsolated => ("not-isolated", None),
        Verdict::AllowedBy(rules) => (
            "allowed",
            Some((
                "rules",
                rules
                    .iter()
                    .map(|r| {
                        json!({
                            "policy": r.policy.to_string(),
                            "namespace": r.policy.namespace,
                            "name": r.policy.name,
                            "direction": r.direction.as_str(),
                            "index": r.index,
                            "field": format!("spec.{}[{}]", r.direction.as_str(), r.index),
                        })
                    })
                    .collect::<Vec<_>>(),
            )),
        ),
        Verdict::DeniedBy(policies) => (
            "denied",
            Some((
                "policies",
                policies
                    .iter()
                    .map(|p| json!({"policy": p.to_string(), "namespace": p.namespace, "name": p.name}))
                    .collect::<Vec<_>>(),
            )),
        ),
        Verdict::Cluster { rule, accepted } => (
            if *accepted { "cluster-accepted" } else { "cluster-denied" },
            Some(("rules", vec![cluster_rule_json(rule)])),
        ),
        Verdict::Passed { by, .. } => ("passed", Some(("rules", vec![cluster_rule_json(by)]))),
    };
    let mut out = json!({"verdict": name, "allowed": verdict.allows(), "reason": verdict.to_string()});
    if let (Some((key, items)), Some(map)) = (extra, out.as_object_mut()) {
        map.insert(key.to_string(), Value::Array(items));
    }
    out
}

/// `autolabs explain --format json`: `{"allowed", "from", "to", "protocol", "port",
/// "egress": {"verdict", "rules"|"policies", …}, "ingress": {…}}`.
pub fn explanation_json(e: &Explanation) -> Value {
    json!({
        "allowed": e.allowed,
        "from": e.from,
        "to": e.to,
        "protocol": e.protocol.as_str(),
        "port": e.port,
        "egress": verdict_json(&e.egress),
        "ingress": verdict_json(&e.ingress),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_text_follows_np_guard() {
        // Rows: (set, text) — np-guard common.ConnStrFromConnProperties.
        let tcp = |lo, hi| ConnSet::range(Protocol::Tcp, lo, hi);
        let udp53 = ConnSet::port(Protocol::Udp, 53);
        let rows = [
            (ConnSet::all(), "All Connections"),
            (ConnSet::empty(), "No Connections"),
            (tcp(80, 80), "TCP 80"),
            (tcp(80, 80).union(&tcp(443, 443)).union(&udp53), "TCP 80,443,UDP 53"),
            (tcp(8080, 8089), "TCP 8080-8089"),
            // protocols sorted by name, a full protocol as 1-65535
            (ConnSet::all().difference(&tcp(80, 80)), "SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535"),
            (ConnSet::protocol(Protocol::Sctp).union(&udp53), "SCTP 1-65535,UDP 53"),
        ];
        for (set, text) in rows {
            assert_eq!(conn_string(&set), text);
        }
    }

    #[test]
    fn ranges_print_like_np_guard() {
        let r = Ipv4Range::from_bounds(0, (10u64 << 24) - 1);
        assert_eq!(Peer::External(r).to_string(), "0.0.0.0-9.255.255.255[External]");
        let one = Ipv4Range::from_bounds(167_772_161, 167_772_161);
        assert_eq!(one.to_string(), "10.0.0.1");
    }

    #[test]
    fn the_address_space_is_cut_at_every_block_boundary() {
        let policy: NetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"podSelector": {}, "egress": [{"to": [
                {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                {"ipBlock": {"cidr": "2001:db8::/32"}}
            ]}]}
        }))
        .unwrap_or_default();
        let pieces: Vec<String> = elementary_ranges(&[policy]).iter().map(ToString::to_string).collect();
        assert_eq!(
            pieces,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.0.255.255",
                "10.1.0.0-10.1.255.255",
                "10.2.0.0-10.255.255.255",
                "11.0.0.0-255.255.255.255"
            ]
        );
    }

    #[test]
    fn adjacent_pieces_with_equal_connections_merge() {
        let all = ConnSet::all();
        let tcp = ConnSet::port(Protocol::Tcp, 80);
        let pieces = vec![
            (Ipv4Range::from_bounds(0, 9), all.clone()),
            (Ipv4Range::from_bounds(10, 19), all.clone()),
            (Ipv4Range::from_bounds(20, 29), ConnSet::empty()),
            (Ipv4Range::from_bounds(30, 39), tcp.clone()),
            (Ipv4Range::from_bounds(40, 49), all.clone()),
        ];
        let merged = merge_ranges(pieces);
        assert_eq!(
            merged,
            vec![
                (Ipv4Range::from_bounds(0, 19), all.clone()),
                (Ipv4Range::from_bounds(30, 39), tcp),
                (Ipv4Range::from_bounds(40, 49), all),
            ]
        );
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        assert_eq!(csv_field("TCP 80,UDP 53"), "\"TCP 80,UDP 53\"");
        assert_eq!(csv_field("All Connections"), "All Connections");
    }
}
