//! [`desired`]: the four objects one lab consists of, built from its template and request.
//!
//! - a Pod that passes Pod Security `restricted`, fits the labs LimitRange (requests and
//!   limits written out, so nothing depends on defaulting), carries `lab-priority`, no
//!   ServiceAccount token, and labels that name the lab and template but never a student;
//! - a ClusterIP Service on the template's ports;
//! - a NetworkPolicy: in only from ingress-nginx's controller on those ports, out only to
//!   kube-dns, and to the internet (TCP 80/443, private and cluster ranges excepted) when the
//!   template allows;
//! - an Ingress for `<id>.labs.<domain>` through ingress-nginx, with external auth against
//!   the backend so only the lab's owner gets in.
//!
//! The Service, NetworkPolicy and Ingress are owned by the Pod once its uid is known
//! ([`LabBundle::owned_by`]), so deleting the Pod deletes the lab. Lab objects never carry
//! the platform's `autolabs.io/platform` label: `apply --prune` must not see them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction, Pod,
    PodSecurityContext, PodSpec, Probe, ResourceRequirements, SeccompProfile, SecurityContext, Service,
    ServicePort, ServiceSpec, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule,
    NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::error::LabError;
use super::request::{LabRequest, check_lab_id};
use super::template::{LabTemplate, ReadinessProbe, TMP_SIZE, quantity};
use super::time::format_rfc3339;
use super::{
    CONTAINER_NAME, CREATED_AT_ANNOTATION, EXPIRES_AT_ANNOTATION, LAB_ID_LABEL, LAB_USER_ID, TEMPLATE_LABEL,
    TERMINATION_GRACE_SECONDS, TTL_SECONDS_ANNOTATION, WILDCARD_TLS_SECRET, object_name,
};
use crate::platform::{NetworkSpec, Platform};
use crate::render::{Manifest, internet_ip_block, typed};
use crate::topology::{
    self, INGRESS_CONTROLLER_LABELS, INGRESS_NGINX, KUBE_DNS_LABELS, KUBE_SYSTEM, LAB_INTERNET_LABEL,
    LAB_PRIORITY, LABS, MANAGED_BY, NS_NAME_LABEL,
};

/// ingress-nginx annotation prefix.
const NGINX: &str = "nginx.ingress.kubernetes.io";
/// Header the backend's auth answer may set; ingress-nginx passes it on to the lab.
pub const AUTH_RESPONSE_HEADERS: &str = "X-Autolabs-User";
/// Seconds an idle proxied connection (a terminal's websocket) stays open.
pub const PROXY_TIMEOUT_SECONDS: &str = "3600";

/// What [`desired`] needs besides the template and the request.
#[derive(Debug, Clone)]
pub struct LabContext<'a> {
    pub platform: &'a Platform,
    /// Current time, unix seconds.
    pub now: u64,
    /// The backend's external-auth endpoint ingress-nginx asks before every request
    /// (`?lab=<id>` is appended): 2xx lets the student in, 401/403 does not.
    pub auth_url: String,
    /// Where ingress-nginx sends a student who is not signed in.
    pub signin_url: String,
    /// IngressClass of the lab Ingresses.
    pub ingress_class: String,
}

impl<'a> LabContext<'a> {
    /// The platform's conventions: auth by the backend Service in `platform` on its port,
    /// sign-in on the platform's domain, the `nginx` IngressClass.
    pub fn new(platform: &'a Platform, now: u64) -> Self {
        LabContext {
            platform,
            now,
            auth_url: format!(
                "http://{}.{}.svc.cluster.local:{}/internal/labs/auth",
                topology::app::BACKEND,
                topology::PLATFORM,
                topology::port::BACKEND
            ),
            signin_url: format!("https://{}/login", platform.spec.domain()),
            ingress_class: "nginx".into(),
        }
    }
}

/// The objects of one lab.
#[derive(Debug, Clone, PartialEq)]
pub struct LabBundle {
    pub pod: Pod,
    pub service: Service,
    pub network_policy: NetworkPolicy,
    pub ingress: Ingress,
}

impl LabBundle {
    /// Makes the Pod the controller owner of the Service, NetworkPolicy and Ingress, so the
    /// garbage collector deletes them with it.
    pub fn owned_by(&mut self, pod_name: &str, pod_uid: &str) {
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod_name.into(),
            uid: pod_uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        for meta in
            [&mut self.service.metadata, &mut self.network_policy.metadata, &mut self.ingress.metadata]
        {
            meta.owner_references = Some(vec![owner.clone()]);
        }
    }

    /// The objects as manifests, in creation order (the Pod first: the others are owned by it).
    pub fn manifests(&self) -> Vec<Manifest> {
        vec![
            typed(self.pod.clone()),
            typed(self.service.clone()),
            typed(self.network_policy.clone()),
            typed(self.ingress.clone()),
        ]
    }
}

/// The host a lab is served on: `<id>.labs.<domain>`.
pub fn lab_host(id: &str, domain: &str) -> String {
    format!("{id}.labs.{domain}")
}

/// The lab's objects. Checks the request (id, template name, TTL) and the template against
/// the platform first, so whatever is returned is admissible.
pub fn desired(
    template: &LabTemplate,
    request: &LabRequest,
    ctx: &LabContext,
) -> Result<LabBundle, LabError> {
    check_lab_id(&request.id)?;
    if request.template != template.metadata.name {
        return Err(LabError::TemplateMismatch {
            requested: request.template.clone(),
            given: template.metadata.name.clone(),
        });
    }
    let problems = template.problems(ctx.platform);
    if !problems.is_empty() {
        return Err(LabError::InvalidTemplate {
            name: template.metadata.name.clone(),
            problems: problems.into_iter().map(|(field, message, _)| format!("{field}: {message}")).collect(),
        });
    }
    let ttl = request.ttl_for(template)?;
    let expires = ctx.now.checked_add(ttl).ok_or(LabError::TimeOutOfRange { seconds: ctx.now })?;
    let created_text = format_rfc3339(ctx.now).ok_or(LabError::TimeOutOfRange { seconds: ctx.now })?;
    let expires_text = format_rfc3339(expires).ok_or(LabError::TimeOutOfRange { seconds: expires })?;

    let id = request.id.as_str();
    let name = object_name(id);
    let labels = lab_labels(template, id);
    let meta = |annotations: Option<BTreeMap<String, String>>| ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(LABS.into()),
        labels: Some(labels.clone()),
        annotations,
        ..Default::default()
    };
    let pod_annotations = BTreeMap::from([
        (CREATED_AT_ANNOTATION.to_string(), created_text),
        (EXPIRES_AT_ANNOTATION.to_string(), expires_text),
        (TTL_SECONDS_ANNOTATION.to_string(), ttl.to_string()),
    ]);
    let host = lab_host(id, ctx.platform.spec.domain());

    Ok(LabBundle {
        pod: Pod {
            metadata: meta(Some(pod_annotations)),
            spec: Some(pod_spec(template, ctx.platform)),
            status: None,
        },
        service: Service { metadata: meta(None), spec: Some(service_spec(template, id)), status: None },
        network_policy: NetworkPolicy {
            metadata: meta(None),
            spec: Some(network_policy_spec(template, id, &ctx.platform.spec.network)),
        },
        ingress: Ingress {
            metadata: meta(Some(ingress_annotations(id, ctx))),
            spec: Some(ingress_spec(template, &name, &host, ctx)),
            status: None,
        },
    })
}

/// Identify the lab and its template, nothing about who uses it.
fn lab_labels(template: &LabTemplate, id: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
        (LAB_ID_LABEL.to_string(), id.to_string()),
        (TEMPLATE_LABEL.to_string(), template.metadata.name.clone()),
    ]);
    if template.spec.internet {
        labels.insert(LAB_INTERNET_LABEL.0.to_string(), LAB_INTERNET_LABEL.1.to_string());
    }
    labels
}

fn id_selector(id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LAB_ID_LABEL.to_string(), id.to_string())])
}

fn pod_spec(template: &LabTemplate, platform: &Platform) -> PodSpec {
    let spec = &template.spec;
    let resources = template.effective_resources(&platform.spec.labs);
    let amounts = |r: crate::platform::Resources| {
        BTreeMap::from([("cpu".to_string(), r.cpu.0.to_k8s()), ("memory".to_string(), r.memory.0.to_k8s())])
    };
    let mut volumes = vec![empty_dir("tmp", quantity(TMP_SIZE))];
    let mut mounts =
        vec![VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..Default::default() }];
    for (i, w) in spec.writable_paths.iter().enumerate() {
        let volume = format!("writable-{i}");
        volumes.push(empty_dir(&volume, w.size_limit()));
        mounts.push(VolumeMount { name: volume, mount_path: w.path.clone(), ..Default::default() });
    }
    let some_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: some_vec(&spec.command),
        args: some_vec(&spec.args),
        env: (!spec.env.is_empty()).then(|| {
            spec.env
                .iter()
                .map(|e| EnvVar { name: e.name.clone(), value: Some(e.value.clone()), value_from: None })
                .collect()
        }),
        ports: Some(
            spec.ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.port),
                    protocol: Some(p.protocol.as_str().into()),
                    ..Default::default()
                })
                .collect(),
        ),
        resources: Some(ResourceRequirements {
            requests: Some(amounts(resources.requests)),
            limits: Some(amounts(resources.limits)),
            ..Default::default()
        }),
        // k8s.io/pod-security-admission/policy: check_allowPrivilegeEscalation.go, check_capabilities_restricted.go,
        // check_runAsNonRoot.go, check_privileged.go (restricted level).
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
            read_only_root_filesystem: Some(spec.read_only_root_filesystem),
            run_as_non_root: Some(true),
            ..Default::default()
        }),
        readiness_probe: spec.readiness_probe.as_ref().map(readiness),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        restart_policy: Some("Always".into()),
        priority_class_name: Some(LAB_PRIORITY.into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        // k8s.io/pod-security-admission/policy: check_runAsNonRoot.go, check_runAsUser.go, check_seccompProfile_restricted.go
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(LAB_USER_ID),
            run_as_group: Some(LAB_USER_ID),
            fs_group: Some(LAB_USER_ID),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn empty_dir(name: &str, size: autolabs_k8s::Quantity) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource { medium: None, size_limit: Some(size.to_k8s()) }),
        ..Default::default()
    }
}

fn readiness(probe: &ReadinessProbe) -> Probe {
    let mut p = Probe {
        initial_delay_seconds: Some(2),
        period_seconds: Some(5),
        timeout_seconds: Some(3),
        failure_threshold: Some(3),
        ..Default::default()
    };
    match probe {
        ReadinessProbe::Http(h) => {
            p.http_get = Some(HTTPGetAction {
                path: Some(h.path.clone()),
                port: IntOrString::String(h.port.clone()),
                scheme: Some("HTTP".into()),
                ..Default::default()
            });
        }
        ReadinessProbe::Tcp(t) => {
            p.tcp_socket = Some(TCPSocketAction { port: IntOrString::String(t.port.clone()), host: None });
        }
    }
    p
}

fn service_spec(template: &LabTemplate, id: &str) -> ServiceSpec {
    ServiceSpec {
        type_: Some("ClusterIP".into()),
        selector: Some(id_selector(id)),
        ports: Some(
            template
                .spec
                .ports
                .iter()
                .map(|p| ServicePort {
                    name: Some(p.name.clone()),
                    port: i32::from(p.port),
                    target_port: Some(IntOrString::String(p.name.clone())),
                    protocol: Some(p.protocol.as_str().into()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        match_expressions: None,
    }
}

/// One peer with both selectors: "these pods in that namespace" (an AND; two peers would be OR).
fn pods_in(namespace: &str, pods: &[(&str, &str)]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(match_labels(&[(NS_NAME_LABEL, namespace)])),
        pod_selector: Some(match_labels(pods)),
        ip_block: None,
    }
}

fn port(protocol: &str, number: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(i32::from(number))),
        end_port: None,
    }
}

fn network_policy_spec(template: &LabTemplate, id: &str, network: &NetworkSpec) -> NetworkPolicySpec {
    let lab_ports = template.spec.ports.iter().map(|p| port(p.protocol.as_str(), p.port)).collect();
    let mut egress = vec![NetworkPolicyEgressRule {
        to: Some(vec![pods_in(KUBE_SYSTEM, &KUBE_DNS_LABELS)]),
        ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
    }];
    if template.spec.internet {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                ip_block: Some(internet_ip_block(network)),
                ..Default::default()
            }]),
            ports: Some(vec![port("TCP", 80), port("TCP", 443)]),
        });
    }
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector { match_labels: Some(id_selector(id)), match_expressions: None }),
        policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
        ingress: Some(vec![NetworkPolicyIngressRule {
            from: Some(vec![pods_in(INGRESS_NGINX, &INGRESS_CONTROLLER_LABELS)]),
            ports: Some(lab_ports),
        }]),
        egress: Some(egress),
    }
}

fn ingress_annotations(id: &str, ctx: &LabContext) -> BTreeMap<String, String> {
    let separator = if ctx.auth_url.contains('?') { '&' } else { '?' };
    let signin_separator = if ctx.signin_url.contains('?') { '&' } else { '?' };
    BTreeMap::from([
        (format!("{NGINX}/auth-url"), format!("{}{separator}lab={id}", ctx.auth_url)),
        (
            format!("{NGINX}/auth-signin"),
            format!("{}{signin_separator}rd=$scheme://$host$escaped_request_uri", ctx.signin_url),
        ),
        (format!("{NGINX}/auth-response-headers"), AUTH_RESPONSE_HEADERS.into()),
        (format!("{NGINX}/proxy-read-timeout"), PROXY_TIMEOUT_SECONDS.into()),
        (format!("{NGINX}/proxy-send-timeout"), PROXY_TIMEOUT_SECONDS.into()),
    ])
}

fn ingress_spec(template: &LabTemplate, service: &str, host: &str, ctx: &LabContext) -> IngressSpec {
    let first_port = template.first_port().map(|p| p.name.clone());
    IngressSpec {
        ingress_class_name: Some(ctx.ingress_class.clone()),
        rules: Some(vec![IngressRule {
            host: Some(host.into()),
            http: Some(HTTPIngressRuleValue {
                paths: vec![HTTPIngressPath {
                    path: Some("/".into()),
                    path_type: "Prefix".into(),
                    backend: IngressBackend {
                        service: Some(IngressServiceBackend {
                            name: service.into(),
                            port: Some(ServiceBackendPort { name: first_port, number: None }),
                        }),
                        resource: None,
                    },
                }],
            }),
        }]),
        tls: Some(vec![IngressTLS {
            hosts: Some(vec![host.into()]),
            secret_name: Some(WILDCARD_TLS_SECRET.into()),
        }]),
        default_backend: None,
    }
}
