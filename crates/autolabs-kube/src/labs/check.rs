//! The load-time check of lab templates: each template's Pod, built as it would be for a real
//! lab, must pass Pod Security `restricted` and the platform's `labs` LimitRange, or the
//! provisioner refuses to start with a clear error — a lab that the API server would reject
//! is found when the template is loaded, not when a student asks for it.

use std::collections::BTreeMap;

use autolabs_model::lab::{LabContext, LabRequest, Templates, desired};
use autolabs_model::{Platform, render};
use autolabs_pss::{Level, LevelVersion, Version, evaluate, namespace_policy};
use autolabs_resources::{Namespace, admit_pod};
use k8s_openapi::api::core::v1::LimitRange;

use super::error::LabsError;

/// An id that is valid and used only to build the Pod of a check.
const CHECK_ID: &str = "template-check";
/// 2026-01-01T00:00:00Z: any valid time does; nothing here depends on it.
const CHECK_TIME: u64 = 1_767_225_600;

/// The Pod Security policy labs are held to: the `labs` namespace's enforce level and version,
/// and never less than `restricted`.
fn labs_policy(platform: &Platform, namespace: &str) -> LevelVersion {
    let rendered = render(platform);
    let labels: BTreeMap<String, String> = rendered
        .find("Namespace", None, namespace)
        .and_then(|m| m.value.pointer("/metadata/labels"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    // k8s.io/pod-security-admission/api/helpers.go PolicyToEvaluate
    let enforce = namespace_policy(&labels).enforce;
    if enforce.level == Level::Restricted {
        enforce
    } else {
        LevelVersion::new(Level::Restricted, Version::Latest)
    }
}

/// The rendered LimitRanges of the labs namespace, as our admission engine reads them.
fn labs_limits(platform: &Platform, namespace: &str) -> Result<Namespace, LabsError> {
    let limit_ranges: Vec<LimitRange> = render(platform)
        .typed::<LimitRange>()
        .into_iter()
        .filter(|lr| lr.metadata.namespace.as_deref() == Some(namespace))
        .collect();
    Namespace::from_k8s(&limit_ranges, &[]).map_err(|e| LabsError::Namespace(e.to_string()))
}

/// Checks every template; one [`LabsError::TemplateRejected`] per template that would be
/// rejected (each with every reason), in name order.
pub fn check_templates(templates: &Templates, platform: &Platform, namespace: &str) -> Vec<LabsError> {
    let policy = labs_policy(platform, namespace);
    let limits = match labs_limits(platform, namespace) {
        Ok(limits) => limits,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    for template in templates.iter() {
        let name = template.metadata.name.clone();
        let request = LabRequest { id: CHECK_ID.into(), template: name.clone(), ttl_seconds: None };
        let bundle = match desired(template, &request, &LabContext::new(platform, CHECK_TIME)) {
            Ok(bundle) => bundle,
            Err(e) => {
                errors.push(LabsError::TemplateRejected { template: name, problems: vec![e.to_string()] });
                continue;
            }
        };
        let mut problems = Vec::new();
        if let Some(spec) = &bundle.pod.spec {
            // k8s.io/pod-security-admission/admission/admission.go EvaluatePod
            for violation in evaluate(&bundle.pod.metadata, spec, policy) {
                problems.push(format!(
                    "Pod Security {policy}: {}: {}",
                    violation.reason,
                    if violation.detail.is_empty() { violation.check } else { &violation.detail }
                ));
            }
        }
        // plugin/pkg/admission/limitranger/admission.go + pod validation after defaulting
        if let Err(rejection) = admit_pod(&limits, &bundle.pod) {
            problems.push(format!("LimitRange: {}", rejection.message));
        }
        if !problems.is_empty() {
            errors.push(LabsError::TemplateRejected { template: name, problems });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use autolabs_model::lab::load_templates;

    const GOOD: &str = "apiVersion: autolabs.io/v1alpha1\nkind: LabTemplate\nmetadata: {name: good}\nspec:\n  image: busybox:1.36\n  ports: [{name: http, port: 8080}]\n  resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 256Mi}}\n";

    #[test]
    fn shipped_style_templates_pass() {
        let platform = Platform::default();
        let templates = load_templates(&[("good.yaml", GOOD)], &platform).expect("loads");
        assert!(check_templates(&templates, &platform, "labs").is_empty());
    }

    #[test]
    fn the_labs_namespace_is_held_to_restricted() {
        let policy = labs_policy(&Platform::default(), "labs");
        assert_eq!(policy.level, Level::Restricted);
        // A namespace the platform does not render is still held to restricted:latest.
        assert_eq!(
            labs_policy(&Platform::default(), "nowhere"),
            LevelVersion::new(Level::Restricted, Version::Latest)
        );
    }
}
