//! The reachability analysis over equivalence classes of pods.
//!
//! Two pods that share namespace, pod labels, named ports and `hostNetwork` are treated
//! identically by every NetworkPolicy (policies see nothing else of a pod), so the
//! analysis works on such *classes*:
//!
//! 1. policies are indexed by namespace, and each class learns once which policies
//!    select it (and so whether it is isolated for ingress and for egress);
//! 2. each distinct peer (namespace selector, pod selector, policy namespace) is matched
//!    against the classes once, through label indexes, into a shared *peer set* (a
//!    sorted class list); every class also knows which peer sets contain it;
//! 3. each class gets, per direction, a *side*: the ports it admits from every endpoint,
//!    from every pod, from each peer set it references and from IP blocks — so a side
//!    costs as much as its rules, never as much as the classes those rules match;
//! 4. a connection `A → B` is `egress(A, B) ∩ ingress(B, A)`; enumerating all pairs only
//!    visits the candidates one side can allow (through the inverse index "which
//!    classes' ingress references a peer set containing A").
//!
//! Pods with `hostNetwork: true` are, by default ([`HostNetwork::Exempt`]; with
//! [`HostNetwork::AsPod`] they are ordinary pods), outside policy: never isolated and never matched by
//! pod or namespace selectors (only by rules without any peer, which match every
//! endpoint). External endpoints (IPs/CIDRs) are matched only by `ipBlock` peers that
//! contain the whole endpoint, and by rules without peers; they have no policies of their
//! own.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use autolabs_k8s::Selector;
use autolabs_k8s::selector::Requirement;
use ipnet::IpNet;

use crate::cluster::{Action, ClusterPeer, ClusterPolicy, ClusterRule, ClusterRuleRef, Tier};
use crate::connset::{ConnSet, Protocol};
use crate::error::NetpolError;
use crate::ipset::IpSet;
use crate::model::{Cluster, HostNetwork, NAMESPACE_NAME_LABEL, NamedPort, Options, Pod};
use crate::policy::{self, CompiledPolicy, Direction, Peer, Rule, RulePorts};

/// A pod of the analysed cluster: its index in `Cluster::pods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodId(usize);

impl PodId {
    pub fn index(self) -> usize {
        self.0
    }
}

/// An equivalence class of pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(u32);

impl ClassId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Pod(PodId),
    /// An address or network outside the pod network.
    External(IpNet),
}

/// Pods that every policy treats the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub id: ClassId,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub named_ports: Vec<NamedPort>,
    /// `hostNetwork` pods exempt from policy ([`HostNetwork::Exempt`]); `false` for
    /// hostNetwork pods analysed as ordinary pods ([`HostNetwork::AsPod`]).
    pub host_network: bool,
    pub members: Vec<PodId>,
}

/// A policy, named.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One rule of a policy: `spec.<direction>[index]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    pub policy: PolicyRef,
    pub direction: Direction,
    pub index: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} spec.{}[{}]", self.policy, self.direction.as_str(), self.index)
    }
}

/// What one side (the source's egress or the destination's ingress) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A pod talking to itself is always allowed.
    SamePod,
    /// A `hostNetwork` pod: outside NetworkPolicy.
    HostNetwork,
    /// An external endpoint: no NetworkPolicy applies to it.
    External,
    /// No policy selects the pod for this direction: everything is allowed.
    NotIsolated,
    /// Isolated, and these rules allow the connection.
    AllowedBy(Vec<RuleRef>),
    /// Isolated by these policies, and none of their rules allows the connection.
    DeniedBy(Vec<PolicyRef>),
    /// Decided by a cluster-wide policy rule (Admin tier, or Baseline tier for pods no
    /// NetworkPolicy isolates): Accept/Allow or Deny.
    Cluster { rule: ClusterRuleRef, accepted: bool },
    /// A cluster-wide Pass rule handed the connection on; `then` is what the next layers
    /// decided.
    Passed { by: ClusterRuleRef, then: Box<Verdict> },
}

impl Verdict {
    pub fn allows(&self) -> bool {
        match self {
            Verdict::DeniedBy(_) | Verdict::Cluster { accepted: false, .. } => false,
            Verdict::Passed { then, .. } => then.allows(),
            _ => true,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |items: Vec<String>| items.join(", ");
        match self {
            Verdict::SamePod => f.write_str("allowed: a pod may always reach itself"),
            Verdict::HostNetwork => f.write_str("allowed: hostNetwork pod, outside NetworkPolicy"),
            Verdict::External => f.write_str("allowed: external endpoint, no NetworkPolicy applies"),
            Verdict::NotIsolated => f.write_str("allowed: no policy isolates the pod"),
            Verdict::AllowedBy(rules) => {
                write!(f, "allowed by {}", join(rules.iter().map(ToString::to_string).collect()))
            }
            Verdict::DeniedBy(policies) => write!(
                f,
                "denied: isolated by {} and no rule allows it",
                join(policies.iter().map(ToString::to_string).collect())
            ),
            Verdict::Cluster { rule, accepted: true } => write!(f, "allowed by {rule}"),
            Verdict::Cluster { rule, accepted: false } => write!(f, "denied by {rule}"),
            Verdict::Passed { by, then } => match by.tier {
                Tier::Admin => write!(f, "passed to NetworkPolicy by {by}, then {then}"),
                Tier::Baseline => write!(f, "passed on by {by}, then {then}"),
            },
        }
    }
}

/// Cluster-wide policies of one tier and priority that select a common pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityTie {
    pub tier: Tier,
    pub priority: u32,
    /// `Kind name` of each policy, sorted.
    pub policies: Vec<String>,
}

/// Why a connection is allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub from: String,
    pub to: String,
    pub protocol: Protocol,
    pub port: u16,
    pub allowed: bool,
    /// The source's egress side.
    pub egress: Verdict,
    /// The destination's ingress side.
    pub ingress: Verdict,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} -> {} {}/{}: {}",
            self.from,
            self.to,
            self.protocol,
            self.port,
            if self.allowed { "ALLOWED" } else { "DENIED" }
        )?;
        writeln!(f, "  egress of source:       {}", self.egress)?;
        write!(f, "  ingress of destination: {}", self.ingress)
    }
}

#[derive(Debug, Clone)]
struct NsInfo {
    name: String,
    labels: BTreeMap<String, String>,
}

/// What makes two pods equivalent: namespace, labels, named ports, hostNetwork.
type ClassKey<'a> = (usize, &'a BTreeMap<String, String>, Vec<NamedPort>, bool);

/// Interned port sets: sides store small ids instead of repeating sets.
#[derive(Debug, Default)]
struct PortsTable {
    sets: Vec<RulePorts>,
    index: HashMap<RulePorts, u32>,
    unions: HashMap<(u32, u32), u32>,
}

impl PortsTable {
    fn intern(&mut self, ports: RulePorts) -> u32 {
        if let Some(&id) = self.index.get(&ports) {
            return id;
        }
        let id = self.sets.len() as u32;
        self.sets.push(ports.clone());
        self.index.insert(ports, id);
        id
    }

    fn union(&mut self, a: u32, b: u32) -> u32 {
        if a == b {
            return a;
        }
        let key = (a.min(b), a.max(b));
        if let Some(&id) = self.unions.get(&key) {
            return id;
        }
        let mut merged = self.sets[a as usize].clone();
        merged.merge(&self.sets[b as usize]);
        let id = self.intern(merged);
        self.unions.insert(key, id);
        id
    }
}

/// What one class admits in one direction. For ingress the ports are already resolved
/// on the class itself; for egress named ports are resolved on each destination.
#[derive(Debug, Clone, Default)]
struct Side {
    isolated: bool,
    /// Rules without peers: every endpoint (pods, hostNetwork pods, IPs).
    any_peer: RulePorts,
    /// Peers that match every non-hostNetwork pod.
    all_pods: RulePorts,
    /// `(peer set, ports)`, sorted by peer set, one entry per set.
    entries: Vec<(u32, u32)>,
    /// `ipBlock` peers, for external endpoints.
    ip_blocks: Vec<(IpSet, RulePorts)>,
}

impl Side {
    fn open() -> Side {
        Side { isolated: false, any_peer: RulePorts::all(), ..Side::default() }
    }

    /// Could this side admit some pod without naming its class?
    fn is_wide(&self) -> bool {
        !self.isolated || !self.any_peer.is_empty() || !self.all_pods.is_empty()
    }
}

/// Which classes a peer matches.
#[derive(Debug, Clone)]
enum PeerMatch {
    AllPods,
    /// A peer set id; `None` when the peer matches no class.
    Set(Option<u32>),
}

/// The analysis of one cluster, built once by [`Analysis::new`].
#[derive(Debug)]
pub struct Analysis {
    namespaces: Vec<NsInfo>,
    pods: Vec<Pod>,
    pod_index: HashMap<(String, String), PodId>,
    pod_class: Vec<ClassId>,
    classes: Vec<Class>,
    class_ns: Vec<usize>,
    policies: Vec<CompiledPolicy>,
    policies_by_ns: Vec<Vec<usize>>,
    /// Per class, the policies that select it, per direction.
    selected_ingress: Vec<Vec<usize>>,
    selected_egress: Vec<Vec<usize>>,
    ingress: Vec<Side>,
    egress: Vec<Side>,
    ports: Vec<RulePorts>,
    /// Classes whose ingress could admit a pod without naming its class, sorted.
    ingress_wide: Vec<ClassId>,
    /// Peer sets: sorted classes matched by a distinct pod/namespace peer.
    peer_sets: Vec<Vec<ClassId>>,
    /// Per class, the peer sets containing it, sorted.
    class_sets: Vec<Vec<u32>>,
    /// Per peer set, the classes whose ingress references it, sorted.
    set_ingress_owners: Vec<Vec<ClassId>>,
    /// Whether `ipBlock`s can match pods (from `Options::pod_cidrs`), per family.
    pod_ranges: Vec<IpSet>,
    /// The cluster-wide layer (ClusterNetworkPolicy, AdminNetworkPolicy, BANP).
    cluster: ClusterLayer,
}

/// Which endpoints one cluster-policy rule's peers match, resolved once.
#[derive(Debug, Clone, Default)]
struct ClusterRuleMatch {
    /// A pods/namespaces peer (or a `networks` peer covering the pod range) matches every
    /// non-hostNetwork pod.
    all_pods: bool,
    /// Peer sets (shared with NetworkPolicy peers), sorted.
    sets: Vec<u32>,
    /// `networks` and the addresses of the `nodes` selected, for external endpoints.
    addresses: IpSet,
}

/// The cluster-wide policies, in evaluation order, with what their rules match and which
/// classes each selects.
#[derive(Debug, Default)]
struct ClusterLayer {
    /// Sorted by (tier, priority, name): the order the tiers are walked in.
    policies: Vec<ClusterPolicy>,
    /// Per policy, per direction (`[ingress, egress]`), per rule.
    matches: Vec<[Vec<ClusterRuleMatch>; 2]>,
    /// Per direction, per class: the policies whose subject selects it, ascending.
    selected: [Vec<Vec<usize>>; 2],
    /// Per direction, per class: an Admin-tier Accept rule matches every pod.
    accepts_all: [Vec<bool>; 2],
    /// Per direction, per class: the peer sets of its Admin-tier Accept rules, sorted.
    accept_sets: [Vec<Vec<u32>>; 2],
}

fn dir_index(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// The other end of a connection, as cluster-policy peers see it.
#[derive(Debug, Clone, Copy)]
enum PeerRef<'a> {
    Class(ClassId),
    Ip(IpNet),
    /// A pod that need not exist, by its namespace labels and labels (a standard kube-dns
    /// when the input has none).
    Described {
        ns_labels: &'a BTreeMap<String, String>,
        labels: &'a BTreeMap<String, String>,
    },
}

/// What one tier decides for one side: accepted, denied, and handed on (passed or
/// matched by no rule).
#[derive(Debug, Clone)]
struct TierOutcome {
    accept: ConnSet,
    rest: ConnSet,
}

impl Analysis {
    /// Validates every policy and pod and builds the class model. All problems are
    /// reported at once.
    pub fn new(cluster: &Cluster, options: Options) -> Result<Analysis, Vec<NetpolError>> {
        let mut errors = Vec::new();
        let mut policies: Vec<CompiledPolicy> = Vec::with_capacity(cluster.policies.len());
        let mut seen_policies = std::collections::HashSet::new();
        for p in &cluster.policies {
            match policy::compile(p) {
                Ok(c) => {
                    if !seen_policies.insert((c.namespace.clone(), c.name.clone())) {
                        errors.push(NetpolError::InvalidPolicy {
                            namespace: c.namespace.clone(),
                            name: c.name.clone(),
                            field: "metadata.name".to_string(),
                            message: format!("Duplicate value: {:?}", c.name),
                        });
                    }
                    policies.push(c);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        // Object names are unique per namespace (the API server's storage key).
        let mut seen_pods = std::collections::HashSet::new();
        for pod in &cluster.pods {
            if !seen_pods.insert((pod.namespace.as_str(), pod.name.as_str())) {
                errors.push(NetpolError::InvalidPod {
                    namespace: pod.namespace.clone(),
                    name: pod.name.clone(),
                    field: "metadata.name".to_string(),
                    message: format!("Duplicate value: {:?}", pod.name),
                });
            }
            for np in &pod.named_ports {
                for m in policy::port_name_problems(&np.name) {
                    errors.push(NetpolError::InvalidPod {
                        namespace: pod.namespace.clone(),
                        name: pod.name.clone(),
                        field: "spec.containers[*].ports[*].name".to_string(),
                        message: format!("Invalid value: {:?}: {m}", np.name),
                    });
                }
                if np.port == 0 {
                    errors.push(NetpolError::InvalidPod {
                        namespace: pod.namespace.clone(),
                        name: pod.name.clone(),
                        field: "spec.containers[*].ports[*].containerPort".to_string(),
                        message: "Invalid value: 0: must be between 1 and 65535, inclusive".to_string(),
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        // Namespaces: supplied ones, then any referenced by pods or policies. Every one
        // carries its name label (SetDefaults_Namespace overwrites it with the name).
        let mut namespaces: Vec<NsInfo> = Vec::new();
        let mut ns_index: HashMap<String, usize> = HashMap::new();
        let mut add_ns = |name: &str, labels: Option<&BTreeMap<String, String>>| -> usize {
            if let Some(&i) = ns_index.get(name) {
                return i;
            }
            let mut labels = labels.cloned().unwrap_or_default();
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
            namespaces.push(NsInfo { name: name.to_string(), labels });
            ns_index.insert(name.to_string(), namespaces.len() - 1);
            namespaces.len() - 1
        };
        for ns in &cluster.namespaces {
            add_ns(&ns.name, Some(&ns.labels));
        }
        let pod_ns: Vec<usize> = cluster.pods.iter().map(|p| add_ns(&p.namespace, None)).collect();
        let policy_ns: Vec<usize> = policies.iter().map(|p| add_ns(&p.namespace, None)).collect();

        let mut policies_by_ns = vec![Vec::new(); namespaces.len()];
        for (i, &ns) in policy_ns.iter().enumerate() {
            policies_by_ns[ns].push(i);
        }

        // Classes.
        let mut classes: Vec<Class> = Vec::new();
        let mut class_ns: Vec<usize> = Vec::new();
        let mut class_key: HashMap<ClassKey<'_>, ClassId> = HashMap::new();
        let mut pod_class = Vec::with_capacity(cluster.pods.len());
        let mut pod_index = HashMap::with_capacity(cluster.pods.len());
        for (i, pod) in cluster.pods.iter().enumerate() {
            let mut named_ports = pod.named_ports.clone();
            named_ports.sort();
            named_ports.dedup();
            let exempt = pod.host_network && options.host_network == HostNetwork::Exempt;
            let key = (pod_ns[i], &pod.labels, named_ports.clone(), exempt);
            let id = *class_key.entry(key).or_insert_with(|| {
                let id = ClassId(classes.len() as u32);
                classes.push(Class {
                    id,
                    namespace: pod.namespace.clone(),
                    labels: pod.labels.clone(),
                    named_ports,
                    host_network: exempt,
                    members: Vec::new(),
                });
                class_ns.push(pod_ns[i]);
                id
            });
            classes[id.index()].members.push(PodId(i));
            pod_class.push(id);
            pod_index.insert((pod.namespace.clone(), pod.name.clone()), PodId(i));
        }
        drop(class_key);
        let mut classes_by_ns: Vec<Vec<ClassId>> = vec![Vec::new(); namespaces.len()];
        for c in &classes {
            if !c.host_network {
                classes_by_ns[class_ns[c.id.index()]].push(c.id);
            }
        }

        // Which policies select which class.
        let mut selected_ingress = vec![Vec::new(); classes.len()];
        let mut selected_egress = vec![Vec::new(); classes.len()];
        for c in &classes {
            if c.host_network {
                continue;
            }
            for &pi in &policies_by_ns[class_ns[c.id.index()]] {
                let p = &policies[pi];
                if p.pod_selector.matches(&c.labels) {
                    if p.ingress.is_some() {
                        selected_ingress[c.id.index()].push(pi);
                    }
                    if p.egress.is_some() {
                        selected_egress[c.id.index()].push(pi);
                    }
                }
            }
        }

        let pod_ranges = pod_ranges(&options.pod_cidrs);
        let mut builder = SideBuilder {
            namespaces: &namespaces,
            classes: &classes,
            classes_by_ns: &classes_by_ns,
            all_class_count: classes.iter().filter(|c| !c.host_network).count(),
            ns_cache: HashMap::new(),
            peer_cache: HashMap::new(),
            peer_sets: Vec::new(),
            ns_label_index: label_index(namespaces.iter().enumerate().map(|(i, n)| (i, &n.labels))),
            class_label_index: label_index(
                classes.iter().filter(|c| !c.host_network).map(|c| (c.id, &c.labels)),
            ),
            class_namespace: &class_ns,
            ports: PortsTable::default(),
            pod_ranges: &pod_ranges,
        };
        let mut ingress = Vec::with_capacity(classes.len());
        let mut egress = Vec::with_capacity(classes.len());
        for c in &classes {
            let i = c.id.index();
            ingress.push(builder.side(
                &policies,
                &policy_ns,
                &selected_ingress[i],
                Direction::Ingress,
                Some(c),
            ));
            egress.push(builder.side(&policies, &policy_ns, &selected_egress[i], Direction::Egress, None));
        }
        let cluster_layer = build_cluster_layer(&mut builder, cluster, classes.len());
        let ports = std::mem::take(&mut builder.ports.sets);
        let peer_sets = std::mem::take(&mut builder.peer_sets);
        drop(builder);

        let mut ingress_wide = Vec::new();
        let mut set_ingress_owners = vec![Vec::new(); peer_sets.len()];
        for (d, side) in ingress.iter().enumerate() {
            // An Admin-tier Accept can admit what NetworkPolicy would not.
            if side.is_wide() || cluster_layer.accepts_all[0][d] {
                ingress_wide.push(ClassId(d as u32));
            }
            let cluster_sets = cluster_layer.accept_sets[0][d].iter().copied();
            for set in side.entries.iter().map(|&(set, _)| set).chain(cluster_sets) {
                let owners = &mut set_ingress_owners[set as usize];
                if owners.last() != Some(&ClassId(d as u32)) {
                    owners.push(ClassId(d as u32));
                }
            }
        }
        let mut class_sets = vec![Vec::new(); classes.len()];
        for (set, members) in peer_sets.iter().enumerate() {
            for c in members {
                class_sets[c.index()].push(set as u32);
            }
        }

        Ok(Analysis {
            namespaces,
            pods: cluster.pods.clone(),
            pod_index,
            pod_class,
            classes,
            class_ns,
            policies,
            policies_by_ns,
            selected_ingress,
            selected_egress,
            ingress,
            egress,
            ports,
            ingress_wide,
            peer_sets,
            class_sets,
            set_ingress_owners,
            pod_ranges,
            cluster: cluster_layer,
        })
    }

    /// The cluster-wide policies, in evaluation order (tier, then ascending priority).
    pub fn cluster_policies(&self) -> &[ClusterPolicy] {
        &self.cluster.policies
    }

    /// Policies of one tier with equal priority that select a common pod in the same
    /// direction: the API leaves their order to the implementation ("the implementation
    /// can apply any of the matching policies", `spec.priority` in both versions), so a
    /// verdict that depends on it is not portable. The analysis orders them by name.
    pub fn priority_ties(&self) -> Vec<PriorityTie> {
        let mut ties: BTreeMap<(Tier, u32), std::collections::BTreeSet<String>> = BTreeMap::new();
        for per_class in &self.cluster.selected {
            for selected in per_class {
                for (i, &a) in selected.iter().enumerate() {
                    for &b in &selected[i + 1..] {
                        let (pa, pb) = (&self.cluster.policies[a], &self.cluster.policies[b]);
                        if pa.tier() == pb.tier() && pa.priority() == pb.priority() {
                            let entry = ties.entry((pa.tier(), pa.priority())).or_default();
                            entry.insert(format!("{} {}", pa.kind().as_str(), pa.name()));
                            entry.insert(format!("{} {}", pb.kind().as_str(), pb.name()));
                        }
                    }
                }
            }
        }
        ties.into_iter()
            .map(|((tier, priority), policies)| PriorityTie {
                tier,
                priority,
                policies: policies.into_iter().collect(),
            })
            .collect()
    }

    /// The id of a pod by namespace and name.
    pub fn pod_id(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.pod_index.get(&(namespace.to_string(), name.to_string())).copied()
    }

    /// The pod behind an id.
    pub fn pod(&self, pod: PodId) -> Option<&Pod> {
        self.pods.get(pod.0)
    }

    /// Every pod id, in input order.
    pub fn pod_ids(&self) -> impl Iterator<Item = PodId> + '_ {
        (0..self.pods.len()).map(PodId)
    }

    /// All classes; a class's id is its index.
    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    pub fn class(&self, id: ClassId) -> Option<&Class> {
        self.classes.get(id.index())
    }

    pub fn class_of(&self, pod: PodId) -> Option<ClassId> {
        self.pod_class.get(pod.0).copied()
    }

    /// Namespace names known to the analysis (supplied or referenced).
    pub fn namespace_names(&self) -> impl Iterator<Item = &str> {
        self.namespaces.iter().map(|n| n.name.as_str())
    }

    /// `(ingress_isolated, egress_isolated)`; a pod is isolated in a direction iff some
    /// policy of its namespace selects it with that direction among its effective
    /// policyTypes (`NetworkPolicySpec.policyTypes` in types.go). `None` for unknown ids.
    pub fn isolation(&self, pod: PodId) -> Option<(bool, bool)> {
        let c = self.class_of(pod)?.index();
        Some((self.ingress[c].isolated, self.egress[c].isolated))
    }

    /// Pods with `hostNetwork: true`, however they are treated (see [`Options::host_network`]).
    pub fn host_network_pods(&self) -> Vec<PodId> {
        self.pod_ids().filter(|p| self.pods[p.0].host_network).collect()
    }

    /// Everything `from` may open to `to`: the source's egress ∩ the destination's
    /// ingress (NetworkPolicySpec in `k8s.io/api/networking/v1/types.go`: both sides must
    /// allow). A pod to itself is always allowed; between two external endpoints no
    /// policy applies (`All`). Unknown pod ids get `None` (empty).
    pub fn allowed(&self, from: Endpoint, to: Endpoint) -> ConnSet {
        match (from, to) {
            (Endpoint::Pod(a), Endpoint::Pod(b)) => {
                if a == b && a.0 < self.pods.len() {
                    return ConnSet::all();
                }
                match (self.class_of(a), self.class_of(b)) {
                    (Some(c), Some(d)) => self.class_connection(c, d),
                    _ => ConnSet::empty(),
                }
            }
            (Endpoint::Pod(a), Endpoint::External(net)) => {
                self.class_of(a).map(|c| self.egress_to_ip(c, &net)).unwrap_or_default()
            }
            (Endpoint::External(net), Endpoint::Pod(b)) => {
                self.class_of(b).map(|d| self.ingress_from_ip(d, &net)).unwrap_or_default()
            }
            (Endpoint::External(_), Endpoint::External(_)) => ConnSet::all(),
        }
    }

    /// Is this one (protocol, port) allowed?
    pub fn allows(&self, from: Endpoint, to: Endpoint, protocol: Protocol, port: u16) -> bool {
        self.allowed(from, to).contains(protocol, port)
    }

    /// What class `c` may open to class `d` (distinct pods).
    pub fn class_connection(&self, c: ClassId, d: ClassId) -> ConnSet {
        if c.index() >= self.classes.len() || d.index() >= self.classes.len() {
            return ConnSet::empty();
        }
        if !self.ingress[d.index()].isolated
            && !self.egress[c.index()].isolated
            && self.cluster.selected[0][d.index()].is_empty()
            && self.cluster.selected[1][c.index()].is_empty()
        {
            return ConnSet::all();
        }
        let ingress = self.ingress_ports(d, c);
        if ingress.is_empty() {
            return ingress;
        }
        ingress.intersection(&self.egress_ports(c, d))
    }

    /// What `c`'s egress admits towards `d`, all tiers considered.
    pub(crate) fn egress_ports(&self, c: ClassId, d: ClassId) -> ConnSet {
        let dest_ports = &self.classes[d.index()].named_ports;
        self.tiered(
            c,
            Direction::Egress,
            PeerRef::Class(d),
            dest_ports,
            self.egress[c.index()].isolated,
            || self.np_egress_ports(c, d),
        )
    }

    /// What `d`'s ingress admits from `c`, all tiers considered.
    fn ingress_ports(&self, d: ClassId, c: ClassId) -> ConnSet {
        let own_ports = &self.classes[d.index()].named_ports;
        self.tiered(
            d,
            Direction::Ingress,
            PeerRef::Class(c),
            own_ports,
            self.ingress[d.index()].isolated,
            || self.np_ingress_ports(d, c),
        )
    }

    /// What NetworkPolicies added by the owners of the source or the destination
    /// namespace could open from `c` to `d` (distinct pods), given the cluster-wide
    /// policies in force: a NetworkPolicy decides everything the Admin tier passes or
    /// leaves unmatched, and overrides the Baseline tier (ClusterNetworkPolicySpec.Tier),
    /// so one namespace's owner can open its own side up to what the Admin tier does not
    /// deny, while the other side stays as it is. Within one namespace both sides are the
    /// owner's.
    pub fn openable_by_namespace_owners(&self, c: ClassId, d: ClassId) -> ConnSet {
        if c.index() >= self.classes.len() || d.index() >= self.classes.len() {
            return ConnSet::empty();
        }
        let (dest, src) = (&self.classes[d.index()], &self.classes[c.index()]);
        let egress_max = if src.host_network {
            ConnSet::all()
        } else {
            self.admin_ceiling(c, Direction::Egress, PeerRef::Class(d), &dest.named_ports)
        };
        let ingress_max = if dest.host_network {
            ConnSet::all()
        } else {
            self.admin_ceiling(d, Direction::Ingress, PeerRef::Class(c), &dest.named_ports)
        };
        let (egress_now, ingress_now) = (self.egress_ports(c, d), self.ingress_ports(d, c));
        let mut out = egress_max.intersection(&ingress_now);
        out.add(&egress_now.intersection(&ingress_max));
        if self.class_ns[c.index()] == self.class_ns[d.index()] {
            out.add(&egress_max.intersection(&ingress_max));
        }
        out
    }

    /// [`Analysis::openable_by_namespace_owners`] between a pod and an external address:
    /// the address has no policies, so the pod's own namespace decides alone.
    pub fn openable_with_external(&self, pod: PodId, net: &IpNet, outbound: bool) -> ConnSet {
        let Some(c) = self.class_of(pod) else { return ConnSet::empty() };
        if self.classes[c.index()].host_network {
            return ConnSet::all();
        }
        let direction = if outbound { Direction::Egress } else { Direction::Ingress };
        let named: &[NamedPort] = if outbound { &[] } else { &self.classes[c.index()].named_ports };
        self.admin_ceiling(c, direction, PeerRef::Ip(*net), named)
    }

    /// Everything the Admin tier does not deny on one side: the most any NetworkPolicy
    /// could allow there.
    fn admin_ceiling(
        &self,
        subject: ClassId,
        direction: Direction,
        peer: PeerRef<'_>,
        named_ports: &[NamedPort],
    ) -> ConnSet {
        let selected = &self.cluster.selected[dir_index(direction)][subject.index()];
        if selected.is_empty() {
            return ConnSet::all();
        }
        let admin = self.walk_tier(selected, Tier::Admin, direction, peer, named_ports);
        admin.accept.union(&admin.rest)
    }

    /// One side through the tiers (ClusterNetworkPolicySpec.Tier in v1alpha2
    /// clusternetworkpolicy_types.go): the Admin tier's Accept wins and its Deny loses;
    /// what it passes or leaves unmatched goes to NetworkPolicy, which decides for pods it
    /// isolates; otherwise to the Baseline tier, and what that leaves is allowed.
    fn tiered(
        &self,
        subject: ClassId,
        direction: Direction,
        peer: PeerRef<'_>,
        named_ports: &[NamedPort],
        np_isolated: bool,
        network_policy: impl FnOnce() -> ConnSet,
    ) -> ConnSet {
        let selected = &self.cluster.selected[dir_index(direction)][subject.index()];
        if selected.is_empty() {
            return network_policy();
        }
        let admin = self.walk_tier(selected, Tier::Admin, direction, peer, named_ports);
        let mut out = admin.accept;
        if admin.rest.is_empty() {
            return out;
        }
        let next = if np_isolated {
            network_policy()
        } else {
            let baseline = self.walk_tier(selected, Tier::Baseline, direction, peer, named_ports);
            baseline.accept.union(&baseline.rest)
        };
        out.add(&admin.rest.intersection(&next));
        out
    }

    /// The first matching rule decides each port: policies by ascending priority, rules
    /// in order (`spec.priority` and `spec.ingress`/`spec.egress` in the API types).
    fn walk_tier(
        &self,
        selected: &[usize],
        tier: Tier,
        direction: Direction,
        peer: PeerRef<'_>,
        named_ports: &[NamedPort],
    ) -> TierOutcome {
        let mut remaining = ConnSet::all();
        let mut accept = ConnSet::empty();
        let mut passed = ConnSet::empty();
        for &pi in selected {
            let policy = &self.cluster.policies[pi];
            if policy.tier() != tier {
                continue;
            }
            let matches = &self.cluster.matches[pi][dir_index(direction)];
            for (rule, m) in policy.rules(direction).iter().zip(matches) {
                if !self.cluster_rule_matches(rule, m, peer) {
                    continue;
                }
                let ports = rule.ports.resolve(named_ports).intersection(&remaining);
                if ports.is_empty() {
                    continue;
                }
                remaining = remaining.difference(&ports);
                match rule.action {
                    Action::Accept => accept.add(&ports),
                    Action::Pass => passed.add(&ports),
                    Action::Deny => {}
                }
                if remaining.is_empty() {
                    return TierOutcome { accept, rest: passed };
                }
            }
        }
        passed.add(&remaining);
        TierOutcome { accept, rest: passed }
    }

    /// Does a cluster-policy rule's peer list match this endpoint? Pods and namespaces
    /// peers never match hostNetwork pods ("host-networked pods are not included in this
    /// type of peer"); `networks` and `nodes` match the addresses they cover.
    fn cluster_rule_matches(&self, rule: &ClusterRule, m: &ClusterRuleMatch, peer: PeerRef<'_>) -> bool {
        match peer {
            PeerRef::Class(d) => {
                !self.classes[d.index()].host_network
                    && (m.all_pods || sorted_intersect(&m.sets, &self.class_sets[d.index()]))
            }
            PeerRef::Ip(net) => m.addresses.contains_net(&net),
            PeerRef::Described { ns_labels, labels } => rule.peers.iter().any(|p| match p {
                ClusterPeer::Pods(p) => {
                    p.namespaces.matches(ns_labels) && p.pods.as_ref().is_none_or(|s| s.matches(labels))
                }
                ClusterPeer::Networks(addresses) => block_covers_pods(addresses, &self.pod_ranges),
                ClusterPeer::Nodes(_) => false,
            }),
        }
    }

    fn np_egress_ports(&self, c: ClassId, d: ClassId) -> ConnSet {
        let side = &self.egress[c.index()];
        if !side.isolated {
            return ConnSet::all();
        }
        let dest = &self.classes[d.index()];
        let mut out = side.any_peer.resolve(&dest.named_ports);
        if !dest.host_network {
            out.add(&side.all_pods.resolve(&dest.named_ports));
            for ports in self.matching_entries(&side.entries, d) {
                out.add(&ports.resolve(&dest.named_ports));
            }
        }
        out
    }

    fn np_ingress_ports(&self, d: ClassId, c: ClassId) -> ConnSet {
        let side = &self.ingress[d.index()];
        if !side.isolated {
            return ConnSet::all();
        }
        let mut out = side.any_peer.numeric.clone();
        if !self.classes[c.index()].host_network {
            out.add(&side.all_pods.numeric);
            for ports in self.matching_entries(&side.entries, c) {
                out.add(&ports.numeric);
            }
        }
        out
    }

    /// The ports of the side entries whose peer set contains `class`: a merge walk of
    /// two sorted lists of set ids.
    fn matching_entries<'s>(
        &'s self,
        entries: &'s [(u32, u32)],
        class: ClassId,
    ) -> impl Iterator<Item = &'s RulePorts> {
        let sets = &self.class_sets[class.index()];
        let (mut i, mut j) = (0, 0);
        std::iter::from_fn(move || {
            while i < entries.len() && j < sets.len() {
                match entries[i].0.cmp(&sets[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        let ports = &self.ports[entries[i].1 as usize];
                        i += 1;
                        j += 1;
                        return Some(ports);
                    }
                }
            }
            None
        })
    }

    fn egress_to_ip(&self, c: ClassId, net: &IpNet) -> ConnSet {
        let isolated = self.egress[c.index()].isolated;
        self.tiered(c, Direction::Egress, PeerRef::Ip(*net), &[], isolated, || self.np_egress_to_ip(c, net))
    }

    fn ingress_from_ip(&self, d: ClassId, net: &IpNet) -> ConnSet {
        let isolated = self.ingress[d.index()].isolated;
        let own_ports = &self.classes[d.index()].named_ports;
        self.tiered(d, Direction::Ingress, PeerRef::Ip(*net), own_ports, isolated, || {
            self.np_ingress_from_ip(d, net)
        })
    }

    fn np_egress_to_ip(&self, c: ClassId, net: &IpNet) -> ConnSet {
        let side = &self.egress[c.index()];
        if !side.isolated {
            return ConnSet::all();
        }
        // Named ports resolve on the destination pod; an external endpoint has none.
        let mut out = side.any_peer.numeric.clone();
        for (set, ports) in &side.ip_blocks {
            if set.contains_net(net) {
                out.add(&ports.numeric);
            }
        }
        out
    }

    fn np_ingress_from_ip(&self, d: ClassId, net: &IpNet) -> ConnSet {
        let side = &self.ingress[d.index()];
        if !side.isolated {
            return ConnSet::all();
        }
        let mut out = side.any_peer.numeric.clone();
        for (set, ports) in &side.ip_blocks {
            if set.contains_net(net) {
                out.add(&ports.numeric);
            }
        }
        out
    }

    /// Every ordered pair of classes with a non-empty connection set (between distinct
    /// pods of those classes), computed on demand.
    pub fn connections(&self) -> impl Iterator<Item = (ClassId, ClassId, ConnSet)> + '_ {
        (0..self.classes.len()).flat_map(move |c| {
            let c = ClassId(c as u32);
            self.candidates(c).into_iter().filter_map(move |d| {
                let conn = self.class_connection(c, d);
                (!conn.is_empty()).then_some((c, d, conn))
            })
        })
    }

    /// Destinations that may admit something from `c`: those `c`'s egress names when it
    /// is narrow, else every destination whose ingress is wide or names `c`.
    fn candidates(&self, c: ClassId) -> Vec<ClassId> {
        let side = &self.egress[c.index()];
        let mut out: Vec<ClassId> = if side.is_wide() || self.cluster.accepts_all[1][c.index()] {
            let mut out = self.ingress_wide.clone();
            for &set in &self.class_sets[c.index()] {
                out.extend_from_slice(&self.set_ingress_owners[set as usize]);
            }
            out
        } else {
            // Narrow: what NetworkPolicy names, plus what an Admin-tier Accept names.
            let cluster_sets = self.cluster.accept_sets[1][c.index()].iter().copied();
            side.entries
                .iter()
                .map(|&(set, _)| set)
                .chain(cluster_sets)
                .flat_map(|set| self.peer_sets[set as usize].iter().copied())
                .collect()
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Namespace × namespace: the union of the connections between their classes. Rows
    /// are accumulated densely per source namespace, so no per-pair hashing is needed.
    pub fn namespace_matrix(&self) -> BTreeMap<(String, String), ConnSet> {
        let mut classes_by_ns: Vec<Vec<ClassId>> = vec![Vec::new(); self.namespaces.len()];
        for c in &self.classes {
            classes_by_ns[self.class_ns[c.id.index()]].push(c.id);
        }
        let mut out = BTreeMap::new();
        let mut row = vec![ConnSet::empty(); self.namespaces.len()];
        for (a, sources) in classes_by_ns.iter().enumerate() {
            if sources.is_empty() {
                continue;
            }
            for &c in sources {
                for d in self.candidates(c) {
                    let cell = &mut row[self.class_ns[d.index()]];
                    if !cell.is_all() {
                        cell.add(&self.class_connection(c, d));
                    }
                }
            }
            for (b, cell) in row.iter_mut().enumerate() {
                if !cell.is_empty() {
                    out.insert(
                        (self.namespaces[a].name.clone(), self.namespaces[b].name.clone()),
                        std::mem::take(cell),
                    );
                }
            }
        }
        out
    }

    /// Which rules allow (or which policies deny) one connection, side by side.
    pub fn explain(
        &self,
        from: Endpoint,
        to: Endpoint,
        protocol: Protocol,
        port: u16,
    ) -> Result<Explanation, NetpolError> {
        let describe = |e: Endpoint| -> Result<String, NetpolError> {
            match e {
                Endpoint::Pod(p) => {
                    let pod = self.pods.get(p.0).ok_or(NetpolError::UnknownPod(p.0))?;
                    Ok(format!("{}/{}", pod.namespace, pod.name))
                }
                Endpoint::External(net) => Ok(net.to_string()),
            }
        };
        let (from_text, to_text) = (describe(from)?, describe(to)?);
        let (egress, ingress) = if from == to && matches!(from, Endpoint::Pod(_)) {
            (Verdict::SamePod, Verdict::SamePod)
        } else {
            let dest_ports: &[NamedPort] = match to {
                Endpoint::Pod(p) => &self.classes[self.pod_class[p.0].index()].named_ports,
                Endpoint::External(_) => &[],
            };
            (
                self.verdict(from, to, Direction::Egress, dest_ports, protocol, port),
                self.verdict(to, from, Direction::Ingress, dest_ports, protocol, port),
            )
        };
        Ok(Explanation {
            from: from_text,
            to: to_text,
            protocol,
            port,
            allowed: egress.allows() && ingress.allows(),
            egress,
            ingress,
        })
    }

    /// The verdict of `subject`'s `direction` side about `peer`, by direct evaluation of
    /// the policies that select `subject` (NetworkPolicySpec.podSelector in types.go:
    /// selected pods allow the union of the rules of every selecting policy).
    fn verdict(
        &self,
        subject: Endpoint,
        peer: Endpoint,
        direction: Direction,
        dest_ports: &[NamedPort],
        protocol: Protocol,
        port: u16,
    ) -> Verdict {
        let Endpoint::Pod(p) = subject else {
            return Verdict::External;
        };
        let c = self.pod_class[p.0].index();
        if self.classes[c].host_network {
            return Verdict::HostNetwork;
        }
        let peer_ref = match peer {
            Endpoint::Pod(id) => PeerRef::Class(self.pod_class[id.0]),
            Endpoint::External(net) => PeerRef::Ip(net),
        };
        let selected = &self.cluster.selected[dir_index(direction)][c];
        let first =
            |tier| self.first_cluster_rule(selected, tier, direction, peer_ref, dest_ports, protocol, port);
        // The tiers in order (ClusterNetworkPolicySpec.Tier): Admin, NetworkPolicy, Baseline.
        let admin = first(Tier::Admin);
        let passed_by = match admin {
            Some((rule, Action::Accept)) => return Verdict::Cluster { rule, accepted: true },
            Some((rule, Action::Deny)) => return Verdict::Cluster { rule, accepted: false },
            Some((rule, Action::Pass)) => Some(rule),
            None => None,
        };
        let mut decided = self.np_verdict(c, peer, direction, dest_ports, protocol, port);
        if decided == Verdict::NotIsolated {
            decided = match first(Tier::Baseline) {
                Some((rule, Action::Accept)) => Verdict::Cluster { rule, accepted: true },
                Some((rule, Action::Deny)) => Verdict::Cluster { rule, accepted: false },
                Some((rule, Action::Pass)) => {
                    Verdict::Passed { by: rule, then: Box::new(Verdict::NotIsolated) }
                }
                None => Verdict::NotIsolated,
            };
        }
        match passed_by {
            Some(by) => Verdict::Passed { by, then: Box::new(decided) },
            None => decided,
        }
    }

    /// The first rule of a tier that matches the connection, with its action
    /// (policies by ascending priority, rules in order).
    #[allow(clippy::too_many_arguments)]
    fn first_cluster_rule(
        &self,
        selected: &[usize],
        tier: Tier,
        direction: Direction,
        peer: PeerRef<'_>,
        named_ports: &[NamedPort],
        protocol: Protocol,
        port: u16,
    ) -> Option<(ClusterRuleRef, Action)> {
        for &pi in selected {
            let policy = &self.cluster.policies[pi];
            if policy.tier() != tier {
                continue;
            }
            let matches = &self.cluster.matches[pi][dir_index(direction)];
            for (index, (rule, m)) in policy.rules(direction).iter().zip(matches).enumerate() {
                if rule.ports.resolve(named_ports).contains(protocol, port)
                    && self.cluster_rule_matches(rule, m, peer)
                {
                    let rule_ref = ClusterRuleRef {
                        kind: policy.kind(),
                        name: policy.name().to_string(),
                        tier,
                        priority: policy.priority(),
                        direction,
                        index,
                        rule_name: rule.name.clone(),
                    };
                    return Some((rule_ref, rule.action));
                }
            }
        }
        None
    }

    /// The NetworkPolicy tier's verdict for class `c`.
    fn np_verdict(
        &self,
        c: usize,
        peer: Endpoint,
        direction: Direction,
        dest_ports: &[NamedPort],
        protocol: Protocol,
        port: u16,
    ) -> Verdict {
        let selected = match direction {
            Direction::Ingress => &self.selected_ingress[c],
            Direction::Egress => &self.selected_egress[c],
        };
        if selected.is_empty() {
            return Verdict::NotIsolated;
        }
        let mut allowing = Vec::new();
        for &pi in selected {
            let policy = &self.policies[pi];
            for (index, rule) in policy.rules(direction).unwrap_or_default().iter().enumerate() {
                let port_ok = rule.ports.resolve(dest_ports).contains(protocol, port);
                if port_ok && self.rule_matches(policy, rule, peer) {
                    allowing.push(RuleRef {
                        policy: PolicyRef { namespace: policy.namespace.clone(), name: policy.name.clone() },
                        direction,
                        index,
                    });
                }
            }
        }
        if allowing.is_empty() {
            Verdict::DeniedBy(
                selected
                    .iter()
                    .map(|&pi| PolicyRef {
                        namespace: self.policies[pi].namespace.clone(),
                        name: self.policies[pi].name.clone(),
                    })
                    .collect(),
            )
        } else {
            Verdict::AllowedBy(allowing)
        }
    }

    /// Does a rule of `policy` match `peer`? Direct evaluation, used by `explain`
    /// (NetworkPolicyIngressRule.from / EgressRule.to in types.go: empty matches all,
    /// otherwise any peer).
    fn rule_matches(&self, policy: &CompiledPolicy, rule: &Rule, peer: Endpoint) -> bool {
        let Some(peers) = &rule.peers else {
            return true;
        };
        peers.iter().any(|p| match (p, peer) {
            (Peer::IpBlock { addresses, .. }, Endpoint::External(net)) => addresses.contains_net(&net),
            (Peer::IpBlock { addresses, .. }, Endpoint::Pod(id)) => {
                !self.classes[self.pod_class[id.0].index()].host_network
                    && block_covers_pods(addresses, &self.pod_ranges)
            }
            (Peer::Pods { .. }, Endpoint::External(_)) => false,
            (Peer::Pods { namespaces, pods }, Endpoint::Pod(id)) => {
                self.pods_peer_matches_class(policy, namespaces, pods, self.pod_class[id.0])
            }
        })
    }

    // ---- accessors used by the findings helpers ----

    /// Every compiled policy, in input order.
    pub(crate) fn compiled(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// Every compiled policy with its reference, in input order.
    pub(crate) fn compiled_policies(&self) -> impl Iterator<Item = (PolicyRef, &CompiledPolicy)> {
        self.policies.iter().map(|p| (PolicyRef { namespace: p.namespace.clone(), name: p.name.clone() }, p))
    }

    /// The labels of a pod's namespace (every pod's namespace is known to the analysis).
    pub(crate) fn pod_namespace(&self, pod: PodId) -> Option<(&str, &BTreeMap<String, String>)> {
        let c = self.class_of(pod)?;
        let ns = &self.namespaces[self.class_ns[c.index()]];
        Some((ns.name.as_str(), &ns.labels))
    }

    /// The classes a policy selects (for either direction), through the per-class index.
    pub(crate) fn classes_selected_by(&self) -> Vec<Vec<ClassId>> {
        let mut out = vec![Vec::new(); self.policies.len()];
        for (c, (ingress, egress)) in self.selected_ingress.iter().zip(&self.selected_egress).enumerate() {
            let mut both: Vec<usize> = ingress.iter().chain(egress).copied().collect();
            both.sort_unstable();
            both.dedup();
            for pi in both {
                out[pi].push(ClassId(c as u32));
            }
        }
        out
    }

    /// Does a pod/namespace peer of `policy` match class `c`? (`NetworkPolicyPeer` in
    /// types.go: no namespaceSelector means the policy's own namespace.)
    pub(crate) fn pods_peer_matches_class(
        &self,
        policy: &CompiledPolicy,
        namespaces: &Option<Selector>,
        pods: &Option<Selector>,
        c: ClassId,
    ) -> bool {
        let class = &self.classes[c.index()];
        if class.host_network {
            return false;
        }
        let ns = &self.namespaces[self.class_ns[c.index()]];
        pods_peer_matches(
            namespaces.as_ref(),
            pods.as_ref(),
            &policy.namespace,
            &ns.name,
            &ns.labels,
            &class.labels,
        )
    }

    /// Does an ipBlock match pods under the analysis' options (see `Options::pod_cidrs`)?
    pub(crate) fn block_matches_pods(&self, addresses: &IpSet) -> bool {
        block_covers_pods(addresses, &self.pod_ranges)
    }

    /// Every namespace with its labels.
    pub(crate) fn namespaces_with_labels(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, String>)> {
        self.namespaces.iter().map(|n| (n.name.as_str(), &n.labels))
    }

    pub(crate) fn ns_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces.iter().find(|n| n.name == name).map(|n| &n.labels)
    }

    pub(crate) fn namespace_policies(&self, ns_name: &str) -> Vec<&CompiledPolicy> {
        self.namespaces
            .iter()
            .position(|n| n.name == ns_name)
            .map(|i| self.policies_by_ns[i].iter().map(|&pi| &self.policies[pi]).collect())
            .unwrap_or_default()
    }

    pub(crate) fn class_namespace_index(&self, c: ClassId) -> usize {
        self.class_ns[c.index()]
    }

    pub(crate) fn egress_isolated(&self, c: ClassId) -> bool {
        self.egress[c.index()].isolated
    }

    /// Can anything deny part of `c`'s egress: a NetworkPolicy isolates it, or a cluster
    /// policy with egress rules selects it?
    pub(crate) fn egress_restricted(&self, c: ClassId) -> bool {
        self.egress[c.index()].isolated || !self.cluster.selected[1][c.index()].is_empty()
    }

    /// What `c` may open towards some address of `targets`, all tiers considered: the
    /// union over the addresses of `targets` of [`Analysis::allowed`] to that address.
    pub(crate) fn egress_towards(&self, c: ClassId, targets: &IpSet) -> ConnSet {
        let side = &self.egress[c.index()];
        let selected = &self.cluster.selected[1][c.index()];
        if selected.is_empty() {
            // NetworkPolicy alone is a union of allows: every rule whose block overlaps
            // the targets allows its ports towards some target.
            if !side.isolated {
                return ConnSet::all();
            }
            let mut out = side.any_peer.numeric.clone();
            for (set, ports) in &side.ip_blocks {
                if !set.intersection(targets).is_empty() {
                    out.add(&ports.numeric);
                }
            }
            return out;
        }
        // Denies and passes do not add up that way: evaluate one address of each region on
        // which every block and `networks`/`nodes` peer involved is constant.
        let mut cuts: Vec<&IpSet> = side.ip_blocks.iter().map(|(set, _)| set).collect();
        for &pi in selected {
            cuts.extend(self.cluster.matches[pi][dir_index(Direction::Egress)].iter().map(|m| &m.addresses));
        }
        let mut out = ConnSet::empty();
        for address in targets.representatives(&cuts) {
            out.add(&self.egress_to_ip(c, &address));
            if out.is_all() {
                break;
            }
        }
        out
    }

    /// Egress of class `c` towards a pod described by its namespace and labels, which
    /// need not exist in the cluster (direct rule evaluation), all tiers considered.
    pub(crate) fn egress_to_described(
        &self,
        c: ClassId,
        ns_name: &str,
        ns_labels: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
        named_ports: &[NamedPort],
    ) -> ConnSet {
        let ci = c.index();
        let peer = PeerRef::Described { ns_labels, labels };
        let isolated = self.egress[ci].isolated;
        self.tiered(c, Direction::Egress, peer, named_ports, isolated, || {
            if !isolated {
                return ConnSet::all();
            }
            let mut out = ConnSet::empty();
            for &pi in &self.selected_egress[ci] {
                let policy = &self.policies[pi];
                for rule in policy.egress.as_deref().unwrap_or_default() {
                    let matches = match &rule.peers {
                        None => true,
                        Some(peers) => peers.iter().any(|p| match p {
                            Peer::IpBlock { addresses, .. } => block_covers_pods(addresses, &self.pod_ranges),
                            Peer::Pods { namespaces, pods } => pods_peer_matches(
                                namespaces.as_ref(),
                                pods.as_ref(),
                                &policy.namespace,
                                ns_name,
                                ns_labels,
                                labels,
                            ),
                        }),
                    };
                    if matches {
                        out.add(&rule.ports.resolve(named_ports));
                    }
                }
            }
            out
        })
    }
}

/// The namespace half of a pod/namespace peer: a `namespaceSelector` selects by namespace
/// labels, and without one the peer is the policy's own namespace
/// (`k8s.io/api/networking/v1/types.go` NetworkPolicyPeer: "Otherwise it selects the pods
/// matching podSelector in the policy's own namespace"). The one place this rule lives.
pub(crate) fn peer_selects_namespace(
    namespaces: Option<&Selector>,
    policy_namespace: &str,
    ns_name: &str,
    ns_labels: &BTreeMap<String, String>,
) -> bool {
    match namespaces {
        Some(selector) => selector.matches(ns_labels),
        None => ns_name == policy_namespace,
    }
}

/// A whole pod/namespace peer against a pod described by its namespace and labels: the
/// namespace half ([`peer_selects_namespace`]) and, when present, the `podSelector`
/// (absent: every pod of the selected namespaces; NetworkPolicyPeer in types.go).
pub(crate) fn pods_peer_matches(
    namespaces: Option<&Selector>,
    pods: Option<&Selector>,
    policy_namespace: &str,
    ns_name: &str,
    ns_labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> bool {
    peer_selects_namespace(namespaces, policy_namespace, ns_name, ns_labels)
        && pods.is_none_or(|selector| selector.matches(pod_labels))
}

/// Do two sorted id lists share an element?
fn sorted_intersect(a: &[u32], b: &[u32]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Orders the cluster policies for evaluation, resolves what each rule's peers match (into
/// the peer sets NetworkPolicy peers use) and which classes each subject selects.
fn build_cluster_layer(builder: &mut SideBuilder<'_>, cluster: &Cluster, class_count: usize) -> ClusterLayer {
    let mut policies = cluster.cluster_policies.clone();
    // Lower priority values first within a tier; equal priorities are the API's tie
    // ("the implementation can apply any of the matching policies"): we go by name, and
    // `Analysis::priority_ties` reports them.
    policies.sort_by(|a, b| {
        (a.tier(), a.priority(), a.name(), a.kind()).cmp(&(b.tier(), b.priority(), b.name(), b.kind()))
    });
    let mut layer = ClusterLayer {
        selected: [vec![Vec::new(); class_count], vec![Vec::new(); class_count]],
        accepts_all: [vec![false; class_count], vec![false; class_count]],
        accept_sets: [vec![Vec::new(); class_count], vec![Vec::new(); class_count]],
        ..ClusterLayer::default()
    };
    let node_addresses = |selector: &Selector| -> IpSet {
        let mut set = IpSet::empty();
        for node in cluster.nodes.iter().filter(|n| selector.matches(&n.labels)) {
            for ip in &node.addresses {
                set = set.union(&IpSet::from_net(&IpNet::from(*ip)));
            }
        }
        set
    };
    for (pi, policy) in policies.iter().enumerate() {
        let mut per_direction: [Vec<ClusterRuleMatch>; 2] = [Vec::new(), Vec::new()];
        for direction in [Direction::Ingress, Direction::Egress] {
            for rule in policy.rules(direction) {
                let mut m = ClusterRuleMatch::default();
                for peer in &rule.peers {
                    match peer {
                        ClusterPeer::Pods(p) => {
                            match builder.peer_match(&Some(p.namespaces.clone()), &p.pods, 0) {
                                PeerMatch::AllPods => m.all_pods = true,
                                PeerMatch::Set(None) => {}
                                PeerMatch::Set(Some(set)) => m.sets.push(set),
                            }
                        }
                        ClusterPeer::Networks(addresses) => {
                            m.all_pods |= block_covers_pods(addresses, builder.pod_ranges);
                            m.addresses = m.addresses.union(addresses);
                        }
                        ClusterPeer::Nodes(selector) => {
                            m.addresses = m.addresses.union(&node_addresses(selector))
                        }
                    }
                }
                m.sets.sort_unstable();
                m.sets.dedup();
                per_direction[dir_index(direction)].push(m);
            }
        }
        // The subject: the same selection as a peer (ClusterNetworkPolicySubject).
        let subject = &policy.subject;
        let subject_classes: Vec<ClassId> =
            match builder.peer_match(&Some(subject.namespaces.clone()), &subject.pods, 0) {
                PeerMatch::AllPods => (0..class_count as u32)
                    .map(ClassId)
                    .filter(|c| !builder.classes[c.index()].host_network)
                    .collect(),
                PeerMatch::Set(None) => Vec::new(),
                PeerMatch::Set(Some(set)) => builder.peer_sets[set as usize].clone(),
            };
        for direction in [Direction::Ingress, Direction::Egress] {
            let di = dir_index(direction);
            if policy.rules(direction).is_empty() {
                // "CNPs with no ingress (egress) rules do not affect ingress (egress) traffic."
                continue;
            }
            for &c in &subject_classes {
                layer.selected[di][c.index()].push(pi);
                if policy.tier() == Tier::Admin {
                    for (rule, m) in policy.rules(direction).iter().zip(&per_direction[di]) {
                        if rule.action == Action::Accept {
                            layer.accepts_all[di][c.index()] |= m.all_pods;
                            layer.accept_sets[di][c.index()].extend_from_slice(&m.sets);
                        }
                    }
                }
            }
        }
        layer.matches.push(per_direction);
    }
    for list in layer.accept_sets.iter_mut().flatten() {
        list.sort_unstable();
        list.dedup();
    }
    layer.policies = policies;
    layer
}

/// The pod CIDRs as one address set per family present.
fn pod_ranges(cidrs: &[IpNet]) -> Vec<IpSet> {
    let v4 = cidrs
        .iter()
        .filter(|n| matches!(n, IpNet::V4(_)))
        .fold(IpSet::empty(), |a, n| a.union(&IpSet::from_net(n)));
    let v6 = cidrs
        .iter()
        .filter(|n| matches!(n, IpNet::V6(_)))
        .fold(IpSet::empty(), |a, n| a.union(&IpSet::from_net(n)));
    [v4, v6].into_iter().filter(|s| !s.is_empty()).collect()
}

/// Does an ipBlock match pods? Only when pod CIDRs are known and the block covers all of
/// one family's pod range (see `Options::pod_cidrs`).
fn block_covers_pods(block: &IpSet, pod_ranges: &[IpSet]) -> bool {
    pod_ranges.iter().any(|r| block.contains_set(r))
}

/// `(label key, value)` → the items carrying it, in item order.
fn label_index<'a, T: Copy>(
    items: impl Iterator<Item = (T, &'a BTreeMap<String, String>)>,
) -> HashMap<(&'a str, &'a str), Vec<T>> {
    let mut index: HashMap<(&str, &str), Vec<T>> = HashMap::new();
    for (item, labels) in items {
        for (k, v) in labels {
            index.entry((k.as_str(), v.as_str())).or_default().push(item);
        }
    }
    index
}

/// Builds sides, caching selector evaluations across policies.
struct SideBuilder<'a> {
    namespaces: &'a [NsInfo],
    classes: &'a [Class],
    classes_by_ns: &'a [Vec<ClassId>],
    all_class_count: usize,
    ns_cache: HashMap<Selector, Vec<usize>>,
    peer_cache: HashMap<(Option<Selector>, Option<Selector>, usize), PeerMatch>,
    peer_sets: Vec<Vec<ClassId>>,
    ns_label_index: HashMap<(&'a str, &'a str), Vec<usize>>,
    class_label_index: HashMap<(&'a str, &'a str), Vec<ClassId>>,
    class_namespace: &'a [usize],
    ports: PortsTable,
    pod_ranges: &'a [IpSet],
}

impl SideBuilder<'_> {
    fn side(
        &mut self,
        policies: &[CompiledPolicy],
        policy_ns: &[usize],
        selected: &[usize],
        direction: Direction,
        ingress_of: Option<&Class>,
    ) -> Side {
        if selected.is_empty() {
            return Side::open();
        }
        let mut side = Side { isolated: true, ..Side::default() };
        let mut entries: Vec<(u32, u32)> = Vec::new();
        for &pi in selected {
            let policy = &policies[pi];
            for rule in policy.rules(direction).unwrap_or_default() {
                // Ingress ports resolve on the class itself, once.
                let ports = match ingress_of {
                    Some(class) => {
                        RulePorts { numeric: rule.ports.resolve(&class.named_ports), named: Vec::new() }
                    }
                    None => rule.ports.clone(),
                };
                if ports.is_empty() {
                    continue;
                }
                let Some(peers) = &rule.peers else {
                    side.any_peer.merge(&ports);
                    continue;
                };
                let mut ports_id = None;
                for peer in peers {
                    match peer {
                        Peer::IpBlock { addresses, .. } => {
                            if block_covers_pods(addresses, self.pod_ranges) {
                                side.all_pods.merge(&ports);
                            }
                            side.ip_blocks.push((addresses.clone(), ports.clone()));
                        }
                        Peer::Pods { namespaces, pods } => {
                            match self.peer_match(namespaces, pods, policy_ns[pi]) {
                                PeerMatch::AllPods => side.all_pods.merge(&ports),
                                PeerMatch::Set(None) => {}
                                PeerMatch::Set(Some(set)) => {
                                    let id =
                                        *ports_id.get_or_insert_with(|| self.ports.intern(ports.clone()));
                                    entries.push((set, id));
                                }
                            }
                        }
                    }
                }
            }
        }
        entries.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(entries.len());
        for (c, id) in entries {
            match merged.last_mut() {
                Some(last) if last.0 == c => last.1 = self.ports.union(last.1, id),
                _ => merged.push((c, id)),
            }
        }
        merged.shrink_to_fit();
        side.entries = merged;
        side
    }

    /// The classes a pod/namespace peer of a policy in namespace `policy_ns` matches.
    fn peer_match(
        &mut self,
        namespaces: &Option<Selector>,
        pods: &Option<Selector>,
        policy_ns: usize,
    ) -> PeerMatch {
        // A namespace selector makes the policy's namespace irrelevant.
        let key_ns = if namespaces.is_some() { usize::MAX } else { policy_ns };
        let key = (namespaces.clone(), pods.clone(), key_ns);
        if let Some(m) = self.peer_cache.get(&key) {
            return m.clone();
        }
        let pod_ok =
            |c: ClassId| pods.as_ref().is_none_or(|sel| sel.matches(&self.classes[c.index()].labels));
        let policy_ns_name = self.namespaces.get(policy_ns).map_or("", |n| n.name.as_str());
        let ns_ok = |i: usize| {
            let ns = &self.namespaces[i];
            peer_selects_namespace(namespaces.as_ref(), policy_ns_name, &ns.name, &ns.labels)
        };
        let mut list: Vec<ClassId> = match namespaces {
            None => self.classes_by_ns[policy_ns]
                .iter()
                .copied()
                .filter(|&c| ns_ok(policy_ns) && pod_ok(c))
                .collect(),
            Some(ns_sel) => {
                let ns_list = match self.ns_cache.get(ns_sel) {
                    Some(list) => list.clone(),
                    None => {
                        let list = candidates_by_label(ns_sel, &self.ns_label_index, self.namespaces.len())
                            .filter(|&i| ns_ok(i))
                            .collect::<Vec<_>>();
                        self.ns_cache.insert(ns_sel.clone(), list.clone());
                        list
                    }
                };
                // Walk whichever is smaller: the classes of the selected namespaces, or the
                // classes the pod selector's most selective label points at.
                let via_ns: usize = ns_list.iter().map(|&n| self.classes_by_ns[n].len()).sum();
                let via_pods =
                    pods.as_ref().and_then(|sel| smallest_label_bucket(sel, &self.class_label_index));
                match via_pods {
                    Some(bucket) if bucket.len() < via_ns => {
                        let class_ns = |c: ClassId| self.class_namespace[c.index()];
                        let mut ns_mask = vec![false; self.namespaces.len()];
                        for &n in &ns_list {
                            ns_mask[n] = true;
                        }
                        bucket.iter().copied().filter(|&c| ns_mask[class_ns(c)] && pod_ok(c)).collect()
                    }
                    _ => ns_list
                        .iter()
                        .flat_map(|&n| self.classes_by_ns[n].iter().copied())
                        .filter(|&c| pod_ok(c))
                        .collect(),
                }
            }
        };
        list.sort_unstable();
        let result = if list.len() == self.all_class_count && self.all_class_count > 0 {
            PeerMatch::AllPods
        } else if list.is_empty() {
            PeerMatch::Set(None)
        } else {
            self.peer_sets.push(list);
            PeerMatch::Set(Some(self.peer_sets.len() as u32 - 1))
        };
        self.peer_cache.insert(key, result.clone());
        result
    }
}

/// The bucket of the label index that an `In` requirement of `selector` narrows to, the
/// smallest one; `None` when no requirement can use the index.
fn smallest_label_bucket<'i, T: Copy>(
    selector: &'i Selector,
    index: &'i HashMap<(&str, &str), Vec<T>>,
) -> Option<std::borrow::Cow<'i, [T]>> {
    let mut best: Option<std::borrow::Cow<'i, [T]>> = None;
    for r in selector.requirements() {
        if let Requirement::In(key, values) = r {
            let bucket: std::borrow::Cow<'i, [T]> = if values.len() == 1 {
                std::borrow::Cow::Borrowed(
                    index.get(&(key.as_str(), values[0].as_str())).map(Vec::as_slice).unwrap_or(&[]),
                )
            } else {
                let mut all = Vec::new();
                for v in values {
                    all.extend(index.get(&(key.as_str(), v.as_str())).into_iter().flatten().copied());
                }
                std::borrow::Cow::Owned(all)
            };
            if best.as_ref().is_none_or(|b| bucket.len() < b.len()) {
                best = Some(bucket);
            }
        }
    }
    best
}

/// Namespace indexes worth testing against `selector`: an index bucket, or all.
fn candidates_by_label<'i>(
    selector: &'i Selector,
    index: &'i HashMap<(&str, &str), Vec<usize>>,
    count: usize,
) -> Box<dyn Iterator<Item = usize> + 'i> {
    match smallest_label_bucket(selector, index) {
        Some(std::borrow::Cow::Borrowed(b)) => Box::new(b.iter().copied()),
        Some(std::borrow::Cow::Owned(mut v)) => {
            v.sort_unstable();
            v.dedup();
            Box::new(v.into_iter())
        }
        None => Box::new(0..count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_peer_without_namespace_selector_is_the_policy_namespace() {
        let team = labels(&[("team", "a")]);
        assert!(peer_selects_namespace(None, "lab-1", "lab-1", &team));
        assert!(!peer_selects_namespace(None, "lab-1", "lab-2", &team));
    }

    #[test]
    fn a_namespace_selector_ignores_the_policy_namespace() {
        let team_a = Selector::from_labels([("team", "a")]);
        assert!(peer_selects_namespace(Some(&team_a), "lab-1", "lab-2", &labels(&[("team", "a")])));
        assert!(!peer_selects_namespace(Some(&team_a), "lab-1", "lab-1", &labels(&[("team", "b")])));
        // An empty namespaceSelector selects every namespace.
        assert!(peer_selects_namespace(Some(&Selector::everything()), "x", "y", &BTreeMap::new()));
    }

    #[test]
    fn a_whole_peer_needs_both_halves() {
        let web = Selector::from_labels([("app", "web")]);
        let ns = labels(&[]);
        assert!(pods_peer_matches(None, Some(&web), "a", "a", &ns, &labels(&[("app", "web")])));
        assert!(!pods_peer_matches(None, Some(&web), "a", "a", &ns, &labels(&[("app", "db")])));
        assert!(!pods_peer_matches(None, Some(&web), "a", "b", &ns, &labels(&[("app", "web")])));
        // No podSelector: every pod of the selected namespaces.
        assert!(pods_peer_matches(None, None, "a", "a", &ns, &labels(&[("app", "db")])));
    }

    #[test]
    fn blocks_match_pods_only_when_covering_a_whole_family() {
        let pods: IpNet = "10.244.0.0/16".parse().unwrap();
        let ranges = pod_ranges(&[pods]);
        assert_eq!(ranges.len(), 1);
        let wide = IpSet::from_net(&"10.0.0.0/8".parse().unwrap());
        let narrow = IpSet::from_net(&"10.244.1.0/24".parse().unwrap());
        assert!(block_covers_pods(&wide, &ranges));
        assert!(!block_covers_pods(&narrow, &ranges));
        // No pod CIDRs known: no block matches pods.
        assert!(!block_covers_pods(&wide, &pod_ranges(&[])));
    }

    #[test]
    fn the_label_index_narrows_to_the_smallest_bucket() {
        let a = labels(&[("app", "web"), ("tier", "front")]);
        let b = labels(&[("app", "web"), ("tier", "back")]);
        let index = label_index([(0usize, &a), (1usize, &b)].into_iter());
        let selector = Selector::from_labels([("app", "web"), ("tier", "back")]);
        let bucket = smallest_label_bucket(&selector, &index).unwrap();
        assert_eq!(&*bucket, &[1]);
        // A selector with no `In` requirement cannot use the index.
        assert!(smallest_label_bucket(&Selector::everything(), &index).is_none());
        assert_eq!(candidates_by_label(&Selector::everything(), &index, 2).collect::<Vec<_>>(), vec![0, 1]);
    }
}
