//! connlist, diff and explain JSON over whole inputs: a small fixture with exact expected
//! lines (np-guard's text format), the rendered baseline, and agreement of every listed line
//! with the analysis it came from.

use autolabs_model::Platform;
use autolabs_netpol::{ConnSet, Endpoint, IpNet, Options, Protocol};
use autolabs_verify::connlist::{self, Peer};
use autolabs_verify::diff::{self, Change};
use autolabs_verify::engines::netpol::analyse;
use autolabs_verify::intent::{Intent, analyse_with_probes};

mod support;
use support::{list_of, rendered, set_of};

/// `shop`: Deployment `web` (2 replicas, named port http=8080), StatefulSet `db`, and a Pod of
/// ReplicaSet `web-7d9f` (not among the inputs) with web's labels; `tools`: a bare Pod `debug`
/// and no policies. Policies: default deny in `shop`; web admits http from the internet minus
/// 10.0.0.0/8 and from namespace `tools`; web may reach db on 5432 and anything on 53; db
/// admits web on 5432.
const SHOP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: postgres}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f-x2x8q
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, uid: u1, controller: true}]
spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: tools, labels: {app: debug}}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: tools}}
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
"#;

const SHOP_EXPECTED: &str = "\
0.0.0.0-255.255.255.255[External] => tools/debug[Pod] : All Connections
0.0.0.0-9.255.255.255[External] => shop/web-7d9f[ReplicaSet] : TCP 8080
0.0.0.0-9.255.255.255[External] => shop/web[Deployment] : TCP 8080
11.0.0.0-255.255.255.255[External] => shop/web-7d9f[ReplicaSet] : TCP 8080
11.0.0.0-255.255.255.255[External] => shop/web[Deployment] : TCP 8080
shop/web-7d9f[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : TCP 53,UDP 53
shop/web-7d9f[ReplicaSet] => shop/db[StatefulSet] : TCP 5432
shop/web-7d9f[ReplicaSet] => tools/debug[Pod] : TCP 53,UDP 53
shop/web[Deployment] => 0.0.0.0-255.255.255.255[External] : TCP 53,UDP 53
shop/web[Deployment] => shop/db[StatefulSet] : TCP 5432
shop/web[Deployment] => tools/debug[Pod] : TCP 53,UDP 53
tools/debug[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections
tools/debug[Pod] => shop/web-7d9f[ReplicaSet] : TCP 8080
tools/debug[Pod] => shop/web[Deployment] : TCP 8080
";

#[test]
fn the_fixture_lists_exactly_the_expected_lines() {
    let list = list_of(&set_of(SHOP));
    assert_eq!(connlist::to_txt(&list), SHOP_EXPECTED);
    let names: Vec<String> = list.workloads.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["shop/db[StatefulSet]", "shop/web-7d9f[ReplicaSet]", "shop/web[Deployment]", "tools/debug[Pod]"]
    );
}

/// One row per listing rule, each naming the upstream behaviour it mirrors:
/// (rule, manifests, expected lines).
#[test]
fn listing_rules() {
    const DEPLOY3: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: team}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}]}\n";
    const OWNED_PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: w-1, namespace: team, labels: {app: w}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: w-5f, uid: u, controller: true}]}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: w-2, namespace: team, labels: {app: w}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: w-5f, uid: u, controller: true}]}\nspec: {containers: [{name: c, image: i}]}\n";
    const JOB_AND_ITS_POD: &str = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: team}\nspec:\n  template:\n    metadata: {labels: {app: j}}\n    spec: {restartPolicy: Never, containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: j-abcde, namespace: team, labels: {app: j}, ownerReferences: [{apiVersion: batch/v1, kind: Job, name: j, uid: u, controller: true}]}\nspec: {containers: [{name: c, image: i}]}\n";
    const DENY_ALL: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: team}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n";
    const HOST_POD: &str = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: team}\nspec: {hostNetwork: true, containers: [{name: c, image: i}]}\n";
    let rows: [(&str, String, &[&str]); 5] = [
        (
            "np-guard connlist.go includePairOfWorkloads: a workload to itself is skipped, whatever its replicas",
            DEPLOY3.to_string(),
            &[
                "0.0.0.0-255.255.255.255[External] => team/web[Deployment] : All Connections",
                "team/web[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections",
            ],
        ),
        (
            "np-guard workload peers: pods of one controller not in the input are one workload, named by the owner",
            OWNED_PODS.to_string(),
            &[
                "0.0.0.0-255.255.255.255[External] => team/w-5f[ReplicaSet] : All Connections",
                "team/w-5f[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections",
            ],
        ),
        (
            "issue 4: a Pod with a controller ownerReference in the input is reported under its owner",
            JOB_AND_ITS_POD.to_string(),
            &[
                "0.0.0.0-255.255.255.255[External] => team/j[Job] : All Connections",
                "team/j[Job] => 0.0.0.0-255.255.255.255[External] : All Connections",
            ],
        ),
        (
            "types.go policyTypes: isolated both ways with no rules, nothing is listed",
            format!("{DEPLOY3}{DENY_ALL}"),
            &[],
        ),
        (
            "hostNetwork pods are outside NetworkPolicy: everything reaches them, even when the namespace denies all",
            format!("{DEPLOY3}{DENY_ALL}{HOST_POD}"),
            &[
                "0.0.0.0-255.255.255.255[External] => team/agent[Pod] : All Connections",
                "team/agent[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections",
            ],
        ),
    ];
    for (rule, manifests, expected) in rows {
        let text = connlist::to_txt(&list_of(&set_of(&manifests)));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, expected, "{rule}");
    }
}

#[test]
fn every_format_carries_the_same_lines() {
    let list = list_of(&set_of(SHOP));
    let n = SHOP_EXPECTED.lines().count();
    let json = connlist::to_json(&list);
    assert_eq!(json.as_array().map(Vec::len), Some(n));
    assert_eq!(json[1]["src"], "0.0.0.0-9.255.255.255[External]");
    assert_eq!(json[1]["conn"], "TCP 8080");
    let csv = connlist::to_csv(&list);
    assert_eq!(csv.lines().next(), Some("src,dst,conn"));
    assert!(csv.contains("shop/web[Deployment],tools/debug[Pod],\"TCP 53,UDP 53\"\n"), "{csv}");
    let md = connlist::to_md(&list);
    assert_eq!(md.lines().count(), n + 2);
    assert!(md.contains("| shop/web[Deployment] | shop/db[StatefulSet] | TCP 5432 |"));
    let dot = connlist::to_dot(&list);
    assert!(dot.starts_with("digraph {"));
    assert!(dot.contains("subgraph \"cluster_shop\""));
    assert!(dot.contains("\"shop/db[StatefulSet]\" [label=\"db[StatefulSet]\""), "db is drawn without edges");
    assert!(dot.contains(
        "\"11.0.0.0-255.255.255.255[External]\" [label=\"11.0.0.0-255.255.255.255[External]\" shape=ellipse"
    ));
    assert!(dot.contains("\"shop/web[Deployment]\" -> \"shop/db[StatefulSet]\" [label=\"TCP 5432\""));
    assert_eq!(dot.matches(" -> ").count(), n);
}

#[test]
fn every_listed_line_agrees_with_the_analysis() {
    // Workload pairs: the listed set is the analysis' set between their pods; external
    // ranges: every address of a listed range gets the listed set, and addresses in no
    // listed range get nothing.
    let set = set_of(SHOP);
    let (analysis, built) = analyse(&set, Options::default());
    let Some(a) = analysis else { panic!("analysis failed") };
    let list = connlist::connlist(&a, &built);
    let pod =
        |ns: &str, name: &str| Endpoint::Pod(a.pod_id(ns, name).unwrap_or_else(|| panic!("{ns}/{name}")));
    let listed = |src: &str, dst: &str| -> ConnSet {
        list.connections
            .iter()
            .find(|c| c.src.to_string() == src && c.dst.to_string() == dst)
            .map(|c| c.conns.clone())
            .unwrap_or_default()
    };
    let pods = [
        ("shop", "Deployment/web", "shop/web[Deployment]"),
        ("shop", "StatefulSet/db", "shop/db[StatefulSet]"),
        ("shop", "web-7d9f-x2x8q", "shop/web-7d9f[ReplicaSet]"),
        ("tools", "debug", "tools/debug[Pod]"),
    ];
    for (ans, aname, atext) in pods {
        for (bns, bname, btext) in pods {
            if atext == btext {
                continue;
            }
            assert_eq!(
                listed(atext, btext),
                a.allowed(pod(ans, aname), pod(bns, bname)),
                "{atext} => {btext}"
            );
        }
        for ip in [
            "0.0.0.0",
            "9.255.255.255",
            "10.0.0.1",
            "10.255.255.255",
            "11.0.0.0",
            "8.8.8.8",
            "255.255.255.255",
        ] {
            let address: std::net::Ipv4Addr = ip.parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            let net = Endpoint::External(IpNet::from(std::net::IpAddr::V4(address)));
            let find = |to_external: bool| -> ConnSet {
                list.connections
                    .iter()
                    .find(|c| {
                        let (w, e) = if to_external { (&c.src, &c.dst) } else { (&c.dst, &c.src) };
                        w.to_string() == atext
                            && matches!(e, Peer::External(r) if r.first <= address && address <= r.last)
                    })
                    .map(|c| c.conns.clone())
                    .unwrap_or_default()
            };
            assert_eq!(find(true), a.allowed(pod(ans, aname), net), "{atext} => {ip}");
            assert_eq!(find(false), a.allowed(net, pod(ans, aname)), "{ip} => {atext}");
        }
    }
}

#[test]
fn the_baseline_lists_ingress_nginx_through_its_probe() {
    let p = Platform::default();
    let set = rendered(&p);
    let (analysis, built) = analyse_with_probes(&set, &Intent::of_platform(&p));
    let Some(a) = analysis else { panic!("analysis failed: {:?}", built.problems) };
    let text = connlist::to_txt(&connlist::connlist(&a, &built));
    let controller = "ingress-nginx/probe:app.kubernetes.io/component=controller,app.kubernetes.io/name=ingress-nginx[Probe]";
    for line in [
        format!("{controller} => platform/backend-platform[Deployment] : TCP 8000"),
        format!("{controller} => kube-system/probe:k8s-app=kube-dns[Probe] : TCP 53,UDP 53"),
        format!("0.0.0.0-9.255.255.255[External] => {controller} : TCP 80,443"),
        format!("monitoring/probe:app=prometheus[Probe] => {controller} : TCP 10254"),
        "platform/backend-platform[Deployment] => infrastructure/postgres[StatefulSet] : TCP 5432"
            .to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    // Only ingress-nginx reaches the labs, and never from the internet directly.
    for line in text.lines().filter(|l| l.contains("=> labs/")) {
        assert!(line.starts_with(controller), "{line}");
    }
    // The "any other pod" probes are not listed.
    assert!(!text.contains("probe:unlabelled"));
    // Sorted like np-guard: by source text, then destination text.
    let lines: Vec<&str> = text.lines().collect();
    let keys: Vec<(&str, &str)> = lines.iter().filter_map(|l| l.split_once(" => ")).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|x, y| (x.0, x.1.split(" : ").next()).cmp(&(y.0, y.1.split(" : ").next())));
    assert_eq!(keys, sorted);
}

#[test]
fn diff_reports_added_removed_and_changed_connections() {
    let old = list_of(&set_of(SHOP));
    let changed = SHOP
        // web no longer admits namespace tools, and admits 10.0.0.0/8 except 10.0.0.0/16
        .replace("    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: tools}}\n", "")
        .replace("except: [10.0.0.0/8]", "except: [10.0.0.0/16]")
        // web → db on 5432-5433
        .replace(
            "    ports: [{port: 5432}]\n  - ports",
            "    ports: [{port: 5432, endPort: 5433}]\n  - ports",
        )
        .replace(
            "  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}]",
            "  - from: [{podSelector: {matchLabels: {app: web}}}]\n    ports: [{port: 5432}, {port: 5433}]",
        );
    let new = list_of(&set_of(&changed));
    let d = diff::diff(&old, &new);
    let rows: Vec<(Change, String, String, String, String)> = d
        .entries
        .iter()
        .map(|e| {
            (
                e.change,
                e.src.to_string(),
                e.dst.to_string(),
                connlist::conn_string(&e.old),
                connlist::conn_string(&e.new),
            )
        })
        .collect();
    let row = |c: Change, s: &str, t: &str, o: &str, n: &str| {
        (c, s.to_string(), t.to_string(), o.to_string(), n.to_string())
    };
    assert_eq!(
        rows,
        [
            row(
                Change::Added,
                "10.1.0.0-10.255.255.255[External]",
                "shop/web-7d9f[ReplicaSet]",
                "No Connections",
                "TCP 8080"
            ),
            row(
                Change::Added,
                "10.1.0.0-10.255.255.255[External]",
                "shop/web[Deployment]",
                "No Connections",
                "TCP 8080"
            ),
            row(
                Change::Removed,
                "tools/debug[Pod]",
                "shop/web-7d9f[ReplicaSet]",
                "TCP 8080",
                "No Connections"
            ),
            row(Change::Removed, "tools/debug[Pod]", "shop/web[Deployment]", "TCP 8080", "No Connections"),
            row(
                Change::Changed,
                "shop/web-7d9f[ReplicaSet]",
                "shop/db[StatefulSet]",
                "TCP 5432",
                "TCP 5432-5433"
            ),
            row(Change::Changed, "shop/web[Deployment]", "shop/db[StatefulSet]", "TCP 5432", "TCP 5432-5433"),
        ]
    );
    assert!(diff::diff(&old, &old).is_empty());
    let table = diff::to_table(&d);
    assert!(table.ends_with("2 added, 2 removed, 2 changed\n"), "{table}");
    assert_eq!(diff::to_json(&d)["diff"][0]["diff-type"], "added");
    assert_eq!(diff::to_md(&d).lines().count(), 2 + 6);
}

#[test]
fn explain_json_names_rules_and_policies() {
    let set = set_of(SHOP);
    let (analysis, _) = analyse(&set, Options::default());
    let Some(a) = analysis else { panic!("analysis failed") };
    let pod =
        |ns: &str, name: &str| Endpoint::Pod(a.pod_id(ns, name).unwrap_or_else(|| panic!("{ns}/{name}")));
    let allowed = a.explain(pod("tools", "debug"), pod("shop", "Deployment/web"), Protocol::Tcp, 8080);
    let Ok(allowed) = allowed else { panic!("explain failed") };
    let v = connlist::explanation_json(&allowed);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["from"], "tools/debug");
    assert_eq!(v["to"], "shop/Deployment/web");
    assert_eq!((v["protocol"].as_str(), v["port"].as_u64()), (Some("TCP"), Some(8080)));
    assert_eq!(v["egress"]["verdict"], "not-isolated");
    assert_eq!(v["ingress"]["verdict"], "allowed");
    assert_eq!(v["ingress"]["rules"][0]["policy"], "shop/web-ingress");
    assert_eq!(v["ingress"]["rules"][0]["field"], "spec.ingress[0]");

    let denied = a.explain(pod("shop", "Deployment/web"), pod("tools", "debug"), Protocol::Tcp, 80);
    let Ok(denied) = denied else { panic!("explain failed") };
    let v = connlist::explanation_json(&denied);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["egress"]["verdict"], "denied");
    assert_eq!(v["egress"]["allowed"], false);
    let policies: Vec<&str> = v["egress"]["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["policy"].as_str())
        .collect();
    assert!(
        policies.contains(&"shop/web-egress") && policies.contains(&"shop/default-deny-all"),
        "{policies:?}"
    );
    assert_eq!(v["ingress"]["verdict"], "not-isolated");
}

/// Figures, not assertions: how long `connlist` takes on the deterministic synthetic clusters
/// of `autolabs_netpol::synthetic`. Run with
/// `cargo test --release -p autolabs-verify --test connlist -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: prints figures"]
fn connlist_figures_on_synthetic_clusters() {
    use autolabs_netpol::synthetic::{SyntheticParams, generate};
    for (namespaces, pods, policies) in
        [(100, 1_000, 1_000), (1_000, 10_000, 10_000), (2_000, 20_000, 20_000)]
    {
        let cluster = generate(SyntheticParams { namespaces, pods, policies });
        let started = std::time::Instant::now();
        let Ok(analysis) = autolabs_netpol::Analysis::new(&cluster, Options::default()) else {
            panic!("synthetic cluster is valid")
        };
        let analysed = started.elapsed();
        let built = autolabs_verify::engines::netpol::Built {
            cluster,
            sources: Default::default(),
            workloads: Default::default(),
            stand_ins: Vec::new(),
            problems: Vec::new(),
        };
        let started = std::time::Instant::now();
        let list = connlist::connlist(&analysis, &built);
        let listed = started.elapsed();
        let text = connlist::to_txt(&list);
        println!(
            "{namespaces} namespaces / {pods} pods / {policies} policies: analysis {:.3} s, connlist {:.3} s, \
             {} workloads, {} lines ({} KiB of text)",
            analysed.as_secs_f64(),
            listed.as_secs_f64(),
            list.workloads.len(),
            list.connections.len(),
            text.len() / 1024
        );
    }
}
