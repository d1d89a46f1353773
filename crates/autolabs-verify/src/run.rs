//! `verify` as a library call: which engines run over an [`ObjectSet`], with which options,
//! and the [`Report`] they add up to. The CLI only parses arguments into [`Options`] and prints
//! the report.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use autolabs_model::{Platform, Profile, output};
use autolabs_resources::capacity::NodeCapacity;

use crate::engines;
use crate::finding::{Finding, Severity, Summary};
use crate::intent::{Intent, Proof};
use crate::objects::{LoadError, ObjectSet};
use crate::report;

/// The kinds that run pods: each engine that judges pods reads all of them.
const POD_RUNNING: [(&str, &str); 9] = [
    ("", "Pod"),
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// One engine of `verify`, named as `--only`/`--skip` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Engine {
    /// Input errors, and objects left out as the API server would refuse them.
    Load,
    /// Pod Security Standards over pods and pod templates, and the namespaces' labels.
    Pss,
    /// What each subject can do, from Roles, ClusterRoles and their bindings.
    Rbac,
    /// LimitRange defaults, quota admission and node capacity.
    Resources,
    /// NetworkPolicy findings, when there is no isolation intent to prove.
    Netpol,
    /// The isolation intent proven over the NetworkPolicies.
    Intent,
    /// Probes, storage classes, PVCs: what keeps workloads healthy.
    Hygiene,
    /// Backups and restore paths of stateful workloads.
    Backup,
    /// Removed and deprecated APIs at `--target-version`.
    Deprecations,
    /// PrometheusRule and alerting configuration.
    Alerts,
}

impl Engine {
    /// Every engine, in the order `--only`'s help lists them.
    pub const ALL: [Engine; 10] = [
        Engine::Pss,
        Engine::Rbac,
        Engine::Resources,
        Engine::Netpol,
        Engine::Intent,
        Engine::Hygiene,
        Engine::Backup,
        Engine::Deprecations,
        Engine::Alerts,
        Engine::Load,
    ];

    /// The name `--only`/`--skip` and findings use.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Load => "load",
            Engine::Pss => "pss",
            Engine::Rbac => "rbac",
            Engine::Resources => "resources",
            Engine::Netpol => "netpol",
            Engine::Intent => "intent",
            Engine::Hygiene => "hygiene",
            Engine::Backup => "backup",
            Engine::Deprecations => "deprecations",
            Engine::Alerts => "alerts",
        }
    }

    /// The (API group, kind) pairs this engine reads; an object of a kind no engine reads is
    /// counted as skipped in the summary.
    pub fn reads(self) -> Vec<(&'static str, &'static str)> {
        let mut kinds: Vec<(&str, &str)> = match self {
            Engine::Load => vec![],
            Engine::Pss => vec![("", "Namespace")],
            Engine::Rbac => vec![
                ("", "ServiceAccount"),
                ("rbac.authorization.k8s.io", "Role"),
                ("rbac.authorization.k8s.io", "ClusterRole"),
                ("rbac.authorization.k8s.io", "RoleBinding"),
                ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ],
            Engine::Resources => vec![("", "LimitRange"), ("", "ResourceQuota"), ("", "Node")],
            Engine::Netpol | Engine::Intent => vec![
                ("networking.k8s.io", "NetworkPolicy"),
                ("policy.networking.k8s.io", "ClusterNetworkPolicy"),
                ("policy.networking.k8s.io", "AdminNetworkPolicy"),
                ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
                ("", "Namespace"),
                ("", "Node"),
            ],
            Engine::Hygiene => {
                vec![("", "LimitRange"), ("", "PersistentVolumeClaim"), ("storage.k8s.io", "StorageClass")]
            }
            Engine::Backup => vec![
                ("", "Service"),
                ("", "PersistentVolumeClaim"),
                ("storage.k8s.io", "StorageClass"),
                ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
            ],
            Engine::Deprecations => vec![
                ("", "Namespace"),
                ("policy", "PodDisruptionBudget"),
                ("autoscaling", "HorizontalPodAutoscaler"),
            ],
            Engine::Alerts => vec![("monitoring.coreos.com", "PrometheusRule"), ("", "ConfigMap")],
        };
        if !matches!(self, Engine::Load | Engine::Rbac | Engine::Alerts) {
            kinds.extend(POD_RUNNING);
        }
        kinds
    }

    /// The engines `--only` and `--skip` leave: all of `only` (every engine when empty) but
    /// those in `skip`; an unknown name is an error.
    pub fn select(only: &[String], skip: &[String]) -> Result<BTreeSet<Engine>, UnknownEngine> {
        let parse = |names: &[String]| names.iter().map(|n| n.parse()).collect::<Result<Vec<Engine>, _>>();
        let (only, skip) = (parse(only)?, parse(skip)?);
        Ok(Engine::ALL
            .into_iter()
            .filter(|e| (only.is_empty() || only.contains(e)) && !skip.contains(e))
            .collect())
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Engine::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine {name:?}: choose from {}", Engine::ALL.map(Engine::name).join(", "))]
pub struct UnknownEngine {
    pub name: String,
}

impl FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(name: &str) -> Result<Engine, UnknownEngine> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| UnknownEngine { name: name.to_string() })
    }
}

/// Whether some engine reads objects of this kind (others are counted as skipped).
pub fn is_read_by_an_engine(group: &str, kind: &str) -> bool {
    Engine::ALL.iter().any(|e| e.reads().contains(&(group, kind)))
}

/// What [`run`] checks, and against which platform.
#[derive(Debug, Clone)]
pub struct Options {
    /// The engines that run (deprecations also needs [`Options::target_minor`]).
    pub engines: BTreeSet<Engine>,
    /// The platform the objects belong to, when known: its admin group, nodes, isolation
    /// matrix and backup expectations apply.
    pub platform: Option<Platform>,
    /// The set is the whole platform (its rendering, or its cluster), not a few files: its
    /// control-plane backup is then expected whatever the profile.
    pub whole_platform: bool,
    /// The isolation intent to prove; without one, the platform's matrix, else none (and the
    /// netpol engine runs instead of the intent engine).
    pub intent: Option<Intent>,
    /// Evaluate every pod at this Pod Security level instead of its namespace's.
    pub pod_security: Option<autolabs_pss::LevelVersion>,
    /// Also report APIs removed or deprecated at Kubernetes 1.`target_minor`.
    pub target_minor: Option<u32>,
    /// How the netpol and intent engines treat `hostNetwork` pods.
    pub netpol: autolabs_netpol::Options,
    /// Findings from outside the engines (the live RBAC probe), reported with theirs.
    pub additional: Vec<Finding>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            engines: Engine::ALL.into_iter().collect(),
            platform: None,
            whole_platform: false,
            intent: None,
            pod_security: None,
            target_minor: None,
            netpol: autolabs_netpol::Options::default(),
            additional: Vec::new(),
        }
    }
}

/// What [`run`] found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every finding, most severe first ([`report::sort`]).
    pub findings: Vec<Finding>,
    /// Counts, and the kinds no engine read.
    pub summary: Summary,
    /// The intent engine's matrix, when it ran.
    pub proof: Option<Proof>,
}

/// Runs the chosen engines over `set`.
///
/// ```
/// use autolabs_verify::{ObjectSet, Options, Severity};
///
/// let mut set = ObjectSet::default();
/// set.add_text(
///     "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n\
///      spec: {containers: [{name: c, image: nginx, securityContext: {privileged: true}}]}\n",
///     "pod.yaml",
/// );
/// let options = Options { pod_security: Some("baseline".parse().unwrap()), ..Options::default() };
/// let report = autolabs_verify::run(&set, &options);
/// assert!(report.findings.iter().any(|f| f.engine == "pss" && f.severity == Severity::Error));
/// assert_eq!(report.summary.objects, 1);
/// ```
pub fn run(set: &ObjectSet, opts: &Options) -> Report {
    let enabled = |engine| opts.engines.contains(&engine);
    let platform = opts.platform.as_ref();
    let mut findings: Vec<Finding> = Vec::new();
    if enabled(Engine::Load) {
        findings.extend(load_findings(set));
    }
    if enabled(Engine::Pss) {
        findings.extend(engines::pss::check(set, engines::pss::Options { level: opts.pod_security }));
    }
    if enabled(Engine::Rbac) {
        let admin_groups =
            platform.iter().map(|p| p.spec.oidc.rbac_group(&p.spec.oidc.admin_group)).collect();
        findings.extend(engines::rbac::check(set, &engines::rbac::Options { admin_groups }));
    }
    findings.extend(opts.additional.iter().cloned());
    let intent = opts.intent.clone().or_else(|| platform.map(Intent::of_platform));
    let mut proof = None;
    match &intent {
        Some(intent) if enabled(Engine::Intent) => {
            let result = crate::intent::prove_with(set, intent, opts.netpol.clone());
            findings.extend(result.findings.iter().cloned());
            proof = Some(result);
        }
        None if enabled(Engine::Netpol) => {
            findings.extend(engines::netpol::check_with(set, opts.netpol.clone()))
        }
        _ => {}
    }
    if enabled(Engine::Resources) {
        let nodes = platform.map(nodes_of).unwrap_or_default();
        findings.extend(engines::resources::check(set, &nodes));
    }
    if enabled(Engine::Hygiene) {
        findings.extend(engines::hygiene::check(set));
    }
    if enabled(Engine::Alerts) {
        findings.extend(engines::alerts::check(set));
    }
    if enabled(Engine::Backup) {
        let backup = engines::backup::Options {
            control_plane_backup_expected: platform
                .is_some_and(|p| opts.whole_platform || p.spec.profile == Profile::Production),
            snapshots_supported: platform.is_some_and(|p| p.spec.snapshots_supported()),
        };
        findings.extend(clamp_backup_severity(engines::backup::check(set, backup)));
    }
    if let Some(target) = opts.target_minor
        && enabled(Engine::Deprecations)
    {
        findings.extend(engines::deprecations::check(set, target));
    }
    report::sort(&mut findings);
    let mut summary = Summary::of(&findings, set.objects.len(), set.files);
    for o in set.objects.iter().filter(|o| !is_read_by_an_engine(o.group(), &o.kind)) {
        *summary.skipped.entry(o.kind.clone()).or_default() += 1;
    }
    Report { findings, summary, proof }
}

/// In `verify` a missing backup is a warning (`autolabs backup check` treats it as an error);
/// a schedule that is not cron or never runs stays an error in both (and `render` refuses it).
pub fn clamp_backup_severity(findings: Vec<Finding>) -> impl Iterator<Item = Finding> {
    findings.into_iter().map(|mut f| {
        if !matches!(f.rule.as_str(), "bad-schedule" | "never-runs") {
            f.severity = f.severity.min(Severity::Warning);
        }
        f
    })
}

/// The input errors, and the objects left out under `--as-admitted`, as findings.
pub fn load_findings(set: &ObjectSet) -> Vec<Finding> {
    let as_finding = |e: &LoadError, severity| {
        let rule = if e.refused { "refused" } else { "unreadable" };
        let mut f = Finding::new("load", rule, severity, e.message.clone());
        f.file = Some(e.file.clone());
        f.line = (e.line > 0).then_some(e.line);
        f.column = (e.line > 0 && e.column > 0).then_some(e.column);
        f
    };
    let errors = set.errors.iter().map(|e| as_finding(e, Severity::Error));
    errors.chain(set.refused.iter().map(|e| as_finding(e, Severity::Warning))).collect()
}

/// The rendered baseline as an object set, each object located in the file `render -o`
/// would write it to.
///
/// ```
/// let platform = autolabs_model::Platform::default();
/// let set = autolabs_verify::run::rendered_set(&platform);
/// assert!(set.errors.is_empty());
/// assert!(set.objects.iter().any(|o| o.kind == "Namespace"));
/// ```
pub fn rendered_set(p: &Platform) -> ObjectSet {
    let rendered = autolabs_model::render(p);
    let mut set = ObjectSet::default();
    for m in &rendered.manifests {
        set.add_text(&output::to_yaml(m), &format!("{}/{}", output::folder(m), m.file_name()));
    }
    set
}

/// Allocatable of the nodes that run workloads (the control plane in the MVP profile, the
/// workers in production), for capacity findings.
pub fn nodes_of(p: &Platform) -> Vec<NodeCapacity> {
    let spec = &p.spec;
    let pool = match spec.profile {
        Profile::Mvp => spec.control_plane_nodes(),
        Profile::Production => spec.worker_nodes(),
    };
    (0..pool.count())
        .map(|i| NodeCapacity {
            name: format!("node-{}", i + 1),
            allocatable: [
                ("cpu".to_string(), pool.cpu()),
                ("memory".to_string(), pool.memory()),
                ("pods".to_string(), autolabs_k8s::Quantity::from_units(110)),
            ]
            .into_iter()
            .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds `finding.rs` listed by hand before engines declared theirs.
    const LISTED_BEFORE: [(&str, &str); 25] = [
        ("", "Pod"),
        ("", "Namespace"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("", "ServiceAccount"),
        ("", "PersistentVolumeClaim"),
        ("", "ReplicationController"),
        ("", "PodTemplate"),
        ("", "ConfigMap"),
        ("", "Node"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("policy", "PodDisruptionBudget"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("monitoring.coreos.com", "PrometheusRule"),
    ];

    #[test]
    fn the_declared_kinds_are_those_listed_before_and_what_backup_reads() {
        let declared: BTreeSet<(&str, &str)> = Engine::ALL.iter().flat_map(|e| e.reads()).collect();
        let mut expected: BTreeSet<(&str, &str)> = LISTED_BEFORE.into_iter().collect();
        expected.extend([("", "Service"), ("snapshot.storage.k8s.io", "VolumeSnapshotClass")]);
        // The network-policy-api's cluster-wide policies, read by the netpol engine since issue 12.
        expected.extend([
            ("policy.networking.k8s.io", "ClusterNetworkPolicy"),
            ("policy.networking.k8s.io", "AdminNetworkPolicy"),
            ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
        ]);
        assert_eq!(declared, expected);
    }

    #[test]
    fn services_and_snapshot_classes_are_not_skipped() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: default}\nspec: {ports: [{port: 80}]}\n---\n\
             apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {name: c}\n\
             driver: ebs.csi.aws.com\ndeletionPolicy: Retain\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: default}\n",
            "in.yaml",
        );
        let report = run(&set, &Options::default());
        assert_eq!(report.summary.skipped.keys().collect::<Vec<_>>(), ["Secret"]);
    }

    #[test]
    fn only_and_skip_choose_engines_and_refuse_unknown_names() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let chosen = Engine::select(&names(&["pss", "rbac"]), &names(&["rbac"])).unwrap();
        assert_eq!(chosen.into_iter().collect::<Vec<_>>(), [Engine::Pss]);
        assert_eq!(Engine::select(&[], &names(&["load"])).unwrap().len(), Engine::ALL.len() - 1);
        let err = Engine::select(&names(&["psa"]), &[]).unwrap_err();
        assert!(err.to_string().starts_with("unknown engine \"psa\": choose from pss, rbac"), "{err}");
    }

    #[test]
    fn backup_findings_are_warnings_except_bad_schedules() {
        let f = |rule: &str| Finding::new("backup", rule, Severity::Error, "m");
        let clamped: Vec<Severity> =
            clamp_backup_severity(vec![f("no-backup"), f("bad-schedule"), f("never-runs")])
                .map(|f| f.severity)
                .collect();
        assert_eq!(clamped, [Severity::Warning, Severity::Error, Severity::Error]);
    }
}
