//! Backups and the way back: the document's "critical question", answered as objects.
//!
//! - A pg_dump CronJob for each PostgreSQL instance (`postgres-backup` in `infrastructure`,
//!   `zitadel-postgres-backup` in `auth`); the pods carry `app: <that name>`, which is what
//!   the isolation flows admit to the database (and to the object store).
//! - An etcd snapshot CronJob in `kube-system` on a control-plane node (`etcdctl snapshot
//!   save`, then `etcdutl snapshot status` as verification).
//! - A restore Job template per database: a Job with `suspend: true`, so applying never
//!   runs it; its annotation says how to run it.
//!
//! Where dumps go follows `spec.backup.target`:
//! - `pvc`: a PVC named `backups` in each namespace; files are written under a temporary
//!   name, checked and renamed only after success, then `find -mtime +N -delete` prunes;
//! - `s3`: the dump is made into an `emptyDir` by an init container and uploaded by an
//!   `aws s3 cp --endpoint-url` container (an S3 object only appears once its upload has
//!   completed); retention deletes the objects whose timestamped key is older than N days.
//!
//! Dumps are plain SQL (`--clean --if-exists`), gzip-compressed, named
//! `<db>-YYYYMMDDTHHMMSSZ.sql.gz`, so the newest sorts last and restores replace objects.
//! Every pod in `infrastructure` and `auth` passes Pod Security `restricted`; the etcd job
//! runs as root in `kube-system` (it must read etcd's client key, which is root's 0600) with
//! every capability dropped.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapKeySelector, Container, EnvVar, EnvVarSource, HostPathVolumeSource, PersistentVolumeClaim,
    PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::workloads::{
    DATA_IMAGE_UID, POSTGRES_SECRET, POSTGRES_SECRET_KEYS, REQUIRED_SECRETS, ZITADEL_POSTGRES_SECRET,
    claim_spec, empty_dir, env, mount, object_meta, pod_labels, pvc_volume, resources,
    restricted_container_security, restricted_pod_security, secret_env, service_account,
};
use super::{Ctx, Rendered, typed};
use crate::platform::S3Target;
use crate::topology::{AUTH, BACKUP_PVC, INFRASTRUCTURE, KUBE_SYSTEM, PLATFORM_PRIORITY, app};

/// Annotations `autolabs backup check` reads: the workload a CronJob backs up, the workload
/// a Job restores, and how long backups are kept.
use crate::topology::{BACKUP_FOR, RESTORE_FOR, RETENTION};

/// The etcd snapshot CronJob (and its pods' `app` label), in `kube-system`.
pub(crate) const ETCD_SNAPSHOT: &str = "etcd-snapshot";
/// Where snapshots land on the control-plane node when the target is a PVC.
const ETCD_HOST_BACKUP_DIR: &str = "/var/backups/etcd";
/// kubeadm's etcd PKI: the CA and the `healthcheck-client` pair it creates for probes.
const ETCD_PKI_DIR: &str = "/etc/kubernetes/pki/etcd";

/// History kept by each CronJob (what the alert on failed backups looks at).
const SUCCESSFUL_JOBS_HISTORY: i32 = 3;
const FAILED_JOBS_HISTORY: i32 = 3;

/// Requests and limits of every backup and restore container: gzip is CPU-bound, the rest
/// is I/O. (millicores, MiB)
const BACKUP_RESOURCES: (i128, i128, i128, i128) = (100, 128, 1000, 512);

/// One database that gets dumped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatabaseBackup {
    pub namespace: &'static str,
    /// CronJob name and the pods' `app` label (the isolation flows use it).
    pub app: &'static str,
    /// The database Service the dump connects to.
    pub host: &'static str,
    /// The Secret with `POSTGRES_USER`, `POSTGRES_PASSWORD`, `POSTGRES_DB`.
    pub secret: &'static str,
    /// File name prefix of the dumps and the restore Job's name stem.
    pub dump_prefix: &'static str,
}

/// Both PostgreSQL instances.
pub(crate) const DATABASE_BACKUPS: [DatabaseBackup; 2] = [
    DatabaseBackup {
        namespace: INFRASTRUCTURE,
        app: app::POSTGRES_BACKUP,
        host: app::POSTGRES,
        secret: POSTGRES_SECRET,
        dump_prefix: app::POSTGRES,
    },
    DatabaseBackup {
        namespace: AUTH,
        app: app::ZITADEL_POSTGRES_BACKUP,
        host: app::ZITADEL_POSTGRES,
        secret: ZITADEL_POSTGRES_SECRET,
        dump_prefix: app::ZITADEL_POSTGRES,
    },
];

impl DatabaseBackup {
    fn restore_job(&self) -> String {
        format!("{}-restore", self.dump_prefix)
    }
}

/// pg_dump → gzip into a hidden partial file, check it, rename it, prune old dumps.
const DUMP_SCRIPT: &str = r#"set -euo pipefail
umask 077
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="${BACKUP_DIR}/${DUMP_PREFIX}-${stamp}.sql.gz"
partial="${BACKUP_DIR}/.${DUMP_PREFIX}-${stamp}.sql.gz.partial"
trap 'rm -f "$partial"' EXIT
pg_dump --host="$PGHOST" --port="$PGPORT" --username="$PGUSER" --dbname="$PGDATABASE" \
  --clean --if-exists --no-owner --no-privileges | gzip -6 > "$partial"
gzip -t "$partial"
mv "$partial" "$final"
trap - EXIT
echo "wrote $final ($(du -h "$final" | cut -f1))"
if [ "${PRUNE:-true}" = "true" ]; then
  find "$BACKUP_DIR" -maxdepth 1 -type f -name "${DUMP_PREFIX}-*.sql.gz" -mtime "+${RETENTION_DAYS}" -print -delete
  find "$BACKUP_DIR" -maxdepth 1 -type f -name ".${DUMP_PREFIX}-*.partial" -mtime +1 -print -delete
fi
"#;

/// Upload the one finished dump in /work, then delete objects older than the retention
/// (their key carries the timestamp, so no listing of dates is needed).
const S3_UPLOAD_SCRIPT: &str = r#"set -euo pipefail
shopt -s nullglob
files=(/work/"${DUMP_PREFIX}"-*"${DUMP_SUFFIX}")
if [ "${#files[@]}" -ne 1 ]; then echo "expected one finished dump in /work, found ${#files[@]}" >&2; exit 1; fi
file="${files[0]}"
name="$(basename "$file")"
aws --endpoint-url "$S3_ENDPOINT" s3 cp "$file" "s3://${S3_BUCKET}/${S3_PREFIX}/${name}" --only-show-errors
echo "uploaded s3://${S3_BUCKET}/${S3_PREFIX}/${name}"
cutoff="${DUMP_PREFIX}-$(date -u -d "-${RETENTION_DAYS} days" +%Y%m%dT%H%M%SZ)"
aws --endpoint-url "$S3_ENDPOINT" s3 ls "s3://${S3_BUCKET}/${S3_PREFIX}/" | awk '{print $4}' \
  | { grep -E "^${DUMP_PREFIX}-[0-9]{8}T[0-9]{6}Z${DUMP_SUFFIX_RE}\$" || true; } | while read -r old; do
    if [[ "$old" < "$cutoff" ]]; then
      aws --endpoint-url "$S3_ENDPOINT" s3 rm "s3://${S3_BUCKET}/${S3_PREFIX}/${old}" --only-show-errors
      echo "deleted s3://${S3_BUCKET}/${S3_PREFIX}/${old}"
    fi
  done
"#;

/// Download the named (RESTORE_FILE) or newest dump into /work.
const S3_DOWNLOAD_SCRIPT: &str = r#"set -euo pipefail
if [ -n "${RESTORE_FILE:-}" ]; then
  name="$RESTORE_FILE"
else
  name="$(aws --endpoint-url "$S3_ENDPOINT" s3 ls "s3://${S3_BUCKET}/${S3_PREFIX}/" | awk '{print $4}' \
    | grep -E "^${DUMP_PREFIX}-[0-9]{8}T[0-9]{6}Z\.sql\.gz\$" | sort | tail -n 1 || true)"
fi
case "$name" in ""|*/*) echo "no dump to restore under s3://${S3_BUCKET}/${S3_PREFIX}/ (RESTORE_FILE=${RESTORE_FILE:-})" >&2; exit 1;; esac
aws --endpoint-url "$S3_ENDPOINT" s3 cp "s3://${S3_BUCKET}/${S3_PREFIX}/${name}" "/work/${name}" --only-show-errors
echo "downloaded ${name}"
"#;

/// Restore the named (RESTORE_FILE) or newest dump in BACKUP_DIR, in one transaction.
const RESTORE_SCRIPT: &str = r#"set -euo pipefail
if [ -n "${RESTORE_FILE:-}" ]; then
  case "$RESTORE_FILE" in */*) echo "RESTORE_FILE must be a file name, not a path" >&2; exit 1;; esac
  file="${BACKUP_DIR}/${RESTORE_FILE}"
else
  file="$(ls -1 "${BACKUP_DIR}"/"${DUMP_PREFIX}"-*.sql.gz 2>/dev/null | sort | tail -n 1 || true)"
fi
if [ -z "$file" ] || [ ! -f "$file" ]; then echo "no dump to restore in ${BACKUP_DIR} (RESTORE_FILE=${RESTORE_FILE:-})" >&2; exit 1; fi
gzip -t "$file"
echo "restoring $file into database $PGDATABASE on $PGHOST"
gunzip -c "$file" | psql --host="$PGHOST" --port="$PGPORT" --username="$PGUSER" --dbname="$PGDATABASE" \
  --set ON_ERROR_STOP=1 --single-transaction --quiet
echo "restore finished"
"#;

/// Rename the verified etcd snapshot to its final name, compressed, and prune.
const ETCD_STORE_SCRIPT: &str = r#"set -eu
umask 077
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="/backup/etcd-snapshot-${stamp}.db.gz"
gzip -c /backup/.etcd-snapshot.db.partial > "${final}.partial"
gzip -t "${final}.partial"
mv "${final}.partial" "$final"
rm -f /backup/.etcd-snapshot.db.partial
echo "wrote $final"
find /backup -maxdepth 1 -type f -name 'etcd-snapshot-*.db.gz' -mtime "+${RETENTION_DAYS}" -print -delete
"#;

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let target = &ctx.spec().backup.target;
    for db in DATABASE_BACKUPS {
        out.manifests.push(typed(service_account(ctx, db.app, db.namespace, db.app)));
        if let Some(pvc) = &target.pvc {
            let class = pvc.storage_class.clone().unwrap_or_else(|| ctx.storage_class());
            out.manifests.push(typed(PersistentVolumeClaim {
                metadata: object_meta(ctx, BACKUP_PVC, db.namespace, db.app, &[]),
                spec: Some(claim_spec(&pvc.size.to_string(), &class)),
                ..Default::default()
            }));
        }
        out.manifests.push(typed(dump_cron_job(ctx, &db, target.s3.as_ref())));
        out.manifests.push(typed(restore_job(ctx, &db, target.s3.as_ref())));
    }
    out.manifests.push(typed(service_account(ctx, ETCD_SNAPSHOT, KUBE_SYSTEM, ETCD_SNAPSHOT)));
    out.manifests.push(typed(etcd_cron_job(ctx, target.s3.as_ref())));
}

fn backup_resources() -> k8s_openapi::api::core::v1::ResourceRequirements {
    let (a, b, c, d) = BACKUP_RESOURCES;
    resources(a, b, c, d)
}

/// `bash -c SCRIPT` in a hardened container (the postgres and aws-cli images ship bash).
fn script_container(
    name: &str,
    image: &str,
    script: &str,
    env: Vec<EnvVar>,
    mounts: Vec<(&str, &str, bool)>,
) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["bash".into(), "-c".into(), script.into()]),
        env: Some(env),
        resources: Some(backup_resources()),
        security_context: Some(restricted_container_security(true)),
        volume_mounts: Some(mounts.into_iter().map(|(n, p, ro)| mount(n, p, ro)).collect()),
        ..Default::default()
    }
}

/// libpq's environment for one database, credentials from its Secret.
fn libpq_env(db: &DatabaseBackup) -> Vec<EnvVar> {
    vec![
        env("PGHOST", &format!("{}.{}.svc", db.host, db.namespace)),
        env("PGPORT", "5432"),
        secret_env("PGUSER", db.secret, "POSTGRES_USER"),
        secret_env("PGPASSWORD", db.secret, "POSTGRES_PASSWORD"),
        secret_env("PGDATABASE", db.secret, "POSTGRES_DB"),
        env("DUMP_PREFIX", db.dump_prefix),
    ]
}

/// The object store's environment: endpoint, bucket, a per-namespace prefix, credentials.
fn s3_env(ctx: &Ctx, s3: &S3Target, namespace: &str) -> Vec<EnvVar> {
    vec![
        env("S3_ENDPOINT", &s3.endpoint),
        env("S3_BUCKET", &s3.bucket),
        env("S3_PREFIX", &format!("{}/{namespace}", ctx.p.metadata.name)),
        env("AWS_DEFAULT_REGION", &s3.region),
        secret_env("AWS_ACCESS_KEY_ID", &s3.secret_name, "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", &s3.secret_name, "AWS_SECRET_ACCESS_KEY"),
        // No instance metadata lookups, and a writable HOME for the CLI's cache.
        env("AWS_EC2_METADATA_DISABLED", "true"),
        env("HOME", "/tmp"),
    ]
}

fn required_secrets(db: &DatabaseBackup, s3: Option<&S3Target>) -> String {
    let mut note = format!("{} (keys: {POSTGRES_SECRET_KEYS})", db.secret);
    if let Some(s3) = s3 {
        note.push_str(&format!("; {} (keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", s3.secret_name));
    }
    note
}

/// A backup or restore pod in a restricted namespace: postgres' UID (so files on the
/// backup volume belong to the same user as the database's), no token, never restarted in
/// place (the Job's backoffLimit retries with a fresh pod).
fn job_pod_spec(
    service_account: &str,
    init: Vec<Container>,
    main: Container,
    volumes: Vec<Volume>,
) -> PodSpec {
    PodSpec {
        service_account_name: Some(service_account.into()),
        automount_service_account_token: Some(false),
        priority_class_name: Some(PLATFORM_PRIORITY.into()),
        security_context: Some(restricted_pod_security(DATA_IMAGE_UID)),
        enable_service_links: Some(false),
        restart_policy: Some("Never".into()),
        init_containers: (!init.is_empty()).then_some(init),
        containers: vec![main],
        volumes: Some(volumes),
        ..Default::default()
    }
}

fn job_template_meta(ctx: &Ctx, app_name: &str, role: &str) -> ObjectMeta {
    let mut l = pod_labels(ctx, app_name, "backup");
    l.insert("autolabs.io/backup-role".into(), role.into());
    ObjectMeta { labels: Some(l), ..Default::default() }
}

fn dump_cron_job(ctx: &Ctx, db: &DatabaseBackup, s3: Option<&S3Target>) -> CronJob {
    let spec = ctx.spec();
    let postgres_image = &spec.images.postgres;
    let mut dump_env = libpq_env(db);
    dump_env.push(env("RETENTION_DAYS", &spec.backup.retention_days.to_string()));
    let (init, main, volumes, where_to) = match s3 {
        None => {
            dump_env.push(env("BACKUP_DIR", "/backups"));
            let main = script_container(
                "pg-dump",
                postgres_image,
                DUMP_SCRIPT,
                dump_env,
                vec![("backups", "/backups", false), ("tmp", "/tmp", false)],
            );
            (
                vec![],
                main,
                vec![pvc_volume("backups", BACKUP_PVC), empty_dir("tmp", "64Mi")],
                format!("PVC {BACKUP_PVC}"),
            )
        }
        Some(s3) => {
            dump_env.push(env("BACKUP_DIR", "/work"));
            // Retention happens in the bucket, not in the scratch volume.
            dump_env.push(env("PRUNE", "false"));
            let dump = script_container(
                "pg-dump",
                postgres_image,
                DUMP_SCRIPT,
                dump_env,
                vec![("work", "/work", false), ("tmp", "/tmp", false)],
            );
            let mut upload_env = s3_env(ctx, s3, db.namespace);
            upload_env.push(env("DUMP_PREFIX", db.dump_prefix));
            upload_env.push(env("DUMP_SUFFIX", ".sql.gz"));
            upload_env.push(env("DUMP_SUFFIX_RE", "\\.sql\\.gz"));
            upload_env.push(env("RETENTION_DAYS", &spec.backup.retention_days.to_string()));
            let upload = script_container(
                "upload",
                &spec.images.aws_cli,
                S3_UPLOAD_SCRIPT,
                upload_env,
                vec![("work", "/work", true), ("tmp", "/tmp", false)],
            );
            (
                vec![dump],
                upload,
                // The scratch volume holds one compressed dump; no size limit, as databases grow.
                vec![
                    Volume { name: "work".into(), empty_dir: Some(Default::default()), ..Default::default() },
                    empty_dir("tmp", "64Mi"),
                ],
                format!("s3://{}/{}/{}", s3.bucket, ctx.p.metadata.name, db.namespace),
            )
        }
    };
    let retention = format!("{}d", spec.backup.retention_days);
    let description = format!(
        "pg_dump of {host}.{ns} on schedule {sched} (UTC), gzip, to {where_to}; dumps older than {days} days are deleted by the job.",
        host = db.host,
        ns = db.namespace,
        sched = spec.backup.schedule,
        days = spec.backup.retention_days,
    );
    cron_job(
        object_meta(
            ctx,
            db.app,
            db.namespace,
            db.app,
            &[
                ("autolabs.io/description", &description),
                (REQUIRED_SECRETS, &required_secrets(db, s3)),
                // What `autolabs backup check` matches: the workload this job dumps, and how
                // long dumps are kept.
                (BACKUP_FOR, db.host),
                (RETENTION, &retention),
            ],
        ),
        &spec.backup.schedule,
        // A daily dump may start up to an hour late (controller downtime) and still run.
        3600,
        JobSpec {
            backoff_limit: Some(2),
            // k8s.io/kubernetes/pkg/controller/job/job_controller.go: pastActiveDeadline
            // fails the Job (and kills its pods) once this many seconds have passed.
            active_deadline_seconds: Some(3 * 3600),
            template: PodTemplateSpec {
                metadata: Some(job_template_meta(ctx, db.app, "dump")),
                spec: Some(job_pod_spec(db.app, init, main, volumes)),
            },
            ..Default::default()
        },
        job_template_meta(ctx, db.app, "dump"),
    )
}

/// A CronJob that never overlaps itself.
// k8s.io/kubernetes/pkg/controller/cronjob/cronjob_controllerv2.go: with
// concurrencyPolicy Forbid a run is skipped while the previous Job is active, and a run
// later than startingDeadlineSeconds is counted as missed instead of started.
fn cron_job(
    metadata: ObjectMeta,
    schedule: &str,
    starting_deadline: i64,
    job: JobSpec,
    job_meta: ObjectMeta,
) -> CronJob {
    CronJob {
        metadata,
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            // Schedules are read in UTC, whatever the controller manager's local zone.
            time_zone: Some("Etc/UTC".into()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(starting_deadline),
            successful_jobs_history_limit: Some(SUCCESSFUL_JOBS_HISTORY),
            failed_jobs_history_limit: Some(FAILED_JOBS_HISTORY),
            suspend: Some(false),
            job_template: JobTemplateSpec { metadata: Some(job_meta), spec: Some(job) },
        }),
        ..Default::default()
    }
}

/// The optional ConfigMap key that names one dump to restore instead of the newest.
fn restore_file_env(db: &DatabaseBackup) -> EnvVar {
    EnvVar {
        name: "RESTORE_FILE".into(),
        value: None,
        value_from: Some(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: db.restore_job(),
                key: "file".into(),
                optional: Some(true),
            }),
            ..Default::default()
        }),
    }
}

fn restore_job(ctx: &Ctx, db: &DatabaseBackup, s3: Option<&S3Target>) -> Job {
    let spec = ctx.spec();
    let name = db.restore_job();
    let mut restore_env = libpq_env(db);
    restore_env.push(restore_file_env(db));
    let (init, main, volumes) = match s3 {
        None => {
            restore_env.push(env("BACKUP_DIR", "/backups"));
            let main = script_container(
                "restore",
                &spec.images.postgres,
                RESTORE_SCRIPT,
                restore_env,
                vec![("backups", "/backups", true), ("tmp", "/tmp", false)],
            );
            (vec![], main, vec![pvc_volume("backups", BACKUP_PVC), empty_dir("tmp", "64Mi")])
        }
        Some(s3) => {
            // The downloaded dump is the only file in /work: restore "the newest" there.
            restore_env.retain(|e| e.name != "RESTORE_FILE");
            restore_env.push(env("BACKUP_DIR", "/work"));
            let mut download_env = s3_env(ctx, s3, db.namespace);
            download_env.push(env("DUMP_PREFIX", db.dump_prefix));
            download_env.push(restore_file_env(db));
            let download = script_container(
                "download",
                &spec.images.aws_cli,
                S3_DOWNLOAD_SCRIPT,
                download_env,
                vec![("work", "/work", false), ("tmp", "/tmp", false)],
            );
            let main = script_container(
                "restore",
                &spec.images.postgres,
                RESTORE_SCRIPT,
                restore_env,
                vec![("work", "/work", true), ("tmp", "/tmp", false)],
            );
            (
                vec![download],
                main,
                vec![
                    Volume { name: "work".into(), empty_dir: Some(Default::default()), ..Default::default() },
                    empty_dir("tmp", "64Mi"),
                ],
            )
        }
    };
    let how = format!(
        "Template: suspended, it never runs on apply. To restore {host}.{ns} from the newest dump: \
         kubectl -n {ns} patch job {name} --type=merge -p '{{\"spec\":{{\"suspend\":false}}}}' and follow \
         kubectl -n {ns} logs -f job/{name}. To restore a given dump first run \
         kubectl -n {ns} create configmap {name} --from-literal=file=<{prefix}-YYYYMMDDTHHMMSSZ.sql.gz>. \
         The dump replaces the objects it contains, in one transaction. Stop writers (scale the backend to 0) before, \
         do not run autolabs apply while it runs (it would suspend it again), and delete the Job afterwards so the next apply \
         renders a fresh template.",
        host = db.host,
        ns = db.namespace,
        prefix = db.dump_prefix,
    );
    let mut meta = object_meta(
        ctx,
        &name,
        db.namespace,
        db.app,
        &[
            ("autolabs.io/how-to-run", &how),
            (REQUIRED_SECRETS, &required_secrets(db, s3)),
            (RESTORE_FOR, db.host),
        ],
    );
    if let Some(l) = meta.labels.as_mut() {
        l.insert("autolabs.io/backup-role".into(), "restore".into());
    }
    Job {
        metadata: meta,
        spec: Some(JobSpec {
            // k8s.io/kubernetes/pkg/controller/job/job_controller.go: a suspended Job creates
            // no pods; unsuspending starts it (and its activeDeadlineSeconds timer).
            suspend: Some(true),
            // A failed restore is looked at by a human, not retried.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(4 * 3600),
            template: PodTemplateSpec {
                metadata: Some(job_template_meta(ctx, db.app, "restore")),
                spec: Some(job_pod_spec(db.app, init, main, volumes)),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// etcdctl/etcdutl run straight from the etcd image (distroless: no shell there), so the
/// snapshot is written and verified by exec-form init containers and only the final rename,
/// compression and pruning use a shell image.
fn etcd_cron_job(ctx: &Ctx, s3: Option<&S3Target>) -> CronJob {
    let spec = ctx.spec();
    let etcd_image = &spec.images.etcd;
    let tls = [
        "--endpoints=https://127.0.0.1:2379".to_string(),
        format!("--cacert={ETCD_PKI_DIR}/ca.crt"),
        format!("--cert={ETCD_PKI_DIR}/healthcheck-client.crt"),
        format!("--key={ETCD_PKI_DIR}/healthcheck-client.key"),
    ];
    let partial = "/backup/.etcd-snapshot.db.partial";
    let exec_container = |name: &str, command: Vec<String>| Container {
        name: name.into(),
        image: Some(etcd_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(command),
        resources: Some(backup_resources()),
        security_context: Some(root_container_security()),
        volume_mounts: Some(vec![mount("etcd-pki", ETCD_PKI_DIR, true), mount("backup", "/backup", false)]),
        ..Default::default()
    };
    let mut save = vec!["etcdctl".to_string()];
    save.extend(tls.iter().cloned());
    save.extend(["--command-timeout=5m".to_string(), "snapshot".into(), "save".into(), partial.into()]);
    let snapshot = exec_container("snapshot", save);
    // etcdutl reads the whole file and fails on a corrupt or truncated snapshot.
    let verify = exec_container(
        "verify",
        vec![
            "etcdutl".into(),
            "snapshot".into(),
            "status".into(),
            partial.into(),
            "--write-out=table".into(),
        ],
    );
    let retention = spec.backup.retention_days.to_string();
    let (main, backup_volume, where_to) = match s3 {
        None => {
            let mut store = script_container(
                "store",
                // A pinned Debian image with bash, gzip and find, already pulled for the databases.
                &spec.images.postgres,
                ETCD_STORE_SCRIPT,
                vec![env("RETENTION_DAYS", &retention)],
                vec![("backup", "/backup", false)],
            );
            store.security_context = Some(root_container_security());
            (
                store,
                Volume {
                    name: "backup".into(),
                    host_path: Some(HostPathVolumeSource {
                        path: ETCD_HOST_BACKUP_DIR.into(),
                        type_: Some("DirectoryOrCreate".into()),
                    }),
                    ..Default::default()
                },
                format!("{ETCD_HOST_BACKUP_DIR} on the control-plane node that ran the job"),
            )
        }
        Some(s3) => {
            let mut upload_env = s3_env(ctx, s3, KUBE_SYSTEM);
            upload_env.extend([
                env("DUMP_PREFIX", "etcd-snapshot"),
                env("DUMP_SUFFIX", ".db.gz"),
                env("DUMP_SUFFIX_RE", "\\.db\\.gz"),
                env("RETENTION_DAYS", &retention),
            ]);
            // Compress and name the snapshot like a dump, then reuse the upload script.
            let script = format!(
                "set -euo pipefail\numask 077\ngzip -c {partial} > \"/backup/etcd-snapshot-$(date -u +%Y%m%dT%H%M%SZ).db.gz\"\nrm -f {partial}\n{}",
                S3_UPLOAD_SCRIPT.replace("/work", "/backup")
            );
            let mut upload = script_container(
                "upload",
                &spec.images.aws_cli,
                &script,
                upload_env,
                vec![("backup", "/backup", false), ("tmp", "/tmp", false)],
            );
            upload.security_context = Some(root_container_security());
            (
                upload,
                Volume { name: "backup".into(), empty_dir: Some(Default::default()), ..Default::default() },
                format!("s3://{}/{}/{KUBE_SYSTEM}", s3.bucket, ctx.p.metadata.name),
            )
        }
    };
    let mut volumes = vec![
        Volume {
            name: "etcd-pki".into(),
            host_path: Some(HostPathVolumeSource {
                path: ETCD_PKI_DIR.into(),
                type_: Some("Directory".into()),
            }),
            ..Default::default()
        },
        backup_volume,
    ];
    if s3.is_some() {
        volumes.push(empty_dir("tmp", "64Mi"));
    }
    let pod = PodSpec {
        service_account_name: Some(ETCD_SNAPSHOT.into()),
        automount_service_account_token: Some(false),
        priority_class_name: Some(PLATFORM_PRIORITY.into()),
        // etcd listens on 127.0.0.1:2379 of the node.
        host_network: Some(true),
        dns_policy: Some("ClusterFirstWithHostNet".into()),
        node_selector: Some(BTreeMap::from([(
            "node-role.kubernetes.io/control-plane".to_string(),
            String::new(),
        )])),
        tolerations: Some(vec![Toleration {
            key: Some("node-role.kubernetes.io/control-plane".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }]),
        // Root, because kubeadm writes etcd's keys as root:root 0600; nothing else is granted.
        security_context: Some(PodSecurityContext {
            run_as_user: Some(0),
            run_as_group: Some(0),
            run_as_non_root: Some(false),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            ..Default::default()
        }),
        enable_service_links: Some(false),
        restart_policy: Some("Never".into()),
        init_containers: Some(vec![snapshot, verify]),
        containers: vec![main],
        volumes: Some(volumes),
        ..Default::default()
    };
    let description = format!(
        "etcd snapshot (etcdctl snapshot save, verified with etcdutl snapshot status) on schedule {} (UTC), gzip, to {where_to}; \
         snapshots older than {} days are deleted by the job. Restore: etcdutl snapshot restore on each control-plane node (see the kubeadm docs).",
        spec.backup.etcd_schedule, spec.backup.retention_days,
    );
    let retention_note = format!("{}d", spec.backup.retention_days);
    let mut annotations =
        vec![("autolabs.io/description", description.as_str()), (RETENTION, retention_note.as_str())];
    let secret_note;
    if let Some(s3) = s3 {
        secret_note =
            format!("{} (keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in kube-system", s3.secret_name);
        annotations.push((REQUIRED_SECRETS, &secret_note));
    }
    let template_meta = job_template_meta(ctx, ETCD_SNAPSHOT, "snapshot");
    // Hourly by default: a run more than 10 minutes late is skipped for the next one.
    let starting_deadline = 600;
    cron_job(
        object_meta(ctx, ETCD_SNAPSHOT, KUBE_SYSTEM, ETCD_SNAPSHOT, &annotations),
        &spec.backup.etcd_schedule,
        starting_deadline,
        JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds: Some(900),
            template: PodTemplateSpec { metadata: Some(template_meta.clone()), spec: Some(pod) },
            ..Default::default()
        },
        template_meta,
    )
}

/// Root without privileges: no escalation, no capabilities, read-only root filesystem.
fn root_container_security() -> k8s_openapi::api::core::v1::SecurityContext {
    let mut s = restricted_container_security(true);
    s.run_as_non_root = Some(false);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, Profile, Provider, PvcTarget};
    use crate::qty::Qty;

    fn s3_target() -> S3Target {
        S3Target {
            endpoint: "https://minio.example.com:9000".into(),
            bucket: "autolabs-backups".into(),
            region: "us-east-1".into(),
            secret_name: "backup-s3".into(),
            cidr: Some("203.0.113.0/24".into()),
        }
    }

    fn platform(profile: Profile, s3: bool) -> Platform {
        let mut p = Platform::for_profile(profile, Provider::Proxmox);
        if s3 {
            p.spec.backup.target.pvc = None;
            p.spec.backup.target.s3 = Some(s3_target());
        }
        p
    }

    fn rendered(p: &Platform) -> Rendered {
        let ctx = Ctx { p };
        let mut out = Rendered::default();
        render(&ctx, &mut out);
        out
    }

    fn all_variants() -> Vec<(String, Platform)> {
        let mut v = Vec::new();
        for profile in Profile::ALL {
            for s3 in [false, true] {
                v.push((format!("{profile:?} s3={s3}"), platform(profile, s3)));
            }
        }
        v
    }

    /// (object id, namespace, pod template) of every CronJob and Job.
    fn pod_templates(r: &Rendered) -> Vec<(String, String, PodTemplateSpec)> {
        let mut out = Vec::new();
        for c in r.typed::<CronJob>() {
            let ns = c.metadata.namespace.clone().unwrap_or_default();
            let t = c.spec.and_then(|s| s.job_template.spec).map(|s| s.template).unwrap_or_default();
            out.push((format!("CronJob/{}", c.metadata.name.unwrap_or_default()), ns, t));
        }
        for j in r.typed::<Job>() {
            let ns = j.metadata.namespace.clone().unwrap_or_default();
            out.push((
                format!("Job/{}", j.metadata.name.unwrap_or_default()),
                ns,
                j.spec.map(|s| s.template).unwrap_or_default(),
            ));
        }
        out
    }

    #[test]
    fn cron_jobs_never_overlap_and_keep_history() {
        for (variant, p) in all_variants() {
            let r = rendered(&p);
            let jobs = r.typed::<CronJob>();
            assert_eq!(jobs.len(), 3, "{variant}");
            for c in jobs {
                let s = c.spec.unwrap();
                // cronjob_controllerv2.go: Forbid skips a run while the last one is active.
                assert_eq!(s.concurrency_policy.as_deref(), Some("Forbid"), "{variant}");
                assert!(
                    s.starting_deadline_seconds.is_some()
                        && s.successful_jobs_history_limit.is_some()
                        && s.failed_jobs_history_limit.is_some()
                );
                let job = s.job_template.spec.unwrap();
                assert!(job.backoff_limit.is_some() && job.active_deadline_seconds.is_some(), "{variant}");
            }
        }
    }

    #[test]
    fn schedules_come_from_the_spec() {
        let mut p = platform(Profile::Mvp, false);
        p.spec.backup.schedule = "30 3 * * *".into();
        p.spec.backup.etcd_schedule = "*/30 * * * *".into();
        let r = rendered(&p);
        assert_eq!(
            r.find("CronJob", Some(INFRASTRUCTURE), app::POSTGRES_BACKUP).unwrap().value["spec"]["schedule"],
            "30 3 * * *"
        );
        assert_eq!(
            r.find("CronJob", Some(AUTH), app::ZITADEL_POSTGRES_BACKUP).unwrap().value["spec"]["schedule"],
            "30 3 * * *"
        );
        assert_eq!(
            r.find("CronJob", Some(KUBE_SYSTEM), ETCD_SNAPSHOT).unwrap().value["spec"]["schedule"],
            "*/30 * * * *"
        );
    }

    #[test]
    fn backup_and_restore_pods_carry_the_labels_the_flows_admit() {
        for (variant, p) in all_variants() {
            let r = rendered(&p);
            let flows = crate::isolation::flows(&p.spec);
            for db in DATABASE_BACKUPS {
                // The flow from the backup pods to their database (and to S3 when used).
                let from_backup: Vec<_> = flows
                    .iter()
                    .filter(|f| {
                        f.from.namespace.as_deref() == Some(db.namespace)
                            && f.from.pods.as_ref().and_then(|l| l.get("app")).map(String::as_str)
                                == Some(db.app)
                    })
                    .collect();
                assert!(!from_backup.is_empty(), "{variant}: no flow for {}", db.app);
                for (id, ns, t) in pod_templates(&r).into_iter().filter(|(_, ns, _)| ns == db.namespace) {
                    let labels = t.metadata.and_then(|m| m.labels).unwrap_or_default();
                    for f in &from_backup {
                        let sel = autolabs_k8s::Selector::from_labels(f.from.pods.clone().unwrap());
                        assert!(sel.matches(&labels), "{variant} {ns}/{id} not admitted by flow {}", f.name);
                    }
                }
            }
        }
    }

    #[test]
    fn pods_in_platform_namespaces_pass_restricted_structurally() {
        for (variant, p) in all_variants() {
            for (id, ns, t) in pod_templates(&rendered(&p)) {
                if ns == KUBE_SYSTEM {
                    continue; // etcd's job: root by necessity, kube-system is not ours
                }
                let spec = t.spec.unwrap();
                let pod = spec.security_context.clone().unwrap();
                assert_eq!(pod.run_as_non_root, Some(true), "{variant} {id}"); // check_runAsNonRoot.go
                assert!(pod.run_as_user.is_some_and(|u| u != 0), "{variant} {id}"); // check_runAsUser.go
                assert_eq!(pod.seccomp_profile.unwrap().type_, "RuntimeDefault"); // check_seccompProfile_restricted.go
                assert!(spec.host_network.is_none() && spec.automount_service_account_token == Some(false));
                for v in spec.volumes.iter().flatten() {
                    assert!(v.host_path.is_none(), "{variant} {id}: hostPath"); // check_restrictedVolumes.go
                }
                for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
                    let sc = c.security_context.clone().unwrap();
                    assert_eq!(sc.allow_privilege_escalation, Some(false)); // check_allowPrivilegeEscalation.go
                    assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_string()])); // check_capabilities_restricted.go
                    let res = c.resources.clone().unwrap();
                    assert!(
                        res.requests.is_some_and(|r| r.len() == 2)
                            && res.limits.is_some_and(|l| l.len() == 2),
                        "{variant} {id}/{}",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn pvc_target_renders_a_backups_claim_per_namespace() {
        let mut p = platform(Profile::Production, false);
        p.spec.backup.target.pvc =
            Some(PvcTarget { size: Qty::lit("250Gi"), storage_class: Some("nfs".into()) });
        let r = rendered(&p);
        for ns in [INFRASTRUCTURE, AUTH] {
            let pvc = r.find("PersistentVolumeClaim", Some(ns), BACKUP_PVC).unwrap();
            assert_eq!(pvc.value["spec"]["resources"]["requests"]["storage"], "250Gi");
            assert_eq!(pvc.value["spec"]["storageClassName"], "nfs");
        }
        let dump = &r.find("CronJob", Some(INFRASTRUCTURE), app::POSTGRES_BACKUP).unwrap().value;
        let script = dump["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][2]
            .as_str()
            .unwrap();
        // temp name, verified, renamed only after success; then retention
        assert!(script.contains("gzip -t \"$partial\"") && script.contains("mv \"$partial\" \"$final\""));
        assert!(script.contains("-mtime \"+${RETENTION_DAYS}\" -print -delete"));
        let s3 = rendered(&platform(Profile::Production, true));
        assert_eq!(s3.of_kind("PersistentVolumeClaim").count(), 0);
    }

    #[test]
    fn s3_target_uploads_with_endpoint_and_secret() {
        let r = rendered(&platform(Profile::Mvp, true));
        for db in DATABASE_BACKUPS {
            let c = r
                .typed::<CronJob>()
                .into_iter()
                .find(|c| c.metadata.name.as_deref() == Some(db.app))
                .unwrap();
            let pod = c.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
            let upload = &pod.containers[0];
            assert!(
                upload.command.as_ref().unwrap()[2].contains("aws --endpoint-url \"$S3_ENDPOINT\" s3 cp")
            );
            let envs = upload.env.clone().unwrap();
            let secret = envs.iter().find(|e| e.name == "AWS_ACCESS_KEY_ID").unwrap();
            assert_eq!(
                secret.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().name,
                "backup-s3"
            );
            assert_eq!(pod.init_containers.unwrap()[0].name, "pg-dump");
        }
    }

    #[test]
    fn restore_jobs_are_suspended_templates() {
        for (variant, p) in all_variants() {
            let r = rendered(&p);
            let jobs = r.typed::<Job>();
            assert_eq!(jobs.len(), 2, "{variant}");
            for j in jobs {
                assert_eq!(j.spec.as_ref().unwrap().suspend, Some(true), "{variant}");
                let how = &j.metadata.annotations.as_ref().unwrap()["autolabs.io/how-to-run"];
                assert!(how.contains("\"suspend\":false"), "{how}");
            }
        }
    }

    #[test]
    fn etcd_snapshot_runs_on_a_control_plane_node() {
        for (variant, p) in all_variants() {
            let r = rendered(&p);
            let c = r
                .typed::<CronJob>()
                .into_iter()
                .find(|c| c.metadata.name.as_deref() == Some(ETCD_SNAPSHOT))
                .unwrap();
            assert_eq!(c.metadata.namespace.as_deref(), Some(KUBE_SYSTEM));
            let pod = c.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
            assert_eq!(pod.host_network, Some(true), "{variant}");
            assert_eq!(pod.node_selector.unwrap()["node-role.kubernetes.io/control-plane"], "");
            assert!(
                pod.tolerations
                    .unwrap()
                    .iter()
                    .any(|t| t.key.as_deref() == Some("node-role.kubernetes.io/control-plane"))
            );
            let init = pod.init_containers.unwrap();
            let cmd = |i: usize| init[i].command.clone().unwrap().join(" ");
            assert!(
                cmd(0).starts_with("etcdctl --endpoints=https://127.0.0.1:2379")
                    && cmd(0).contains("snapshot save")
            );
            assert!(cmd(1).starts_with("etcdutl snapshot status"));
            let pki = init[0].volume_mounts.as_ref().unwrap().iter().find(|m| m.name == "etcd-pki").unwrap();
            assert_eq!(pki.read_only, Some(true));
            let vols = pod.volumes.unwrap();
            let backup = vols.iter().find(|v| v.name == "backup").unwrap();
            assert_eq!(backup.host_path.is_some(), p.spec.backup.target.pvc.is_some(), "{variant}");
        }
    }

    /// The shell scripts parse (bash -n), when bash is on the machine.
    #[test]
    fn scripts_are_valid_bash() {
        let Ok(_) = std::process::Command::new("bash").arg("--version").output() else {
            eprintln!("bash not found; skipping the syntax check");
            return;
        };
        for (name, script) in [
            ("dump", DUMP_SCRIPT),
            ("upload", S3_UPLOAD_SCRIPT),
            ("download", S3_DOWNLOAD_SCRIPT),
            ("restore", RESTORE_SCRIPT),
            ("etcd-store", ETCD_STORE_SCRIPT),
        ] {
            let out = std::process::Command::new("bash").args(["-n", "-c", script]).output().unwrap();
            assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// A scratch directory with fake `pg_dump`, `psql` and `aws` on PATH, to run the job
    /// scripts for real.
    struct Sandbox {
        dir: std::path::PathBuf,
    }

    impl Sandbox {
        fn new(name: &str) -> Option<Sandbox> {
            if std::process::Command::new("bash").arg("--version").output().is_err() {
                eprintln!("bash not found; skipping");
                return None;
            }
            let dir = std::env::temp_dir().join(format!("autolabs-backup-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for sub in ["bin", "backups", "work", "s3/bucket/autolabs/infrastructure"] {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
            }
            let sandbox = Sandbox { dir };
            sandbox.tool(
                "pg_dump",
                "#!/bin/sh\n[ -n \"$FAIL_DUMP\" ] && exit 1\necho \"-- dump of $PGDATABASE\"\n",
            );
            sandbox.tool("psql", "#!/bin/sh\ncat > \"$RESTORED\"\n");
            // `aws [--endpoint-url X] s3 cp|ls|rm ...` against a folder.
            sandbox.tool(
                "aws",
                r#"#!/bin/bash
set -e
while [ "$1" = "--endpoint-url" ]; do shift 2; done
[ "$1" = s3 ] || exit 2
op="$2"; shift 2
path() { echo "$FAKE_S3/${1#s3://}"; }
case "$op" in
  cp) if [[ "$1" == s3://* ]]; then cp "$(path "$1")" "$2"; else cp "$1" "$(path "$2")"; fi ;;
  ls) for f in "$(path "$1")"*; do [ -f "$f" ] && echo "2024-01-01 00:00:00 42 $(basename "$f")"; done ;;
  rm) rm "$(path "$1")" ;;
esac
"#,
            );
            Some(sandbox)
        }

        fn tool(&self, name: &str, body: &str) {
            use std::os::unix::fs::PermissionsExt;
            let p = self.dir.join("bin").join(name);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn path(&self, rel: &str) -> std::path::PathBuf {
            self.dir.join(rel)
        }

        fn touch(&self, rel: &str, days_old: u32) {
            let p = self.path(rel);
            std::fs::write(&p, "x").unwrap();
            let status = std::process::Command::new("touch")
                .arg("-d")
                .arg(format!("{days_old} days ago"))
                .arg(&p)
                .status()
                .unwrap();
            assert!(status.success());
        }

        fn run(&self, script: &str, env: &[(&str, String)]) -> std::process::Output {
            let path =
                format!("{}:{}", self.path("bin").display(), std::env::var("PATH").unwrap_or_default());
            let mut cmd = std::process::Command::new("bash");
            cmd.arg("-c").arg(script).env("PATH", path).env("FAKE_S3", self.path("s3"));
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.output().unwrap()
        }

        fn files(&self, rel: &str) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for Sandbox {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn dump_env(sb: &Sandbox, dir: &str) -> Vec<(&'static str, String)> {
        vec![
            ("BACKUP_DIR", sb.path(dir).display().to_string()),
            ("DUMP_PREFIX", "postgres".into()),
            ("RETENTION_DAYS", "7".into()),
            ("PGHOST", "postgres.infrastructure.svc".into()),
            ("PGPORT", "5432".into()),
            ("PGUSER", "autolabs".into()),
            ("PGDATABASE", "autolabs".into()),
        ]
    }

    #[test]
    fn dump_script_renames_after_success_and_prunes() {
        let Some(sb) = Sandbox::new("dump") else { return };
        sb.touch("backups/postgres-20000101T000000Z.sql.gz", 30);
        sb.touch("backups/postgres-20991231T000000Z.sql.gz", 1);
        sb.touch("backups/zitadel-postgres-20000101T000000Z.sql.gz", 30);
        sb.touch("backups/.postgres-20000101T000000Z.sql.gz.partial", 3);
        let out = sb.run(DUMP_SCRIPT, &dump_env(&sb, "backups"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let files = sb.files("backups");
        // the 30-day-old dump and the stale partial are gone; other prefixes are untouched
        assert!(
            !files.iter().any(|f| f.starts_with("postgres-2000") || f.ends_with(".partial")),
            "{files:?}"
        );
        assert!(files.contains(&"zitadel-postgres-20000101T000000Z.sql.gz".to_string()), "{files:?}");
        let new: Vec<&String> =
            files.iter().filter(|f| f.starts_with("postgres-") && !f.starts_with("postgres-2099")).collect();
        assert_eq!(new.len(), 1, "{files:?}");
        let text = std::process::Command::new("gunzip")
            .arg("-c")
            .arg(sb.path(&format!("backups/{}", new[0])))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&text.stdout), "-- dump of autolabs\n");
    }

    #[test]
    fn failed_dump_leaves_no_file() {
        let Some(sb) = Sandbox::new("dumpfail") else { return };
        let mut env = dump_env(&sb, "backups");
        env.push(("FAIL_DUMP", "1".into()));
        let out = sb.run(DUMP_SCRIPT, &env);
        assert!(!out.status.success());
        assert!(sb.files("backups").is_empty(), "{:?}", sb.files("backups"));
    }

    #[test]
    fn restore_script_takes_the_newest_or_the_named_dump() {
        let Some(sb) = Sandbox::new("restore") else { return };
        for (name, body) in
            [("postgres-20250101T020000Z.sql.gz", "old"), ("postgres-20250102T020000Z.sql.gz", "new")]
        {
            let gz = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("echo {body} | gzip > {}", sb.path(&format!("backups/{name}")).display()))
                .status()
                .unwrap();
            assert!(gz.success());
        }
        let restored = sb.path("restored.sql");
        let mut env = dump_env(&sb, "backups");
        env.push(("RESTORED", restored.display().to_string()));
        let out = sb.run(RESTORE_SCRIPT, &env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(&restored).unwrap(), "new\n");
        env.push(("RESTORE_FILE", "postgres-20250101T020000Z.sql.gz".into()));
        assert!(sb.run(RESTORE_SCRIPT, &env).status.success());
        assert_eq!(std::fs::read_to_string(&restored).unwrap(), "old\n");
        env.pop();
        env.push(("RESTORE_FILE", "../etc/passwd".into()));
        assert!(!sb.run(RESTORE_SCRIPT, &env).status.success());
    }

    #[test]
    fn s3_upload_and_download_with_retention() {
        let Some(sb) = Sandbox::new("s3") else { return };
        let prefix = "s3/bucket/autolabs/infrastructure";
        sb.touch(&format!("{prefix}/postgres-20000101T020000Z.sql.gz"), 0);
        sb.touch(&format!("{prefix}/postgres-20991231T020000Z.sql.gz"), 0);
        sb.touch(&format!("{prefix}/zitadel-postgres-20000101T020000Z.sql.gz"), 0);
        // The dump just made carries the current time (the script compares key timestamps).
        let now = std::process::Command::new("date").args(["-u", "+%Y%m%dT%H%M%SZ"]).output().unwrap();
        let fresh = format!("postgres-{}.sql.gz", String::from_utf8_lossy(&now.stdout).trim());
        sb.touch(&format!("work/{fresh}"), 0);
        let mut env = vec![
            ("S3_ENDPOINT", "https://minio.example.com:9000".to_string()),
            ("S3_BUCKET", "bucket".into()),
            ("S3_PREFIX", "autolabs/infrastructure".into()),
            ("DUMP_PREFIX", "postgres".into()),
            ("DUMP_SUFFIX", ".sql.gz".into()),
            ("DUMP_SUFFIX_RE", "\\.sql\\.gz".into()),
            ("RETENTION_DAYS", "7".into()),
        ];
        let script = S3_UPLOAD_SCRIPT.replace("/work", &sb.path("work").display().to_string());
        let out = sb.run(&script, &env);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // the old dump is deleted, the fresh one uploaded, other prefixes untouched
        assert_eq!(
            sb.files(prefix),
            [fresh.as_str(), "postgres-20991231T020000Z.sql.gz", "zitadel-postgres-20000101T020000Z.sql.gz"]
        );
        // the newest dump comes back
        std::fs::remove_file(sb.path(&format!("work/{fresh}"))).unwrap();
        let script = S3_DOWNLOAD_SCRIPT.replace("/work", &sb.path("work").display().to_string());
        let out = sb.run(&script, &env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sb.files("work"), ["postgres-20991231T020000Z.sql.gz"]);
        env.push(("RESTORE_FILE", "nope/../x".into()));
        assert!(!sb.run(&script, &env).status.success());
    }

    #[test]
    fn etcd_store_script_compresses_renames_and_prunes() {
        let Some(sb) = Sandbox::new("etcd") else { return };
        sb.touch("backups/.etcd-snapshot.db.partial", 0);
        sb.touch("backups/etcd-snapshot-20000101T000000Z.db.gz", 30);
        let script = ETCD_STORE_SCRIPT.replace("/backup", &sb.path("backups").display().to_string());
        let out = sb.run(&script, &[("RETENTION_DAYS", "7".into())]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let files = sb.files("backups");
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(
            files[0].starts_with("etcd-snapshot-")
                && files[0].ends_with(".db.gz")
                && !files[0].contains("2000")
        );
    }
}
