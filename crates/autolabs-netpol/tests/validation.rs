//! Invalid policies are errors naming the field path, one row per rule of
//! `k8s.io/kubernetes/pkg/apis/networking/validation/validation.go`.

mod common;

use autolabs_netpol::{Analysis, NetpolError, Options, Pod, Protocol};
use common::{fixture, policies};

/// (upstream rule, policy YAML, expected field paths)
const ROWS: &[(&str, &str, &[&str])] = &[
    (
        "ValidateIPBlock: cidr must parse (IsValidCIDRForLegacyField)",
        "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}",
        &["spec.ingress[0].from[0].ipBlock.cidr"],
    ),
    (
        "ValidateIPBlock: cidr is required",
        "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: ''}}]}]}",
        &["spec.ingress[0].from[0].ipBlock.cidr"],
    ),
    (
        "ValidateIPBlock: except must be a strict subset of cidr (outside)",
        "spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]}",
        &["spec.ingress[0].from[1].ipBlock.except[0]"],
    ),
    (
        "ValidateIPBlock: except must be a strict subset of cidr (equal is not strict)",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/16, 10.0.0.0/8]}}]}]}",
        &["spec.egress[0].to[0].ipBlock.except[1]"],
    ),
    (
        "ValidateIPBlock: except of another family is not inside cidr",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: ['fd00::/8']}}]}]}",
        &["spec.egress[0].to[0].ipBlock.except[0]"],
    ),
    (
        "ValidateIPBlock: except must parse",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0]}}]}]}",
        &["spec.egress[0].to[0].ipBlock.except[0]"],
    ),
    (
        "ValidateNetworkPolicyPeer: may not specify both ipBlock and another peer",
        "spec: {podSelector: {}, egress: [{to: [{podSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}]}]}",
        &["spec.egress[0].to[0]"],
    ),
    (
        "ValidateNetworkPolicyPeer: a peer must specify something",
        "spec: {podSelector: {}, ingress: [{from: [{}]}]}",
        &["spec.ingress[0].from[0]"],
    ),
    (
        "ValidateNetworkPolicyPort: endPort may not be used with a named port",
        "spec: {podSelector: {}, ingress: [{ports: [{port: http, endPort: 90}]}]}",
        &["spec.ingress[0].ports[0].endPort"],
    ),
    (
        "ValidateNetworkPolicyPort: endPort must be >= port",
        "spec: {podSelector: {}, ingress: [{ports: [{port: 80}, {port: 90, endPort: 80}]}]}",
        &["spec.ingress[0].ports[1].endPort"],
    ),
    (
        "ValidateNetworkPolicyPort: endPort needs a port",
        "spec: {podSelector: {}, egress: [{ports: [{endPort: 80}]}]}",
        &["spec.egress[0].ports[0].endPort"],
    ),
    (
        "ValidateNetworkPolicyPort: IsValidPortNum (1..65535) for port and endPort",
        "spec: {podSelector: {}, ingress: [{ports: [{port: 0}, {port: 80, endPort: 70000}]}]}",
        &["spec.ingress[0].ports[0].port", "spec.ingress[0].ports[1].endPort"],
    ),
    (
        "ValidateNetworkPolicyPort: IsValidPortName for named ports",
        "spec: {podSelector: {}, ingress: [{ports: [{port: HTTP}, {port: a--b}, {port: '123'}]}]}",
        // "HTTP" breaks two rules (charset, needs a lowercase letter): one error each, as upstream.
        &[
            "spec.ingress[0].ports[0].port",
            "spec.ingress[0].ports[0].port",
            "spec.ingress[0].ports[1].port",
            "spec.ingress[0].ports[2].port",
        ],
    ),
    (
        "ValidateNetworkPolicyPort: protocol is TCP, UDP or SCTP (case-sensitive)",
        "spec: {podSelector: {}, ingress: [{ports: [{port: 80, protocol: tcp}, {protocol: ICMP}]}]}",
        &["spec.ingress[0].ports[0].protocol", "spec.ingress[0].ports[1].protocol"],
    ),
    (
        "ValidateLabelSelector: label keys must be qualified names",
        "spec: {podSelector: {matchLabels: {'bad key!': x}}}",
        &["spec.podSelector.matchLabels[\"bad key!\"]"],
    ),
    (
        "ValidateLabelSelector: label values must be valid",
        "spec: {podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: -bad-}}}]}]}",
        &["spec.ingress[0].from[0].podSelector.matchLabels[\"app\"]"],
    ),
    (
        "ValidateLabelSelectorRequirement: operator must be In, NotIn, Exists or DoesNotExist",
        "spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}}]}]}",
        &["spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].operator"],
    ),
    (
        "ValidateLabelSelectorRequirement: In needs values, Exists forbids them",
        "spec: {podSelector: {matchExpressions: [{key: a, operator: In}, {key: b, operator: Exists, values: [c]}]}}",
        &["spec.podSelector.matchExpressions[0].values", "spec.podSelector.matchExpressions[1].values"],
    ),
    (
        "ValidateNetworkPolicySpec: policyTypes entries are Ingress or Egress",
        "spec: {podSelector: {}, policyTypes: [Ingress, Both]}",
        &["spec.policyTypes[1]"],
    ),
    (
        "ValidateNetworkPolicySpec: at most two policyTypes",
        "spec: {podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}",
        &["spec.policyTypes"],
    ),
];

fn error_fields(errors: &[NetpolError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| match e {
            NetpolError::InvalidPolicy { field, .. }
            | NetpolError::InvalidPod { field, .. }
            | NetpolError::InvalidClusterPolicy { field, .. } => field.clone(),
            NetpolError::UnknownPod(_) => String::new(),
        })
        .collect()
}

#[test]
fn invalid_policies_name_the_field() {
    for (rule, spec, expected) in ROWS {
        let yaml = format!("metadata: {{name: p, namespace: x}}\n{spec}");
        let cluster = fixture(&yaml);
        let errors = Analysis::new(&cluster, Options::default()).expect_err(rule);
        assert_eq!(error_fields(&errors), *expected, "{rule}");
        for e in &errors {
            assert!(e.to_string().starts_with("NetworkPolicy x/p: spec."), "{rule}: {e}");
        }
    }
}

#[test]
fn valid_edge_cases_are_accepted() {
    // Rows of what the API server accepts: legacy CIDR forms (host bits set, leading
    // zeros), an except equal to a longer prefix, duplicate policyTypes, protocol-only ports.
    let specs = [
        "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.168.1.1/24, except: [192.168.1.128/25]}}]}]}",
        "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 010.0.0.0/8}}]}]}",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: '2001:db8::/32', except: ['2001:db8:1::/48']}}]}]}",
        "spec: {podSelector: {}, policyTypes: [Ingress, Ingress]}",
        "spec: {podSelector: {}, ingress: [{ports: [{protocol: SCTP}, {port: 1, endPort: 65535}]}]}",
        "spec: {}",
    ];
    for spec in specs {
        let yaml = format!("metadata: {{name: p, namespace: x}}\n{spec}");
        let cluster = fixture(&yaml);
        assert!(Analysis::new(&cluster, Options::default()).is_ok(), "{spec}");
    }
}

#[test]
fn metadata_and_all_errors_at_once() {
    let mut cluster = fixture("");
    cluster.policies = policies(
        "
metadata: {name: Bad_Name}
spec: {podSelector: {}, ingress: [{from: [{}]}], policyTypes: [Nope]}
",
    );
    let errors = Analysis::new(&cluster, Options::default()).expect_err("invalid");
    assert_eq!(
        error_fields(&errors),
        ["metadata.name", "metadata.namespace", "spec.ingress[0].from[0]", "spec.policyTypes[0]"]
    );
}

#[test]
fn invalid_pods_are_reported() {
    let mut cluster = fixture("");
    cluster.pods.push(Pod::new("x", "bad").named_port("Not_A_Port", Protocol::Tcp, 80));
    cluster.pods.push(Pod::new("x", "zero").named_port("http", Protocol::Tcp, 0));
    let errors = Analysis::new(&cluster, Options::default()).expect_err("invalid");
    assert_eq!(errors.len(), 2, "{errors:#?}"); // the name's charset + the port number
    assert!(errors.iter().all(|e| matches!(e, NetpolError::InvalidPod { .. })));

    // from_pod_spec validates container ports.
    let spec: autolabs_k8s::k8s::PodSpec = serde_saphyr::from_str(
        "containers: [{name: c, ports: [{containerPort: 80, name: http}, {containerPort: 70000}]}]",
    )
    .expect("yaml");
    let err = Pod::from_pod_spec("x", "p", &Default::default(), &spec).expect_err("port out of range");
    assert!(err.to_string().contains("spec.containers[0].ports[1].containerPort"), "{err}");
    let spec: autolabs_k8s::k8s::PodSpec = serde_saphyr::from_str(
        "hostNetwork: true\ncontainers: [{name: c, ports: [{containerPort: 53, name: dns, protocol: UDP}, {containerPort: 8080}]}]",
    )
    .expect("yaml");
    let pod = Pod::from_pod_spec("x", "p", &Default::default(), &spec).expect("valid");
    assert!(pod.host_network);
    assert_eq!(pod.named_ports.len(), 1);
    assert_eq!((pod.named_ports[0].protocol, pod.named_ports[0].port), (Protocol::Udp, 53));
}

#[test]
fn duplicates_are_reported() {
    let mut cluster = fixture(
        "
metadata: {name: p, namespace: x}
spec: {podSelector: {}}
---
metadata: {name: p, namespace: x}
spec: {podSelector: {}}
---
metadata: {name: p, namespace: y}
spec: {podSelector: {}}
",
    );
    cluster.pods.push(Pod::new("x", "a"));
    let errors = Analysis::new(&cluster, Options::default()).expect_err("duplicates");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "NetworkPolicy x/p: metadata.name: Duplicate value: \"p\"",
            "Pod x/a: metadata.name: Duplicate value: \"a\"",
        ]
    );
}

#[test]
fn workload_templates_stand_for_their_pods() {
    let deployment: autolabs_k8s::k8s::Deployment = serde_saphyr::from_str(
        "
metadata: {name: web, namespace: x}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, ports: [{containerPort: 8080, name: http}]}]
",
    )
    .expect("yaml");
    let template = &deployment.spec.as_ref().expect("spec").template;
    let pod = Pod::from_template("x", "web", template).expect("valid");
    assert_eq!(pod.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(pod.named_ports[0].port, 8080);
}
