//! One row per semantic rule of NetworkPolicy, each naming the upstream rule it mirrors.
//! Upstream: `k8s.io/api/networking/v1/types.go` (the API's documented semantics) and
//! `k8s.io/kubernetes/pkg/apis/networking/v1/defaults.go` (defaulting).

mod common;

use autolabs_netpol::{Options, Verdict};
use common::{analyse, endpoint, fixture, protocol};

struct Row {
    rule: &'static str,
    policies: &'static str,
    pod_cidrs: &'static [&'static str],
    /// (from, to, protocol, port, allowed)
    checks: &'static [(&'static str, &'static str, &'static str, u16, bool)],
}

const DENY_INGRESS_X: &str = "
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}}
";

const ROWS: &[Row] = &[
    Row {
        rule: "types.go NetworkPolicy: pods selected by no policy are non-isolated and allow everything",
        policies: "",
        pod_cidrs: &[],
        checks: &[("x/a", "y/a", "TCP", 1, true), ("y/c", "x/b", "SCTP", 65535, true), ("x/a", "ip:8.8.8.8/32", "UDP", 53, true)],
    },
    Row {
        rule: "types.go NetworkPolicySpec.ingress: a selecting policy with no ingress rules isolates and denies ingress",
        policies: DENY_INGRESS_X,
        pod_cidrs: &[],
        checks: &[
            ("y/a", "x/a", "TCP", 80, false),
            ("x/b", "x/a", "TCP", 80, false),
            ("ip:8.8.8.8/32", "x/b", "TCP", 80, false),
            ("x/a", "y/a", "TCP", 80, true),
        ],
    },
    Row {
        rule: "pod to itself is always allowed (types.go NetworkPolicy semantics; CNI plugins never block loopback)",
        policies: DENY_INGRESS_X,
        pod_cidrs: &[],
        checks: &[("x/a", "x/a", "TCP", 80, true)],
    },
    Row {
        rule: "defaults.go SetDefaults_NetworkPolicy: no policyTypes and a non-empty egress list means Ingress+Egress",
        policies: "
metadata: {name: egress-only-rules, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  egress: [{ports: [{port: 53, protocol: UDP}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("x/a", "y/c", "UDP", 53, true),
            ("x/a", "y/c", "TCP", 80, false),
            ("y/a", "x/a", "TCP", 80, false),
            ("x/b", "y/a", "TCP", 80, true),
        ],
    },
    Row {
        rule: "defaults.go SetDefaults_NetworkPolicy: `egress: []` is empty, so only Ingress is implied",
        policies: "
metadata: {name: empty-egress, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  egress: []
",
        pod_cidrs: &[],
        checks: &[("x/a", "y/a", "TCP", 80, true), ("y/a", "x/a", "TCP", 80, false)],
    },
    Row {
        rule: "types.go policyTypes: [Egress] isolates egress only; ingress stays open",
        policies: "
metadata: {name: deny-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}
",
        pod_cidrs: &[],
        checks: &[("x/a", "y/a", "TCP", 80, false), ("y/a", "x/a", "TCP", 80, true), ("x/a", "ip:1.1.1.1/32", "TCP", 443, false)],
    },
    Row {
        rule: "types.go NetworkPolicyIngressRule.from: absent from matches every source, pods and IPs alike",
        policies: "
metadata: {name: allow-80, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: 80}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("y/c", "x/a", "TCP", 80, true),
            ("z/a", "x/a", "TCP", 80, true),
            ("ip:203.0.113.9/32", "x/a", "TCP", 80, true),
            ("x/host", "x/a", "TCP", 80, true),
            ("y/c", "x/a", "TCP", 81, false),
            ("y/c", "x/a", "UDP", 80, false),
        ],
    },
    Row {
        rule: "types.go NetworkPolicyIngressRule.ports: absent ports match every port of every protocol",
        policies: "
metadata: {name: from-y, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: y}}}]}]
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/b", "SCTP", 9, true), ("y/c", "x/a", "UDP", 65535, true), ("z/a", "x/a", "TCP", 80, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPort.port: absent port with a protocol matches every port of that protocol",
        policies: "
metadata: {name: udp-only, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: UDP}]}]
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/a", "UDP", 1234, true), ("y/a", "x/a", "TCP", 1234, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPeer.podSelector alone selects pods in the policy's own namespace",
        policies: "
metadata: {name: from-app-a, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]
",
        pod_cidrs: &[],
        checks: &[("x/a", "x/b", "TCP", 8080, true), ("y/a", "x/b", "TCP", 8080, false), ("z/a", "x/b", "TCP", 8080, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPeer: podSelector and namespaceSelector in one peer are ANDed",
        policies: "
metadata: {name: and-peer, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: y}}
      podSelector: {matchLabels: {app: a}}
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/b", "TCP", 1, true), ("y/c", "x/b", "TCP", 1, false), ("x/a", "x/b", "TCP", 1, false)],
    },
    Row {
        rule: "types.go NetworkPolicyIngressRule.from: separate peers are ORed",
        policies: "
metadata: {name: or-peers, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: y}}
    - podSelector: {matchLabels: {app: a}}
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/b", "TCP", 1, true), ("y/c", "x/b", "TCP", 1, true), ("x/a", "x/b", "TCP", 1, true), ("z/a", "x/b", "TCP", 1, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPeer.namespaceSelector: {} selects all namespaces, including unsupplied ones",
        policies: "
metadata: {name: all-ns, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress: [{from: [{namespaceSelector: {}}]}]
",
        pod_cidrs: &[],
        checks: &[("z/a", "x/b", "TCP", 1, true), ("y/c", "x/b", "TCP", 1, true), ("ip:10.0.0.1/32", "x/b", "TCP", 1, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPeer.podSelector: {} selects every pod of the policy's namespace",
        policies: "
metadata: {name: same-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
",
        pod_cidrs: &[],
        checks: &[("x/b", "x/a", "TCP", 1, true), ("y/a", "x/a", "TCP", 1, false)],
    },
    Row {
        rule: "SetDefaults_Namespace: every namespace carries kubernetes.io/metadata.name (unsupplied ones too)",
        policies: "
metadata: {name: from-z, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]}]
",
        pod_cidrs: &[],
        checks: &[("z/a", "x/a", "TCP", 1, true), ("y/a", "x/a", "TCP", 1, false)],
    },
    Row {
        rule: "labels.Requirement.Matches: NotIn matches pods that lack the key; Exists requires it",
        policies: "
metadata: {name: exprs, namespace: y}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: Exists}]}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [b]}, {key: tier, operator: DoesNotExist}]}
",
        pod_cidrs: &[],
        checks: &[("x/a", "y/c", "TCP", 5, true), ("x/b", "y/c", "TCP", 5, false), ("z/a", "y/c", "TCP", 5, true), ("x/b", "y/a", "TCP", 5, true)],
    },
    Row {
        rule: "types.go IPBlock: cidr minus except; by default (pod IPs unknown) an ipBlock matches only external endpoints",
        policies: "
metadata: {name: ipblock, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("ip:10.2.3.4/32", "x/a", "TCP", 80, true),
            ("ip:10.2.0.0/16", "x/a", "TCP", 80, true),
            ("ip:10.1.2.3/32", "x/a", "TCP", 80, false),
            ("ip:10.0.0.0/8", "x/a", "TCP", 80, false),
            ("ip:11.0.0.1/32", "x/a", "TCP", 80, false),
            ("y/a", "x/a", "TCP", 80, false),
        ],
    },
    Row {
        rule: "Options::pod_cidrs: an ipBlock covering the whole pod CIDR matches every non-hostNetwork pod",
        policies: "
metadata: {name: ipblock-pods, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]
",
        pod_cidrs: &["10.244.0.0/16"],
        checks: &[("y/a", "x/a", "TCP", 80, true), ("z/a", "x/a", "TCP", 1, true), ("x/host", "x/a", "TCP", 80, false)],
    },
    Row {
        rule: "Options::pod_cidrs: an ipBlock covering only part of the pod CIDR matches no pod",
        policies: "
metadata: {name: ipblock-partial, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.244.1.0/24]}}]}]
",
        pod_cidrs: &["10.244.0.0/16"],
        checks: &[("y/a", "x/a", "TCP", 80, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPort.port: a named port resolves on the destination pod's container ports",
        policies: "
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("y/a", "x/a", "TCP", 80, true),
            ("y/a", "x/a", "TCP", 8080, false),
            ("y/a", "x/b", "TCP", 8080, true),
            ("y/a", "x/b", "TCP", 80, false),
        ],
    },
    Row {
        rule: "types.go NetworkPolicyPort: a named port must match the container port's protocol too",
        policies: "
metadata: {name: named-proto, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: dns, protocol: TCP}, {port: http, protocol: UDP}]}]
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/a", "UDP", 53, false), ("y/a", "x/a", "TCP", 53, false), ("y/a", "x/a", "UDP", 80, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPort: a named port that resolves nowhere matches nothing",
        policies: "
metadata: {name: named-missing, namespace: y}
spec:
  podSelector: {}
  ingress: [{ports: [{port: nosuchport}]}]
",
        pod_cidrs: &[],
        checks: &[("x/a", "y/c", "TCP", 80, false), ("x/a", "y/a", "TCP", 80, false)],
    },
    Row {
        rule: "types.go NetworkPolicyPort.port: named ports of egress rules resolve on the destination pod",
        policies: "
metadata: {name: egress-named, namespace: y}
spec:
  podSelector: {matchLabels: {app: c}}
  policyTypes: [Egress]
  egress: [{ports: [{port: http}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("y/c", "x/a", "TCP", 80, true),
            ("y/c", "x/b", "TCP", 8080, true),
            ("y/c", "x/b", "TCP", 80, false),
            ("y/c", "ip:8.8.8.8/32", "TCP", 80, false),
        ],
    },
    Row {
        rule: "types.go NetworkPolicyPort.endPort: port..endPort inclusive",
        policies: "
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 8000, endPort: 8080, protocol: TCP}]}]
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/a", "TCP", 7999, false), ("y/a", "x/a", "TCP", 8000, true), ("y/a", "x/a", "TCP", 8080, true), ("y/a", "x/a", "TCP", 8081, false)],
    },
    Row {
        rule: "defaults.go SetDefaults_NetworkPolicyPort: protocol defaults to TCP; UDP and SCTP are distinct",
        policies: "
metadata: {name: protocols, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 53}, {port: 53, protocol: UDP}, {port: 9, protocol: SCTP}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("y/a", "x/a", "TCP", 53, true),
            ("y/a", "x/a", "UDP", 53, true),
            ("y/a", "x/a", "SCTP", 53, false),
            ("y/a", "x/a", "SCTP", 9, true),
            ("y/a", "x/a", "TCP", 9, false),
        ],
    },
    Row {
        rule: "types.go NetworkPolicy: a connection needs the source's egress AND the destination's ingress",
        policies: "
metadata: {name: x-egress-to-y, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {team: y}}}], ports: [{port: 80}]}]
---
metadata: {name: y-ingress-from-x, namespace: y}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: x}}}], ports: [{port: 80}, {port: 81}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("x/a", "y/a", "TCP", 80, true),
            ("x/a", "y/a", "TCP", 81, false),
            ("x/a", "y/c", "TCP", 80, true),
            ("x/a", "z/a", "TCP", 80, false),
            ("z/a", "y/a", "TCP", 80, false),
        ],
    },
    Row {
        rule: "types.go NetworkPolicy: policies are additive — rules of every selecting policy are unioned",
        policies: "
metadata: {name: p1, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: 80}]}]
---
metadata: {name: p2, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}], ports: [{port: 81}]}]
",
        pod_cidrs: &[],
        checks: &[("y/a", "x/a", "TCP", 80, true), ("y/a", "x/a", "TCP", 81, false), ("x/b", "x/a", "TCP", 81, true), ("y/a", "x/b", "TCP", 80, false)],
    },
    Row {
        rule: "types.go podSelector: a policy only selects pods of its own namespace",
        policies: "
metadata: {name: deny-y, namespace: y}
spec: {podSelector: {matchLabels: {app: a}}}
",
        pod_cidrs: &[],
        checks: &[("x/b", "x/a", "TCP", 80, true), ("x/b", "y/a", "TCP", 80, false)],
    },
    Row {
        rule: "hostNetwork pods are outside policy: never isolated, matched only by rules without peers",
        policies: "
metadata: {name: deny-all-x, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {}}, {namespaceSelector: {}}]}]
",
        pod_cidrs: &[],
        checks: &[
            ("x/host", "y/a", "TCP", 80, true),
            ("y/a", "x/host", "TCP", 80, true),
            ("x/host", "x/a", "TCP", 80, false),
            ("x/a", "x/host", "TCP", 80, false),
            ("y/a", "x/a", "TCP", 80, true),
        ],
    },
];

#[test]
fn every_semantic_rule() {
    for row in ROWS {
        let cluster = fixture(row.policies);
        let options = Options {
            pod_cidrs: row.pod_cidrs.iter().map(|c| c.parse().expect("cidr")).collect(),
            ..Options::default()
        };
        let analysis = analyse(&cluster, options);
        for &(from, to, proto, port, expected) in row.checks {
            let (f, t) = (endpoint(&analysis, from), endpoint(&analysis, to));
            let got = analysis.allows(f, t, protocol(proto), port);
            assert_eq!(got, expected, "rule: {}\n  {from} -> {to} {proto}/{port}", row.rule);
            // explain must agree with allowed.
            let explanation = analysis.explain(f, t, protocol(proto), port).expect("explain");
            assert_eq!(explanation.allowed, expected, "explain disagrees: {}\n{explanation}", row.rule);
        }
    }
}

#[test]
fn isolation_follows_effective_policy_types() {
    let cluster = fixture(
        "
metadata: {name: egress-only, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  egress: [{}]
---
metadata: {name: ingress-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
",
    );
    let analysis = analyse(&cluster, Options::default());
    let id = |ns: &str, name: &str| analysis.pod_id(ns, name).expect("pod");
    assert_eq!(analysis.isolation(id("x", "a")), Some((true, true)));
    assert_eq!(analysis.isolation(id("x", "b")), Some((true, false)));
    assert_eq!(analysis.isolation(id("y", "a")), Some((false, false)));
    assert_eq!(analysis.isolation(id("x", "host")), Some((false, false)));
    assert_eq!(analysis.host_network_pods(), vec![id("x", "host")]);
}

#[test]
fn explain_names_the_rules_and_the_isolating_policies() {
    let cluster = fixture(
        "
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
metadata: {name: allow-web, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: y}}}]
    ports: [{port: 443}]
  - from: [{namespaceSelector: {matchLabels: {team: y}}}]
    ports: [{port: http}]
",
    );
    let analysis = analyse(&cluster, Options::default());
    let (ya, xa, xb) = (endpoint(&analysis, "y/a"), endpoint(&analysis, "x/a"), endpoint(&analysis, "x/b"));
    let e = analysis.explain(ya, xa, protocol("TCP"), 80).expect("explain");
    assert!(e.allowed);
    assert_eq!(e.egress, Verdict::NotIsolated);
    let Verdict::AllowedBy(rules) = &e.ingress else { panic!("expected AllowedBy, got {}", e.ingress) };
    assert_eq!(rules.iter().map(ToString::to_string).collect::<Vec<_>>(), ["x/allow-web spec.ingress[1]"]);

    let e = analysis.explain(xa, xb, protocol("TCP"), 80).expect("explain");
    assert!(!e.allowed);
    let Verdict::DeniedBy(policies) = &e.egress else { panic!("expected DeniedBy, got {}", e.egress) };
    assert_eq!(policies.iter().map(ToString::to_string).collect::<Vec<_>>(), ["x/deny-all"]);
    assert!(e.to_string().contains("DENIED"), "{e}");

    let host = endpoint(&analysis, "x/host");
    let e = analysis.explain(host, ya, protocol("TCP"), 80).expect("explain");
    assert_eq!(e.egress, Verdict::HostNetwork);
}

#[test]
fn allowed_returns_port_sets() {
    let cluster = fixture(
        "
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: 443}, {port: http}, {port: 53, protocol: UDP}, {port: 8000, endPort: 8100}]}]
",
    );
    let analysis = analyse(&cluster, Options::default());
    let conn = analysis.allowed(endpoint(&analysis, "y/a"), endpoint(&analysis, "x/a"));
    assert_eq!(conn.to_string(), "TCP 80,443,8000-8100; UDP 53");
    assert!(analysis.allowed(endpoint(&analysis, "x/a"), endpoint(&analysis, "y/a")).is_all());
}
