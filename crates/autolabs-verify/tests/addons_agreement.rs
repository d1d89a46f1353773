//! The add-on charts agree with the baseline, for every profile × provider, with monitoring
//! on and off. The charts' side is the facts table (`autolabs_model::addons::charts`, read
//! from each chart's templates at its pinned version); the baseline's side is `render`.
//!
//! - one owner per ClusterRole/Role: no name the baseline renders is also created by a chart;
//!   where the baseline owns a controller's RBAC, it binds exactly the chart's ServiceAccount
//!   and the chart is told not to create its own;
//! - the isolation matrix selects the chart pods: every pod endpoint of a flow in a namespace
//!   a chart runs in matches some pod, and the intent proof holds over baseline + chart
//!   workloads (so the matrix's flows are open for the real controller pods, and nothing more);
//! - the quotas and LimitRanges admit every chart pod (LimitRanger defaults, then quota
//!   charges, with the baseline's own workloads in the same namespace charged first);
//! - each chart pod passes its namespace's enforced Pod Security level.

use std::collections::{BTreeMap, BTreeSet};

use autolabs_model::addons::charts::{CHARTS, ChartPin, RbacOwner, charts_for};
use autolabs_model::addons::values;
use autolabs_model::platform::{Platform, Profile, Provider};
use autolabs_model::{isolation, render, topology};
use autolabs_verify::{ObjectSet, Options, Severity};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, Pod, ResourceQuota};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::Value;

const PROVIDERS: [Provider; 6] =
    [Provider::Proxmox, Provider::Aws, Provider::Gcp, Provider::Yandex, Provider::Azure, Provider::Generic];

/// Every profile × provider, with monitoring on and off.
fn platforms() -> Vec<Platform> {
    let mut out = Vec::new();
    for profile in Profile::ALL {
        for provider in PROVIDERS {
            for monitoring in [true, false] {
                let mut p = Platform::for_profile(profile, provider);
                p.spec.monitoring.enabled = monitoring;
                out.push(p);
            }
        }
    }
    out
}

fn label(p: &Platform) -> String {
    format!(
        "{}/{}/monitoring={}",
        p.spec.profile.as_str(),
        p.spec.provider.as_str(),
        p.spec.monitoring.enabled
    )
}

/// The chart workloads a platform runs, as manifests.
fn chart_workloads(p: &Platform) -> Vec<(&'static ChartPin, Value)> {
    charts_for(&p.spec).flat_map(|c| c.workloads.iter().map(move |w| (c, w.manifest()))).collect()
}

/// The rendered baseline plus the chart workloads, as `verify` reads them.
fn baseline_with_charts(p: &Platform) -> ObjectSet {
    let rendered = render(p);
    let mut text = autolabs_model::output::to_stream(&rendered);
    for (_, w) in chart_workloads(p) {
        text.push_str("---\n");
        text.push_str(&autolabs_model::output::yaml_of_json(&w));
    }
    let mut set = ObjectSet::default();
    set.add_text(&text, "baseline+charts.yaml");
    assert!(set.errors.is_empty(), "{}: {:?}", label(p), set.errors);
    set
}

#[test]
fn no_cluster_role_or_role_has_two_owners() {
    for p in platforms() {
        let rendered = render(&p);
        let cluster_roles: BTreeSet<String> =
            rendered.typed::<ClusterRole>().into_iter().filter_map(|r| r.metadata.name).collect();
        let roles: BTreeSet<String> = rendered
            .typed::<Role>()
            .into_iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r.metadata.namespace.unwrap_or_default(),
                    r.metadata.name.unwrap_or_default()
                )
            })
            .collect();
        for c in charts_for(&p.spec) {
            for name in c.cluster_roles {
                assert!(
                    !cluster_roles.contains(*name),
                    "{}: ClusterRole {name} rendered and made by {}",
                    label(&p),
                    c.release
                );
            }
            for name in c.roles {
                assert!(
                    !roles.contains(*name),
                    "{}: Role {name} rendered and made by {}",
                    label(&p),
                    c.release
                );
            }
            if c.rbac_owner == RbacOwner::Autolabs {
                // The chart must be told to create neither its roles nor its ServiceAccount.
                let v = values::of(c, &p.spec);
                assert_eq!(v["rbac"]["create"], false, "{}", c.release);
                assert_eq!(v["serviceAccount"]["create"], false, "{}", c.release);
                assert!(
                    c.cluster_roles.is_empty() && c.roles.is_empty(),
                    "{}: owned by us, yet the chart makes roles",
                    c.release
                );
            }
        }
    }
}

#[test]
fn baseline_rbac_binds_the_chart_service_accounts_it_owns() {
    for p in platforms() {
        let rendered = render(&p);
        let bindings: Vec<(String, String, String)> = rendered
            .typed::<ClusterRoleBinding>()
            .into_iter()
            .flat_map(|b| b.subjects.unwrap_or_default())
            .chain(rendered.typed::<RoleBinding>().into_iter().flat_map(|b| b.subjects.unwrap_or_default()))
            .map(|s| (s.kind, s.namespace.unwrap_or_default(), s.name))
            .collect();
        for c in charts_for(&p.spec).filter(|c| c.rbac_owner == RbacOwner::Autolabs) {
            for w in c.workloads {
                let sa =
                    ("ServiceAccount".to_string(), w.namespace.to_string(), w.service_account.to_string());
                assert!(bindings.contains(&sa), "{}: no rendered binding names {sa:?}", label(&p));
                assert!(
                    rendered.find("ServiceAccount", Some(w.namespace), w.service_account).is_some(),
                    "{}: the baseline owns {}'s ServiceAccount but does not render it",
                    label(&p),
                    c.release
                );
                let v = values::of(c, &p.spec);
                assert_eq!(v["serviceAccount"]["name"], w.service_account, "{}", c.release);
            }
        }
        // The leader-election lease the controller takes is the one its Role may update.
        let role = rendered.find("Role", Some(topology::INGRESS_NGINX), "ingress-nginx").expect("rendered");
        let names: Vec<&str> = role.value["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["resourceNames"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        assert!(names.contains(&values::INGRESS_ELECTION_ID), "{names:?}");
    }
}

#[test]
fn every_pod_endpoint_in_a_chart_namespace_selects_a_pod() {
    for p in platforms() {
        let set = baseline_with_charts(&p);
        let chart_namespaces: BTreeSet<&str> =
            charts_for(&p.spec).flat_map(|c| c.workloads.iter().map(|w| w.namespace)).collect();
        // Pod labels of every workload of the set: the baseline's and the charts'.
        let mut pods: Vec<(String, BTreeMap<String, String>)> = Vec::new();
        for o in &set.objects {
            if let Some(t) = o.pod_template() {
                let labels = t.meta.labels.clone().unwrap_or_default();
                pods.push((o.namespace.clone().unwrap_or_default(), labels));
            }
        }
        for flow in isolation::flows(&p.spec) {
            for end in [&flow.from, &flow.to] {
                let (Some(ns), Some(want)) = (&end.namespace, &end.pods) else { continue };
                if !chart_namespaces.contains(ns.as_str()) || want.is_empty() {
                    continue;
                }
                // Lab pods are the provisioner's, kube-dns the cluster's: not workloads of the set.
                if ns == topology::LABS || ns == topology::KUBE_SYSTEM {
                    continue;
                }
                let selected = pods
                    .iter()
                    .any(|(pns, labels)| pns == ns && want.iter().all(|(k, v)| labels.get(k) == Some(v)));
                assert!(
                    selected,
                    "{}: flow {} selects {ns}/{want:?}, which no pod carries",
                    label(&p),
                    flow.name
                );
            }
        }
    }
}

#[test]
fn chart_controllers_in_the_document_namespaces_reach_the_api_server() {
    for p in platforms() {
        let flows = isolation::flows(&p.spec);
        for c in charts_for(&p.spec) {
            for w in
                c.workloads.iter().filter(|w| w.api_client && topology::is_platform_namespace(w.namespace))
            {
                let labels: BTreeMap<&str, &str> = w.pod_labels().collect();
                let reaches = flows.iter().any(|f| {
                    f.from.namespace.as_deref() == Some(w.namespace)
                        && f.from.pods.as_ref().is_some_and(|want| {
                            want.iter().all(|(k, v)| labels.get(k.as_str()) == Some(&v.as_str()))
                        })
                        && f.to.cidr.as_deref() == Some(p.spec.network.node_cidr.as_str())
                        && f.ports.iter().any(|port| port.port == topology::port::API_SERVER)
                });
                assert!(
                    reaches,
                    "{}: {}/{} talks to the API server, no flow lets it",
                    label(&p),
                    w.namespace,
                    w.name
                );
            }
        }
    }
}

#[test]
fn verify_proves_the_isolation_matrix_and_admits_the_chart_pods() {
    for p in platforms() {
        let set = baseline_with_charts(&p);
        let report = autolabs_verify::run(
            &set,
            &Options { platform: Some(p.clone()), whole_platform: true, ..Options::default() },
        );
        let bad: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} {}: {}", f.engine, f.rule, f.message))
            .collect();
        assert!(bad.is_empty(), "{}: {bad:#?}", label(&p));
        let proof = report.proof.expect("the intent engine ran");
        assert!(proof.findings.iter().all(|f| f.severity != Severity::Error), "{}", label(&p));
    }
}

/// The pods of a workload manifest, `replicas` of them (DaemonSets: one per node).
fn pods_of(workload: &Value, nodes: u32) -> Vec<Pod> {
    let template = &workload["spec"]["template"];
    let replicas = match workload["kind"].as_str() {
        Some("DaemonSet") => nodes,
        Some("Job") => 1,
        _ => workload["spec"]["replicas"].as_u64().unwrap_or(1) as u32,
    };
    let mut pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": workload["metadata"]["name"], "namespace": workload["metadata"]["namespace"],
                     "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }))
    .unwrap();
    pod.metadata.namespace = workload["metadata"]["namespace"].as_str().map(str::to_string);
    (0..replicas).map(|_| pod.clone()).collect()
}

#[test]
fn quotas_and_limit_ranges_admit_the_chart_pods() {
    for p in platforms() {
        let rendered = render(&p);
        let nodes = p.spec.worker_nodes().count.unwrap_or(1).max(1);
        // The baseline's own pods are charged first, then the charts'.
        let mut by_namespace: BTreeMap<String, Vec<(String, Pod)>> = BTreeMap::new();
        for m in &rendered.manifests {
            if matches!(m.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
                for pod in pods_of(&m.value, nodes) {
                    by_namespace
                        .entry(m.namespace.clone().unwrap_or_default())
                        .or_default()
                        .push((m.id(), pod));
                }
            }
        }
        for (c, w) in chart_workloads(&p) {
            for pod in pods_of(&w, nodes) {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                by_namespace
                    .entry(ns)
                    .or_default()
                    .push((format!("{} {}", c.release, w["metadata"]["name"]), pod));
            }
        }
        for (ns, pods) in by_namespace {
            let limit_ranges: Vec<LimitRange> = rendered
                .typed::<LimitRange>()
                .into_iter()
                .filter(|l| l.metadata.namespace.as_deref() == Some(ns.as_str()))
                .collect();
            let quotas: Vec<ResourceQuota> = rendered
                .typed::<ResourceQuota>()
                .into_iter()
                .filter(|q| q.metadata.namespace.as_deref() == Some(ns.as_str()))
                .collect();
            let mut state =
                autolabs_resources::admission::Namespace::from_k8s(&limit_ranges, &quotas).unwrap();
            for (who, pod) in pods {
                match autolabs_resources::admission::admit_pod(&state, &pod) {
                    Ok(admitted) => state.record(&admitted).unwrap(),
                    Err(rejection) => panic!("{}: {ns}: {who} refused: {rejection:?}", label(&p)),
                }
            }
        }
    }
}

#[test]
fn each_chart_pod_passes_its_namespace_pod_security_level() {
    for p in platforms() {
        let rendered = render(&p);
        let levels: BTreeMap<String, BTreeMap<String, String>> = rendered
            .typed::<Namespace>()
            .into_iter()
            .map(|n| (n.metadata.name.unwrap_or_default(), n.metadata.labels.unwrap_or_default()))
            .collect();
        for (c, w) in chart_workloads(&p) {
            let ns = w["metadata"]["namespace"].as_str().unwrap();
            // kube-system is the cluster's, unlabelled: privileged, as the chart's pin says.
            let Some(labels) = levels.get(ns) else {
                assert_eq!(c.pod_security, "privileged", "{}: {ns} is not rendered", c.release);
                continue;
            };
            assert_eq!(
                labels["pod-security.kubernetes.io/enforce"],
                c.pod_security_for(ns),
                "{}: {ns}",
                c.release
            );
            let policy = autolabs_pss::namespace_policy(labels).policy();
            for pod in pods_of(&w, 1).into_iter().take(1) {
                let violations =
                    autolabs_pss::evaluate(&pod.metadata, pod.spec.as_ref().unwrap(), policy.enforce);
                assert!(
                    violations.is_empty(),
                    "{}: {} {} in {ns}: {}",
                    label(&p),
                    c.release,
                    w["metadata"]["name"],
                    autolabs_pss::aggregate_detail(&violations)
                );
            }
        }
    }
}

/// The test above can fail: ZITADEL with the chart's own securityContext (runAsNonRoot only,
/// no seccomp profile, capabilities kept) is refused by `auth`'s restricted level, which is
/// why our values set a restricted one.
#[test]
fn zitadel_with_the_chart_default_security_context_is_refused_in_auth() {
    let p = Platform::for_profile(Profile::Mvp, Provider::Proxmox);
    let rendered = render(&p);
    let auth = rendered.find("Namespace", None, topology::AUTH).unwrap();
    let labels: BTreeMap<String, String> =
        serde_json::from_value(auth.value["metadata"]["labels"].clone()).unwrap();
    let zitadel = CHARTS.iter().find(|c| c.release == "zitadel").unwrap();
    let mut workload = zitadel.workloads[0];
    let defaults = [autolabs_model::addons::charts::ChartContainer {
        security: autolabs_model::addons::charts::Security::NonRootOnly,
        ..workload.containers[0]
    }];
    workload.containers = Box::leak(Box::new(defaults));
    let pod = pods_of(&workload.manifest(), 1).remove(0);
    let policy = autolabs_pss::namespace_policy(&labels).policy();
    let violations = autolabs_pss::evaluate(&pod.metadata, pod.spec.as_ref().unwrap(), policy.enforce);
    assert!(!violations.is_empty());
}
