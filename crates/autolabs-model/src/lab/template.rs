//! `LabTemplate`: what one kind of lab runs (image, ports, command, resources, lifetime,
//! whether it may reach the internet), and the checks that make every Pod built from it
//! admissible in the platform's `labs` namespace.
//!
//! A template is only ever used together with a [`Platform`]: its resources must fit the
//! labs LimitRange (`spec.labs.min`/`max`, defaults from `spec.labs.requests`/`limits`) and
//! its ports must be ones ingress-nginx may reach (`spec.labs.ports`). [`LabTemplate::problems`]
//! lists every violation with the field path it belongs to; the loader turns paths into lines.

use std::collections::BTreeSet;

use autolabs_k8s::{Quantity, names};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::time::TtlDuration;
use crate::platform::{LabsSpec, Platform, PortSpec, Protocol, Resources};
use crate::qty::Qty;

pub const TEMPLATE_API_VERSION: &str = crate::platform::API_VERSION;
pub const TEMPLATE_KIND: &str = "LabTemplate";
/// Lifetime of a lab when the request names none and the template sets no `ttl.default`.
pub const DEFAULT_TTL: TtlDuration = TtlDuration::hours(2);
/// Longest lifetime, extensions included, when the template sets no `ttl.max`.
pub const DEFAULT_MAX_TTL: TtlDuration = TtlDuration::hours(8);
/// `sizeLimit` of a writable path that names none.
pub const DEFAULT_WRITABLE_SIZE: &str = "1Gi";
/// `sizeLimit` of the `/tmp` emptyDir every lab gets.
pub const TMP_SIZE: &str = "256Mi";

/// One `kind: LabTemplate` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabTemplate {
    /// Always `autolabs.io/v1alpha1`.
    pub api_version: String,
    /// Always `LabTemplate`.
    pub kind: String,
    pub metadata: TemplateMetadata,
    pub spec: LabTemplateSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateMetadata {
    /// DNS-1123 label; requests name the template by it and lab objects carry it as the
    /// `autolabs.io/template` label.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabTemplateSpec {
    /// Shown to students when they pick a lab.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Container image with a pinned tag or digest.
    pub image: String,
    /// Ports the lab listens on; the first one is what the lab's URL opens.
    pub ports: Vec<LabPort>,
    /// Replaces the image's entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Replaces the image's arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Unset values come from the labs LimitRange defaults, as the API server would fill them.
    #[serde(default)]
    pub resources: TemplateResources,
    /// Whether the lab may open connections to the internet (TCP 80/443).
    #[serde(default)]
    pub internet: bool,
    #[serde(default)]
    pub ttl: TtlSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<ReadinessProbe>,
    /// The container's root filesystem is read-only unless this is `false`; write into
    /// `/tmp` and `writablePaths`.
    #[serde(default = "default_true")]
    pub read_only_root_filesystem: bool,
    /// Directories backed by an emptyDir (lost when the lab ends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable_paths: Vec<WritablePath>,
}

fn default_true() -> bool {
    true
}

/// A port the lab listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabPort {
    /// IANA service name (≤ 15 characters), used by the Service, the Ingress and the probe.
    pub name: String,
    pub port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateResources {
    #[serde(default, skip_serializing_if = "ResourceAmounts::is_empty")]
    pub requests: ResourceAmounts,
    #[serde(default, skip_serializing_if = "ResourceAmounts::is_empty")]
    pub limits: ResourceAmounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceAmounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Qty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Qty>,
}

impl ResourceAmounts {
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// How long a lab lives: `default` when the request names no TTL, `max` as the bound of
/// both requests and extensions (counted from creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TtlSpec {
    #[serde(default = "default_ttl")]
    pub default: TtlDuration,
    #[serde(default = "default_max_ttl")]
    pub max: TtlDuration,
}

impl Default for TtlSpec {
    fn default() -> Self {
        TtlSpec { default: DEFAULT_TTL, max: DEFAULT_MAX_TTL }
    }
}

fn default_ttl() -> TtlDuration {
    DEFAULT_TTL
}
fn default_max_ttl() -> TtlDuration {
    DEFAULT_MAX_TTL
}

/// When the lab counts as ready: an HTTP GET answering 2xx/3xx, or a TCP port accepting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ReadinessProbe {
    Http(HttpProbe),
    Tcp(TcpProbe),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    /// `/` when unset (`k8s.io/kubernetes/pkg/apis/core/v1/defaults.go` SetDefaults_HTTPGetAction).
    #[serde(default = "default_path")]
    pub path: String,
    /// Name of one of the template's ports.
    pub port: String,
}

fn default_path() -> String {
    "/".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpProbe {
    /// Name of one of the template's ports.
    pub port: String,
}

impl ReadinessProbe {
    pub fn port(&self) -> &str {
        match self {
            ReadinessProbe::Http(h) => &h.port,
            ReadinessProbe::Tcp(t) => &t.port,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WritablePath {
    /// Absolute directory inside the container.
    pub path: String,
    /// `1Gi` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Qty>,
}

impl WritablePath {
    pub fn size_limit(&self) -> Quantity {
        self.size_limit.map(|q| q.0).unwrap_or_else(|| quantity(DEFAULT_WRITABLE_SIZE))
    }
}

/// A constant quantity of this module (tested to parse).
pub(crate) use crate::qty::constant as quantity;

/// Requests and limits as the API server stores them once defaults are applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveResources {
    pub requests: Resources,
    pub limits: Resources,
}

impl LabTemplate {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The port the Ingress routes to.
    pub fn first_port(&self) -> Option<&LabPort> {
        self.spec.ports.first()
    }

    /// Requests and limits after the defaulting a Pod goes through: a request missing next to
    /// a limit takes the limit (`k8s.io/kubernetes/pkg/apis/core/v1/defaults.go`
    /// SetDefaults_Pod), then the labs LimitRange fills what is still missing
    /// (`plugin/pkg/admission/limitranger/admission.go` mergeContainerResources).
    pub fn effective_resources(&self, labs: &LabsSpec) -> EffectiveResources {
        let r = &self.spec.resources;
        let pick = |req: Option<Qty>, lim: Option<Qty>, default_req: Qty, default_lim: Qty| {
            (req.or(lim).unwrap_or(default_req), lim.unwrap_or(default_lim))
        };
        let (cpu_req, cpu_lim) = pick(r.requests.cpu, r.limits.cpu, labs.requests.cpu, labs.limits.cpu);
        let (mem_req, mem_lim) =
            pick(r.requests.memory, r.limits.memory, labs.requests.memory, labs.limits.memory);
        EffectiveResources {
            requests: Resources { cpu: cpu_req, memory: mem_req },
            limits: Resources { cpu: cpu_lim, memory: mem_lim },
        }
    }

    /// Every way this template would fail on this platform, as `(field path, message, hint)`.
    pub fn problems(&self, platform: &Platform) -> Vec<(String, String, Option<String>)> {
        let mut out = Vec::new();
        let mut bad = |field: String, message: String, hint: &str| {
            out.push((field, message, (!hint.is_empty()).then(|| hint.to_string())));
        };
        let spec = &self.spec;

        // Object names embed it; it is also a label value (k8s.io/apimachinery/pkg/util/validation IsDNS1123Label).
        for e in names::dns1123_label(&self.metadata.name) {
            bad(
                "metadata.name".into(),
                format!("{:?}: {e}", self.metadata.name),
                "use lowercase letters, digits and '-', such as linux-basics",
            );
        }

        if let Some(message) = image_problem(&spec.image) {
            bad("spec.image".into(), message, "write the image with a fixed tag, such as python:3.12.7-slim");
        }

        check_ports(spec, &platform.spec.labs.ports, &mut bad);

        let mut env_names = BTreeSet::new();
        for (i, env) in spec.env.iter().enumerate() {
            let field = format!("spec.env[{i}].name");
            // k8s.io/apimachinery/pkg/util/validation IsEnvVarName (the strict form every 1.28+ server accepts)
            for e in env_var_name(&env.name) {
                bad(field.clone(), format!("{:?}: {e}", env.name), "use letters, digits, '_', '-' or '.'");
            }
            if !env_names.insert(env.name.as_str()) {
                bad(field, format!("{:?} is listed twice; only the last value would count", env.name), "");
            }
        }

        check_resources(self, &platform.spec.labs, &mut bad);

        let ttl = spec.ttl;
        if ttl.default.0 == 0 {
            bad("spec.ttl.default".into(), "must be longer than zero".into(), "such as 2h");
        }
        if ttl.max.0 == 0 {
            bad("spec.ttl.max".into(), "must be longer than zero".into(), "such as 8h");
        }
        if ttl.default > ttl.max {
            bad(
                "spec.ttl.default".into(),
                format!("{} is longer than the maximum {}", ttl.default, ttl.max),
                "make ttl.default at most ttl.max",
            );
        }

        if let Some(probe) = &spec.readiness_probe {
            let (kind, port) = match probe {
                ReadinessProbe::Http(h) => ("http", &h.port),
                ReadinessProbe::Tcp(t) => ("tcp", &t.port),
            };
            if !spec.ports.iter().any(|p| &p.name == port) {
                bad(
                    format!("spec.readinessProbe.{kind}.port"),
                    format!("{port:?} is not the name of one of the template's ports"),
                    "name a port from spec.ports",
                );
            }
            if let ReadinessProbe::Http(h) = probe
                && !h.path.starts_with('/')
            {
                bad("spec.readinessProbe.http.path".into(), format!("{:?} must start with '/'", h.path), "");
            }
        }

        check_writable_paths(spec, &mut bad);
        out
    }
}

/// Why an image reference is unusable for a lab, if it is.
fn image_problem(image: &str) -> Option<String> {
    // k8s.io/kubernetes/pkg/apis/core/validation validateContainerCommon: image required, no surrounding whitespace
    if image.is_empty() {
        return Some("must not be empty".into());
    }
    if image.chars().any(char::is_whitespace) {
        return Some(format!("{image:?} must not contain whitespace"));
    }
    if image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some(format!("{image:?} has no tag; every lab must run the same, pinned image")),
        Some((_, "latest")) => Some(format!("{image:?} uses the moving tag `latest`; pin a version")),
        Some((_, "")) => Some(format!("{image:?} has an empty tag")),
        Some(_) => None,
    }
}

fn check_ports(spec: &LabTemplateSpec, allowed: &[PortSpec], bad: &mut impl FnMut(String, String, &str)) {
    if spec.ports.is_empty() {
        bad("spec.ports".into(), "must list at least one port".into(), "add `- {name: http, port: 8080}`");
        return;
    }
    let mut names_seen = BTreeSet::new();
    let mut ports_seen = BTreeSet::new();
    let allowed_text = allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    for (i, p) in spec.ports.iter().enumerate() {
        // k8s.io/apimachinery/pkg/util/validation IsValidPortName
        for e in port_name(&p.name) {
            bad(
                format!("spec.ports[{i}].name"),
                format!("{:?}: {e}", p.name),
                "use up to 15 lowercase letters, digits and '-', such as http",
            );
        }
        // k8s.io/kubernetes/pkg/apis/core/validation validateContainerPorts: names must be unique
        if !names_seen.insert(p.name.as_str()) {
            bad(format!("spec.ports[{i}].name"), format!("{:?} must be unique", p.name), "");
        }
        // validation.IsValidPortNum
        if p.port == 0 {
            bad(format!("spec.ports[{i}].port"), "must be between 1 and 65535, inclusive".into(), "");
            continue;
        }
        // k8s.io/kubernetes/pkg/apis/core/validation ValidateService: duplicate port+protocol
        if !ports_seen.insert((p.port, p.protocol)) {
            bad(
                format!("spec.ports[{i}].port"),
                format!("{}/{} is listed twice", p.protocol.as_str(), p.port),
                "",
            );
        }
        let inside = allowed
            .iter()
            .any(|r| r.protocol == p.protocol && r.port <= p.port && p.port <= r.end_port.unwrap_or(r.port));
        if !inside {
            bad(
                format!("spec.ports[{i}].port"),
                format!(
                    "{}/{} is not a labs port of the platform ({allowed_text}); ingress-nginx could not reach it",
                    p.protocol.as_str(),
                    p.port
                ),
                "make the program listen on one of spec.labs.ports of platform.yaml, or add the port there",
            );
        }
    }
    if let Some(first) = spec.ports.first()
        && first.protocol != Protocol::Tcp
    {
        bad(
            "spec.ports[0].protocol".into(),
            "the first port is what the lab's URL opens through the Ingress, so it must be TCP".into(),
            "put an HTTP port first",
        );
    }
}

fn check_resources(t: &LabTemplate, labs: &LabsSpec, bad: &mut impl FnMut(String, String, &str)) {
    let r = &t.spec.resources;
    let eff = t.effective_resources(labs);
    let rows = [
        ("cpu", r.requests.cpu, r.limits.cpu, eff.requests.cpu, eff.limits.cpu, labs.min.cpu, labs.max.cpu),
        (
            "memory",
            r.requests.memory,
            r.limits.memory,
            eff.requests.memory,
            eff.limits.memory,
            labs.min.memory,
            labs.max.memory,
        ),
    ];
    for (name, req_set, lim_set, req, lim, min, max) in rows {
        let req_field = match (req_set, lim_set) {
            (Some(_), _) => format!("spec.resources.requests.{name}"),
            (None, Some(_)) => format!("spec.resources.limits.{name}"),
            (None, None) => "spec.resources".into(),
        };
        let lim_field =
            if lim_set.is_some() { format!("spec.resources.limits.{name}") } else { "spec.resources".into() };
        let origin = |set: Option<Qty>, what: &str| {
            if set.is_some() { String::new() } else { format!(" (the labs LimitRange default {what})") }
        };
        let req_origin = if req_set.is_none() && lim_set.is_some() {
            " (taken from the limit)".to_string()
        } else {
            origin(req_set, "request")
        };
        let lim_origin = origin(lim_set, "limit");
        for (field, set, q) in [(&req_field, req_set, req), (&lim_field, lim_set, lim)] {
            if set.is_some() && q.0.nanos() <= 0 {
                bad(field.clone(), format!("{name} must be positive, found {q}"), "");
            }
        }
        let range_hint = format!("keep {name} between {min} and {max} (spec.labs.min/max of platform.yaml)");
        // plugin/pkg/admission/limitranger/admission.go minConstraint: request and limit ≥ min
        if req.0 < min.0 {
            bad(
                req_field.clone(),
                format!("{name} request {req}{req_origin} is below the labs LimitRange minimum {min}"),
                &range_hint,
            );
        }
        if lim.0 < min.0 {
            bad(
                lim_field.clone(),
                format!("{name} limit {lim}{lim_origin} is below the labs LimitRange minimum {min}"),
                &range_hint,
            );
        }
        // plugin/pkg/admission/limitranger/admission.go maxConstraint: limit and request ≤ max
        if lim.0 > max.0 {
            bad(
                lim_field.clone(),
                format!("{name} limit {lim}{lim_origin} is above the labs LimitRange maximum {max}"),
                &range_hint,
            );
        }
        if req.0 > max.0 {
            bad(
                req_field.clone(),
                format!("{name} request {req}{req_origin} is above the labs LimitRange maximum {max}"),
                &range_hint,
            );
        }
        // k8s.io/kubernetes/pkg/apis/core/validation ValidateResourceRequirements: request ≤ limit
        if req.0 > lim.0 {
            bad(
                req_field,
                format!(
                    "{name} request {req}{req_origin} must be less than or equal to {name} limit {lim}{lim_origin}"
                ),
                "lower the request or raise the limit",
            );
        }
    }
}

fn check_writable_paths(spec: &LabTemplateSpec, bad: &mut impl FnMut(String, String, &str)) {
    let mut seen = BTreeSet::from(["/tmp".to_string()]);
    for (i, w) in spec.writable_paths.iter().enumerate() {
        let field = format!("spec.writablePaths[{i}].path");
        let normalized = w.path.trim_end_matches('/');
        if !w.path.starts_with('/') {
            bad(field.clone(), format!("{:?} must be an absolute path", w.path), "such as /home/student");
        } else if normalized.is_empty() {
            bad(field.clone(), "the root directory cannot be a writable path".into(), "");
        }
        if w.path.split('/').any(|seg| seg == "..") {
            bad(field.clone(), format!("{:?} must not contain '..'", w.path), "");
        }
        // k8s.io/kubernetes/pkg/apis/core/validation validateVolumeMounts (Windows form): no ':'
        if w.path.contains(':') {
            bad(field.clone(), format!("{:?} must not contain ':'", w.path), "");
        }
        // validateVolumeMounts: mountPath must be unique (/tmp is always mounted)
        if !normalized.is_empty() && !seen.insert(normalized.to_string()) {
            bad(field, format!("{:?} must be unique (/tmp is always writable)", w.path), "");
        }
        if let Some(size) = w.size_limit
            && size.0.nanos() <= 0
        {
            bad(
                format!("spec.writablePaths[{i}].sizeLimit"),
                format!("must be positive, found {size}"),
                "such as 1Gi",
            );
        }
    }
}

/// `k8s.io/apimachinery/pkg/util/validation` IsValidPortName (IANA_SVC_NAME).
pub fn port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// `k8s.io/apimachinery/pkg/util/validation` IsEnvVarName: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and
/// not `.`, `..` or starting with `..` (hasChDirPrefix).
pub fn env_var_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let b = name.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_');
    if b.is_empty() || b[0].is_ascii_digit() || !b.iter().all(ok_char) {
        errs.push(
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', \
             and must not start with a digit"
                .to_string(),
        );
    }
    if name == "." {
        errs.push("must not be '.'".to_string());
    } else if name == ".." {
        errs.push("must not be '..'".to_string());
    } else if name.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_follow_is_valid_port_name() {
        // (name, valid, rule of k8s.io/apimachinery/pkg/util/validation IsValidPortName)
        let rows = [
            ("http", true, "letters"),
            ("http-alt2", true, "letters, digits and single hyphens"),
            ("a23456789012345", true, "15 characters"),
            ("a234567890123456", false, "at most 15 characters"),
            ("", false, "non-empty"),
            ("HTTP", false, "lowercase only"),
            ("h_t", false, "no underscore"),
            ("8080", false, "at least one letter"),
            ("a--b", false, "no consecutive hyphens"),
            ("-ab", false, "no leading hyphen"),
            ("ab-", false, "no trailing hyphen"),
        ];
        for (name, valid, rule) in rows {
            assert_eq!(port_name(name).is_empty(), valid, "{rule}: {name:?} {:?}", port_name(name));
        }
    }

    #[test]
    fn env_names_follow_is_env_var_name() {
        // (name, valid, rule of k8s.io/apimachinery/pkg/util/validation IsEnvVarName)
        let rows = [
            ("HOME", true, "letters"),
            ("my.env-name", true, "'.', '-' allowed"),
            ("_X1", true, "leading underscore"),
            (".x", true, "a single leading dot"),
            ("1X", false, "no leading digit"),
            ("A=B", false, "no '='"),
            ("A B", false, "no space"),
            ("", false, "non-empty"),
            (".", false, "hasChDirPrefix: not '.'"),
            ("..", false, "hasChDirPrefix: not '..'"),
            ("..x", false, "hasChDirPrefix: not starting with '..'"),
        ];
        for (name, valid, rule) in rows {
            assert_eq!(env_var_name(name).is_empty(), valid, "{rule}: {name:?}");
        }
    }

    #[test]
    fn images_must_be_pinned() {
        // (image, accepted)
        let rows = [
            ("busybox:1.36", true),
            ("quay.io/jupyter/base-notebook:2024-10-07", true),
            ("registry.local:5000/team/img:1.0", true),
            ("img@sha256:0123", true),
            ("registry.local:5000/team/img", false),
            ("busybox", false),
            ("busybox:latest", false),
            ("busybox:", false),
            ("", false),
            (" busybox:1", false),
        ];
        for (image, ok) in rows {
            assert_eq!(image_problem(image).is_none(), ok, "{image:?}");
        }
    }

    #[test]
    fn resources_default_like_the_api_server() {
        let labs = LabsSpec::default();
        let q = |s: &str| Some(Qty(quantity(s)));
        let with = |req: Option<Qty>, lim: Option<Qty>| {
            let mut t: LabTemplate = serde_json::from_value(serde_json::json!({
                "apiVersion": TEMPLATE_API_VERSION, "kind": TEMPLATE_KIND, "metadata": {"name": "t"},
                "spec": {"image": "x:1", "ports": [{"name": "http", "port": 8080}]}
            }))
            .expect("template");
            t.spec.resources.requests.cpu = req;
            t.spec.resources.limits.cpu = lim;
            let e = t.effective_resources(&labs);
            (e.requests.cpu.to_string(), e.limits.cpu.to_string())
        };
        // (request, limit) → (effective request, effective limit)
        // LimitRanger mergeContainerResources: both missing → defaultRequest, default
        assert_eq!(with(None, None), ("500m".into(), "1".into()));
        // SetDefaults_Pod: request missing, limit set → request = limit
        assert_eq!(with(None, q("300m")), ("300m".into(), "300m".into()));
        // LimitRanger: limit missing → default limit
        assert_eq!(with(q("200m"), None), ("200m".into(), "1".into()));
        assert_eq!(with(q("200m"), q("400m")), ("200m".into(), "400m".into()));
        assert_eq!(quantity(TMP_SIZE).to_string(), TMP_SIZE);
        assert_eq!(quantity(DEFAULT_WRITABLE_SIZE).to_string(), DEFAULT_WRITABLE_SIZE);
    }
}
