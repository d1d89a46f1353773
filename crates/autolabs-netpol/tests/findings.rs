//! The generic findings helpers, and the synthetic generator they are benchmarked on.

mod common;

use autolabs_netpol::findings::{self, DefaultDenyGap};
use autolabs_netpol::synthetic::{SyntheticParams, generate};
use std::collections::BTreeMap;

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

// ---- The findings through the tiers of the network-policy-api ----

/// Multi-document YAML into cluster-wide policies of either version.
fn cluster_policies(yaml: &str) -> Vec<autolabs_netpol::ClusterPolicy> {
    yaml.split("\n---")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| {
            let value: serde_json::Value = serde_saphyr::from_str(doc).expect("test YAML parses");
            autolabs_netpol::ClusterPolicy::from_value(&value).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// A v1alpha2 ClusterNetworkPolicy with its egress rules.
fn cnp(name: &str, tier: &str, priority: u32, subject: &str, egress: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
         spec:\n  tier: {tier}\n  priority: {priority}\n  subject: {subject}\n  egress:\n{egress}\n---\n"
    )
}

/// A v1alpha1 AdminNetworkPolicy (or, with `priority` None, the BaselineAdminNetworkPolicy).
fn anp(name: &str, priority: Option<u32>, subject: &str, egress: &str) -> String {
    let (kind, priority) = match priority {
        Some(p) => ("AdminNetworkPolicy", format!("  priority: {p}\n")),
        None => ("BaselineAdminNetworkPolicy", String::new()),
    };
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\n\
         spec:\n{priority}  subject: {subject}\n  egress:\n{egress}\n---\n"
    )
}

const EVERY_NS: &str = "{namespaces: {}}";
const NS_X: &str = "{namespaces: {matchLabels: {team: x}}}";
const INTERNET: &str = "[{networks: [0.0.0.0/0, \"::/0\"]}]";
const INTERNET_V4: &str = "[{networks: [0.0.0.0/0]}]";
const KUBE_DNS: &str = "[{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}}]";
const PORT_53: &str = "[{tcp: {destinationPort: {number: 53}}}, {udp: {destinationPort: {number: 53}}}]";

/// NetworkPolicy: x/a (app=a) may egress only to 0.0.0.0/0 on TCP 443.
const NP_A_HTTPS: &str = "
metadata: {name: https, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 443}]}]
";

/// NetworkPolicy: x/a (app=a) may egress only to kube-dns on UDP/TCP 53.
const NP_A_DNS: &str = "
metadata: {name: dns, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
";

/// NetworkPolicy: every pod of x egress-isolated, nothing allowed.
const NP_X_DENY: &str = "
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}
";

struct FindingRow {
    /// The rule of the specification the row checks.
    rule: &'static str,
    netpols: &'static str,
    cluster: String,
    /// `ns/pod` → the finding's text for that pod; pods not listed have no finding.
    expect: &'static [(&'static str, &'static str)],
}

fn analyse_tiers(row: &FindingRow) -> Analysis {
    let mut cluster = fixture(row.netpols);
    cluster.cluster_policies = cluster_policies(&row.cluster);
    analyse(&cluster, Options::default())
}

fn pod_of(analysis: &Analysis, class: autolabs_netpol::ClassId) -> String {
    let class = &analysis.classes()[class.index()];
    let pod = analysis.pod(class.members[0]).expect("member");
    format!("{}/{}", pod.namespace, pod.name)
}

/// internet-egress evaluates through Admin → NetworkPolicy → Baseline
/// (`apis/v1alpha2/clusternetworkpolicy_types.go` ClusterNetworkPolicySpec.Tier).
#[test]
fn internet_egress_through_the_tiers() {
    const EVERYONE: &[(&str, &str)] =
        &[("x/a", "All"), ("x/b", "All"), ("y/a", "All"), ("y/c", "All"), ("z/a", "All")];
    let rows = vec![
        FindingRow {
            rule: "no policy of any tier: every pod may reach the internet",
            netpols: "",
            cluster: String::new(),
            expect: EVERYONE,
        },
        FindingRow {
            rule: "Deny (Admin): Drops the selected traffic. No further ... NetworkPolicy rules will be processed",
            netpols: NP_A_HTTPS,
            cluster: cnp(
                "no-internet",
                "Admin",
                10,
                EVERY_NS,
                &format!("  - {{action: Deny, to: {INTERNET}}}"),
            ),
            expect: &[],
        },
        FindingRow {
            rule: "networks: a Deny of 0.0.0.0/0 alone leaves the IPv6 internet",
            netpols: "",
            cluster: cnp("no-v4", "Admin", 10, EVERY_NS, &format!("  - {{action: Deny, to: {INTERNET_V4}}}")),
            expect: EVERYONE,
        },
        FindingRow {
            rule: "subject: only the pods the subject selects are denied",
            netpols: "",
            cluster: cnp("x-offline", "Admin", 10, NS_X, &format!("  - {{action: Deny, to: {INTERNET}}}")),
            expect: &[("y/a", "All"), ("y/c", "All"), ("z/a", "All")],
        },
        FindingRow {
            rule: "protocols: only the ports the Deny names are dropped",
            netpols: "",
            cluster: cnp(
                "no-https",
                "Admin",
                10,
                NS_X,
                &format!(
                    "  - {{action: Deny, to: {INTERNET}, protocols: [{{tcp: {{destinationPort: {{number: 443}}}}}}]}}"
                ),
            ),
            expect: &[
                ("x/a", "TCP 1-442,444-65535; UDP all; SCTP all"),
                ("x/b", "TCP 1-442,444-65535; UDP all; SCTP all"),
                ("y/a", "All"),
                ("y/c", "All"),
                ("z/a", "All"),
            ],
        },
        FindingRow {
            rule: "Pass: skips further rules of the tier (the lower-precedence Deny) and NetworkPolicy decides",
            netpols: NP_A_HTTPS,
            cluster: cnp("pass", "Admin", 1, NS_X, &format!("  - {{action: Pass, to: {INTERNET}}}"))
                + &cnp("deny", "Admin", 2, NS_X, &format!("  - {{action: Deny, to: {INTERNET}}}")),
            expect: &[("x/a", "TCP 443"), ("x/b", "All"), ("y/a", "All"), ("y/c", "All"), ("z/a", "All")],
        },
        FindingRow {
            rule: "Accept (Admin) overrides a NetworkPolicy that isolates the pod",
            netpols: NP_X_DENY,
            cluster: cnp(
                "resolver",
                "Admin",
                1,
                NS_X,
                "  - {action: Accept, to: [{networks: [1.1.1.1/32]}], protocols: [{udp: {destinationPort: {number: 53}}}]}",
            ),
            expect: &[("x/a", "UDP 53"), ("x/b", "UDP 53"), ("y/a", "All"), ("y/c", "All"), ("z/a", "All")],
        },
        FindingRow {
            rule: "priority: the higher-precedence Deny of 0.0.0.0/1 wins; the Accept holds on the rest",
            netpols: NP_X_DENY,
            cluster: cnp("low-half", "Admin", 1, NS_X, "  - {action: Deny, to: [{networks: [0.0.0.0/1]}]}")
                + &cnp(
                    "web",
                    "Admin",
                    2,
                    NS_X,
                    &format!(
                        "  - {{action: Accept, to: {INTERNET_V4}, protocols: [{{tcp: {{destinationPort: {{number: 80}}}}}}]}}"
                    ),
                ),
            expect: &[("x/a", "TCP 80"), ("x/b", "TCP 80"), ("y/a", "All"), ("y/c", "All"), ("z/a", "All")],
        },
        FindingRow {
            rule: "Baseline Deny applies only to pods no NetworkPolicy isolates (x/a's NetworkPolicy allows 443)",
            netpols: NP_A_HTTPS,
            cluster: cnp(
                "default",
                "Baseline",
                1,
                EVERY_NS,
                &format!("  - {{action: Deny, to: {INTERNET}}}"),
            ),
            expect: &[("x/a", "TCP 443")],
        },
        FindingRow {
            rule: "v1alpha1 AdminNetworkPolicy Deny (networks) drops before NetworkPolicy",
            netpols: NP_A_HTTPS,
            cluster: anp("no-internet", Some(10), EVERY_NS, &format!("  - {{action: Deny, to: {INTERNET}}}")),
            expect: &[],
        },
        FindingRow {
            rule: "v1alpha1 BaselineAdminNetworkPolicy Deny applies where no NetworkPolicy isolates",
            netpols: NP_A_HTTPS,
            cluster: anp("default", None, EVERY_NS, &format!("  - {{action: Deny, to: {INTERNET}}}")),
            expect: &[("x/a", "TCP 443")],
        },
    ];
    for row in rows {
        let analysis = analyse_tiers(&row);
        let got: BTreeMap<String, String> = findings::internet_egress(&analysis)
            .into_iter()
            .map(|(c, conn)| (pod_of(&analysis, c), conn.to_string()))
            .collect();
        let want: BTreeMap<String, String> =
            row.expect.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect();
        assert_eq!(got, want, "{}", row.rule);
    }
}

/// dns-blocked evaluates through the same tiers: an Admin Deny on port 53 makes it fire
/// for pods no NetworkPolicy isolates, a Pass falls through, a Baseline Deny only counts
/// where no NetworkPolicy isolates.
#[test]
fn dns_blocked_through_the_tiers() {
    let deny_53_to_dns = format!("  - {{action: Deny, to: {KUBE_DNS}, protocols: {PORT_53}}}");
    let rows = vec![
        FindingRow {
            rule: "no policy of any tier: DNS is open",
            netpols: "",
            cluster: String::new(),
            expect: &[],
        },
        FindingRow {
            rule: "Deny (Admin) of kube-dns on 53: fires for pods no NetworkPolicy isolates",
            netpols: "",
            cluster: cnp("no-dns", "Admin", 10, NS_X, &deny_53_to_dns),
            expect: &[("x/a", "UDP+TCP policy"), ("x/b", "UDP+TCP policy")],
        },
        FindingRow {
            rule: "Deny (Admin) on UDP 53 to every namespace: only UDP is blocked",
            netpols: "",
            cluster: cnp(
                "no-udp-dns",
                "Admin",
                10,
                NS_X,
                "  - {action: Deny, to: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 53}}}]}",
            ),
            expect: &[("x/a", "UDP policy"), ("x/b", "UDP policy")],
        },
        FindingRow {
            rule: "Deny (Admin) wins over a NetworkPolicy that allows DNS",
            netpols: NP_A_DNS,
            cluster: cnp("no-dns", "Admin", 10, NS_X, &deny_53_to_dns),
            expect: &[("x/a", "UDP+TCP isolated"), ("x/b", "UDP+TCP policy")],
        },
        FindingRow {
            rule: "destinationNamedPort resolves on kube-dns (dns is UDP 53)",
            netpols: "",
            cluster: cnp(
                "no-named-dns",
                "Admin",
                10,
                NS_X,
                &format!("  - {{action: Deny, to: {KUBE_DNS}, protocols: [{{destinationNamedPort: dns}}]}}"),
            ),
            expect: &[("x/a", "UDP policy"), ("x/b", "UDP policy")],
        },
        FindingRow {
            rule: "peers: a Deny towards other namespaces does not touch kube-dns",
            netpols: "",
            cluster: cnp(
                "no-y",
                "Admin",
                10,
                NS_X,
                &format!(
                    "  - {{action: Deny, to: [{{namespaces: {{matchLabels: {{team: \"y\"}}}}}}], protocols: {PORT_53}}}"
                ),
            ),
            expect: &[],
        },
        FindingRow {
            rule: "Pass: the lower-precedence Deny is skipped; no NetworkPolicy, no Baseline: allowed",
            netpols: "",
            cluster: cnp(
                "pass",
                "Admin",
                1,
                NS_X,
                &format!("  - {{action: Pass, to: {KUBE_DNS}, protocols: {PORT_53}}}"),
            ) + &cnp("no-dns", "Admin", 2, NS_X, &deny_53_to_dns),
            expect: &[],
        },
        FindingRow {
            rule: "Pass hands DNS to the Baseline tier, whose Deny applies where no NetworkPolicy isolates",
            netpols: NP_A_DNS,
            cluster: cnp(
                "pass",
                "Admin",
                1,
                NS_X,
                &format!("  - {{action: Pass, to: {KUBE_DNS}, protocols: {PORT_53}}}"),
            ) + &cnp("base", "Baseline", 1, NS_X, &deny_53_to_dns),
            expect: &[("x/b", "UDP+TCP policy")],
        },
        FindingRow {
            rule: "Accept (Admin) of DNS overrides a NetworkPolicy that isolates without allowing it",
            netpols: NP_X_DENY,
            cluster: cnp(
                "dns",
                "Admin",
                1,
                EVERY_NS,
                &format!("  - {{action: Accept, to: {KUBE_DNS}, protocols: {PORT_53}}}"),
            ),
            expect: &[],
        },
        FindingRow {
            rule: "v1alpha1 AdminNetworkPolicy Deny of kube-dns fires too",
            netpols: "",
            cluster: anp(
                "no-dns",
                Some(3),
                NS_X,
                &format!(
                    "  - {{action: Deny, to: {KUBE_DNS}, ports: [{{portNumber: {{port: 53, protocol: UDP}}}}]}}"
                ),
            ),
            expect: &[("x/a", "UDP policy"), ("x/b", "UDP policy")],
        },
        FindingRow {
            rule: "v1alpha1 BaselineAdminNetworkPolicy Deny only where no NetworkPolicy isolates",
            netpols: NP_A_DNS,
            cluster: anp(
                "default",
                None,
                EVERY_NS,
                &format!(
                    "  - {{action: Deny, to: {KUBE_DNS}, ports: [{{portNumber: {{port: 53, protocol: UDP}}}}, {{portNumber: {{port: 53}}}}]}}"
                ),
            ),
            expect: &[
                ("x/b", "UDP+TCP policy"),
                ("y/a", "UDP+TCP policy"),
                ("y/c", "UDP+TCP policy"),
                ("z/a", "UDP+TCP policy"),
            ],
        },
    ];
    for row in rows {
        let mut analysis = analyse_tiers(&row);
        // Once against the standard kube-dns the finding assumes, once against a real one.
        for with_pod in [false, true] {
            if with_pod {
                let mut cluster = fixture(row.netpols);
                cluster.cluster_policies = cluster_policies(&row.cluster);
                cluster.pods.push(
                    Pod::new("kube-system", "coredns")
                        .label("k8s-app", "kube-dns")
                        .named_port("dns", Protocol::Udp, 53)
                        .named_port("dns-tcp", Protocol::Tcp, 53),
                );
                analysis = analyse(&cluster, Options::default());
            }
            let got: BTreeMap<String, String> = findings::dns_blocked(&analysis)
                .into_iter()
                .filter(|gap| analysis.classes()[gap.class.index()].namespace != "kube-system")
                .map(|gap| {
                    let which = match (gap.udp_blocked, gap.tcp_blocked) {
                        (true, true) => "UDP+TCP",
                        (true, false) => "UDP",
                        _ => "TCP",
                    };
                    let why = if gap.egress_isolated { "isolated" } else { "policy" };
                    (pod_of(&analysis, gap.class), format!("{which} {why}"))
                })
                .collect();
            let want: BTreeMap<String, String> =
                row.expect.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect();
            assert_eq!(got, want, "{} (kube-dns pod present: {with_pod})", row.rule);
        }
    }
}

/// A cluster-wide Deny of every pod (and, for egress, every address) on every port, with a
/// subject that is every pod of a namespace, is that namespace's default deny.
#[test]
fn default_deny_by_cluster_policies() {
    let deny_pods = "  - {action: Deny, to: [{namespaces: {}}]}";
    let deny_addresses = format!("  - {{action: Deny, to: {INTERNET}}}");
    let ingress_deny = "  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}";
    /// `(namespace, ingress missing, egress missing)`.
    type Gaps = &'static [(&'static str, bool, bool)];
    let rows: Vec<(&str, String, Gaps)> = vec![
        (
            "no cluster policy: every namespace lacks a default deny",
            String::new(),
            &[("x", true, true), ("y", true, true), ("z", true, true)],
        ),
        (
            "BaselineAdminNetworkPolicy denying every pod and address: a default deny everywhere",
            anp("default", None, EVERY_NS, &format!("{deny_pods}\n{deny_addresses}\n{ingress_deny}")),
            &[],
        ),
        (
            "Admin tier, subject team=x: only x is covered",
            cnp("x-closed", "Admin", 5, NS_X, &format!("{deny_pods}\n{deny_addresses}\n{ingress_deny}")),
            &[("y", true, true), ("z", true, true)],
        ),
        (
            "egress Deny of pods and 0.0.0.0/0 only: IPv6 stays open, ingress is covered",
            cnp(
                "base",
                "Baseline",
                5,
                EVERY_NS,
                &format!("{deny_pods}\n  - {{action: Deny, to: {INTERNET_V4}}}\n{ingress_deny}"),
            ),
            &[("x", false, true), ("y", false, true), ("z", false, true)],
        ),
        (
            "an Accept before the Deny is an exception, as a default deny's allow-rules are",
            cnp(
                "base",
                "Baseline",
                5,
                EVERY_NS,
                &format!(
                    "  - {{action: Accept, to: {KUBE_DNS}, protocols: {PORT_53}}}\n{deny_pods}\n{deny_addresses}"
                ),
            ),
            &[("x", true, false), ("y", true, false), ("z", true, false)],
        ),
        (
            "a subject with a pod selector is not every pod of the namespace",
            cnp(
                "app-a",
                "Baseline",
                5,
                "{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}",
                &format!("{deny_pods}\n{deny_addresses}\n{ingress_deny}"),
            ),
            &[("x", true, true), ("y", true, true), ("z", true, true)],
        ),
        (
            "a Deny of port 53 alone is not a default deny",
            cnp(
                "no-dns",
                "Baseline",
                5,
                EVERY_NS,
                &format!(
                    "  - {{action: Deny, to: [{{namespaces: {{}}}}], protocols: {PORT_53}}}\n{deny_addresses}"
                ),
            ),
            &[("x", true, true), ("y", true, true), ("z", true, true)],
        ),
    ];
    for (rule, cluster_yaml, want) in rows {
        let mut cluster = fixture("");
        cluster.cluster_policies = cluster_policies(&cluster_yaml);
        let analysis = analyse(&cluster, Options::default());
        let got: Vec<(String, bool, bool)> = findings::namespaces_without_default_deny(&analysis)
            .into_iter()
            .map(|g| (g.namespace, g.ingress_missing, g.egress_missing))
            .collect();
        let want: Vec<(String, bool, bool)> = want.iter().map(|(n, i, e)| (n.to_string(), *i, *e)).collect();
        assert_eq!(got, want, "{rule}");
    }
}
