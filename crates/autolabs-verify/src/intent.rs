//! The isolation-matrix proof: the intent (flows from `platform.yaml`, or `--intent FILE`)
//! against what the NetworkPolicies actually allow, in both directions.
//!
//! 1. Every intended flow is allowed, for every pod on each side and every port it names;
//!    otherwise an error names the pods, the ports, and the policies that block them.
//! 2. Everything allowed is intended: for every pair of pod classes (and between pods and the
//!    internet or the flows' address ranges), what the policies allow minus what the flows
//!    intend must be empty; otherwise an error gives a counter-example (pod pair and port)
//!    and the rules that admit it.
//!
//! 3. Robust isolation (only when the input has cluster-wide policies —
//!    ClusterNetworkPolicy, AdminNetworkPolicy): a flow the matrix forbids must stay
//!    forbidden whatever NetworkPolicies the owners of the source or the destination
//!    namespace add; otherwise an error names the pair, the ports, and says which side could
//!    open it ([`Analysis::openable_by_namespace_owners`]). Traffic from addresses outside
//!    the cluster is not judged: the API's ingress peers cannot name addresses.
//!
//! Pods that an intended flow talks about but that no input object runs (lab pods, kube-dns,
//! ingress-nginx when it is installed by its own chart) are stood in for by **probe pods**
//! carrying exactly the flow's labels, named `probe:…`; each namespace also gets one probe pod
//! with no labels, so "any other pod" is checked too. Only pairs with at least one side in a
//! namespace the intent governs are judged.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use autolabs_model::platform::{Endpoint as FlowEnd, Flow, NetworkSpec, PortSpec, Protocol as FlowProtocol};
use autolabs_model::topology;
use autolabs_netpol::{Analysis, ClassId, ConnSet, Endpoint, IpNet, Options, Pod, Protocol};

use crate::engines::netpol::{Built, build};
use crate::finding::{Finding, Severity};
use crate::objects::ObjectSet;

/// A public address standing for "the internet" (TEST-NET addresses are excepted nowhere).
const INTERNET_PROBE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

/// The intent to prove.
#[derive(Debug, Clone)]
pub struct Intent {
    pub flows: Vec<Flow>,
    /// Namespaces the intent governs (pairs entirely outside them are not judged).
    pub namespaces: BTreeSet<String>,
    pub network: NetworkSpec,
}

impl Intent {
    pub fn of_platform(p: &autolabs_model::Platform) -> Self {
        Intent {
            flows: autolabs_model::isolation::flows(&p.spec),
            namespaces: topology::NAMESPACES.iter().map(|n| n.name.to_string()).collect(),
            network: p.spec.network.clone(),
        }
    }
}

/// The result: findings plus the namespace matrix for display.
#[derive(Debug, Clone, Default)]
pub struct Proof {
    pub findings: Vec<Finding>,
    /// (from, to) → allowed connections; `internet` is a row and a column.
    pub matrix: BTreeMap<(String, String), String>,
    /// (from, to) → what the flows intend, at namespace granularity (same keys as `matrix`).
    pub intended: BTreeMap<(String, String), String>,
    /// (from, to) → allowed connections between namespaces the intent does not govern
    /// (kube-system to itself or to the internet): shown, and not judged.
    pub not_judged: BTreeMap<(String, String), String>,
    /// How many flows, pod classes and class pairs were checked.
    pub flows_checked: usize,
    pub classes: usize,
    pub pairs_checked: usize,
}

fn conn_of(ports: &[PortSpec]) -> ConnSet {
    if ports.is_empty() {
        return ConnSet::all();
    }
    let mut c = ConnSet::empty();
    for p in ports {
        let proto = match p.protocol {
            FlowProtocol::Tcp => Protocol::Tcp,
            FlowProtocol::Udp => Protocol::Udp,
            FlowProtocol::Sctp => Protocol::Sctp,
        };
        c.add(&ConnSet::range(proto, p.port, p.end_port.unwrap_or(p.port)));
    }
    c
}

/// What an endpoint of the analysis is, for matching flows.
#[derive(Debug, Clone)]
enum Side<'a> {
    Pod { namespace: &'a str, labels: &'a BTreeMap<String, String> },
    Ip(Ipv4Addr),
}

fn matches(end: &FlowEnd, side: &Side, net: &NetworkSpec) -> bool {
    match side {
        Side::Pod { namespace, labels } => {
            end.namespace.as_deref() == Some(*namespace)
                && end.pods.iter().flatten().all(|(k, v)| labels.get(k) == Some(v))
        }
        Side::Ip(ip) => {
            if end.internet {
                return is_internet(*ip, net);
            }
            end.cidr.as_deref().and_then(|c| c.parse::<ipnet::Ipv4Net>().ok()).is_some_and(|n| n.contains(ip))
        }
    }
}

fn is_internet(ip: Ipv4Addr, net: &NetworkSpec) -> bool {
    let cluster = [net.pod_cidr.as_str(), net.service_cidr.as_str(), net.node_cidr.as_str()];
    !topology::NON_INTERNET_V4
        .iter()
        .copied()
        .chain(cluster)
        .filter_map(|c| c.parse::<ipnet::Ipv4Net>().ok())
        .any(|n| n.contains(&ip))
}

fn intended(flows: &[Flow], from: &Side, to: &Side, net: &NetworkSpec) -> (ConnSet, Vec<String>) {
    let mut c = ConnSet::empty();
    let mut names = Vec::new();
    for f in flows {
        if matches(&f.from, from, net) && matches(&f.to, to, net) {
            c.add(&conn_of(&f.ports));
            names.push(f.name.clone());
        }
    }
    (c, names)
}

/// One address inside a flow's range (its first host), for probing.
fn probe_ip(end: &FlowEnd) -> Option<Ipv4Addr> {
    if end.internet {
        return Some(INTERNET_PROBE);
    }
    let net: ipnet::Ipv4Net = end.cidr.as_deref()?.parse().ok()?;
    net.hosts().next().or(Some(net.addr()))
}

fn first_port(c: &ConnSet) -> Option<(Protocol, u16)> {
    Protocol::ALL.into_iter().find_map(|p| c.port_ranges(p).first().map(|(lo, _)| (p, *lo)))
}

/// The object set's cluster plus the probe pods the intent needs, analysed.
pub fn analyse_with_probes<'a>(set: &'a ObjectSet, intent: &Intent) -> (Option<Analysis>, Built<'a>) {
    analyse_with_probes_options(set, intent, Options::default())
}

/// [`analyse_with_probes`] with analysis options (`--host-network`); with the analysis,
/// `built.problems` also holds the modelling findings of the input's own pods.
pub fn analyse_with_probes_options<'a>(
    set: &'a ObjectSet,
    intent: &Intent,
    options: Options,
) -> (Option<Analysis>, Built<'a>) {
    let ordinary_host_pods = options.host_network == autolabs_netpol::HostNetwork::AsPod;
    let mut built = build(set);

    // Probe pods for flow endpoints no input runs, and one unlabelled pod per namespace.
    let mut known_ns: BTreeSet<String> = built.cluster.namespaces.iter().map(|n| n.name.clone()).collect();
    let mut probes: Vec<Pod> = Vec::new();
    let mut want_ns: BTreeSet<String> = intent.namespaces.clone();
    for f in &intent.flows {
        for end in [&f.from, &f.to] {
            let Some(ns) = &end.namespace else { continue };
            want_ns.insert(ns.clone());
            let labels = end.pods.clone().unwrap_or_default();
            let covered = built.cluster.pods.iter().chain(&probes).any(|p| {
                p.namespace == *ns
                    && (ordinary_host_pods || !p.host_network)
                    && labels.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            });
            if !covered {
                let name = if labels.is_empty() {
                    "probe:any".to_string()
                } else {
                    format!(
                        "probe:{}",
                        labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
                    )
                };
                let mut pod = Pod::new(ns.clone(), name);
                pod.labels = labels;
                probes.push(pod);
            }
        }
    }
    for ns in &intent.namespaces {
        probes.push(Pod::new(ns.clone(), "probe:unlabelled"));
    }
    for ns in want_ns {
        if known_ns.insert(ns.clone()) {
            built.cluster.namespaces.push(autolabs_netpol::Namespace::new(
                ns.clone(),
                BTreeMap::from([(topology::NS_NAME_LABEL.to_string(), ns.clone())]),
            ));
        }
    }
    built.cluster.pods.extend(probes);

    match Analysis::new(&built.cluster, options.clone()) {
        Ok(a) => {
            let more = crate::engines::netpol::modelling_findings(set, &a, &built, &options);
            built.problems.extend(more);
            (Some(a), built)
        }
        Err(errors) => {
            for e in &errors {
                built.problems.push(crate::engines::netpol::error_finding(set, e));
            }
            (None, built)
        }
    }
}

/// Proves the intent over the object set.
pub fn prove(set: &ObjectSet, intent: &Intent) -> Proof {
    prove_with(set, intent, Options::default())
}

/// [`prove`] with analysis options (`--host-network`).
pub fn prove_with(set: &ObjectSet, intent: &Intent, options: Options) -> Proof {
    let (analysis, mut built) = analyse_with_probes_options(set, intent, options);
    let mut proof = Proof { findings: std::mem::take(&mut built.problems), ..Default::default() };
    let Some(analysis) = analysis else { return proof };
    let a = &analysis;
    let pod_name = |id: autolabs_netpol::PodId| {
        a.pod(id).map(|p| format!("{}/{}", p.namespace, p.name)).unwrap_or_default()
    };
    let locate = |f: Finding, id: autolabs_netpol::PodId| -> Finding {
        match a.pod(id).and_then(|p| built.sources.get(&(p.namespace.clone(), p.name.clone()))) {
            Some(o) => f.at(o, ""),
            None => f,
        }
    };
    let explain = |from: Endpoint, to: Endpoint, c: &ConnSet| -> String {
        match first_port(c).and_then(|(p, port)| a.explain(from, to, p, port).ok()) {
            Some(e) => {
                format!("{} {}: egress {}; ingress {}", e.protocol.as_str(), e.port, e.egress, e.ingress)
            }
            None => String::new(),
        }
    };

    // Representative pod of each class.
    let reps: Vec<(ClassId, autolabs_netpol::PodId)> = a
        .classes()
        .iter()
        .filter(|c| !c.host_network)
        .filter_map(|c| c.members.first().map(|m| (c.id, *m)))
        .collect();
    proof.classes = reps.len();
    let side_of = |id: autolabs_netpol::PodId| -> Option<(String, BTreeMap<String, String>)> {
        a.pod(id).map(|p| (p.namespace.clone(), p.labels.clone()))
    };

    // 1. Every intended flow is allowed.
    for f in &intent.flows {
        proof.flows_checked += 1;
        let want = conn_of(&f.ports);
        let ends = |end: &FlowEnd| -> Vec<Endpoint> {
            if end.namespace.is_some() {
                reps.iter()
                    .filter(|(_, id)| {
                        side_of(*id).is_some_and(|(ns, labels)| {
                            matches(end, &Side::Pod { namespace: &ns, labels: &labels }, &intent.network)
                        })
                    })
                    .map(|(_, id)| Endpoint::Pod(*id))
                    .collect()
            } else {
                probe_ip(end)
                    .map(|ip| Endpoint::External(IpNet::from(ipnet::Ipv4Net::from(ip))))
                    .into_iter()
                    .collect()
            }
        };
        let (froms, tos) = (ends(&f.from), ends(&f.to));
        for from in &froms {
            for to in &tos {
                if from == to {
                    continue;
                }
                let allowed = a.allowed(*from, *to);
                let missing = want.difference(&allowed);
                if missing.is_empty() {
                    continue;
                }
                let name = |e: &Endpoint| match e {
                    Endpoint::Pod(id) => pod_name(*id),
                    Endpoint::External(n) => n.to_string(),
                };
                let mut finding = Finding::new(
                    "intent",
                    "intended-flow-blocked",
                    Severity::Error,
                    format!(
                        "flow {:?} is intended but {} → {} is denied on {missing} ({})",
                        f.name,
                        name(from),
                        name(to),
                        explain(*from, *to, &missing)
                    ),
                );
                if let Endpoint::Pod(id) = from {
                    finding = locate(finding, *id);
                }
                proof.findings.push(finding);
            }
        }
    }

    // 2. Everything allowed is intended.
    let governed = |ns: &str| intent.namespaces.contains(ns);
    let mut externals: Vec<Ipv4Addr> = vec![INTERNET_PROBE];
    for f in &intent.flows {
        for end in [&f.from, &f.to] {
            if end.cidr.is_some()
                && let Some(ip) = probe_ip(end)
                && !externals.contains(&ip)
            {
                externals.push(ip);
            }
        }
    }
    for (ci, from_id) in &reps {
        let (from_ns, from_labels) = side_of(*from_id).unwrap_or_default();
        let from_side = Side::Pod { namespace: &from_ns, labels: &from_labels };
        for (cj, to_id) in &reps {
            let (to_ns, to_labels) = side_of(*to_id).unwrap_or_default();
            if !governed(&from_ns) && !governed(&to_ns) {
                continue;
            }
            let members = a.class(*ci).map(|c| c.members.len()).unwrap_or(0);
            let (to_ep, from_ep) = if ci == cj {
                if members < 2 {
                    continue;
                }
                let second = a.class(*ci).and_then(|c| c.members.get(1).copied()).unwrap_or(*to_id);
                (Endpoint::Pod(second), Endpoint::Pod(*from_id))
            } else {
                (Endpoint::Pod(*to_id), Endpoint::Pod(*from_id))
            };
            proof.pairs_checked += 1;
            let allowed = a.class_connection(*ci, *cj);
            if allowed.is_empty() {
                continue;
            }
            let to_side = Side::Pod { namespace: &to_ns, labels: &to_labels };
            let (want, _) = intended(&intent.flows, &from_side, &to_side, &intent.network);
            let extra = allowed.difference(&want);
            if !extra.is_empty() {
                let f = Finding::new(
                    "intent",
                    "unintended-flow",
                    Severity::Error,
                    format!(
                        "{} → {} is allowed on {extra} but no flow of the matrix intends it ({})",
                        pod_name(*from_id),
                        a.pod(match to_ep {
                            Endpoint::Pod(p) => p,
                            _ => *to_id,
                        })
                        .map(|p| format!("{}/{}", p.namespace, p.name))
                        .unwrap_or_default(),
                        explain(from_ep, to_ep, &extra)
                    ),
                );
                proof.findings.push(locate(f, *from_id));
            }
        }
        // Pods ↔ addresses outside the cluster.
        if !governed(&from_ns) {
            continue;
        }
        for ip in &externals {
            let ext = Endpoint::External(IpNet::from(ipnet::Ipv4Net::from(*ip)));
            let ip_side = Side::Ip(*ip);
            for (src, dst, src_side, dst_side, dir) in [
                (Endpoint::Pod(*from_id), ext, &from_side, &ip_side, "to"),
                (ext, Endpoint::Pod(*from_id), &ip_side, &from_side, "from"),
            ] {
                proof.pairs_checked += 1;
                let allowed = a.allowed(src, dst);
                let (want, _) = intended(&intent.flows, src_side, dst_side, &intent.network);
                let extra = allowed.difference(&want);
                if !extra.is_empty() {
                    let target =
                        if *ip == INTERNET_PROBE { "the internet".to_string() } else { ip.to_string() };
                    let f = Finding::new(
                        "intent",
                        "unintended-flow",
                        Severity::Error,
                        format!(
                            "{} may be reached {dir} {target} on {extra} but no flow of the matrix intends it ({})",
                            pod_name(*from_id),
                            explain(src, dst, &extra)
                        )
                        .replace("may be reached to", "may connect to"),
                    );
                    proof.findings.push(locate(f, *from_id));
                }
            }
        }
    }

    // 3. Robust isolation, when cluster-wide policies are in force.
    if !a.cluster_policies().is_empty() {
        robust_isolation(a, intent, &reps, &externals, &mut proof, &locate);
    }

    // What the flows intend, namespace by namespace (address ranges other than the internet
    // are not namespaces and stay out of the picture).
    let mut intended_ns: BTreeMap<(String, String), ConnSet> = BTreeMap::new();
    for f in &intent.flows {
        let side = |e: &FlowEnd| e.namespace.clone().or_else(|| e.internet.then(|| "internet".to_string()));
        if let (Some(from), Some(to)) = (side(&f.from), side(&f.to)) {
            intended_ns.entry((from, to)).or_insert_with(ConnSet::empty).add(&conn_of(&f.ports));
        }
    }
    proof.intended = intended_ns.into_iter().map(|(k, c)| (k, c.to_string())).collect();

    // The namespace matrix, with the internet as one more row and column.
    for ((from, to), c) in a.namespace_matrix() {
        // Pairs entirely outside the governed namespaces (kube-system to itself) are not ours.
        if !c.is_empty() && (governed(&from) || governed(&to)) {
            proof.matrix.insert((from, to), c.to_string());
        } else if !c.is_empty() {
            proof.not_judged.insert((from, to), c.to_string());
        }
    }
    let internet = Endpoint::External(IpNet::from(ipnet::Ipv4Net::from(INTERNET_PROBE)));
    let mut out_by_ns: BTreeMap<String, ConnSet> = BTreeMap::new();
    let mut in_by_ns: BTreeMap<String, ConnSet> = BTreeMap::new();
    for (_, id) in &reps {
        let ns = a.pod(*id).map(|p| p.namespace.clone()).unwrap_or_default();
        out_by_ns
            .entry(ns.clone())
            .or_insert_with(ConnSet::empty)
            .add(&a.allowed(Endpoint::Pod(*id), internet));
        in_by_ns.entry(ns).or_insert_with(ConnSet::empty).add(&a.allowed(internet, Endpoint::Pod(*id)));
    }
    for (ns, c) in out_by_ns {
        let shown = if governed(&ns) { &mut proof.matrix } else { &mut proof.not_judged };
        if !c.is_empty() {
            shown.insert((ns, "internet".into()), c.to_string());
        }
    }
    for (ns, c) in in_by_ns {
        let shown = if governed(&ns) { &mut proof.matrix } else { &mut proof.not_judged };
        if !c.is_empty() {
            shown.insert(("internet".into(), ns), c.to_string());
        }
    }
    proof
}

/// Check 3: every flow the matrix forbids, between governed pods and towards or from the
/// flows' addresses, that a NetworkPolicy in the source or destination namespace could
/// open under the cluster-wide policies in force.
fn robust_isolation(
    a: &Analysis,
    intent: &Intent,
    reps: &[(ClassId, autolabs_netpol::PodId)],
    externals: &[Ipv4Addr],
    proof: &mut Proof,
    locate: &dyn Fn(Finding, autolabs_netpol::PodId) -> Finding,
) {
    let governed = |ns: &str| intent.namespaces.contains(ns);
    let side_of = |id: autolabs_netpol::PodId| a.pod(id).map(|p| (p.namespace.clone(), p.labels.clone()));
    let name = |id: autolabs_netpol::PodId| {
        a.pod(id).map(|p| format!("{}/{}", p.namespace, p.name)).unwrap_or_default()
    };
    for (ci, from_id) in reps {
        let Some((from_ns, from_labels)) = side_of(*from_id) else { continue };
        let from_side = Side::Pod { namespace: &from_ns, labels: &from_labels };
        for (cj, to_id) in reps {
            let Some((to_ns, to_labels)) = side_of(*to_id) else { continue };
            if !governed(&from_ns) && !governed(&to_ns) {
                continue;
            }
            if ci == cj && a.class(*ci).is_none_or(|c| c.members.len() < 2) {
                continue;
            }
            let to_side = Side::Pod { namespace: &to_ns, labels: &to_labels };
            let (want, _) = intended(&intent.flows, &from_side, &to_side, &intent.network);
            proof.pairs_checked += 1;
            let open = a
                .openable_by_namespace_owners(*ci, *cj)
                .difference(&want)
                .difference(&a.class_connection(*ci, *cj));
            if open.is_empty() {
                continue;
            }
            let owners = if from_ns == to_ns { from_ns.clone() } else { format!("{from_ns} or {to_ns}") };
            let f = Finding::new(
                "intent",
                "not-robust",
                Severity::Error,
                format!(
                    "{} → {} is forbidden by the matrix, but a NetworkPolicy in {owners} could open {open}: \
                     no cluster-wide policy denies it",
                    name(*from_id),
                    name(*to_id)
                ),
            );
            proof.findings.push(locate(f, *from_id));
        }
        if !governed(&from_ns) {
            continue;
        }
        for ip in externals {
            let net = IpNet::from(ipnet::Ipv4Net::from(*ip));
            let ip_side = Side::Ip(*ip);
            // Outbound only: the API's ingress peers are namespaces and pods, never
            // addresses, so no cluster-wide policy can guard traffic from outside.
            for outbound in [true] {
                let (src, dst) = if outbound { (&from_side, &ip_side) } else { (&ip_side, &from_side) };
                let (want, _) = intended(&intent.flows, src, dst, &intent.network);
                let now = if outbound {
                    a.allowed(Endpoint::Pod(*from_id), Endpoint::External(net))
                } else {
                    a.allowed(Endpoint::External(net), Endpoint::Pod(*from_id))
                };
                proof.pairs_checked += 1;
                let open =
                    a.openable_with_external(*from_id, &net, outbound).difference(&want).difference(&now);
                if open.is_empty() {
                    continue;
                }
                let target = if *ip == INTERNET_PROBE { "the internet".to_string() } else { ip.to_string() };
                let what = if outbound {
                    format!("{} → {target}", name(*from_id))
                } else {
                    format!("{target} → {}", name(*from_id))
                };
                let f = Finding::new(
                    "intent",
                    "not-robust",
                    Severity::Error,
                    format!(
                        "{what} is forbidden by the matrix, but a NetworkPolicy in {from_ns} could open {open}: \
                         no cluster-wide policy denies it"
                    ),
                );
                proof.findings.push(locate(f, *from_id));
            }
        }
    }
}
