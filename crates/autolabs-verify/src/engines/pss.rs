//! Pod Security Standards over every Pod and pod template, against its namespace's labels
//! (or one level for everything, `--pod-security LEVEL[:VERSION]`).
//!
//! A violation of the `enforce` level is an error (the API server rejects the pod, or the
//! workload's controller cannot create it); of a stricter `warn`/`audit` level, a warning.

use std::collections::BTreeMap;

use autolabs_pss::{Level, LevelVersion, Violation, evaluate, forbidden_message, namespace_policy};

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
    let mut out = Vec::new();
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
                            format!("namespace {ns:?} is not among the inputs; its pods are evaluated as privileged (no labels)"),
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
