//! Modelling choices that matter on inputs we did not render: `hostNetwork` pods, pods that
//! one workload groups but policies tell apart, and named ports that cannot match. Each row
//! names the upstream rule (or the documented choice) it follows.

mod common;

use autolabs_netpol::findings::{self, NamedPortProblem};
use autolabs_netpol::{Analysis, Cluster, HostNetwork, NetpolError, Options, Pod, Protocol};
use common::{analyse, endpoint, fixture, policies};

const DENY_ALL_X: &str = "
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
";

#[test]
fn host_network_pods_are_exempt_by_default_and_ordinary_pods_on_request() {
    // Kubernetes leaves hostNetwork pods to the plugin (NetworkPolicy concepts page,
    // "NetworkPolicy and hostNetwork pods"); Calico and Cilium exempt them, np-guard's
    // netpol-analyzer analyses them as pods.
    let cluster = fixture(DENY_ALL_X);
    let exempt = analyse(&cluster, Options::default());
    let as_pod = analyse(&cluster, Options { host_network: HostNetwork::AsPod, ..Options::default() });
    let rows: &[(&str, &str, bool, bool)] = &[
        // (from, to, allowed when exempt, allowed as a pod)
        ("y/a", "x/host", true, false),
        ("x/host", "y/a", true, false),
        ("y/a", "x/a", false, false),
    ];
    for &(from, to, when_exempt, when_pod) in rows {
        let got = exempt.allows(endpoint(&exempt, from), endpoint(&exempt, to), Protocol::Tcp, 80);
        assert_eq!(got, when_exempt, "exempt: {from} -> {to}");
        let got = as_pod.allows(endpoint(&as_pod, from), endpoint(&as_pod, to), Protocol::Tcp, 80);
        assert_eq!(got, when_pod, "as-pod: {from} -> {to}");
    }
    // Selected by labels only as a pod: a rule admitting app=a admits x/host then.
    let cluster = fixture(
        "
metadata: {name: deny-all, namespace: y}
spec: {podSelector: {}}
---
metadata: {name: from-a, namespace: y}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}]}]
",
    );
    let exempt = analyse(&cluster, Options::default());
    let as_pod = analyse(&cluster, Options { host_network: HostNetwork::AsPod, ..Options::default() });
    assert!(!exempt.allows(endpoint(&exempt, "x/host"), endpoint(&exempt, "y/c"), Protocol::Tcp, 80));
    assert!(as_pod.allows(endpoint(&as_pod, "x/host"), endpoint(&as_pod, "y/c"), Protocol::Tcp, 80));
    // Either way the pod is reported as a hostNetwork pod, and only as-pod puts it in an
    // ordinary class.
    for a in [&exempt, &as_pod] {
        let hosts: Vec<String> =
            a.host_network_pods().into_iter().filter_map(|p| a.pod(p)).map(|p| p.name.clone()).collect();
        assert_eq!(hosts, ["host"]);
    }
    let class_flag = |a: &Analysis| {
        let id = a.pod_id("x", "host").and_then(|p| a.class_of(p)).expect("x/host has a class");
        a.class(id).expect("class").host_network
    };
    assert!(class_flag(&exempt));
    assert!(!class_flag(&as_pod));
    assert_eq!(HostNetwork::default(), HostNetwork::Exempt);
    assert_eq!([HostNetwork::Exempt.as_str(), HostNetwork::AsPod.as_str()], ["exempt", "as-pod"]);
}

fn two_pods(labels_a: &[(&str, &str)], labels_b: &[(&str, &str)], policy_yaml: &str) -> Analysis {
    let pod = |name: &str, labels: &[(&str, &str)]| {
        labels.iter().fold(Pod::new("x", name), |p, (k, v)| p.label(*k, *v))
    };
    let cluster = Cluster {
        namespaces: vec![],
        pods: vec![pod("p1", labels_a), pod("p2", labels_b), Pod::new("y", "client").label("role", "client")],
        policies: policies(policy_yaml),
        ..Default::default()
    };
    analyse(&cluster, Options::default())
}

type Labels = &'static [(&'static str, &'static str)];

/// (rule, labels of x/p1, labels of x/p2, policies, expected (policy, field))
type DistinguishRow = (&'static str, Labels, Labels, &'static str, Option<(&'static str, &'static str)>);

#[test]
fn pods_are_told_apart_only_by_a_selector_that_selects_one_of_them() {
    // np-guard pkg/netpol/eval/resources.go checkConsistentLabelsForPodsOfSameOwner: pods of
    // one owner whose differing labels a policy selector uses cannot be one workload.
    let rows: &[DistinguishRow] = &[
        (
            "the policy's podSelector selects one pod only",
            &[("app", "web"), ("tier", "a")],
            &[("app", "web"), ("tier", "b")],
            "
metadata: {name: only-a, namespace: x}
spec: {podSelector: {matchLabels: {tier: a}}}
",
            Some(("x/only-a", "spec.podSelector")),
        ),
        (
            "labels differ where no selector looks: harmless",
            &[("app", "web"), ("pod-template-hash", "1")],
            &[("app", "web"), ("pod-template-hash", "2")],
            "
metadata: {name: web, namespace: x}
spec: {podSelector: {matchLabels: {app: web}}}
",
            None,
        ),
        (
            "a peer podSelector (in a policy of another namespace, through a namespaceSelector)",
            &[("app", "web")],
            &[("app", "web"), ("canary", "true")],
            "
metadata: {name: client-egress, namespace: y}
spec:
  podSelector: {}
  egress: [{to: [{namespaceSelector: {}, podSelector: {matchExpressions: [{key: canary, operator: DoesNotExist}]}}]}]
",
            Some(("y/client-egress", "spec.egress[0].to[0].podSelector")),
        ),
        (
            "a peer podSelector without namespaceSelector only reaches its policy's namespace",
            &[("app", "web")],
            &[("app", "web"), ("canary", "true")],
            "
metadata: {name: client-egress, namespace: y}
spec:
  podSelector: {}
  egress: [{to: [{podSelector: {matchLabels: {canary: 'true'}}}]}]
",
            None,
        ),
    ];
    for (rule, a, b, yaml, expected) in rows {
        let analysis = two_pods(a, b, yaml);
        let (p1, p2) = (analysis.pod_id("x", "p1").expect("p1"), analysis.pod_id("x", "p2").expect("p2"));
        let got = findings::distinguishing_selector(&analysis, p1, p2);
        let got = got.as_ref().map(|d| (d.policy.to_string(), d.field.as_str()));
        assert_eq!(got.as_ref().map(|(p, f)| (p.as_str(), *f)), *expected, "{rule}");
    }
}

/// (rule, policies, expected `(policy, field, problem)` in order)
type GapRow = (&'static str, &'static str, &'static [(&'static str, &'static str, NamedPortKind)]);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedPortKind {
    OnlyIpBlocks,
    IpBlockPeers,
    Undefined,
}

const GAP_ROWS: &[GapRow] = &[
    (
        "types.go NetworkPolicyPort.port: an ingress named port resolves on the selected pods; x/b has no `dns`",
        "
metadata: {name: b-in, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{ports: [{port: 80}, {port: dns}]}]
",
        &[("x/b-in", "spec.ingress[0].ports[1]", NamedPortKind::Undefined)],
    ),
    (
        "a named port matches only with its protocol (x/a has dns on UDP, not TCP)",
        "
metadata: {name: a-in, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: dns, protocol: UDP}, {port: dns, protocol: TCP}]}]
",
        &[("x/a-in", "spec.ingress[0].ports[1]", NamedPortKind::Undefined)],
    ),
    (
        "types.go NetworkPolicyPort.port (\"a named port on a pod\"): egress to ipBlocks only never matches",
        "
metadata: {name: to-net, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}, {ipBlock: {cidr: 192.168.0.0/16}}], ports: [{port: http}]}]
",
        &[("x/to-net", "spec.egress[0].ports[0]", NamedPortKind::OnlyIpBlocks)],
    ),
    (
        "egress to a pod peer and an ipBlock: the name resolves on x/b, never on the block",
        "
metadata: {name: mixed, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: b}}}, {ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: http}]}]
",
        &[("x/mixed", "spec.egress[0].ports[0]", NamedPortKind::IpBlockPeers)],
    ),
    (
        "egress named port resolves on the destination pods; y/c defines none",
        "
metadata: {name: to-db, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {team: y}}, podSelector: {matchLabels: {app: c}}}], ports: [{port: http}]}]
",
        &[("x/to-db", "spec.egress[0].ports[0]", NamedPortKind::Undefined)],
    ),
    (
        "an egress rule without peers reaches every pod; x/a defines http",
        "
metadata: {name: anywhere, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: http}]}]
",
        &[],
    ),
    (
        "a policy that selects no pod, or a peer that matches none, is not judged",
        "
metadata: {name: nobody, namespace: x}
spec:
  podSelector: {matchLabels: {app: nobody}}
  ingress: [{ports: [{port: nope}]}]
---
metadata: {name: to-nobody, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: nobody}}}], ports: [{port: nope}]}]
",
        &[],
    ),
];

#[test]
fn named_ports_that_cannot_match_are_found() {
    for (rule, yaml, expected) in GAP_ROWS {
        let analysis = analyse(&fixture(yaml), Options::default());
        let gaps = findings::named_port_gaps(&analysis, |_| true);
        let got: Vec<(String, String, NamedPortKind)> = gaps
            .iter()
            .map(|g| {
                let kind = match g.problem {
                    NamedPortProblem::OnlyIpBlockPeers => NamedPortKind::OnlyIpBlocks,
                    NamedPortProblem::IpBlockPeers(_) => NamedPortKind::IpBlockPeers,
                    NamedPortProblem::Undefined => NamedPortKind::Undefined,
                };
                (g.policy.to_string(), g.field(), kind)
            })
            .collect();
        let want: Vec<(String, String, NamedPortKind)> =
            expected.iter().map(|(p, f, k)| (p.to_string(), f.to_string(), *k)).collect();
        assert_eq!(got, want, "{rule}");
        for g in &gaps {
            let text = g.to_string();
            assert!(text.contains(&g.field()) && text.contains(&g.name), "{text}");
        }
    }
}

#[test]
fn named_port_gap_messages_name_the_rule_and_the_peers() {
    let analysis = analyse(&fixture(GAP_ROWS[3].1), Options::default());
    let gaps = findings::named_port_gaps(&analysis, |_| true);
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].problem, NamedPortProblem::IpBlockPeers(vec![1]));
    assert_eq!(
        gaps[0].to_string(),
        "NetworkPolicy x/mixed spec.egress[0].ports[0]: named port \"http\" (TCP) never matches traffic to the ipBlock peer(s) to[1]: an address outside the cluster has no named ports"
    );
}

#[test]
fn an_ip_block_covering_the_pod_range_resolves_named_ports_on_pods() {
    // With Options::pod_cidrs a block covering the pod range matches pods, which do define
    // `http`: nothing to report.
    let analysis = analyse(
        &fixture(
            "
metadata: {name: to-pods, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16}}], ports: [{port: http}]}]
",
        ),
        Options { pod_cidrs: vec!["10.244.0.0/16".parse().expect("cidr")], ..Options::default() },
    );
    assert_eq!(findings::named_port_gaps(&analysis, |_| true), []);
}

#[test]
fn classes_left_out_by_the_caller_do_not_count() {
    // Only stand-in pods define the port: when the caller leaves them out, nothing selected
    // remains to judge the ingress rule against.
    let analysis = analyse(&fixture(GAP_ROWS[0].1), Options::default());
    assert_eq!(findings::named_port_gaps(&analysis, |_| false), []);
}

#[test]
fn end_port_with_a_named_port_is_refused_as_the_api_server_does() {
    // pkg/apis/networking/validation ValidateNetworkPolicyPort: endPort "may not be
    // specified when `port` is non-numeric"; endPort below port reports port's value.
    let cluster = fixture(
        "
metadata: {name: ranges, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http, endPort: 90}, {port: 90, endPort: 80}]}]
",
    );
    let errors = Analysis::new(&cluster, Options::default()).expect_err("invalid policy");
    let messages: Vec<(String, String)> = errors
        .iter()
        .map(|e| match e {
            NetpolError::InvalidPolicy { field, message, .. } => (field.clone(), message.clone()),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        messages,
        [
            (
                "spec.ingress[0].ports[0].endPort".to_string(),
                "Invalid value: 90: may not be specified when `port` is non-numeric".to_string()
            ),
            (
                "spec.ingress[0].ports[1].endPort".to_string(),
                "Invalid value: 90: must be greater than or equal to `port`".to_string()
            ),
        ]
    );
}
