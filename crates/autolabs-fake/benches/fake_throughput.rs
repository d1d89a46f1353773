//! Throughput of the fake API server through a real `kube::Client` (not a timed test: it
//! prints figures). Run: `cargo bench -p autolabs-fake --bench fake_throughput`.
//!
//! The namespace has a LimitRange, a ResourceQuota and Pod Security `restricted`, so each pod
//! create runs the whole admission chain and the quota bookkeeping.

use std::time::{Duration, Instant};

use autolabs_fake::{FakeApiServer, FakeConfig};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const PODS: usize = 2_000;
const CONFIG_MAPS: usize = 1_000;
const WRITERS: usize = 8;

fn rate(count: usize, elapsed: Duration) -> String {
    format!(
        "{count:>6} in {:>8.1} ms  = {:>8.0}/s",
        elapsed.as_secs_f64() * 1e3,
        count as f64 / elapsed.as_secs_f64()
    )
}

fn pod(i: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("lab-{i}"), "labels": {"lab": (i % 10).to_string()}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "main", "image": "busybox:1.36", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
        }
    }))
    .unwrap_or_default()
}

fn config_map(name: String) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeApiServer::start(FakeConfig::default()).await?;
    server.apply_yaml(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: labs\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n\
         ---\napiVersion: v1\nkind: LimitRange\nmetadata: {name: defaults, namespace: labs}\n\
         spec:\n  limits:\n  - type: Container\n    default: {cpu: 250m, memory: 256Mi}\n    defaultRequest: {cpu: 100m, memory: 128Mi}\n\
         ---\napiVersion: v1\nkind: ResourceQuota\nmetadata: {name: quota, namespace: labs}\n\
         spec:\n  hard: {pods: \"100000\", requests.cpu: \"1000\", limits.memory: 10000Gi, count/configmaps: \"100000\"}\n",
    )?;
    let client = server.client()?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "labs");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "labs");
    println!("fake API server throughput (one client, HTTP/1.1 keep-alive, {WRITERS} writers where noted)");

    let start = Instant::now();
    for i in 0..PODS {
        pods.create(&PostParams::default(), &pod(i)).await?;
    }
    println!("  pod create (full admission) {}", rate(PODS, start.elapsed()));

    let start = Instant::now();
    for i in 0..PODS {
        pods.get(&format!("lab-{i}")).await?;
    }
    println!("  pod get                     {}", rate(PODS, start.elapsed()));

    let start = Instant::now();
    let lists = 20;
    for _ in 0..lists {
        let list = pods.list(&ListParams::default()).await?;
        assert_eq!(list.items.len(), PODS);
    }
    println!("  list of {PODS} pods          {}", rate(lists, start.elapsed()));

    let start = Instant::now();
    for _ in 0..lists {
        pods.list(&ListParams::default().labels("lab=3")).await?;
    }
    println!("  list by label (1 in 10)     {}", rate(lists, start.elapsed()));

    let rv = server.resource_version().to_string();
    let mut watch = Box::pin(maps.watch(&WatchParams::default(), &rv).await?);
    let start = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let maps = maps.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..CONFIG_MAPS / WRITERS {
                maps.create(&PostParams::default(), &config_map(format!("cm-{w}-{i}"))).await?;
            }
            Ok::<(), kube::Error>(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let written = start.elapsed();
    let mut seen = 0;
    while seen < CONFIG_MAPS {
        if let Some(WatchEvent::Added(_)) = watch.try_next().await? {
            seen += 1;
        }
    }
    println!("  configmap create, {WRITERS} writers  {}", rate(CONFIG_MAPS, written));
    println!("  ... all watch events seen   {}", rate(CONFIG_MAPS, start.elapsed()));

    let start = Instant::now();
    pods.delete_collection(&DeleteParams::default(), &ListParams::default()).await?;
    println!("  deletecollection of pods    {}", rate(PODS, start.elapsed()));
    server.shutdown().await;
    Ok(())
}
