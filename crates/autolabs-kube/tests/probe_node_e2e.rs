//! `autolabs probe` on the REAL API server with a worker node (`../shared/kube/node up`):
//! NetworkPolicy is stored there but not enforced (a plain bridge CNI), which is exactly the
//! failure the probe must catch. Without a Ready node the tests print NOT RUN and pass; under
//! `CI=true` with `AUTOLABS_E2E_NODE=1` they fail.
//!
//! The probe never runs as the admin: it runs with a ServiceAccount token bound to exactly
//! the RBAC `autolabs_model::render::probe` renders, so a call outside it fails the test.
//!
//! - The default mode, probing in the real namespaces: the rendered baseline (with
//!   `spec.probe.enabled`) is applied under names of this test's own — every namespace `N`
//!   becomes `N-<random>`, and its NetworkPolicies' namespace selectors and RoleBindings'
//!   subjects follow — so the shared server's `labs` or `platform` are never touched, while the
//!   runner works exactly as in existing namespaces: only probe pods are made and deleted.
//! - `--namespace-prefix` sandboxes, with the sandbox ClusterRole `--print-rbac` prints, on
//!   part of the matrix (`--namespaces`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use autolabs_kube::wire::run::{ProbeError, RUN_LABEL, RunConfig, Runner, rename_namespace_selectors};
use autolabs_kube::wire::{self, ProbePlan, Verdict};
use autolabs_model::Platform;
use autolabs_model::render::probe::{PROBE_SA, probe_namespaces, rbac, sandbox_rbac};
use autolabs_netpol::Protocol;
use autolabs_testenv::{Cluster, TestNamespace};
use autolabs_verify::intent::Intent;
use autolabs_verify::objects::ObjectSet;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::Value;

/// A run on the local node. The pods' bound is generous: the whole matrix takes 20 s on a
/// quiet node, but 100 s was seen at a load average of 25 (seven engineers' builds on 2 cores).
fn config(image: &str, namespace_prefix: Option<String>) -> RunConfig {
    RunConfig {
        image: image.into(),
        image_pull_policy: "Never".into(),
        namespace_prefix,
        connect_timeout: Duration::from_secs(2),
        pod_timeout: Duration::from_secs(240),
        parallel: 16,
    }
}

/// Whether the API server's RBAC authorizer lets `user` do `verb` on `resource` in `namespace`.
async fn allowed(cluster: &Cluster, user: &str, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.into()),
            groups: Some(vec!["system:serviceaccounts".into(), "system:authenticated".into()]),
            resource_attributes: Some(ResourceAttributes {
                group: Some(if resource == "networkpolicies" { "networking.k8s.io" } else { "" }.into()),
                resource: Some(resource.into()),
                subresource,
                verb: Some(verb.into()),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(cluster.client())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

/// The rendered baseline under names of this test's own.
struct OwnBaseline {
    /// Rendered namespace → this test's namespace.
    names: BTreeMap<String, String>,
    _namespaces: Vec<TestNamespace>,
    /// Every rendered object, renamed.
    objects: Vec<Value>,
}

impl OwnBaseline {
    async fn make(cluster: &Cluster, platform: &Platform) -> OwnBaseline {
        let rendered = autolabs_model::render(platform);
        let mut names = BTreeMap::new();
        let mut namespaces = Vec::new();
        for namespace in probe_namespaces(platform) {
            let labels: BTreeMap<String, String> = rendered
                .find("Namespace", None, &namespace)
                .and_then(|m| serde_json::from_value(m.value["metadata"]["labels"].clone()).ok())
                .unwrap_or_default();
            let labels: Vec<(&str, &str)> = labels
                .iter()
                .filter(|(k, _)| *k != "kubernetes.io/metadata.name")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let made = cluster.namespace(&namespace, &labels).await;
            names.insert(namespace, made.name().to_string());
            namespaces.push(made);
        }
        let rename = |ns: &str| names.get(ns).cloned().unwrap_or_else(|| ns.to_string());
        let objects = rendered
            .manifests
            .iter()
            .map(|m| {
                let mut value = m.value.clone();
                if m.kind == "Namespace" {
                    value["metadata"]["name"] = rename(&m.name).into();
                    if let Some(labels) = value["metadata"]["labels"].as_object_mut()
                        && labels.contains_key("kubernetes.io/metadata.name")
                    {
                        labels.insert("kubernetes.io/metadata.name".into(), rename(&m.name).into());
                    }
                }
                if let Some(namespace) = &m.namespace {
                    value["metadata"]["namespace"] = rename(namespace).into();
                }
                for subject in value.get_mut("subjects").and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Some(namespace) = subject["namespace"].as_str().map(&rename) {
                        subject["namespace"] = namespace.into();
                    }
                }
                rename_namespace_selectors(&mut value, &rename);
                value
            })
            .collect();
        OwnBaseline { names, _namespaces: namespaces, objects }
    }

    fn name(&self, namespace: &str) -> &str {
        &self.names[namespace]
    }

    fn set(&self) -> ObjectSet {
        let mut set = ObjectSet::default();
        for (n, value) in self.objects.iter().enumerate() {
            set.add_text(&autolabs_model::output::yaml_of_json(value), &format!("rendered-{n}.yaml"));
        }
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        set
    }

    /// The platform's intent, renamed.
    fn intent(&self, platform: &Platform) -> Intent {
        let mut intent = Intent::of_platform(platform);
        let rename = |ns: &mut Option<String>| {
            if let Some(name) = ns.as_ref().and_then(|n| self.names.get(n)) {
                *ns = Some(name.clone());
            }
        };
        for flow in &mut intent.flows {
            rename(&mut flow.from.namespace);
            rename(&mut flow.to.namespace);
        }
        intent.namespaces =
            intent.namespaces.iter().map(|n| self.names.get(n).unwrap_or(n).clone()).collect();
        intent
    }

    /// Creates the renamed objects of `kinds` as the admin.
    async fn apply(&self, cluster: &Cluster, kinds: &[&str]) {
        let post = PostParams::default();
        for value in self.objects.iter().filter(|v| kinds.iter().any(|k| v["kind"] == *k)) {
            let namespace = value["metadata"]["namespace"].as_str().unwrap_or_default();
            let what = format!("create {} {namespace}/{}", value["kind"], value["metadata"]["name"]);
            let client = cluster.client();
            let created = match value["kind"].as_str() {
                Some("NetworkPolicy") => Api::<NetworkPolicy>::namespaced(client, namespace)
                    .create(&post, &serde_json::from_value(value.clone()).expect("a NetworkPolicy"))
                    .await
                    .map(drop),
                Some("ServiceAccount") => Api::<ServiceAccount>::namespaced(client, namespace)
                    .create(&post, &serde_json::from_value(value.clone()).expect("a ServiceAccount"))
                    .await
                    .map(drop),
                Some("Role") => Api::<Role>::namespaced(client, namespace)
                    .create(&post, &serde_json::from_value(value.clone()).expect("a Role"))
                    .await
                    .map(drop),
                Some("RoleBinding") => Api::<RoleBinding>::namespaced(client, namespace)
                    .create(&post, &serde_json::from_value(value.clone()).expect("a RoleBinding"))
                    .await
                    .map(drop),
                other => panic!("{what}: kind {other:?} not applied by this test"),
            };
            created.unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
}

/// This run's pods that are not being deleted, in `namespaces`.
async fn live_probe_pods(cluster: &Cluster, runner: &Runner, namespaces: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for namespace in namespaces {
        let pods: Api<Pod> = Api::namespaced(cluster.client(), namespace);
        let listed = pods
            .list(&ListParams::default().labels(&format!("{RUN_LABEL}={}", runner.run_id())))
            .await
            .expect("list pods")
            .items;
        out.extend(
            listed
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter_map(|p| p.metadata.name.map(|n| format!("{namespace}/{n}"))),
        );
    }
    out
}

#[tokio::test]
async fn the_real_namespaces_are_probed_with_exactly_the_rendered_rbac_and_left_as_they_were() {
    let Some(cluster) = autolabs_testenv::shared_with_node("probe_node_e2e real namespaces").await else {
        return;
    };
    let mut platform = Platform::default();
    platform.spec.probe.enabled = true;
    let baseline = OwnBaseline::make(&cluster, &platform).await;
    baseline.apply(&cluster, &["NetworkPolicy", "ServiceAccount", "Role", "RoleBinding"]).await;
    let home = baseline.name("platform").to_string();
    let user = format!("system:serviceaccount:{home}:{PROBE_SA}");
    let labs = baseline.name("labs").to_string();
    autolabs_testenv::eventually("the RBAC authorizer grants the rendered probe Role", || {
        allowed(&cluster, &user, "create", "pods", Some(&labs))
    })
    .await;
    // Least privilege: nothing cluster-wide, nothing outside the matrix's namespaces.
    for (verb, resource, namespace) in [
        ("get", "namespaces", None),
        ("create", "namespaces", None),
        ("create", "pods", Some("default")),
        ("get", "pods", Some(labs.as_str())),
        ("delete", "pods", Some(labs.as_str())),
        ("get", "secrets", Some(home.as_str())),
        ("create", "pods/exec", Some(labs.as_str())),
        ("create", "networkpolicies", Some(labs.as_str())),
    ] {
        assert!(
            !allowed(&cluster, &user, verb, resource, namespace).await,
            "{verb} {resource} in {namespace:?}"
        );
    }
    let prober = cluster.service_account_client(&home, PROBE_SA).await;

    let set = baseline.set();
    let intent = baseline.intent(&platform);
    let (_, plan) =
        wire::plan_for(&set, &intent, &[Protocol::Tcp, Protocol::Udp]).expect("the renamed baseline plans");
    let ours: BTreeSet<&str> = baseline.names.values().map(String::as_str).collect();
    assert!(plan.pods.iter().all(|p| ours.contains(p.namespace.as_str())), "{:?}", plan.pods);
    let runner = Runner::new(prober.clone(), config("local/busybox:1", None));
    let began = Instant::now();
    let outcomes = runner
        .run(&plan, &BTreeMap::new(), &[], &|_, _, _| {})
        .await
        .expect("the probe ran in the real namespaces with the rendered RBAC");
    let wall = began.elapsed().as_secs_f64();
    let report = wire::judge(&plan, &outcomes);
    eprintln!(
        "probe of the rendered baseline in its real namespaces on the local node: {} classes, {} probes in {wall:.1} s; {:?}",
        plan.pods.len(),
        plan.probes.len(),
        report.conclusions
    );
    for result in &report.results {
        let expected =
            if result.predicted_allowed { Verdict::AsPredicted } else { Verdict::AllowedButPredictedDenied };
        assert_eq!(result.verdict, expected, "{result:?}");
    }
    assert!(report.allowed_but_predicted_denied > 0 && report.as_predicted > 0);
    assert!(
        report.conclusions[0].starts_with("this cluster's CNI does not enforce NetworkPolicy"),
        "{:?}",
        report.conclusions
    );

    // The probe pods are gone; the namespaces and their policies are as they were.
    let namespaces: Vec<&str> = ours.iter().copied().collect();
    assert_eq!(live_probe_pods(&cluster, &runner, &namespaces).await, Vec::<String>::new());
    let api: Api<Namespace> = Api::all(cluster.client());
    for namespace in &namespaces {
        let left = api.get(namespace).await.expect("the namespace is still there");
        assert!(left.metadata.deletion_timestamp.is_none(), "{namespace} is not being deleted");
    }
    let policies: Api<NetworkPolicy> = Api::namespaced(cluster.client(), &labs);
    assert!(!policies.list(&ListParams::default()).await.expect("list").items.is_empty());

    // On an error (an image the node does not have), the pods made so far are deleted too.
    let partial = ProbePlan { pods: plan.pods[..2].to_vec(), ..ProbePlan::default() };
    let failing = Runner::new(prober, config("local/absent:1", None));
    let error = failing.run(&partial, &BTreeMap::new(), &[], &|_, _, _| {}).await.expect_err("no such image");
    assert!(matches!(error, ProbeError::PodFailed { .. }), "{error}");
    assert!(error.to_string().contains("ErrImageNeverPull"), "{error}");
    assert_eq!(live_probe_pods(&cluster, &failing, &namespaces).await, Vec::<String>::new());
    assert!(api.get(&labs).await.expect("labs").metadata.deletion_timestamp.is_none());
}

#[tokio::test]
async fn a_missing_real_namespace_is_an_error_that_names_it() {
    let Some(cluster) = autolabs_testenv::shared_with_node("probe_node_e2e missing namespace").await else {
        return;
    };
    let platform = Platform::default();
    let set = wire::rendered_set(&platform);
    let (_, plan) = wire::plan_for(&set, &Intent::of_platform(&platform), &[Protocol::Tcp]).expect("plans");
    let mut missing = ProbePlan { pods: plan.pods[..1].to_vec(), ..ProbePlan::default() };
    let name = autolabs_testenv::unique_name("absent");
    missing.pods[0].namespace = name.clone();
    let runner = Runner::new(cluster.client(), config("local/busybox:1", None));
    let error = runner.run(&missing, &BTreeMap::new(), &[], &|_, _, _| {}).await.expect_err("no namespace");
    assert!(matches!(error, ProbeError::RealNamespace { .. }), "{error}");
    assert!(error.to_string().contains(&name) && error.to_string().contains("--namespace-prefix"), "{error}");
    let api: Api<Namespace> = Api::all(cluster.client());
    assert!(api.get_opt(&name).await.expect("get").is_none(), "the real mode never makes namespaces");
}

#[tokio::test]
async fn a_sandbox_runs_with_the_printed_sandbox_rbac() {
    let Some(cluster) = autolabs_testenv::shared_with_node("probe_node_e2e sandbox").await else { return };
    let admin = cluster.client();

    // The prober: a ServiceAccount of this test's own bound to the sandbox ClusterRole
    // (renamed, so parallel runs do not share the cluster-scoped objects).
    let platform = Platform::default();
    let home = cluster.namespace("probe-home", &[]).await;
    let role_name = autolabs_testenv::unique_name(PROBE_SA);
    let post = PostParams::default();
    let manifests = sandbox_rbac(&platform);
    let value = |kind: &str| manifests.iter().find(|m| m.kind == kind).expect(kind).value.clone();
    let mut account: ServiceAccount = serde_json::from_value(value("ServiceAccount")).expect("sa");
    account.metadata.namespace = Some(home.name().into());
    let mut role: ClusterRole = serde_json::from_value(value("ClusterRole")).expect("role");
    role.metadata.name = Some(role_name.clone());
    let mut binding: ClusterRoleBinding =
        serde_json::from_value(value("ClusterRoleBinding")).expect("binding");
    binding.metadata.name = Some(role_name.clone());
    binding.role_ref.name = role_name.clone();
    for subject in binding.subjects.iter_mut().flatten() {
        subject.namespace = Some(home.name().into());
    }
    assert!(rbac(&platform).iter().all(|m| m.namespace.is_some()), "only the sandbox is cluster-wide");
    Api::<ServiceAccount>::namespaced(admin.clone(), home.name()).create(&post, &account).await.expect("sa");
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    roles.create(&post, &role).await.expect("role");
    bindings.create(&post, &binding).await.expect("binding");
    let user = format!("system:serviceaccount:{}:{PROBE_SA}", home.name());
    autolabs_testenv::eventually("the RBAC authorizer grants the sandbox rules", || {
        allowed(&cluster, &user, "create", "networkpolicies", Some("anywhere"))
    })
    .await;
    let prober = cluster.service_account_client(home.name(), PROBE_SA).await;

    // Part of the matrix (`--namespaces labs,platform`): fewer pods, the same verdicts.
    let set = wire::rendered_set(&platform);
    let intent = Intent::of_platform(&platform);
    let (_, whole) =
        wire::plan_for(&set, &intent, &[Protocol::Tcp, Protocol::Udp]).expect("the baseline plans");
    let plan = whole.restricted_to(&["labs".to_string(), "platform".to_string()].into());
    let (namespace_labels, policies) = wire::sandbox_inputs(&set);
    let prefix = autolabs_testenv::unique_name("pr");
    let runner = Runner::new(prober, config("local/busybox:1", Some(prefix)));
    let began = Instant::now();
    let outcomes =
        runner.run(&plan, &namespace_labels, &policies, &|_, _, _| {}).await.expect("the probe ran");
    let wall = began.elapsed().as_secs_f64();
    let report = wire::judge(&plan, &outcomes);
    eprintln!(
        "probe of labs and platform in a sandbox on the local node: {} classes, {} probes in {wall:.1} s",
        plan.pods.len(),
        plan.probes.len(),
    );
    for result in &report.results {
        let expected =
            if result.predicted_allowed { Verdict::AsPredicted } else { Verdict::AllowedButPredictedDenied };
        assert_eq!(result.verdict, expected, "{result:?}");
    }
    assert!(report.allowed_but_predicted_denied > 0 && report.as_predicted > 0);
    let table = wire::report::to_table(&report, wall);
    assert!(table.contains("allowed but predicted denied"));

    // Nothing of the run is left: its namespaces are gone or going.
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let left = namespaces
        .list(&ListParams::default().labels(&format!("{RUN_LABEL}={}", runner.run_id())))
        .await
        .expect("list namespaces")
        .items;
    assert!(!left.is_empty(), "the sandbox namespaces were labelled");
    for namespace in &left {
        assert!(
            namespace.metadata.deletion_timestamp.is_some(),
            "{:?} is being deleted",
            namespace.metadata.name
        );
    }
    bindings.delete(&role_name, &DeleteParams::default()).await.expect("delete binding");
    roles.delete(&role_name, &DeleteParams::default()).await.expect("delete role");
}
