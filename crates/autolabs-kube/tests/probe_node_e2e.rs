//! `autolabs probe` on the REAL API server with a worker node (`../shared/kube/node up`):
//! NetworkPolicy is stored there but not enforced (a plain bridge CNI), which is exactly the
//! failure the probe must catch. Without a Ready node the test prints NOT RUN and passes;
//! under `CI=true` with `AUTOLABS_E2E_NODE=1` it fails.
//!
//! The rendered baseline's matrix is probed in a sandbox (`--namespace-prefix`): namespaces of
//! this test's own with copies of the baseline's NetworkPolicies. The probe runs as a
//! ServiceAccount bound to the opt-in RBAC `wire::run::rbac_manifests` renders, never as
//! the admin, so the rules are proven sufficient.

use std::time::{Duration, Instant};

use autolabs_kube::wire::run::{RUN_LABEL, RunConfig, Runner, rbac_manifests};
use autolabs_kube::wire::{self, Verdict};
use autolabs_model::Platform;
use autolabs_netpol::Protocol;
use autolabs_verify::intent::Intent;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};

#[tokio::test]
async fn the_rendered_baseline_on_a_cni_without_policy_support_is_reported_unenforced() {
    let Some(cluster) = autolabs_testenv::shared_with_node("probe_node_e2e baseline").await else { return };
    let admin = cluster.client();

    // The prober's identity: a ServiceAccount bound to the rendered probe RBAC (renamed for
    // this test, so parallel runs do not share the cluster-scoped objects).
    let home = cluster.namespace("probe-home", &[]).await;
    let role_name = autolabs_testenv::unique_name("autolabs-probe");
    let manifests = rbac_manifests(home.name(), "prober");
    let mut role: ClusterRole = serde_json::from_value(manifests[0].clone()).expect("a ClusterRole");
    role.metadata.name = Some(role_name.clone());
    let mut binding: ClusterRoleBinding = serde_json::from_value(manifests[1].clone()).expect("a binding");
    binding.metadata.name = Some(role_name.clone());
    binding.role_ref.name = role_name.clone();
    let post = PostParams::default();
    let account = ServiceAccount {
        metadata: kube::api::ObjectMeta { name: Some("prober".into()), ..Default::default() },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), home.name()).create(&post, &account).await.expect("sa");
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    roles.create(&post, &role).await.expect("role");
    bindings.create(&post, &binding).await.expect("binding");
    let user = format!("system:serviceaccount:{}:prober", home.name());
    let reviews: Api<SubjectAccessReview> = Api::all(admin.clone());
    autolabs_testenv::eventually("the RBAC authorizer grants the probe's rules", || async {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.clone()),
                resource_attributes: Some(ResourceAttributes {
                    group: Some("networking.k8s.io".into()),
                    resource: Some("networkpolicies".into()),
                    verb: Some("create".into()),
                    namespace: Some("anywhere".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        reviews.create(&post, &review).await.is_ok_and(|a| a.status.is_some_and(|s| s.allowed))
    })
    .await;
    let prober = cluster.service_account_client(home.name(), "prober").await;

    // The plan: the rendered baseline's classes, TCP and UDP.
    let platform = Platform::default();
    let set = wire::rendered_set(&platform);
    let intent = Intent::of_platform(&platform);
    let (_, plan) =
        wire::plan_for(&set, &intent, &[Protocol::Tcp, Protocol::Udp]).expect("the baseline plans");
    let (namespace_labels, policies) = wire::sandbox_inputs(&set);
    let prefix = autolabs_testenv::unique_name("pr");
    let config = RunConfig {
        image: "local/busybox:1".into(),
        image_pull_policy: "Never".into(),
        namespace_prefix: Some(prefix.clone()),
        connect_timeout: Duration::from_secs(2),
        pod_timeout: Duration::from_secs(90),
        parallel: 16,
    };
    let runner = Runner::new(prober, config);
    let began = Instant::now();
    let outcomes =
        runner.run(&plan, &namespace_labels, &policies, &|_, _, _| {}).await.expect("the probe ran");
    let wall = began.elapsed().as_secs_f64();
    let report = wire::judge(&plan, &outcomes);
    eprintln!(
        "probe of the rendered baseline on the local node: {} classes, {} probes in {wall:.1} s; {:?}",
        plan.pods.len(),
        plan.probes.len(),
        report.conclusions
    );

    // Every denied cell went through, every allowed one too: nothing is enforced.
    assert!(!report.passed());
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
    let table = wire::report::to_table(&report, wall);
    assert!(table.contains("allowed but predicted denied"));

    // Nothing of the run is left: its namespaces are gone or going.
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let left = namespaces
        .list(&ListParams::default().labels(&format!("{RUN_LABEL}={}", runner.run_id())))
        .await
        .expect("list namespaces")
        .items;
    assert!(!left.is_empty() || plan.pods.is_empty(), "the sandbox namespaces were labelled");
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
