//! The generic findings helpers, and the synthetic generator they are benchmarked on.

mod common;

use autolabs_netpol::findings::{self, DefaultDenyGap};
use autolabs_netpol::synthetic::{SyntheticParams, generate};
use autolabs_netpol::{Analysis, ConnSet, Options, Pod, Protocol};
use common::{analyse, fixture, policies};

#[test]
fn default_deny_gaps_per_direction() {
    let cluster = fixture(
        "
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
metadata: {name: deny-in, namespace: y}
spec: {podSelector: {}}
---
metadata: {name: not-default, namespace: z}
spec: {podSelector: {matchLabels: {app: a}}, policyTypes: [Ingress, Egress]}
",
    );
    let analysis = analyse(&cluster, Options::default());
    let gaps = findings::namespaces_without_default_deny(&analysis);
    assert_eq!(
        gaps,
        [
            DefaultDenyGap { namespace: "y".into(), ingress_missing: false, egress_missing: true },
            DefaultDenyGap { namespace: "z".into(), ingress_missing: true, egress_missing: true },
        ]
    );
}

#[test]
fn exposure_internet_and_dns() {
    let mut cluster = fixture(
        "
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
metadata: {name: dns, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
---
metadata: {name: internet, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}]
    ports: [{port: 443}]
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
---
metadata: {name: open, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{namespaceSelector: {}}]}]
",
    );
    // Without kube-dns pods, a standard kube-dns is assumed.
    let analysis = analyse(&cluster, Options::default());
    let class_of =
        |a: &Analysis, ns: &str, name: &str| a.class_of(a.pod_id(ns, name).expect("pod")).expect("class");
    let dns = findings::dns_blocked(&analysis);
    assert_eq!(dns.len(), 1, "{dns:?}");
    assert_eq!(dns[0].class, class_of(&analysis, "x", "b"));
    assert!(dns[0].udp_blocked && dns[0].tcp_blocked);

    let internet: Vec<(String, String)> = findings::internet_egress(&analysis)
        .into_iter()
        .filter(|(c, _)| analysis.classes()[c.index()].namespace == "x")
        .map(|(c, conn)| (analysis.classes()[c.index()].labels["app"].clone(), conn.to_string()))
        .collect();
    assert_eq!(internet, [("b".to_string(), "TCP 443".to_string())]);

    // y/a has no policy: reachable from x (the hostNetwork pod), y and z. x/a admits every
    // namespace, but no pod of x may send to it (egress isolated; hostNetwork pods are not
    // matched by namespaceSelector), so both sides considered it is not exposed.
    let exposed = findings::exposed_to_every_namespace(&analysis);
    assert!(exposed.contains(&class_of(&analysis, "y", "a")));
    assert!(!exposed.contains(&class_of(&analysis, "x", "a")));
    assert!(!exposed.contains(&class_of(&analysis, "x", "b")));

    // With real kube-dns pods, their classes are the targets.
    cluster.pods.push(Pod::new("kube-system", "coredns").label("k8s-app", "kube-dns"));
    let analysis = analyse(&cluster, Options::default());
    assert_eq!(findings::dns_blocked(&analysis).len(), 1);
}

#[test]
fn synthetic_cluster_is_deterministic_and_valid() {
    let params = SyntheticParams { namespaces: 20, pods: 200, policies: 220 };
    let (a, b) = (generate(params), generate(params));
    assert_eq!(a.pods, b.pods);
    assert_eq!(a.policies, b.policies);
    assert_eq!(a.policies.len(), 220);
    assert_eq!(a.pods.len(), 202); // plus two kube-dns pods
    let analysis = analyse(&a, Options::default());
    // Every synthetic namespace has default deny both ways and working DNS.
    let gaps = findings::namespaces_without_default_deny(&analysis);
    assert_eq!(gaps.iter().map(|g| g.namespace.as_str()).collect::<Vec<_>>(), ["kube-system"]);
    assert!(findings::dns_blocked(&analysis).is_empty());
    let matrix = analysis.namespace_matrix();
    let dns = ConnSet::port(Protocol::Udp, 53).union(&ConnSet::port(Protocol::Tcp, 53));
    assert_eq!(matrix.get(&("ns-00003".to_string(), "kube-system".to_string())), Some(&dns));
    // web -> api within a namespace, on the named port grpc (9090).
    assert_eq!(
        matrix.get(&("ns-00003".to_string(), "ns-00003".to_string())).map(ToString::to_string),
        Some("TCP 5432,9090".to_string())
    );
}

#[test]
fn policies_helper_parses_multi_documents() {
    assert_eq!(policies("metadata: {name: a}\n---\nmetadata: {name: b}\n").len(), 2);
}
