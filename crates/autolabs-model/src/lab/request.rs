//! [`LabRequest`]: what the backend asks for (`POST /v1/labs {id, template, ttlSeconds}`),
//! and the checks that run before anything is built from it.

use autolabs_k8s::names;
use serde::{Deserialize, Serialize};

use super::error::LabError;
use super::load::Templates;
use super::template::LabTemplate;

/// Longest lab id: it is embedded in object names (`lab-<id>`) and in the host name
/// (`<id>.labs.<domain>`), whose labels may hold 63 characters.
pub const MAX_ID_LEN: usize = 40;

/// One lab to create. The id is chosen by the backend and is opaque here: it must not
/// identify a student (Kubernetes does not know students).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabRequest {
    /// Chosen by the backend: a DNS-1123 label of at most 40 characters.
    #[schemars(length(min = 1, max = 40), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub id: String,
    /// A template the lab API serves (`GET /v1/capacity` lists them).
    pub template: String,
    /// Lifetime from now, at most the template's `ttl.max`; the template's `ttl.default` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub ttl_seconds: Option<u64>,
}

impl LabRequest {
    /// Checks the id, finds the template on the list and resolves the lifetime.
    pub fn validate<'t>(&self, templates: &'t Templates) -> Result<(&'t LabTemplate, u64), LabError> {
        check_lab_id(&self.id)?;
        let template = templates.get(&self.template)?;
        let ttl = self.ttl_for(template)?;
        Ok((template, ttl))
    }

    /// The lifetime in seconds: the request's, within (0, template max], or the template's default.
    pub fn ttl_for(&self, template: &LabTemplate) -> Result<u64, LabError> {
        let max = template.spec.ttl.max.seconds();
        let ttl = self.ttl_seconds.unwrap_or(template.spec.ttl.default.seconds());
        if ttl == 0 {
            return Err(LabError::TtlZero);
        }
        if ttl > max {
            return Err(LabError::TtlTooLong { requested: ttl, max });
        }
        Ok(ttl)
    }
}

/// A lab id is a DNS-1123 label (`k8s.io/apimachinery/pkg/util/validation` IsDNS1123Label) of
/// at most [`MAX_ID_LEN`] characters.
pub fn check_lab_id(id: &str) -> Result<(), LabError> {
    let mut reasons = Vec::new();
    if id.len() > MAX_ID_LEN {
        reasons.push(format!(
            "must be no more than {MAX_ID_LEN} characters (it is part of object and host names)"
        ));
    }
    reasons.extend(names::dns1123_label(id).into_iter().filter(|r| !r.starts_with("must be no more than")));
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(LabError::InvalidId { id: id.to_string(), reason: reasons.join("; ") })
    }
}
