//! Validating a `networking.k8s.io/v1` NetworkPolicy and compiling it into the form the
//! analysis evaluates: effective policy types, rules, peers and port sets.

use autolabs_k8s::k8s::{self, IntOrString, LabelSelector};
use autolabs_k8s::{Selector, names};
use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort};

use crate::connset::{ConnSet, Protocol};
use crate::error::NetpolError;
use crate::ipset::{IpSet, parse_cidr_legacy};
use crate::model::NamedPort;

/// Which side of a connection a rule list governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// The ports of one rule, before named ports are resolved on a destination pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct RulePorts {
    /// Numeric ports and port ranges (and whole protocols when `port` is absent).
    pub numeric: ConnSet,
    /// Named ports with the protocol they must be declared with, sorted.
    pub named: Vec<(Protocol, String)>,
}

impl RulePorts {
    pub fn all() -> Self {
        RulePorts { numeric: ConnSet::all(), named: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.numeric.is_empty() && self.named.is_empty()
    }

    /// The concrete ports on a destination that declares `named_ports`. A named port
    /// matches the destination's container port of that name and the same protocol; one
    /// that resolves nowhere matches nothing (`NetworkPolicyPort.port` in
    /// `k8s.io/api/networking/v1/types.go`: "a named port on the destination pod").
    pub fn resolve(&self, named_ports: &[NamedPort]) -> ConnSet {
        let mut out = self.numeric.clone();
        for (protocol, name) in &self.named {
            for np in named_ports.iter().filter(|np| np.name == *name && np.protocol == *protocol) {
                out.add(&ConnSet::port(np.protocol, np.port));
            }
        }
        out
    }

    pub fn merge(&mut self, other: &RulePorts) {
        self.numeric.add(&other.numeric);
        if !other.named.is_empty() {
            self.named.extend(other.named.iter().cloned());
            self.named.sort();
            self.named.dedup();
        }
    }
}

/// One peer of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// `podSelector` and/or `namespaceSelector` (at least one is present): a missing
    /// `namespaceSelector` means the policy's own namespace, a missing `podSelector` means
    /// every pod of the selected namespaces (`NetworkPolicyPeer` in types.go).
    Pods { namespaces: Option<Selector>, pods: Option<Selector> },
    /// `ipBlock`: `cidr` minus every `except`.
    IpBlock { addresses: IpSet, cidr: String },
}

/// One ingress or egress rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// `None` when `from`/`to` is absent or empty: the rule matches every peer.
    pub peers: Option<Vec<Peer>>,
    pub ports: RulePorts,
    /// Each named port of `ports` with its index there (`ports[i]`), for findings.
    pub named_entries: Vec<(usize, Protocol, String)>,
}

/// A validated policy with its effective policy types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompiledPolicy {
    pub namespace: String,
    pub name: String,
    pub pod_selector: Selector,
    /// `Some` iff `Ingress` is among the effective policy types.
    pub ingress: Option<Vec<Rule>>,
    /// `Some` iff `Egress` is among the effective policy types.
    pub egress: Option<Vec<Rule>>,
}

impl CompiledPolicy {
    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

struct Errors<'a> {
    namespace: &'a str,
    name: &'a str,
    list: Vec<NetpolError>,
}

impl Errors<'_> {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(NetpolError::InvalidPolicy {
            namespace: self.namespace.to_string(),
            name: self.name.to_string(),
            field: field.into(),
            message: message.into(),
        });
    }

    fn selector(&mut self, field: &str, selector: &LabelSelector) -> Option<Selector> {
        match Selector::from_k8s(selector) {
            Ok(s) => Some(s),
            Err(errs) => {
                for e in errs {
                    self.push(format!("{field}.{}", e.field), e.message);
                }
                None
            }
        }
    }
}

/// Validates and compiles one policy, reporting every problem at once
/// (`k8s.io/kubernetes/pkg/apis/networking/validation.ValidateNetworkPolicy`).
pub(crate) fn compile(policy: &k8s::NetworkPolicy) -> Result<CompiledPolicy, Vec<NetpolError>> {
    let namespace = policy.metadata.namespace.clone().unwrap_or_default();
    let name = policy.metadata.name.clone().unwrap_or_default();
    let mut errors = Errors { namespace: &namespace, name: &name, list: Vec::new() };

    // ValidateObjectMeta with ValidateNetworkPolicyName (a DNS subdomain), namespaced.
    if name.is_empty() {
        errors.push("metadata.name", "Required value: name or generateName is required");
    } else {
        for m in names::dns1123_subdomain(&name) {
            errors.push("metadata.name", format!("Invalid value: {name:?}: {m}"));
        }
    }
    if namespace.is_empty() {
        errors.push("metadata.namespace", "Required value");
    } else {
        for m in names::dns1123_label(&namespace) {
            errors.push("metadata.namespace", format!("Invalid value: {namespace:?}: {m}"));
        }
    }

    let spec = policy.spec.clone().unwrap_or_default();
    // A missing podSelector is the zero value `{}`: every pod of the namespace.
    let pod_selector = errors.selector("spec.podSelector", &spec.pod_selector.clone().unwrap_or_default());

    let mut ingress_rules = Vec::new();
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let path = format!("spec.ingress[{i}]");
        let (ports, named_entries) = compile_ports(&mut errors, &path, rule.ports.as_deref());
        let peers = compile_peers(&mut errors, &format!("{path}.from"), rule.from.as_deref());
        ingress_rules.push(Rule { peers, ports, named_entries });
    }
    let mut egress_rules = Vec::new();
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let path = format!("spec.egress[{i}]");
        let (ports, named_entries) = compile_ports(&mut errors, &path, rule.ports.as_deref());
        let peers = compile_peers(&mut errors, &format!("{path}.to"), rule.to.as_deref());
        egress_rules.push(Rule { peers, ports, named_entries });
    }

    // policyTypes: at most two, each Ingress or Egress (ValidateNetworkPolicySpec).
    let types = spec.policy_types.clone().unwrap_or_default();
    if types.len() > 2 {
        errors.push("spec.policyTypes", "Invalid value: may not specify more than two policyTypes");
    } else {
        for (i, t) in types.iter().enumerate() {
            if t != "Ingress" && t != "Egress" {
                errors.push(
                    format!("spec.policyTypes[{i}]"),
                    format!("Unsupported value: {t:?}: supported values: \"Ingress\", \"Egress\""),
                );
            }
        }
    }

    if !errors.list.is_empty() {
        return Err(errors.list);
    }
    // Defaulting (k8s.io/kubernetes/pkg/apis/networking/v1.SetDefaults_NetworkPolicy): no
    // policyTypes means Ingress, plus Egress when the egress list is non-empty — an
    // explicit `egress: []` does not add Egress.
    let (has_ingress, has_egress) = if types.is_empty() {
        (true, !egress_rules.is_empty())
    } else {
        (types.iter().any(|t| t == "Ingress"), types.iter().any(|t| t == "Egress"))
    };
    Ok(CompiledPolicy {
        namespace,
        name,
        pod_selector: pod_selector.unwrap_or_else(Selector::everything),
        ingress: has_ingress.then_some(ingress_rules),
        egress: has_egress.then_some(egress_rules),
    })
}

/// `ports` of a rule; absent or empty means every port of every protocol. Also returns
/// each named port with its index in the list.
fn compile_ports(
    errors: &mut Errors<'_>,
    rule_path: &str,
    ports: Option<&[NetworkPolicyPort]>,
) -> (RulePorts, Vec<(usize, Protocol, String)>) {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return (RulePorts::all(), Vec::new());
    };
    let mut out = RulePorts::default();
    let mut named_entries = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let path = format!("{rule_path}.ports[{i}]");
        if let Some(p) = compile_port(errors, &path, port) {
            named_entries.extend(p.named.iter().map(|(protocol, name)| (i, *protocol, name.clone())));
            out.merge(&p);
        }
    }
    (out, named_entries)
}

/// `ValidateNetworkPolicyPort` plus the meaning of one entry.
fn compile_port(errors: &mut Errors<'_>, path: &str, port: &NetworkPolicyPort) -> Option<RulePorts> {
    let before = errors.list.len();
    // SetDefaults_NetworkPolicyPort: protocol defaults to TCP.
    let protocol = match port.protocol.as_deref() {
        None => Some(Protocol::Tcp),
        Some(p) => {
            let parsed = Protocol::parse(p);
            if parsed.is_none() {
                errors.push(
                    format!("{path}.protocol"),
                    format!("Unsupported value: {p:?}: supported values: \"TCP\", \"UDP\", \"SCTP\""),
                );
            }
            parsed
        }
    };
    let mut result = RulePorts::default();
    match &port.port {
        Some(IntOrString::Int(number)) => {
            let lo = valid_port_number(errors, &format!("{path}.port"), *number);
            let hi = match port.end_port {
                Some(end) => {
                    if end < *number {
                        // Upstream reports `port`'s value here, not endPort's.
                        errors.push(
                            format!("{path}.endPort"),
                            format!("Invalid value: {number}: must be greater than or equal to `port`"),
                        );
                    }
                    valid_port_number(errors, &format!("{path}.endPort"), end)
                }
                None => lo,
            };
            if let (Some(p), Some(lo), Some(hi)) = (protocol, lo, hi) {
                result.numeric = ConnSet::range(p, lo, hi);
            }
        }
        Some(IntOrString::String(name)) => {
            // A named port is one port on the destination pod; a range from it is refused.
            if let Some(end) = port.end_port {
                errors.push(
                    format!("{path}.endPort"),
                    format!("Invalid value: {end}: may not be specified when `port` is non-numeric"),
                );
            }
            for m in port_name_problems(name) {
                errors.push(format!("{path}.port"), format!("Invalid value: {name:?}: {m}"));
            }
            if let Some(p) = protocol {
                result.named.push((p, name.clone()));
            }
        }
        None => {
            if let Some(end) = port.end_port {
                errors.push(
                    format!("{path}.endPort"),
                    format!("Invalid value: {end}: may not be specified when `port` is not specified"),
                );
            }
            // No port: every port of the protocol (NetworkPolicyPort.port in types.go).
            if let Some(p) = protocol {
                result.numeric = ConnSet::protocol(p);
            }
        }
    }
    (errors.list.len() == before).then_some(result)
}

/// `k8s.io/apimachinery/pkg/util/validation.IsValidPortNum`.
fn valid_port_number(errors: &mut Errors<'_>, field: &str, number: i32) -> Option<u16> {
    match u16::try_from(number) {
        Ok(p) if p >= 1 => Some(p),
        _ => {
            errors.push(field, format!("Invalid value: {number}: must be between 1 and 65535, inclusive"));
            None
        }
    }
}

/// `k8s.io/apimachinery/pkg/util/validation.IsValidPortName` (an IANA_SVC_NAME).
pub(crate) fn port_name_problems(name: &str) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if name.len() > 15 {
        problems.push("must be no more than 15 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        problems.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if name.contains("--") {
        problems.push("must not contain consecutive hyphens");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)");
    }
    if name.starts_with('-') || name.ends_with('-') {
        problems.push("must not begin or end with a hyphen");
    }
    problems
}

/// `from`/`to` of a rule; absent or empty means every peer.
fn compile_peers(
    errors: &mut Errors<'_>,
    list_path: &str,
    peers: Option<&[NetworkPolicyPeer]>,
) -> Option<Vec<Peer>> {
    let peers = peers.filter(|p| !p.is_empty())?;
    let mut out = Vec::with_capacity(peers.len());
    for (i, peer) in peers.iter().enumerate() {
        let path = format!("{list_path}[{i}]");
        if let Some(p) = compile_peer(errors, &path, peer) {
            out.push(p);
        }
    }
    Some(out)
}

/// `ValidateNetworkPolicyPeer` and `ValidateIPBlock`.
fn compile_peer(errors: &mut Errors<'_>, path: &str, peer: &NetworkPolicyPeer) -> Option<Peer> {
    let pods = peer.pod_selector.as_ref().map(|s| errors.selector(&format!("{path}.podSelector"), s));
    let namespaces =
        peer.namespace_selector.as_ref().map(|s| errors.selector(&format!("{path}.namespaceSelector"), s));
    let count = usize::from(pods.is_some())
        + usize::from(namespaces.is_some())
        + usize::from(peer.ip_block.is_some());
    if count == 0 {
        errors.push(path, "Required value: must specify a peer");
        return None;
    }
    if let Some(block) = &peer.ip_block {
        if count > 1 {
            errors.push(path, "Forbidden: may not specify both ipBlock and another peer");
        }
        let block_path = format!("{path}.ipBlock");
        if block.cidr.is_empty() {
            errors.push(format!("{block_path}.cidr"), "Required value");
            return None;
        }
        let cidr = match parse_cidr_legacy(&block.cidr) {
            Ok(net) => net,
            Err(m) => {
                errors.push(format!("{block_path}.cidr"), m);
                return None;
            }
        };
        let mut addresses = IpSet::from_net(&cidr);
        let mut ok = count == 1;
        for (i, except) in block.except.iter().flatten().enumerate() {
            let except_path = format!("{block_path}.except[{i}]");
            match parse_cidr_legacy(except) {
                Ok(net) => {
                    // "must be a strict subset of `cidr`": same family, inside, longer prefix.
                    let inside = cidr.trunc().contains(&net.trunc().network());
                    if !inside || cidr.prefix_len() >= net.prefix_len() {
                        errors.push(
                            except_path,
                            format!("Invalid value: {except:?}: must be a strict subset of `cidr`"),
                        );
                        ok = false;
                    } else {
                        addresses = addresses.difference(&IpSet::from_net(&net));
                    }
                }
                Err(m) => {
                    errors.push(except_path, m);
                    ok = false;
                }
            }
        }
        return ok.then(|| Peer::IpBlock { addresses, cidr: block.cidr.clone() });
    }
    match (namespaces, pods) {
        (Some(None), _) | (_, Some(None)) => None,
        (namespaces, pods) => Some(Peer::Pods { namespaces: namespaces.flatten(), pods: pods.flatten() }),
    }
}
