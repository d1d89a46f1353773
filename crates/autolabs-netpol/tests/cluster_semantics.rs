//! Table tests written from the network-policy-api specification (the API type comments
//! of v1alpha2 `ClusterNetworkPolicy` and v1alpha1 `AdminNetworkPolicy` /
//! `BaselineAdminNetworkPolicy`), each row citing the sentence it checks; plus the strict
//! decoding of both versions and the wording of `explain`.

mod common;

use std::net::IpAddr;

use autolabs_netpol::{
    Analysis, Cluster, ClusterPolicy, Endpoint, NetpolError, Node, Options, Protocol, Tier, Verdict,
};
use common::{endpoint as pod, fixture, labels};

fn cluster_policies(yaml: &str) -> Vec<ClusterPolicy> {
    yaml.split("\n---")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| {
            let value: serde_json::Value = serde_saphyr::from_str(doc).expect("test YAML parses");
            ClusterPolicy::from_value(&value).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn analyse(netpols: &str, cluster_yaml: &str) -> Analysis {
    let mut cluster: Cluster = fixture(netpols);
    cluster.cluster_policies = cluster_policies(cluster_yaml);
    Analysis::new(&cluster, Options::default()).expect("valid input")
}

fn cnp(name: &str, tier: &str, priority: u32, subject: &str, body: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
         spec:\n  tier: {tier}\n  priority: {priority}\n  subject: {subject}\n{body}\n---\n"
    )
}

const X: &str = "{namespaces: {matchLabels: {team: x}}}";
const ALL: &str = "{namespaces: {}}";
const TO_Y: &str = "[{namespaces: {matchLabels: {team: \"y\"}}}]";
const FROM_X: &str = "[{namespaces: {matchLabels: {team: x}}}]";

struct Case {
    /// The sentence of the specification the row checks.
    rule: &'static str,
    netpols: &'static str,
    cluster: String,
    from: &'static str,
    to: &'static str,
    port: u16,
    allowed: bool,
}

fn cases() -> Vec<Case> {
    let deny_x_to_y = cnp("guard", "Admin", 10, X, &format!("  egress:\n  - {{action: Deny, to: {TO_Y}}}"));
    let np_allow_all_x =
        "metadata: {name: allow, namespace: x}\nspec: {podSelector: {}, egress: [{}], policyTypes: [Egress]}";
    let np_deny_all_y =
        "metadata: {name: deny, namespace: y}\nspec: {podSelector: {}, policyTypes: [Ingress]}";
    vec![
        Case {
            rule: "Deny: Drops the selected traffic. No further ClusterNetworkPolicy or NetworkPolicy rules",
            netpols: np_allow_all_x,
            cluster: deny_x_to_y.clone(),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: false,
        },
        Case {
            rule: "Accept: ... No further ClusterNetworkPolicy or NetworkPolicy rules will be processed",
            netpols: np_deny_all_y,
            cluster: cnp(
                "open",
                "Admin",
                10,
                ALL,
                &format!("  ingress:\n  - {{action: Accept, from: {FROM_X}}}"),
            ),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "Pass: Skips all further ClusterNetworkPolicy rules in the current tier ... next tier",
            netpols: np_deny_all_y,
            cluster: cnp(
                "pass",
                "Admin",
                10,
                ALL,
                &format!(
                    "  ingress:\n  - {{action: Pass, from: {FROM_X}}}\n  - {{action: Accept, from: {FROM_X}}}"
                ),
            ),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: false,
        },
        Case {
            rule: "Policies with lower priority values have higher precedence",
            netpols: "",
            cluster: cnp("late", "Admin", 20, X, &format!("  egress:\n  - {{action: Deny, to: {TO_Y}}}"))
                + &cnp("early", "Admin", 5, X, &format!("  egress:\n  - {{action: Accept, to: {TO_Y}}}")),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "a rule that appears at the top of the egress rules would take the highest precedence",
            netpols: "",
            cluster: cnp(
                "order",
                "Admin",
                1,
                X,
                &format!("  egress:\n  - {{action: Accept, to: {TO_Y}}}\n  - {{action: Deny, to: {TO_Y}}}"),
            ),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "Baseline tier is a cluster-wide policy that can be overridden by the v1.NetworkPolicy",
            netpols: np_allow_all_x,
            cluster: cnp("base", "Baseline", 1, X, &format!("  egress:\n  - {{action: Deny, to: {TO_Y}}}")),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "Baseline tier ... Deny applies to pods no NetworkPolicy selects",
            netpols: "",
            cluster: cnp("base", "Baseline", 1, X, &format!("  egress:\n  - {{action: Deny, to: {TO_Y}}}")),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: false,
        },
        Case {
            rule: "If a given connection wasn't allowed or denied by any of the tiers ... all pods can communicate",
            netpols: "",
            cluster: cnp("base", "Baseline", 1, X, &format!("  egress:\n  - {{action: Pass, to: {TO_Y}}}")),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "protocols: destinationPort range matches ports start..end",
            netpols: "",
            cluster: cnp(
                "range",
                "Admin",
                1,
                X,
                &format!(
                    "  egress:\n  - {{action: Deny, to: {TO_Y}, protocols: [{{tcp: {{destinationPort: {{range: {{start: 70, end: 90}}}}}}}}]}}"
                ),
            ),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: false,
        },
        Case {
            rule: "protocols: a port outside the range is not matched",
            netpols: "",
            cluster: cnp(
                "range",
                "Admin",
                1,
                X,
                &format!(
                    "  egress:\n  - {{action: Deny, to: {TO_Y}, protocols: [{{tcp: {{destinationPort: {{range: {{start: 70, end: 90}}}}}}}}]}}"
                ),
            ),
            from: "x/a",
            to: "y/a",
            port: 91,
            allowed: true,
        },
        Case {
            rule: "DestinationNamedPort selects a destination port on a pod based on the ContainerPort name",
            netpols: "",
            cluster: cnp(
                "named",
                "Admin",
                1,
                X,
                &format!(
                    "  egress:\n  - {{action: Deny, to: {TO_Y}, protocols: [{{destinationNamedPort: http}}]}}"
                ),
            ),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: false,
        },
        Case {
            rule: "Namespaces peer: host-networked pods are not included in this type of peer",
            netpols: "",
            cluster: cnp(
                "host",
                "Admin",
                1,
                "{namespaces: {matchLabels: {team: \"y\"}}}",
                "  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}",
            ),
            from: "x/host",
            to: "y/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "A pod may always reach itself (loopback never crosses the pod network)",
            netpols: "",
            cluster: cnp("self", "Admin", 1, ALL, "  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}"),
            from: "x/a",
            to: "x/a",
            port: 80,
            allowed: true,
        },
        Case {
            rule: "CNPs with no egress rules do not affect egress traffic",
            netpols: "metadata: {name: deny, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress]}",
            cluster: cnp(
                "ingress-only",
                "Admin",
                1,
                X,
                &format!("  ingress:\n  - {{action: Accept, from: {FROM_X}}}"),
            ),
            from: "x/a",
            to: "y/a",
            port: 80,
            allowed: false,
        },
    ]
}

#[test]
fn the_specification_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let a = analyse(case.netpols, &case.cluster);
        let (from, to) = (pod(&a, case.from), pod(&a, case.to));
        let got = a.allows(from, to, Protocol::Tcp, case.port);
        let explained = a.explain(from, to, Protocol::Tcp, case.port).unwrap();
        if got != case.allowed || explained.allowed != case.allowed {
            failures.push(format!("{}: expected {}, got {got}\n{explained}", case.rule, case.allowed));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn explain_names_the_deciding_layer_and_rule() {
    let guard = cnp(
        "labs-guardrail",
        "Admin",
        10,
        X,
        &format!(
            "  egress:\n  - {{name: no-y, action: Deny, to: {TO_Y}, protocols: [{{tcp: {{destinationPort: {{number: 80}}}}}}]}}\n  - {{action: Pass, to: {TO_Y}}}"
        ),
    );
    let np =
        "metadata: {name: allow, namespace: x}\nspec: {podSelector: {}, egress: [{}], policyTypes: [Egress]}";
    let a = analyse(np, &guard);
    let (from, to) = (pod(&a, "x/a"), pod(&a, "y/a"));
    let denied = a.explain(from, to, Protocol::Tcp, 80).unwrap();
    assert!(!denied.allowed);
    assert_eq!(
        denied.egress.to_string(),
        "denied by ClusterNetworkPolicy labs-guardrail (Admin, priority 10) spec.egress[0] \"no-y\""
    );
    let passed = a.explain(from, to, Protocol::Tcp, 443).unwrap();
    assert!(passed.allowed);
    assert_eq!(
        passed.egress.to_string(),
        "passed to NetworkPolicy by ClusterNetworkPolicy labs-guardrail (Admin, priority 10) spec.egress[1], \
         then allowed by x/allow spec.egress[0]"
    );
    assert!(matches!(passed.egress, Verdict::Passed { .. }));
}

#[test]
fn v1alpha1_admin_and_baseline_read_like_v1alpha2() {
    let yaml = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: anp}\n\
spec:\n  priority: 3\n  subject: {namespaces: {matchLabels: {team: x}}}\n  egress:\n  - {action: Pass, to: [{namespaces: {matchLabels: {team: \"y\"}}}], ports: [{portNumber: {port: 80}}]}\n  - {action: Allow, to: [{namespaces: {matchLabels: {team: \"y\"}}}]}\n---\n\
apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n\
spec:\n  subject: {namespaces: {matchLabels: {team: x}}}\n  egress:\n  - {action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]}\n";
    let a = analyse("", yaml);
    let (from, to) = (pod(&a, "x/a"), pod(&a, "y/a"));
    // Port 80 passes the ANP, no NetworkPolicy selects x/a, the BANP denies.
    assert!(!a.allows(from, to, Protocol::Tcp, 80));
    let explained = a.explain(from, to, Protocol::Tcp, 80).unwrap();
    assert!(
        explained.egress.to_string().contains("BaselineAdminNetworkPolicy default (Baseline, priority 0)")
    );
    // Other ports are allowed by the ANP's second rule.
    assert!(a.allows(from, to, Protocol::Tcp, 443));
    assert_eq!(a.cluster_policies()[0].tier(), Tier::Admin);
}

#[test]
fn nodes_and_networks_peers_match_addresses() {
    let yaml = cnp(
        "egress-out",
        "Admin",
        1,
        X,
        "  egress:\n  - {action: Accept, to: [{nodes: {matchLabels: {role: control-plane}}}]}\n  - {action: Deny, to: [{networks: [10.0.0.0/8]}]}",
    );
    let mut cluster = fixture("");
    cluster.cluster_policies = cluster_policies(&yaml);
    cluster.nodes = vec![Node {
        name: "cp".to_string(),
        labels: labels(&[("role", "control-plane")]),
        addresses: vec!["10.1.2.3".parse::<IpAddr>().unwrap()],
    }];
    let a = Analysis::new(&cluster, Options::default()).unwrap();
    let from = pod(&a, "x/a");
    let ip = |s: &str| Endpoint::External(s.parse().unwrap());
    assert!(a.allows(from, ip("10.1.2.3/32"), Protocol::Tcp, 6443));
    assert!(!a.allows(from, ip("10.9.9.9/32"), Protocol::Tcp, 6443));
    assert!(a.allows(from, ip("192.168.0.1/32"), Protocol::Tcp, 6443));
}

#[test]
fn equal_priorities_are_reported_as_ties() {
    let yaml = cnp("b-second", "Admin", 7, X, &format!("  egress:\n  - {{action: Deny, to: {TO_Y}}}"))
        + &cnp("a-first", "Admin", 7, ALL, &format!("  egress:\n  - {{action: Accept, to: {TO_Y}}}"))
        + &cnp("alone", "Admin", 8, X, &format!("  egress:\n  - {{action: Deny, to: {TO_Y}}}"));
    let a = analyse("", &yaml);
    let ties = a.priority_ties();
    assert_eq!(ties.len(), 1, "{ties:?}");
    assert_eq!(ties[0].priority, 7);
    assert_eq!(ties[0].policies, vec!["ClusterNetworkPolicy a-first", "ClusterNetworkPolicy b-second"]);
    // The analysis orders ties by name: a-first's Accept decides.
    assert!(a.allows(pod(&a, "x/a"), pod(&a, "y/a"), Protocol::Tcp, 80));
}

fn decode_error(yaml: &str) -> (String, String) {
    let value: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
    match ClusterPolicy::from_value(&value) {
        Err(NetpolError::InvalidClusterPolicy { field, message, .. }) => (field, message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn refused_input_names_the_field() {
    let head =
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\n";
    let rows: &[(&str, &str, &str)] = &[
        // (what, spec, expected field)
        (
            "an unknown field is refused (strict decoding)",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{namespaces: {}}], portz: []}]}",
            "spec.egress[0].portz",
        ),
        (
            "tier is Admin or Baseline",
            "spec: {tier: Middle, priority: 1, subject: {namespaces: {}}}",
            "spec.tier",
        ),
        (
            "priority is 0..1000",
            "spec: {tier: Admin, priority: 1001, subject: {namespaces: {}}}",
            "spec.priority",
        ),
        (
            "actions are Accept, Deny, Pass",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, ingress: [{action: Allow, from: [{namespaces: {}}]}]}",
            "spec.ingress[0].action",
        ),
        (
            "a peer sets exactly one field",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{namespaces: {}, networks: [10.0.0.0/8]}]}]}",
            "spec.egress[0].to[0]",
        ),
        (
            "networks entries are CIDRs",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.0/33]}]}]}",
            "spec.egress[0].to[0].networks[0]",
        ),
        (
            "range start < end",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 90, end: 80}}}}]}]}",
            "spec.egress[0].protocols[0].tcp.destinationPort.range",
        ),
        (
            "no named port towards networks",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], protocols: [{destinationNamedPort: http}]}]}",
            "spec.egress[0]",
        ),
        (
            "domainNames cannot be analysed offline",
            "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Accept, to: [{domainNames: [example.org]}]}]}",
            "spec.egress[0].to[0].domainNames",
        ),
    ];
    for (what, spec, field) in rows {
        let (got, message) = decode_error(&format!("{head}{spec}"));
        assert_eq!(&got, field, "{what}: {message}");
    }
    let (field, _) = decode_error(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: other}\nspec: {subject: {namespaces: {}}}",
    );
    assert_eq!(field, "metadata.name", "the BANP is a singleton named default");
    let (field, _) = decode_error(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: {namespaces: {}}, ingress: [{action: Pass, from: [{namespaces: {}}]}]}",
    );
    assert_eq!(field, "spec.ingress[0].action", "a BANP has no Pass");
    let (field, _) = decode_error(
        "apiVersion: policy.networking.k8s.io/v1\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec: {}",
    );
    assert_eq!(field, "apiVersion");
}
