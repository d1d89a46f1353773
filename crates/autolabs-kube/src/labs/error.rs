//! [`LabsError`]: every way a lab operation can fail, with the HTTP status and stable code the
//! lab API answers with and a message in English or Russian.

use autolabs_model::lab::{LabError, Lang, quota};
use serde::Serialize;

/// Why a lab cannot be created right now: a quota of the `labs` namespace has no room for
/// one more lab of the template. The numbers are the quota's, as the API server counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFull {
    pub template: String,
    /// The ResourceQuota that is exhausted.
    pub quota: String,
    /// The quota resource that runs out (`requests.cpu`, `pods`, `services`…).
    pub resource: String,
    pub used: String,
    pub hard: String,
    /// What one more lab of the template would add.
    pub per_lab: String,
    /// Quota resources whose `used` is more than the labs that exist are charged: the quota
    /// controller has not caught up, and the refusal may end when it recalculates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<StaleCharge>,
}

/// A quota resource whose `used` disagrees with the lab Pods that exist: they are charged
/// `accounted`, the quota says `used` (a create refused after quota admission charged it, or
/// Pods gone since the quota controller's last pass; it recalculates within minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaleCharge {
    pub quota: String,
    pub resource: String,
    /// What the quota's `status.used` says.
    pub used: String,
    /// What the lab Pods that exist are charged.
    pub accounted: String,
}

impl ClusterFull {
    /// The numbers of an API server's quota rejection ([`quota::QuotaRefusal::parse`] reads
    /// them); the first exceeded resource is reported.
    pub fn from_quota_message(template: &str, message: &str) -> Option<ClusterFull> {
        let refusal = quota::QuotaRefusal::parse(message)?;
        Some(ClusterFull {
            template: template.to_string(),
            quota: refusal.quota,
            resource: refusal.resource,
            used: refusal.used,
            hard: refusal.limited,
            per_lab: refusal.requested,
            stale: Vec::new(),
        })
    }

    fn numbers(&self, lang: Lang) -> String {
        let mut text = match lang {
            Lang::En => format!(
                "quota {} {}: {} of {} used, a {} lab needs {}",
                self.quota, self.resource, self.used, self.hard, self.template, self.per_lab
            ),
            Lang::Ru => format!(
                "квота {} {}: занято {} из {}, лабораторной {} нужно {}",
                self.quota, self.resource, self.used, self.hard, self.template, self.per_lab
            ),
        };
        for stale in &self.stale {
            text.push_str(&match lang {
                Lang::En => format!(
                    "; the quota counts {} {} but the labs that exist account for {}: its controller has not caught up yet",
                    stale.resource, stale.used, stale.accounted
                ),
                Lang::Ru => format!(
                    "; квота учитывает {} {}, а существующим лабораторным нужно {}: её контроллер ещё не пересчитал",
                    stale.resource, stale.used, stale.accounted
                ),
            });
        }
        text
    }
}

/// An error of the lab provisioner. [`LabsError::status`] and [`LabsError::code`] are what
/// the HTTP API answers; [`LabsError::message`] the text, in the caller's language.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LabsError {
    /// The request breaks a lab rule (id, template, TTL, extension).
    #[error("{0}")]
    Lab(#[from] LabError),
    /// No lab has this id.
    #[error("there is no lab {id:?}")]
    NotFound { id: String },
    /// A lab with this id exists and was started from another template.
    #[error("lab {id:?} already exists with template {existing:?}, not {requested:?}")]
    TemplateConflict { id: String, existing: String, requested: String },
    /// No room in the `labs` quota.
    #[error("{}", self.message(Lang::En))]
    ClusterFull(Box<ClusterFull>),
    /// A template whose Pod Pod Security `restricted` or the LimitRange would reject,
    /// refused when the templates are loaded.
    #[error("lab template {template:?} would be rejected by the cluster: {problems:?}")]
    TemplateRejected { template: String, problems: Vec<String> },
    /// The Kubernetes API answered an error that is not retried (or kept failing until the
    /// deadline): `operation` says what was being done.
    #[error("Kubernetes API error during {operation}: {code} {message}")]
    Api { operation: String, code: u16, reason: String, message: String },
    /// The Kubernetes API could not be reached (connection refused, timeout).
    #[error("Kubernetes API unreachable during {operation}: {message}")]
    Unreachable { operation: String, message: String },
    /// The quota/LimitRange caches have not synced yet (the service is not ready).
    #[error("the provisioner is starting: its quota and LimitRange caches are not synced yet")]
    NotReady,
    /// The `labs` quota or LimitRange could not be read by our engines.
    #[error("cannot read the labs quota or LimitRange: {0}")]
    Namespace(String),
    /// An object read from the API that is not what the provisioner wrote.
    #[error("unexpected object {what}: {message}")]
    Unexpected { what: String, message: String },
}

impl LabsError {
    /// The HTTP status of the lab API's answer.
    pub fn status(&self) -> u16 {
        match self {
            LabsError::Lab(LabError::UnknownTemplate { .. }) => 404,
            LabsError::Lab(LabError::TemplateMismatch { .. }) => 409,
            LabsError::Lab(LabError::Expired { .. } | LabError::ExtendBeyondMax { .. }) => 409,
            LabsError::Lab(_) => 400,
            LabsError::NotFound { .. } => 404,
            LabsError::TemplateConflict { .. } | LabsError::ClusterFull(_) => 409,
            LabsError::TemplateRejected { .. } | LabsError::Namespace(_) | LabsError::Unexpected { .. } => {
                500
            }
            LabsError::Api { .. } => 502,
            LabsError::Unreachable { .. } | LabsError::NotReady => 503,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LabsError::Lab(e) => e.code(),
            LabsError::NotFound { .. } => "not_found",
            LabsError::TemplateConflict { .. } => "template_conflict",
            LabsError::ClusterFull(_) => "cluster_full",
            LabsError::TemplateRejected { .. } => "template_rejected",
            LabsError::Api { .. } => "kubernetes_error",
            LabsError::Unreachable { .. } => "kubernetes_unreachable",
            LabsError::NotReady => "not_ready",
            LabsError::Namespace(_) => "namespace_unreadable",
            LabsError::Unexpected { .. } => "unexpected_object",
        }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (LabsError::Lab(e), _) => e.message(lang),
            (LabsError::ClusterFull(full), Lang::En) => {
                format!("The cluster is full, try again later ({})", full.numbers(lang))
            }
            (LabsError::ClusterFull(full), Lang::Ru) => {
                format!("Кластер перегружен, попробуйте позже ({})", full.numbers(lang))
            }
            (LabsError::NotFound { id }, Lang::Ru) => format!("лабораторной {id:?} нет"),
            (LabsError::TemplateConflict { id, existing, requested }, Lang::Ru) => {
                format!("лабораторная {id:?} уже существует с шаблоном {existing:?}, а не {requested:?}")
            }
            (LabsError::NotReady, Lang::Ru) => {
                "сервис запускается: кэши квоты и LimitRange ещё не синхронизированы".into()
            }
            (LabsError::Api { .. } | LabsError::Unreachable { .. }, Lang::Ru) => {
                format!("ошибка Kubernetes API, попробуйте позже ({self})")
            }
            (LabsError::TemplateRejected { template, problems }, Lang::Ru) => {
                format!("шаблон {template:?} будет отклонён кластером: {}", problems.join("; "))
            }
            _ => self.to_string(),
        }
    }

    /// Whether the API answered that a quota is exceeded (`403 Forbidden … exceeded quota`),
    /// which the lab API reports as `cluster_full`.
    pub fn is_quota_rejection(&self) -> bool {
        matches!(self, LabsError::Api { code: 403, message, .. } if message.contains("exceeded quota"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> ClusterFull {
        ClusterFull {
            template: "linux-basics".into(),
            quota: "labs-quota".into(),
            resource: "pods".into(),
            used: "20".into(),
            hard: "20".into(),
            per_lab: "1".into(),
            stale: Vec::new(),
        }
    }

    #[test]
    fn statuses_and_codes_of_the_api() {
        let cases: Vec<(LabsError, u16, &str)> = vec![
            (
                LabsError::Lab(LabError::UnknownTemplate { name: "x".into(), known: vec![] }),
                404,
                "unknown_template",
            ),
            (LabsError::Lab(LabError::InvalidId { id: "X".into(), reason: "r".into() }), 400, "invalid_id"),
            (LabsError::NotFound { id: "a".into() }, 404, "not_found"),
            (
                LabsError::TemplateConflict { id: "a".into(), existing: "x".into(), requested: "y".into() },
                409,
                "template_conflict",
            ),
            (LabsError::ClusterFull(Box::new(full())), 409, "cluster_full"),
            (LabsError::NotReady, 503, "not_ready"),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status(), error.code()), (status, code), "{error}");
        }
    }

    #[test]
    fn cluster_full_speaks_both_languages_with_the_numbers() {
        let error = LabsError::ClusterFull(Box::new(full()));
        let en = error.message(Lang::En);
        assert!(en.starts_with("The cluster is full, try again later"), "{en}");
        assert!(en.contains("20 of 20"), "{en}");
        let ru = error.message(Lang::Ru);
        assert!(ru.starts_with("Кластер перегружен, попробуйте позже"), "{ru}");
        assert!(ru.contains("занято 20 из 20"), "{ru}");
    }

    #[test]
    fn quota_messages_give_the_numbers() {
        // resourcequota/controller.go CheckRequest wording
        let message = "pods \"lab-a\" is forbidden: exceeded quota: labs-quota, requested: pods=1,requests.cpu=500m, used: pods=20,requests.cpu=1, limited: pods=20,requests.cpu=5";
        let full = ClusterFull::from_quota_message("t", message).expect("parses");
        assert_eq!(
            (
                full.quota.as_str(),
                full.resource.as_str(),
                full.used.as_str(),
                full.hard.as_str(),
                full.per_lab.as_str()
            ),
            ("labs-quota", "pods", "20", "20", "1")
        );
        assert!(ClusterFull::from_quota_message("t", "violates PodSecurity").is_none());
    }

    #[test]
    fn quota_rejections_are_recognised() {
        // k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go: "exceeded quota: …"
        let rejection = LabsError::Api {
            operation: "create".into(),
            code: 403,
            reason: "Forbidden".into(),
            message: "pods \"lab-a\" is forbidden: exceeded quota: labs-quota, requested: pods=1".into(),
        };
        assert!(rejection.is_quota_rejection());
        let other = LabsError::Api {
            operation: "create".into(),
            code: 403,
            reason: "Forbidden".into(),
            message: "violates PodSecurity".into(),
        };
        assert!(!other.is_quota_rejection());
    }
}
