//! Which checks run at a level and version, in which order, and the messages upstream
//! builds from their results.
//!
//! Mirrors `k8s.io/pod-security-admission/policy/registry.go`: every check lists its
//! versioned implementations (`MinimumVersion`); at a policy version the newest
//! implementation not newer than it applies. Baseline checks run at `baseline` and
//! `restricted`; at `restricted` a baseline check is skipped when an active restricted
//! check lists it in `OverrideCheckIDs`. Results come baseline first, then restricted,
//! each group sorted by check ID, as upstream orders them.

use autolabs_k8s::k8s::ObjectMeta;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use serde::Serialize;

use crate::checks::{CheckFn, baseline as b, restricted as r};
use crate::format::go_quote;
use crate::policy::{Level, LevelVersion, Version};

/// The newest policy version any check was introduced at (upstream's `maxVersion`):
/// `latest`, and every version after it, evaluate as this one.
pub const LATEST_POLICY_MINOR: u32 = 34;

/// Knobs upstream sets per API server rather than per namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvaluationOptions {
    /// Relax `runAsNonRoot`, `runAsUser` and `procMount` for pods with `hostUsers: false`
    /// (upstream's `RelaxPolicyForUserNamespacePods`, behind the
    /// `UserNamespacesPodSecurityStandards` feature gate; off by default).
    pub relax_for_user_namespace_pods: bool,
    /// Emulate an API server of this minor version: `latest` (and newer versions) then mean
    /// this version, as upstream's `NewEvaluator(checks, emulationVersion)` does.
    pub emulation_minor: Option<u32>,
}

impl EvaluationOptions {
    /// The newest policy minor version that can be evaluated with these options.
    pub fn max_minor(&self) -> u32 {
        self.emulation_minor.map_or(LATEST_POLICY_MINOR, |minor| minor.min(LATEST_POLICY_MINOR))
    }
}

/// One check that forbids the pod at the evaluated level and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Upstream check ID, e.g. `"allowPrivilegeEscalation"`.
    pub check: &'static str,
    /// The level the check belongs to (`Baseline` or `Restricted`).
    pub level: Level,
    /// Upstream's `ForbiddenReason`, e.g. `"allowPrivilegeEscalation != false"`.
    pub reason: &'static str,
    /// Upstream's `ForbiddenDetail`, e.g.
    /// `container "c" must set securityContext.allowPrivilegeEscalation=false`; may be empty.
    pub detail: String,
}

/// One implementation of a check, valid from `min_minor` until the next one.
struct VersionedCheck {
    min_minor: u32,
    check: CheckFn,
    /// Baseline check IDs this (restricted) check replaces while it is active.
    overrides: &'static [&'static str],
}

struct CheckDefinition {
    id: &'static str,
    level: Level,
    /// Strictly increasing `min_minor`.
    versions: &'static [VersionedCheck],
}

const fn v(min_minor: u32, check: CheckFn) -> VersionedCheck {
    VersionedCheck { min_minor, check, overrides: &[] }
}

const fn v_over(min_minor: u32, check: CheckFn, overrides: &'static [&'static str]) -> VersionedCheck {
    VersionedCheck { min_minor, check, overrides }
}

/// Baseline checks, sorted by ID (Go byte order, as upstream sorts them).
// k8s.io/pod-security-admission/policy/check_*.go (Level: api.LevelBaseline)
static BASELINE_CHECKS: [CheckDefinition; 12] = [
    CheckDefinition {
        id: "appArmorProfile",
        level: Level::Baseline,
        versions: &[v(0, b::app_armor_profile_v1_0)],
    },
    CheckDefinition {
        id: "capabilities_baseline",
        level: Level::Baseline,
        versions: &[v(0, b::capabilities_baseline_v1_0)],
    },
    CheckDefinition {
        id: "hostNamespaces",
        level: Level::Baseline,
        versions: &[v(0, b::host_namespaces_v1_0)],
    },
    CheckDefinition {
        id: "hostPathVolumes",
        level: Level::Baseline,
        versions: &[v(0, b::host_path_volumes_v1_0)],
    },
    CheckDefinition { id: "hostPorts", level: Level::Baseline, versions: &[v(0, b::host_ports_v1_0)] },
    CheckDefinition {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        versions: &[v(34, b::host_probes_and_host_lifecycle_v1_34)],
    },
    CheckDefinition { id: "privileged", level: Level::Baseline, versions: &[v(0, b::privileged_v1_0)] },
    CheckDefinition { id: "procMount", level: Level::Baseline, versions: &[v(0, b::proc_mount_v1_0)] },
    CheckDefinition {
        id: "seLinuxOptions",
        level: Level::Baseline,
        versions: &[v(0, b::se_linux_options_v1_0), v(31, b::se_linux_options_v1_31)],
    },
    CheckDefinition {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        versions: &[v(0, b::seccomp_profile_baseline_v1_0), v(19, b::seccomp_profile_baseline_v1_19)],
    },
    CheckDefinition {
        id: "sysctls",
        level: Level::Baseline,
        versions: &[
            v(0, b::sysctls_v1_0),
            v(27, b::sysctls_v1_27),
            v(29, b::sysctls_v1_29),
            v(32, b::sysctls_v1_32),
        ],
    },
    CheckDefinition {
        id: "windowsHostProcess",
        level: Level::Baseline,
        versions: &[v(0, b::windows_host_process_v1_0)],
    },
];

/// Restricted checks, sorted by ID (Go byte order, as upstream sorts them).
// k8s.io/pod-security-admission/policy/check_*.go (Level: api.LevelRestricted)
static RESTRICTED_CHECKS: [CheckDefinition; 6] = [
    CheckDefinition {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        versions: &[v(8, r::allow_privilege_escalation_v1_8), v(25, r::allow_privilege_escalation_v1_25)],
    },
    CheckDefinition {
        id: "capabilities_restricted",
        level: Level::Restricted,
        versions: &[
            v_over(22, r::capabilities_restricted_v1_22, &["capabilities_baseline"]),
            v_over(25, r::capabilities_restricted_v1_25, &["capabilities_baseline"]),
        ],
    },
    CheckDefinition {
        id: "restrictedVolumes",
        level: Level::Restricted,
        versions: &[v_over(0, r::restricted_volumes_v1_0, &["hostPathVolumes"])],
    },
    CheckDefinition {
        id: "runAsNonRoot",
        level: Level::Restricted,
        versions: &[v(0, r::run_as_non_root_v1_0)],
    },
    CheckDefinition { id: "runAsUser", level: Level::Restricted, versions: &[v(23, r::run_as_user_v1_23)] },
    CheckDefinition {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        versions: &[
            v_over(19, r::seccomp_profile_restricted_v1_19, &["seccompProfile_baseline"]),
            v_over(25, r::seccomp_profile_restricted_v1_25, &["seccompProfile_baseline"]),
        ],
    },
];

/// The implementation of `definition` that applies at `minor`, if the check exists yet.
// k8s.io/pod-security-admission/policy/registry.go inflateVersions
fn active_version(definition: &CheckDefinition, minor: u32) -> Option<&VersionedCheck> {
    definition.versions.iter().rev().find(|versioned| versioned.min_minor <= minor)
}

/// Whether an active restricted check replaces baseline check `id` at `minor`.
// k8s.io/pod-security-admission/policy/registry.go populate (overrides)
fn overridden_at(id: &str, minor: u32) -> bool {
    RESTRICTED_CHECKS
        .iter()
        .filter_map(|definition| active_version(definition, minor))
        .any(|versioned| versioned.overrides.contains(&id))
}

/// Calls `visit` for each check that runs at `level` and `minor`, in upstream's order.
fn for_each_active_check(level: Level, minor: u32, mut visit: impl FnMut(&CheckDefinition, &VersionedCheck)) {
    if level == Level::Privileged {
        return;
    }
    for definition in &BASELINE_CHECKS {
        if level == Level::Restricted && overridden_at(definition.id, minor) {
            continue;
        }
        if let Some(versioned) = active_version(definition, minor) {
            visit(definition, versioned);
        }
    }
    if level == Level::Restricted {
        for definition in &RESTRICTED_CHECKS {
            if let Some(versioned) = active_version(definition, minor) {
                visit(definition, versioned);
            }
        }
    }
}

/// The IDs of the checks that run at `policy`, in the order their violations are reported.
pub fn active_check_ids(policy: LevelVersion) -> Vec<&'static str> {
    active_check_ids_with_options(policy, &EvaluationOptions::default())
}

/// [`active_check_ids`] with explicit options (emulated server version).
pub fn active_check_ids_with_options(policy: LevelVersion, options: &EvaluationOptions) -> Vec<&'static str> {
    let minor = policy.version.effective_minor(options.max_minor());
    let mut ids = Vec::new();
    for_each_active_check(policy.level, minor, |definition, _| ids.push(definition.id));
    ids
}

/// Evaluates a pod (metadata for the annotation-based checks, spec for the rest) against a
/// policy; an empty result means the pod is allowed. `privileged` allows everything.
///
/// ```
/// use autolabs_k8s::k8s::ObjectMeta;
/// use autolabs_k8s::k8s::k8s_openapi::api::core::v1::{Container, PodSpec};
/// use autolabs_pss::{Level, LevelVersion, Version, evaluate};
///
/// let container = Container { name: "app".into(), image: Some("nginx".into()), ..Default::default() };
/// let spec = PodSpec { containers: vec![container], ..Default::default() };
/// let at = |level| LevelVersion::new(level, Version::Latest);
/// assert!(evaluate(&ObjectMeta::default(), &spec, at(Level::Baseline)).is_empty());
/// let restricted = evaluate(&ObjectMeta::default(), &spec, at(Level::Restricted));
/// assert!(restricted.iter().any(|v| v.check == "runAsNonRoot"));
/// ```
// k8s.io/pod-security-admission/policy/registry.go checkRegistry.EvaluatePod
pub fn evaluate(meta: &ObjectMeta, spec: &PodSpec, policy: LevelVersion) -> Vec<Violation> {
    evaluate_with_options(meta, spec, policy, &EvaluationOptions::default())
}

/// [`evaluate`] with explicit options.
pub fn evaluate_with_options(
    meta: &ObjectMeta,
    spec: &PodSpec,
    policy: LevelVersion,
    options: &EvaluationOptions,
) -> Vec<Violation> {
    let minor = policy.version.effective_minor(options.max_minor());
    let mut violations = Vec::new();
    for_each_active_check(policy.level, minor, |definition, versioned| {
        if let Some(finding) = (versioned.check)(meta, spec, options) {
            violations.push(Violation {
                check: definition.id,
                level: definition.level,
                reason: finding.reason,
                detail: finding.detail,
            });
        }
    });
    violations
}

/// Evaluates the pod template of a workload (Deployment, Job, …), as upstream's
/// `extractPodSpecFromTemplate` does: missing metadata or spec count as empty.
// k8s.io/pod-security-admission/admission/admission.go extractPodSpecFromTemplate
pub fn evaluate_template(template: &PodTemplateSpec, policy: LevelVersion) -> Vec<Violation> {
    let empty_meta;
    let meta = match &template.metadata {
        Some(meta) => meta,
        None => {
            empty_meta = ObjectMeta::default();
            &empty_meta
        }
    };
    let empty_spec;
    let spec = match &template.spec {
        Some(spec) => spec,
        None => {
            empty_spec = PodSpec::default();
            &empty_spec
        }
    };
    evaluate(meta, spec, policy)
}

/// Upstream's aggregated detail: `reason1 (detail1), reason2, reason3 (detail3)`.
// k8s.io/pod-security-admission/policy/checks.go AggregateCheckResult.ForbiddenDetail
pub fn aggregate_detail(violations: &[Violation]) -> String {
    let mut out = String::new();
    for (index, violation) in violations.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push_str(violation.reason);
        if !violation.detail.is_empty() {
            out.push_str(" (");
            out.push_str(&violation.detail);
            out.push(')');
        }
    }
    out
}

/// The enforce rejection message:
/// `violates PodSecurity "restricted:latest": reason1 (detail1), reason2 (detail2)`.
///
/// `policy` is the namespace's enforce policy as labelled (e.g. `restricted:v1.40` stays
/// `v1.40` in the text even though it evaluates as the newest known version).
// k8s.io/pod-security-admission/admission/admission.go EvaluatePod (forbiddenResponse)
pub fn forbidden_message(policy: LevelVersion, violations: &[Violation]) -> String {
    format!("violates PodSecurity {}: {}", go_quote(&policy.to_string()), aggregate_detail(violations))
}

/// The warn-mode message: `would violate PodSecurity "restricted:latest": …`.
// k8s.io/pod-security-admission/admission/admission.go EvaluatePod (warnings)
pub fn warning_message(policy: LevelVersion, violations: &[Violation]) -> String {
    format!("would violate PodSecurity {}: {}", go_quote(&policy.to_string()), aggregate_detail(violations))
}

/// Whether `version` is exactly a version upstream's registry knows (`v1.0` to
/// `v1.LATEST_POLICY_MINOR`, or `latest`); newer versions are valid but evaluate as latest.
pub fn is_known_version(version: Version) -> bool {
    match version {
        Version::Latest => true,
        Version::V1(minor) => minor <= LATEST_POLICY_MINOR,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checks::test_support::{meta, spec};

    fn lv(text: &str) -> LevelVersion {
        text.parse().unwrap_or(LevelVersion::PRIVILEGED_LATEST)
    }

    #[test]
    fn tables_are_sorted_like_upstream() {
        // k8s.io/pod-security-admission/policy/registry.go populate: sort.Slice by ID
        for table in [&BASELINE_CHECKS[..], &RESTRICTED_CHECKS[..]] {
            let ids: Vec<&str> = table.iter().map(|d| d.id).collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(ids, sorted);
            for definition in table {
                let minors: Vec<u32> = definition.versions.iter().map(|v| v.min_minor).collect();
                assert!(minors.windows(2).all(|w| w[0] < w[1]), "{} versions must increase", definition.id);
            }
        }
        // maxVersion is the newest MinimumVersion of any check.
        let newest = BASELINE_CHECKS
            .iter()
            .chain(&RESTRICTED_CHECKS)
            .flat_map(|d| d.versions)
            .map(|v| v.min_minor)
            .max();
        assert_eq!(newest, Some(LATEST_POLICY_MINOR));
    }

    #[test]
    fn overrides_only_name_baseline_checks() {
        // k8s.io/pod-security-admission/policy/registry.go validateChecks (second pass)
        for definition in &RESTRICTED_CHECKS {
            for versioned in definition.versions {
                for id in versioned.overrides {
                    assert!(BASELINE_CHECKS.iter().any(|b| b.id == *id), "{id} is not a baseline check");
                }
            }
        }
    }

    #[test]
    fn active_checks_by_level_and_version() {
        // k8s.io/pod-security-admission/policy/registry.go populate / EvaluatePod
        let rows: [(&str, &[&str]); 7] = [
            ("privileged:latest", &[]),
            (
                "baseline:v1.0",
                &[
                    "appArmorProfile",
                    "capabilities_baseline",
                    "hostNamespaces",
                    "hostPathVolumes",
                    "hostPorts",
                    "privileged",
                    "procMount",
                    "seLinuxOptions",
                    "seccompProfile_baseline",
                    "sysctls",
                    "windowsHostProcess",
                ],
            ),
            (
                "baseline:latest",
                &[
                    "appArmorProfile",
                    "capabilities_baseline",
                    "hostNamespaces",
                    "hostPathVolumes",
                    "hostPorts",
                    "hostProbesAndHostLifecycle",
                    "privileged",
                    "procMount",
                    "seLinuxOptions",
                    "seccompProfile_baseline",
                    "sysctls",
                    "windowsHostProcess",
                ],
            ),
            (
                // restrictedVolumes replaces hostPathVolumes from 1.0.
                "restricted:v1.0",
                &[
                    "appArmorProfile",
                    "capabilities_baseline",
                    "hostNamespaces",
                    "hostPorts",
                    "privileged",
                    "procMount",
                    "seLinuxOptions",
                    "seccompProfile_baseline",
                    "sysctls",
                    "windowsHostProcess",
                    "restrictedVolumes",
                    "runAsNonRoot",
                ],
            ),
            (
                // allowPrivilegeEscalation from 1.8; seccomp restricted replaces baseline at 1.19.
                "restricted:v1.19",
                &[
                    "appArmorProfile",
                    "capabilities_baseline",
                    "hostNamespaces",
                    "hostPorts",
                    "privileged",
                    "procMount",
                    "seLinuxOptions",
                    "sysctls",
                    "windowsHostProcess",
                    "allowPrivilegeEscalation",
                    "restrictedVolumes",
                    "runAsNonRoot",
                    "seccompProfile_restricted",
                ],
            ),
            (
                // capabilities restricted replaces baseline at 1.22; runAsUser from 1.23.
                "restricted:v1.23",
                &[
                    "appArmorProfile",
                    "hostNamespaces",
                    "hostPorts",
                    "privileged",
                    "procMount",
                    "seLinuxOptions",
                    "sysctls",
                    "windowsHostProcess",
                    "allowPrivilegeEscalation",
                    "capabilities_restricted",
                    "restrictedVolumes",
                    "runAsNonRoot",
                    "runAsUser",
                    "seccompProfile_restricted",
                ],
            ),
            (
                "restricted:v1.99",
                &[
                    "appArmorProfile",
                    "hostNamespaces",
                    "hostPorts",
                    "hostProbesAndHostLifecycle",
                    "privileged",
                    "procMount",
                    "seLinuxOptions",
                    "sysctls",
                    "windowsHostProcess",
                    "allowPrivilegeEscalation",
                    "capabilities_restricted",
                    "restrictedVolumes",
                    "runAsNonRoot",
                    "runAsUser",
                    "seccompProfile_restricted",
                ],
            ),
        ];
        for (policy, want) in rows {
            assert_eq!(active_check_ids(lv(policy)), want, "{policy}");
        }
    }

    #[test]
    fn emulation_version_caps_latest() {
        // k8s.io/pod-security-admission/policy/registry.go NewEvaluator(emulationVersion)
        let options = EvaluationOptions { emulation_minor: Some(33), ..Default::default() };
        let ids = active_check_ids_with_options(lv("baseline:latest"), &options);
        assert!(!ids.contains(&"hostProbesAndHostLifecycle"));
        let ids = active_check_ids_with_options(lv("baseline:v1.34"), &options);
        assert!(!ids.contains(&"hostProbesAndHostLifecycle"));
        assert_eq!(EvaluationOptions { emulation_minor: Some(50), ..Default::default() }.max_minor(), 34);
    }

    fn restricted_violator() -> (ObjectMeta, PodSpec) {
        let spec = spec(json!({
            "hostNetwork": true,
            "containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}],
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}]
        }));
        (meta(json!({"name": "p"})), spec)
    }

    #[test]
    fn baseline_violations_and_message() {
        // k8s.io/pod-security-admission/admission/admission.go: violates PodSecurity %q: %s
        let (meta, spec) = restricted_violator();
        let policy = lv("baseline:latest");
        let violations = evaluate(&meta, &spec, policy);
        let ids: Vec<&str> = violations.iter().map(|v| v.check).collect();
        assert_eq!(ids, ["capabilities_baseline", "hostNamespaces", "hostPathVolumes"]);
        assert_eq!(
            forbidden_message(policy, &violations),
            r#"violates PodSecurity "baseline:latest": non-default capabilities (container "c" must not include "NET_RAW" in securityContext.capabilities.add), host namespaces (hostNetwork=true), hostPath volumes (volume "h")"#
        );
    }

    #[test]
    fn restricted_uses_overrides_and_orders_baseline_first() {
        let (meta, spec) = restricted_violator();
        let policy = lv("restricted:v1.40");
        let violations = evaluate(&meta, &spec, policy);
        let ids: Vec<&str> = violations.iter().map(|v| v.check).collect();
        assert_eq!(
            ids,
            [
                "hostNamespaces",
                "allowPrivilegeEscalation",
                "capabilities_restricted",
                "restrictedVolumes",
                "runAsNonRoot",
                "seccompProfile_restricted"
            ]
        );
        assert_eq!(violations[0].level, Level::Baseline);
        assert_eq!(violations[1].level, Level::Restricted);
        assert_eq!(
            warning_message(policy, &violations[..1]),
            r#"would violate PodSecurity "restricted:v1.40": host namespaces (hostNetwork=true)"#
        );
    }

    #[test]
    fn aggregate_detail_omits_empty_details() {
        // k8s.io/pod-security-admission/policy/checks.go AggregateCheckResult.ForbiddenDetail
        let violation = |reason, detail: &str| Violation {
            check: "x",
            level: Level::Baseline,
            reason,
            detail: detail.to_string(),
        };
        let violations = [violation("host ports", "8080, 9090"), violation("privileged containers", "")];
        assert_eq!(aggregate_detail(&violations), "host ports (8080, 9090), privileged containers");
    }

    #[test]
    fn privileged_allows_everything_and_templates_default() {
        let (meta, spec) = restricted_violator();
        assert!(evaluate(&meta, &spec, LevelVersion::PRIVILEGED_LATEST).is_empty());
        let template = PodTemplateSpec { metadata: None, spec: None };
        assert!(evaluate_template(&template, lv("restricted:latest")).is_empty());
        let template = PodTemplateSpec { metadata: Some(meta), spec: Some(spec) };
        assert_eq!(evaluate_template(&template, lv("baseline:v1.0")).len(), 3);
    }

    #[test]
    fn known_versions() {
        assert!(is_known_version(Version::Latest));
        assert!(is_known_version(Version::V1(LATEST_POLICY_MINOR)));
        assert!(!is_known_version(Version::V1(LATEST_POLICY_MINOR + 1)));
    }
}
