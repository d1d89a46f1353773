//! Property test: on small random clusters with NetworkPolicies and cluster-wide policies
//! of both API versions, the class-based analysis equals a naive evaluator written here
//! from the API type comments (v1alpha2 `ClusterNetworkPolicySpec.Tier`/`Priority`, rule
//! order and actions; v1alpha1 ANP/BANP; `k8s.io/api/networking/v1` NetworkPolicy). The
//! evaluator walks every policy for every pod pair and probe, and shares no code with the
//! engine (only label selector matching, which `autolabs-k8s` owns).

use std::collections::BTreeMap;

use autolabs_k8s::Selector;
use autolabs_netpol::{Analysis, Cluster, ClusterPolicy, Endpoint, IpNet, Namespace, Options, Pod, Protocol};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------- the generated model ----------

#[derive(Debug, Clone)]
struct GenPod {
    ns: usize,
    app: &'static str,
    /// Container port named `http` (TCP).
    http: Option<u16>,
}

#[derive(Debug, Clone)]
enum GenPeer {
    /// Pods labelled app=X in the policy's own namespace (NetworkPolicy) or in every
    /// namespace (cluster policies, with an empty namespaceSelector).
    App(&'static str),
    /// Every pod of the namespaces labelled team=T.
    Team(&'static str),
    /// Pods app=X in the namespaces team=T.
    TeamApp(&'static str, &'static str),
    /// `networks: [0.0.0.0/0]` (cluster egress) / `ipBlock 0.0.0.0/0` (NetworkPolicy).
    Everywhere,
}

#[derive(Debug, Clone)]
enum GenPorts {
    All,
    Tcp80,
    Range70To90,
    NamedHttp,
}

#[derive(Debug, Clone)]
struct GenRule {
    action: usize, // 0 Accept, 1 Deny, 2 Pass (cluster rules only)
    peers: Vec<GenPeer>,
    ports: GenPorts,
}

#[derive(Debug, Clone)]
struct GenNetpol {
    ns: usize,
    app: Option<&'static str>,
    ingress: Option<Vec<GenRule>>,
    egress: Option<Vec<GenRule>>,
}

#[derive(Debug, Clone)]
struct GenCluster {
    /// 0: CNP Admin, 1: CNP Baseline, 2: ANP, 3: BANP.
    flavour: usize,
    priority: u32,
    subject: GenPeer,
    ingress: Vec<GenRule>,
    egress: Vec<GenRule>,
}

const TEAMS: [&str; 2] = ["a", "b"];
const APPS: [&str; 3] = ["web", "db", "x"];
const NS_TEAMS: [&str; 3] = ["a", "b", "a"];

fn ns_name(i: usize) -> String {
    format!("ns{i}")
}

fn ns_labels(i: usize) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("team".to_string(), NS_TEAMS[i].to_string()),
        ("kubernetes.io/metadata.name".to_string(), ns_name(i)),
    ])
}

fn pod_labels(p: &GenPod) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), p.app.to_string())])
}

// ---------- the naive reference evaluator ----------

fn team_selector(team: &str) -> Selector {
    Selector::from_labels([("team", team)])
}

fn app_selector(app: &str) -> Selector {
    Selector::from_labels([("app", app)])
}

/// Does `peer` (of a policy in `policy_ns`, `None` for cluster policies) match `pod`?
fn peer_matches(peer: &GenPeer, policy_ns: Option<usize>, pod: &GenPod) -> bool {
    let ns = ns_labels(pod.ns);
    let labels = pod_labels(pod);
    match peer {
        GenPeer::App(app) => policy_ns.is_none_or(|n| n == pod.ns) && app_selector(app).matches(&labels),
        GenPeer::Team(team) => team_selector(team).matches(&ns),
        GenPeer::TeamApp(team, app) => team_selector(team).matches(&ns) && app_selector(app).matches(&labels),
        // Pods are in 10.244.0.0/16 (Options::pod_cidrs), inside 0.0.0.0/0.
        GenPeer::Everywhere => true,
    }
}

/// Does `ports` match (protocol, port) on a destination pod `dest`?
fn ports_match(ports: &GenPorts, dest: Option<&GenPod>, protocol: Protocol, port: u16) -> bool {
    match ports {
        GenPorts::All => true,
        GenPorts::Tcp80 => protocol == Protocol::Tcp && port == 80,
        GenPorts::Range70To90 => protocol == Protocol::Tcp && (70..=90).contains(&port),
        GenPorts::NamedHttp => protocol == Protocol::Tcp && dest.and_then(|d| d.http) == Some(port),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allow,
    Deny,
    Next,
}

/// Walks the cluster policies of one tier that select `subject`, in (priority, name)
/// order and rule order; the first matching rule decides.
#[allow(clippy::too_many_arguments)]
fn walk_tier(
    clusters: &[(String, GenCluster)],
    baseline: bool,
    ingress: bool,
    subject: &GenPod,
    peer: Option<&GenPod>,
    dest: Option<&GenPod>,
    protocol: Protocol,
    port: u16,
) -> Outcome {
    let mut ordered: Vec<&(String, GenCluster)> =
        clusters.iter().filter(|(_, c)| (c.flavour == 1 || c.flavour == 3) == baseline).collect();
    // A BaselineAdminNetworkPolicy has no priority: beside ClusterNetworkPolicies of the
    // Baseline tier (upstream does not order the two versions against each other) the engine
    // puts it at priority 0, and so does this reference.
    let priority = |c: &GenCluster| if c.flavour == 3 { 0 } else { c.priority };
    ordered.sort_by(|a, b| (priority(&a.1), &a.0).cmp(&(priority(&b.1), &b.0)));
    for (_, c) in ordered {
        if !peer_matches(&c.subject, None, subject) {
            continue;
        }
        for rule in if ingress { &c.ingress } else { &c.egress } {
            let peer_ok = rule.peers.iter().any(|p| match peer {
                Some(pod) => peer_matches(p, None, pod),
                None => matches!(p, GenPeer::Everywhere),
            });
            if peer_ok && ports_match(&rule.ports, dest, protocol, port) {
                return match rule.action {
                    0 => Outcome::Allow,
                    1 => Outcome::Deny,
                    _ => Outcome::Next,
                };
            }
        }
    }
    Outcome::Next
}

/// The NetworkPolicy tier: `None` when no policy isolates `subject` in this direction.
fn netpol_tier(
    netpols: &[GenNetpol],
    ingress: bool,
    subject: &GenPod,
    peer: Option<&GenPod>,
    dest: Option<&GenPod>,
    protocol: Protocol,
    port: u16,
) -> Option<bool> {
    let mut isolated = false;
    for np in netpols {
        if np.ns != subject.ns || np.app.is_some_and(|a| a != subject.app) {
            continue;
        }
        let Some(rules) = (if ingress { &np.ingress } else { &np.egress }) else { continue };
        isolated = true;
        for rule in rules {
            let peer_ok = rule.peers.is_empty()
                || rule.peers.iter().any(|p| match peer {
                    Some(pod) => peer_matches(p, Some(np.ns), pod),
                    None => matches!(p, GenPeer::Everywhere),
                });
            if peer_ok && ports_match(&rule.ports, dest, protocol, port) {
                return Some(true);
            }
        }
    }
    isolated.then_some(false)
}

/// One side through Admin → NetworkPolicy → Baseline → allow.
fn side(
    model: &Model,
    ingress: bool,
    subject: &GenPod,
    peer: Option<&GenPod>,
    dest: Option<&GenPod>,
    protocol: Protocol,
    port: u16,
) -> bool {
    match walk_tier(&model.clusters, false, ingress, subject, peer, dest, protocol, port) {
        Outcome::Allow => return true,
        Outcome::Deny => return false,
        Outcome::Next => {}
    }
    if let Some(verdict) = netpol_tier(&model.netpols, ingress, subject, peer, dest, protocol, port) {
        return verdict;
    }
    walk_tier(&model.clusters, true, ingress, subject, peer, dest, protocol, port) != Outcome::Deny
}

// ---------- building the engine's input ----------

#[derive(Debug, Clone)]
struct Model {
    pods: Vec<GenPod>,
    netpols: Vec<GenNetpol>,
    clusters: Vec<(String, GenCluster)>,
}

fn np_peer(p: &GenPeer) -> Value {
    match p {
        GenPeer::App(app) => json!({"podSelector": {"matchLabels": {"app": app}}}),
        GenPeer::Team(team) => json!({"namespaceSelector": {"matchLabels": {"team": team}}}),
        GenPeer::TeamApp(team, app) => json!({
            "namespaceSelector": {"matchLabels": {"team": team}},
            "podSelector": {"matchLabels": {"app": app}},
        }),
        GenPeer::Everywhere => json!({"ipBlock": {"cidr": "0.0.0.0/0"}}),
    }
}

fn np_ports(p: &GenPorts) -> Option<Value> {
    match p {
        GenPorts::All => None,
        GenPorts::Tcp80 => Some(json!([{"protocol": "TCP", "port": 80}])),
        GenPorts::Range70To90 => Some(json!([{"protocol": "TCP", "port": 70, "endPort": 90}])),
        GenPorts::NamedHttp => Some(json!([{"protocol": "TCP", "port": "http"}])),
    }
}

fn netpol_json(i: usize, np: &GenNetpol) -> Value {
    let rules = |rules: &[GenRule], key: &str| -> Value {
        rules
            .iter()
            .map(|r| {
                let mut rule = serde_json::Map::new();
                if !r.peers.is_empty() {
                    rule.insert(key.to_string(), r.peers.iter().map(np_peer).collect());
                }
                if let Some(ports) = np_ports(&r.ports) {
                    rule.insert("ports".to_string(), ports);
                }
                Value::Object(rule)
            })
            .collect()
    };
    let mut types = Vec::new();
    let mut spec = json!({"podSelector": np.app.map_or(json!({}), |a| json!({"matchLabels": {"app": a}}))});
    if let Some(r) = &np.ingress {
        types.push("Ingress");
        spec["ingress"] = rules(r, "from");
    }
    if let Some(r) = &np.egress {
        types.push("Egress");
        spec["egress"] = rules(r, "to");
    }
    spec["policyTypes"] = json!(types);
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": format!("np{i}"), "namespace": ns_name(np.ns)}, "spec": spec})
}

fn cluster_json(name: &str, c: &GenCluster) -> Value {
    let v1 = c.flavour >= 2;
    let pods = |team: Option<&str>, app: &str| -> Value {
        let ns = team.map_or(json!({}), |t| json!({"matchLabels": {"team": t}}));
        json!({"pods": {"namespaceSelector": ns, "podSelector": {"matchLabels": {"app": app}}}})
    };
    let peer = |p: &GenPeer| -> Value {
        match p {
            GenPeer::App(app) => pods(None, app),
            GenPeer::Team(team) => json!({"namespaces": {"matchLabels": {"team": team}}}),
            GenPeer::TeamApp(team, app) => pods(Some(team), app),
            GenPeer::Everywhere => json!({"networks": ["0.0.0.0/0"]}),
        }
    };
    let ports = |p: &GenPorts| -> Option<(&str, Value)> {
        match (p, v1) {
            (GenPorts::All, _) => None,
            (GenPorts::Tcp80, false) => {
                Some(("protocols", json!([{"tcp": {"destinationPort": {"number": 80}}}])))
            }
            (GenPorts::Tcp80, true) => {
                Some(("ports", json!([{"portNumber": {"protocol": "TCP", "port": 80}}])))
            }
            (GenPorts::Range70To90, false) => Some((
                "protocols",
                json!([{"tcp": {"destinationPort": {"range": {"start": 70, "end": 90}}}}]),
            )),
            (GenPorts::Range70To90, true) => {
                Some(("ports", json!([{"portRange": {"protocol": "TCP", "start": 70, "end": 90}}])))
            }
            (GenPorts::NamedHttp, false) => Some(("protocols", json!([{"destinationNamedPort": "http"}]))),
            (GenPorts::NamedHttp, true) => Some(("ports", json!([{"namedPort": "http"}]))),
        }
    };
    let actions = if v1 { ["Allow", "Deny", "Pass"] } else { ["Accept", "Deny", "Pass"] };
    let rules = |rules: &[GenRule], key: &str| -> Value {
        rules
            .iter()
            .map(|r| {
                let mut rule =
                    json!({"action": actions[r.action], key: r.peers.iter().map(peer).collect::<Vec<_>>()});
                if let Some((k, v)) = ports(&r.ports) {
                    rule[k] = v;
                }
                rule
            })
            .collect()
    };
    let subject = match &c.subject {
        GenPeer::Team(team) => json!({"namespaces": {"matchLabels": {"team": team}}}),
        other => peer(other),
    };
    let mut spec =
        json!({"subject": subject, "ingress": rules(&c.ingress, "from"), "egress": rules(&c.egress, "to")});
    let (api, kind) = match c.flavour {
        0 | 1 => {
            spec["tier"] = json!(if c.flavour == 0 { "Admin" } else { "Baseline" });
            spec["priority"] = json!(c.priority);
            ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy")
        }
        2 => {
            spec["priority"] = json!(c.priority);
            ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy")
        }
        _ => ("policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy"),
    };
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": spec})
}

// ---------- generators ----------

fn gen_peer(cluster_ingress: bool) -> impl Strategy<Value = GenPeer> {
    let app = prop::sample::select(APPS.to_vec());
    let team = prop::sample::select(TEAMS.to_vec());
    let mut options = vec![
        app.clone().prop_map(GenPeer::App).boxed(),
        team.clone().prop_map(GenPeer::Team).boxed(),
        (team, app).prop_map(|(t, a)| GenPeer::TeamApp(t, a)).boxed(),
    ];
    if !cluster_ingress {
        options.push(Just(GenPeer::Everywhere).boxed());
    }
    prop::strategy::Union::new(options)
}

fn gen_ports() -> impl Strategy<Value = GenPorts> {
    prop_oneof![
        Just(GenPorts::All),
        Just(GenPorts::Tcp80),
        Just(GenPorts::Range70To90),
        Just(GenPorts::NamedHttp)
    ]
}

fn gen_rule(actions: usize, ingress: bool, min_peers: usize) -> impl Strategy<Value = GenRule> {
    (0..actions, prop::collection::vec(gen_peer(ingress), min_peers..3), gen_ports()).prop_map(
        |(action, peers, ports)| {
            // A named port with a networks peer is refused by the CRD's CEL rule.
            let ports = if matches!(ports, GenPorts::NamedHttp)
                && peers.iter().any(|p| matches!(p, GenPeer::Everywhere))
            {
                GenPorts::Tcp80
            } else {
                ports
            };
            GenRule { action, peers, ports }
        },
    )
}

fn gen_cluster() -> impl Strategy<Value = GenCluster> {
    (0usize..4, 0u32..3, gen_peer(true)).prop_flat_map(|(flavour, priority, subject)| {
        let actions = if flavour == 3 { 2 } else { 3 };
        (
            prop::collection::vec(gen_rule(actions, true, 1), 0..3),
            prop::collection::vec(gen_rule(actions, false, 1), 0..3),
        )
            .prop_map(move |(ingress, egress)| GenCluster {
                flavour,
                priority,
                subject: subject.clone(),
                ingress,
                egress,
            })
    })
}

fn gen_netpol() -> impl Strategy<Value = GenNetpol> {
    let rules = |ingress| prop::option::of(prop::collection::vec(gen_rule(1, ingress, 0), 0..3));
    (0usize..3, prop::option::of(prop::sample::select(APPS.to_vec())), rules(false), rules(false)).prop_map(
        |(ns, app, ingress, egress)| {
            // No policyTypes at all would default to Ingress; say so explicitly.
            let ingress = if ingress.is_none() && egress.is_none() { Some(Vec::new()) } else { ingress };
            GenNetpol { ns, app, ingress, egress }
        },
    )
}

fn gen_model() -> impl Strategy<Value = Model> {
    let pod = (
        0usize..3,
        prop::sample::select(APPS.to_vec()),
        prop::option::of(prop_oneof![Just(80u16), Just(85u16)]),
    )
        .prop_map(|(ns, app, http)| GenPod { ns, app, http });
    (
        prop::collection::vec(pod, 2..6),
        prop::collection::vec(gen_netpol(), 0..3),
        prop::collection::vec(gen_cluster(), 0..5),
    )
        .prop_map(|(pods, netpols, clusters)| {
            // At most one BANP, named "default"; other names unique.
            let mut seen_banp = false;
            let clusters = clusters
                .into_iter()
                .enumerate()
                .filter(|(_, c)| c.flavour != 3 || !std::mem::replace(&mut seen_banp, true))
                .map(|(i, c)| (if c.flavour == 3 { "default".to_string() } else { format!("cp{i}") }, c))
                .collect();
            Model { pods, netpols, clusters }
        })
}

fn build(model: &Model) -> Analysis {
    let cluster = Cluster {
        namespaces: (0..3).map(|i| Namespace::new(ns_name(i), ns_labels(i))).collect(),
        pods: model
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let pod = Pod::new(ns_name(p.ns), format!("p{i}")).label("app", p.app);
                match p.http {
                    Some(port) => pod.named_port("http", Protocol::Tcp, port),
                    None => pod,
                }
            })
            .collect(),
        policies: model
            .netpols
            .iter()
            .enumerate()
            .map(|(i, np)| serde_json::from_value(netpol_json(i, np)).expect("generated NetworkPolicy"))
            .collect(),
        cluster_policies: model
            .clusters
            .iter()
            .map(|(name, c)| {
                let value = cluster_json(name, c);
                ClusterPolicy::from_value(&value).unwrap_or_else(|e| panic!("{e}\n{value:#}"))
            })
            .collect(),
        nodes: Vec::new(),
    };
    let options = Options { pod_cidrs: vec!["10.244.0.0/16".parse().unwrap()], ..Options::default() };
    Analysis::new(&cluster, options).expect("generated input is valid")
}

const PROBES: [(Protocol, u16); 5] = [
    (Protocol::Tcp, 80),
    (Protocol::Tcp, 85),
    (Protocol::Tcp, 8080),
    (Protocol::Udp, 80),
    (Protocol::Tcp, 70),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tiers_agree_with_the_naive_evaluator(model in gen_model()) {
        let analysis = build(&model);
        let id = |i: usize| analysis.pod_id(&ns_name(model.pods[i].ns), &format!("p{i}")).unwrap();
        let external: IpNet = "8.8.8.8/32".parse().unwrap();
        for (a, pa) in model.pods.iter().enumerate() {
            for (b, pb) in model.pods.iter().enumerate() {
                for (protocol, port) in PROBES {
                    let expected = a == b
                        || (side(&model, false, pa, Some(pb), Some(pb), protocol, port)
                            && side(&model, true, pb, Some(pa), Some(pb), protocol, port));
                    let from = Endpoint::Pod(id(a));
                    let to = Endpoint::Pod(id(b));
                    prop_assert_eq!(analysis.allows(from, to, protocol, port), expected,
                        "p{} -> p{} {}/{}", a, b, protocol, port);
                    let explained = analysis.explain(from, to, protocol, port).unwrap();
                    prop_assert_eq!(explained.allowed, expected, "{}", explained);
                }
            }
            for (protocol, port) in PROBES {
                let expected = side(&model, false, pa, None, None, protocol, port);
                let got = analysis.allows(Endpoint::Pod(id(a)), Endpoint::External(external), protocol, port);
                prop_assert_eq!(got, expected, "p{} -> 8.8.8.8 {}/{}", a, protocol, port);
            }
        }
        // internet-egress is the union of point queries at the internet's addresses: here
        // every address set is 0.0.0.0/0 or the pod range, so one public IPv4 and one
        // IPv6 address stand for all of them.
        let v6: IpNet = "2001:db8::1/128".parse().unwrap();
        let internet: BTreeMap<usize, autolabs_netpol::ConnSet> =
            autolabs_netpol::findings::internet_egress(&analysis).into_iter().map(|(c, conn)| (c.index(), conn)).collect();
        for (a, _) in model.pods.iter().enumerate() {
            let from = Endpoint::Pod(id(a));
            let want = analysis
                .allowed(from, Endpoint::External(external))
                .union(&analysis.allowed(from, Endpoint::External(v6)));
            let class = analysis.class_of(id(a)).unwrap().index();
            let got = internet.get(&class).cloned().unwrap_or_default();
            prop_assert_eq!(got, want, "internet egress of p{}", a);
        }
        // The enumerated connections and the namespace matrix agree with point queries.
        for (c, d, conn) in analysis.connections() {
            let (pc, pd) = (analysis.classes()[c.index()].members[0], analysis.classes()[d.index()].members[0]);
            if pc != pd {
                prop_assert_eq!(&conn, &analysis.allowed(Endpoint::Pod(pc), Endpoint::Pod(pd)));
            }
        }
        let mut reachable = 0;
        for (a, _) in model.pods.iter().enumerate() {
            for (b, _) in model.pods.iter().enumerate() {
                if a != b && !analysis.allowed(Endpoint::Pod(id(a)), Endpoint::Pod(id(b))).is_empty() {
                    reachable += 1;
                }
            }
        }
        let enumerated: usize = analysis
            .connections()
            .map(|(c, d, _)| {
                let (m, n) = (&analysis.classes()[c.index()].members, &analysis.classes()[d.index()].members);
                if c == d { m.len() * (m.len() - 1) } else { m.len() * n.len() }
            })
            .sum();
        prop_assert_eq!(enumerated, reachable, "connections() misses or invents pairs");
    }
}
