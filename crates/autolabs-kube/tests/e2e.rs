//! End-to-end tests of the lab provisioner against a real cluster: run with
//! `AUTOLABS_E2E_KUBECONFIG=/path/to/kubeconfig cargo test -p autolabs-kube --test e2e -- --ignored`.
//!
//! They apply nothing themselves: the cluster must already have the rendered baseline
//! (`autolabs apply`), at least the `labs` namespace with its Pod Security labels,
//! ResourceQuota, LimitRange and the `lab-priority` PriorityClass. They create labs with ids
//! starting `e2e-`, check that real admission (Pod Security, LimitRanger, ResourceQuota)
//! accepted them, exhaust the quota, expire and delete — and delete every `e2e-` lab at the end.

use std::time::Duration;

use autolabs_kube::labs::{LabsError, ListFilter, Metrics, Provisioner, ProvisionerConfig};
use autolabs_model::Platform;
use autolabs_model::lab::{LabRequest, load_templates};

const ENV: &str = "AUTOLABS_E2E_KUBECONFIG";

async fn provisioner() -> Option<Provisioner> {
    let Ok(path) = std::env::var(ENV) else {
        eprintln!("{ENV} is not set: skipping the end-to-end test");
        return None;
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig readable");
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kubeconfig usable");
    let client = kube::Client::try_from(config).expect("client");
    let platform = Platform::default();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("templates/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push((path.display().to_string(), std::fs::read_to_string(&path).expect("readable")));
        }
    }
    let templates = load_templates(&files, &platform).expect("templates load");
    let mut config = ProvisionerConfig::new(platform, templates);
    config.incomplete_grace = Duration::from_secs(30);
    let provisioner = Provisioner::new(client, config, Metrics::new()).expect("templates pass the checks");
    assert!(provisioner.wait_synced(Duration::from_secs(30)).await, "quota/LimitRange caches sync");
    Some(provisioner)
}

async fn cleanup(provisioner: &Provisioner) {
    if let Ok(page) = provisioner.list(&ListFilter::default()).await {
        for lab in page.items.iter().filter(|l| l.id.starts_with("e2e-")) {
            let _ = provisioner.delete(&lab.id).await;
        }
    }
}

fn request(id: &str, ttl: Option<u64>) -> LabRequest {
    LabRequest { id: id.into(), template: "linux-basics".into(), ttl_seconds: ttl }
}

#[tokio::test]
#[ignore = "needs a real cluster in AUTOLABS_E2E_KUBECONFIG"]
async fn labs_are_admitted_by_a_real_api_server_and_deleted() {
    let Some(provisioner) = provisioner().await else { return };
    cleanup(&provisioner).await;
    let (lab, created) = provisioner.create(&request("e2e-basic", None)).await.expect("admitted");
    assert!(created);
    assert_eq!(provisioner.create(&request("e2e-basic", None)).await.expect("idempotent").0.id, lab.id);
    let got = provisioner.get("e2e-basic").await.expect("readable");
    assert!(["Pending", "Running"].contains(&got.phase.as_str()), "{got:?}");
    provisioner.extend("e2e-basic", 600).await.expect("extended");
    provisioner.delete("e2e-basic").await.expect("deleted");
    assert!(matches!(provisioner.get("e2e-basic").await, Err(LabsError::NotFound { .. }) | Ok(_)));
    cleanup(&provisioner).await;
}

#[tokio::test]
#[ignore = "needs a real cluster in AUTOLABS_E2E_KUBECONFIG"]
async fn the_quota_is_exhausted_into_cluster_full() {
    let Some(provisioner) = provisioner().await else { return };
    cleanup(&provisioner).await;
    let fits = provisioner
        .capacity()
        .expect("capacity")
        .templates
        .into_iter()
        .find(|t| t.template == "linux-basics")
        .and_then(|t| t.fits)
        .expect("the labs quota bounds linux-basics");
    let mut full = None;
    for i in 0..fits + 5 {
        match provisioner.create(&request(&format!("e2e-q{i}"), None)).await {
            Ok(_) => {}
            Err(LabsError::ClusterFull(numbers)) => {
                full = Some(numbers);
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let numbers = full.expect("cluster_full before fits + 5 labs");
    assert_eq!(numbers.used, numbers.hard, "{numbers:?}");
    cleanup(&provisioner).await;
}

#[tokio::test]
#[ignore = "needs a real cluster in AUTOLABS_E2E_KUBECONFIG"]
async fn the_reaper_expires_labs() {
    let Some(provisioner) = provisioner().await else { return };
    cleanup(&provisioner).await;
    provisioner.create(&request("e2e-short", Some(2))).await.expect("admitted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let summary = provisioner.reap_once().await.expect("reaper pass");
    assert!(summary.expired >= 1, "{summary:?}");
    assert!(
        matches!(provisioner.get("e2e-short").await, Err(LabsError::NotFound { .. })) || {
            // Graceful termination: the Pod may still be terminating (phase Expiring).
            provisioner.get("e2e-short").await.map(|l| l.phase == "Expiring").unwrap_or(false)
        }
    );
    cleanup(&provisioner).await;
}
