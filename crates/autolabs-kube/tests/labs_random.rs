//! 1,000 random lab operations (create, delete, extend, expire + reap) in small concurrent
//! batches, with 10 % of API requests failing (500, 429, 409 Conflict): afterwards every lab
//! the API reports exists as a complete bundle and nothing else exists.

mod labs_common;

use std::collections::BTreeSet;

use autolabs_fake::{FakeConfig, FaultConfig, FaultRule, InjectedError, KubeletConfig};
use autolabs_kube::labs::{LabsError, ListFilter};
use labs_common::*;

#[derive(Debug, Clone)]
enum Op {
    Create(String, &'static str),
    Delete(String),
    Extend(String, u64),
    Expire(u64),
}

const TEMPLATES: [&str; 3] = ["linux-basics", "python-internet", "web-dev"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_with_faults_leave_only_complete_labs() {
    let faults = FaultConfig { seed: 2026, ..FaultConfig::none() }
        .with_rule(FaultRule::always(InjectedError::InternalError).rate(0.04))
        .with_rule(FaultRule::always(InjectedError::TooManyRequests { retry_after_seconds: 0 }).rate(0.035))
        .with_rule(FaultRule::always(InjectedError::Conflict).rate(0.03));
    let env = env_with(
        FakeConfig { kubelet: Some(KubeletConfig::default()), ..FakeConfig::default() },
        fast_backoff(),
    )
    .await;
    env.server.faults().set(faults);

    // The test's own reproducible choices.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut outcomes: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut done = 0;
    while done < 1000 {
        // A batch of up to 4 operations runs concurrently, as a busy backend would send them.
        let batch: Vec<Op> = (0..4)
            .map(|_| {
                let id = format!("lab{}", rng.u64(..30));
                match rng.u64(..100) {
                    0..50 => Op::Create(id, TEMPLATES[rng.usize(..TEMPLATES.len())]),
                    50..75 => Op::Delete(id),
                    75..92 => Op::Extend(id, 600 + rng.u64(..3600)),
                    _ => Op::Expire(rng.u64(..3 * 3600)),
                }
            })
            .collect();
        done += batch.len();
        let results = futures::future::join_all(batch.iter().cloned().map(|op| {
            let env = &env;
            async move {
                match op {
                    Op::Create(id, template) => {
                        env.provisioner.create(&request(&id, template)).await.map(|_| ())
                    }
                    Op::Delete(id) => env.provisioner.delete(&id).await,
                    Op::Extend(id, seconds) => env.provisioner.extend(&id, seconds).await.map(|_| ()),
                    Op::Expire(seconds) => {
                        env.advance(seconds);
                        env.provisioner.reap_once().await.map(|_| ())
                    }
                }
            }
        }))
        .await;
        for result in results {
            let key = match &result {
                Ok(()) => "ok",
                Err(LabsError::ClusterFull(_)) => "cluster_full",
                Err(e) => e.code(),
            };
            *outcomes.entry(key).or_default() += 1;
        }
    }
    let injected = env.server.faults().injected();
    assert!(injected > 100, "faults were injected: {injected}");

    // Faults off; one reaper pass after the grace period finishes what crashed creates and
    // failed rollbacks left (that is the reaper's job).
    env.server.faults().clear();
    env.advance(61);
    env.provisioner.reap_once().await.unwrap();

    let snapshot = env.server.snapshot();
    let in_store = assert_complete_bundles(&snapshot);
    let reported: BTreeSet<String> =
        env.provisioner.list(&ListFilter::default()).await.unwrap().items.into_iter().map(|l| l.id).collect();
    assert_eq!(reported, in_store.into_iter().collect::<BTreeSet<_>>());
    println!(
        "1000 operations, {injected} injected faults, outcomes {outcomes:?}, {} labs left",
        reported.len()
    );
    assert!(outcomes.get("ok").copied().unwrap_or(0) > 300, "{outcomes:?}");
}
