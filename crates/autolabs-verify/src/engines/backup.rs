//! Backup and restore: does every stateful workload have a backup that lands on real storage,
//! on a schedule, with retention, and a way back?
//!
//! The model:
//! - A **stateful workload** is a StatefulSet, or a Deployment whose pod template mounts a
//!   PersistentVolumeClaim. A workload annotated `autolabs.io/backup: none` is skipped on
//!   purpose (info, with `autolabs.io/backup-reason` when given).
//! - A CronJob **targets** a workload (same namespace) when any of these holds:
//!   1. its metadata annotation `autolabs.io/backup-for` lists the workload's name;
//!   2. an env value, command or argument names the workload's host: the name of a Service
//!      in the namespace whose selector matches the workload's pods (or the StatefulSet's
//!      `serviceName`), as a bare env value or argument, as `svc.ns[.svc[.cluster.local]]`,
//!      as `pod.svc[.ns…]`, as a URL host (`postgres://u@svc:5432/db`) or after `-h`/`--host`;
//!   3. an argument is `kind/name` of the workload (`statefulset/postgres`);
//!   4. a label selector argument (`-l k=v`, `--selector=k=v`) matches the workload's pods.
//! - A **backup** CronJob is one of those that writes to real storage (below) or looks like
//!   a backup (a dump or snapshot tool, or `backup`/`dump`/`snapshot` in its name).
//! - **Real storage** is a mounted persistent volume (PVC, NFS, iSCSI, CephFS, RBD, cloud
//!   disks; `hostPath` counts but is warned about: it dies with its node), or an object
//!   store named by an env value or argument (an `s3://`/`gs://` URL, `--endpoint-url`, or an
//!   `http(s)://` value of an env var whose name says ENDPOINT, S3, MINIO or BUCKET). An
//!   `emptyDir` is scratch space, not storage.
//! - **Retention**: an env var named `*RETENTION*`, `*KEEP*` or `*MAX_AGE*`, the annotation
//!   `autolabs.io/retention`, or a pruning argument (`-mtime +N … -delete`, `--keep-*`,
//!   `--retention*`, `--max-age`).
//! - A **write path** is the value of an env var whose name says BACKUP, DUMP, SNAPSHOT,
//!   OUTPUT, DEST, TARGET or ARCHIVE or ends in `_DIR`, or the path after `>`, `>>`, `tee`,
//!   `-f`, `--file`, `-o`, `--output`, `--dest`, `snapshot save` in a command (with `$VAR`
//!   and `${VAR}` resolved from the container's literal env). A write path under no volume
//!   mount of its container lands in the container's own filesystem: flagged. A path whose
//!   file name is computed (`/backup/db-$(date +%F).gz`) is judged by its known directory.
//! - A backup container that runs as root (`runAsUser: 0`), or may (neither `runAsNonRoot`
//!   nor `runAsUser`: the image decides, and the database images run as root), is warned
//!   about; etcd snapshots are exempt (kubeadm's etcd keys are root-only).
//!   Variables its command uses that nothing sets are the hygiene engine's `unset-variable`.
//! - A **restore template** is a Job in the namespace annotated `autolabs.io/restore-for:
//!   <workload>`, or a suspended Job named `*-restore` that is `<workload>-restore` or
//!   targets the workload as above.
//! - **etcd**: a CronJob running `etcdctl … snapshot save` anywhere; required when the
//!   control plane is expected to be backed up ([`Options::control_plane_backup_expected`]).
//! - **VolumeSnapshotClass**: required when the CSI driver supports snapshots
//!   ([`Options::snapshots_supported`]), and its driver should be a StorageClass provisioner.
//! - The **RPO** of a schedule is the longest gap between two runs ([`longest_gap_minutes`]),
//!   reported as info.

use std::collections::BTreeMap;

use autolabs_k8s::Selector;
use k8s_openapi::api::core::v1::{Container, PodSpec, Volume};

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

const ENGINE: &str = "backup";
pub use autolabs_model::topology::{
    BACKUP_FOR, BACKUP_OPT_OUT, BACKUP_OPT_OUT_VALUE, BACKUP_REASON, RESTORE_FOR, RETENTION,
};

/// What the platform expects beyond per-workload backups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// An etcd snapshot CronJob must exist (the control plane is backed up).
    pub control_plane_backup_expected: bool,
    /// The CSI driver supports VolumeSnapshots, so a VolumeSnapshotClass must exist.
    pub snapshots_supported: bool,
}

/// Every finding about backups and restores in `set`.
pub fn check(set: &ObjectSet, opts: Options) -> Vec<Finding> {
    let mut out = Vec::new();
    let model = Model::of(set);
    for w in &model.workloads {
        check_workload(&model, w, &mut out);
    }
    // Every backup-like CronJob, matched or not, is checked once for its own soundness.
    for c in &model.cron_jobs {
        if c.looks_like_backup()
            || (c.job.storage().is_some() && model.workloads.iter().any(|w| c.job.targets(w)))
        {
            check_backup_job(c, &mut out);
        }
    }
    let etcd: Vec<&CronJobView> = model.cron_jobs.iter().filter(|c| c.job.is_etcd_snapshot()).collect();
    if opts.control_plane_backup_expected && etcd.is_empty() {
        out.push(Finding::new(
            ENGINE,
            "etcd-snapshot-missing",
            Severity::Error,
            "no CronJob takes etcd snapshots (`etcdctl snapshot save`): the cluster's own state (every object, \
             Secret and RBAC rule) cannot be restored",
        ));
    }
    check_snapshot_classes(set, opts, &mut out);
    out
}

fn check_workload(model: &Model, w: &Workload, out: &mut Vec<Finding>) {
    let annotations = w.obj.annotations();
    if annotations.get(BACKUP_OPT_OUT).is_some_and(|v| v == BACKUP_OPT_OUT_VALUE) {
        let why = annotations.get(BACKUP_REASON).map(|r| format!(": {r}")).unwrap_or_default();
        out.push(
            Finding::new(
                ENGINE,
                "not-backed-up-by-choice",
                Severity::Info,
                format!("{} is not backed up by choice{why}", w.id()),
            )
            .at(w.obj, "metadata.annotations"),
        );
        return;
    }
    let backups: Vec<&CronJobView> = model
        .cron_jobs
        .iter()
        .filter(|c| c.job.obj.namespace == w.obj.namespace && c.job.targets(w))
        .filter(|c| c.looks_like_backup() || c.job.storage().is_some())
        .collect();
    if backups.is_empty() {
        out.push(
            Finding::new(
                ENGINE,
                "no-backup",
                Severity::Error,
                format!(
                    "{} keeps data on a volume but no CronJob in its namespace backs it up (none names its host{}, \
                     `{}/{}`, its labels, or lists it in `{BACKUP_FOR}`); add one, or annotate the workload \
                     `{BACKUP_OPT_OUT}: none` with a `{BACKUP_REASON}`",
                    w.id(),
                    if w.hosts.is_empty() { String::new() } else { format!(" ({})", w.hosts.join(", ")) },
                    w.obj.kind.to_ascii_lowercase(),
                    w.obj.name,
                ),
            )
            .at(w.obj, ""),
        );
    } else if !backups.iter().any(|c| c.job.storage().is_some()) {
        let names = backups.iter().map(|c| c.job.obj.name.as_str()).collect::<Vec<_>>().join(", ");
        out.push(
            Finding::new(
                ENGINE,
                "backup-without-storage",
                Severity::Error,
                format!(
                    "{} is backed up by {names}, which mounts no persistent volume and names no object store: \
                     the backup vanishes with its pod",
                    w.id()
                ),
            )
            .at(w.obj, ""),
        );
    }
    if !model.jobs.iter().any(|j| j.obj.namespace == w.obj.namespace && j.restores(w)) {
        out.push(
            Finding::new(
                ENGINE,
                "no-restore",
                Severity::Error,
                format!(
                    "{} has no restore Job template: add a Job annotated `{RESTORE_FOR}: {}` or a suspended Job \
                     named `{}-restore` that reads the newest backup",
                    w.id(),
                    w.obj.name,
                    w.obj.name
                ),
            )
            .at(w.obj, ""),
        );
    }
}

fn check_backup_job(c: &CronJobView, out: &mut Vec<Finding>) {
    let obj = c.job.obj;
    match &c.schedule {
        None => out.push(
            Finding::new(
                ENGINE,
                "no-schedule",
                Severity::Error,
                format!("backup CronJob {} has no schedule", obj.id()),
            )
            .at(obj, "spec"),
        ),
        Some(s) => match longest_gap_minutes(s) {
            Err(e) => out.push(
                Finding::new(
                    ENGINE,
                    "bad-schedule",
                    Severity::Error,
                    format!(
                        "backup CronJob {} has schedule {s:?}, which is not a cron schedule: {e}",
                        obj.id()
                    ),
                )
                .at(obj, "spec.schedule"),
            ),
            Ok(None) => out.push(
                Finding::new(
                    ENGINE,
                    "never-runs",
                    Severity::Error,
                    format!(
                        "backup CronJob {} has schedule {s:?}, which runs less than twice in 8 years",
                        obj.id()
                    ),
                )
                .at(obj, "spec.schedule"),
            ),
            Ok(Some(gap)) => {
                let zone = match c.time_zone.as_deref() {
                    None | Some("UTC" | "Etc/UTC") => String::new(),
                    Some(z) => format!(" (in {z}; a daylight-saving change can stretch one gap by an hour)"),
                };
                out.push(
                    Finding::new(
                        ENGINE,
                        "rpo",
                        Severity::Info,
                        format!(
                            "{} runs {s:?}: at most {} between backups, so up to {} of writes can be lost (RPO){zone}",
                            obj.id(),
                            show_minutes(gap),
                            show_minutes(gap)
                        ),
                    )
                    .at(obj, "spec.schedule"),
                )
            }
        },
    }
    if c.suspended {
        out.push(
            Finding::new(
                ENGINE,
                "backup-suspended",
                Severity::Warning,
                format!("backup CronJob {} is suspended: no backup runs", obj.id()),
            )
            .at(obj, "spec.suspend"),
        );
    }
    if !c.has_retention() {
        out.push(
            Finding::new(
                ENGINE,
                "no-retention",
                Severity::Warning,
                format!(
                    "backup CronJob {} deletes no old backups (no RETENTION/KEEP env, `{RETENTION}` annotation or \
                     pruning argument): the target fills up and then every backup fails",
                    obj.id()
                ),
            )
            .at(obj, &c.job.spec_path),
        );
    }
    match c.job.storage() {
        Some(Storage::HostPath(path)) => out.push(
            Finding::new(
                ENGINE,
                "node-local-backup",
                Severity::Warning,
                format!(
                    "backup CronJob {} writes to hostPath {path}: the backups live on one node's disk and are lost \
                     with it; copy them off the node (object store or a PVC on network storage)",
                    obj.id()
                ),
            )
            .at(obj, &format!("{}.volumes", c.job.spec_path)),
        ),
        Some(_) => {}
        None if c.job.is_etcd_snapshot() => out.push(
            Finding::new(
                ENGINE,
                "backup-without-storage",
                Severity::Error,
                format!("etcd snapshot CronJob {} mounts no persistent volume and names no object store", obj.id()),
            )
            .at(obj, &c.job.spec_path),
        ),
        None => {}
    }
    for (container_index, init, container) in c.job.containers() {
        let list = if init { "initContainers" } else { "containers" };
        // etcd snapshots are exempt: kubeadm writes etcd's client keys root:root 0600.
        if let Some(why) = runs_as_root(&c.job.spec, container).filter(|_| !c.job.is_etcd_snapshot()) {
            out.push(
                Finding::new(
                    ENGINE,
                    "backup-runs-as-root",
                    Severity::Warning,
                    format!(
                        "backup CronJob {} container {:?} {why}: a dump tool needs no root, and as root a bug or a \
                         hostile dump file can write anywhere on its volumes; set runAsNonRoot: true and a runAsUser",
                        obj.id(),
                        container.name
                    ),
                )
                .at(obj, &format!("{}.{list}[{container_index}]", c.job.spec_path)),
            );
        }
        for (path, source) in write_paths(container) {
            if covered_by_mount(container, &path) {
                continue;
            }
            out.push(
                Finding::new(
                    ENGINE,
                    "write-path-without-volume",
                    Severity::Error,
                    format!(
                        "backup CronJob {} container {:?} writes to {path} ({source}) but no volume is mounted \
                         there: the file lands in the container's own filesystem and is gone when the pod ends",
                        obj.id(),
                        container.name
                    ),
                )
                .at(obj, &format!("{}.{list}[{container_index}]", c.job.spec_path)),
            );
        }
    }
}

/// Why a container runs (or may run) as root; `None` when it cannot.
// Container settings override the pod's: k8s.io/kubernetes/pkg/securitycontext/util.go
// DetermineEffectiveSecurityContext; the kubelet refuses root under runAsNonRoot
// (pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot).
fn runs_as_root(pod: &PodSpec, c: &Container) -> Option<String> {
    let container = c.security_context.as_ref();
    let pod_level = pod.security_context.as_ref();
    let run_as_user = container.and_then(|s| s.run_as_user).or_else(|| pod_level.and_then(|s| s.run_as_user));
    let run_as_non_root =
        container.and_then(|s| s.run_as_non_root).or_else(|| pod_level.and_then(|s| s.run_as_non_root));
    match (run_as_user, run_as_non_root) {
        (Some(0), _) => Some("runs as root (runAsUser: 0)".into()),
        (Some(_), _) | (None, Some(true)) => None,
        (None, _) => Some(format!(
            "may run as root: it sets neither runAsNonRoot nor runAsUser, so the image's USER decides ({} runs as \
             root unless told otherwise)",
            c.image.as_deref().unwrap_or("the image")
        )),
    }
}

fn check_snapshot_classes(set: &ObjectSet, opts: Options, out: &mut Vec<Finding>) {
    let classes: Vec<&Object> = set.of_kind("snapshot.storage.k8s.io", "VolumeSnapshotClass").collect();
    if opts.snapshots_supported && classes.is_empty() {
        out.push(Finding::new(
            ENGINE,
            "no-volume-snapshot-class",
            Severity::Warning,
            "the CSI driver supports snapshots but there is no VolumeSnapshotClass: volumes cannot be snapshotted \
             before risky changes (upgrades, restores)",
        ));
    }
    let provisioners: Vec<String> = set
        .of_kind("storage.k8s.io", "StorageClass")
        .filter_map(|o| o.value["provisioner"].as_str().map(str::to_string))
        .collect();
    if provisioners.is_empty() {
        return;
    }
    for c in classes {
        let driver = c.value["driver"].as_str().unwrap_or_default();
        if !provisioners.iter().any(|p| p == driver) {
            out.push(
                Finding::new(
                    ENGINE,
                    "snapshot-class-driver",
                    Severity::Warning,
                    format!(
                        "VolumeSnapshotClass {} uses driver {driver:?}, which provisions none of the StorageClasses \
                         ({}): it can snapshot none of their volumes",
                        c.name,
                        provisioners.join(", ")
                    ),
                )
                .at(c, "driver"),
            );
        }
    }
}

/// The ordered steps to restore the platform in `set` from its backups: stop writers, etcd
/// first (when it is backed up), then each database from its newest dump, then restart.
pub fn restore_plan(set: &ObjectSet) -> Vec<String> {
    let model = Model::of(set);
    let mut steps = Vec::new();
    let stateful_ids: Vec<String> = model.workloads.iter().map(Workload::id).collect();
    let writers: Vec<String> = set
        .objects
        .iter()
        .filter(|o| matches!((o.group(), o.kind.as_str()), ("apps", "Deployment" | "StatefulSet")))
        .filter(|o| o.namespace.as_deref() != Some("kube-system"))
        .filter(|o| !stateful_ids.contains(&o.id()))
        .map(|o| {
            let ns = o.namespace.as_deref().unwrap_or("default");
            let was = match super::deprecations::replicas_of(set, o) {
                (_, Some(hpa)) => format!(
                    "HorizontalPodAutoscaler {hpa} owns its replicas: `kubectl -n {ns} delete hpa {hpa}` first; apply \
                     re-creates it"
                ),
                (replicas, None) => format!("was {replicas}"),
            };
            format!("kubectl -n {ns} scale {} {} --replicas=0 ({was})", o.kind.to_ascii_lowercase(), o.name)
        })
        .collect();
    let backups: Vec<&CronJobView> = model.cron_jobs.iter().filter(|c| c.looks_like_backup()).collect();
    let mut stop = String::from("Stop writers, so nothing changes the data while it is restored:");
    if writers.is_empty() {
        stop.push_str(" no other Deployment or StatefulSet writes in these manifests;");
    }
    for w in &writers {
        stop.push_str(&format!(" {w};"));
    }
    for c in &backups {
        let ns = c.job.obj.namespace.as_deref().unwrap_or("default");
        stop.push_str(&format!(
            " kubectl -n {ns} patch cronjob {} --type=merge -p '{{\"spec\":{{\"suspend\":true}}}}';",
            c.job.obj.name
        ));
    }
    stop.pop();
    stop.push('.');
    steps.push(stop);

    for c in model.cron_jobs.iter().filter(|c| c.job.is_etcd_snapshot()) {
        steps.push(format!(
            "Restore etcd first, and only when the cluster's own state is lost (otherwise skip this step): take the \
             newest etcd-snapshot-*.db.gz written by {} to {}, gunzip it; on every control-plane node move the static \
             pod manifests out of /etc/kubernetes/manifests, run `etcdutl snapshot restore <snapshot> --data-dir \
             /var/lib/etcd-restored` with that member's --name, --initial-cluster and --initial-advertise-peer-urls, \
             point etcd's hostPath at the new data dir and move the manifests back; wait for `kubectl get nodes`. The snapshot brings back the replicas and \
             CronJobs it recorded: repeat step 1 before restoring the databases.",
            c.job.obj.id(),
            c.job.storage().map(|s| s.describe()).unwrap_or_else(|| "(no storage found)".into()),
        ));
    }

    for w in &model.workloads {
        let ns = w.obj.namespace.as_deref().unwrap_or("default");
        let annotations = w.obj.annotations();
        if annotations.get(BACKUP_OPT_OUT).is_some_and(|v| v == BACKUP_OPT_OUT_VALUE) {
            let why = annotations.get(BACKUP_REASON).map(|r| format!(" ({r})")).unwrap_or_default();
            steps.push(format!(
                "{}: not backed up by choice{why}; it restarts from its own volume, or empty if that is lost.",
                w.id()
            ));
            continue;
        }
        let source = model
            .cron_jobs
            .iter()
            .filter(|c| c.job.obj.namespace == w.obj.namespace && c.job.targets(w))
            .find_map(|c| {
                c.job.storage().map(|s| format!("written by {} to {}", c.job.obj.id(), s.describe()))
            })
            .unwrap_or_else(|| "no backup CronJob found".into());
        match model.jobs.iter().find(|j| j.obj.namespace == w.obj.namespace && j.restores(w)) {
            Some(job) => {
                let chooser = job
                    .config_map_choice()
                    .map(|cm| {
                        format!(
                            " (to restore an older dump instead of the newest, first `kubectl -n {ns} create configmap \
                             {cm} --from-literal=file=<dump file name>`)"
                        )
                    })
                    .unwrap_or_default();
                let start = if job.suspended {
                    format!(
                        "kubectl -n {ns} patch job {} --type=merge -p '{{\"spec\":{{\"suspend\":false}}}}'",
                        job.obj.name
                    )
                } else {
                    format!("kubectl -n {ns} replace --force -f <the Job {}'s manifest>", job.obj.name)
                };
                steps.push(format!(
                    "Restore {} from its newest backup ({source}){chooser}: {start}; then `kubectl -n {ns} wait \
                     --for=condition=complete job/{} --timeout=4h` and read `kubectl -n {ns} logs job/{}`.",
                    w.id(),
                    job.obj.name,
                    job.obj.name
                ));
            }
            None => steps.push(format!(
                "Restore {} by hand from its newest backup ({source}): there is no restore Job template.",
                w.id()
            )),
        }
    }

    let mut restart = String::from("Restart: ");
    if !writers.is_empty() {
        restart.push_str("scale the writers back to their replicas; ");
    }
    if !backups.is_empty() {
        restart.push_str("resume the backup CronJobs (suspend: false); ");
    }
    restart.push_str(
        "delete the restore Jobs that ran and run `autolabs apply` so fresh suspended templates are rendered; \
         then `autolabs verify` and `autolabs backup check`.",
    );
    steps.push(restart);
    steps
}

// ---------------------------------------------------------------------------------------
// The object model
// ---------------------------------------------------------------------------------------

struct Model<'a> {
    workloads: Vec<Workload<'a>>,
    cron_jobs: Vec<CronJobView<'a>>,
    jobs: Vec<JobView<'a>>,
}

impl<'a> Model<'a> {
    fn of(set: &'a ObjectSet) -> Self {
        let services: Vec<(&Object, BTreeMap<String, String>)> = set
            .of_kind("", "Service")
            .filter_map(|s| {
                let sel = s.value["spec"]["selector"].as_object()?;
                let labels: BTreeMap<String, String> =
                    sel.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
                (!labels.is_empty()).then_some((s, labels))
            })
            .collect();
        let mut workloads = Vec::new();
        for o in &set.objects {
            let kind = match (o.group(), o.kind.as_str()) {
                ("apps", k @ ("StatefulSet" | "Deployment")) => k,
                _ => continue,
            };
            let Some(t) = o.pod_template() else { continue };
            let has_pvc = t.spec.volumes.iter().flatten().any(|v| v.persistent_volume_claim.is_some());
            if kind == "Deployment" && !has_pvc {
                continue;
            }
            let pod_labels = t.meta.labels.clone().unwrap_or_default();
            let mut hosts: Vec<String> = services
                .iter()
                .filter(|(s, sel)| {
                    s.namespace == o.namespace && Selector::from_labels(sel.clone()).matches(&pod_labels)
                })
                .map(|(s, _)| s.name.clone())
                .collect();
            if let Some(svc) = o.value["spec"]["serviceName"].as_str().filter(|s| !s.is_empty()) {
                hosts.push(svc.to_string());
            }
            hosts.sort();
            hosts.dedup();
            workloads.push(Workload { obj: o, pod_labels, hosts });
        }
        let mut cron_jobs = Vec::new();
        let mut jobs = Vec::new();
        for o in &set.objects {
            match (o.group(), o.kind.as_str()) {
                ("batch", "CronJob") => {
                    let Some(job) = JobView::of(o) else { continue };
                    let spec = &o.value["spec"];
                    cron_jobs.push(CronJobView {
                        schedule: spec["schedule"]
                            .as_str()
                            .filter(|s| !s.trim().is_empty())
                            .map(str::to_string),
                        time_zone: spec["timeZone"].as_str().map(str::to_string),
                        suspended: spec["suspend"].as_bool().unwrap_or(false),
                        job,
                    });
                }
                ("batch", "Job") => jobs.extend(JobView::of(o)),
                _ => {}
            }
        }
        Model { workloads, cron_jobs, jobs }
    }
}

/// A stateful workload.
struct Workload<'a> {
    obj: &'a Object,
    pod_labels: BTreeMap<String, String>,
    /// Services (in its namespace) that reach its pods: how clients name its host.
    hosts: Vec<String>,
}

impl Workload<'_> {
    fn id(&self) -> String {
        self.obj.id()
    }
}

/// Where a job's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Storage {
    /// A mounted persistent volume: (volume name, source kind, claim name when a PVC).
    Volume(String, &'static str, Option<String>),
    HostPath(String),
    ObjectStore(String),
}

impl Storage {
    fn describe(&self) -> String {
        match self {
            Storage::Volume(_, _, Some(claim)) => format!("PVC {claim}"),
            Storage::Volume(name, kind, None) => format!("{kind} volume {name}"),
            Storage::HostPath(p) => format!("hostPath {p} on the node that ran it"),
            Storage::ObjectStore(s) => format!("object store {s}"),
        }
    }
}

/// A Job or a CronJob's job template.
struct JobView<'a> {
    obj: &'a Object,
    spec: PodSpec,
    spec_path: String,
    suspended: bool,
}

struct CronJobView<'a> {
    job: JobView<'a>,
    schedule: Option<String>,
    time_zone: Option<String>,
    suspended: bool,
}

impl CronJobView<'_> {
    /// A dump or snapshot tool runs, or the name says backup.
    fn looks_like_backup(&self) -> bool {
        const TOOLS: [&str; 12] = [
            "pg_dump",
            "pg_dumpall",
            "pg_basebackup",
            "mysqldump",
            "mariadb-dump",
            "mongodump",
            "etcdctl",
            "restic",
            "velero",
            "--rdb",
            "export_definitions",
            "BGSAVE",
        ];
        let name = self.job.obj.name.to_ascii_lowercase();
        ["backup", "dump", "snapshot"].iter().any(|w| name.contains(w))
            || self.job.texts().iter().any(|t| TOOLS.iter().any(|tool| t.text.contains(tool)))
    }

    fn has_retention(&self) -> bool {
        if self.job.obj.annotations().contains_key(RETENTION) {
            return true;
        }
        let env_says = self.job.containers().iter().any(|(_, _, c)| {
            c.env.iter().flatten().any(|e| {
                let n = e.name.to_ascii_uppercase();
                (n.contains("RETENTION") || n.contains("KEEP") || n.contains("MAX_AGE"))
                    && e.value.as_deref().is_some_and(|v| !v.is_empty())
            })
        });
        env_says
            || self.job.texts().iter().any(|t| {
                let s = &t.text;
                (s.contains("-mtime +") && s.contains("-delete"))
                    || s.contains("--keep-")
                    || s.contains("--retention")
                    || s.contains("--max-age")
            })
    }
}

/// One string a job's containers carry, and whether it is a whole value (an env value or a
/// single command/arg element) rather than part of a script.
struct Text {
    text: String,
    whole: bool,
}

impl<'a> JobView<'a> {
    fn of(obj: &'a Object) -> Option<Self> {
        let t = obj.pod_template()?;
        let suspended =
            if obj.kind == "Job" { obj.value["spec"]["suspend"].as_bool().unwrap_or(false) } else { false };
        Some(JobView { obj, spec: t.spec, spec_path: t.spec_path, suspended })
    }

    /// (index in its list, is an init container, container).
    fn containers(&self) -> Vec<(usize, bool, &Container)> {
        let init = self.spec.init_containers.iter().flatten().enumerate().map(|(i, c)| (i, true, c));
        init.chain(self.spec.containers.iter().enumerate().map(|(i, c)| (i, false, c))).collect()
    }

    fn texts(&self) -> Vec<Text> {
        let mut out = Vec::new();
        for (_, _, c) in self.containers() {
            for s in c.command.iter().flatten().chain(c.args.iter().flatten()) {
                out.push(Text { text: s.clone(), whole: !s.contains(char::is_whitespace) });
            }
            for e in c.env.iter().flatten() {
                if let Some(v) = &e.value {
                    out.push(Text { text: v.clone(), whole: true });
                }
            }
        }
        out
    }

    fn is_etcd_snapshot(&self) -> bool {
        self.containers().iter().any(|(_, _, c)| {
            let all: Vec<&String> = c.command.iter().flatten().chain(c.args.iter().flatten()).collect();
            let joined = all.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            joined.contains("etcdctl") && joined.contains("snapshot") && joined.contains("save")
        })
    }

    /// Real storage the job writes to: an object store first (it outlives the cluster), then
    /// a mounted persistent volume, then a hostPath.
    fn storage(&self) -> Option<Storage> {
        if let Some(endpoint) = self.object_store() {
            return Some(Storage::ObjectStore(endpoint));
        }
        let mounted: Vec<&str> = self
            .containers()
            .iter()
            // Read-only mounts (credentials, certificates) are read from, not written to.
            .flat_map(|(_, _, c)| c.volume_mounts.iter().flatten().filter(|m| m.read_only != Some(true)))
            .map(|m| m.name.as_str())
            .collect();
        let volumes: Vec<&Volume> =
            self.spec.volumes.iter().flatten().filter(|v| mounted.contains(&v.name.as_str())).collect();
        volumes.iter().find_map(|v| persistent_kind(v)).or_else(|| {
            volumes.iter().find_map(|v| v.host_path.as_ref().map(|h| Storage::HostPath(h.path.clone())))
        })
    }

    fn object_store(&self) -> Option<String> {
        for (_, _, c) in self.containers() {
            for e in c.env.iter().flatten() {
                let Some(v) = e.value.as_deref() else { continue };
                let n = e.name.to_ascii_uppercase();
                // A bare *_URL may be a webhook; only names that say object store count.
                let named = ["ENDPOINT", "S3", "MINIO", "BUCKET"].iter().any(|k| n.contains(k));
                if v.starts_with("s3://") || v.starts_with("gs://") {
                    return Some(v.to_string());
                }
                if named && (v.starts_with("https://") || v.starts_with("http://")) {
                    let bucket = c
                        .env
                        .iter()
                        .flatten()
                        .find(|b| b.name.to_ascii_uppercase().contains("BUCKET"))
                        .and_then(|b| b.value.clone());
                    return Some(match bucket {
                        Some(b) => format!("{v} bucket {b}"),
                        None => v.to_string(),
                    });
                }
            }
            let words: Vec<&str> = c
                .command
                .iter()
                .flatten()
                .chain(c.args.iter().flatten())
                .flat_map(|s| s.split_whitespace())
                .collect();
            for (i, w) in words.iter().enumerate() {
                let w = w.trim_matches(|ch| ch == '"' || ch == '\'');
                if w.starts_with("s3://") || w.starts_with("gs://") {
                    return Some(w.to_string());
                }
                if let Some(url) = w.strip_prefix("--endpoint-url=") {
                    return Some(url.to_string());
                }
                if w == "--endpoint-url" {
                    return Some(
                        words.get(i + 1).map(|u| u.trim_matches('"').to_string()).unwrap_or_default(),
                    );
                }
            }
        }
        None
    }

    /// Whether this job names `w` (annotation, host, `kind/name`, or label selector).
    fn targets(&self, w: &Workload) -> bool {
        if self.obj.namespace != w.obj.namespace {
            return false;
        }
        let listed = self
            .obj
            .annotations()
            .get(BACKUP_FOR)
            .is_some_and(|v| v.split(',').any(|n| n.trim() == w.obj.name));
        listed || self.texts().iter().any(|t| names_workload(t, w))
    }

    /// Whether this Job is a restore template for `w`.
    fn restores(&self, w: &Workload) -> bool {
        if self.obj.kind != "Job" {
            return false;
        }
        if self
            .obj
            .annotations()
            .get(RESTORE_FOR)
            .is_some_and(|v| v.split(',').any(|n| n.trim() == w.obj.name))
        {
            return true;
        }
        self.suspended
            && self.obj.name.ends_with("-restore")
            && (self.obj.name == format!("{}-restore", w.obj.name) || self.targets(w))
    }

    /// The ConfigMap an env var reads the dump to restore from, when the job offers that.
    fn config_map_choice(&self) -> Option<String> {
        self.containers().iter().find_map(|(_, _, c)| {
            c.env
                .iter()
                .flatten()
                .find_map(|e| e.value_from.as_ref()?.config_map_key_ref.as_ref().map(|r| r.name.clone()))
        })
    }
}

fn persistent_kind(v: &Volume) -> Option<Storage> {
    let kind = if v.persistent_volume_claim.is_some() {
        "persistentVolumeClaim"
    } else if v.nfs.is_some() {
        "nfs"
    } else if v.iscsi.is_some() {
        "iscsi"
    } else if v.cephfs.is_some() {
        "cephfs"
    } else if v.rbd.is_some() {
        "rbd"
    } else if v.aws_elastic_block_store.is_some() {
        "awsElasticBlockStore"
    } else if v.gce_persistent_disk.is_some() {
        "gcePersistentDisk"
    } else if v.azure_disk.is_some() {
        "azureDisk"
    } else if v.azure_file.is_some() {
        "azureFile"
    } else {
        return None;
    };
    let claim = v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone());
    Some(Storage::Volume(v.name.clone(), kind, claim))
}

/// Whether one text names the workload's host, `kind/name`, or selects its pods.
fn names_workload(t: &Text, w: &Workload) -> bool {
    let ns = w.obj.namespace.as_deref().unwrap_or("default");
    let is_host = |host: &str| -> bool {
        let parts: Vec<&str> = host.trim_end_matches('.').split('.').collect();
        let in_ns = |i: usize| parts.get(i).is_none_or(|p| *p == ns);
        w.hosts.iter().any(|svc| {
            (parts[0] == svc.as_str() && parts.len() >= 2 && in_ns(1))
                || (parts.len() >= 2
                    && parts[1] == svc.as_str()
                    && parts[0].starts_with(&format!("{}-", w.obj.name))
                    && in_ns(2))
        })
    };
    let text = t.text.trim();
    if t.whole {
        if w.hosts.iter().any(|h| h == text) || is_host(text) {
            return true;
        }
        if let Some((kind, name)) = text.split_once('/') {
            let kind = kind.to_ascii_lowercase();
            if name == w.obj.name && matches!(kind.as_str(), "statefulset" | "sts" | "deployment" | "deploy")
            {
                return true;
            }
        }
    }
    // URL hosts: scheme://[user[:pass]@]host[:port]/...
    for (i, _) in text.match_indices("://") {
        let rest = &text[i + 3..];
        let authority = rest.split(['/', '?', '#', ' ', '"', '\'']).next().unwrap_or("");
        let host_port = authority.rsplit('@').next().unwrap_or("");
        let host = host_port.split(':').next().unwrap_or("");
        if w.hosts.iter().any(|h| h == host) || is_host(host) {
            return true;
        }
    }
    let words: Vec<&str> =
        text.split_whitespace().map(|s| s.trim_matches(|c| c == '"' || c == '\'')).collect();
    for (i, word) in words.iter().enumerate() {
        // Qualified host names inside scripts: svc.ns…, pod.svc.ns…
        let hostish: String = word
            .chars()
            .skip_while(|c| *c == '=')
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        if hostish.contains('.') && is_host(&hostish) {
            return true;
        }
        let next = words.get(i + 1).copied().unwrap_or("");
        let host_arg = match *word {
            "-h" | "--host" => Some(next),
            _ => word.strip_prefix("--host=").or_else(|| word.strip_prefix("-h=")),
        };
        if let Some(h) = host_arg
            && (w.hosts.iter().any(|s| s == h) || is_host(h))
        {
            return true;
        }
        let selector = match *word {
            "-l" | "--selector" => Some(next),
            _ => word.strip_prefix("--selector=").or_else(|| word.strip_prefix("-l=")),
        };
        if let Some(sel) = selector {
            let pairs: Option<Vec<(String, String)>> = sel
                .split(',')
                .map(|p| p.split_once('=').map(|(k, v)| (k.trim_end_matches('=').to_string(), v.to_string())))
                .collect();
            if let Some(pairs) = pairs.filter(|p| !p.is_empty())
                && Selector::from_labels(pairs).matches(&w.pod_labels)
            {
                return true;
            }
        }
    }
    false
}

/// Absolute paths a container writes to, each with where the path was found.
fn write_paths(c: &Container) -> Vec<(String, String)> {
    let env: BTreeMap<&str, &str> =
        c.env.iter().flatten().filter_map(|e| Some((e.name.as_str(), e.value.as_deref()?))).collect();
    let mut out = Vec::new();
    for (name, value) in &env {
        let n = name.to_ascii_uppercase();
        let writes = ["BACKUP", "DUMP", "SNAPSHOT", "OUTPUT", "DEST", "TARGET", "ARCHIVE"]
            .iter()
            .any(|k| n.contains(k))
            || n.ends_with("_DIR");
        if writes && value.starts_with('/') {
            out.push((value.to_string(), format!("env {name}")));
        }
    }
    let words: Vec<String> = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str).unwrap_or("");
        let prev = if i > 0 { words[i - 1].as_str() } else { "" };
        let candidate: Option<(&str, &str)> = if let Some(pos) = word.find('>') {
            // `>file`, `>>file`, `2>file`, `> file`; not `>&2`.
            let after = word[pos..].trim_start_matches('>');
            if after.starts_with('&') {
                None
            } else if after.is_empty() {
                Some((next, "a shell redirection"))
            } else {
                Some((after, "a shell redirection"))
            }
        } else if (matches!(word.as_str(), "-f" | "--file" | "-o" | "--output" | "--out" | "--dest" | "--destination")
            // `rm -f`, `[ -f x ]`, `tail -f`…: options that read or test, not write.
            && !matches!(prev, "rm" | "ln" | "cp" | "mv" | "tail" | "grep" | "test" | "[" | "!" | "[["))
            || word == "tee"
            || (word == "save" && prev == "snapshot")
        {
            Some((next, "an output argument"))
        } else {
            ["--file=", "--output=", "--out=", "--dest=", "--destination="]
                .iter()
                .find_map(|p| word.strip_prefix(p))
                .map(|v| (v, "an output argument"))
        };
        let Some((raw, source)) = candidate else { continue };
        let resolved = match resolve(raw, &env) {
            Some(path) => path,
            // `/backup/db-$(date +%F).gz`: the directory before the unknown part is still known.
            None => match known_directory(raw, &env) {
                Some(dir) => dir,
                None => continue,
            },
        };
        if resolved.starts_with('/') && !["/dev/", "/proc/", "/sys/"].iter().any(|p| resolved.starts_with(p))
        {
            out.push((resolved, source.to_string()));
        }
    }
    out
}

/// A command word with quotes removed and `$VAR`/`${VAR}` taken from the literal env; `None`
/// when a variable is not known there.
fn resolve(raw: &str, env: &BTreeMap<&str, &str>) -> Option<String> {
    let s = raw.trim_matches(|c| c == '"' || c == '\'' || c == ';');
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}')?;
            (&inner[..end], &inner[end + 1..])
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push_str(env.get(name)?);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The directory part of `raw` before its first variable or command substitution that
/// [`resolve`] cannot know (`/backup/db-$(date +%F).gz` → `/backup/`); `None` when nothing
/// but `/` is known.
fn known_directory(raw: &str, env: &BTreeMap<&str, &str>) -> Option<String> {
    let s = raw.trim_matches(|c| c == '"' || c == '\'' || c == ';');
    let known_part = &s[..s.find(['$', '`'])?];
    let dir = &known_part[..known_part.rfind('/')? + 1];
    let dir = resolve(dir, env)?;
    (dir.len() > 1 && dir.starts_with('/')).then_some(dir)
}

fn covered_by_mount(c: &Container, path: &str) -> bool {
    c.volume_mounts.iter().flatten().any(|m| {
        let mount = m.mount_path.trim_end_matches('/');
        mount.is_empty() || path == mount || path.starts_with(&format!("{mount}/"))
    })
}

// ---------------------------------------------------------------------------------------
// Cron: the longest gap between two runs
// ---------------------------------------------------------------------------------------

/// The longest time between two consecutive runs of a cron schedule, in minutes (UTC, no
/// daylight saving); `Ok(None)` when it runs less than twice in eight years
/// ([`autolabs_k8s::cron`], the parser the CronJob controller uses).
/// `0 2 * * *` → 1440 (24 h); `0 * * * *` → 60.
pub fn longest_gap_minutes(schedule: &str) -> Result<Option<u64>, String> {
    Ok(autolabs_k8s::cron::Schedule::parse(schedule)?.longest_gap_minutes())
}

/// `90 min`, `24 h`, `168 h (7 d)`, `2 h 30 min`.
pub fn show_minutes(minutes: u64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) if h >= 48 && h % 24 == 0 => format!("{h} h ({} d)", h / 24),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of(yaml: &str) -> ObjectSet {
        let mut set = ObjectSet::default();
        set.add_text(yaml, "test.yaml");
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        set
    }

    #[test]
    fn rpo_of_schedules() {
        // (schedule, longest gap in minutes, rule)
        let rows: [(&str, Option<u64>, &str); 14] = [
            ("0 2 * * *", Some(24 * 60), "daily"),
            ("0 * * * *", Some(60), "hourly"),
            ("*/15 * * * *", Some(15), "step over a star"),
            ("0 2,14 * * *", Some(12 * 60), "list"),
            ("0 1,2 * * *", Some(23 * 60), "uneven list: the long gap wins"),
            ("30 3 * * 1-5", Some(3 * 24 * 60), "weekdays: Friday → Monday"),
            ("0 0 * * 0", Some(7 * 24 * 60), "weekly"),
            ("0 0 1 * *", Some(31 * 24 * 60), "monthly: the longest month"),
            (
                "0 0 1,15 * 1",
                Some(7 * 24 * 60),
                "dom and dow both restricted: either matches (robfig dayMatches)",
            ),
            (
                "0 0 */10 * *",
                Some(10 * 24 * 60),
                "1, 11, 21, 31: 21st → 1st of a 30-day month is the longest",
            ),
            ("@daily", Some(24 * 60), "macro"),
            ("0 0 * * 7", Some(7 * 24 * 60), "7 is Sunday"),
            ("0 0 30 2 *", None, "never runs: February 30th"),
            (
                "5/20 * * * *",
                Some(20),
                "N/step runs N, N+step… to the end: 5, 25, 45, then 5 of the next hour",
            ),
        ];
        for (schedule, gap, rule) in rows {
            assert_eq!(longest_gap_minutes(schedule), Ok(gap), "{schedule}: {rule}");
        }
        assert!(longest_gap_minutes("0 25 * * *").is_err());
        assert!(longest_gap_minutes("* * *").is_err());
        assert_eq!(show_minutes(24 * 60), "24 h");
        assert_eq!(show_minutes(7 * 24 * 60), "168 h (7 d)");
        assert_eq!(show_minutes(150), "2 h 30 min");
    }

    const DB: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  serviceName: db-headless
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: data}
spec: {selector: {app: db}, ports: [{port: 5432}]}
";

    const RESTORE: &str = "apiVersion: batch/v1
kind: Job
metadata: {name: db-restore, namespace: data}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{name: r, image: postgres, env: [{name: PGHOST, value: db.data.svc}]}]
";

    fn cron(env: &str, mounts: &str, volumes: &str, command: &str) -> String {
        format!(
            "apiVersion: batch/v1
kind: CronJob
metadata: {{name: db-backup, namespace: data}}
spec:
  schedule: '0 2 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: dump
            image: postgres
            command: {command}
            env: {env}
            volumeMounts: {mounts}
          volumes: {volumes}
"
        )
    }

    fn rules(set: &ObjectSet) -> Vec<(String, Severity)> {
        let mut v: Vec<(String, Severity)> =
            check(set, Options::default()).into_iter().map(|f| (f.rule, f.severity)).collect();
        v.sort();
        v
    }

    fn errors(set: &ObjectSet) -> Vec<String> {
        rules(set).into_iter().filter(|(_, s)| *s == Severity::Error).map(|(r, _)| r).collect()
    }

    const GOOD_ENV: &str = "[{name: PGHOST, value: db.data.svc}, {name: BACKUP_DIR, value: /backups}, {name: RETENTION_DAYS, value: '7'}]";
    const PVC_MOUNT: &str = "[{name: b, mountPath: /backups}]";
    const PVC_VOLUME: &str = "[{name: b, persistentVolumeClaim: {claimName: backups}}]";
    const DUMP: &str = "[bash, -c, 'pg_dump | gzip > \"${BACKUP_DIR}/db.sql.gz\"']";

    /// One row per rule of the matching and checking model (module docs).
    #[test]
    fn backup_rules() {
        let rows: Vec<(&str, String, Vec<&str>)> = vec![
            ("a sound backup and restore: no error", format!("{DB}---\n{}---\n{RESTORE}", cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP)), vec![]),
            ("no CronJob at all", format!("{DB}---\n{RESTORE}"), vec!["no-backup"]),
            ("no restore template", format!("{DB}---\n{}", cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP)), vec!["no-restore"]),
            (
                "writes to a path with no volume mounted there",
                format!("{DB}---\n{}---\n{RESTORE}", cron(GOOD_ENV, "[{name: b, mountPath: /data}]", PVC_VOLUME, DUMP)),
                vec!["write-path-without-volume", "write-path-without-volume"],
            ),
            (
                "only an emptyDir: no real storage",
                format!("{DB}---\n{}---\n{RESTORE}", cron(GOOD_ENV, PVC_MOUNT, "[{name: b, emptyDir: {}}]", DUMP)),
                vec!["backup-without-storage"],
            ),
            (
                "emptyDir scratch plus an object store is real storage",
                format!(
                    "{DB}---\n{}---\n{RESTORE}",
                    cron(
                        "[{name: PGHOST, value: db.data.svc}, {name: BACKUP_DIR, value: /backups}, {name: S3_ENDPOINT, value: 'https://minio:9000'}, {name: RETENTION_DAYS, value: '7'}]",
                        PVC_MOUNT,
                        "[{name: b, emptyDir: {}}]",
                        DUMP
                    )
                ),
                vec![],
            ),
            (
                "a CronJob for another host does not count",
                format!("{DB}---\n{}---\n{RESTORE}", cron("[{name: PGHOST, value: other.data.svc}, {name: BACKUP_DIR, value: /backups}]", PVC_MOUNT, PVC_VOLUME, DUMP)),
                vec!["no-backup"],
            ),
            (
                "URL host names the Service",
                format!("{DB}---\n{}---\n{RESTORE}", cron("[{name: DATABASE_URL, value: 'postgres://u@db:5432/app'}, {name: KEEP_LAST, value: '7'}]", PVC_MOUNT, PVC_VOLUME, "[pg_dump, -f, /backups/x.sql]")),
                vec![],
            ),
            (
                "StatefulSet pod DNS (pod.headless) names it",
                format!("{DB}---\n{}---\n{RESTORE}", cron(GOOD_ENV.replace("db.data.svc", "db-0.db-headless.data").as_str(), PVC_MOUNT, PVC_VOLUME, DUMP)),
                vec![],
            ),
            (
                "a label selector argument names it",
                format!("{DB}---\n{}---\n{RESTORE}", cron("[{name: BACKUP_DIR, value: /backups}, {name: RETENTION_DAYS, value: '7'}]", PVC_MOUNT, PVC_VOLUME, "[sh, -c, 'kubectl exec -l app=db -- pg_dump > /backups/x.sql']")),
                vec![],
            ),
            (
                "opted out by annotation",
                DB.replace("metadata: {name: db, namespace: data}", "metadata: {name: db, namespace: data, annotations: {autolabs.io/backup: none, autolabs.io/backup-reason: cache}}"),
                vec![],
            ),
            (
                "a bad schedule",
                format!("{DB}---\n{}---\n{RESTORE}", cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP).replace("'0 2 * * *'", "'0 2 * *'")),
                vec!["bad-schedule"],
            ),
            (
                "a Deployment without a PVC is not stateful",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: data}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}], volumes: [{name: t, emptyDir: {}}]}\n".to_string(),
                vec![],
            ),
            (
                "a Deployment with a PVC is stateful",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: data}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}], volumes: [{name: t, persistentVolumeClaim: {claimName: web}}]}\n".to_string(),
                vec!["no-backup", "no-restore"],
            ),
            (
                "restore template by annotation",
                format!("{DB}---\n{}---\n{}", cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP), RESTORE.replace("name: db-restore, namespace: data", "name: recover, namespace: data, annotations: {autolabs.io/restore-for: db}").replace("suspend: true", "suspend: false")),
                vec![],
            ),
            (
                "a Job named *-restore that is not suspended is not a template",
                format!("{DB}---\n{}---\n{}", cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP), RESTORE.replace("suspend: true", "suspend: false")),
                vec!["no-restore"],
            ),
        ];
        for (rule, yaml, expected) in rows {
            let set = set_of(&yaml);
            let mut expected: Vec<String> = expected.into_iter().map(str::to_string).collect();
            expected.sort();
            assert_eq!(errors(&set), expected, "{rule}: {:#?}", check(&set, Options::default()));
        }
    }

    #[test]
    fn warnings_and_infos() {
        let no_retention = format!(
            "{DB}---\n{}---\n{RESTORE}",
            cron(
                "[{name: PGHOST, value: db.data.svc}, {name: BACKUP_DIR, value: /backups}]",
                PVC_MOUNT,
                PVC_VOLUME,
                DUMP
            )
        );
        let r = rules(&set_of(&no_retention));
        assert!(r.contains(&("no-retention".into(), Severity::Warning)), "{r:?}");
        let findings = check(
            &set_of(&format!("{DB}---\n{}---\n{RESTORE}", cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP))),
            Options::default(),
        );
        let rpo = findings.iter().find(|f| f.rule == "rpo").unwrap();
        assert!(rpo.message.contains("at most 24 h between backups"), "{}", rpo.message);
        let host_path = format!(
            "{DB}---\n{}---\n{RESTORE}",
            cron(GOOD_ENV, PVC_MOUNT, "[{name: b, hostPath: {path: /var/backups}}]", DUMP)
        );
        assert!(rules(&set_of(&host_path)).contains(&("node-local-backup".into(), Severity::Warning)));
    }

    #[test]
    fn etcd_and_snapshot_class_flags() {
        let etcd = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: etcd-snapshot, namespace: kube-system}\nspec:\n  schedule: '0 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: s\n            image: etcd\n            command: [etcdctl, snapshot, save, /backup/s.db]\n            env: [{name: RETENTION_DAYS, value: '7'}]\n            volumeMounts: [{name: b, mountPath: /backup}]\n          volumes: [{name: b, persistentVolumeClaim: {claimName: etcd-backups}}]\n";
        let expect_all = Options { control_plane_backup_expected: true, snapshots_supported: true };
        let empty = set_of("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
        let got: Vec<String> = check(&empty, expect_all).into_iter().map(|f| f.rule).collect();
        assert_eq!(got, ["etcd-snapshot-missing", "no-volume-snapshot-class"]);
        assert!(check(&empty, Options::default()).is_empty());
        let with = set_of(&format!(
            "{etcd}---\napiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {{name: s}}\ndriver: ebs.csi.aws.com\ndeletionPolicy: Retain\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: gp3}}\nprovisioner: ebs.csi.aws.com\n"
        ));
        let got: Vec<String> = check(&with, expect_all).into_iter().map(|f| f.rule).collect();
        assert_eq!(got, ["rpo"], "an hourly etcd snapshot on a PVC, a matching snapshot class");
        let wrong_driver = set_of(
            "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {name: s}\ndriver: other\ndeletionPolicy: Retain\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp3}\nprovisioner: ebs.csi.aws.com\n",
        );
        let got: Vec<String> = check(&wrong_driver, Options::default()).into_iter().map(|f| f.rule).collect();
        assert_eq!(got, ["snapshot-class-driver"]);
    }

    #[test]
    fn restore_plan_orders_the_steps() {
        let etcd = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: etcd-snapshot, namespace: kube-system}\nspec:\n  schedule: '0 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [{name: s, image: etcd, command: [etcdctl, snapshot, save, /backup/s.db], volumeMounts: [{name: b, mountPath: /backup}]}]\n          volumes: [{name: b, hostPath: {path: /var/backups/etcd}}]\n";
        let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: app}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}]}\n";
        let set = set_of(&format!(
            "{web}---\n{etcd}---\n{DB}---\n{}---\n{RESTORE}",
            cron(GOOD_ENV, PVC_MOUNT, PVC_VOLUME, DUMP)
        ));
        let steps = restore_plan(&set);
        assert_eq!(steps.len(), 4, "{steps:#?}");
        assert!(
            steps[0].starts_with("Stop writers")
                && steps[0].contains("kubectl -n app scale deployment web --replicas=0 (was 2)")
        );
        assert!(steps[0].contains("patch cronjob db-backup"));
        assert!(
            steps[1].starts_with("Restore etcd first") && steps[1].contains("hostPath /var/backups/etcd")
        );
        assert!(
            steps[2].contains("data/StatefulSet/db") && steps[2].contains("patch job db-restore"),
            "{}",
            steps[2]
        );
        assert!(steps[2].contains("PVC backups"), "{}", steps[2]);
        assert!(steps[3].starts_with("Restart"));
    }
}
