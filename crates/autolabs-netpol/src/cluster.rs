//! Cluster-wide network policies of the network-policy-api: `ClusterNetworkPolicy`
//! (`policy.networking.k8s.io/v1alpha2`, release v0.2.0) and `AdminNetworkPolicy` /
//! `BaselineAdminNetworkPolicy` (`v1alpha1`, release v0.1.8), decoded strictly and
//! compiled into one form.
//!
//! Both versions read the same way (`apis/v1alpha2/clusternetworkpolicy_types.go`
//! `ClusterNetworkPolicySpec.Tier`; `apis/v1alpha1/adminnetworkpolicy_types.go`):
//! the Admin tier (ANP, or CNP `tier: Admin`) is evaluated before NetworkPolicy, the
//! Baseline tier (BANP, or CNP `tier: Baseline`) after it; within a tier policies go by
//! ascending `priority` and rules by their order; the first matching rule decides
//! (Accept/Allow and Deny end evaluation, Pass hands the connection to the next tier).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use autolabs_k8s::Selector;
use autolabs_k8s::k8s::{LabelSelector, LabelSelectorRequirement};
use ipnet::IpNet;
use serde::Deserialize;

use crate::connset::{ConnSet, Protocol};
use crate::error::NetpolError;
use crate::ipset::IpSet;
use crate::policy::{Direction, RulePorts, port_name_problems};

/// The API group of both versions.
pub const CLUSTER_POLICY_GROUP: &str = "policy.networking.k8s.io";

/// Which of the three kinds an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterPolicyKind {
    /// `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy (v0.2.0).
    ClusterNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy (v0.1.8).
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` BaselineAdminNetworkPolicy (v0.1.8).
    BaselineAdminNetworkPolicy,
}

impl ClusterPolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterPolicyKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            ClusterPolicyKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            ClusterPolicyKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
        }
    }

    /// The apiVersion this kind is served at.
    pub fn api_version(self) -> &'static str {
        match self {
            ClusterPolicyKind::ClusterNetworkPolicy => "policy.networking.k8s.io/v1alpha2",
            _ => "policy.networking.k8s.io/v1alpha1",
        }
    }

    /// Recognises `apiVersion` + `kind`; `None` for anything else.
    pub fn from_type(api_version: &str, kind: &str) -> Option<ClusterPolicyKind> {
        [
            ClusterPolicyKind::ClusterNetworkPolicy,
            ClusterPolicyKind::AdminNetworkPolicy,
            ClusterPolicyKind::BaselineAdminNetworkPolicy,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind && k.api_version() == api_version)
    }
}

/// Where a policy sits relative to NetworkPolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Before NetworkPolicy (CNP `tier: Admin`, every ANP).
    Admin,
    /// After NetworkPolicy (CNP `tier: Baseline`, the BANP).
    Baseline,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Admin => "Admin",
            Tier::Baseline => "Baseline",
        }
    }
}

/// What a rule does with matching traffic. v1alpha1's `Allow` is v1alpha2's `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Accept,
    Deny,
    Pass,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "Accept",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        }
    }
}

/// A node: the `nodes` peer selects node IPs by node labels
/// (`status.addresses`, ClusterNetworkPolicyEgressPeer.Nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub addresses: Vec<IpAddr>,
}

/// A `namespaces` or `pods` subject/peer: the namespaces selected, and the pods in them
/// (`None`: every pod).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PodsPeer {
    pub namespaces: Selector,
    pub pods: Option<Selector>,
}

/// One peer of a compiled rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClusterPeer {
    Pods(PodsPeer),
    /// `networks`: CIDRs (egress only).
    Networks(IpSet),
    /// `nodes`: node IPs by node labels (egress only).
    Nodes(Selector),
}

/// One compiled ingress or egress rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterRule {
    pub name: Option<String>,
    pub action: Action,
    pub peers: Vec<ClusterPeer>,
    /// Absent `ports`/`protocols`: every port of every protocol.
    pub ports: RulePorts,
}

/// A validated cluster-wide policy of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPolicy {
    pub(crate) kind: ClusterPolicyKind,
    pub(crate) name: String,
    pub(crate) tier: Tier,
    /// 0..=1000, lower first; the BANP (a singleton) has 0.
    pub(crate) priority: u32,
    pub(crate) subject: PodsPeer,
    pub(crate) ingress: Vec<ClusterRule>,
    pub(crate) egress: Vec<ClusterRule>,
}

impl ClusterPolicy {
    pub fn kind(&self) -> ClusterPolicyKind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tier(&self) -> Tier {
        self.tier
    }

    pub fn priority(&self) -> u32 {
        self.priority
    }

    pub(crate) fn rules(&self, direction: Direction) -> &[ClusterRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    /// Decodes and validates one object (JSON or YAML already parsed into a value). A
    /// field neither version defines is an error (strict decoding, as `kubectl apply
    /// --validate=strict`), and so is every value the CRD's schema and CEL rules refuse.
    pub fn from_value(value: &serde_json::Value) -> Result<ClusterPolicy, NetpolError> {
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let (api_version, kind_text) = (text("apiVersion"), text("kind"));
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string();
        let Some(kind) = ClusterPolicyKind::from_type(&api_version, &kind_text) else {
            return Err(NetpolError::InvalidClusterPolicy {
                kind: kind_text,
                name,
                field: "apiVersion".to_string(),
                message: format!(
                    "Unsupported value: {api_version:?}: not a policy.networking.k8s.io/v1alpha2 \
                     ClusterNetworkPolicy nor a v1alpha1 AdminNetworkPolicy/BaselineAdminNetworkPolicy"
                ),
            });
        };
        let error = |field: String, message: String| NetpolError::InvalidClusterPolicy {
            kind: kind.as_str().to_string(),
            name: name.clone(),
            field,
            message,
        };
        let decode_error = |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            error(if path == "." { String::new() } else { path }, e.inner().to_string())
        };
        let mut errors = Vec::new();
        let compiled = match kind {
            ClusterPolicyKind::ClusterNetworkPolicy => {
                let raw: v1alpha2::Object = serde_path_to_error::deserialize(value).map_err(decode_error)?;
                compile_v1alpha2(&raw, &mut Problems { list: &mut errors })
            }
            _ => {
                let raw: v1alpha1::Object = serde_path_to_error::deserialize(value).map_err(decode_error)?;
                compile_v1alpha1(kind, &raw, &mut Problems { list: &mut errors })
            }
        };
        if name.is_empty() {
            errors.push(("metadata.name".to_string(), "Required value".to_string()));
        } else {
            for m in autolabs_k8s::names::dns1123_subdomain(&name) {
                errors.push(("metadata.name".to_string(), format!("Invalid value: {name:?}: {m}")));
            }
        }
        // `self.metadata.name == 'default'` on the BaselineAdminNetworkPolicy CRD: a singleton.
        if kind == ClusterPolicyKind::BaselineAdminNetworkPolicy && name != "default" && !name.is_empty() {
            errors.push((
                "metadata.name".to_string(),
                format!("Invalid value: {name:?}: Only one baseline admin network policy with metadata.name=\"default\" can be created in the cluster"),
            ));
        }
        match (errors.into_iter().next(), compiled) {
            (Some((field, message)), _) => Err(error(field, message)),
            (None, Some(mut policy)) => {
                policy.name = name;
                Ok(policy)
            }
            (None, None) => Err(error(String::new(), "could not compile".to_string())),
        }
    }
}

impl fmt::Display for ClusterPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}, priority {})", self.kind.as_str(), self.name, self.tier.as_str(), self.priority)
    }
}

/// A rule of a cluster policy, for explanations: `ClusterNetworkPolicy labs-guardrail
/// (Admin, priority 10) spec.egress[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterRuleRef {
    pub kind: ClusterPolicyKind,
    pub name: String,
    pub tier: Tier,
    pub priority: u32,
    pub direction: Direction,
    pub index: usize,
    /// The rule's own `name`, when it has one.
    pub rule_name: Option<String>,
}

impl fmt::Display for ClusterRuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}, priority {}) spec.{}[{}]",
            self.kind.as_str(),
            self.name,
            self.tier.as_str(),
            self.priority,
            self.direction.as_str(),
            self.index
        )?;
        if let Some(name) = &self.rule_name {
            write!(f, " {name:?}")?;
        }
        Ok(())
    }
}

struct Problems<'a> {
    list: &'a mut Vec<(String, String)>,
}

impl Problems<'_> {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.list.push((field.into(), message.into()));
    }

    fn selector(&mut self, field: &str, raw: &RawSelector) -> Selector {
        let k8s = LabelSelector {
            match_labels: raw.match_labels.clone(),
            match_expressions: raw.match_expressions.as_ref().map(|list| {
                list.iter()
                    .map(|e| LabelSelectorRequirement {
                        key: e.key.clone(),
                        operator: e.operator.clone(),
                        values: e.values.clone(),
                    })
                    .collect()
            }),
        };
        match Selector::from_k8s(&k8s) {
            Ok(s) => s,
            Err(errs) => {
                for e in errs {
                    self.push(format!("{field}.{}", e.field), e.message);
                }
                Selector::everything()
            }
        }
    }

    /// `isCIDR(self)` on every `networks` entry.
    fn networks(&mut self, field: &str, list: &[String]) -> IpSet {
        if list.is_empty() {
            self.push(field, "Invalid value: 0: must have at least 1 items");
        }
        let mut set = IpSet::empty();
        for (i, cidr) in list.iter().enumerate() {
            match cidr.parse::<IpNet>() {
                Ok(net) => set = set.union(&IpSet::from_net(&net)),
                Err(_) => self.push(
                    format!("{field}[{i}]"),
                    format!("Invalid value: {cidr:?}: Invalid CIDR format provided"),
                ),
            }
        }
        set
    }

    fn port_number(&mut self, field: &str, port: i64) -> u16 {
        match u16::try_from(port) {
            Ok(p) if p >= 1 => p,
            _ => {
                self.push(field, format!("Invalid value: {port}: must be between 1 and 65535, inclusive"));
                1
            }
        }
    }

    fn named_port(&mut self, field: &str, name: &str, ports: &mut RulePorts) {
        for m in port_name_problems(name) {
            self.push(field, format!("Invalid value: {name:?}: {m}"));
        }
        // A named port selects the container port of that name, whatever its protocol.
        for protocol in Protocol::ALL {
            ports.named.push((protocol, name.to_string()));
        }
        ports.named.sort();
        ports.named.dedup();
    }
}

/// A label selector with no field beyond `matchLabels`/`matchExpressions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSelector {
    match_labels: Option<BTreeMap<String, String>>,
    match_expressions: Option<Vec<RawRequirement>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    key: String,
    operator: String,
    values: Option<Vec<String>>,
}

/// `metadata`: the fields an object may carry; only `name` matters here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMeta {
    #[allow(dead_code)]
    name: Option<String>,
    #[allow(dead_code)]
    generate_name: Option<String>,
    #[allow(dead_code)]
    labels: Option<BTreeMap<String, String>>,
    #[allow(dead_code)]
    annotations: Option<BTreeMap<String, String>>,
    #[allow(dead_code)]
    uid: Option<String>,
    #[allow(dead_code)]
    resource_version: Option<String>,
    #[allow(dead_code)]
    generation: Option<i64>,
    #[allow(dead_code)]
    creation_timestamp: Option<String>,
    #[allow(dead_code)]
    managed_fields: Option<serde_json::Value>,
    #[allow(dead_code)]
    finalizers: Option<Vec<String>>,
}

/// `policy.networking.k8s.io/v1alpha2` (v0.2.0 `apis/v1alpha2/clusternetworkpolicy_types.go`).
mod v1alpha2 {
    use super::{RawMeta, RawSelector};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Object {
        #[allow(dead_code)]
        pub api_version: String,
        #[allow(dead_code)]
        pub kind: String,
        #[allow(dead_code)]
        pub metadata: RawMeta,
        pub spec: Spec,
        #[allow(dead_code)]
        pub status: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Spec {
        pub tier: String,
        pub priority: i64,
        pub subject: Subject,
        pub ingress: Option<Vec<IngressRule>>,
        pub egress: Option<Vec<EgressRule>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Subject {
        pub namespaces: Option<RawSelector>,
        pub pods: Option<NamespacedPod>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct NamespacedPod {
        /// Optional in v1alpha2: absent is the empty selector, every namespace.
        pub namespace_selector: Option<RawSelector>,
        pub pod_selector: RawSelector,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct IngressRule {
        pub name: Option<String>,
        pub action: String,
        pub from: Vec<IngressPeer>,
        pub protocols: Option<Vec<ProtocolMatch>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct EgressRule {
        pub name: Option<String>,
        pub action: String,
        pub to: Vec<EgressPeer>,
        pub protocols: Option<Vec<ProtocolMatch>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct IngressPeer {
        pub namespaces: Option<RawSelector>,
        pub pods: Option<NamespacedPod>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct EgressPeer {
        pub namespaces: Option<RawSelector>,
        pub pods: Option<NamespacedPod>,
        pub networks: Option<Vec<String>>,
        pub nodes: Option<RawSelector>,
        pub domain_names: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct ProtocolMatch {
        pub tcp: Option<PortMatch>,
        pub udp: Option<PortMatch>,
        pub sctp: Option<PortMatch>,
        pub destination_named_port: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct PortMatch {
        pub destination_port: Option<Port>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Port {
        pub number: Option<i64>,
        pub range: Option<Range>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Range {
        pub start: i64,
        pub end: i64,
    }
}

/// `policy.networking.k8s.io/v1alpha1` (v0.1.8 `apis/v1alpha1/adminnetworkpolicy_types.go`,
/// `baselineadminnetworkpolicy_types.go`, `shared_types.go`).
mod v1alpha1 {
    use super::{RawMeta, RawSelector};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Object {
        #[allow(dead_code)]
        pub api_version: String,
        #[allow(dead_code)]
        pub kind: String,
        #[allow(dead_code)]
        pub metadata: RawMeta,
        pub spec: Spec,
        #[allow(dead_code)]
        pub status: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Spec {
        /// Required for ANP; BANP has none.
        pub priority: Option<i64>,
        pub subject: Subject,
        pub ingress: Option<Vec<IngressRule>>,
        pub egress: Option<Vec<EgressRule>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Subject {
        pub namespaces: Option<RawSelector>,
        pub pods: Option<NamespacedPod>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct NamespacedPod {
        pub namespace_selector: RawSelector,
        pub pod_selector: RawSelector,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct IngressRule {
        pub name: Option<String>,
        pub action: String,
        pub from: Vec<IngressPeer>,
        pub ports: Option<Vec<PortMatch>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct EgressRule {
        pub name: Option<String>,
        pub action: String,
        pub to: Vec<EgressPeer>,
        pub ports: Option<Vec<PortMatch>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct IngressPeer {
        pub namespaces: Option<RawSelector>,
        pub pods: Option<NamespacedPod>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct EgressPeer {
        pub namespaces: Option<RawSelector>,
        pub pods: Option<NamespacedPod>,
        pub networks: Option<Vec<String>>,
        pub nodes: Option<RawSelector>,
        pub domain_names: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct PortMatch {
        pub port_number: Option<PortNumber>,
        pub named_port: Option<String>,
        pub port_range: Option<PortRange>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct PortNumber {
        pub protocol: Option<String>,
        pub port: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct PortRange {
        pub protocol: Option<String>,
        pub start: i64,
        pub end: i64,
    }
}

/// `spec.tier`, `spec.priority` (0..=1000) and the rule counts (v1alpha2: at most 25).
fn compile_v1alpha2(raw: &v1alpha2::Object, p: &mut Problems<'_>) -> Option<ClusterPolicy> {
    let spec = &raw.spec;
    let tier = match spec.tier.as_str() {
        "Admin" => Tier::Admin,
        "Baseline" => Tier::Baseline,
        other => {
            p.push(
                "spec.tier",
                format!("Unsupported value: {other:?}: supported values: \"Admin\", \"Baseline\""),
            );
            Tier::Admin
        }
    };
    let priority = priority(p, spec.priority);
    let subject = match (&spec.subject.namespaces, &spec.subject.pods) {
        (Some(ns), None) => PodsPeer { namespaces: p.selector("spec.subject.namespaces", ns), pods: None },
        (None, Some(pods)) => namespaced_pod_v2(p, "spec.subject.pods", pods),
        _ => {
            p.push("spec.subject", "Invalid value: exactly one of namespaces, pods must be set");
            PodsPeer { namespaces: Selector::everything(), pods: None }
        }
    };
    let actions = ["Accept", "Deny", "Pass"];
    let mut ingress = Vec::new();
    let list = spec.ingress.as_deref().unwrap_or_default();
    max_items(p, "spec.ingress", list.len(), 25);
    for (i, rule) in list.iter().enumerate() {
        let path = format!("spec.ingress[{i}]");
        let action = action(p, &format!("{path}.action"), &rule.action, &actions);
        rule_name(p, &path, rule.name.as_deref());
        max_items(p, &format!("{path}.from"), rule.from.len(), 25);
        min_items(p, &format!("{path}.from"), rule.from.len());
        let peers = rule
            .from
            .iter()
            .enumerate()
            .map(|(j, peer)| {
                let f = format!("{path}.from[{j}]");
                match (&peer.namespaces, &peer.pods) {
                    (Some(ns), None) => ClusterPeer::Pods(PodsPeer {
                        namespaces: p.selector(&format!("{f}.namespaces"), ns),
                        pods: None,
                    }),
                    (None, Some(pods)) => ClusterPeer::Pods(namespaced_pod_v2(p, &format!("{f}.pods"), pods)),
                    _ => {
                        p.push(f, "Invalid value: exactly one of the fields must be set");
                        ClusterPeer::Networks(IpSet::empty())
                    }
                }
            })
            .collect();
        let (ports, _) = protocols_v2(p, &path, rule.protocols.as_deref());
        ingress.push(ClusterRule { name: rule.name.clone(), action, peers, ports });
    }
    let mut egress = Vec::new();
    let list = spec.egress.as_deref().unwrap_or_default();
    max_items(p, "spec.egress", list.len(), 25);
    for (i, rule) in list.iter().enumerate() {
        let path = format!("spec.egress[{i}]");
        let action = action(p, &format!("{path}.action"), &rule.action, &actions);
        rule_name(p, &path, rule.name.as_deref());
        max_items(p, &format!("{path}.to"), rule.to.len(), 25);
        min_items(p, &format!("{path}.to"), rule.to.len());
        let mut address_peer = false;
        let mut peers = Vec::new();
        for (j, peer) in rule.to.iter().enumerate() {
            let f = format!("{path}.to[{j}]");
            let found = egress_peer(
                p,
                &f,
                peer.namespaces.as_ref(),
                peer.pods.as_ref().map(|pods| (pods, namespaced_pod_v2 as PodsOf<_>)),
                peer.networks.as_deref(),
                peer.nodes.as_ref(),
                peer.domain_names.as_deref(),
            );
            if let Some((peer, names_addresses)) = found {
                address_peer |= names_addresses;
                peers.push(peer);
            }
        }
        let (ports, has_named) = protocols_v2(p, &path, rule.protocols.as_deref());
        if address_peer && has_named {
            p.push(
                path.clone(),
                "Invalid value: networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames",
            );
        }
        egress.push(ClusterRule { name: rule.name.clone(), action, peers, ports });
    }
    Some(ClusterPolicy {
        kind: ClusterPolicyKind::ClusterNetworkPolicy,
        name: String::new(),
        tier,
        priority,
        subject,
        ingress,
        egress,
    })
}

fn namespaced_pod_v2(p: &mut Problems<'_>, path: &str, raw: &v1alpha2::NamespacedPod) -> PodsPeer {
    PodsPeer {
        // NamespaceSelector "follows standard label selector semantics; if empty, it selects
        // all Namespaces" — absent is empty.
        namespaces: raw
            .namespace_selector
            .as_ref()
            .map(|s| p.selector(&format!("{path}.namespaceSelector"), s))
            .unwrap_or_else(Selector::everything),
        pods: Some(p.selector(&format!("{path}.podSelector"), &raw.pod_selector)),
    }
}

/// How one API version's `NamespacedPod` becomes a [`PodsPeer`].
type PodsOf<P> = fn(&mut Problems<'_>, &str, &P) -> PodsPeer;

/// One egress peer of either version (`AdminNetworkPolicyEgressPeer`,
/// `ClusterNetworkPolicyEgressPeer`: "Exactly one of the fields must be set"); `None` after
/// reporting a peer that sets none or several. The flag says whether the peer names addresses
/// (networks, nodes, domainNames), which the CRDs forbid beside named ports.
fn egress_peer<P>(
    p: &mut Problems<'_>,
    path: &str,
    namespaces: Option<&RawSelector>,
    pods: Option<(&P, PodsOf<P>)>,
    networks: Option<&[String]>,
    nodes: Option<&RawSelector>,
    domain_names: Option<&[String]>,
) -> Option<(ClusterPeer, bool)> {
    let set = usize::from(namespaces.is_some())
        + usize::from(pods.is_some())
        + usize::from(networks.is_some())
        + usize::from(nodes.is_some())
        + usize::from(domain_names.is_some());
    if set != 1 {
        p.push(path, "Invalid value: exactly one of the fields must be set");
        return None;
    }
    let names_addresses = networks.is_some() || nodes.is_some() || domain_names.is_some();
    let pods = pods.map(|(raw, to_pods)| to_pods(p, &format!("{path}.pods"), raw));
    Some((egress_peer_of_one(p, path, namespaces, pods, networks, nodes, domain_names), names_addresses))
}

/// The [`ClusterPeer`] of an egress peer that sets exactly one field.
fn egress_peer_of_one(
    p: &mut Problems<'_>,
    path: &str,
    namespaces: Option<&RawSelector>,
    pods: Option<PodsPeer>,
    networks: Option<&[String]>,
    nodes: Option<&RawSelector>,
    domain_names: Option<&[String]>,
) -> ClusterPeer {
    if let Some(ns) = namespaces {
        return ClusterPeer::Pods(PodsPeer {
            namespaces: p.selector(&format!("{path}.namespaces"), ns),
            pods: None,
        });
    }
    if let Some(pods) = pods {
        return ClusterPeer::Pods(pods);
    }
    if let Some(list) = networks {
        max_items(p, &format!("{path}.networks"), list.len(), 25);
        return ClusterPeer::Networks(p.networks(&format!("{path}.networks"), list));
    }
    if let Some(sel) = nodes {
        return ClusterPeer::Nodes(p.selector(&format!("{path}.nodes"), sel));
    }
    if domain_names.is_some() {
        // Names resolve to addresses only at run time; an offline proof cannot place them.
        p.push(
            format!("{path}.domainNames"),
            "Unsupported: domainNames peers resolve to addresses only at run time and cannot be analysed offline",
        );
    }
    ClusterPeer::Networks(IpSet::empty())
}

/// `protocols` of a v1alpha2 rule; absent means every port of every protocol. Also says
/// whether a `destinationNamedPort` is among them.
fn protocols_v2(
    p: &mut Problems<'_>,
    rule_path: &str,
    list: Option<&[v1alpha2::ProtocolMatch]>,
) -> (RulePorts, bool) {
    let Some(list) = list else {
        return (RulePorts::all(), false);
    };
    let path = format!("{rule_path}.protocols");
    min_items(p, &path, list.len());
    max_items(p, &path, list.len(), 25);
    let mut out = RulePorts::default();
    let mut has_named = false;
    for (i, entry) in list.iter().enumerate() {
        let f = format!("{path}[{i}]");
        let set = usize::from(entry.tcp.is_some())
            + usize::from(entry.udp.is_some())
            + usize::from(entry.sctp.is_some())
            + usize::from(entry.destination_named_port.is_some());
        if set != 1 {
            p.push(f.clone(), "Invalid value: exactly one field must be set");
        }
        for (protocol, key, port) in [
            (Protocol::Tcp, "tcp", &entry.tcp),
            (Protocol::Udp, "udp", &entry.udp),
            (Protocol::Sctp, "sctp", &entry.sctp),
        ] {
            let Some(port) = port else { continue };
            let pf = format!("{f}.{key}");
            let Some(dest) = &port.destination_port else {
                // minProperties=1 on the protocol object.
                p.push(pf, "Invalid value: must have at least 1 properties");
                continue;
            };
            let df = format!("{pf}.destinationPort");
            match (dest.number, &dest.range) {
                (Some(n), None) => {
                    let n = p.port_number(&format!("{df}.number"), n);
                    out.numeric.add(&ConnSet::port(protocol, n));
                }
                (None, Some(r)) => {
                    let lo = p.port_number(&format!("{df}.range.start"), r.start);
                    let hi = p.port_number(&format!("{df}.range.end"), r.end);
                    // `self.start < self.end` on the range.
                    if r.start >= r.end {
                        p.push(format!("{df}.range"), "Invalid value: Start port must be less than End port");
                    }
                    out.numeric.add(&ConnSet::range(protocol, lo, hi));
                }
                _ => p.push(df, "Invalid value: exactly one of number, range must be set"),
            }
        }
        if let Some(name) = &entry.destination_named_port {
            has_named = true;
            p.named_port(&format!("{f}.destinationNamedPort"), name, &mut out);
        }
    }
    (out, has_named)
}

fn compile_v1alpha1(
    kind: ClusterPolicyKind,
    raw: &v1alpha1::Object,
    p: &mut Problems<'_>,
) -> Option<ClusterPolicy> {
    let spec = &raw.spec;
    let banp = kind == ClusterPolicyKind::BaselineAdminNetworkPolicy;
    let priority = match (banp, spec.priority) {
        (false, Some(value)) => priority(p, value),
        (false, None) => {
            p.push("spec.priority", "Required value");
            0
        }
        (true, Some(_)) => {
            p.push("spec.priority", "strict decoding error: unknown field \"spec.priority\"");
            0
        }
        (true, None) => 0,
    };
    let subject = match (&spec.subject.namespaces, &spec.subject.pods) {
        (Some(ns), None) => PodsPeer { namespaces: p.selector("spec.subject.namespaces", ns), pods: None },
        (None, Some(pods)) => namespaced_pod_v1(p, "spec.subject.pods", pods),
        _ => {
            p.push("spec.subject", "Invalid value: exactly one of namespaces, pods must be set");
            PodsPeer { namespaces: Selector::everything(), pods: None }
        }
    };
    let actions: &[&str] = if banp { &["Allow", "Deny"] } else { &["Allow", "Deny", "Pass"] };
    let mut ingress = Vec::new();
    let list = spec.ingress.as_deref().unwrap_or_default();
    max_items(p, "spec.ingress", list.len(), 100);
    for (i, rule) in list.iter().enumerate() {
        let path = format!("spec.ingress[{i}]");
        let action = action(p, &format!("{path}.action"), &rule.action, actions);
        rule_name(p, &path, rule.name.as_deref());
        max_items(p, &format!("{path}.from"), rule.from.len(), 100);
        min_items(p, &format!("{path}.from"), rule.from.len());
        let mut peers = Vec::new();
        for (j, peer) in rule.from.iter().enumerate() {
            let f = format!("{path}.from[{j}]");
            match (&peer.namespaces, &peer.pods) {
                (Some(ns), None) => peers.push(ClusterPeer::Pods(PodsPeer {
                    namespaces: p.selector(&format!("{f}.namespaces"), ns),
                    pods: None,
                })),
                (None, Some(pods)) => {
                    peers.push(ClusterPeer::Pods(namespaced_pod_v1(p, &format!("{f}.pods"), pods)))
                }
                _ => p.push(f, "Invalid value: exactly one of the fields must be set"),
            }
        }
        let (ports, _) = ports_v1(p, &path, rule.ports.as_deref());
        ingress.push(ClusterRule { name: rule.name.clone(), action, peers, ports });
    }
    let mut egress = Vec::new();
    let list = spec.egress.as_deref().unwrap_or_default();
    max_items(p, "spec.egress", list.len(), 100);
    for (i, rule) in list.iter().enumerate() {
        let path = format!("spec.egress[{i}]");
        let action = action(p, &format!("{path}.action"), &rule.action, actions);
        rule_name(p, &path, rule.name.as_deref());
        max_items(p, &format!("{path}.to"), rule.to.len(), 100);
        min_items(p, &format!("{path}.to"), rule.to.len());
        let mut address_peer = false;
        let mut peers = Vec::new();
        for (j, peer) in rule.to.iter().enumerate() {
            let f = format!("{path}.to[{j}]");
            if banp && peer.domain_names.is_some() {
                p.push(format!("{f}.domainNames"), "strict decoding error: unknown field");
                continue;
            }
            let found = egress_peer(
                p,
                &f,
                peer.namespaces.as_ref(),
                peer.pods.as_ref().map(|pods| (pods, namespaced_pod_v1 as PodsOf<_>)),
                peer.networks.as_deref(),
                peer.nodes.as_ref(),
                peer.domain_names.as_deref(),
            );
            if let Some((peer, names_addresses)) = found {
                address_peer |= names_addresses;
                peers.push(peer);
            }
        }
        let (ports, has_named) = ports_v1(p, &path, rule.ports.as_deref());
        if address_peer && has_named {
            p.push(
                path.clone(),
                "Invalid value: networks/nodes peer cannot be set with namedPorts since there are no namedPorts for networks/nodes",
            );
        }
        egress.push(ClusterRule { name: rule.name.clone(), action, peers, ports });
    }
    Some(ClusterPolicy {
        kind,
        name: String::new(),
        tier: if banp { Tier::Baseline } else { Tier::Admin },
        priority,
        subject,
        ingress,
        egress,
    })
}

fn namespaced_pod_v1(p: &mut Problems<'_>, path: &str, raw: &v1alpha1::NamespacedPod) -> PodsPeer {
    PodsPeer {
        namespaces: p.selector(&format!("{path}.namespaceSelector"), &raw.namespace_selector),
        pods: Some(p.selector(&format!("{path}.podSelector"), &raw.pod_selector)),
    }
}

/// `ports` of a v1alpha1 rule (`AdminNetworkPolicyPort`: exactly one of portNumber,
/// namedPort, portRange; protocol defaults to TCP); absent means every port.
fn ports_v1(
    p: &mut Problems<'_>,
    rule_path: &str,
    list: Option<&[v1alpha1::PortMatch]>,
) -> (RulePorts, bool) {
    let Some(list) = list else {
        return (RulePorts::all(), false);
    };
    let path = format!("{rule_path}.ports");
    min_items(p, &path, list.len());
    max_items(p, &path, list.len(), 100);
    let mut out = RulePorts::default();
    let mut has_named = false;
    for (i, entry) in list.iter().enumerate() {
        let f = format!("{path}[{i}]");
        let set = usize::from(entry.port_number.is_some())
            + usize::from(entry.named_port.is_some())
            + usize::from(entry.port_range.is_some());
        if set != 1 {
            p.push(f.clone(), "Invalid value: exactly one field must be set");
        }
        if let Some(n) = &entry.port_number {
            let protocol = protocol_v1(p, &format!("{f}.portNumber.protocol"), n.protocol.as_deref());
            let port = p.port_number(&format!("{f}.portNumber.port"), n.port);
            out.numeric.add(&ConnSet::port(protocol, port));
        }
        if let Some(r) = &entry.port_range {
            let protocol = protocol_v1(p, &format!("{f}.portRange.protocol"), r.protocol.as_deref());
            let lo = p.port_number(&format!("{f}.portRange.start"), r.start);
            let hi = p.port_number(&format!("{f}.portRange.end"), r.end);
            // PortRange: "Start value must be less than End" (shared_types.go).
            if r.start >= r.end {
                p.push(format!("{f}.portRange"), "Invalid value: Start port must be less than End port");
            }
            out.numeric.add(&ConnSet::range(protocol, lo, hi));
        }
        if let Some(name) = &entry.named_port {
            has_named = true;
            p.named_port(&format!("{f}.namedPort"), name, &mut out);
        }
    }
    (out, has_named)
}

/// "Protocol is the network protocol (TCP, UDP, or SCTP) ... defaults to TCP."
fn protocol_v1(p: &mut Problems<'_>, field: &str, value: Option<&str>) -> Protocol {
    match value {
        None => Protocol::Tcp,
        Some(v) => Protocol::parse(v).unwrap_or_else(|| {
            p.push(field, format!("Unsupported value: {v:?}: supported values: \"TCP\", \"UDP\", \"SCTP\""));
            Protocol::Tcp
        }),
    }
}

/// `spec.priority`: "a value from 0 to 1000".
fn priority(p: &mut Problems<'_>, value: i64) -> u32 {
    match u32::try_from(value) {
        Ok(v) if v <= 1000 => v,
        _ => {
            p.push("spec.priority", format!("Invalid value: {value}: spec.priority in body should be less than or equal to 1000 and greater than or equal to 0"));
            0
        }
    }
}

fn action(p: &mut Problems<'_>, field: &str, value: &str, allowed: &[&str]) -> Action {
    if !allowed.contains(&value) {
        let list = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
        p.push(field, format!("Unsupported value: {value:?}: supported values: {list}"));
    }
    match value {
        "Accept" | "Allow" => Action::Accept,
        "Pass" => Action::Pass,
        _ => Action::Deny,
    }
}

/// A rule's `name`: at most 100 characters.
fn rule_name(p: &mut Problems<'_>, path: &str, name: Option<&str>) {
    if let Some(name) = name.filter(|n| n.chars().count() > 100) {
        p.push(
            format!("{path}.name"),
            format!("Too long: may not be more than 100 bytes (got {})", name.len()),
        );
    }
}

fn max_items(p: &mut Problems<'_>, path: &str, len: usize, max: usize) {
    if len > max {
        p.push(path, format!("Too many: {len}: must have at most {max} items"));
    }
}

fn min_items(p: &mut Problems<'_>, path: &str, len: usize) {
    if len == 0 {
        p.push(path, "Invalid value: 0: must have at least 1 items");
    }
}
