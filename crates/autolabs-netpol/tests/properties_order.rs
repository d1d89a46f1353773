//! Order and monotonicity laws of NetworkPolicy, checked on small random clusters through the
//! public API:
//!
//! - (a) once every pod is isolated in both directions, adding a policy never removes a
//!   connection: rules of all policies selecting a pod are unioned, and isolation cannot grow
//!   further (`k8s.io/api/networking/v1/types.go`, NetworkPolicySpec: "policies are additive");
//! - (b) adding a default-deny ingress policy to a namespace that had none leaves no connection
//!   into its pods but a pod's own (a pod may always reach itself);
//! - (c) results do not depend on the order of policies, pods or namespaces in the input
//!   (policies are a set; the API server keeps no order between objects).

use std::collections::BTreeMap;

use autolabs_k8s::k8s;
use autolabs_netpol::{Analysis, Cluster, ConnSet, Endpoint, IpNet, Namespace, Options, Pod, Protocol};
use proptest::prelude::*;
use serde_json::{Value, json};

const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const APPS: [&str; 3] = ["web", "db", "api"];
const EXTERNALS: [&str; 3] = ["8.8.8.8/32", "10.1.2.3/32", "10.200.0.0/24"];

fn policy(value: Value) -> k8s::NetworkPolicy {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("generated policy deserializes: {e}"))
}

fn arb_pod_selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        prop::sample::select(APPS.to_vec()).prop_map(|a| json!({"matchLabels": {"app": a}})),
        prop::sample::select(APPS.to_vec())
            .prop_map(|a| json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": [a]}]})),
        Just(json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]})),
    ]
}

fn arb_namespace_selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        prop::sample::select(vec!["x", "y"]).prop_map(|t| json!({"matchLabels": {"team": t}})),
        prop::sample::select(NAMESPACES.to_vec())
            .prop_map(|n| json!({"matchLabels": {"kubernetes.io/metadata.name": n}})),
    ]
}

fn arb_peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_pod_selector().prop_map(|p| json!({"podSelector": p})),
        arb_namespace_selector().prop_map(|n| json!({"namespaceSelector": n})),
        (arb_namespace_selector(), arb_pod_selector())
            .prop_map(|(n, p)| json!({"namespaceSelector": n, "podSelector": p})),
        Just(json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}})),
        Just(json!({"ipBlock": {"cidr": "0.0.0.0/0"}})),
    ]
}

fn arb_port() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"port": 80})),
        Just(json!({"protocol": "UDP", "port": 53})),
        Just(json!({"port": "http"})),
        Just(json!({"port": 8000, "endPort": 8100})),
        Just(json!({"protocol": "UDP"})),
        Just(json!({})),
    ]
}

/// A rule: `from`/`to` absent, empty or some peers; `ports` absent, empty or some ports.
fn arb_rule(peer_key: &'static str) -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::collection::vec(arb_peer(), 0..3)),
        prop::option::of(prop::collection::vec(arb_port(), 0..3)),
    )
        .prop_map(move |(peers, ports)| {
            let mut rule = serde_json::Map::new();
            if let Some(p) = peers {
                rule.insert(peer_key.to_string(), Value::Array(p));
            }
            if let Some(p) = ports {
                rule.insert("ports".to_string(), Value::Array(p));
            }
            Value::Object(rule)
        })
}

/// A policy of a random namespace; its name is made unique by the caller.
fn arb_policy() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(NAMESPACES.to_vec()),
        arb_pod_selector(),
        prop::option::of(prop::collection::vec(arb_rule("from"), 0..3)),
        prop::option::of(prop::collection::vec(arb_rule("to"), 0..3)),
        prop::option::of(prop::sample::select(vec![
            vec!["Ingress"],
            vec!["Egress"],
            vec!["Ingress", "Egress"],
        ])),
    )
        .prop_map(|(namespace, selector, ingress, egress, types)| {
            let mut spec = serde_json::Map::new();
            spec.insert("podSelector".into(), selector);
            if let Some(i) = ingress {
                spec.insert("ingress".into(), Value::Array(i));
            }
            if let Some(e) = egress {
                spec.insert("egress".into(), Value::Array(e));
            }
            if let Some(t) = types {
                spec.insert("policyTypes".into(), json!(t));
            }
            json!({"metadata": {"namespace": namespace, "name": "p"}, "spec": Value::Object(spec)})
        })
}

fn name_policies(mut policies: Vec<Value>, prefix: &str) -> Vec<k8s::NetworkPolicy> {
    for (i, p) in policies.iter_mut().enumerate() {
        p["metadata"]["name"] = json!(format!("{prefix}{i}"));
    }
    policies.into_iter().map(policy).collect()
}

/// Pods without hostNetwork (which no policy can isolate): namespace, app, tier, named port.
fn arb_pods(host_network: bool) -> impl Strategy<Value = Vec<Pod>> {
    let pod = (
        prop::sample::select(NAMESPACES.to_vec()),
        prop::option::of(prop::sample::select(APPS.to_vec())),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![80u16, 8080])),
        prop::bool::weighted(if host_network { 0.15 } else { 0.0 }),
    );
    prop::collection::vec(pod, 1..7).prop_map(|pods| {
        pods.into_iter()
            .enumerate()
            .map(|(i, (ns, app, tier, http, host))| {
                let mut pod = Pod::new(ns, format!("pod{i}")).host_network(host);
                if let Some(app) = app {
                    pod = pod.label("app", app);
                }
                if tier {
                    pod = pod.label("tier", "be");
                }
                if let Some(port) = http {
                    pod = pod.named_port("http", Protocol::Tcp, port);
                }
                pod
            })
            .collect()
    })
}

fn namespaces() -> Vec<Namespace> {
    NAMESPACES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let team = if i % 2 == 0 { "x" } else { "y" };
            Namespace::new(*n, BTreeMap::from([("team".to_string(), team.to_string())]))
        })
        .collect()
}

fn analyse(cluster: &Cluster) -> Analysis {
    Analysis::new(cluster, Options::default()).unwrap_or_else(|e| panic!("generated cluster is valid: {e:?}"))
}

/// Every endpoint by a stable name: pods as `ns/name`, externals by CIDR.
fn endpoints(a: &Analysis) -> Vec<(String, Endpoint)> {
    let mut out: Vec<(String, Endpoint)> = a
        .pod_ids()
        .filter_map(|id| a.pod(id).map(|p| (format!("{}/{}", p.namespace, p.name), Endpoint::Pod(id))))
        .collect();
    for cidr in EXTERNALS {
        let net: IpNet = cidr.parse().unwrap_or_else(|e| panic!("{cidr}: {e}"));
        out.push((cidr.to_string(), Endpoint::External(net)));
    }
    out
}

/// `(from, to) → allowed` for every ordered pair of endpoints (externals only with pods).
fn all_allowed(a: &Analysis) -> BTreeMap<(String, String), ConnSet> {
    let ends = endpoints(a);
    let mut out = BTreeMap::new();
    for (from_name, from) in &ends {
        for (to_name, to) in &ends {
            if matches!((from, to), (Endpoint::External(_), Endpoint::External(_))) {
                continue;
            }
            out.insert((from_name.clone(), to_name.clone()), a.allowed(*from, *to));
        }
    }
    out
}

fn default_deny(namespace: &str, types: &[&str]) -> k8s::NetworkPolicy {
    policy(json!({
        "metadata": {"namespace": namespace, "name": "zz-default-deny"},
        "spec": {"podSelector": {}, "policyTypes": types}
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// (a) Policies only add once every pod is isolated both ways.
    #[test]
    fn a_policy_added_to_isolated_pods_never_removes_a_connection(
        pods in arb_pods(false),
        policies in prop::collection::vec(arb_policy(), 0..5),
        extra in arb_policy(),
    ) {
        let mut cluster = Cluster { namespaces: namespaces(), pods, policies: name_policies(policies, "p"), ..Default::default() };
        for ns in NAMESPACES {
            cluster.policies.push(default_deny(ns, &["Ingress", "Egress"]));
        }
        let before = analyse(&cluster);
        for id in before.pod_ids() {
            prop_assert_eq!(before.isolation(id), Some((true, true)));
        }
        let mut extra = extra;
        extra["metadata"]["name"] = json!("added");
        cluster.policies.push(policy(extra));
        let after = analyse(&cluster);
        let (old, new) = (all_allowed(&before), all_allowed(&after));
        for (pair, conns) in &old {
            let now = new.get(pair).cloned().unwrap_or_default();
            let lost = conns.difference(&now);
            prop_assert!(lost.is_empty(), "{} -> {} lost {}", pair.0, pair.1, lost);
        }
    }

    /// (b) A default deny (ingress) in a namespace without policies lets nothing in but a pod's own.
    #[test]
    fn a_default_deny_leaves_only_a_pods_own_connections(
        pods in arb_pods(false),
        policies in prop::collection::vec(arb_policy(), 0..5),
        target in prop::sample::select(NAMESPACES.to_vec()),
    ) {
        let policies: Vec<Value> =
            policies.into_iter().filter(|p| p["metadata"]["namespace"] != target).collect();
        let mut cluster = Cluster { namespaces: namespaces(), pods, policies: name_policies(policies, "p"), ..Default::default() };
        cluster.policies.push(default_deny(target, &["Ingress"]));
        let a = analyse(&cluster);
        let ends = endpoints(&a);
        for (to_name, to) in &ends {
            let Endpoint::Pod(id) = to else { continue };
            if a.pod(*id).is_none_or(|p| p.namespace != target) {
                continue;
            }
            for (from_name, from) in &ends {
                let conns = a.allowed(*from, *to);
                if from == to {
                    prop_assert!(conns.is_all(), "{} -> itself", to_name);
                } else {
                    prop_assert!(conns.is_empty(), "{} -> {} allows {}", from_name, to_name, conns);
                }
            }
        }
    }

    /// (c) The order of policies, pods and namespaces does not matter.
    #[test]
    fn results_do_not_depend_on_input_order(
        (pods, shuffled_pods) in arb_pods(true).prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
        (policies, shuffled_policies) in prop::collection::vec(arb_policy(), 0..6)
            .prop_map(|p| name_policies(p, "p"))
            .prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
        reverse_namespaces in any::<bool>(),
    ) {
        let original = analyse(&Cluster { namespaces: namespaces(), pods, policies, ..Default::default() });
        let mut ns = namespaces();
        if reverse_namespaces {
            ns.reverse();
        }
        let shuffled = analyse(&Cluster { namespaces: ns, pods: shuffled_pods, policies: shuffled_policies, ..Default::default() });
        prop_assert_eq!(original.namespace_matrix(), shuffled.namespace_matrix());
        prop_assert_eq!(all_allowed(&original), all_allowed(&shuffled));
    }
}

#[test]
fn the_laws_hold_on_a_hand_written_case() {
    // x/web may reach y/db on 5432 once y's pods are isolated; adding a policy that admits
    // everything into y only adds; a default deny in fresh namespace z shuts z's pod in.
    let pods = vec![
        Pod::new("a", "web").label("app", "web"),
        Pod::new("b", "db").label("app", "db"),
        Pod::new("c", "api").label("app", "api"),
    ];
    let mut cluster = Cluster { namespaces: namespaces(), pods, policies: Vec::new(), ..Default::default() };
    for ns in NAMESPACES {
        cluster.policies.push(default_deny(ns, &["Ingress", "Egress"]));
    }
    cluster.policies.push(policy(json!({
        "metadata": {"namespace": "b", "name": "db-in"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [{"port": 5432}]}]}
    })));
    cluster.policies.push(policy(json!({
        "metadata": {"namespace": "a", "name": "web-out"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
    })));
    let a = analyse(&cluster);
    let id = |ns: &str, n: &str| Endpoint::Pod(a.pod_id(ns, n).unwrap_or_else(|| panic!("{ns}/{n}")));
    assert_eq!(a.allowed(id("a", "web"), id("b", "db")), ConnSet::port(Protocol::Tcp, 5432));
    assert!(a.allowed(id("c", "api"), id("b", "db")).is_empty());
    assert!(a.allowed(id("c", "api"), id("c", "api")).is_all());
}
