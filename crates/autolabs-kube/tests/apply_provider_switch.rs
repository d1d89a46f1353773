//! Switching the default baseline's `provider` (proxmox → aws) on a real API server: the
//! StorageClass changes (`local-path` → `gp3-encrypted`), and with it the class of every claim,
//! which the server refuses to change. Reproduces what a user met: `apply --prune` used to plan
//! to prune `StorageClass/local-path` while six live claims used it.
//!
//! The default baseline lives in fixed namespaces (`labs`, `platform`, …), which only one test
//! binary may use on the shared control plane, and this test deletes objects: it runs on a
//! control plane of its own (port 18443, wiped at the end).

use autolabs_kube::apply::{self, ApplyOptions, ApplyReport, Outcome};
use autolabs_model::{Manifest, Platform, Provider, render};
use autolabs_testenv::{Cluster, OwnCluster};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use kube::api::ListParams;

const PORT: u16 = 18443;

async fn run(cluster: &Cluster, desired: &[Manifest], options: &ApplyOptions) -> ApplyReport {
    apply::apply(&cluster.client(), desired, options, |r| eprintln!("{r}")).await.expect("apply runs")
}

fn failures(report: &ApplyReport) -> Vec<(String, String)> {
    report
        .results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(message) => Some((r.key.to_string(), message.clone())),
            _ => None,
        })
        .collect()
}

fn kept(report: &ApplyReport, id: &str) -> String {
    let result =
        report.results.iter().find(|r| r.key.to_string() == id).unwrap_or_else(|| panic!("{id} not planned"));
    match &result.outcome {
        Outcome::Kept(reason) => reason.clone(),
        other => panic!("{id}: expected kept, got {other:?}"),
    }
}

async fn storage_class_exists(cluster: &Cluster, name: &str) -> bool {
    Api::<StorageClass>::all(cluster.client()).get_opt(name).await.expect("get StorageClass").is_some()
}

async fn claims_of_class(cluster: &Cluster, class: &str) -> Vec<String> {
    let claims = Api::<PersistentVolumeClaim>::all(cluster.client())
        .list(&ListParams::default())
        .await
        .expect("list claims");
    let mut names: Vec<String> = claims
        .items
        .iter()
        .filter(|c| c.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()) == Some(class))
        .map(|c| {
            format!(
                "{}/{}",
                c.metadata.namespace.as_deref().unwrap_or(""),
                c.metadata.name.as_deref().unwrap_or("")
            )
        })
        .collect();
    names.sort();
    names
}

/// The command between backquotes in a failure's "to proceed" hint, as kubectl arguments.
fn hinted_command(message: &str) -> Vec<String> {
    let (_, after) = message.split_once("to proceed:").unwrap_or_else(|| panic!("no hint in: {message}"));
    let command = after.split('`').nth(1).unwrap_or_else(|| panic!("no command in: {message}"));
    let mut words = command.split_whitespace().map(str::to_string);
    assert_eq!(words.next().as_deref(), Some("kubectl"), "{command}");
    words.collect()
}

#[tokio::test]
async fn switching_provider_fails_on_immutable_fields_prunes_nothing_and_keeps_the_storage_class_in_use() {
    let Some(own) = OwnCluster::start("apply_provider_switch", PORT).await else { return };
    let cluster = own.cluster();
    let proxmox = render(&Platform::default()).manifests;
    let mut aws_platform = Platform::default();
    aws_platform.spec.provider = Provider::Aws;
    let aws = render(&aws_platform).manifests;
    let options = ApplyOptions::new(Platform::default().metadata.name.clone());
    let prune = ApplyOptions { prune: true, ..options.clone() };

    let first = run(cluster, &proxmox, &options).await;
    assert!(failures(&first).is_empty(), "{:#?}", failures(&first));
    // The claims rendered, and those the StatefulSet controller makes from volumeClaimTemplates.
    let expected_claims: usize = proxmox
        .iter()
        .map(|m| match m.kind.as_str() {
            "PersistentVolumeClaim" => 1,
            "StatefulSet" => {
                let replicas =
                    m.value.pointer("/spec/replicas").and_then(|r| r.as_u64()).unwrap_or(1) as usize;
                let templates = m
                    .value
                    .pointer("/spec/volumeClaimTemplates")
                    .and_then(|t| t.as_array())
                    .map_or(0, Vec::len);
                replicas * templates
            }
            _ => 0,
        })
        .sum();
    let mut users = claims_of_class(cluster, "local-path").await;
    for _ in 0..60 {
        if users.len() >= expected_claims {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        users = claims_of_class(cluster, "local-path").await;
    }
    assert_eq!(users.len(), expected_claims, "every claim of the baseline uses local-path: {users:?}");

    // An object of ours that is no longer rendered (left by an older version, say): prunable,
    // but not in a run where anything failed.
    let retired = "platform/ConfigMap/retired-settings";
    cluster.kubectl_ok(&["create", "configmap", "retired-settings", "-n", "platform"]);
    cluster.kubectl_ok(&[
        "label",
        "configmap",
        "retired-settings",
        "-n",
        "platform",
        "app.kubernetes.io/managed-by=autolabs",
        "autolabs.io/platform=autolabs",
    ]);

    for dry_run in [true, false] {
        let step = if dry_run { "aws --prune --dry-run" } else { "aws --prune" };
        let report = run(cluster, &aws, &ApplyOptions { dry_run, ..prune.clone() }).await;
        let failed = failures(&report);
        assert!(!failed.is_empty(), "{step}: the claims' class cannot change");
        for (id, message) in &failed {
            assert!(
                id.contains("/PersistentVolumeClaim/") || id.contains("/StatefulSet/"),
                "{step}: only claims and StatefulSets fail: {id}: {message}"
            );
            assert!(
                message.contains("blocked: ")
                    && message.contains("to proceed: ")
                    && message.contains("`kubectl delete "),
                "{step}: {id}: {message}"
            );
            assert!(!message.contains('\n'), "{step}: one line per failure: {message}");
        }
        assert_eq!(report.count("pruned"), 0, "{step}: nothing is pruned: {}", report.summary());
        let reason = kept(&report, "StorageClass/local-path");
        for user in &users {
            assert!(
                reason.contains(user.as_str()),
                "{step}: names the claims that use it ({user}): {reason}"
            );
        }
        let held = kept(&report, retired);
        assert!(held.contains("failed in this run"), "{step}: {retired}: {held}");
        assert!(storage_class_exists(cluster, "local-path").await, "{step}: local-path still exists");
        assert_eq!(claims_of_class(cluster, "local-path").await, users, "{step}: the claims are untouched");
    }

    // Follow each hint: delete what cannot change (StatefulSets orphaning their pods) …
    let report = run(cluster, &aws, &prune).await;
    let mut deleted_claims = Vec::new();
    for (id, message) in failures(&report) {
        let mut args = hinted_command(&message);
        if id.contains("/PersistentVolumeClaim/") {
            // The claim protection finalizer holds a claim a pod still names; don't block on it.
            args.push("--wait=false".into());
            deleted_claims.push(id.replace("/PersistentVolumeClaim/", "/"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.kubectl_ok(&args);
    }
    for _ in 0..60 {
        let left = claims_of_class(cluster, "local-path").await;
        if deleted_claims.iter().all(|c| !left.contains(c)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // … then re-apply: everything succeeds, and local-path is still kept for the claims the
    // StatefulSets made from their volumeClaimTemplates, which still use it.
    let report = run(cluster, &aws, &prune).await;
    assert!(failures(&report).is_empty(), "after following the hints: {:#?}", failures(&report));
    let pruned: Vec<String> =
        report.results.iter().filter(|r| r.outcome.word() == "pruned").map(|r| r.key.to_string()).collect();
    assert_eq!(pruned, [retired], "a clean run prunes: {}", report.summary());
    let remaining = claims_of_class(cluster, "local-path").await;
    assert!(!remaining.is_empty(), "the StatefulSets' claims keep their class");
    let reason = kept(&report, "StorageClass/local-path");
    for claim in &remaining {
        assert!(reason.contains(claim.as_str()), "{claim}: {reason}");
    }
    assert!(storage_class_exists(cluster, "local-path").await);

    // Once no claim uses it, it is pruned.
    for claim in &remaining {
        let (namespace, name) = claim.split_once('/').expect("ns/name");
        cluster.kubectl_ok(&["delete", "persistentvolumeclaim", name, "-n", namespace, "--wait=false"]);
    }
    for _ in 0..60 {
        if claims_of_class(cluster, "local-path").await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let report = run(cluster, &aws, &prune).await;
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    let pruned: Vec<String> =
        report.results.iter().filter(|r| r.outcome.word() == "pruned").map(|r| r.key.to_string()).collect();
    assert_eq!(pruned, ["StorageClass/local-path"], "{}", report.summary());
    assert!(!storage_class_exists(cluster, "local-path").await);
}
