//! Property test: on small random clusters, the class-based analysis equals a naive
//! evaluator that walks every policy for every pod pair, written here straight from
//! `k8s.io/api/networking/v1/types.go` and sharing no code with the engine (only label
//! selector matching, which `autolabs-k8s` owns).

use std::collections::{BTreeMap, HashMap};

use autolabs_k8s::Selector;
use autolabs_k8s::k8s::{self, IntOrString, LabelSelector, LabelSelectorRequirement, ObjectMeta};
use autolabs_netpol::{
    Analysis, Cluster, ConnSet, Endpoint, IpNet, NAMESPACE_NAME_LABEL, Namespace, Options, Pod, Protocol,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use proptest::prelude::*;

// ---------- the naive reference evaluator ----------

#[derive(Clone, Copy)]
enum Ref<'a> {
    Pod(&'a Pod),
    Ip(IpNet),
}

fn ns_labels(cluster: &Cluster, ns: &str) -> BTreeMap<String, String> {
    let mut labels =
        cluster.namespaces.iter().find(|n| n.name == ns).map(|n| n.labels.clone()).unwrap_or_default();
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
    labels
}

fn selector(sel: &LabelSelector) -> Selector {
    Selector::from_k8s(sel).expect("generated selectors are valid")
}

fn has_type(spec: &NetworkPolicySpec, ingress: bool) -> bool {
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => {
            types.iter().any(|t| t == if ingress { "Ingress" } else { "Egress" })
        }
        _ => ingress || spec.egress.as_ref().is_some_and(|e| !e.is_empty()),
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn block_matches(block: &IPBlock, peer: Ref<'_>, pod_cidrs: &[IpNet]) -> bool {
    let cidr: IpNet = block.cidr.parse::<IpNet>().expect("cidr").trunc();
    let excepts: Vec<IpNet> =
        block.except.iter().flatten().map(|e| e.parse::<IpNet>().expect("except").trunc()).collect();
    let covers = |net: &IpNet| cidr.contains(net) && !excepts.iter().any(|e| overlaps(e, net));
    match peer {
        Ref::Ip(net) => covers(&net),
        Ref::Pod(p) => {
            !p.host_network && {
                let v4: Vec<&IpNet> = pod_cidrs.iter().filter(|n| matches!(n, IpNet::V4(_))).collect();
                let v6: Vec<&IpNet> = pod_cidrs.iter().filter(|n| matches!(n, IpNet::V6(_))).collect();
                [v4, v6].iter().any(|fam| !fam.is_empty() && fam.iter().all(|n| covers(n)))
            }
        }
    }
}

fn peer_matches(
    cluster: &Cluster,
    policy_ns: &str,
    peers: Option<&Vec<NetworkPolicyPeer>>,
    peer: Ref<'_>,
    pod_cidrs: &[IpNet],
) -> bool {
    let Some(peers) = peers.filter(|p| !p.is_empty()) else { return true };
    peers.iter().any(|p| {
        if let Some(block) = &p.ip_block {
            return block_matches(block, peer, pod_cidrs);
        }
        let Ref::Pod(pod) = peer else { return false };
        if pod.host_network {
            return false;
        }
        let ns_ok = match &p.namespace_selector {
            Some(s) => selector(s).matches(&ns_labels(cluster, &pod.namespace)),
            None => pod.namespace == policy_ns,
        };
        ns_ok && p.pod_selector.as_ref().is_none_or(|s| selector(s).matches(&pod.labels))
    })
}

fn port_matches(
    ports: Option<&Vec<NetworkPolicyPort>>,
    dest: Ref<'_>,
    protocol: Protocol,
    port: u16,
) -> bool {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else { return true };
    ports.iter().any(|p| {
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        proto == protocol.as_str()
            && match &p.port {
                None => true,
                Some(IntOrString::Int(n)) => {
                    let end = p.end_port.unwrap_or(*n);
                    (*n..=end).contains(&i32::from(port))
                }
                Some(IntOrString::String(name)) => match dest {
                    Ref::Pod(d) => d
                        .named_ports
                        .iter()
                        .any(|np| np.name == *name && np.protocol == protocol && np.port == port),
                    Ref::Ip(_) => false,
                },
            }
    })
}

/// Does `subject`'s `ingress`/egress side allow the connection with `peer`?
fn side_allows(
    cluster: &Cluster,
    subject: &Pod,
    ingress: bool,
    peer: Ref<'_>,
    dest: Ref<'_>,
    (protocol, port): (Protocol, u16),
    pod_cidrs: &[IpNet],
) -> bool {
    if subject.host_network {
        return true;
    }
    let mut isolated = false;
    for policy in &cluster.policies {
        let ns = policy.metadata.namespace.as_deref().unwrap_or_default();
        let spec = policy.spec.clone().unwrap_or_default();
        if ns != subject.namespace
            || !selector(&spec.pod_selector.clone().unwrap_or_default()).matches(&subject.labels)
            || !has_type(&spec, ingress)
        {
            continue;
        }
        isolated = true;
        let allowed = if ingress {
            spec.ingress.iter().flatten().any(|r| {
                peer_matches(cluster, ns, r.from.as_ref(), peer, pod_cidrs)
                    && port_matches(r.ports.as_ref(), dest, protocol, port)
            })
        } else {
            spec.egress.iter().flatten().any(|r| {
                peer_matches(cluster, ns, r.to.as_ref(), peer, pod_cidrs)
                    && port_matches(r.ports.as_ref(), dest, protocol, port)
            })
        };
        if allowed {
            return true;
        }
    }
    !isolated
}

fn reference_allows(
    cluster: &Cluster,
    from: Ref<'_>,
    to: Ref<'_>,
    protocol: Protocol,
    port: u16,
    pod_cidrs: &[IpNet],
) -> bool {
    if let (Ref::Pod(a), Ref::Pod(b)) = (from, to)
        && std::ptr::eq(a, b)
    {
        return true;
    }
    let egress = match from {
        Ref::Pod(a) => side_allows(cluster, a, false, to, to, (protocol, port), pod_cidrs),
        Ref::Ip(_) => true,
    };
    let ingress = match to {
        Ref::Pod(b) => side_allows(cluster, b, true, from, to, (protocol, port), pod_cidrs),
        Ref::Ip(_) => true,
    };
    egress && ingress
}

// ---------- random clusters ----------

const PORTS: [u16; 8] = [1, 53, 79, 80, 81, 443, 8080, 8081];
const NAMED: [(&str, Protocol, u16); 5] = [
    ("http", Protocol::Tcp, 80),
    ("http", Protocol::Tcp, 8080),
    ("dns", Protocol::Udp, 53),
    ("web", Protocol::Tcp, 443),
    ("dns", Protocol::Tcp, 53),
];

fn arb_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        prop::option::of(prop::sample::select(vec!["x", "y", "z"])),
        prop::option::of(prop::sample::select(vec!["1", "2"])),
    )
        .prop_map(|(app, tier)| {
            let mut m = BTreeMap::new();
            if let Some(a) = app {
                m.insert("app".to_string(), a.to_string());
            }
            if let Some(t) = tier {
                m.insert("tier".to_string(), t.to_string());
            }
            m
        })
}

fn arb_selector() -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        Just(LabelSelector::default()),
        prop::sample::select(vec!["x", "y", "z"]).prop_map(|v| LabelSelector {
            match_labels: Some([("app".to_string(), v.to_string())].into()),
            match_expressions: None
        }),
        (
            prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]),
            prop::sample::select(vec!["1", "2"])
        )
            .prop_map(|(op, v)| LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: op.into(),
                    values: matches!(op, "In" | "NotIn").then(|| vec![v.to_string()]),
                }]),
            }),
    ]
}

fn arb_ns_selector() -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        Just(LabelSelector::default()),
        prop::sample::select(vec!["a", "b"]).prop_map(|v| LabelSelector {
            match_labels: Some([("team".to_string(), v.to_string())].into()),
            match_expressions: None
        }),
        prop::sample::select(vec!["n0", "n1", "n3"]).prop_map(|v| LabelSelector {
            match_labels: Some([(NAMESPACE_NAME_LABEL.to_string(), v.to_string())].into()),
            match_expressions: None
        }),
    ]
}

fn arb_peer() -> impl Strategy<Value = NetworkPolicyPeer> {
    prop_oneof![
        arb_selector().prop_map(|s| NetworkPolicyPeer { pod_selector: Some(s), ..Default::default() }),
        arb_ns_selector()
            .prop_map(|s| NetworkPolicyPeer { namespace_selector: Some(s), ..Default::default() }),
        (arb_ns_selector(), arb_selector()).prop_map(|(n, p)| NetworkPolicyPeer {
            namespace_selector: Some(n),
            pod_selector: Some(p),
            ..Default::default()
        }),
        prop::sample::select(vec![
            ("10.0.0.0/8", vec![]),
            ("10.0.0.0/8", vec!["10.1.0.0/16"]),
            ("0.0.0.0/0", vec!["10.0.0.0/8"]),
            ("8.8.0.0/16", vec![]),
        ])
        .prop_map(|(cidr, except)| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: cidr.to_string(),
                except: (!except.is_empty()).then(|| except.iter().map(|e| e.to_string()).collect()),
            }),
            ..Default::default()
        }),
    ]
}

fn arb_port() -> impl Strategy<Value = NetworkPolicyPort> {
    let proto = prop::option::of(prop::sample::select(vec!["TCP", "UDP", "SCTP"]));
    prop_oneof![
        proto.clone().prop_map(|p| NetworkPolicyPort {
            protocol: p.map(String::from),
            port: None,
            end_port: None
        }),
        (proto.clone(), prop::sample::select(PORTS.to_vec()), prop::option::of(0u16..100)).prop_map(
            |(p, n, span)| {
                NetworkPolicyPort {
                    protocol: p.map(String::from),
                    port: Some(IntOrString::Int(i32::from(n))),
                    end_port: span.map(|s| i32::from(n) + i32::from(s)),
                }
            }
        ),
        (proto, prop::sample::select(vec!["http", "dns", "web", "nosuch"])).prop_map(|(p, n)| {
            NetworkPolicyPort {
                protocol: p.map(String::from),
                port: Some(IntOrString::String(n.to_string())),
                end_port: None,
            }
        }),
    ]
}

fn arb_peers() -> impl Strategy<Value = Option<Vec<NetworkPolicyPeer>>> {
    prop_oneof![Just(None), Just(Some(vec![])), prop::collection::vec(arb_peer(), 1..3).prop_map(Some)]
}

fn arb_ports() -> impl Strategy<Value = Option<Vec<NetworkPolicyPort>>> {
    prop_oneof![Just(None), Just(Some(vec![])), prop::collection::vec(arb_port(), 1..3).prop_map(Some)]
}

fn arb_policy() -> impl Strategy<Value = (String, NetworkPolicySpec)> {
    let ingress = prop::option::of(prop::collection::vec(
        (arb_peers(), arb_ports()).prop_map(|(from, ports)| NetworkPolicyIngressRule { from, ports }),
        0..3,
    ));
    let egress = prop::option::of(prop::collection::vec(
        (arb_peers(), arb_ports()).prop_map(|(to, ports)| NetworkPolicyEgressRule { to, ports }),
        0..3,
    ));
    let types = prop::sample::select(vec![
        None,
        Some(vec!["Ingress"]),
        Some(vec!["Egress"]),
        Some(vec!["Ingress", "Egress"]),
    ]);
    (
        prop::sample::select(vec!["n0", "n1", "n2", "n3"]),
        prop::option::of(arb_selector()),
        ingress,
        egress,
        types,
    )
        .prop_map(|(ns, pod_selector, ingress, egress, types)| {
            (
                ns.to_string(),
                NetworkPolicySpec {
                    pod_selector,
                    ingress,
                    egress,
                    policy_types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
                },
            )
        })
}

fn arb_pod() -> impl Strategy<Value = (String, BTreeMap<String, String>, Vec<usize>, bool)> {
    (
        prop::sample::select(vec!["n0", "n1", "n2", "n3"]),
        arb_labels(),
        prop::sample::subsequence((0..NAMED.len()).collect::<Vec<_>>(), 0..3),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(ns, labels, ports, host)| (ns.to_string(), labels, ports, host))
}

fn arb_cluster() -> impl Strategy<Value = (Cluster, bool)> {
    (
        prop::collection::vec(arb_pod(), 1..7),
        prop::collection::vec(arb_policy(), 0..5),
        prop::sample::select(vec!["a", "b"]),
        prop::option::of(prop::sample::select(vec!["a", "b"])),
        any::<bool>(),
    )
        .prop_map(|(pods, policies, team0, team1, with_pod_cidrs)| {
            let mut t1 = BTreeMap::new();
            if let Some(t) = team1 {
                t1.insert("team".to_string(), t.to_string());
            }
            let namespaces = vec![
                Namespace::new("n0", [("team".to_string(), team0.to_string())].into()),
                Namespace::new("n1", t1),
                Namespace::new("n2", [("team".to_string(), "b".to_string())].into()),
            ];
            let pods = pods
                .into_iter()
                .enumerate()
                .map(|(i, (ns, labels, ports, host))| {
                    // A pod declares each port name once (validateContainerPorts).
                    let mut pod = Pod::new(ns, format!("p{i}")).host_network(host);
                    pod.labels = labels;
                    let mut seen = Vec::new();
                    for p in ports {
                        let (name, proto, number) = NAMED[p];
                        if !seen.contains(&name) {
                            seen.push(name);
                            pod = pod.named_port(name, proto, number);
                        }
                    }
                    pod
                })
                .collect();
            let policies = policies
                .into_iter()
                .enumerate()
                .map(|(i, (ns, spec))| k8s::NetworkPolicy {
                    metadata: ObjectMeta {
                        name: Some(format!("np{i}")),
                        namespace: Some(ns),
                        ..Default::default()
                    },
                    spec: Some(spec),
                })
                .collect();
            (Cluster { namespaces, pods, policies, ..Default::default() }, with_pod_cidrs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn class_analysis_equals_naive_per_pod_evaluation((cluster, with_pod_cidrs) in arb_cluster()) {
        let pod_cidrs: Vec<IpNet> = if with_pod_cidrs { vec!["10.244.0.0/16".parse().expect("cidr")] } else { vec![] };
        let analysis = Analysis::new(&cluster, Options { pod_cidrs: pod_cidrs.clone(), ..Options::default() }).expect("generated clusters are valid");
        let externals: Vec<IpNet> = ["10.1.2.3/32", "10.9.0.0/16", "8.8.8.8/32", "192.168.0.1/32"]
            .iter().map(|s| s.parse().expect("cidr")).collect();

        let mut ends: Vec<(Endpoint, Ref<'_>)> = cluster.pods.iter().map(|p| {
            (Endpoint::Pod(analysis.pod_id(&p.namespace, &p.name).expect("pod id")), Ref::Pod(p))
        }).collect();
        ends.extend(externals.iter().map(|n| (Endpoint::External(*n), Ref::Ip(*n))));

        for &(fe, fr) in &ends {
            for &(te, tr) in &ends {
                if matches!((fe, te), (Endpoint::External(_), Endpoint::External(_))) {
                    continue;
                }
                let conn = analysis.allowed(fe, te);
                for protocol in Protocol::ALL {
                    for port in PORTS {
                        let expected = reference_allows(&cluster, fr, tr, protocol, port, &pod_cidrs);
                        prop_assert_eq!(conn.contains(protocol, port), expected,
                            "{:?} -> {:?} {}/{}", fe, te, protocol, port);
                        let explained = analysis.explain(fe, te, protocol, port).expect("explain");
                        prop_assert_eq!(explained.allowed, expected, "explain: {}", explained);
                    }
                }
            }
        }

        // connections() lists exactly the non-empty class pairs, with allowed()'s sets.
        let listed: HashMap<(usize, usize), ConnSet> =
            analysis.connections().map(|(c, d, conn)| ((c.index(), d.index()), conn)).collect();
        for a in analysis.pod_ids() {
            for b in analysis.pod_ids() {
                if a == b { continue; }
                let (ca, cb) = (analysis.class_of(a).expect("class"), analysis.class_of(b).expect("class"));
                let conn = analysis.allowed(Endpoint::Pod(a), Endpoint::Pod(b));
                prop_assert_eq!(listed.get(&(ca.index(), cb.index())).cloned().unwrap_or_default(), conn);
            }
        }
        prop_assert!(listed.values().all(|c| !c.is_empty()));

        // namespace_matrix() is the union of the class connections per namespace pair.
        let mut expected_matrix: BTreeMap<(String, String), ConnSet> = BTreeMap::new();
        for (&(c, d), conn) in &listed {
            let (a, b) = (&analysis.classes()[c].namespace, &analysis.classes()[d].namespace);
            expected_matrix.entry((a.clone(), b.clone())).or_default().add(conn);
        }
        prop_assert_eq!(analysis.namespace_matrix(), expected_matrix);
    }
}
