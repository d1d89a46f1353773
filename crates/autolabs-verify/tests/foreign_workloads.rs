//! Inputs we did not render, through connlist and the netpol findings: static pods, owners
//! that are absent or unnamed, pods of one owner that policies tell apart, hostNetwork pods
//! under both treatments, and named ports that cannot match. Each row gives the expected
//! connlist lines (np-guard's text format) and the expected modelling findings.

use autolabs_netpol::{HostNetwork, Options};
use autolabs_verify::connlist;
use autolabs_verify::engines::netpol::{analyse, check_with};
use autolabs_verify::{ObjectSet, Severity};

struct Row {
    name: &'static str,
    yaml: &'static str,
    host_network: HostNetwork,
    /// The connlist text; `None` where an error finding refuses the listing.
    lines: Option<&'static str>,
    /// (rule, severity, a part of the message) of each modelling finding, in order.
    findings: &'static [(&'static str, Severity, &'static str)],
}

const STATIC_PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver-node1
  namespace: kube-system
  labels: {component: kube-apiserver, tier: control-plane}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node1, uid: n1, controller: true}]
spec: {containers: [{name: c, image: k}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: etcd-node1
  namespace: kube-system
  labels: {component: etcd, tier: control-plane}
  ownerReferences: [{apiVersion: v1, kind: Node, name: node1, uid: n1, controller: true}]
spec: {containers: [{name: c, image: e}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: etcd-ingress, namespace: kube-system}
spec:
  podSelector: {matchLabels: {component: etcd}}
  ingress: [{from: [{podSelector: {matchLabels: {component: kube-apiserver}}}], ports: [{port: 2379}]}]
"#;

const OWNERS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d-abc
  namespace: shop
  labels: {app: web, pod-template-hash: 5d}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d, uid: r1, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-7-a
  namespace: shop
  labels: {app: api}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7, uid: r2, controller: true}]
spec: {containers: [{name: c, image: api}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-7-b
  namespace: shop
  labels: {app: api}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-7, uid: r2, controller: true}]
spec: {containers: [{name: c, image: api}]}
"#;

const NO_KIND: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: pod-1
  namespace: default
  labels: {app: command-selector}
  ownerReferences: [{name: internal-security, controller: true}]
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: pod-2
  namespace: default
  labels: {app: query-selector}
  ownerReferences: [{name: internal-security, controller: true}]
spec: {containers: [{name: c, image: i}]}
"#;

/// Two pods of one absent ReplicaSet that a policy tells apart (shared with the CLI tests).
const DIVERGING: &str = include_str!("fixtures/foreign/split-workload.yaml");

const SAME_SELECTED_LABELS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-1-a
  namespace: shop
  labels: {app: web, track: stable}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: r1, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1-b
  namespace: shop
  labels: {app: web, track: canary}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: r1, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: isolate-web, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}}
"#;

const HOST_NETWORK: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: mon}
spec:
  selector: {matchLabels: {app: node-exporter}}
  template:
    metadata: {labels: {app: node-exporter}}
    spec: {hostNetwork: true, containers: [{name: c, image: ne}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: prometheus, namespace: mon}
spec:
  selector: {matchLabels: {app: prometheus}}
  template:
    metadata: {labels: {app: prometheus}}
    spec: {containers: [{name: c, image: p}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: mon}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"#;

const NAMED_PORTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports:
    - port: http
    - port: metrics
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8}
    ports:
    - port: http
"#;

const RELABELLED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-debug
  namespace: shop
  labels: {app: web, quarantine: "true"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: quarantine, namespace: shop}
spec: {podSelector: {matchLabels: {quarantine: "true"}}, policyTypes: [Ingress, Egress]}
"#;

const OWNER_CYCLE: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: a
  namespace: loop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: b, uid: b, controller: true}]
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: b
  namespace: loop
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: a, uid: a, controller: true}]
spec:
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: i}]}
"#;

const ROWS: &[Row] = &[
    Row {
        name: "a Pod relabelled away from the owner template standing for it is an error",
        yaml: RELABELLED,
        host_network: HostNetwork::Exempt,
        lines: None,
        findings: &[(
            "workload-pods-differ",
            Severity::Error,
            "shop/Pod/web-debug is analysed as its owner shop/web[Deployment], but NetworkPolicy shop/quarantine spec.podSelector (quarantine=true) selects one of them and not the other",
        )],
    },
    Row {
        name: "owners that own each other: a warning each, and each is its own workload",
        yaml: OWNER_CYCLE,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "0.0.0.0-255.255.255.255[External] => loop/a[ReplicaSet] : All Connections
0.0.0.0-255.255.255.255[External] => loop/b[ReplicaSet] : All Connections
loop/a[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections
loop/a[ReplicaSet] => loop/b[ReplicaSet] : All Connections
loop/b[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections
loop/b[ReplicaSet] => loop/a[ReplicaSet] : All Connections
",
        ),
        findings: &[
            ("owner-reference", Severity::Warning, "loop/ReplicaSet/a: the controller ownerReferences of"),
            ("owner-reference", Severity::Warning, "loop/ReplicaSet/b: the controller ownerReferences of"),
        ],
    },
    Row {
        name: "static pods (controller owner a Node) are their own workloads",
        yaml: STATIC_PODS,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "0.0.0.0-255.255.255.255[External] => kube-system/kube-apiserver-node1[Pod] : All Connections
kube-system/etcd-node1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
kube-system/etcd-node1[Pod] => kube-system/kube-apiserver-node1[Pod] : All Connections
kube-system/kube-apiserver-node1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
kube-system/kube-apiserver-node1[Pod] => kube-system/etcd-node1[Pod] : TCP 2379
",
        ),
        findings: &[],
    },
    Row {
        name: "present owners stand for their pods (Pod → ReplicaSet → Deployment); absent ones name them",
        yaml: OWNERS,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "0.0.0.0-255.255.255.255[External] => shop/api-7[ReplicaSet] : All Connections
0.0.0.0-255.255.255.255[External] => shop/web[Deployment] : All Connections
shop/api-7[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections
shop/api-7[ReplicaSet] => shop/web[Deployment] : All Connections
shop/web[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections
shop/web[Deployment] => shop/api-7[ReplicaSet] : All Connections
",
        ),
        findings: &[],
    },
    Row {
        name: "an ownerReference without kind: a warning, and each pod is its own workload",
        yaml: NO_KIND,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "0.0.0.0-255.255.255.255[External] => default/pod-1[Pod] : All Connections
0.0.0.0-255.255.255.255[External] => default/pod-2[Pod] : All Connections
default/pod-1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
default/pod-1[Pod] => default/pod-2[Pod] : All Connections
default/pod-2[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
default/pod-2[Pod] => default/pod-1[Pod] : All Connections
",
        ),
        findings: &[
            (
                "owner-reference",
                Severity::Warning,
                "metadata.ownerReferences[0].kind: Invalid value: \"\": kind must not be empty",
            ),
            ("owner-reference", Severity::Warning, "default/Pod/pod-2"),
        ],
    },
    Row {
        name: "pods of one owner that a policy tells apart are an error naming both",
        yaml: DIVERGING,
        host_network: HostNetwork::Exempt,
        lines: None,
        findings: &[(
            "workload-pods-differ",
            Severity::Error,
            "pods shop/web-1-a and shop/web-1-b of workload shop/web-1[ReplicaSet] are told apart by NetworkPolicy shop/isolate-canary spec.podSelector (track=canary)",
        )],
    },
    Row {
        name: "pods of one owner whose labels differ where no selector looks are one workload",
        yaml: SAME_SELECTED_LABELS,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "shop/web-1[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections
",
        ),
        findings: &[],
    },
    Row {
        name: "hostNetwork pods are exempt by default",
        yaml: HOST_NETWORK,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "0.0.0.0-255.255.255.255[External] => mon/node-exporter[DaemonSet] : All Connections
mon/node-exporter[DaemonSet] => 0.0.0.0-255.255.255.255[External] : All Connections
",
        ),
        findings: &[(
            "host-network",
            Severity::Info,
            "mon/node-exporter[DaemonSet] uses hostNetwork: treated as exempt from NetworkPolicy",
        )],
    },
    Row {
        name: "hostNetwork pods as ordinary pods (--host-network as-pod): deny-all applies",
        yaml: HOST_NETWORK,
        host_network: HostNetwork::AsPod,
        lines: Some(""),
        findings: &[(
            "host-network",
            Severity::Info,
            "mon/node-exporter[DaemonSet] uses hostNetwork: analysed as an ordinary pod",
        )],
    },
    Row {
        name: "named ports: one no selected pod defines, one towards an ipBlock only",
        yaml: NAMED_PORTS,
        host_network: HostNetwork::Exempt,
        lines: Some(
            "0.0.0.0-255.255.255.255[External] => shop/web[Deployment] : TCP 8080
",
        ),
        findings: &[
            (
                "named-port",
                Severity::Warning,
                "NetworkPolicy shop/web spec.ingress[0].ports[1]: named port \"metrics\" (TCP) is defined by none of the pods the policy selects",
            ),
            (
                "named-port",
                Severity::Warning,
                "NetworkPolicy shop/web spec.egress[0].ports[0]: named port \"http\" (TCP) never matches: every peer of the rule is an ipBlock",
            ),
        ],
    },
];

fn read(yaml: &str) -> ObjectSet {
    let mut set = ObjectSet::default();
    set.add_text(yaml, "input.yaml");
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
}

#[test]
fn third_party_inputs_list_as_expected() {
    for row in ROWS {
        let set = read(row.yaml);
        let options = Options { host_network: row.host_network, ..Options::default() };
        let (analysis, built) = analyse(&set, options);
        let analysis = analysis.unwrap_or_else(|| panic!("{}: {:#?}", row.name, built.problems));
        let got: Vec<(&str, Severity, &str)> =
            built.problems.iter().map(|f| (f.rule.as_str(), f.severity, f.message.as_str())).collect();
        assert_eq!(got.len(), row.findings.len(), "{}: {got:#?}", row.name);
        for ((rule, severity, message), (want_rule, want_severity, part)) in got.iter().zip(row.findings) {
            assert_eq!((*rule, *severity), (*want_rule, *want_severity), "{}", row.name);
            assert!(message.contains(part), "{}: {message:?} lacks {part:?}", row.name);
        }
        if let Some(lines) = row.lines {
            assert_eq!(connlist::to_txt(&connlist::connlist(&analysis, &built)), lines, "{}", row.name);
        }
    }
}

#[test]
fn modelling_findings_are_located_in_the_input() {
    // The named-port warnings point at the port entries, the error at the second pod.
    let set = read(NAMED_PORTS);
    let findings = check_with(&set, Options::default());
    let named: Vec<(Option<u32>, &str)> = findings
        .iter()
        .filter(|f| f.rule == "named-port")
        .map(|f| (f.line, f.file.as_deref().unwrap_or_default()))
        .collect();
    // `- port: metrics` is line 19, the egress `- port: http` line 24 (the text starts with a newline).
    assert_eq!(named, [(Some(19), "input.yaml"), (Some(24), "input.yaml")]);

    let set = read(DIVERGING);
    let findings = check_with(&set, Options::default());
    let error = findings.iter().find(|f| f.rule == "workload-pods-differ").expect("error finding");
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(error.object.as_ref().map(|o| o.name.as_str()), Some("web-1-b"));
    // The second pod's document starts on line 10 of the fixture.
    assert_eq!(error.line, Some(10));
}
