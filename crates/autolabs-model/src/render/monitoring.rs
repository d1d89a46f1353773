//! Alert rules for the platform, in two forms with the same groups:
//! - a `monitoring.coreos.com/v1` PrometheusRule `autolabs-alert-rules` in `monitoring`,
//!   for clusters with the Prometheus Operator;
//! - a ConfigMap `autolabs-alert-rules` (key `autolabs.rules.yaml`) holding a plain
//!   Prometheus rules file (`promtool check rules` accepts it), for any other Prometheus.
//!
//! The alerts: a node not Ready, a pod crash-looping, a ResourceQuota above 90 %, a
//! database dump or an etcd snapshot that is missing (last success older than 1.5 × the
//! longest gap of its cron schedule) or failed, the provisioner unavailable, erroring, or
//! slow to create labs (p95). Cluster facts come from kube-state-metrics series; the
//! provisioner's own series are the ones `autolabs serve` exports on `/metrics`
//! (`autolabs_kube_api_errors_total`, `autolabs_lab_create_duration_seconds_bucket`); a test
//! of the lab API scrapes it and fails when a rule names a series it does not export.
//!
//! Backup deadlines are derived from the configured schedules with the cron semantics the
//! CronJob controller uses, so changing `spec.backup.schedule` moves the alert with it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::backup::{DATABASE_BACKUPS, ETCD_SNAPSHOT};
use super::workloads::object_meta;
use super::{Ctx, Rendered, typed, untyped};
use crate::topology::{KUBE_SYSTEM, LABS, MONITORING, PLATFORM, app};

/// Name of the PrometheusRule and of the ConfigMap.
pub(crate) const ALERT_RULES: &str = "autolabs-alert-rules";
/// The ConfigMap key that holds the rules file.
pub(crate) const RULES_FILE_KEY: &str = "autolabs.rules.yaml";

/// Used when a schedule cannot be read (load rejects those before render): one day.
const FALLBACK_INTERVAL_SECONDS: u64 = 86_400;
/// Provisioner API errors per second that count as "erroring" (3 a minute).
const PROVISIONER_ERROR_RATE: f64 = 0.05;
/// p95 lab creation time that counts as slow, in seconds.
const LAB_CREATE_P95_SECONDS: u32 = 30;

/// One alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AlertRule {
    pub name: &'static str,
    pub expr: String,
    /// Prometheus duration the condition must hold (`5m`).
    pub for_duration: &'static str,
    pub severity: &'static str,
    pub summary: String,
    pub description: String,
}

/// A named group of rules, evaluated together.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleGroup {
    pub name: &'static str,
    pub rules: Vec<AlertRule>,
}

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let groups = rule_groups(ctx);
    let groups_json = Value::Array(groups.iter().map(group_json).collect());
    let mut labels = ctx.common_labels();
    labels.insert("app".into(), "prometheus".into());
    labels.insert("app.kubernetes.io/part-of".into(), "autolabs".into());
    let note = "Prometheus Operator: make sure the Prometheus ruleSelector matches these labels (kube-prometheus-stack selects release=<its release> by default). Without the Operator, mount the ConfigMap autolabs-alert-rules and list autolabs.rules.yaml under rule_files.";
    out.manifests.push(untyped(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": ALERT_RULES,
            "namespace": MONITORING,
            "labels": labels,
            "annotations": {"autolabs.io/description": note},
        },
        "spec": {"groups": groups_json.clone()},
    })));
    let file = format!(
        "# Rendered by autolabs: alert rules (the same groups as the PrometheusRule {ALERT_RULES}).\n{}",
        crate::output::yaml_of_json(&json!({ "groups": groups_json }))
    );
    let mut meta =
        object_meta(ctx, ALERT_RULES, MONITORING, "prometheus", &[("autolabs.io/description", note)]);
    if let Some(l) = meta.labels.as_mut() {
        l.insert("app.kubernetes.io/part-of".into(), "autolabs".into());
    }
    out.manifests.push(typed(ConfigMap {
        metadata: meta,
        data: Some(BTreeMap::from([(RULES_FILE_KEY.to_string(), file)])),
        ..Default::default()
    }));
}

fn group_json(g: &RuleGroup) -> Value {
    json!({
        "name": g.name,
        "rules": g.rules.iter().map(|r| json!({
            "alert": r.name,
            "expr": r.expr,
            "for": r.for_duration,
            "labels": {"severity": r.severity},
            "annotations": {"summary": r.summary, "description": r.description},
        })).collect::<Vec<_>>(),
    })
}

/// Seconds after which a CronJob's last success counts as missing: 1.5 × the longest gap
/// between two of its scheduled runs.
pub(crate) fn missed_after_seconds(schedule: &str) -> u64 {
    let gap = longest_gap_seconds(schedule).unwrap_or(FALLBACK_INTERVAL_SECONDS);
    gap + gap / 2
}

fn regex_alternatives<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join("|")
}

pub(crate) fn rule_groups(ctx: &Ctx) -> Vec<RuleGroup> {
    let spec = ctx.spec();
    let db_after = missed_after_seconds(&spec.backup.schedule);
    let etcd_after = missed_after_seconds(&spec.backup.etcd_schedule);
    let db_namespaces = regex_alternatives(DATABASE_BACKUPS.iter().map(|d| d.namespace));
    let db_cronjobs = regex_alternatives(DATABASE_BACKUPS.iter().map(|d| d.app));
    let db_selector = format!("namespace=~\"{db_namespaces}\", cronjob=~\"{db_cronjobs}\"");
    let etcd_selector = format!("namespace=\"{KUBE_SYSTEM}\", cronjob=\"{ETCD_SNAPSHOT}\"");
    // A CronJob's Jobs are named `<cronjob>-<scheduled time in minutes>`
    // (k8s.io/kubernetes/pkg/controller/cronjob/utils.go getJobName), which keeps the
    // restore Jobs (`<db>-restore`) out of these matchers.
    let db_jobs = format!("namespace=~\"{db_namespaces}\", job_name=~\"({db_cronjobs})-[0-9]+\"");
    let etcd_jobs = format!("namespace=\"{KUBE_SYSTEM}\", job_name=~\"{ETCD_SNAPSHOT}-[0-9]+\"");

    let cluster = RuleGroup {
        name: "autolabs.cluster",
        rules: vec![
            AlertRule {
                name: "AutolabsNodeNotReady",
                expr: "kube_node_status_condition{condition=\"Ready\", status=\"true\"} == 0".into(),
                for_duration: "5m",
                severity: "critical",
                summary: "Node {{ $labels.node }} is not Ready".into(),
                description: "Node {{ $labels.node }} has not reported Ready for 5 minutes: its pods are being evicted or are unreachable, and in mvp that is the whole cluster.".into(),
            },
            AlertRule {
                name: "AutolabsPodCrashLooping",
                // Student labs come and go and are reported to the backend, not paged.
                expr: format!(
                    "max_over_time(kube_pod_container_status_waiting_reason{{reason=\"CrashLoopBackOff\", namespace!=\"{LABS}\"}}[5m]) >= 1"
                ),
                for_duration: "15m",
                severity: "warning",
                summary: "Pod {{ $labels.namespace }}/{{ $labels.pod }} is crash-looping".into(),
                description: "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} has been in CrashLoopBackOff for 15 minutes. Check `kubectl -n {{ $labels.namespace }} logs {{ $labels.pod }} -c {{ $labels.container }} --previous`.".into(),
            },
            AlertRule {
                name: "AutolabsQuotaAlmostFull",
                expr: "kube_resourcequota{type=\"used\"} / ignoring(type) (kube_resourcequota{type=\"hard\"} > 0) > 0.9".into(),
                for_duration: "15m",
                severity: "warning",
                summary: "Quota {{ $labels.namespace }}/{{ $labels.resourcequota }} is above 90% for {{ $labels.resource }}".into(),
                description: "ResourceQuota {{ $labels.resourcequota }} in {{ $labels.namespace }} has used more than 90% of {{ $labels.resource }} for 15 minutes; new pods there (in labs: new student labs) will soon be rejected. Run `autolabs plan` to size the quota and the nodes.".into(),
            },
        ],
    };

    let backups = RuleGroup {
        name: "autolabs.backups",
        rules: vec![
            AlertRule {
                name: "AutolabsDatabaseBackupMissed",
                expr: missed_expr(&db_selector, db_after),
                for_duration: "10m",
                severity: "critical",
                summary: "No successful pg_dump of {{ $labels.namespace }} ({{ $labels.cronjob }}) in time".into(),
                description: format!(
                    "CronJob {{{{ $labels.namespace }}}}/{{{{ $labels.cronjob }}}} has not completed successfully for more than {} (1.5 x the longest gap of schedule \"{}\"). Check `kubectl -n {{{{ $labels.namespace }}}} get jobs` and the backup volume or bucket.",
                    human_duration(db_after),
                    spec.backup.schedule
                ),
            },
            AlertRule {
                name: "AutolabsDatabaseBackupFailed",
                expr: failed_expr(&db_jobs, db_after),
                for_duration: "0m",
                severity: "critical",
                summary: "Backup job {{ $labels.namespace }}/{{ $labels.job_name }} failed".into(),
                description: "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed: the database was not dumped. Check `kubectl -n {{ $labels.namespace }} logs job/{{ $labels.job_name }} --all-containers`.".into(),
            },
            AlertRule {
                name: "AutolabsEtcdBackupMissing",
                expr: missed_expr(&etcd_selector, etcd_after),
                for_duration: "10m",
                severity: "critical",
                summary: "No successful etcd snapshot in time".into(),
                description: format!(
                    "CronJob {KUBE_SYSTEM}/{ETCD_SNAPSHOT} has not completed successfully for more than {} (1.5 x the longest gap of schedule \"{}\"): the cluster state could not be restored to a recent point.",
                    human_duration(etcd_after),
                    spec.backup.etcd_schedule
                ),
            },
            AlertRule {
                name: "AutolabsEtcdBackupFailed",
                expr: failed_expr(&etcd_jobs, etcd_after),
                for_duration: "0m",
                severity: "warning",
                summary: "etcd snapshot job {{ $labels.job_name }} failed".into(),
                description: format!(
                    "Job {KUBE_SYSTEM}/{{{{ $labels.job_name }}}} failed. Check `kubectl -n {KUBE_SYSTEM} logs job/{{{{ $labels.job_name }}}} --all-containers`."
                ),
            },
        ],
    };

    let provisioner = RuleGroup {
        name: "autolabs.provisioner",
        rules: vec![
            AlertRule {
                name: "AutolabsProvisionerUnavailable",
                expr: format!(
                    "kube_deployment_status_replicas_available{{namespace=\"{PLATFORM}\", deployment=\"{}\"}} == 0",
                    app::PROVISIONER
                ),
                for_duration: "5m",
                severity: "critical",
                summary: "The lab provisioner has no available replica".into(),
                description: "No replica of the lab provisioner has been available for 5 minutes: students cannot start, extend or stop labs, and expired labs are not reaped.".into(),
            },
            AlertRule {
                name: "AutolabsProvisionerErrors",
                // 404/409 are answers the provisioner expects (a lab looked up, a duplicate create):
                // only server errors and lost connections count.
                expr: format!(
                    "sum(rate(autolabs_kube_api_errors_total{{code=~\"5..|connection\"}}[5m])) > {PROVISIONER_ERROR_RATE}"
                ),
                for_duration: "10m",
                severity: "warning",
                summary: "The lab provisioner is returning errors".into(),
                description: format!(
                    "The Kubernetes API has answered the lab provisioner more than {} server errors or lost connections a minute for 10 minutes (autolabs_kube_api_errors_total). Check its logs: `kubectl -n {PLATFORM} logs deploy/{}`.",
                    (PROVISIONER_ERROR_RATE * 60.0).round(),
                    app::PROVISIONER
                ),
            },
            AlertRule {
                name: "AutolabsLabCreateSlow",
                expr: format!(
                    "histogram_quantile(0.95, sum by (le) (rate(autolabs_lab_create_duration_seconds_bucket[10m]))) > {LAB_CREATE_P95_SECONDS}"
                ),
                for_duration: "15m",
                severity: "warning",
                summary: "Creating a lab takes too long (p95)".into(),
                description: format!(
                    "The 95th percentile of lab creation time has been above {LAB_CREATE_P95_SECONDS}s for 15 minutes (autolabs_lab_create_duration_seconds). The API server or the nodes may be overloaded, or images slow to pull."
                ),
            },
        ],
    };
    vec![cluster, backups, provisioner]
}

/// Last success too old, or (never succeeded and) created too long ago.
// kube-state-metrics: kube_cronjob_status_last_successful_time appears only after a first
// success, so a CronJob that never succeeded is caught through kube_cronjob_created.
fn missed_expr(selector: &str, after: u64) -> String {
    format!(
        "(time() - kube_cronjob_status_last_successful_time{{{selector}}} > {after}) \
         or ((time() - kube_cronjob_created{{{selector}}} > {after}) unless on(namespace, cronjob) kube_cronjob_status_last_successful_time{{{selector}}})"
    )
}

/// A failed Job that started recently (failed Jobs stay for failedJobsHistoryLimit runs;
/// an old failure followed by successes is not news).
fn failed_expr(jobs: &str, window: u64) -> String {
    format!(
        "(kube_job_status_failed{{{jobs}}} > 0) and on(namespace, job_name) (time() - kube_job_status_start_time{{{jobs}}} < {window})"
    )
}

/// `36h`, `90m`, `45s`.
fn human_duration(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// The longest time between two consecutive runs of a schedule, in seconds
/// ([`autolabs_k8s::cron`], the parser the CronJob controller uses). `None` when it never
/// runs twice.
pub(crate) fn longest_gap_seconds(schedule: &str) -> Option<u64> {
    autolabs_k8s::cron::Schedule::parse(schedule).ok()?.longest_gap_minutes().map(|minutes| minutes * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, Profile, Provider};

    fn rendered(p: &Platform) -> Rendered {
        let ctx = Ctx { p };
        let mut out = Rendered::default();
        render(&ctx, &mut out);
        out
    }

    /// One row per cron rule of robfig/cron/v3 that decides the gap.
    #[test]
    fn cron_longest_gap() {
        for (schedule, expected, rule) in [
            ("0 2 * * *", Some(86_400), "daily"),
            ("0 * * * *", Some(3_600), "hourly"),
            ("*/15 * * * *", Some(900), "step over a star"),
            ("10/25 * * * *", Some(35 * 60), "value/step runs to the maximum: 10,35 → 35 to 10 is 35 min"),
            ("0 2,14 * * *", Some(43_200), "list"),
            ("0 9-17 * * *", Some(16 * 3_600), "range: 17:00 → 09:00"),
            ("0 0 * * 1-5", Some(3 * 86_400), "weekdays: Friday → Monday"),
            ("0 0 * * MON", Some(7 * 86_400), "day names"),
            ("0 0 * * 7", Some(7 * 86_400), "7 is Sunday"),
            ("0 0 1 * *", Some(31 * 86_400), "monthly: longest month"),
            ("0 0 29 2 *", Some(4 * 365 * 86_400 + 86_400), "leap day: four years"),
            ("0 0 30 2 *", None, "never runs"),
            ("@daily", Some(86_400), "macro"),
            ("@weekly", Some(7 * 86_400), "macro"),
            ("61 * * * *", None, "out of range"),
            ("* * *", None, "too few fields"),
        ] {
            assert_eq!(longest_gap_seconds(schedule), expected, "{schedule}: {rule}");
        }
        // Both day fields restricted: OR (the 1st, the 15th and every Friday), so never more
        // than 7 days apart; AND would leave months between runs.
        let gap = longest_gap_seconds("0 0 1,15 * 5").unwrap();
        assert!((86_400..=7 * 86_400).contains(&gap), "{gap}");
        assert_eq!(missed_after_seconds("0 2 * * *"), 129_600);
        assert_eq!(missed_after_seconds("0 * * * *"), 5_400);
    }

    #[test]
    fn rules_cover_every_alert_the_task_names() {
        let p = Platform::default();
        let ctx = Ctx { p: &p };
        let names: Vec<&str> =
            rule_groups(&ctx).iter().flat_map(|g| g.rules.iter().map(|r| r.name)).collect();
        for needed in [
            "AutolabsNodeNotReady",
            "AutolabsPodCrashLooping",
            "AutolabsQuotaAlmostFull",
            "AutolabsDatabaseBackupMissed",
            "AutolabsDatabaseBackupFailed",
            "AutolabsEtcdBackupMissing",
            "AutolabsProvisionerErrors",
            "AutolabsLabCreateSlow",
        ] {
            assert!(names.contains(&needed), "{needed}");
        }
        let all: String =
            rule_groups(&ctx).iter().flat_map(|g| g.rules.iter().map(|r| r.expr.clone())).collect();
        for metric in [
            "kube_resourcequota",
            "kube_cronjob_status_last_successful_time",
            "kube_job_status_failed",
            "autolabs_kube_api_errors_total",
            "autolabs_lab_create_duration_seconds_bucket",
        ] {
            assert!(all.contains(metric), "{metric}");
        }
    }

    #[test]
    fn backup_deadline_follows_the_schedule() {
        let mut p = Platform::default();
        p.spec.backup.schedule = "0 */6 * * *".into();
        let ctx = Ctx { p: &p };
        let groups = rule_groups(&ctx);
        let missed =
            groups.iter().flat_map(|g| &g.rules).find(|r| r.name == "AutolabsDatabaseBackupMissed").unwrap();
        assert!(missed.expr.contains("> 32400"), "{}", missed.expr);
    }

    #[test]
    fn prometheus_rule_and_config_map_hold_the_same_groups() {
        for profile in Profile::ALL {
            let r = rendered(&Platform::for_profile(profile, Provider::Proxmox));
            let rule = r.find("PrometheusRule", Some(MONITORING), ALERT_RULES).unwrap();
            assert_eq!(rule.api_version, "monitoring.coreos.com/v1");
            let cm = r.find("ConfigMap", Some(MONITORING), ALERT_RULES).unwrap();
            let file = cm.value["data"][RULES_FILE_KEY].as_str().unwrap();
            let parsed: Value = serde_saphyr::from_str(file).unwrap();
            assert_eq!(parsed["groups"], rule.value["spec"]["groups"]);
            for g in parsed["groups"].as_array().unwrap() {
                for rule in g["rules"].as_array().unwrap() {
                    assert!(
                        rule["labels"]["severity"].is_string() && rule["annotations"]["summary"].is_string()
                    );
                    assert!(rule["annotations"]["description"].is_string() && rule["for"].is_string());
                }
            }
        }
    }

    /// promtool (Prometheus' own checker) accepts the file and the alerts fire as intended
    /// on synthetic series, when promtool is installed.
    #[test]
    fn promtool_checks_and_unit_tests_the_rules() {
        let p = Platform::default();
        let r = rendered(&p);
        let cm = r.find("ConfigMap", Some(MONITORING), ALERT_RULES).unwrap();
        let file = cm.value["data"][RULES_FILE_KEY].as_str().unwrap().to_string();
        let dir = std::env::temp_dir().join(format!("autolabs-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(RULES_FILE_KEY), &file).unwrap();
        let check = match std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(dir.join(RULES_FILE_KEY))
            .output()
        {
            Ok(out) => out,
            Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("promtool is not installed under CI=true (.ci/run installs Debian's prometheus)")
            }
            Err(_) => {
                eprintln!("*** NOT RUN: promtool is not installed (apt-get install prometheus) ***");
                return;
            }
        };
        assert!(
            check.status.success(),
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );

        // Expected annotations: the rule's templates with the alert's labels filled in.
        let ctx = Ctx { p: &p };
        let groups = rule_groups(&ctx);
        let rule =
            |name: &str| groups.iter().flat_map(|g| &g.rules).find(|r| r.name == name).unwrap().clone();
        let expect = |name: &str, labels: &[(&str, &str)]| -> Value {
            let r = rule(name);
            let fill = |t: &str| {
                labels
                    .iter()
                    .fold(t.to_string(), |acc, (k, v)| acc.replace(&format!("{{{{ $labels.{k} }}}}"), v))
            };
            let mut exp_labels: serde_json::Map<String, Value> =
                labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            exp_labels.insert("severity".into(), json!(r.severity));
            json!({"exp_labels": exp_labels, "exp_annotations": {"summary": fill(&r.summary), "description": fill(&r.description)}})
        };
        let tests = json!({
            "rule_files": [RULES_FILE_KEY],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": [
                        {"series": "kube_node_status_condition{condition=\"Ready\",status=\"true\",node=\"worker-1\"}", "values": "1 1 0x20"},
                        {"series": "kube_node_status_condition{condition=\"Ready\",status=\"true\",node=\"worker-2\"}", "values": "1x22"},
                        {"series": "kube_resourcequota{namespace=\"labs\",resourcequota=\"labs\",resource=\"requests.cpu\",type=\"used\"}", "values": "23x30"},
                        {"series": "kube_resourcequota{namespace=\"labs\",resourcequota=\"labs\",resource=\"requests.cpu\",type=\"hard\"}", "values": "25x30"},
                        {"series": "kube_resourcequota{namespace=\"labs\",resourcequota=\"labs\",resource=\"pods\",type=\"used\"}", "values": "10x30"},
                        {"series": "kube_resourcequota{namespace=\"labs\",resourcequota=\"labs\",resource=\"pods\",type=\"hard\"}", "values": "100x30"},
                    ],
                    "alert_rule_test": [
                        {"eval_time": "3m", "alertname": "AutolabsNodeNotReady", "exp_alerts": []},
                        {"eval_time": "10m", "alertname": "AutolabsNodeNotReady", "exp_alerts": [
                            expect("AutolabsNodeNotReady", &[("condition", "Ready"), ("node", "worker-1"), ("status", "true")])
                        ]},
                        {"eval_time": "20m", "alertname": "AutolabsQuotaAlmostFull", "exp_alerts": [
                            expect("AutolabsQuotaAlmostFull", &[("namespace", "labs"), ("resource", "requests.cpu"), ("resourcequota", "labs")])
                        ]},
                    ],
                },
                {
                    // The provisioner's own series, named as `autolabs serve` exports them.
                    // Server errors fire; 404/409 (expected answers) alone do not. Creates
                    // slower than 30 s at p95 fire; fast ones do not. No replica fires.
                    "interval": "1m",
                    "input_series": [
                        {"series": "autolabs_kube_api_errors_total{code=\"503\"}", "values": "0+10x30"},
                        {"series": "autolabs_kube_api_errors_total{code=\"409\"}", "values": "0+100x30"},
                        {"series": "autolabs_lab_create_duration_seconds_bucket{status=\"success\",le=\"10\"}", "values": "0+1x40"},
                        {"series": "autolabs_lab_create_duration_seconds_bucket{status=\"success\",le=\"60\"}", "values": "0+10x40"},
                        {"series": "autolabs_lab_create_duration_seconds_bucket{status=\"success\",le=\"+Inf\"}", "values": "0+10x40"},
                        {"series": "kube_deployment_status_replicas_available{namespace=\"platform\",deployment=\"autolabs-provisioner\"}", "values": "1x5 0x10"},
                    ],
                    "alert_rule_test": [
                        {"eval_time": "5m", "alertname": "AutolabsProvisionerErrors", "exp_alerts": []},
                        {"eval_time": "20m", "alertname": "AutolabsProvisionerErrors", "exp_alerts": [expect("AutolabsProvisionerErrors", &[])]},
                        {"eval_time": "10m", "alertname": "AutolabsLabCreateSlow", "exp_alerts": []},
                        {"eval_time": "30m", "alertname": "AutolabsLabCreateSlow", "exp_alerts": [expect("AutolabsLabCreateSlow", &[])]},
                        {"eval_time": "4m", "alertname": "AutolabsProvisionerUnavailable", "exp_alerts": []},
                        {"eval_time": "14m", "alertname": "AutolabsProvisionerUnavailable", "exp_alerts": [
                            expect("AutolabsProvisionerUnavailable", &[("deployment", "autolabs-provisioner"), ("namespace", "platform")])
                        ]},
                    ],
                },
                {
                    // Only server errors count: a stream of 404s and 409s stays quiet.
                    "interval": "1m",
                    "input_series": [
                        {"series": "autolabs_kube_api_errors_total{code=\"404\"}", "values": "0+100x30"},
                        {"series": "autolabs_lab_create_duration_seconds_bucket{status=\"success\",le=\"10\"}", "values": "0+10x40"},
                        {"series": "autolabs_lab_create_duration_seconds_bucket{status=\"success\",le=\"+Inf\"}", "values": "0+10x40"},
                    ],
                    "alert_rule_test": [
                        {"eval_time": "25m", "alertname": "AutolabsProvisionerErrors", "exp_alerts": []},
                        {"eval_time": "30m", "alertname": "AutolabsLabCreateSlow", "exp_alerts": []},
                    ],
                },
                {
                    // Daily dump: 36 h without success fires, 30 h does not; a CronJob that
                    // never succeeded fires too; a restore Job's failure is not a backup failure.
                    "interval": "1m",
                    "input_series": [
                        {"series": "kube_cronjob_status_last_successful_time{namespace=\"infrastructure\",cronjob=\"postgres-backup\"}", "values": "0x2500"},
                        {"series": "kube_cronjob_created{namespace=\"infrastructure\",cronjob=\"postgres-backup\"}", "values": "0x2500"},
                        {"series": "kube_cronjob_created{namespace=\"auth\",cronjob=\"zitadel-postgres-backup\"}", "values": "0x2500"},
                        {"series": "kube_cronjob_status_last_successful_time{namespace=\"kube-system\",cronjob=\"etcd-snapshot\"}", "values": "0x2500"},
                        {"series": "kube_job_status_failed{namespace=\"infrastructure\",job_name=\"postgres-backup-29000000\"}", "values": "1x2500"},
                        {"series": "kube_job_status_start_time{namespace=\"infrastructure\",job_name=\"postgres-backup-29000000\"}", "values": "0x2500"},
                        {"series": "kube_job_status_failed{namespace=\"infrastructure\",job_name=\"postgres-restore\"}", "values": "1x2500"},
                        {"series": "kube_job_status_start_time{namespace=\"infrastructure\",job_name=\"postgres-restore\"}", "values": "0x2500"},
                    ],
                    "alert_rule_test": [
                        {"eval_time": "30h", "alertname": "AutolabsDatabaseBackupMissed", "exp_alerts": []},
                        {"eval_time": "37h", "alertname": "AutolabsDatabaseBackupMissed", "exp_alerts": [
                            expect("AutolabsDatabaseBackupMissed", &[("cronjob", "postgres-backup"), ("namespace", "infrastructure")]),
                            expect("AutolabsDatabaseBackupMissed", &[("cronjob", "zitadel-postgres-backup"), ("namespace", "auth")]),
                        ]},
                        {"eval_time": "1h", "alertname": "AutolabsDatabaseBackupFailed", "exp_alerts": [
                            expect("AutolabsDatabaseBackupFailed", &[("job_name", "postgres-backup-29000000"), ("namespace", "infrastructure")])
                        ]},
                        {"eval_time": "40h", "alertname": "AutolabsDatabaseBackupFailed", "exp_alerts": []},
                        {"eval_time": "1h", "alertname": "AutolabsEtcdBackupMissing", "exp_alerts": []},
                        {"eval_time": "2h", "alertname": "AutolabsEtcdBackupMissing", "exp_alerts": [
                            expect("AutolabsEtcdBackupMissing", &[("cronjob", "etcd-snapshot"), ("namespace", "kube-system")])
                        ]},
                    ],
                },
            ],
        });
        std::fs::write(dir.join("tests.yaml"), serde_saphyr::to_string(&tests).unwrap()).unwrap();
        let out = std::process::Command::new("promtool")
            .arg("test")
            .arg("rules")
            .arg(dir.join("tests.yaml"))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
