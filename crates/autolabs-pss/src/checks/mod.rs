//! The individual checks, one function per upstream `VersionedCheck.CheckPod`.
//!
//! Each function returns `None` when the pod is allowed and a [`Finding`] (upstream's
//! `ForbiddenReason` and `ForbiddenDetail`) when it is not. Lists are collected only for
//! offending items, so an allowed pod costs no heap allocation.

pub(crate) mod baseline;
pub(crate) mod restricted;

use autolabs_k8s::k8s::ObjectMeta;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::PodSpec;

use crate::registry::EvaluationOptions;

/// Why one check forbids a pod: upstream's `CheckResult{Allowed: false, ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Short, always shown, e.g. `"allowPrivilegeEscalation != false"`.
    pub reason: &'static str,
    /// Which containers or values, e.g. `container "c" must set ...`; may be empty.
    pub detail: String,
}

/// Upstream's `CheckPodFn`, with the evaluation options (user-namespace relaxation).
pub(crate) type CheckFn = fn(&ObjectMeta, &PodSpec, &EvaluationOptions) -> Option<Finding>;

/// `relaxPolicyForUserNamespacePod`: only when the operator opted in and the pod sets
/// `hostUsers: false`.
// k8s.io/pod-security-admission/policy/helpers.go relaxPolicyForUserNamespacePod
pub(crate) fn relax_for_user_namespace_pod(spec: &PodSpec, options: &EvaluationOptions) -> bool {
    options.relax_for_user_namespace_pods && spec.host_users == Some(false)
}

/// `podSpec.OS != nil && podSpec.OS.Name == corev1.Windows`.
pub(crate) fn is_windows_pod(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

/// `"%s %s"` with `pluralize("container", "containers", n)` and `joinQuote(names)`.
pub(crate) fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        crate::format::pluralize("container", "containers", names.len()),
        crate::format::join_quote(names)
    )
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds pods from JSON so each table row reads like the upstream test case.
    use autolabs_k8s::k8s::ObjectMeta;
    use autolabs_k8s::k8s::k8s_openapi::api::core::v1::PodSpec;

    use super::{CheckFn, Finding};
    use crate::registry::EvaluationOptions;

    pub(crate) fn spec(value: serde_json::Value) -> PodSpec {
        match serde_json::from_value(value) {
            Ok(spec) => spec,
            Err(error) => panic!("test pod spec does not parse: {error}"),
        }
    }

    pub(crate) fn meta(value: serde_json::Value) -> ObjectMeta {
        match serde_json::from_value(value) {
            Ok(meta) => meta,
            Err(error) => panic!("test metadata does not parse: {error}"),
        }
    }

    /// One table row: pod (metadata + spec) → expected `(reason, detail)` or allowed.
    pub(crate) struct Row {
        pub name: &'static str,
        pub meta: serde_json::Value,
        pub spec: serde_json::Value,
        pub want: Option<(&'static str, &'static str)>,
    }

    pub(crate) fn run_rows(check: CheckFn, rows: Vec<Row>) {
        run_rows_with(check, &EvaluationOptions::default(), rows);
    }

    pub(crate) fn run_rows_with(check: CheckFn, options: &EvaluationOptions, rows: Vec<Row>) {
        for row in rows {
            let got = check(&meta(row.meta), &spec(row.spec), options);
            let want = row.want.map(|(reason, detail)| Finding { reason, detail: detail.to_string() });
            assert_eq!(got, want, "row: {}", row.name);
        }
    }
}
