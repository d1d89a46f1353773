//! Pod Security Standards over every Pod and pod template, against its namespace's labels
//! (or one level for everything, `--pod-security LEVEL[:VERSION]`).
//!
//! A violation of the `enforce` level is an error (the API server rejects the pod, or the
//! workload's controller cannot create it); of a stricter `warn`/`audit` level, a warning.
//!
//! The labels themselves are checked on every namespace that runs workloads
//! ([`namespace_label_findings`]): no `enforce` label is a warning (its pods are admitted at the
//! cluster default, `privileged` unless the API server's AdmissionConfiguration says otherwise),
//! an unpinned `enforce-version` a warning (the next upgrade can start rejecting pods), missing
//! `warn`/`audit` an info. `kube-system` is exempt from the first: its CNI, kube-proxy and
//! static pods need `privileged`, so a missing label there is an info asking to state it.

use std::collections::BTreeMap;

use autolabs_pss::{
    AUDIT_LEVEL_LABEL, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL, Level, LevelVersion, Violation,
    WARN_LEVEL_LABEL, evaluate, forbidden_message, namespace_policy,
};

use crate::finding::{Finding, Severity};
use crate::objects::ObjectSet;

/// How pods are evaluated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Evaluate every pod at this level and version, whatever its namespace says.
    pub level: Option<LevelVersion>,
}

pub fn check(set: &ObjectSet, opts: Options) -> Vec<Finding> {
    let namespaces = set.namespaces();
    let declared: BTreeMap<&str, bool> =
        set.of_kind("", "Namespace").map(|o| (o.name.as_str(), true)).collect();
    let mut out = if opts.level.is_none() { namespace_label_findings(set) } else { Vec::new() };
    let mut unlabelled_reported = BTreeMap::new();
    for obj in &set.objects {
        let Some(template) = obj.pod_template() else { continue };
        let ns = obj.namespace.clone().unwrap_or_else(|| "default".into());
        let (enforce, warn) = match opts.level {
            Some(level) => (level, None),
            None => {
                let labels = namespaces.get(&ns).cloned().unwrap_or_default();
                let policy = namespace_policy(&labels);
                if !declared.contains_key(ns.as_str()) && !unlabelled_reported.contains_key(&ns) {
                    unlabelled_reported.insert(ns.clone(), ());
                    out.push(
                        Finding::new(
                            "pss",
                            "namespace-not-supplied",
                            Severity::Info,
                            format!(
                                "namespace {ns:?} is not among the inputs, so its Pod Security labels (kept on the \
                                 cluster's Namespace object) are unknown: its pods are evaluated as privileged; supply \
                                 the Namespace or run `verify --cluster`"
                            ),
                        )
                        .at(obj, ""),
                    );
                }
                let stricter = [policy.warn, policy.audit]
                    .into_iter()
                    .filter(|lv| lv.level > policy.enforce.level)
                    .max_by_key(|lv| lv.level);
                (policy.enforce, stricter)
            }
        };
        let spec_line_path = template.spec_path.clone();
        let violations = evaluate(&template.meta, &template.spec, enforce);
        if !violations.is_empty() && enforce.level > Level::Privileged {
            for v in &violations {
                out.push(finding(obj, &spec_line_path, v, enforce, Severity::Error));
            }
        }
        if let Some(w) = warn {
            let enforced: Vec<&str> = violations.iter().map(|v| v.check).collect();
            for v in evaluate(&template.meta, &template.spec, w) {
                if !enforced.contains(&v.check) {
                    out.push(finding(obj, &spec_line_path, &v, w, Severity::Warning));
                }
            }
        }
    }
    out
}

/// Namespaces that would never need a Pod Security label to say `privileged`: the node agents
/// (CNI, kube-proxy, static control-plane pods) live there and need it.
const SYSTEM_NAMESPACES: [&str; 1] = ["kube-system"];

/// Findings about the Pod Security labels of every declared namespace that runs workloads.
// Label semantics: k8s.io/pod-security-admission/api/helpers.go PolicyToEvaluate (an absent
// label takes the AdmissionConfiguration default; an absent version is `latest`).
pub fn namespace_label_findings(set: &crate::ObjectSet) -> Vec<Finding> {
    let mut workloads: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in set.objects.iter().filter(|o| o.pod_template().is_some()) {
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        workloads.entry(ns).or_default().push(format!("{}/{}", o.kind, o.name));
    }
    let mut out = Vec::new();
    for ns_obj in set.of_kind("", "Namespace") {
        let Some(runs) = workloads.get(&ns_obj.name) else { continue };
        let ns = &ns_obj.name;
        let example = match runs.len() {
            1 => runs[0].clone(),
            n => format!("{} and {} more", runs[0], n - 1),
        };
        let labels = ns_obj.labels();
        let at = |f: Finding| f.at(ns_obj, "metadata.labels");
        let enforce = labels.get(ENFORCE_LEVEL_LABEL);
        match enforce {
            None if SYSTEM_NAMESPACES.contains(&ns.as_str()) => out.push(at(Finding::new(
                "pss",
                "namespace-enforce-unstated",
                Severity::Info,
                format!(
                    "namespace {ns:?} has no `{ENFORCE_LEVEL_LABEL}` label; its system pods need privileged, so \
                     state it (`{ENFORCE_LEVEL_LABEL}: privileged`) to record the choice"
                ),
            ))),
            None => out.push(at(Finding::new(
                "pss",
                "namespace-no-enforce",
                Severity::Warning,
                format!(
                    "namespace {ns:?} runs {example} but has no `{ENFORCE_LEVEL_LABEL}` label: its pods are \
                     admitted at the cluster's default level (privileged unless the API server's \
                     AdmissionConfiguration sets one), so a privileged or hostPath pod is accepted there; label it \
                     `baseline` or `restricted` (or `privileged` on purpose)"
                ),
            ))),
            // `privileged` is the same at every version: nothing to pin.
            Some(level) if level != "privileged" && !labels.contains_key(ENFORCE_VERSION_LABEL) => {
                out.push(at(Finding::new(
                    "pss",
                    "namespace-enforce-unpinned",
                    Severity::Warning,
                    format!(
                        "namespace {ns:?} enforces {level:?} without `{ENFORCE_VERSION_LABEL}`: it follows the API \
                         server's version (`latest`), so a cluster upgrade that tightens {level:?} starts rejecting \
                         pods of {example}; pin it (e.g. `{ENFORCE_VERSION_LABEL}: v1.32`)"
                    ),
                )))
            }
            Some(_) => {}
        }
        if enforce.is_some() {
            let missing: Vec<&str> = [WARN_LEVEL_LABEL, AUDIT_LEVEL_LABEL]
                .into_iter()
                .filter(|l| !labels.contains_key(*l))
                .collect();
            if !missing.is_empty() {
                out.push(at(Finding::new(
                    "pss",
                    "namespace-no-warn-audit",
                    Severity::Info,
                    format!(
                        "namespace {ns:?} has no `{}` label: violations of a stricter or newer level are neither \
                         shown to whoever applies the pods (warn) nor recorded in the audit log (audit); set them \
                         (e.g. to the enforce level at `latest`) to see an upgrade's breakage before it happens",
                        missing.join("`/`")
                    ),
                )));
            }
        }
    }
    out
}

fn finding(
    obj: &crate::Object,
    spec_path: &str,
    v: &Violation,
    policy: LevelVersion,
    severity: Severity,
) -> Finding {
    let verb = if severity == Severity::Error { "violates" } else { "would violate" };
    let message = forbidden_message(policy, std::slice::from_ref(v)).replacen("violates", verb, 1);
    Finding::new("pss", v.check, severity, message).at(obj, spec_path)
}
