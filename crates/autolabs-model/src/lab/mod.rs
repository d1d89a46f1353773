//! Student labs: templates, requests, the objects of one lab, and the pure decisions the
//! provisioner and reaper make about live labs.
//!
//! The model: a **template** (`kind: LabTemplate`, loaded by [`load_templates`] and checked
//! against the [`Platform`](crate::Platform)) says what a kind of lab runs; a **request**
//! ([`LabRequest`]) names a template, an opaque lab id and a lifetime; [`desired`] turns the
//! two into a [`LabBundle`] — Pod, Service, NetworkPolicy and Ingress named `lab-<id>` in
//! `labs`. All state lives in those objects: the Pod's annotations hold when the lab was
//! created and when it expires, so [`expires_at`], [`is_expired`], [`extend`] and [`phase`]
//! need nothing but the Pod and the current time. Nothing here reads a clock or a file.
//!
//! [`quota`] holds the labs quota's arithmetic, which render, capacity and the provisioner
//! share.
//!
//! Errors a student or the backend sees are [`LabError`]s, in English and Russian; problems
//! in template files are located [`ConfigErrors`](crate::ConfigErrors) like `platform.yaml`'s.

mod decide;
mod desired;
mod error;
mod load;
pub mod quota;
mod request;
mod template;
pub mod time;

pub use decide::{
    LabPhase, created_at, expires_at, expiry_annotations, extend, is_expired, is_lab_object, lab_id_of,
    phase, phase_at,
};
pub use desired::{AUTH_RESPONSE_HEADERS, LabBundle, LabContext, PROXY_TIMEOUT_SECONDS, desired, lab_host};
pub use error::{LabError, Lang};
pub use load::{SHIPPED_TEMPLATES, Templates, load_template, load_templates, shipped_templates};
pub use request::{LabRequest, MAX_ID_LEN, check_lab_id};
pub use template::{
    DEFAULT_MAX_TTL, DEFAULT_TTL, DEFAULT_WRITABLE_SIZE, EffectiveResources, EnvVar, HttpProbe, LabPort,
    LabTemplate, LabTemplateSpec, ReadinessProbe, ResourceAmounts, TEMPLATE_API_VERSION, TEMPLATE_KIND,
    TMP_SIZE, TcpProbe, TemplateMetadata, TemplateResources, TtlSpec, WritablePath, env_var_name, port_name,
};
pub use time::{TtlDuration, format_rfc3339, parse_rfc3339};

/// The lab an object belongs to.
pub const LAB_ID_LABEL: &str = "autolabs.io/lab-id";
/// The template a lab was started from.
pub const TEMPLATE_LABEL: &str = "autolabs.io/template";
/// RFC 3339 UTC: when the lab was created.
pub const CREATED_AT_ANNOTATION: &str = "autolabs.io/created-at";
/// RFC 3339 UTC: when the reaper deletes the lab.
pub const EXPIRES_AT_ANNOTATION: &str = "autolabs.io/expires-at";
/// Seconds between created-at and expires-at.
pub const TTL_SECONDS_ANNOTATION: &str = "autolabs.io/ttl-seconds";
/// The TLS Secret in `labs` holding the `*.labs.<domain>` certificate.
pub const WILDCARD_TLS_SECRET: &str = "labs-wildcard-tls";
/// The lab Pod's only container.
pub const CONTAINER_NAME: &str = "lab";
/// The uid, gid and fsGroup lab containers run as (not root, as `restricted` requires).
pub const LAB_USER_ID: i64 = 1000;
/// Labs hold no state worth a long shutdown.
pub const TERMINATION_GRACE_SECONDS: i64 = 5;

/// The JSON Schema of `kind: LabTemplate` files, as pretty JSON, for editors.
pub fn template_schema() -> String {
    let mut schema = schemars::schema_for!(LabTemplate);
    schema.insert("$id".into(), "https://autolabs.io/schemas/labtemplate.v1alpha1.json".into());
    crate::schema::pretty(&schema)
}

/// The name of every object of a lab: `lab-<id>`.
pub fn object_name(id: &str) -> String {
    format!("lab-{id}")
}
