//! The data tier the NetworkPolicies talk about, and the platform's own services.
//!
//! - `infrastructure`: PostgreSQL (StatefulSet on the document's `postgres-pvc`, a headless
//!   and a normal Service) and Redis (Deployment on its own PVC, append-only file on);
//! - `messaging`: RabbitMQ (StatefulSet with a volumeClaimTemplate; AMQP 5672 and the
//!   Prometheus endpoint 15692);
//! - `auth`: Zitadel's own PostgreSQL (StatefulSet with a volumeClaimTemplate);
//! - `platform`: the lab provisioner (`autolabs serve`) and a placeholder for the Backend
//!   Platform with its HorizontalPodAutoscaler.
//!
//! Every pod is built to pass Pod Security `restricted` (explicit non-root UID/GID/fsGroup,
//! RuntimeDefault seccomp, no privilege escalation, every capability dropped, only
//! restricted volume types), mounts no ServiceAccount token unless it talks to the API,
//! carries `platform-priority`, requests and limits from [`crate::capacity::COMPONENTS`] (so
//! the capacity arithmetic matches the YAML), and probes. Credentials are never rendered:
//! workloads reference Secrets by name, and the annotation `autolabs.io/required-secrets`
//! lists each Secret and its keys for the operator to create. `production` adds
//! PodDisruptionBudgets and spreads replicas over nodes.
//!
//! The small builders at the top are shared with the backup renderer.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvFromSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodAffinityTerm, PodAntiAffinity,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecretEnvSource, SecretKeySelector, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec,
    TCPSocketAction, TopologySpreadConstraint, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Ctx, Rendered, labels, typed};
use crate::capacity::{self, Component};
use crate::platform::Profile;
use crate::topology::BACKUP_REASON;
use crate::topology::{
    AUTH, INFRASTRUCTURE, MESSAGING, PLATFORM, PLATFORM_PRIORITY, POSTGRES_PVC, PROVISIONER_SA, app, port,
};

// ---------------------------------------------------------------------------------------
// Shared builders (also used by backup.rs)
// ---------------------------------------------------------------------------------------

/// UID and GID of the `postgres`, `redis` and `rabbitmq` users in the official images.
pub(super) const DATA_IMAGE_UID: i64 = 999;
/// Distroless `nonroot` user, which the autolabs image runs as.
const AUTOLABS_UID: i64 = 65532;
/// An unprivileged UID for the placeholder backend image (which user it really needs is
/// the backend team's to say).
const BACKEND_UID: i64 = 10001;

/// Marks a stateful workload that is deliberately not backed up (`autolabs backup check`
/// reports it as a choice), with the reason.
const BACKUP_OPT_OUT: (&str, &str) = (crate::topology::BACKUP_OPT_OUT, crate::topology::BACKUP_OPT_OUT_VALUE);

/// Annotation listing the Secrets (and keys) a workload expects; autolabs never renders
/// Secret values.
pub(super) const REQUIRED_SECRETS: &str = "autolabs.io/required-secrets";

/// Where the credentials of each database live: `(secret, user key, password key, db key)`.
pub(super) const POSTGRES_SECRET: &str = "postgres-credentials";
pub(super) const ZITADEL_POSTGRES_SECRET: &str = "zitadel-postgres-credentials";
const REDIS_SECRET: &str = "redis-credentials";
const RABBITMQ_SECRET: &str = "rabbitmq-credentials";
const PROVISIONER_SECRET: &str = "autolabs-provisioner";
const BACKEND_SECRET: &str = "backend-platform-env";

/// Pod-level security context for the restricted profile with an explicit identity.
// k8s.io/pod-security-admission/policy/check_runAsNonRoot.go, check_runAsUser.go,
// check_seccompProfile_restricted.go: non-root, non-zero UID, RuntimeDefault seccomp.
pub(super) fn restricted_pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        // Only chown/chmod the volume when its root does not already match: fast restarts.
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
        ..Default::default()
    }
}

/// Container-level security context for the restricted profile.
// k8s.io/pod-security-admission/policy/check_allowPrivilegeEscalation.go and
// check_capabilities_restricted.go: allowPrivilegeEscalation=false, drop ALL.
pub(super) fn restricted_container_security(read_only_root: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
        read_only_root_filesystem: Some(read_only_root),
        run_as_non_root: Some(true),
        ..Default::default()
    }
}

/// Requests and limits, in millicores and MiB.
pub(super) fn resources(
    cpu_request_milli: i128,
    memory_request_mi: i128,
    cpu_limit_milli: i128,
    memory_limit_mi: i128,
) -> ResourceRequirements {
    let pair = |cpu: i128, mem: i128| {
        BTreeMap::from([
            ("cpu".to_string(), autolabs_k8s::Quantity::from_milli(cpu).to_k8s()),
            ("memory".to_string(), autolabs_k8s::Quantity::from_bytes(mem << 20).to_k8s()),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(cpu_request_milli, memory_request_mi)),
        limits: Some(pair(cpu_limit_milli, memory_limit_mi)),
        ..Default::default()
    }
}

/// The requests and limits [`capacity::COMPONENTS`] plans for a component.
fn component_resources(c: &Component) -> ResourceRequirements {
    resources(c.cpu_request_milli, c.memory_request_mi, c.cpu_limit_milli, c.memory_limit_mi)
}

pub(super) fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), value_from: None }
}

pub(super) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
    }
}

/// A scratch volume (for `/tmp`, sockets) on a read-only root filesystem.
pub(super) fn empty_dir(name: &str, size_limit: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: None,
            size_limit: autolabs_k8s::Quantity::parse(size_limit).ok().map(|q| q.to_k8s()),
        }),
        ..Default::default()
    }
}

pub(super) fn pvc_volume(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: None,
        }),
        ..Default::default()
    }
}

fn config_map_volume(name: &str, config_map: &str) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource { name: config_map.into(), ..Default::default() }),
        ..Default::default()
    }
}

pub(super) fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// A ReadWriteOnce claim spec of `size` on `class`.
pub(super) fn claim_spec(size: &str, class: &str) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        storage_class_name: Some(class.into()),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_string(),
                autolabs_k8s::Quantity::parse(size).unwrap_or_default().to_k8s(),
            )])),
            limits: None,
        }),
        ..Default::default()
    }
}

/// `sh -c SCRIPT` as an exec probe.
pub(super) fn exec_probe(script: &str, period: i32, timeout: i32, failure_threshold: i32) -> Probe {
    Probe {
        exec: Some(ExecAction { command: Some(vec!["sh".into(), "-c".into(), script.into()]) }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

fn http_probe(path: &str, port_name: &str, period: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port_name.into()),
            scheme: Some("HTTP".into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

fn tcp_probe(port_name: &str, period: i32, failure_threshold: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::String(port_name.into()), host: None }),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

fn tcp_port(name: &str, number: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number.into(),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

/// Labels of a component's pods: the common labels plus `app` (which the NetworkPolicies
/// select) and `app.kubernetes.io/name`.
pub(super) fn pod_labels(ctx: &Ctx, app_name: &str, component: &str) -> BTreeMap<String, String> {
    let mut l = ctx.common_labels();
    l.insert("app".into(), app_name.into());
    l.insert("app.kubernetes.io/name".into(), app_name.into());
    l.insert("app.kubernetes.io/component".into(), component.into());
    l.insert("app.kubernetes.io/part-of".into(), "autolabs".into());
    l
}

/// Metadata with common labels, `app` and annotations.
pub(super) fn object_meta(
    ctx: &Ctx,
    name: &str,
    namespace: &str,
    app_name: &str,
    annotations: &[(&str, &str)],
) -> ObjectMeta {
    let mut m = ctx.meta(name, Some(namespace), &[("app", app_name)]);
    if !annotations.is_empty() {
        m.annotations = Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    }
    m
}

/// A ServiceAccount that mounts no token: none of these pods talk to the API server.
pub(super) fn service_account(ctx: &Ctx, name: &str, namespace: &str, app_name: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: object_meta(ctx, name, namespace, app_name, &[]),
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

fn selector(app_name: &str) -> LabelSelector {
    LabelSelector { match_labels: Some(labels(&[("app", app_name)])), ..Default::default() }
}

/// The base of every long-running pod here: restricted security, no token, platform priority.
fn pod_spec(uid: i64, service_account: &str, containers: Vec<Container>, volumes: Vec<Volume>) -> PodSpec {
    PodSpec {
        service_account_name: Some(service_account.into()),
        automount_service_account_token: Some(false),
        priority_class_name: Some(PLATFORM_PRIORITY.into()),
        security_context: Some(restricted_pod_security(uid)),
        // Service links put every Service of the namespace into the environment; none of
        // these programs read them.
        enable_service_links: Some(false),
        containers,
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..Default::default()
    }
}

/// Replicas of a component in this profile, as capacity plans them.
fn replicas(ctx: &Ctx, c: &Component) -> i32 {
    c.replicas(ctx.spec().profile) as i32
}

/// In `production`, replicas prefer different nodes.
// k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread: maxSkew over
// kubernetes.io/hostname; ScheduleAnyway so a cordoned node never blocks a rollout.
fn spread_over_nodes(ctx: &Ctx, spec: &mut PodSpec, app_name: &str, replicas: i32) {
    if ctx.spec().profile != Profile::Production || replicas < 2 {
        return;
    }
    spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".into(),
        when_unsatisfiable: "ScheduleAnyway".into(),
        label_selector: Some(selector(app_name)),
        ..Default::default()
    }]);
    spec.affinity = Some(Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(selector(app_name)),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
}

fn service(
    ctx: &Ctx,
    name: &str,
    namespace: &str,
    app_name: &str,
    ports: &[(&str, u16)],
    headless: bool,
) -> Service {
    Service {
        metadata: object_meta(ctx, name, namespace, app_name, &[]),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: headless.then(|| "None".into()),
            // The headless Service gives the StatefulSet's pods stable DNS even while not ready.
            publish_not_ready_addresses: headless.then_some(true),
            selector: Some(labels(&[("app", app_name)])),
            ports: Some(
                ports
                    .iter()
                    .map(|(n, p)| ServicePort {
                        name: Some(n.to_string()),
                        port: (*p).into(),
                        target_port: Some(IntOrString::String(n.to_string())),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// PodDisruptionBudget: at least one replica stays up during voluntary disruptions.
// k8s.io/kubernetes/pkg/registry/core/pod/storage/eviction.go: an eviction is refused while
// it would leave fewer than minAvailable healthy pods. For a single-replica database that
// means `kubectl drain` waits until the operator moves it in a maintenance window, which is
// the intent (the annotation says so).
fn disruption_budget(
    ctx: &Ctx,
    name: &str,
    namespace: &str,
    app_name: &str,
    replicas: i32,
) -> PodDisruptionBudget {
    let note = if replicas < 2 {
        "single replica: voluntary evictions (kubectl drain) are refused until the pod is moved by hand in a maintenance window (kubectl delete pod), so the data store never goes down unnoticed"
    } else {
        "keeps one replica serving while nodes are drained"
    };
    PodDisruptionBudget {
        metadata: object_meta(ctx, name, namespace, app_name, &[("autolabs.io/disruption-note", note)]),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(selector(app_name)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// The components
// ---------------------------------------------------------------------------------------

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    for c in capacity::COMPONENTS.iter().filter(|c| c.rendered) {
        match c.app {
            app::POSTGRES => postgres(ctx, out, c, PostgresInstance::platform(ctx)),
            app::ZITADEL_POSTGRES => postgres(ctx, out, c, PostgresInstance::zitadel(ctx)),
            app::REDIS => redis(ctx, out, c),
            app::RABBITMQ => rabbitmq(ctx, out, c),
            app::PROVISIONER => provisioner(ctx, out, c),
            app::BACKEND => backend(ctx, out, c),
            _ => {}
        }
        if ctx.spec().profile == Profile::Production {
            out.manifests.push(typed(disruption_budget(ctx, c.app, c.namespace, c.app, replicas(ctx, c))));
        }
    }
}

/// One of the two PostgreSQL instances.
struct PostgresInstance {
    namespace: &'static str,
    app: &'static str,
    secret: &'static str,
    size: String,
    /// The document's explicit `postgres-pvc` for the platform database; a
    /// volumeClaimTemplate for Zitadel's.
    explicit_claim: Option<&'static str>,
}

impl PostgresInstance {
    fn platform(ctx: &Ctx) -> Self {
        PostgresInstance {
            namespace: INFRASTRUCTURE,
            app: app::POSTGRES,
            secret: POSTGRES_SECRET,
            size: ctx.spec().storage.postgres_size().to_string(),
            explicit_claim: Some(POSTGRES_PVC),
        }
    }
    fn zitadel(ctx: &Ctx) -> Self {
        PostgresInstance {
            namespace: AUTH,
            app: app::ZITADEL_POSTGRES,
            secret: ZITADEL_POSTGRES_SECRET,
            size: ctx.spec().storage.zitadel_postgres_size().to_string(),
            explicit_claim: None,
        }
    }
}

/// The Secret keys the postgres image and the backup jobs read.
pub(super) const POSTGRES_SECRET_KEYS: &str = "POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB";

fn postgres(ctx: &Ctx, out: &mut Rendered, c: &Component, db: PostgresInstance) {
    let class = ctx.storage_class();
    let ns = db.namespace;
    let secret_note = format!("{} (keys: {POSTGRES_SECRET_KEYS})", db.secret);
    out.manifests.push(typed(service_account(ctx, db.app, ns, db.app)));
    if let Some(claim) = db.explicit_claim {
        out.manifests.push(typed(PersistentVolumeClaim {
            metadata: object_meta(ctx, claim, ns, db.app, &[]),
            spec: Some(claim_spec(&db.size, &class)),
            ..Default::default()
        }));
    }
    let headless = format!("{}-headless", db.app);
    out.manifests.push(typed(service(ctx, db.app, ns, db.app, &[("postgres", port::POSTGRES)], false)));
    out.manifests.push(typed(service(ctx, &headless, ns, db.app, &[("postgres", port::POSTGRES)], true)));

    let ready = "pg_isready -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -h 127.0.0.1 -p 5432";
    let container = Container {
        name: "postgres".into(),
        image: Some(ctx.spec().images.postgres.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: Some(vec![tcp_port("postgres", port::POSTGRES)]),
        env: Some(vec![
            secret_env("POSTGRES_USER", db.secret, "POSTGRES_USER"),
            secret_env("POSTGRES_PASSWORD", db.secret, "POSTGRES_PASSWORD"),
            secret_env("POSTGRES_DB", db.secret, "POSTGRES_DB"),
            // A subdirectory: initdb must own the data directory, and the volume's root
            // belongs to root (group fsGroup).
            env("PGDATA", "/var/lib/postgresql/data/pgdata"),
        ]),
        resources: Some(component_resources(c)),
        startup_probe: Some(exec_probe(ready, 10, 5, 30)),
        readiness_probe: Some(exec_probe(ready, 10, 5, 3)),
        liveness_probe: Some(exec_probe(ready, 20, 5, 6)),
        security_context: Some(restricted_container_security(true)),
        volume_mounts: Some(vec![
            mount("data", "/var/lib/postgresql/data", false),
            mount("run", "/var/run/postgresql", false),
            mount("tmp", "/tmp", false),
            mount("dshm", "/dev/shm", false),
        ]),
        ..Default::default()
    };
    // PostgreSQL's dynamic shared memory lives in /dev/shm, which container runtimes cap
    // at 64 MiB; a memory-backed emptyDir (counted in the memory limit) lifts that.
    let dshm = Volume {
        name: "dshm".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".into()),
            size_limit: autolabs_k8s::Quantity::parse("128Mi").ok().map(|q| q.to_k8s()),
        }),
        ..Default::default()
    };
    let mut volumes = vec![empty_dir("run", "16Mi"), empty_dir("tmp", "256Mi"), dshm];
    if let Some(claim) = db.explicit_claim {
        volumes.insert(0, pvc_volume("data", claim));
    }
    let mut spec = pod_spec(DATA_IMAGE_UID, db.app, vec![container], volumes);
    // Time for a clean shutdown (checkpoint) before SIGKILL.
    spec.termination_grace_period_seconds = Some(60);
    let replicas = replicas(ctx, c);
    spread_over_nodes(ctx, &mut spec, db.app, replicas);
    out.manifests.push(typed(StatefulSet {
        metadata: object_meta(ctx, db.app, ns, db.app, &[(REQUIRED_SECRETS, &secret_note)]),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(headless),
            selector: selector(db.app),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels(ctx, db.app, "database")),
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            volume_claim_templates: db.explicit_claim.is_none().then(|| {
                vec![PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some("data".into()),
                        labels: Some(labels(&[("app", db.app)])),
                        ..Default::default()
                    },
                    spec: Some(claim_spec(&db.size, &class)),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
}

fn redis(ctx: &Ctx, out: &mut Rendered, c: &Component) {
    let ns = INFRASTRUCTURE;
    let claim = "redis-data";
    out.manifests.push(typed(service_account(ctx, app::REDIS, ns, app::REDIS)));
    out.manifests.push(typed(PersistentVolumeClaim {
        metadata: object_meta(ctx, claim, ns, app::REDIS, &[]),
        spec: Some(claim_spec(&ctx.spec().storage.redis_size().to_string(), &ctx.storage_class())),
        ..Default::default()
    }));
    out.manifests.push(typed(service(ctx, app::REDIS, ns, app::REDIS, &[("redis", port::REDIS)], false)));

    // Redis evicts only keys with a TTL once it reaches 3/4 of the container limit, so it
    // answers "out of memory" instead of being OOM-killed.
    let maxmemory_mb = c.memory_limit_mi * 3 / 4;
    let ping = "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG";
    let container = Container {
        name: "redis".into(),
        image: Some(ctx.spec().images.redis.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["redis-server".into()]),
        // $(REDIS_PASSWORD) is expanded by the kubelet from the env below.
        args: Some(
            [
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                "/data",
                "--maxmemory",
                &format!("{maxmemory_mb}mb"),
                "--maxmemory-policy",
                "volatile-lru",
                "--requirepass",
                "$(REDIS_PASSWORD)",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ),
        ports: Some(vec![tcp_port("redis", port::REDIS)]),
        env: Some(vec![
            secret_env("REDIS_PASSWORD", REDIS_SECRET, "REDIS_PASSWORD"),
            // redis-cli reads the password from here, so probes never put it on a command line.
            secret_env("REDISCLI_AUTH", REDIS_SECRET, "REDIS_PASSWORD"),
        ]),
        resources: Some(component_resources(c)),
        startup_probe: Some(exec_probe(ping, 5, 3, 24)),
        readiness_probe: Some(exec_probe(ping, 10, 3, 3)),
        liveness_probe: Some(exec_probe(ping, 20, 5, 6)),
        security_context: Some(restricted_container_security(true)),
        volume_mounts: Some(vec![mount("data", "/data", false), mount("tmp", "/tmp", false)]),
        ..Default::default()
    };
    let spec = pod_spec(
        DATA_IMAGE_UID,
        app::REDIS,
        vec![container],
        vec![pvc_volume("data", claim), empty_dir("tmp", "16Mi")],
    );
    out.manifests.push(typed(Deployment {
        metadata: object_meta(
            ctx,
            app::REDIS,
            ns,
            app::REDIS,
            &[
                (REQUIRED_SECRETS, "redis-credentials (keys: REDIS_PASSWORD)"),
                BACKUP_OPT_OUT,
                (
                    BACKUP_REASON,
                    "cache and session store: the append-only file survives restarts, and the backend rebuilds whatever a lost volume held",
                ),
            ],
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas(ctx, c)),
            // One ReadWriteOnce volume: the old pod must let go before the new one starts.
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None }),
            selector: selector(app::REDIS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels(ctx, app::REDIS, "cache")),
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            ..Default::default()
        }),
        ..Default::default()
    }));
}

const RABBITMQ_MANAGEMENT_PORT: u16 = 15672;

fn rabbitmq(ctx: &Ctx, out: &mut Rendered, c: &Component) {
    let ns = MESSAGING;
    let config_name = "rabbitmq-config";
    out.manifests.push(typed(service_account(ctx, app::RABBITMQ, ns, app::RABBITMQ)));
    // The whole /etc/rabbitmq comes from this ConfigMap, so the root filesystem can stay
    // read-only. Memory is pinned to the container limit (the VM would otherwise size
    // itself from the node's memory).
    let rabbitmq_conf = format!(
        "# Rendered by autolabs.\n\
         listeners.tcp.default = {amqp}\n\
         management.tcp.port = {mgmt}\n\
         prometheus.tcp.port = {prom}\n\
         loopback_users.guest = true\n\
         log.console = true\n\
         log.console.level = info\n\
         log.file = false\n\
         total_memory_available_override_value = {mem}\n\
         vm_memory_high_watermark.relative = 0.6\n\
         disk_free_limit.absolute = 1GB\n",
        amqp = port::AMQP,
        mgmt = RABBITMQ_MANAGEMENT_PORT,
        prom = port::RABBITMQ_METRICS,
        mem = c.memory_limit_mi << 20,
    );
    out.manifests.push(typed(ConfigMap {
        metadata: object_meta(ctx, config_name, ns, app::RABBITMQ, &[]),
        data: Some(BTreeMap::from([
            ("rabbitmq.conf".to_string(), rabbitmq_conf),
            ("enabled_plugins".to_string(), "[rabbitmq_management,rabbitmq_prometheus].\n".to_string()),
        ])),
        ..Default::default()
    }));
    let headless = "rabbitmq-headless";
    out.manifests.push(typed(service(
        ctx,
        app::RABBITMQ,
        ns,
        app::RABBITMQ,
        &[("amqp", port::AMQP), ("prometheus", port::RABBITMQ_METRICS)],
        false,
    )));
    out.manifests.push(typed(service(ctx, headless, ns, app::RABBITMQ, &[("amqp", port::AMQP)], true)));

    let container = Container {
        name: "rabbitmq".into(),
        image: Some(ctx.spec().images.rabbitmq.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: Some(vec![
            tcp_port("amqp", port::AMQP),
            tcp_port("prometheus", port::RABBITMQ_METRICS),
            tcp_port("management", RABBITMQ_MANAGEMENT_PORT),
        ]),
        env: Some(vec![
            secret_env("RABBITMQ_DEFAULT_USER", RABBITMQ_SECRET, "RABBITMQ_DEFAULT_USER"),
            secret_env("RABBITMQ_DEFAULT_PASS", RABBITMQ_SECRET, "RABBITMQ_DEFAULT_PASS"),
        ]),
        resources: Some(component_resources(c)),
        // The probes RabbitMQ's own Kubernetes guidance recommends: `ping` for liveness,
        // listener connectivity for readiness.
        startup_probe: Some(exec_probe("rabbitmq-diagnostics -q ping", 10, 15, 30)),
        readiness_probe: Some(exec_probe("rabbitmq-diagnostics -q check_port_connectivity", 20, 15, 3)),
        liveness_probe: Some(exec_probe("rabbitmq-diagnostics -q ping", 30, 15, 6)),
        security_context: Some(restricted_container_security(true)),
        volume_mounts: Some(vec![
            mount("data", "/var/lib/rabbitmq", false),
            mount("config", "/etc/rabbitmq", true),
            mount("logs", "/var/log/rabbitmq", false),
            mount("tmp", "/tmp", false),
        ]),
        ..Default::default()
    };
    let mut spec = pod_spec(
        DATA_IMAGE_UID,
        app::RABBITMQ,
        vec![container],
        vec![config_map_volume("config", config_name), empty_dir("logs", "64Mi"), empty_dir("tmp", "64Mi")],
    );
    spec.termination_grace_period_seconds = Some(60);
    out.manifests.push(typed(StatefulSet {
        metadata: object_meta(
            ctx,
            app::RABBITMQ,
            ns,
            app::RABBITMQ,
            &[
                (REQUIRED_SECRETS, "rabbitmq-credentials (keys: RABBITMQ_DEFAULT_USER, RABBITMQ_DEFAULT_PASS)"),
                BACKUP_OPT_OUT,
                (
                    BACKUP_REASON,
                    "broker of in-flight tasks: durable queues survive restarts on the volume; queues and exchanges are declared again by their clients, and lab state lives in PostgreSQL and the Kubernetes API",
                ),
            ],
        ),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas(ctx, c)),
            service_name: Some(headless.into()),
            selector: selector(app::RABBITMQ),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels(ctx, app::RABBITMQ, "messaging")),
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            // Durable queues and messages live on this volume.
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    labels: Some(labels(&[("app", app::RABBITMQ)])),
                    ..Default::default()
                },
                spec: Some(claim_spec(&ctx.spec().storage.rabbitmq_size().to_string(), &ctx.storage_class())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }));
}

fn provisioner(ctx: &Ctx, out: &mut Rendered, c: &Component) {
    let ns = PLATFORM;
    out.manifests.push(typed(service(
        ctx,
        app::PROVISIONER,
        ns,
        app::PROVISIONER,
        &[("http", port::PROVISIONER)],
        false,
    )));
    let container = Container {
        name: "provisioner".into(),
        image: Some(ctx.spec().provisioner_image().to_string()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec!["serve".into()]),
        ports: Some(vec![tcp_port("http", port::PROVISIONER)]),
        env: Some(vec![
            // The bearer token the backend presents.
            secret_env("AUTOLABS_API_TOKEN", PROVISIONER_SECRET, "api-token"),
        ]),
        resources: Some(component_resources(c)),
        readiness_probe: Some(http_probe("/readyz", "http", 10, 3)),
        liveness_probe: Some(http_probe("/healthz", "http", 20, 3)),
        security_context: Some(restricted_container_security(true)),
        volume_mounts: Some(vec![mount("tmp", "/tmp", false)]),
        ..Default::default()
    };
    let mut spec = pod_spec(AUTOLABS_UID, PROVISIONER_SA, vec![container], vec![empty_dir("tmp", "16Mi")]);
    // The provisioner talks to the API server (its Role in `labs`), so it needs the token.
    spec.automount_service_account_token = Some(true);
    let replicas = replicas(ctx, c);
    spread_over_nodes(ctx, &mut spec, app::PROVISIONER, replicas);
    let mut template_meta =
        ObjectMeta { labels: Some(pod_labels(ctx, app::PROVISIONER, "provisioner")), ..Default::default() };
    template_meta.annotations = Some(scrape_annotations(port::PROVISIONER));
    out.manifests.push(typed(Deployment {
        metadata: object_meta(
            ctx,
            app::PROVISIONER,
            ns,
            app::PROVISIONER,
            &[(REQUIRED_SECRETS, "autolabs-provisioner (keys: api-token)")],
        ),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: selector(app::PROVISIONER),
            template: PodTemplateSpec { metadata: Some(template_meta), spec: Some(spec) },
            ..Default::default()
        }),
        ..Default::default()
    }));
}

/// `prometheus.io/*` annotations for annotation-based scrape configs.
fn scrape_annotations(port_number: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".to_string(), "true".to_string()),
        ("prometheus.io/port".to_string(), port_number.to_string()),
        ("prometheus.io/path".to_string(), "/metrics".to_string()),
    ])
}

/// The HPA's ceiling: the document's "HPA for the backend", bounded by what the nodes hold.
pub(crate) fn backend_max_replicas(profile: Profile) -> i32 {
    match profile {
        Profile::Mvp => 2,
        Profile::Production => 5,
    }
}

fn backend(ctx: &Ctx, out: &mut Rendered, c: &Component) {
    let ns = PLATFORM;
    out.manifests.push(typed(service_account(ctx, app::BACKEND, ns, app::BACKEND)));
    out.manifests.push(typed(service(
        ctx,
        app::BACKEND,
        ns,
        app::BACKEND,
        &[("http", port::BACKEND)],
        false,
    )));
    let container = Container {
        name: "backend".into(),
        image: Some(ctx.spec().images.backend.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        ports: Some(vec![tcp_port("http", port::BACKEND)]),
        // Whatever the backend needs (DATABASE_URL, REDIS_URL, AMQP_URL, OIDC settings)
        // comes from one Secret the operator writes; optional so the placeholder starts.
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: BACKEND_SECRET.into(), optional: Some(true) }),
            ..Default::default()
        }]),
        resources: Some(component_resources(c)),
        // TCP probes: the placeholder's HTTP paths are not known yet.
        readiness_probe: Some(tcp_probe("http", 10, 3)),
        liveness_probe: Some(tcp_probe("http", 20, 6)),
        security_context: Some(restricted_container_security(true)),
        volume_mounts: Some(vec![mount("tmp", "/tmp", false)]),
        ..Default::default()
    };
    let min_replicas = replicas(ctx, c);
    let mut spec = pod_spec(BACKEND_UID, app::BACKEND, vec![container], vec![empty_dir("tmp", "64Mi")]);
    spread_over_nodes(ctx, &mut spec, app::BACKEND, min_replicas);
    let mut template_meta =
        ObjectMeta { labels: Some(pod_labels(ctx, app::BACKEND, "backend")), ..Default::default() };
    template_meta.annotations = Some(scrape_annotations(port::BACKEND));
    out.manifests.push(typed(Deployment {
        metadata: object_meta(
            ctx,
            app::BACKEND,
            ns,
            app::BACKEND,
            &[
                ("autolabs.io/placeholder", "true"),
                (
                    "autolabs.io/description",
                    "Placeholder for the Backend Platform: replace spec.images.backend with the real image. Replicas are left to the HorizontalPodAutoscaler backend-platform (spec.replicas is deliberately unset so applying never fights it).",
                ),
                (REQUIRED_SECRETS, "backend-platform-env (optional; every key becomes an environment variable)"),
            ],
        ),
        spec: Some(DeploymentSpec {
            // Unset on purpose: the HPA owns the replica count (it raises it to minReplicas).
            replicas: None,
            selector: selector(app::BACKEND),
            template: PodTemplateSpec { metadata: Some(template_meta), spec: Some(spec) },
            ..Default::default()
        }),
        ..Default::default()
    }));
    // k8s.io/kubernetes/pkg/controller/podautoscaler/horizontal.go: desired = ceil(current ×
    // utilization / target), clamped to [minReplicas, maxReplicas]; utilization is relative
    // to the containers' CPU requests, which is why every container sets them.
    out.manifests.push(typed(HorizontalPodAutoscaler {
        metadata: object_meta(ctx, app::BACKEND, ns, app::BACKEND, &[]),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: app::BACKEND.into(),
            },
            min_replicas: Some(min_replicas),
            max_replicas: backend_max_replicas(ctx.spec().profile).max(min_replicas),
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(70),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, Provider};
    use k8s_openapi::api::core::v1::PodTemplateSpec;

    fn rendered(profile: Profile) -> Rendered {
        let p = Platform::for_profile(profile, Provider::Proxmox);
        let ctx = Ctx { p: &p };
        let mut out = Rendered::default();
        render(&ctx, &mut out);
        out
    }

    /// Every pod template rendered here, with the owning object's id.
    fn templates(r: &Rendered) -> Vec<(String, PodTemplateSpec)> {
        let mut t = Vec::new();
        for d in r.typed::<Deployment>() {
            t.push((
                format!("Deployment/{}", d.metadata.name.unwrap_or_default()),
                d.spec.map(|s| s.template).unwrap_or_default(),
            ));
        }
        for s in r.typed::<StatefulSet>() {
            t.push((
                format!("StatefulSet/{}", s.metadata.name.unwrap_or_default()),
                s.spec.map(|s| s.template).unwrap_or_default(),
            ));
        }
        t
    }

    #[test]
    fn every_rendered_component_has_a_workload() {
        for profile in Profile::ALL {
            let r = rendered(profile);
            for c in capacity::COMPONENTS.iter().filter(|c| c.rendered) {
                let found = r
                    .find("Deployment", Some(c.namespace), c.app)
                    .or_else(|| r.find("StatefulSet", Some(c.namespace), c.app));
                assert!(found.is_some(), "{profile:?}: no workload for {}", c.app);
            }
        }
    }

    /// Table: each row is one restricted-profile rule, checked on every container of every
    /// pod template.
    #[test]
    fn pod_templates_pass_restricted_structurally() {
        type Rule = (&'static str, fn(&PodSpec, &Container) -> bool);
        let rules: [Rule; 7] = [
            // policy/check_runAsNonRoot.go
            ("runAsNonRoot", |p, c| {
                let pod = p.security_context.as_ref().and_then(|s| s.run_as_non_root);
                let ctr = c.security_context.as_ref().and_then(|s| s.run_as_non_root);
                ctr.or(pod) == Some(true)
            }),
            // policy/check_runAsUser.go
            ("runAsUser != 0", |p, c| {
                let pod = p.security_context.as_ref().and_then(|s| s.run_as_user);
                let ctr = c.security_context.as_ref().and_then(|s| s.run_as_user);
                ctr.or(pod).is_some_and(|u| u != 0)
            }),
            // policy/check_seccompProfile_restricted.go
            ("seccomp RuntimeDefault", |p, c| {
                let pod = p
                    .security_context
                    .as_ref()
                    .and_then(|s| s.seccomp_profile.as_ref())
                    .map(|s| s.type_.clone());
                let ctr = c
                    .security_context
                    .as_ref()
                    .and_then(|s| s.seccomp_profile.as_ref())
                    .map(|s| s.type_.clone());
                matches!(ctr.or(pod).as_deref(), Some("RuntimeDefault") | Some("Localhost"))
            }),
            // policy/check_allowPrivilegeEscalation.go
            ("allowPrivilegeEscalation false", |_, c| {
                c.security_context.as_ref().and_then(|s| s.allow_privilege_escalation) == Some(false)
            }),
            // policy/check_capabilities_restricted.go
            ("drop ALL, add nothing", |_, c| {
                let caps = c.security_context.as_ref().and_then(|s| s.capabilities.as_ref());
                caps.and_then(|c| c.drop.as_ref()).is_some_and(|d| d.iter().any(|x| x == "ALL"))
                    && caps
                        .and_then(|c| c.add.as_ref())
                        .is_none_or(|a| a.iter().all(|x| x == "NET_BIND_SERVICE"))
            }),
            // policy/check_restrictedVolumes.go
            ("restricted volume types", |p, _| {
                p.volumes.iter().flatten().all(|v| {
                    v.empty_dir.is_some()
                        || v.persistent_volume_claim.is_some()
                        || v.config_map.is_some()
                        || v.secret.is_some()
                        || v.projected.is_some()
                        || v.downward_api.is_some()
                })
            }),
            // policy/check_hostNamespaces.go, check_hostPorts.go, check_privileged.go
            ("no host namespaces, ports or privilege", |p, c| {
                p.host_network != Some(true)
                    && p.host_pid != Some(true)
                    && p.host_ipc != Some(true)
                    && c.ports.iter().flatten().all(|port| port.host_port.unwrap_or(0) == 0)
                    && c.security_context.as_ref().and_then(|s| s.privileged) != Some(true)
            }),
        ];
        for profile in Profile::ALL {
            for (id, t) in templates(&rendered(profile)) {
                let spec = t.spec.unwrap_or_default();
                for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
                    for (rule, ok) in &rules {
                        assert!(ok(&spec, c), "{profile:?} {id} container {}: {rule}", c.name);
                    }
                }
            }
        }
    }

    #[test]
    fn containers_have_resources_probes_and_priority() {
        for profile in Profile::ALL {
            for (id, t) in templates(&rendered(profile)) {
                let spec = t.spec.unwrap_or_default();
                assert_eq!(spec.priority_class_name.as_deref(), Some(PLATFORM_PRIORITY), "{id}");
                for c in &spec.containers {
                    let res = c.resources.clone().unwrap_or_default();
                    for (what, map) in [("requests", res.requests), ("limits", res.limits)] {
                        let map = map.unwrap_or_default();
                        assert!(
                            map.contains_key("cpu") && map.contains_key("memory"),
                            "{id}/{}: {what}",
                            c.name
                        );
                    }
                    assert!(
                        c.readiness_probe.is_some() && c.liveness_probe.is_some(),
                        "{id}/{}: probes",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn resources_match_capacity_components() {
        let r = rendered(Profile::Production);
        for (id, t) in templates(&r) {
            let app_name =
                t.metadata.and_then(|m| m.labels).and_then(|l| l.get("app").cloned()).unwrap_or_default();
            let c = capacity::component_for(&app_name)
                .unwrap_or_else(|| panic!("{id}: {app_name} not in COMPONENTS"));
            let res = t.spec.unwrap_or_default().containers[0].resources.clone().unwrap_or_default();
            let get =
                |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
                 k: &str| {
                    autolabs_k8s::Quantity::parse(&m.as_ref().unwrap()[k].0).unwrap()
                };
            assert_eq!(get(&res.requests, "cpu"), c.cpu_request(), "{id}");
            assert_eq!(get(&res.requests, "memory"), c.memory_request(), "{id}");
            assert_eq!(get(&res.limits, "cpu"), c.cpu_limit(), "{id}");
            assert_eq!(get(&res.limits, "memory"), c.memory_limit(), "{id}");
        }
    }

    #[test]
    fn only_the_provisioner_mounts_a_token() {
        for (id, t) in templates(&rendered(Profile::Mvp)) {
            let spec = t.spec.unwrap_or_default();
            let expected = spec.service_account_name.as_deref() == Some(PROVISIONER_SA);
            assert_eq!(spec.automount_service_account_token, Some(expected), "{id}");
        }
    }

    #[test]
    fn pod_labels_match_the_isolation_flows() {
        // Every in-cluster flow endpoint that names one of our apps selects the pods we render.
        let p = Platform::default();
        let r = rendered(Profile::Mvp);
        let pods: Vec<(String, BTreeMap<String, String>)> = templates(&r)
            .into_iter()
            .map(|(id, t)| (id, t.metadata.and_then(|m| m.labels).unwrap_or_default()))
            .collect();
        for flow in crate::isolation::flows(&p.spec) {
            for end in [&flow.from, &flow.to] {
                let Some(sel) = &end.pods else { continue };
                let Some(app_name) = sel.get("app") else { continue };
                if !capacity::component_for(app_name).is_some_and(|c| c.rendered) {
                    continue;
                }
                let selector = autolabs_k8s::Selector::from_labels(sel.clone());
                assert!(
                    pods.iter().any(|(_, l)| selector.matches(l)),
                    "flow {}: nothing matches {sel:?}",
                    flow.name
                );
            }
        }
    }

    #[test]
    fn postgres_uses_the_documents_pvc() {
        let r = rendered(Profile::Mvp);
        let pvc = r.find("PersistentVolumeClaim", Some(INFRASTRUCTURE), POSTGRES_PVC).expect("postgres-pvc");
        assert_eq!(pvc.value["spec"]["resources"]["requests"]["storage"], "50Gi");
        assert_eq!(pvc.value["spec"]["storageClassName"], "local-path");
        let sts = r.find("StatefulSet", Some(INFRASTRUCTURE), app::POSTGRES).expect("postgres");
        let vols = &sts.value["spec"]["template"]["spec"]["volumes"];
        assert!(
            vols.as_array().unwrap().iter().any(|v| v["persistentVolumeClaim"]["claimName"] == POSTGRES_PVC)
        );
        assert!(r.find("Service", Some(INFRASTRUCTURE), "postgres-headless").is_some());
        let zitadel = r.find("StatefulSet", Some(AUTH), app::ZITADEL_POSTGRES).expect("zitadel-postgres");
        assert_eq!(
            zitadel.value["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            "10Gi"
        );
    }

    #[test]
    fn rabbitmq_service_has_amqp_and_prometheus() {
        let r = rendered(Profile::Mvp);
        let svc = r.find("Service", Some(MESSAGING), app::RABBITMQ).expect("rabbitmq service");
        let ports: Vec<i64> = svc.value["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_i64().unwrap())
            .collect();
        assert_eq!(ports, vec![5672, 15692]);
    }

    #[test]
    fn production_gets_pdbs_and_spread_mvp_does_not() {
        let mvp = rendered(Profile::Mvp);
        assert_eq!(mvp.of_kind("PodDisruptionBudget").count(), 0);
        let prod = rendered(Profile::Production);
        assert_eq!(
            prod.of_kind("PodDisruptionBudget").count(),
            capacity::COMPONENTS.iter().filter(|c| c.rendered).count()
        );
        let prov = prod.find("Deployment", Some(PLATFORM), app::PROVISIONER).unwrap();
        assert!(prov.value["spec"]["template"]["spec"]["topologySpreadConstraints"].is_array());
        assert_eq!(prov.value["spec"]["replicas"], 2);
    }

    #[test]
    fn backend_is_a_marked_placeholder_with_an_hpa() {
        for (profile, min, max) in [(Profile::Mvp, 1, 2), (Profile::Production, 2, 5)] {
            let r = rendered(profile);
            let d = r.find("Deployment", Some(PLATFORM), app::BACKEND).unwrap();
            assert_eq!(d.value["metadata"]["annotations"]["autolabs.io/placeholder"], "true");
            assert!(d.value["spec"].get("replicas").is_none(), "the HPA owns replicas");
            let hpa = r.find("HorizontalPodAutoscaler", Some(PLATFORM), app::BACKEND).unwrap();
            assert_eq!(hpa.value["spec"]["minReplicas"], min);
            assert_eq!(hpa.value["spec"]["maxReplicas"], max);
            assert_eq!(hpa.value["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
        }
    }

    #[test]
    fn no_secret_values_are_rendered() {
        let r = rendered(Profile::Production);
        assert_eq!(r.of_kind("Secret").count(), 0);
        for kind in ["Deployment", "StatefulSet"] {
            for m in r.of_kind(kind) {
                assert!(m.value["metadata"]["annotations"][REQUIRED_SECRETS].is_string(), "{}", m.id());
            }
        }
    }

    /// Writes the whole rendered baseline of each profile (and an S3 backup variant) under
    /// the temp dir, for `kubernetes-validate --strict` and promtool.
    #[test]
    fn write_rendered_yaml_for_schema_validation() {
        let dir = std::env::temp_dir().join("autolabs-render");
        std::fs::create_dir_all(&dir).unwrap();
        for profile in Profile::ALL {
            for s3 in [false, true] {
                let mut p = Platform::for_profile(profile, Provider::Proxmox);
                if s3 {
                    p.spec.backup.target.pvc = None;
                    p.spec.backup.target.s3 = Some(crate::platform::S3Target {
                        endpoint: "https://minio.example.com:9000".into(),
                        bucket: "backups".into(),
                        region: "us-east-1".into(),
                        secret_name: "backup-s3".into(),
                        cidr: None,
                    });
                }
                let r = crate::render::render(&p);
                let name = format!("{}{}", profile.as_str(), if s3 { "-s3" } else { "" });
                std::fs::write(dir.join(format!("{name}.yaml")), crate::output::to_stream(&r)).unwrap();
                let files = dir.join(format!("{name}-files"));
                for f in &r.files {
                    let path = files.join(&f.path);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, &f.contents).unwrap();
                }
            }
        }
    }

    /// What every pod of a namespace can need at its peak (HPA at maxReplicas, one surge
    /// pod per rolling Deployment, a backup and a restore pod at once) is admitted by that
    /// namespace's ResourceQuota, and every container by its LimitRange max.
    // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/pods.go: a pod's usage is the larger of
    // the sum of its containers and its largest init container
    // (resourcehelper.PodRequests/PodLimits); plugin/pkg/admission/limitranger: max per
    // container.
    #[test]
    fn peak_usage_fits_quota_and_limit_range() {
        use autolabs_k8s::Quantity;
        use k8s_openapi::api::batch::v1::{CronJob, Job};
        use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
        type Usage = BTreeMap<String, Quantity>;
        fn add(u: &mut Usage, k: &str, q: Quantity) {
            let e = u.entry(k.to_string()).or_insert(Quantity::ZERO);
            *e = e.checked_add(q).unwrap();
        }
        fn pod_usage(spec: &PodSpec) -> Usage {
            let get = |c: &Container, what: &str, res: &str| -> Quantity {
                let r = c.resources.clone().unwrap_or_default();
                let m = if what == "requests" { r.requests } else { r.limits };
                m.and_then(|m| m.get(res).map(|q| Quantity::parse(&q.0).unwrap())).unwrap_or(Quantity::ZERO)
            };
            let mut u = Usage::new();
            for what in ["requests", "limits"] {
                for res in ["cpu", "memory"] {
                    let sum = spec
                        .containers
                        .iter()
                        .fold(Quantity::ZERO, |a, c| a.checked_add(get(c, what, res)).unwrap());
                    let init = spec
                        .init_containers
                        .iter()
                        .flatten()
                        .map(|c| get(c, what, res))
                        .max()
                        .unwrap_or(Quantity::ZERO);
                    u.insert(format!("{what}.{res}"), sum.max(init));
                }
            }
            u.insert("pods".into(), Quantity::from_units(1));
            u
        }
        for profile in Profile::ALL {
            for s3 in [false, true] {
                let mut p = Platform::for_profile(profile, Provider::Aws);
                if s3 {
                    p.spec.backup.target.pvc = None;
                    p.spec.backup.target.s3 = Some(crate::platform::S3Target {
                        endpoint: "https://s3.example.com".into(),
                        bucket: "b".into(),
                        region: "eu-west-1".into(),
                        secret_name: "s3".into(),
                        cidr: None,
                    });
                }
                let r = crate::render::render(&p);
                let mut peak: BTreeMap<String, Usage> = BTreeMap::new();
                let mut account = |ns: &str, spec: &PodSpec, copies: i128| {
                    let u = peak.entry(ns.to_string()).or_default();
                    for (k, v) in pod_usage(spec) {
                        add(u, &k, v.checked_mul(copies).unwrap());
                    }
                };
                let hpa_max = |name: &str| -> Option<i32> {
                    r.typed::<HorizontalPodAutoscaler>()
                        .into_iter()
                        .find(|h| h.spec.as_ref().unwrap().scale_target_ref.name == name)
                        .map(|h| h.spec.unwrap().max_replicas)
                };
                for d in r.typed::<Deployment>() {
                    let name = d.metadata.name.clone().unwrap();
                    let ns = d.metadata.namespace.clone().unwrap();
                    let s = d.spec.unwrap();
                    let replicas = hpa_max(&name).or(s.replicas).unwrap_or(1);
                    let surge = i32::from(s.strategy.and_then(|st| st.type_).as_deref() != Some("Recreate"));
                    account(&ns, &s.template.spec.unwrap(), (replicas + surge) as i128);
                }
                for st in r.typed::<StatefulSet>() {
                    let ns = st.metadata.namespace.clone().unwrap();
                    let s = st.spec.unwrap();
                    account(&ns, &s.template.spec.unwrap(), s.replicas.unwrap_or(1) as i128);
                }
                for c in r.typed::<CronJob>() {
                    let ns = c.metadata.namespace.clone().unwrap();
                    account(&ns, &c.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap(), 1);
                }
                for j in r.typed::<Job>() {
                    let ns = j.metadata.namespace.clone().unwrap();
                    account(&ns, &j.spec.unwrap().template.spec.unwrap(), 1);
                }
                for (ns, usage) in &peak {
                    let claims = r
                        .of_kind("PersistentVolumeClaim")
                        .filter(|m| m.namespace.as_deref() == Some(ns))
                        .count()
                        + r.typed::<StatefulSet>()
                            .iter()
                            .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
                            .map(|s| {
                                let spec = s.spec.as_ref().unwrap();
                                spec.volume_claim_templates.as_ref().map_or(0, |v| v.len())
                                    * spec.replicas.unwrap_or(1) as usize
                            })
                            .sum::<usize>();
                    for quota in r
                        .typed::<ResourceQuota>()
                        .into_iter()
                        .filter(|q| q.metadata.namespace.as_deref() == Some(ns))
                    {
                        for (k, hard) in quota.spec.unwrap().hard.unwrap_or_default() {
                            let hard = Quantity::parse(&hard.0).unwrap();
                            let used = match k.as_str() {
                                "persistentvolumeclaims" => Some(Quantity::from_units(claims as i128)),
                                _ => usage.get(&k).copied(),
                            };
                            if let Some(used) = used {
                                assert!(
                                    used <= hard,
                                    "{profile:?} s3={s3} {ns}: {k} peak {used} > quota {hard}"
                                );
                            }
                        }
                    }
                    for lr in r
                        .typed::<LimitRange>()
                        .into_iter()
                        .filter(|l| l.metadata.namespace.as_deref() == Some(ns))
                    {
                        for item in lr.spec.unwrap().limits.into_iter().filter(|i| i.type_ == "Container") {
                            for (res, max) in item.max.unwrap_or_default() {
                                let max = Quantity::parse(&max.0).unwrap();
                                for m in r.manifests.iter().filter(|m| m.namespace.as_deref() == Some(ns)) {
                                    for c in containers_of(&m.value) {
                                        if let Some(l) = c["resources"]["limits"][&res].as_str() {
                                            let l = Quantity::parse(l).unwrap();
                                            assert!(
                                                l <= max,
                                                "{ns}/{}: {res} limit {l} > LimitRange max {max}",
                                                m.name
                                            );
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every container (init included) of a workload, CronJob or Job, as JSON.
    fn containers_of(v: &serde_json::Value) -> Vec<serde_json::Value> {
        let pod = if v["kind"] == "CronJob" {
            &v["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        } else {
            &v["spec"]["template"]["spec"]
        };
        ["containers", "initContainers"]
            .iter()
            .flat_map(|k| pod[*k].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// The objects these four modules add, in a full render of each profile.
    fn ours(r: &Rendered) -> Vec<&crate::render::Manifest> {
        let kinds = [
            "ServiceAccount",
            "PersistentVolumeClaim",
            "ConfigMap",
            "Service",
            "Deployment",
            "StatefulSet",
            "CronJob",
            "Job",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "PrometheusRule",
        ];
        r.manifests.iter().filter(|m| kinds.contains(&m.kind.as_str())).collect()
    }

    #[test]
    fn full_render_is_deterministic_and_has_no_duplicates() {
        for profile in Profile::ALL {
            let p = Platform::for_profile(profile, Provider::Gcp);
            let (a, b) = (crate::render::render(&p), crate::render::render(&p));
            assert_eq!(crate::output::to_stream(&a), crate::output::to_stream(&b));
            assert_eq!(a.files, b.files);
            let mut seen = std::collections::BTreeSet::new();
            for m in &a.manifests {
                assert!(
                    seen.insert((m.api_version.clone(), m.kind.clone(), m.namespace.clone(), m.name.clone())),
                    "duplicate {}",
                    m.id()
                );
            }
        }
    }

    /// k8s.io/apimachinery/pkg/util/validation: IsDNS1123Subdomain for names,
    /// IsValidLabelValue for label values; pkg/apis/batch/validation: a CronJob name leaves
    /// room for the 11-character suffix of its Jobs (52 characters at most).
    #[test]
    fn names_and_labels_are_valid() {
        for profile in Profile::ALL {
            let r = crate::render::render(&Platform::for_profile(profile, Provider::Proxmox));
            for m in ours(&r) {
                assert!(autolabs_k8s::names::dns1123_subdomain(&m.name).is_empty(), "{}", m.id());
                if m.kind == "Service" {
                    assert!(autolabs_k8s::names::dns1123_label(&m.name).is_empty(), "{}", m.id());
                }
                if m.kind == "CronJob" {
                    assert!(m.name.len() <= 52, "{}", m.id());
                }
                for (k, v) in m.value["metadata"]["labels"].as_object().into_iter().flatten() {
                    assert!(autolabs_k8s::names::qualified_name(k).is_empty(), "{}: label key {k}", m.id());
                    assert!(
                        autolabs_k8s::names::label_value(v.as_str().unwrap()).is_empty(),
                        "{}: {k}={v}",
                        m.id()
                    );
                }
            }
        }
    }

    /// Every Service selects pods of ours and its named targetPorts exist on them
    /// (k8s.io/kubernetes/pkg/api/v1/pod FindPort resolves a name against container ports).
    #[test]
    fn services_select_pods_with_their_ports() {
        let r = crate::render::render(&Platform::for_profile(Profile::Production, Provider::Proxmox));
        let pods = templates(&r);
        for svc in r.typed::<Service>() {
            let id =
                format!("{}/{}", svc.metadata.namespace.clone().unwrap(), svc.metadata.name.clone().unwrap());
            let spec = svc.spec.unwrap();
            let Some(sel) = spec.selector else { continue };
            let selector = autolabs_k8s::Selector::from_labels(sel);
            let matching: Vec<&PodTemplateSpec> = pods
                .iter()
                .filter(|(_, t)| selector.matches(&t.metadata.clone().unwrap().labels.unwrap_or_default()))
                .map(|(_, t)| t)
                .collect();
            if matching.is_empty() && !capacity::COMPONENTS.iter().any(|c| c.rendered && id.ends_with(c.app))
            {
                continue; // a Service of another module for pods we do not render
            }
            assert!(!matching.is_empty(), "{id} selects no pod");
            for port in spec.ports.unwrap_or_default() {
                if let Some(IntOrString::String(name)) = &port.target_port {
                    let found = matching.iter().all(|t| {
                        t.spec
                            .as_ref()
                            .unwrap()
                            .containers
                            .iter()
                            .flat_map(|c| c.ports.iter().flatten())
                            .any(|p| p.name.as_deref() == Some(name))
                    });
                    assert!(found, "{id}: targetPort {name} not on its pods");
                }
            }
        }
    }
}
