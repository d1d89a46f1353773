//! A deterministic synthetic cluster for benchmarks and property tests: `namespaces`
//! namespaces holding `pods` pods (apps `web`, `api`, `db`, `worker`, stable and canary),
//! and `policies` policies spread over the namespaces — default deny, DNS to kube-dns,
//! intra-app and cross-namespace flows, named ports, port ranges, ipBlocks and
//! `matchExpressions`. A `kube-system` namespace with two kube-dns pods is added.

use std::collections::BTreeMap;

use autolabs_k8s::k8s::{self, IntOrString, LabelSelector, LabelSelectorRequirement, ObjectMeta};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};

use crate::cluster::ClusterPolicy;
use crate::connset::Protocol;
use crate::model::{Cluster, NAMESPACE_NAME_LABEL, Namespace, Pod};

/// The size of a synthetic cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticParams {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
}

const APPS: [&str; 4] = ["web", "api", "db", "worker"];
const TIERS: [&str; 3] = ["frontend", "backend", "data"];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector { match_labels: Some(labels(pairs)), match_expressions: None }
}

fn port(protocol: &str, port: IntOrString, end_port: Option<i32>) -> NetworkPolicyPort {
    NetworkPolicyPort { protocol: Some(protocol.to_string()), port: Some(port), end_port }
}

fn pods_peer(namespaces: Option<LabelSelector>, pods: Option<LabelSelector>) -> NetworkPolicyPeer {
    NetworkPolicyPeer { namespace_selector: namespaces, pod_selector: pods, ip_block: None }
}

fn internet_peer() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: "0.0.0.0/0".into(),
            except: Some(vec!["10.0.0.0/8".into(), "172.16.0.0/12".into(), "192.168.0.0/16".into()]),
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn policy(ns: &str, name: &str, spec: NetworkPolicySpec) -> k8s::NetworkPolicy {
    k8s::NetworkPolicy {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some(ns.into()), ..ObjectMeta::default() },
        spec: Some(spec),
    }
}

fn ingress(pods: LabelSelector, rules: Vec<NetworkPolicyIngressRule>) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(pods),
        ingress: Some(rules),
        policy_types: Some(vec!["Ingress".into()]),
        ..NetworkPolicySpec::default()
    }
}

fn egress(pods: LabelSelector, rules: Vec<NetworkPolicyEgressRule>) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(pods),
        egress: Some(rules),
        policy_types: Some(vec!["Egress".into()]),
        ..NetworkPolicySpec::default()
    }
}

fn namespace_name(i: usize) -> String {
    format!("ns-{i:05}")
}

/// The `index`-th policy of namespace `ns` (index 0 is the default deny).
fn nth_policy(ns_index: usize, index: usize) -> k8s::NetworkPolicy {
    let ns = namespace_name(ns_index);
    let team = format!("team-{}", ns_index / 10);
    let n = |s: &str| IntOrString::String(s.to_string());
    let num = IntOrString::Int;
    let spec = match index {
        0 => NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        },
        1 => egress(
            LabelSelector::default(),
            vec![NetworkPolicyEgressRule {
                to: Some(vec![pods_peer(
                    Some(selector(&[(NAMESPACE_NAME_LABEL, "kube-system")])),
                    Some(selector(&[("k8s-app", "kube-dns")])),
                )]),
                ports: Some(vec![port("UDP", num(53), None), port("TCP", num(53), None)]),
            }],
        ),
        2 => ingress(
            selector(&[("app", "web")]),
            vec![NetworkPolicyIngressRule {
                from: Some(vec![
                    pods_peer(Some(selector(&[("tier", "frontend"), ("team", team.as_str())])), None),
                    internet_peer(),
                ]),
                ports: Some(vec![port("TCP", n("http"), None)]),
            }],
        ),
        3 => ingress(
            selector(&[("app", "api")]),
            vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![pods_peer(None, Some(selector(&[("app", "web")])))]),
                    ports: Some(vec![port("TCP", n("grpc"), None)]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![pods_peer(
                        Some(selector(&[("team", team.as_str())])),
                        Some(selector(&[("app", "web")])),
                    )]),
                    ports: Some(vec![port("TCP", num(9090), Some(9099))]),
                },
            ],
        ),
        4 => ingress(
            selector(&[("app", "db")]),
            vec![NetworkPolicyIngressRule {
                from: Some(vec![pods_peer(None, Some(selector(&[("app", "api")])))]),
                ports: Some(vec![port("TCP", num(5432), None)]),
            }],
        ),
        5 => egress(
            selector(&[("app", "web")]),
            vec![NetworkPolicyEgressRule {
                to: Some(vec![
                    pods_peer(None, Some(selector(&[("app", "api")]))),
                    pods_peer(Some(selector(&[("team", team.as_str())])), Some(selector(&[("app", "api")]))),
                ]),
                ports: Some(vec![port("TCP", n("grpc"), None)]),
            }],
        ),
        6 => egress(
            selector(&[("app", "api")]),
            vec![NetworkPolicyEgressRule {
                to: Some(vec![pods_peer(None, Some(selector(&[("app", "db")])))]),
                ports: Some(vec![port("TCP", n("pg"), None)]),
            }],
        ),
        7 => egress(
            selector(&[("app", "worker")]),
            vec![NetworkPolicyEgressRule {
                to: Some(vec![internet_peer()]),
                ports: Some(vec![port("TCP", num(443), None)]),
            }],
        ),
        8 => ingress(
            LabelSelector::default(),
            vec![NetworkPolicyIngressRule {
                from: Some(vec![pods_peer(
                    Some(LabelSelector {
                        match_labels: None,
                        match_expressions: Some(vec![LabelSelectorRequirement {
                            key: "tier".into(),
                            operator: "In".into(),
                            values: Some(vec!["backend".into(), "data".into()]),
                        }]),
                    }),
                    Some(selector(&[("app", "worker")])),
                )]),
                ports: Some(vec![port("TCP", n("metrics"), None)]),
            }],
        ),
        k => ingress(
            LabelSelector {
                match_labels: Some(labels(&[("app", APPS[k % 4])])),
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "track".into(),
                    operator: "In".into(),
                    values: Some(vec!["canary".into()]),
                }]),
            },
            vec![NetworkPolicyIngressRule {
                from: Some(vec![pods_peer(None, Some(LabelSelector::default()))]),
                ports: Some(vec![port("TCP", num(10000 + (k % 50000) as i32), None)]),
            }],
        ),
    };
    let name = match index {
        0 => "default-deny".to_string(),
        1 => "allow-dns".to_string(),
        2 => "web-ingress".to_string(),
        3 => "api-ingress".to_string(),
        4 => "db-ingress".to_string(),
        5 => "web-egress".to_string(),
        6 => "api-egress".to_string(),
        7 => "worker-internet".to_string(),
        8 => "metrics-scrape".to_string(),
        k => format!("canary-{k}"),
    };
    policy(&ns, &name, spec)
}

/// Builds the cluster; the same parameters always give the same cluster.
pub fn generate(params: SyntheticParams) -> Cluster {
    let n = params.namespaces.max(1);
    let mut namespaces = vec![Namespace::new("kube-system", BTreeMap::new())];
    for i in 0..n {
        let team = format!("team-{}", i / 10);
        namespaces
            .push(Namespace::new(namespace_name(i), labels(&[("tier", TIERS[i % 3]), ("team", &team)])));
    }
    let mut pods = Vec::with_capacity(params.pods + 2);
    for j in 0..2 {
        pods.push(
            Pod::new("kube-system", format!("coredns-{j}"))
                .label("k8s-app", "kube-dns")
                .named_port("dns", Protocol::Udp, 53)
                .named_port("dns-tcp", Protocol::Tcp, 53)
                .named_port("metrics", Protocol::Tcp, 9153),
        );
    }
    for j in 0..params.pods {
        let ns = j % n;
        let app = APPS[(j / n) % APPS.len()];
        let track = if (j / (n * APPS.len())) % 5 == 4 { "canary" } else { "stable" };
        let mut pod =
            Pod::new(namespace_name(ns), format!("{app}-{j}")).label("app", app).label("track", track);
        pod = match app {
            "web" => pod.named_port("http", Protocol::Tcp, 8080),
            "api" => pod.named_port("grpc", Protocol::Tcp, 9090).named_port("metrics", Protocol::Tcp, 9100),
            "db" => pod.named_port("pg", Protocol::Tcp, 5432),
            _ => pod.named_port("metrics", Protocol::Tcp, 9100),
        };
        pods.push(pod);
    }
    let mut policies = Vec::with_capacity(params.policies);
    for k in 0..params.policies {
        policies.push(nth_policy(k % n, k / n));
    }
    Cluster { namespaces, pods, policies, ..Default::default() }
}

/// `count` cluster-wide policies over a cluster from [`generate`] with `namespaces`
/// namespaces: per team, an Admin-tier guardrail (Pass DNS to kube-system, Deny the data
/// tier of other teams, Accept the team's own namespaces) at its own priority; every
/// fourth one a v1alpha1 AdminNetworkPolicy; and one Baseline policy that denies ingress
/// from other tiers. The same arguments always give the same policies.
#[allow(clippy::expect_used, reason = "the policies are literals of this function, checked by its tests")]
pub fn cluster_policies(namespaces: usize, count: usize) -> Vec<ClusterPolicy> {
    let teams = namespaces.max(1).div_ceil(10);
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let team = format!("team-{}", k % teams);
        let name = format!("guardrail-{k}");
        let value = if k == count - 1 {
            serde_json::json!({
                "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
                "metadata": {"name": "baseline-tiers"},
                "spec": {"tier": "Baseline", "priority": 0, "subject": {"namespaces": {"matchLabels": {"tier": "data"}}},
                    "ingress": [
                        {"action": "Accept", "from": [{"namespaces": {"matchLabels": {"tier": "backend"}}}]},
                        {"action": "Deny", "from": [{"namespaces": {}}]}
                    ]}
            })
        } else if k % 4 == 3 {
            serde_json::json!({
                "apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
                "metadata": {"name": name},
                "spec": {"priority": k % 1000, "subject": {"pods": {
                        "namespaceSelector": {"matchLabels": {"team": team}},
                        "podSelector": {"matchLabels": {"app": APPS[k % 4]}}}},
                    "egress": [
                        {"action": "Deny", "to": [{"networks": ["169.254.169.254/32"]}]},
                        {"action": "Allow", "to": [{"pods": {"namespaceSelector": {"matchLabels": {"team": team}},
                            "podSelector": {"matchLabels": {"app": "db"}}}}], "ports": [{"namedPort": "pg"}]}
                    ]}
            })
        } else {
            serde_json::json!({
                "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
                "metadata": {"name": name},
                "spec": {"tier": "Admin", "priority": k % 1000, "subject": {"namespaces": {"matchLabels": {"team": team}}},
                    "egress": [
                        {"action": "Pass", "to": [{"namespaces": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}}}],
                         "protocols": [{"udp": {"destinationPort": {"number": 53}}}, {"tcp": {"destinationPort": {"number": 53}}}]},
                        {"action": "Deny", "to": [{"namespaces": {"matchExpressions": [
                            {"key": "team", "operator": "NotIn", "values": [team]},
                            {"key": "tier", "operator": "In", "values": ["data"]}]}}]},
                        {"action": "Accept", "to": [{"namespaces": {"matchLabels": {"team": team}}}],
                         "protocols": [{"tcp": {"destinationPort": {"range": {"start": 8000, "end": 9999}}}}]}
                    ],
                    "ingress": [
                        {"action": "Deny", "from": [{"pods": {"namespaceSelector": {"matchLabels": {"tier": "frontend"}}, "podSelector": {"matchLabels": {"track": "canary"}}}}]}
                    ]}
            })
        };
        out.push(ClusterPolicy::from_value(&value).expect("synthetic cluster policies are valid"));
    }
    out
}
