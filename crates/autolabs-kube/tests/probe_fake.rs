//! `verify --cluster --probe-rbac` against the fake API server, over real HTTP.
//!
//! The fake answers SubjectAccessReviews with the same RBAC engine the probe compares with,
//! so against an honest fake the two agree by construction (the first test checks the
//! plumbing: user, groups, attributes, the stored objects). The test that matters is the
//! second: a server that deviates on chosen questions, and exactly those are reported.

use std::sync::Arc;

use autolabs_fake::{FakeApiServer, FakeConfig, OverridingAuthorizer, RbacReviewAuthorizer};
use autolabs_kube::apply::{self, ApplyOptions};
use autolabs_kube::live::{self, ClusterError};
use autolabs_kube::probe::{ProbeReport, ServiceAccountRef, probe_rbac, standard_questions};
use autolabs_model::topology::{PLATFORM, PROVISIONER_SA};
use autolabs_model::{Platform, render};
use autolabs_rbac::{Attributes, Authorizer};
use serde_json::json;

/// The rendered baseline's namespaces, ServiceAccounts and RBAC objects, applied to `server`.
async fn apply_baseline_rbac(server: &FakeApiServer) {
    let rbac: Vec<_> = render(&Platform::default())
        .manifests
        .into_iter()
        .filter(|m| {
            m.kind == "Namespace"
                || m.kind == "ServiceAccount"
                || m.api_version.starts_with("rbac.authorization.k8s.io/")
        })
        .collect();
    assert!(rbac.iter().any(|m| m.kind == "RoleBinding" && m.name == PROVISIONER_SA));
    let client = server.client().expect("client");
    let report = apply::apply(&client, &rbac, &ApplyOptions::new("autolabs"), |_| {})
        .await
        .expect("apply reaches the fake");
    assert!(report.succeeded(), "{:#?}", report.failures().map(|f| f.to_string()).collect::<Vec<_>>());
}

/// Our engine over what the fake stores, read as `verify --cluster` reads it.
async fn engine_from_cluster(server: &FakeApiServer) -> Authorizer {
    let client = server.client().expect("client");
    let set = live::read_cluster(&client).await.expect("read the fake");
    let (policy, problems) = autolabs_verify::engines::rbac::policy(&set);
    assert!(problems.is_empty(), "{problems:?}");
    Authorizer::new(&policy).expect("valid policy")
}

async fn probe(server: &FakeApiServer) -> Result<ProbeReport, ClusterError> {
    let engine = engine_from_cluster(server).await;
    let client = server.client().expect("client");
    probe_rbac(&client, &engine, &ServiceAccountRef::new(PLATFORM, PROVISIONER_SA), &standard_questions())
        .await
}

fn rbac_server() -> FakeConfig {
    FakeConfig { authorizer: Some(Arc::new(RbacReviewAuthorizer::new())), ..FakeConfig::default() }
}

#[tokio::test]
async fn an_rbac_server_agrees_with_the_engine_on_the_provisioner() {
    let server = FakeApiServer::start(rbac_server()).await.expect("starts");
    apply_baseline_rbac(&server).await;
    // `apply` lists Roles too (one LIST per kind): count only what the probe asks.
    let roles_listed_by_apply = server.request_counts().get("list roles.rbac.authorization.k8s.io").copied();
    let report = probe(&server).await.expect("probe");
    println!("{}", report.summary());
    assert!(report.agrees(), "{:#?}", report.disagreements);
    assert_eq!(report.asked, standard_questions().len());
    assert_eq!(report.agreed_allowed + report.agreed_denied, report.asked);
    // Not trivially "all refused": the provisioner's Role in `labs` is seen by both sides…
    let allowed = ["create pods", "delete pods", "watch services", "create ingresses", "list resourcequotas"];
    assert!(report.agreed_allowed >= allowed.len(), "{}", report.summary());
    // …and the fake authenticates nobody, so the rules review is skipped with a note.
    assert!(report.notes.iter().any(|n| n.contains("SelfSubjectRulesReview skipped")), "{:?}", report.notes);
    assert_eq!(report.rules_checked, 0);
    let counts = server.request_counts();
    assert_eq!(
        counts.get("list roles.rbac.authorization.k8s.io").copied().unwrap_or(0)
            - roles_listed_by_apply.unwrap_or(0),
        1,
        "the probe reads the cluster's Roles once"
    );
}

#[tokio::test]
async fn a_deviating_server_is_reported_question_by_question() {
    // The engine lets the provisioner create pods in `labs` and never exec into them.
    let create_pods = Attributes::resource("create", "", "pods").in_namespace("labs");
    let exec = Attributes::resource("create", "", "pods").subresource("exec").in_namespace("labs");
    let node_proxy = Attributes::resource("get", "", "nodes").subresource("proxy");
    let deviating = OverridingAuthorizer {
        inner: Arc::new(RbacReviewAuthorizer::new()),
        overrides: vec![(create_pods.clone(), false), (exec.clone(), true), (node_proxy.clone(), true)],
    };
    let config = FakeConfig { authorizer: Some(Arc::new(deviating)), ..FakeConfig::default() };
    let server = FakeApiServer::start(config).await.expect("starts");
    apply_baseline_rbac(&server).await;
    let report = probe(&server).await.expect("probe");
    let found: Vec<(Attributes, bool, bool)> = report
        .disagreements
        .iter()
        .map(|d| (d.question.clone(), d.server.allowed, d.engine_allowed))
        .collect();
    assert_eq!(found, vec![(create_pods, false, true), (exec, true, false), (node_proxy, true, false)]);
    let create = &report.disagreements[0];
    assert!(
        create.engine_chain.contains(&format!("RoleBinding \"labs/{PROVISIONER_SA}\"")),
        "the engine's grant chain: {}",
        create.engine_chain
    );
    assert_eq!(create.server.reason, "denied by the test's override");
    assert_eq!(report.disagreements[1].engine_chain, "no RBAC rule allows it");
    assert!(report.summary().contains("3 disagreement(s)"), "{}", report.summary());
}

#[tokio::test]
async fn without_an_authorizer_the_fake_allows_everything_and_says_so() {
    let server = FakeApiServer::start(FakeConfig::default()).await.expect("starts");
    apply_baseline_rbac(&server).await;
    let report = probe(&server).await.expect("probe");
    assert_eq!(report.agreed_denied, 0, "the fake allows every request");
    assert_eq!(report.disagreements.len(), report.asked - report.agreed_allowed);
    assert!(report.disagreements.iter().all(|d| d.server.reason.contains("authorizes every request")));
}

#[tokio::test]
async fn invalid_reviews_get_422_and_stop_the_probe() {
    let server = FakeApiServer::start(rbac_server()).await.expect("starts");
    let client = server.client().expect("client");
    let engine = Authorizer::new(&autolabs_rbac::Policy::bootstrap()).expect("bootstrap");
    // A question with neither user nor groups cannot be asked.
    let nobody = ServiceAccountRef::new(PLATFORM, PROVISIONER_SA);
    let request: http::Request<Vec<u8>> =
        http::Request::post("/apis/authorization.k8s.io/v1/subjectaccessreviews")
            .header("content-type", "application/json")
            .body(
                serde_json::to_vec(
                    &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}),
                )
                .expect("json"),
            )
            .expect("request");
    let error = client.request::<serde_json::Value>(request).await.expect_err("422");
    assert_eq!(live::error_code(&error), Some(422), "{error}");
    assert!(live::describe_error(&error).contains("at least one of user or group"), "{error}");
    // A well-formed probe goes through.
    let report = probe_rbac(&client, &engine, &nobody, &standard_questions()[..4]).await.expect("probe");
    assert_eq!(report.asked, 4);
    assert!(report.agrees(), "{:#?}", report.disagreements);
}
