//! Generic findings over an [`Analysis`]: pure functions that any report can use.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::analysis::{Analysis, ClassId, PodId, PolicyRef};
use crate::cluster::{Action, ClusterPeer};
use crate::connset::{ConnSet, Protocol};
use crate::ipset::IpSet;
use crate::model::{NAMESPACE_NAME_LABEL, NamedPort};
use crate::policy::{Direction, Peer};
use autolabs_k8s::Selector;

/// A namespace where not every pod is isolated by default in some direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultDenyGap {
    pub namespace: String,
    /// No policy selects every pod (`podSelector: {}`) for ingress.
    pub ingress_missing: bool,
    /// No policy selects every pod for egress.
    pub egress_missing: bool,
}

/// Namespaces lacking a default deny: a policy with an empty `podSelector` that has the
/// direction among its effective policyTypes (it isolates every pod, present and future,
/// whatever allow-rules it carries), or cluster-wide policies that deny it (see
/// [`cluster_denies_by_default`]).
pub fn namespaces_without_default_deny(analysis: &Analysis) -> Vec<DefaultDenyGap> {
    let mut out = Vec::new();
    for ns in analysis.namespace_names() {
        let policies = analysis.namespace_policies(ns);
        let ns_labels = analysis.ns_labels(ns);
        let covers = |egress: bool| {
            policies.iter().any(|p| {
                p.pod_selector.is_everything()
                    && if egress { p.egress.is_some() } else { p.ingress.is_some() }
            }) || ns_labels.is_some_and(|labels| {
                let direction = if egress { Direction::Egress } else { Direction::Ingress };
                cluster_denies_by_default(analysis, labels, direction)
            })
        };
        let (ingress_missing, egress_missing) = (!covers(false), !covers(true));
        if ingress_missing || egress_missing {
            out.push(DefaultDenyGap { namespace: ns.to_string(), ingress_missing, egress_missing });
        }
    }
    out
}

/// Do cluster-wide policies (either tier) whose subject is every pod of a namespace
/// (`namespaces` matching it, no pod selector or an empty one) deny everything in
/// `direction`: Deny rules on every port that, together, name every pod (`namespaces: {}`)
/// and, for egress, every address (`networks` covering `0.0.0.0/0` and `::/0`)? Rules
/// before them (Accept, Pass) are exceptions, as a default-deny NetworkPolicy's allow-rules
/// are. The API cannot name addresses outside the cluster as ingress peers
/// (`ClusterNetworkPolicyIngressPeer` in `apis/v1alpha2/clusternetworkpolicy_types.go`:
/// namespaces and pods only), so for ingress every pod is as far as a default deny goes.
fn cluster_denies_by_default(
    analysis: &Analysis,
    ns_labels: &BTreeMap<String, String>,
    direction: Direction,
) -> bool {
    let mut every_pod = false;
    let mut addresses = IpSet::empty();
    for policy in analysis.cluster_policies() {
        let subject = &policy.subject;
        let whole_namespace =
            subject.namespaces.matches(ns_labels) && subject.pods.as_ref().is_none_or(|s| s.is_everything());
        if !whole_namespace {
            continue;
        }
        for rule in policy.rules(direction) {
            if rule.action != Action::Deny || !rule.ports.numeric.is_all() {
                continue;
            }
            for peer in &rule.peers {
                match peer {
                    ClusterPeer::Pods(p) => {
                        every_pod |=
                            p.namespaces.is_everything() && p.pods.as_ref().is_none_or(|s| s.is_everything())
                    }
                    ClusterPeer::Networks(set) => addresses = addresses.union(set),
                    ClusterPeer::Nodes(_) => {}
                }
            }
        }
    }
    every_pod && (direction == Direction::Ingress || addresses.contains_set(&IpSet::every_address()))
}

/// Classes that some pod of every namespace (that has pods) can reach, both sides of the
/// connection considered.
pub fn exposed_to_every_namespace(analysis: &Analysis) -> Vec<ClassId> {
    let populated: HashSet<usize> =
        analysis.classes().iter().map(|c| analysis.class_namespace_index(c.id)).collect();
    let mut reached: BTreeMap<ClassId, HashSet<usize>> = BTreeMap::new();
    for (c, d, _) in analysis.connections() {
        reached.entry(d).or_default().insert(analysis.class_namespace_index(c));
    }
    reached
        .into_iter()
        .filter(|(_, sources)| !populated.is_empty() && populated.iter().all(|ns| sources.contains(ns)))
        .map(|(d, _)| d)
        .collect()
}

/// Classes that may open connections to the public internet ([`IpSet::internet`]), with
/// the ports allowed towards some public address, through every tier (Admin →
/// NetworkPolicy → Baseline, as [`Analysis::allowed`]). hostNetwork classes are left out.
pub fn internet_egress(analysis: &Analysis) -> Vec<(ClassId, ConnSet)> {
    let internet = IpSet::internet();
    analysis
        .classes()
        .iter()
        .filter(|c| !c.host_network)
        .filter_map(|c| {
            let conn = analysis.egress_towards(c.id, &internet);
            (!conn.is_empty()).then_some((c.id, conn))
        })
        .collect()
}

/// A class whose egress does not allow DNS to kube-dns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsGap {
    pub class: ClassId,
    pub udp_blocked: bool,
    pub tcp_blocked: bool,
    /// A NetworkPolicy isolates the class's egress (otherwise only cluster policies
    /// restrict it).
    pub egress_isolated: bool,
}

/// Classes whose egress cannot reach kube-dns (`k8s-app: kube-dns` in `kube-system`) on
/// UDP 53 and TCP 53, through every tier (an Admin-tier Deny, a NetworkPolicy that
/// isolates without allowing DNS, a Baseline Deny where no NetworkPolicy isolates). Only
/// the source's egress is judged. When the cluster holds no kube-dns pod, a standard one
/// is assumed (named ports `dns` UDP 53, `dns-tcp` TCP 53, `metrics` TCP 9153).
pub fn dns_blocked(analysis: &Analysis) -> Vec<DnsGap> {
    let dns_classes: Vec<ClassId> = analysis
        .classes()
        .iter()
        .filter(|c| c.namespace == "kube-system" && c.labels.get("k8s-app").is_some_and(|v| v == "kube-dns"))
        .map(|c| c.id)
        .collect();
    let ns_labels = analysis
        .ns_labels("kube-system")
        .cloned()
        .unwrap_or_else(|| BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), "kube-system".to_string())]));
    let labels = BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]);
    let ports = [
        NamedPort { name: "dns".into(), protocol: Protocol::Udp, port: 53 },
        NamedPort { name: "dns-tcp".into(), protocol: Protocol::Tcp, port: 53 },
        NamedPort { name: "metrics".into(), protocol: Protocol::Tcp, port: 9153 },
    ];
    let mut out = Vec::new();
    for c in analysis.classes() {
        if c.host_network || !analysis.egress_restricted(c.id) {
            continue;
        }
        let allowed = if dns_classes.is_empty() {
            analysis.egress_to_described(c.id, "kube-system", &ns_labels, &labels, &ports)
        } else {
            dns_classes.iter().fold(ConnSet::empty(), |mut acc, &d| {
                acc.add(&analysis.egress_ports(c.id, d));
                acc
            })
        };
        let udp_blocked = !allowed.contains(Protocol::Udp, 53);
        let tcp_blocked = !allowed.contains(Protocol::Tcp, 53);
        if udp_blocked || tcp_blocked {
            let egress_isolated = analysis.egress_isolated(c.id);
            out.push(DnsGap { class: c.id, udp_blocked, tcp_blocked, egress_isolated });
        }
    }
    out
}

/// A policy selector that tells two pods apart: it selects one of them and not the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishingSelector {
    pub policy: PolicyRef,
    /// `spec.podSelector`, or a peer's `spec.ingress[0].from[1].podSelector`.
    pub field: String,
    /// The selector as text, `app=web,tier in (a,b)`.
    pub selector: String,
}

/// One pod selector of a policy: `spec.podSelector` or a peer's `podSelector`.
struct SelectorSite<'a> {
    policy: usize,
    /// 0 for `spec.podSelector`, 1 for an ingress peer, 2 for an egress peer; then the rule
    /// and peer indexes — with `policy`, the input order.
    order: (u8, usize, usize),
    /// A peer's `namespaceSelector`; `None` means the policy's own namespace only.
    namespaces: Option<&'a Selector>,
    own_namespace: &'a str,
    pods: &'a Selector,
}

/// What a selector site sees of a pod.
#[derive(Clone, Copy)]
struct PodView<'a> {
    namespace: &'a str,
    ns_labels: &'a BTreeMap<String, String>,
    labels: &'a BTreeMap<String, String>,
    /// hostNetwork and exempt ([`crate::HostNetwork::Exempt`]): selected by nothing.
    exempt: bool,
}

impl SelectorSite<'_> {
    fn selects(&self, pod: &PodView<'_>) -> bool {
        let ns_ok = match self.namespaces {
            Some(sel) => sel.matches(pod.ns_labels),
            None => pod.namespace == self.own_namespace,
        };
        !pod.exempt && ns_ok && self.pods.matches(pod.labels)
    }
}

/// Tells apart pods that one workload groups (see [`PodDistinguisher::first`]). Built once
/// per analysis, it indexes every pod selector by the label keys it looks at (and, for those
/// that only reach their policy's namespace, by that namespace), keeping one site per
/// distinct selector, so a pair of pods costs as much as the selectors of the keys on which
/// their labels differ.
pub struct PodDistinguisher<'a> {
    analysis: &'a Analysis,
    sites: Vec<SelectorSite<'a>>,
    /// (namespace, key) → sites without a namespaceSelector, first site per selector.
    local: HashMap<(&'a str, &'a str), Vec<usize>>,
    /// key → sites with a namespaceSelector, first site per (namespace, pod) selector pair.
    global: HashMap<&'a str, Vec<usize>>,
}

impl<'a> PodDistinguisher<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        let mut sites = Vec::new();
        for (pi, policy) in analysis.compiled().iter().enumerate() {
            let own_namespace = policy.namespace.as_str();
            sites.push(SelectorSite {
                policy: pi,
                order: (0, 0, 0),
                namespaces: None,
                own_namespace,
                pods: &policy.pod_selector,
            });
            for (d, direction) in [(1u8, Direction::Ingress), (2u8, Direction::Egress)] {
                for (ri, rule) in policy.rules(direction).unwrap_or_default().iter().enumerate() {
                    for (peer_index, peer) in rule.peers.iter().flatten().enumerate() {
                        if let Peer::Pods { namespaces, pods: Some(pods) } = peer {
                            sites.push(SelectorSite {
                                policy: pi,
                                order: (d, ri, peer_index),
                                namespaces: namespaces.as_ref(),
                                own_namespace,
                                pods,
                            });
                        }
                    }
                }
            }
        }
        let mut local: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        let mut global: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut seen_local: HashSet<(&str, &Selector)> = HashSet::new();
        let mut seen_global: HashSet<(&Selector, &Selector)> = HashSet::new();
        for (i, site) in sites.iter().enumerate() {
            let first = match site.namespaces {
                None => seen_local.insert((site.own_namespace, site.pods)),
                Some(ns) => seen_global.insert((ns, site.pods)),
            };
            if !first {
                continue;
            }
            let mut keys: Vec<&str> = site.pods.requirements().iter().map(requirement_key).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                match site.namespaces {
                    None => local.entry((site.own_namespace, key)).or_default().push(i),
                    Some(_) => global.entry(key).or_default().push(i),
                }
            }
        }
        PodDistinguisher { analysis, sites, local, global }
    }

    fn view(&self, p: PodId) -> Option<PodView<'a>> {
        let analysis = self.analysis;
        let (namespace, ns_labels) = analysis.pod_namespace(p)?;
        let exempt = analysis.class_of(p).and_then(|c| analysis.class(c)).is_some_and(|c| c.host_network);
        Some(PodView { namespace, ns_labels, labels: &analysis.pod(p)?.labels, exempt })
    }

    /// The first selector (policies in input order, then `spec.podSelector`, ingress peers,
    /// egress peers) that selects exactly one of two pods — why two pods that one workload
    /// groups must not be listed as one. np-guard refuses such input the same way
    /// (`pkg/netpol/eval/resources.go` `checkConsistentLabelsForPodsOfSameOwner`); here the
    /// selectors are evaluated, so labels that differ where no selector looks are harmless.
    /// A pod exempt from policy (hostNetwork, [`crate::HostNetwork::Exempt`]) is selected by
    /// nothing.
    pub fn first(&self, a: PodId, b: PodId) -> Option<DistinguishingSelector> {
        let (va, vb) = (self.view(a)?, self.view(b)?);
        self.first_of(&va, &vb)
    }

    /// Like [`PodDistinguisher::first`], for a pod of the analysis and a label set that
    /// claims to be treated like it (a Pod whose owner's template stands for it).
    pub fn first_against_labels(
        &self,
        pod: PodId,
        labels: &BTreeMap<String, String>,
    ) -> Option<DistinguishingSelector> {
        let va = self.view(pod)?;
        let vb = PodView { labels, ..va };
        self.first_of(&va, &vb)
    }

    fn first_of(&self, va: &PodView<'_>, vb: &PodView<'_>) -> Option<DistinguishingSelector> {
        let distinguishes = |i: &usize| self.sites[*i].selects(va) != self.sites[*i].selects(vb);
        let found = if va.namespace == vb.namespace && va.exempt == vb.exempt {
            // A selector evaluates alike on both unless it looks at a key whose value differs.
            let mut differing: Vec<&str> = va
                .labels
                .keys()
                .chain(vb.labels.keys())
                .map(String::as_str)
                .filter(|k| va.labels.get(*k) != vb.labels.get(*k))
                .collect();
            differing.sort_unstable();
            differing.dedup();
            let mut candidates: Vec<usize> = differing
                .iter()
                .flat_map(|k| {
                    let local = self.local.get(&(va.namespace, *k)).into_iter().flatten();
                    local.chain(self.global.get(k).into_iter().flatten())
                })
                .copied()
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            // Same namespace: the namespace test is the same for both, so do it once.
            candidates.into_iter().find(|&i| {
                let site = &self.sites[i];
                let ns_ok = match site.namespaces {
                    Some(sel) => sel.matches(va.ns_labels),
                    None => va.namespace == site.own_namespace,
                };
                ns_ok && !va.exempt && site.pods.matches(va.labels) != site.pods.matches(vb.labels)
            })
        } else {
            (0..self.sites.len()).find(distinguishes)
        };
        let site = &self.sites[found?];
        let policy = &self.analysis.compiled()[site.policy];
        let field = match site.order {
            (0, _, _) => "spec.podSelector".to_string(),
            (1, rule, peer) => format!("spec.ingress[{rule}].from[{peer}].podSelector"),
            (_, rule, peer) => format!("spec.egress[{rule}].to[{peer}].podSelector"),
        };
        Some(DistinguishingSelector {
            policy: PolicyRef { namespace: policy.namespace.clone(), name: policy.name.clone() },
            field,
            selector: site.pods.describe(),
        })
    }
}

fn requirement_key(r: &autolabs_k8s::selector::Requirement) -> &str {
    use autolabs_k8s::selector::Requirement;
    match r {
        Requirement::In(k, _)
        | Requirement::NotIn(k, _)
        | Requirement::Exists(k)
        | Requirement::DoesNotExist(k) => k.as_str(),
    }
}

/// [`PodDistinguisher::first`] for one pair.
pub fn distinguishing_selector(analysis: &Analysis, a: PodId, b: PodId) -> Option<DistinguishingSelector> {
    PodDistinguisher::new(analysis).first(a, b)
}

/// Why a named port of a rule matches less than it seems to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedPortProblem {
    /// An egress rule whose peers are all `ipBlock`s (outside the pods): the port is named
    /// on the destination pod, and an address has none, so the entry never matches
    /// (`k8s.io/api/networking/v1/types.go` `NetworkPolicyPort.Port`: "a named port on a pod").
    OnlyIpBlockPeers,
    /// An egress rule with pod peers and these `ipBlock` peers (indexes into `to`): the
    /// named port never matches traffic to the blocks.
    IpBlockPeers(Vec<usize>),
    /// No pod the port resolves on (for ingress the pods the policy selects, for egress the
    /// rule's destination pods) has a container port of that name and protocol, so the
    /// entry matches nothing.
    Undefined,
}

/// One named port entry of a rule, `spec.ingress[0].ports[1]`, and its problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPortGap {
    pub policy: PolicyRef,
    pub direction: Direction,
    pub rule: usize,
    /// Index into the rule's `ports`.
    pub port_index: usize,
    pub protocol: Protocol,
    pub name: String,
    pub problem: NamedPortProblem,
}

impl NamedPortGap {
    /// The field path of the port entry.
    pub fn field(&self) -> String {
        format!("spec.{}[{}].ports[{}]", self.direction.as_str(), self.rule, self.port_index)
    }
}

impl std::fmt::Display for NamedPortGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let port = format!("named port {:?} ({})", self.name, self.protocol.as_str());
        let at = format!("NetworkPolicy {} {}", self.policy, self.field());
        match &self.problem {
            NamedPortProblem::OnlyIpBlockPeers => write!(
                f,
                "{at}: {port} never matches: every peer of the rule is an ipBlock, and an address outside the cluster has no named ports"
            ),
            NamedPortProblem::IpBlockPeers(peers) => {
                let list: Vec<String> = peers.iter().map(|i| format!("to[{i}]")).collect();
                write!(
                    f,
                    "{at}: {port} never matches traffic to the ipBlock peer(s) {}: an address outside the cluster has no named ports",
                    list.join(", ")
                )
            }
            NamedPortProblem::Undefined => {
                let whose = if self.direction == Direction::Ingress {
                    "the pods the policy selects"
                } else {
                    "the rule's destination pods"
                };
                write!(f, "{at}: {port} is defined by none of {whose}: it matches nothing")
            }
        }
    }
}

/// Named ports that cannot match what they seem to: see [`NamedPortProblem`]. Only classes
/// for which `counts` holds are looked at (callers leave out stand-in pods); a policy that
/// selects no such class, or a rule whose peers match none, is not judged.
pub fn named_port_gaps(analysis: &Analysis, counts: impl Fn(ClassId) -> bool) -> Vec<NamedPortGap> {
    type Defined = HashSet<(Protocol, String)>;
    let defined_by = |classes: &mut dyn Iterator<Item = ClassId>| -> (bool, Defined) {
        let mut any = false;
        let mut out = Defined::new();
        for c in classes {
            if !counts(c) {
                continue;
            }
            any = true;
            if let Some(class) = analysis.class(c) {
                out.extend(class.named_ports.iter().map(|np| (np.protocol, np.name.clone())));
            }
        }
        (any, out)
    };
    let selected = analysis.classes_selected_by();
    let mut classes_by_ns: HashMap<&str, Vec<ClassId>> = HashMap::new();
    for c in analysis.classes() {
        classes_by_ns.entry(c.namespace.as_str()).or_default().push(c.id);
    }
    let every_class = defined_by(&mut analysis.classes().iter().map(|c| c.id));
    let every_pod = defined_by(&mut analysis.classes().iter().filter(|c| !c.host_network).map(|c| c.id));
    let mut peer_cache: HashMap<(String, String), (bool, Defined)> = HashMap::new();
    let mut out = Vec::new();
    for (pi, (policy_ref, policy)) in analysis.compiled_policies().enumerate() {
        if !selected[pi].iter().any(|&c| counts(c)) {
            continue;
        }
        let gap = |direction, rule: usize, entry: &(usize, Protocol, String), problem| NamedPortGap {
            policy: policy_ref.clone(),
            direction,
            rule,
            port_index: entry.0,
            protocol: entry.1,
            name: entry.2.clone(),
            problem,
        };
        for (ri, rule) in policy.ingress.iter().flatten().enumerate() {
            if rule.named_entries.is_empty() {
                continue;
            }
            let (_, defined) = defined_by(&mut selected[pi].iter().copied());
            for entry in &rule.named_entries {
                if !defined.contains(&(entry.1, entry.2.clone())) {
                    out.push(gap(Direction::Ingress, ri, entry, NamedPortProblem::Undefined));
                }
            }
        }
        for (ri, rule) in policy.egress.iter().flatten().enumerate() {
            if rule.named_entries.is_empty() {
                continue;
            }
            let mut matched_any = false;
            let mut defined = Defined::new();
            let mut outside_blocks = Vec::new();
            match &rule.peers {
                None => {
                    matched_any = every_class.0;
                    defined.extend(every_class.1.iter().cloned());
                }
                Some(peers) => {
                    for (peer_index, peer) in peers.iter().enumerate() {
                        match peer {
                            Peer::IpBlock { addresses, .. } => {
                                if analysis.block_matches_pods(addresses) {
                                    matched_any |= every_pod.0;
                                    defined.extend(every_pod.1.iter().cloned());
                                } else {
                                    outside_blocks.push(peer_index);
                                }
                            }
                            Peer::Pods { namespaces, pods } => {
                                let scope = match namespaces {
                                    Some(sel) => format!("ns:{}", sel.describe()),
                                    None => format!("own:{}", policy.namespace),
                                };
                                let key = (scope, pods.as_ref().map(|s| s.describe()).unwrap_or_default());
                                let (any, ports) = peer_cache.entry(key).or_insert_with(|| {
                                    // Only the classes of the namespaces the peer can reach.
                                    let in_scope: Vec<&str> = match namespaces {
                                        None => vec![policy.namespace.as_str()],
                                        Some(sel) => analysis
                                            .namespaces_with_labels()
                                            .filter(|(_, labels)| sel.matches(labels))
                                            .map(|(name, _)| name)
                                            .collect(),
                                    };
                                    let mut matching = in_scope
                                        .into_iter()
                                        .flat_map(|n| classes_by_ns.get(n).into_iter().flatten().copied())
                                        .filter(|&c| {
                                            analysis.pods_peer_matches_class(policy, namespaces, pods, c)
                                        });
                                    defined_by(&mut matching)
                                });
                                matched_any |= *any;
                                defined.extend(ports.iter().cloned());
                            }
                        }
                    }
                }
            }
            let only_blocks =
                rule.peers.as_ref().is_some_and(|p| !p.is_empty() && outside_blocks.len() == p.len());
            for entry in &rule.named_entries {
                if only_blocks {
                    out.push(gap(Direction::Egress, ri, entry, NamedPortProblem::OnlyIpBlockPeers));
                    continue;
                }
                if matched_any && !defined.contains(&(entry.1, entry.2.clone())) {
                    out.push(gap(Direction::Egress, ri, entry, NamedPortProblem::Undefined));
                }
                if !outside_blocks.is_empty() {
                    out.push(gap(
                        Direction::Egress,
                        ri,
                        entry,
                        NamedPortProblem::IpBlockPeers(outside_blocks.clone()),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticParams, generate};
    use crate::{HostNetwork, Options};

    /// The index only narrows which selectors are evaluated: on a synthetic cluster (with
    /// hostNetwork pods exempt and as pods) every same-namespace pair gets the answer that
    /// evaluating every selector in input order gives.
    #[test]
    fn indexed_answers_equal_the_full_scan() {
        let cluster = generate(SyntheticParams { namespaces: 12, pods: 120, policies: 150 });
        for host_network in [HostNetwork::Exempt, HostNetwork::AsPod] {
            let analysis = match Analysis::new(&cluster, Options { host_network, ..Options::default() }) {
                Ok(a) => a,
                Err(e) => panic!("synthetic cluster is valid: {e:?}"),
            };
            let d = PodDistinguisher::new(&analysis);
            let ids: Vec<PodId> = analysis.pod_ids().collect();
            let mut told_apart = 0;
            for &a in &ids {
                for &b in &ids {
                    let (Some(va), Some(vb)) = (d.view(a), d.view(b)) else { continue };
                    if va.namespace != vb.namespace {
                        continue;
                    }
                    let scan = (0..d.sites.len())
                        .find(|&i| d.sites[i].selects(&va) != d.sites[i].selects(&vb))
                        .map(|i| (d.sites[i].policy, d.sites[i].order));
                    let got = d.first(a, b);
                    // The index keeps the first site of each distinct selector, so compare
                    // what was found, by policy and field.
                    let want = scan.map(|(p, order)| {
                        let field = match order {
                            (0, _, _) => "spec.podSelector".to_string(),
                            (1, r, q) => format!("spec.ingress[{r}].from[{q}].podSelector"),
                            (_, r, q) => format!("spec.egress[{r}].to[{q}].podSelector"),
                        };
                        (analysis.compiled()[p].name.clone(), field)
                    });
                    told_apart += usize::from(got.is_some());
                    assert_eq!(got.map(|g| (g.policy.name, g.field)), want, "{a:?} {b:?}");
                }
            }
            assert!(told_apart > 0, "the synthetic cluster has pods that policies tell apart");
        }
    }
}
