//! Conformance of the RBAC probe and of the fake's SubjectAccessReviews: the 5,380 questions
//! a real kube-apiserver answered (`rbac/oracle/cases.tsv`, after `rbac/oracle/scenario.yaml`
//! was applied on top of the bootstrap policy).
//!
//! 1. Over HTTP: every question, asked as `probe::subject_access_review` builds it, gets from
//!    the fake (RBAC authorizer, scenario stored) exactly the answer the real server gave.
//! 2. Pure: the probe's comparison, fed the real server's recorded answers as its server side,
//!    finds no disagreement with our engine; with recorded answers flipped it finds exactly
//!    those.
//!
//! Exceptions: none.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use autolabs_fake::{FakeApiServer, FakeConfig, RbacReviewAuthorizer};
use autolabs_kube::probe::{ServerAnswer, compare_answers, subject_access_review};
use autolabs_rbac::{Attributes, Authorizer, Policy, PolicyObject, UserInfo};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use kube::api::{Api, PostParams};

struct Case {
    line: usize,
    user: UserInfo,
    question: Attributes,
    allowed: bool,
}

/// `cases.tsv`: user, groups, verb, apiGroup, resource, subresource, name, namespace, path,
/// allowed; `-` is empty.
fn read_cases(dir: &std::path::Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("rbac/oracle/cases.tsv")).expect("cases.tsv");
    let field = |value: &str| if value == "-" { String::new() } else { value.to_string() };
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("user\t") || line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 10, "line {}: {line}", index + 1);
        let groups = field(c[1]);
        let user = UserInfo::new(field(c[0]), groups.split(',').filter(|g| !g.is_empty()));
        let question = if field(c[8]).is_empty() {
            Attributes::resource(field(c[2]), field(c[3]), field(c[4]))
                .subresource(field(c[5]))
                .named(field(c[6]))
                .in_namespace(field(c[7]))
        } else {
            Attributes::non_resource(field(c[2]), field(c[8]))
        };
        let allowed = match c[9] {
            "true" => true,
            "false" => false,
            other => panic!("line {}: allowed = {other:?}", index + 1),
        };
        cases.push(Case { line: index + 1, user, question, allowed });
    }
    cases
}

fn scenario_text(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("rbac/oracle/scenario.yaml")).expect("scenario.yaml")
}

#[tokio::test]
async fn the_fake_answers_subject_access_reviews_like_kube_apiserver() {
    let Some(dir) = autolabs_testenv::conformance_dir() else { return };
    let cases = read_cases(&dir);
    assert_eq!(cases.len(), 5380, "the oracle has 5,380 questions");
    let config =
        FakeConfig { authorizer: Some(Arc::new(RbacReviewAuthorizer::new())), ..FakeConfig::default() };
    let server = FakeApiServer::start(config).await.expect("starts");
    server.apply_yaml(&scenario_text(&dir)).expect("scenario stored");
    let reviews: Api<SubjectAccessReview> = Api::all(server.client().expect("client"));
    let started = Instant::now();
    let answers: Vec<(usize, bool)> = futures::stream::iter(&cases)
        .map(|case| {
            let reviews = reviews.clone();
            let review = subject_access_review(&case.user, &case.question);
            async move {
                let created = reviews.create(&PostParams::default(), &review).await.expect("review answered");
                (case.line, created.status.expect("status").allowed)
            }
        })
        .buffered(8)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let disagreements: Vec<String> = cases
        .iter()
        .zip(&answers)
        .filter(|(case, (_, fake))| case.allowed != *fake)
        .map(|(case, (_, fake))| {
            format!(
                "line {}: {} {:?} {} → server {}, fake {fake}",
                case.line, case.user.name, case.user.groups, case.question, case.allowed
            )
        })
        .collect();
    println!(
        "fake SubjectAccessReviews: {} cases, {} agree, {} disagree; {:.0} reviews/s over HTTP",
        cases.len(),
        cases.len() - disagreements.len(),
        disagreements.len(),
        cases.len() as f64 / elapsed.as_secs_f64()
    );
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}

/// The scenario's RBAC objects on top of the built-in bootstrap policy: what the engine sees.
fn scenario_engine(dir: &std::path::Path) -> Authorizer {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&scenario_text(dir)).expect("scenario parses");
    let mut policy = Policy::bootstrap();
    for document in documents {
        let kind = document.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
        let object: PolicyObject = match kind.as_str() {
            "Role" => serde_json::from_value::<autolabs_rbac::k8s::Role>(document).expect("Role").into(),
            "ClusterRole" => serde_json::from_value::<autolabs_rbac::k8s::ClusterRole>(document)
                .expect("ClusterRole")
                .into(),
            "RoleBinding" => serde_json::from_value::<autolabs_rbac::k8s::RoleBinding>(document)
                .expect("RoleBinding")
                .into(),
            "ClusterRoleBinding" => {
                serde_json::from_value::<autolabs_rbac::k8s::ClusterRoleBinding>(document)
                    .expect("ClusterRoleBinding")
                    .into()
            }
            _ => continue,
        };
        policy.add(object);
    }
    Authorizer::new(&policy).expect("valid policy")
}

/// A question and the server's recorded answer.
type Answered = (Attributes, ServerAnswer);

#[test]
fn the_probe_comparison_agrees_with_recorded_server_answers() {
    let Some(dir) = autolabs_testenv::conformance_dir() else { return };
    let cases = read_cases(&dir);
    let engine = scenario_engine(&dir);
    // The probe compares one subject at a time: group the questions by user and groups.
    let mut by_user: BTreeMap<(String, Vec<String>), Vec<Answered>> = BTreeMap::new();
    for case in &cases {
        let answer = ServerAnswer { allowed: case.allowed, ..Default::default() };
        by_user
            .entry((case.user.name.clone(), case.user.groups.clone()))
            .or_default()
            .push((case.question.clone(), answer));
    }
    let (mut asked, mut allowed, mut denied) = (0, 0, 0);
    for ((name, groups), answers) in &by_user {
        let user = UserInfo::new(name.clone(), groups.clone());
        let report = compare_answers(&engine, &user, answers);
        assert!(report.agrees(), "{name} {groups:?}: {:#?}", report.disagreements);
        asked += report.asked;
        allowed += report.agreed_allowed;
        denied += report.agreed_denied;
        // Every recorded answer flipped: every question becomes a disagreement.
        let flipped: Vec<Answered> = answers
            .iter()
            .map(|(q, a)| (q.clone(), ServerAnswer { allowed: !a.allowed, ..Default::default() }))
            .collect();
        assert_eq!(compare_answers(&engine, &user, &flipped).disagreements.len(), answers.len(), "{name}");
    }
    println!(
        "probe comparison on the oracle: {} subjects, {asked} questions, {allowed} allowed by both, {denied} refused by both, 0 disagreements",
        by_user.len()
    );
    assert_eq!(asked, cases.len());
}
