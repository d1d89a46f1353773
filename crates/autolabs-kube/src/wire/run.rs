//! Running a [`ProbePlan`] on a cluster: the only I/O of `autolabs probe`.
//!
//! 1. Namespaces: with a prefix `P`, each namespace `N` of the plan becomes a sandbox `P-N`
//!    made for this run (the input's labels for `N`, Pod Security `restricted` enforced) and
//!    the input's NetworkPolicies of `N` are created in it, their namespace selectors on
//!    `kubernetes.io/metadata.name` renamed the same way, so the sandbox enforces the same
//!    matrix. Without a prefix the probe pods go into the real namespaces, under the policies
//!    the cluster has: they must exist (the applied baseline), and nothing but probe pods is
//!    made or deleted in them, which is all the rendered opt-in RBAC
//!    (`autolabs_model::render::probe`) grants.
//! 2. One probe pod per class (`sleep`-ing busybox), labelled like the class, its named ports
//!    declared, never Ready (a readiness probe that fails) so no Service sends real traffic to
//!    it. Once every pod has its address, each gets its script through the annotation
//!    [`SCRIPT_ANNOTATION`], which a downward-API file shows it within a second or two: so one
//!    round of pod start-ups serves as both targets and senders.
//! 3. The script tries every probe of its class at once within a bound: TCP with `nc -w`, UDP
//!    with `nslookup` to `IP:port`. Nothing listens on the targets, so a probe that reaches its
//!    target is answered by the target's kernel ("connection refused": a TCP reset, or an ICMP
//!    port unreachable for UDP); a probe the network drops times out. Each result is one log
//!    line `R <probe> <outcome>`, then `DONE`; the pod sleeps on as a target.
//! 4. Everything this run made carries the label [`RUN_LABEL`] and is deleted at the end, on
//!    errors, and (through [`Runner::cleanup`], which the command calls after Ctrl-C) when
//!    the run is interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autolabs_netpol::Protocol;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{DeleteParams, ListParams, LogParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::plan::{Outcome, ProbePlan};

/// The annotation that hands a probe pod its script, once every pod's address is known.
pub const SCRIPT_ANNOTATION: &str = "autolabs.io/probe-script";

/// Why SCTP cells are "not probed": the probe pods' clients (busybox `nc` and `nslookup`)
/// speak TCP and UDP only, so no SCTP connection is ever attempted, whatever the kernel and the
/// CNI support.
pub const SCTP_NOT_PROBED: &str =
    "the probe image has no SCTP client (busybox nc and nslookup speak TCP and UDP only)";

/// A pod's namespace and name.
fn pod_key(pod: &Pod) -> (String, String) {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

/// The label on everything a probe run makes: its run id.
pub const RUN_LABEL: &str = "autolabs.io/probe-run";

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The probe image: it must have `sh`, `sleep`, `nc` (TCP), `nslookup` and `timeout`
    /// (UDP), as busybox has.
    pub image: String,
    /// `Never` for images imported on the nodes, `IfNotPresent` otherwise.
    pub image_pull_policy: String,
    /// Sandbox namespaces `<prefix>-<namespace>`; `None` probes in the real namespaces.
    pub namespace_prefix: Option<String>,
    /// How long one connection attempt may take before it counts as blocked.
    pub connect_timeout: Duration,
    /// How long the probe pods may take to start, and then to finish their probes.
    pub pod_timeout: Duration,
    /// API calls in flight at once, and connection attempts at once inside a probe pod.
    pub parallel: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            image: autolabs_model::versions::PROBE_IMAGE.default.into(),
            image_pull_policy: "IfNotPresent".into(),
            namespace_prefix: None,
            connect_timeout: Duration::from_secs(2),
            pod_timeout: Duration::from_secs(120),
            parallel: 16,
        }
    }
}

/// Why a run could not finish (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("probe pods did not {what} within {seconds} s: {pods}")]
    Timeout { what: &'static str, seconds: u64, pods: String },
    #[error("probe pod {pod} failed: {detail}")]
    PodFailed { pod: String, detail: String },
    #[error("the sandbox namespace {0} already exists: choose another --namespace-prefix")]
    SandboxExists(String),
    #[error(
        "cannot create probe pods in namespace {namespace}: {source} (probing the real namespaces needs each to exist, as the applied baseline makes them, with the probe's Role in it: spec.probe.enabled; or probe a sandbox with --namespace-prefix)"
    )]
    RealNamespace {
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

fn api_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ProbeError {
    let what = what.into();
    move |source| ProbeError::Api { what, source }
}

/// What the runner reports as it goes: `(stage, done, total)`.
pub type ProgressFn<'a> = dyn Fn(&str, usize, usize) + Send + Sync + 'a;

/// One run: its id, what it made (for cleanup), and its client.
pub struct Runner {
    client: kube::Client,
    config: RunConfig,
    run_id: String,
    /// Namespaces this run created (deleted with everything in them).
    created_namespaces: Arc<Mutex<BTreeSet<String>>>,
    /// Existing namespaces this run put pods into (its pods are deleted from them).
    used_namespaces: Arc<Mutex<BTreeSet<String>>>,
}

/// The name of namespace `namespace` in this run.
pub fn mapped_namespace(prefix: Option<&str>, namespace: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}-{namespace}"),
        None => namespace.to_string(),
    }
}

/// Renames the namespaces a NetworkPolicy's namespace selectors name by
/// `kubernetes.io/metadata.name` (the label the API server sets to each namespace's name:
/// `k8s.io/kubernetes/pkg/registry/core/namespace/strategy.go` `PrepareForCreate`).
pub fn rename_namespace_selectors(value: &mut Value, rename: &dyn Fn(&str) -> String) {
    const NAME_LABEL: &str = "kubernetes.io/metadata.name";
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "namespaceSelector" {
                    if let Some(name) =
                        child.pointer_mut(&format!("/matchLabels/{}", NAME_LABEL.replace('/', "~1")))
                        && let Some(text) = name.as_str()
                    {
                        *name = Value::String(rename(text));
                    }
                    for expression in
                        child.get_mut("matchExpressions").and_then(Value::as_array_mut).into_iter().flatten()
                    {
                        if expression["key"] == NAME_LABEL {
                            for v in expression
                                .get_mut("values")
                                .and_then(Value::as_array_mut)
                                .into_iter()
                                .flatten()
                            {
                                if let Some(text) = v.as_str() {
                                    *v = Value::String(rename(text));
                                }
                            }
                        }
                    }
                } else {
                    rename_namespace_selectors(child, rename);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_namespace_selectors(v, rename)),
        _ => {}
    }
}

/// The sender script: every probe of one class, `parallel` at a time, one result line each.
/// A probe counts as blocked only when every attempt timed out: two for TCP, three for UDP
/// (the target kernel's ICMP answers are rate-limited by `net.ipv4.icmp_msgs_burst`, and a
/// busy node is slow to start `nslookup`), so one lost answer never reads as "blocked".
pub fn sender_script(
    probes: &[(usize, Protocol, String, u16)],
    connect_timeout: Duration,
    parallel: usize,
) -> String {
    let seconds = connect_timeout.as_secs().max(1);
    // `timeout` counts nslookup's own start, which a loaded node delays: one second more.
    let udp_seconds = seconds + 1;
    let mut script = format!(
        "probe() {{\n\
         \x20 if [ \"$2\" = TCP ]; then for attempt in 1 2; do out=$(nc -w {seconds} \"$3\" \"$4\" </dev/null 2>&1) && {{ echo \"R $1 reached\"; return; }}\n\
         \x20   case \"$out\" in *refused*) echo \"R $1 reached\"; return;; esac; done\n\
         \x20 else for attempt in 1 2 3; do out=$(timeout {udp_seconds} nslookup autolabs-probe \"$3:$4\" 2>&1)\n\
         \x20   case \"$out\" in *refused*) echo \"R $1 reached\"; return;; esac; done; fi\n\
         \x20 case \"$out\" in *refused*) echo \"R $1 reached\";; *) echo \"R $1 blocked $(echo $out | tr -c 'a-zA-Z0-9 .:' ' ' | cut -c1-60)\";; esac\n\
         }}\n"
    );
    for (n, (index, protocol, ip, port)) in probes.iter().enumerate() {
        script.push_str(&format!("probe {index} {} {ip} {port} &\n", protocol.as_str()));
        if (n + 1) % parallel.max(1) == 0 {
            script.push_str("wait\n");
        }
    }
    script.push_str("wait\necho DONE\n");
    script
}

/// Reads a sender's log: probe index → outcome. `None` when the script did not finish.
pub fn parse_sender_log(log: &str) -> Option<BTreeMap<usize, Outcome>> {
    let mut out = BTreeMap::new();
    let mut done = false;
    for line in log.lines() {
        if line.trim() == "DONE" {
            done = true;
        }
        let Some(rest) = line.strip_prefix("R ") else { continue };
        let mut words = rest.splitn(3, ' ');
        let (Some(index), Some(word)) = (words.next().and_then(|i| i.parse().ok()), words.next()) else {
            continue;
        };
        let outcome = match word {
            "reached" => Outcome::Reached,
            _ => Outcome::Blocked(
                Some(words.next().unwrap_or("").trim())
                    .filter(|w| !w.is_empty())
                    .unwrap_or("timed out")
                    .to_string(),
            ),
        };
        out.insert(index, outcome);
    }
    done.then_some(out)
}

impl Runner {
    pub fn new(client: kube::Client, config: RunConfig) -> Runner {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut seed = nanos ^ u128::from(std::process::id()) << 64;
        let run_id: String = (0..8)
            .map(|_| {
                let c = ALPHABET[(seed % ALPHABET.len() as u128) as usize] as char;
                seed /= ALPHABET.len() as u128;
                c
            })
            .collect();
        Runner { client, config, run_id, created_namespaces: Arc::default(), used_namespaces: Arc::default() }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    fn namespace(&self, namespace: &str) -> String {
        mapped_namespace(self.config.namespace_prefix.as_deref(), namespace)
    }

    /// Probes `plan` on the cluster. `namespace_labels` are the input's namespace labels
    /// and `policies` its NetworkPolicies (both used only in a sandbox). Cleans up after
    /// itself on success and on errors; after an interruption call [`Runner::cleanup`].
    pub async fn run(
        &self,
        plan: &ProbePlan,
        namespace_labels: &BTreeMap<String, BTreeMap<String, String>>,
        policies: &[Value],
        progress: &ProgressFn<'_>,
    ) -> Result<Vec<Outcome>, ProbeError> {
        let result = self.run_inner(plan, namespace_labels, policies, progress).await;
        self.cleanup().await;
        result
    }

    async fn run_inner(
        &self,
        plan: &ProbePlan,
        namespace_labels: &BTreeMap<String, BTreeMap<String, String>>,
        policies: &[Value],
        progress: &ProgressFn<'_>,
    ) -> Result<Vec<Outcome>, ProbeError> {
        let namespaces: BTreeSet<&str> = plan.pods.iter().map(|p| p.namespace.as_str()).collect();
        progress("namespaces", 0, namespaces.len());
        for (n, namespace) in namespaces.iter().enumerate() {
            self.prepare_namespace(namespace, namespace_labels.get(*namespace)).await?;
            progress("namespaces", n + 1, namespaces.len());
        }
        if self.config.namespace_prefix.is_some() {
            let prefix = self.config.namespace_prefix.clone();
            let rename = move |ns: &str| mapped_namespace(prefix.as_deref(), ns);
            for policy in policies {
                let Some(namespace) = policy.pointer("/metadata/namespace").and_then(Value::as_str) else {
                    continue;
                };
                if !namespaces.contains(namespace) {
                    continue;
                }
                let mut copy = policy.clone();
                rename_namespace_selectors(&mut copy, &rename);
                copy["metadata"] = json!({
                    "name": policy["metadata"]["name"],
                    "namespace": rename(namespace),
                    "labels": {RUN_LABEL: self.run_id},
                });
                let typed: NetworkPolicy =
                    serde_json::from_value(copy).map_err(|e| ProbeError::PodFailed {
                        pod: format!("NetworkPolicy {namespace}/{}", policy["metadata"]["name"]),
                        detail: e.to_string(),
                    })?;
                Api::<NetworkPolicy>::namespaced(self.client.clone(), &rename(namespace))
                    .create(&PostParams::default(), &typed)
                    .await
                    .map_err(api_error(format!(
                        "create the NetworkPolicy copy of {namespace}/{}",
                        policy["metadata"]["name"]
                    )))?;
            }
        }

        // One pod per class: it starts, waits for its script, runs it, then stays up as a
        // target for the other pods' probes.
        let pods: Vec<Pod> = plan.pods.iter().map(|p| self.pod(p)).collect();
        self.create_pods(&pods, "probe pods", progress).await?;
        let ips = self
            .wait_pods(&pods, "start", progress, |pod| {
                let status = pod.status.as_ref()?;
                (status.phase.as_deref() == Some("Running")).then(|| status.pod_ip.clone()).flatten()
            })
            .await?;

        // Every probe of a class goes into its pod's script.
        let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.probes.len()];
        let mut per_sender: BTreeMap<usize, Vec<(usize, Protocol, String, u16)>> = BTreeMap::new();
        for (index, probe) in plan.probes.iter().enumerate() {
            if probe.protocol == Protocol::Sctp {
                outcomes[index] = Some(Outcome::NotRun(SCTP_NOT_PROBED.into()));
                continue;
            }
            per_sender.entry(probe.from).or_default().push((
                index,
                probe.protocol,
                ips[probe.to].clone(),
                probe.port,
            ));
        }
        let total = per_sender.len();
        progress("scripts", 0, total);
        let mut patched = 0;
        let mut patches = futures::stream::iter(per_sender.iter().map(|(&from, probes)| {
            let script = sender_script(probes, self.config.connect_timeout, self.config.parallel);
            let pod = &pods[from];
            async move {
                let (namespace, name) = pod_key(pod);
                let patch = json!({"metadata": {"annotations": {SCRIPT_ANNOTATION: script}}});
                Api::<Pod>::namespaced(self.client.clone(), &namespace)
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api_error(format!("hand probe pod {namespace}/{name} its script")))
            }
        }))
        .buffer_unordered(self.config.parallel.max(1));
        while let Some(result) = patches.next().await {
            result?;
            patched += 1;
            progress("scripts", patched, total);
        }
        drop(patches);

        // Each pod's log ends with DONE once its script ran (the kubelet refreshes the
        // downward-API file within a second or two of the patch).
        let began = Instant::now();
        let mut pending: Vec<usize> = per_sender.keys().copied().collect();
        while !pending.is_empty() {
            progress("probing", total - pending.len(), total);
            let reads = futures::stream::iter(pending.iter().map(|&from| {
                let (namespace, name) = pod_key(&pods[from]);
                async move {
                    let log = Api::<Pod>::namespaced(self.client.clone(), &namespace)
                        .logs(&name, &LogParams::default())
                        .await
                        .map_err(api_error(format!("read the log of probe pod {namespace}/{name}")))?;
                    Ok::<_, ProbeError>((from, parse_sender_log(&log)))
                }
            }))
            .buffer_unordered(self.config.parallel.max(1))
            .try_collect::<Vec<_>>()
            .await?;
            for (from, results) in reads {
                let Some(results) = results else { continue };
                for (index, outcome) in results {
                    if let Some(slot) = outcomes.get_mut(index) {
                        *slot = Some(outcome);
                    }
                }
                pending.retain(|&p| p != from);
            }
            if pending.is_empty() {
                break;
            }
            if began.elapsed() > self.config.pod_timeout {
                let late: Vec<String> = pending.iter().take(5).map(|&p| pod_key(&pods[p]).1).collect();
                return Err(ProbeError::Timeout {
                    what: "finish their probes",
                    seconds: self.config.pod_timeout.as_secs(),
                    pods: late.join(", "),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        progress("probing", total, total);
        // Fail closed: a probe that should have run and reported nothing is an error, never
        // a cell left out of the verdict.
        if let Some(index) = outcomes.iter().position(Option::is_none) {
            let probe = &plan.probes[index];
            return Err(ProbeError::PodFailed {
                pod: format!("autolabs-probe-{}", plan.pods[probe.from].key),
                detail: format!("no result for probe {index} ({} {})", probe.protocol.as_str(), probe.port),
            });
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    async fn prepare_namespace(
        &self,
        namespace: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> Result<(), ProbeError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let name = self.namespace(namespace);
        let sandbox = self.config.namespace_prefix.is_some();
        if !sandbox {
            // The real namespaces are the cluster's: never read, made or deleted here (the
            // rendered probe RBAC grants pods in them, nothing cluster-wide).
            self.used_namespaces.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
            return Ok(());
        }
        let mut all: BTreeMap<String, String> = labels.cloned().unwrap_or_default();
        all.remove("kubernetes.io/metadata.name");
        all.insert("pod-security.kubernetes.io/enforce".into(), "restricted".into());
        all.insert(RUN_LABEL.into(), self.run_id.clone());
        let object = Namespace {
            metadata: ObjectMeta { name: Some(name.clone()), labels: Some(all), ..ObjectMeta::default() },
            ..Namespace::default()
        };
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => {
                self.created_namespaces.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 409 && sandbox => {
                Err(ProbeError::SandboxExists(name))
            }
            Err(e) => Err(api_error(format!("create namespace {name}"))(e)),
        }
    }

    /// The probe pod of `class`, Pod Security `restricted`: it waits for its script (the
    /// annotation [`SCRIPT_ANNOTATION`], read through a downward-API file), runs it, and
    /// sleeps on as a target.
    fn pod(&self, class: &super::plan::ProbePod) -> Pod {
        let mut labels = class.labels.clone();
        labels.insert(RUN_LABEL.into(), self.run_id.clone());
        let ports: Vec<Value> = class
            .named_ports
            .iter()
            .map(|p| json!({"name": p.name, "containerPort": p.port, "protocol": p.protocol.as_str()}))
            .collect();
        let linger = self.config.pod_timeout.as_secs().saturating_mul(3).max(60);
        let command = format!(
            "while [ ! -s /probe/script ]; do sleep 0.2; done; sh /probe/script; exec sleep {linger}"
        );
        let value = json!({
            "metadata": {
                "name": format!("autolabs-probe-{}", class.key),
                "namespace": self.namespace(&class.namespace),
                "labels": labels,
                "annotations": {"autolabs.io/probe-stands-for": class.stands_for},
            },
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "terminationGracePeriodSeconds": 0,
                "securityContext": {
                    "runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [{
                    "name": "probe",
                    "image": self.config.image,
                    "imagePullPolicy": self.config.image_pull_policy,
                    "command": ["sh", "-c", command],
                    "volumeMounts": [{"name": "probe", "mountPath": "/probe", "readOnly": true}],
                    "ports": ports,
                    // Never Ready: no Service routes real traffic to a probe pod.
                    "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 3600},
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    // Small requests, so a few runs fit a small node at once; a limit
                    // that lets a sender start its clients without being throttled.
                    "resources": {
                        "requests": {"cpu": "5m", "memory": "16Mi"},
                        "limits": {"cpu": "500m", "memory": "64Mi"},
                    },
                }],
                "volumes": [{"name": "probe", "downwardAPI": {"items": [{
                    "path": "script",
                    "fieldRef": {"fieldPath": format!("metadata.annotations['{SCRIPT_ANNOTATION}']")},
                }]}}],
            },
        });
        serde_json::from_value(value).unwrap_or_default()
    }

    async fn create_pods(
        &self,
        pods: &[Pod],
        stage: &str,
        progress: &ProgressFn<'_>,
    ) -> Result<(), ProbeError> {
        let total = pods.len();
        progress(stage, 0, total);
        let mut done = 0;
        let mut creates = futures::stream::iter(pods.iter().map(|pod| async move {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let sandbox = self.config.namespace_prefix.is_some();
            Api::<Pod>::namespaced(self.client.clone(), &namespace)
                .create(&PostParams::default(), pod)
                .await
                .map_err(|source| match &source {
                    kube::Error::Api(status) if !sandbox && matches!(status.code, 403 | 404) => {
                        ProbeError::RealNamespace { namespace: namespace.clone(), source }
                    }
                    _ => api_error(format!("create probe pod {namespace}/{name}"))(source),
                })
        }))
        .buffer_unordered(self.config.parallel.max(1));
        while let Some(created) = creates.next().await {
            created?;
            done += 1;
            progress(stage, done, total);
        }
        Ok(())
    }

    /// Polls this run's pods until `ready` answers for each of `pods`; returns the answers in
    /// the order of `pods`.
    async fn wait_pods(
        &self,
        pods: &[Pod],
        what: &'static str,
        progress: &ProgressFn<'_>,
        ready: impl Fn(&Pod) -> Option<String>,
    ) -> Result<Vec<String>, ProbeError> {
        let began = Instant::now();
        let key = |p: &Pod| {
            (p.metadata.namespace.clone().unwrap_or_default(), p.metadata.name.clone().unwrap_or_default())
        };
        let wanted: Vec<(String, String)> = pods.iter().map(key).collect();
        let stage = format!("waiting for pods to {what}");
        loop {
            let params = ListParams::default().labels(&format!("{RUN_LABEL}={}", self.run_id));
            let mut seen: BTreeMap<(String, String), Pod> = BTreeMap::new();
            let namespaces: BTreeSet<&String> = wanted.iter().map(|(ns, _)| ns).collect();
            let lists = futures::stream::iter(namespaces.into_iter().map(|ns| {
                let params = params.clone();
                async move { Api::<Pod>::namespaced(self.client.clone(), ns).list(&params).await }
            }))
            .buffer_unordered(self.config.parallel.max(1))
            .try_collect::<Vec<_>>()
            .await
            .map_err(api_error("list the probe pods"))?;
            for pod in lists.into_iter().flat_map(|l| l.items) {
                seen.insert(key(&pod), pod);
            }
            for wanted_key in &wanted {
                if let Some(pod) = seen.get(wanted_key)
                    && let Some(failure) = stuck(pod)
                {
                    return Err(ProbeError::PodFailed {
                        pod: format!("{}/{}", wanted_key.0, wanted_key.1),
                        detail: failure,
                    });
                }
            }
            let answers: Vec<Option<String>> = wanted.iter().map(|k| seen.get(k).and_then(&ready)).collect();
            let done = answers.iter().filter(|a| a.is_some()).count();
            progress(&stage, done, wanted.len());
            if done == wanted.len() {
                return Ok(answers.into_iter().flatten().collect());
            }
            if began.elapsed() > self.config.pod_timeout {
                let late: Vec<String> = wanted
                    .iter()
                    .zip(&answers)
                    .filter(|(_, a)| a.is_none())
                    .map(|((ns, name), _)| format!("{ns}/{name}"))
                    .take(5)
                    .collect();
                return Err(ProbeError::Timeout {
                    what,
                    seconds: self.config.pod_timeout.as_secs(),
                    pods: late.join(", "),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deletes what this run made: its namespaces (with everything in them) and its pods in
    /// namespaces it did not make. Errors are printed, not returned: cleanup goes on.
    pub async fn cleanup(&self) {
        let created: Vec<String> =
            self.created_namespaces.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let used: Vec<String> =
            self.used_namespaces.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let selector = format!("{RUN_LABEL}={}", self.run_id);
        for namespace in &used {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            match api
                .delete_collection(&DeleteParams::background(), &ListParams::default().labels(&selector))
                .await
            {
                Ok(_) => {}
                // Nothing of this run can be in a namespace that does not exist.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => eprintln!("warning: could not delete the probe pods in {namespace}: {e}"),
            }
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        for namespace in &created {
            match api.delete(namespace, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => eprintln!("warning: could not delete probe namespace {namespace}: {e}"),
            }
        }
        self.created_namespaces.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.used_namespaces.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Why a probe pod will never get anywhere: it ended, or its container is stuck waiting
/// (the image missing: `ErrImageNeverPull`, `ImagePullBackOff`, …).
fn stuck(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
        return Some(format!("the probe pod ended ({})", status.phase.as_deref().unwrap_or_default()));
    }
    status.container_statuses.iter().flatten().find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        matches!(
            reason,
            "ErrImageNeverPull"
                | "ImagePullBackOff"
                | "ErrImagePull"
                | "InvalidImageName"
                | "CreateContainerConfigError"
                | "CreateContainerError"
                | "RunContainerError"
        )
        .then(|| format!("{reason}: {}", waiting.message.clone().unwrap_or_default()))
    })
}
