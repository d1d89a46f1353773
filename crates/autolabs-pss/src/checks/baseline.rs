//! Baseline checks: they run at `baseline` and, unless a restricted check overrides them at
//! that version, at `restricted` too.

use std::collections::BTreeSet;

use autolabs_k8s::k8s::ObjectMeta;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::{LifecycleHandler, PodSpec, Probe, SELinuxOptions};

use super::{Finding, containers_phrase, relax_for_user_namespace_pod};
use crate::containers::containers;
use crate::format::{go_quote, join_quote, pluralize};
use crate::registry::EvaluationOptions;

// ---------------------------------------------------------------------------------------
// appArmorProfile

/// Annotation prefix of the deprecated per-container AppArmor annotations.
// k8s.io/api/core/v1 DeprecatedAppArmorBetaContainerAnnotationKeyPrefix
const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// Annotation values: empty, `runtime/default` or `localhost/*`.
// k8s.io/pod-security-admission/policy/check_appArmorProfile.go allowedAnnotationValue
fn allowed_apparmor_annotation_value(profile: &str) -> bool {
    profile.is_empty() || profile == "runtime/default" || profile.starts_with("localhost/")
}

/// Field values: `RuntimeDefault` or `Localhost`.
// k8s.io/pod-security-admission/policy/check_appArmorProfile.go allowedProfileType
fn allowed_apparmor_profile_type(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

/// AppArmor may not be disabled: pod/container `appArmorProfile.type` must be
/// `RuntimeDefault`/`Localhost`, annotations `runtime/default`/`localhost/*`/empty.
// k8s.io/pod-security-admission/policy/check_appArmorProfile.go appArmorProfile_1_0
pub(crate) fn app_armor_profile_v1_0(
    meta: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut bad_setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();

    let pod_profile = spec.security_context.as_ref().and_then(|sc| sc.app_armor_profile.as_ref());
    if let Some(profile) = pod_profile
        && !allowed_apparmor_profile_type(&profile.type_)
    {
        bad_setters.push("pod".to_string());
        bad_values.insert(&profile.type_);
    }

    let mut bad_containers: Vec<&str> = Vec::new();
    for container in containers(spec) {
        let profile = container.security_context.and_then(|sc| sc.app_armor_profile.as_ref());
        if let Some(profile) = profile
            && !allowed_apparmor_profile_type(&profile.type_)
        {
            bad_containers.push(container.name);
            bad_values.insert(&profile.type_);
        }
    }
    if !bad_containers.is_empty() {
        bad_setters.push(containers_phrase(&bad_containers));
    }

    let mut forbidden_annotations: Vec<String> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(key, value)| {
            key.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed_apparmor_annotation_value(value)
        })
        .map(|(key, value)| format!("{key}={}", go_quote(value)))
        .collect();

    let mut bad_value_list: Vec<String> = bad_values.into_iter().map(str::to_string).collect();
    if !forbidden_annotations.is_empty() {
        forbidden_annotations.sort();
        let count = forbidden_annotations.len();
        bad_value_list.extend(forbidden_annotations);
        bad_setters.push(pluralize("annotation", "annotations", count).to_string());
    }

    if bad_setters.is_empty() {
        return None;
    }
    Some(Finding {
        reason: pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", bad_value_list.len()),
        detail: format!(
            "{} must not set AppArmor profile type to {}",
            bad_setters.join(" and "),
            join_quote(&bad_value_list)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// capabilities_baseline

/// The container runtime's default capability set: adding these is allowed.
// k8s.io/pod-security-admission/policy/check_capabilities_baseline.go capabilities_allowed_1_0
const CAPABILITIES_ALLOWED_V1_0: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// `capabilities.add` may only name capabilities of the default set.
// k8s.io/pod-security-admission/policy/check_capabilities_baseline.go capabilitiesBaseline_1_0
pub(crate) fn capabilities_baseline_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut bad_containers: Vec<&str> = Vec::new();
    let mut non_default: BTreeSet<&str> = BTreeSet::new();
    for container in containers(spec) {
        let Some(capabilities) = container.security_context.and_then(|sc| sc.capabilities.as_ref()) else {
            continue;
        };
        let mut valid = true;
        for capability in capabilities.add.iter().flatten() {
            if !CAPABILITIES_ALLOWED_V1_0.contains(&capability.as_str()) {
                valid = false;
                non_default.insert(capability);
            }
        }
        if !valid {
            bad_containers.push(container.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let non_default: Vec<&str> = non_default.into_iter().collect();
    Some(Finding {
        reason: "non-default capabilities",
        detail: format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad_containers),
            join_quote(&non_default)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// hostNamespaces

/// `hostNetwork`, `hostPID` and `hostIPC` must not be true.
// k8s.io/pod-security-admission/policy/check_hostNamespaces.go hostNamespaces_1_0
pub(crate) fn host_namespaces_v1_0(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    let set = [
        (spec.host_network, "hostNetwork=true"),
        (spec.host_pid, "hostPID=true"),
        (spec.host_ipc, "hostIPC=true"),
    ];
    let host_namespaces: Vec<&str> =
        set.iter().filter(|(flag, _)| *flag == Some(true)).map(|(_, text)| *text).collect();
    if host_namespaces.is_empty() {
        return None;
    }
    Some(Finding { reason: "host namespaces", detail: host_namespaces.join(", ") })
}

// ---------------------------------------------------------------------------------------
// hostPathVolumes

/// No `hostPath` volumes.
// k8s.io/pod-security-admission/policy/check_hostPathVolumes.go hostPathVolumes_1_0
pub(crate) fn host_path_volumes_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let host_volumes: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|volume| volume.host_path.is_some())
        .map(|volume| volume.name.as_str())
        .collect();
    if host_volumes.is_empty() {
        return None;
    }
    Some(Finding {
        reason: "hostPath volumes",
        detail: format!(
            "{} {}",
            pluralize("volume", "volumes", host_volumes.len()),
            join_quote(&host_volumes)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// hostPorts

/// Every `ports[*].hostPort` must be unset or 0.
// k8s.io/pod-security-admission/policy/check_hostPorts.go hostPorts_1_0
pub(crate) fn host_ports_v1_0(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    let mut bad_containers: Vec<&str> = Vec::new();
    // sets.NewString of decimal text: sorted as strings, like upstream.
    let mut forbidden_host_ports: BTreeSet<String> = BTreeSet::new();
    for container in containers(spec) {
        let mut valid = true;
        for port in container.ports {
            let host_port = port.host_port.unwrap_or(0);
            if host_port != 0 {
                valid = false;
                forbidden_host_ports.insert(host_port.to_string());
            }
        }
        if !valid {
            bad_containers.push(container.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let ports: Vec<String> = forbidden_host_ports.into_iter().collect();
    Some(Finding {
        reason: "hostPort",
        detail: format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    })
}

// ---------------------------------------------------------------------------------------
// hostProbesAndHostLifecycle

/// Non-empty `httpGet.host` / `tcpSocket.host` of a probe.
// k8s.io/pod-security-admission/policy/check_hostProbesAndhostLifecycle.go getForbiddenHostProbes
fn probe_hosts(probe: Option<&Probe>) -> impl Iterator<Item = &str> {
    let http = probe.and_then(|p| p.http_get.as_ref()).and_then(|a| a.host.as_deref());
    let tcp = probe.and_then(|p| p.tcp_socket.as_ref()).and_then(|a| a.host.as_deref());
    http.into_iter().chain(tcp).filter(|host| !host.is_empty())
}

/// Non-empty `httpGet.host` / `tcpSocket.host` of a lifecycle handler.
// k8s.io/pod-security-admission/policy/check_hostProbesAndhostLifecycle.go getForbiddenHostLifecycle
fn handler_hosts(handler: Option<&LifecycleHandler>) -> impl Iterator<Item = &str> {
    let http = handler.and_then(|h| h.http_get.as_ref()).and_then(|a| a.host.as_deref());
    let tcp = handler.and_then(|h| h.tcp_socket.as_ref()).and_then(|a| a.host.as_deref());
    http.into_iter().chain(tcp).filter(|host| !host.is_empty())
}

/// Probes and lifecycle handlers may not target another host (1.34+): any non-empty
/// `host`, including `127.0.0.1` and `::1`, is forbidden.
// k8s.io/pod-security-admission/policy/check_hostProbesAndhostLifecycle.go hostProbesAndHostLifecycleV1Dot34
pub(crate) fn host_probes_and_host_lifecycle_v1_34(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut bad_containers: BTreeSet<&str> = BTreeSet::new();
    let mut forbidden: BTreeSet<&str> = BTreeSet::new();
    for container in containers(spec) {
        let lifecycle = container.lifecycle;
        let hosts = probe_hosts(container.liveness_probe)
            .chain(probe_hosts(container.readiness_probe))
            .chain(probe_hosts(container.startup_probe))
            .chain(handler_hosts(lifecycle.and_then(|l| l.post_start.as_ref())))
            .chain(handler_hosts(lifecycle.and_then(|l| l.pre_stop.as_ref())));
        for host in hosts {
            bad_containers.insert(container.name);
            forbidden.insert(host);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let bad_containers: Vec<&str> = bad_containers.into_iter().collect();
    let forbidden: Vec<&str> = forbidden.into_iter().collect();
    Some(Finding {
        reason: "probe or lifecycle host",
        detail: format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("probe or lifecycle host", "probe or lifecycle hosts", forbidden.len()),
            join_quote(&forbidden)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// privileged

/// No container may set `securityContext.privileged=true`.
// k8s.io/pod-security-admission/policy/check_privileged.go privileged_1_0
pub(crate) fn privileged_v1_0(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    let bad_containers: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|sc| sc.privileged) == Some(true))
        .map(|c| c.name)
        .collect();
    if bad_containers.is_empty() {
        return None;
    }
    Some(Finding {
        reason: "privileged",
        detail: format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad_containers)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// procMount

/// `procMount` must be unset or `Default`, unless the user-namespace relaxation applies.
// k8s.io/pod-security-admission/policy/check_procMount.go procMount_1_0
pub(crate) fn proc_mount_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    options: &EvaluationOptions,
) -> Option<Finding> {
    if relax_for_user_namespace_pod(spec, options) {
        return None;
    }
    let mut bad_containers: Vec<&str> = Vec::new();
    let mut forbidden_types: BTreeSet<&str> = BTreeSet::new();
    for container in containers(spec) {
        if let Some(proc_mount) = container.security_context.and_then(|sc| sc.proc_mount.as_deref())
            && proc_mount != "Default"
        {
            bad_containers.push(container.name);
            forbidden_types.insert(proc_mount);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let forbidden_types: Vec<&str> = forbidden_types.into_iter().collect();
    Some(Finding {
        reason: "procMount",
        detail: format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad_containers),
            join_quote(&forbidden_types)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// seLinuxOptions

// k8s.io/pod-security-admission/policy/check_seLinuxOptions.go selinuxAllowedTypes1_0
const SELINUX_ALLOWED_TYPES_V1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
// k8s.io/pod-security-admission/policy/check_seLinuxOptions.go selinuxAllowedTypes1_31
const SELINUX_ALLOWED_TYPES_V1_31: &[&str] =
    &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

/// SELinux `type` from the allowed set (1.0+; `container_engine_t` since 1.31);
/// `user` and `role` must not be set.
// k8s.io/pod-security-admission/policy/check_seLinuxOptions.go seLinuxOptions1_0
pub(crate) fn se_linux_options_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    se_linux_options(spec, SELINUX_ALLOWED_TYPES_V1_0)
}

// k8s.io/pod-security-admission/policy/check_seLinuxOptions.go seLinuxOptions1_31
pub(crate) fn se_linux_options_v1_31(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    se_linux_options(spec, SELINUX_ALLOWED_TYPES_V1_31)
}

/// What one `seLinuxOptions` block sets that the policy forbids.
#[derive(Default)]
struct SeLinuxFindings<'a> {
    bad_types: BTreeSet<&'a str>,
    set_user: bool,
    set_role: bool,
}

impl<'a> SeLinuxFindings<'a> {
    /// Records what `options` gets wrong; `false` when anything is forbidden.
    // k8s.io/pod-security-admission/policy/check_seLinuxOptions.go validSELinuxOptions
    fn valid(&mut self, options: &'a SELinuxOptions, allowed_types: &[&str]) -> bool {
        let mut valid = true;
        let selinux_type = options.type_.as_deref().unwrap_or("");
        if !allowed_types.contains(&selinux_type) {
            valid = false;
            self.bad_types.insert(selinux_type);
        }
        if options.user.as_deref().is_some_and(|user| !user.is_empty()) {
            valid = false;
            self.set_user = true;
        }
        if options.role.as_deref().is_some_and(|role| !role.is_empty()) {
            valid = false;
            self.set_role = true;
        }
        valid
    }
}

// k8s.io/pod-security-admission/policy/check_seLinuxOptions.go seLinuxOptions
fn se_linux_options(spec: &PodSpec, allowed_types: &[&str]) -> Option<Finding> {
    let mut findings = SeLinuxFindings::default();
    let mut bad_setters: Vec<String> = Vec::new();
    if let Some(options) = spec.security_context.as_ref().and_then(|sc| sc.se_linux_options.as_ref())
        && !findings.valid(options, allowed_types)
    {
        bad_setters.push("pod".to_string());
    }
    let mut bad_containers: Vec<&str> = Vec::new();
    for container in containers(spec) {
        if let Some(options) = container.security_context.and_then(|sc| sc.se_linux_options.as_ref())
            && !findings.valid(options, allowed_types)
        {
            bad_containers.push(container.name);
        }
    }
    if !bad_containers.is_empty() {
        bad_setters.push(containers_phrase(&bad_containers));
    }
    if bad_setters.is_empty() {
        return None;
    }

    let mut bad_data: Vec<String> = Vec::new();
    if !findings.bad_types.is_empty() {
        let types: Vec<&str> = findings.bad_types.iter().copied().collect();
        bad_data.push(format!("{} {}", pluralize("type", "types", types.len()), join_quote(&types)));
    }
    if findings.set_user {
        bad_data.push("user may not be set".to_string());
    }
    if findings.set_role {
        bad_data.push("role may not be set".to_string());
    }
    Some(Finding {
        reason: "seLinuxOptions",
        detail: format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            bad_setters.join(" and "),
            bad_data.join("; ")
        ),
    })
}

// ---------------------------------------------------------------------------------------
// seccompProfile_baseline

// k8s.io/pod-security-admission/policy/check_seccompProfile_baseline.go annotationKeyPod
const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
// k8s.io/pod-security-admission/policy/check_seccompProfile_baseline.go annotationKeyContainerPrefix
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `RuntimeDefault` or `Localhost`.
// k8s.io/pod-security-admission/policy/check_seccompProfile_baseline.go validSeccomp
pub(crate) fn valid_seccomp_type(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

/// Annotation values `runtime/default`, `docker/default`, `localhost/*` (empty is invalid).
// k8s.io/pod-security-admission/policy/check_seccompProfile_baseline.go validSeccompAnnotationValue
fn valid_seccomp_annotation_value(value: &str) -> bool {
    value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/")
}

/// Before 1.19 seccomp was set by alpha annotations: when present they must name an
/// allowed profile.
// k8s.io/pod-security-admission/policy/check_seccompProfile_baseline.go seccompProfileBaseline_1_0
pub(crate) fn seccomp_profile_baseline_v1_0(
    meta: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let annotations = meta.annotations.as_ref()?;
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    if let Some(value) = annotations.get(SECCOMP_POD_ANNOTATION)
        && !valid_seccomp_annotation_value(value)
    {
        forbidden.insert(format!("{SECCOMP_POD_ANNOTATION}={}", go_quote(value)));
    }
    // Upstream looks up `<prefix><container name>` for each container; scanning the
    // annotations for that prefix and matching the suffix against the container names gives
    // the same set without building a key per container.
    for (key, value) in annotations {
        let Some(container_name) = key.strip_prefix(SECCOMP_CONTAINER_ANNOTATION_PREFIX) else {
            continue;
        };
        if !valid_seccomp_annotation_value(value) && containers(spec).any(|c| c.name == container_name) {
            forbidden.insert(format!("{key}={}", go_quote(value)));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    Some(Finding {
        reason: "seccompProfile",
        detail: format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.join(", ")
        ),
    })
}

/// Since 1.19: an explicitly set `seccompProfile.type` must be `RuntimeDefault`/`Localhost`.
// k8s.io/pod-security-admission/policy/check_seccompProfile_baseline.go seccompProfileBaseline_1_19
pub(crate) fn seccomp_profile_baseline_v1_19(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut bad_setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();
    if let Some(profile) = spec.security_context.as_ref().and_then(|sc| sc.seccomp_profile.as_ref())
        && !valid_seccomp_type(&profile.type_)
    {
        bad_setters.push("pod".to_string());
        bad_values.insert(&profile.type_);
    }
    let mut explicitly_bad: Vec<&str> = Vec::new();
    for container in containers(spec) {
        if let Some(profile) = container.security_context.and_then(|sc| sc.seccomp_profile.as_ref())
            && !valid_seccomp_type(&profile.type_)
        {
            explicitly_bad.push(container.name);
            bad_values.insert(&profile.type_);
        }
    }
    if !explicitly_bad.is_empty() {
        bad_setters.push(containers_phrase(&explicitly_bad));
    }
    if bad_setters.is_empty() {
        return None;
    }
    let bad_values: Vec<&str> = bad_values.into_iter().collect();
    Some(Finding {
        reason: "seccompProfile",
        detail: format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            bad_setters.join(" and "),
            join_quote(&bad_values)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// sysctls

// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsAllowedV1Dot0
const SYSCTLS_ALLOWED_V1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsAllowedV1Dot27
const SYSCTLS_ADDED_V1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsAllowedV1Dot29
const SYSCTLS_ADDED_V1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsAllowedV1Dot32
const SYSCTLS_ADDED_V1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

/// Only the namespaced, isolated "safe" sysctls; the safe set grows by policy version.
// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsV1Dot0
pub(crate) fn sysctls_v1_0(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    sysctls(spec, &[SYSCTLS_ALLOWED_V1_0])
}

// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsV1Dot27
pub(crate) fn sysctls_v1_27(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    sysctls(spec, &[SYSCTLS_ALLOWED_V1_0, SYSCTLS_ADDED_V1_27])
}

// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsV1Dot29
pub(crate) fn sysctls_v1_29(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    sysctls(spec, &[SYSCTLS_ALLOWED_V1_0, SYSCTLS_ADDED_V1_27, SYSCTLS_ADDED_V1_29])
}

// k8s.io/pod-security-admission/policy/check_sysctls.go sysctlsV1Dot32
pub(crate) fn sysctls_v1_32(_: &ObjectMeta, spec: &PodSpec, _: &EvaluationOptions) -> Option<Finding> {
    sysctls(spec, &[SYSCTLS_ALLOWED_V1_0, SYSCTLS_ADDED_V1_27, SYSCTLS_ADDED_V1_29, SYSCTLS_ADDED_V1_32])
}

/// Forbidden names in spec order, duplicates kept, like upstream.
// k8s.io/pod-security-admission/policy/check_sysctls.go sysctls
fn sysctls(spec: &PodSpec, allowed: &[&[&str]]) -> Option<Finding> {
    let forbidden: Vec<&str> = spec
        .security_context
        .iter()
        .flat_map(|sc| sc.sysctls.iter().flatten())
        .map(|sysctl| sysctl.name.as_str())
        .filter(|name| !allowed.iter().any(|set| set.contains(name)))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    Some(Finding { reason: "forbidden sysctls", detail: forbidden.join(", ") })
}

// ---------------------------------------------------------------------------------------
// windowsHostProcess

/// Neither the pod nor a container may set `windowsOptions.hostProcess=true`.
// k8s.io/pod-security-admission/policy/check_windowsHostProcess.go windowsHostProcess_1_0
pub(crate) fn windows_host_process_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let bad_containers: Vec<&str> = containers(spec)
        .filter(|c| {
            c.security_context.and_then(|sc| sc.windows_options.as_ref()).and_then(|w| w.host_process)
                == Some(true)
        })
        .map(|c| c.name)
        .collect();
    let pod_forbidden = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.windows_options.as_ref())
        .and_then(|w| w.host_process)
        == Some(true);

    let mut setters: Vec<String> = Vec::new();
    if pod_forbidden {
        setters.push("pod".to_string());
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    Some(Finding {
        reason: "hostProcess",
        detail: format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checks::test_support::{Row, run_rows, run_rows_with};

    fn row(name: &'static str, spec: serde_json::Value, want: Option<(&'static str, &'static str)>) -> Row {
        Row { name, meta: json!({}), spec, want }
    }

    #[test]
    fn app_armor_profile() {
        // k8s.io/pod-security-admission/policy/check_appArmorProfile_test.go TestCheckAppArmor_*
        let annotations = json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/": "bogus",
            "container.apparmor.security.beta.kubernetes.io/a": "",
            "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
            "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
            "container.apparmor.security.beta.kubernetes.io/d": "localhost/foo",
            "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/f": "unknown",
            "env": "prod"
        }});
        let rows = vec![
            Row {
                name: "allowed annotations and fields",
                meta: json!({"annotations": {
                    "container.apparmor.security.beta.kubernetes.io/test": "localhost/sec-profile01",
                    "env": "dev"}}),
                spec: json!({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": "foo", "securityContext":
                        {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}}]}),
                want: None,
            },
            row(
                "unconfined pod",
                json!({"containers": [], "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}),
                Some((
                    "forbidden AppArmor profile",
                    r#"pod must not set AppArmor profile type to "Unconfined""#,
                )),
            ),
            row(
                "unconfined container",
                json!({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": "foo",
                        "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}),
                Some((
                    "forbidden AppArmor profile",
                    r#"container "foo" must not set AppArmor profile type to "Unconfined""#,
                )),
            ),
            row(
                "unconfined init container",
                json!({"containers": [{"name": "foo"}], "initContainers": [{"name": "bar",
                    "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}),
                Some((
                    "forbidden AppArmor profile",
                    r#"container "bar" must not set AppArmor profile type to "Unconfined""#,
                )),
            ),
            Row {
                name: "multiple bad annotations, sorted",
                meta: annotations,
                spec: json!({"containers": []}),
                want: Some((
                    "forbidden AppArmor profiles",
                    r#"annotations must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/="bogus"", "container.apparmor.security.beta.kubernetes.io/e="unconfined"", "container.apparmor.security.beta.kubernetes.io/f="unknown"""#,
                )),
            },
            Row {
                name: "pod, containers and annotation together",
                meta: json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}}),
                spec: json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
                    "containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "Bogus"}}}]}),
                want: Some((
                    "forbidden AppArmor profiles",
                    r#"pod and container "a" and annotation must not set AppArmor profile type to "Bogus", "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined"""#,
                )),
            },
        ];
        run_rows(app_armor_profile_v1_0, rows);
    }

    #[test]
    fn capabilities_baseline() {
        // k8s.io/pod-security-admission/policy/check_capabilities_baseline_test.go
        let rows = vec![
            row(
                "default set and empty add are allowed",
                json!({"containers": [
                    {"name": "a", "securityContext": {"capabilities": {"add": CAPABILITIES_ALLOWED_V1_0}}},
                    {"name": "b", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}),
                None,
            ),
            row(
                "multiple containers",
                json!({"containers": [
                    {"name": "a", "securityContext": {"capabilities": {"add": ["FOO", "BAR"]}}},
                    {"name": "b", "securityContext": {"capabilities": {"add": ["BAR", "BAZ"]}}},
                    {"name": "c", "securityContext": {"capabilities": {"add": ["CHOWN", "KILL"]}}}]}),
                Some((
                    "non-default capabilities",
                    r#"containers "a", "b" must not include "BAR", "BAZ", "FOO" in securityContext.capabilities.add"#,
                )),
            ),
            row(
                "NET_RAW is not in the default set; case matters",
                json!({"containers": [{"name": "a",
                    "securityContext": {"capabilities": {"add": ["NET_RAW", "chown"]}}}]}),
                Some((
                    "non-default capabilities",
                    r#"container "a" must not include "NET_RAW", "chown" in securityContext.capabilities.add"#,
                )),
            ),
        ];
        run_rows(capabilities_baseline_v1_0, rows);
    }

    #[test]
    fn host_namespaces() {
        // k8s.io/pod-security-admission/policy/check_hostNamespaces_test.go TestHostNamespaces
        let rows = vec![
            row(
                "false is allowed",
                json!({"containers": [], "hostNetwork": false, "hostPID": false, "hostIPC": false}),
                None,
            ),
            row(
                "multiple host namespaces",
                json!({"containers": [], "hostNetwork": true, "hostPID": true, "hostIPC": true}),
                Some(("host namespaces", "hostNetwork=true, hostPID=true, hostIPC=true")),
            ),
            row(
                "hostIPC only",
                json!({"containers": [], "hostIPC": true}),
                Some(("host namespaces", "hostIPC=true")),
            ),
        ];
        run_rows(host_namespaces_v1_0, rows);
    }

    #[test]
    fn host_path_volumes() {
        // k8s.io/pod-security-admission/policy/check_hostPathVolumes_test.go
        let rows = vec![
            row("no volumes", json!({"containers": []}), None),
            row(
                "multiple volumes",
                json!({"containers": [], "volumes": [
                    {"name": "a", "hostPath": {"path": "/a"}},
                    {"name": "b", "hostPath": {"path": "/b"}},
                    {"name": "c", "emptyDir": {}}]}),
                Some(("hostPath volumes", r#"volumes "a", "b""#)),
            ),
            row(
                "one volume",
                json!({"containers": [], "volumes": [{"name": "a", "hostPath": {"path": "/a"}}]}),
                Some(("hostPath volumes", r#"volume "a""#)),
            ),
        ];
        run_rows(host_path_volumes_v1_0, rows);
    }

    #[test]
    fn host_ports() {
        // k8s.io/pod-security-admission/policy/check_hostPorts_test.go
        let rows = vec![
            row(
                "hostPort 0 is allowed",
                json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 0}]}]}),
                None,
            ),
            row(
                "one container, one port",
                json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
                Some(("hostPort", r#"container "a" uses hostPort 8080"#)),
            ),
            row(
                "multiple containers, ports sorted as text",
                json!({"containers": [
                    {"name": "a", "ports": [{"containerPort": 1, "hostPort": 9090}, {"containerPort": 2}]},
                    {"name": "b", "ports": [{"containerPort": 1, "hostPort": 10}]},
                    {"name": "c", "ports": [{"containerPort": 1}]}],
                    "initContainers": [{"name": "i", "ports": [{"containerPort": 1, "hostPort": 9090}]}]}),
                Some(("hostPort", r#"containers "i", "a", "b" use hostPorts 10, 9090"#)),
            ),
        ];
        run_rows(host_ports_v1_0, rows);
    }

    #[test]
    fn host_probes_and_host_lifecycle() {
        // k8s.io/pod-security-admission/policy/check_hostProbesAndhostLifecycle_test.go
        let rows = vec![
            row(
                "probes without host are allowed",
                json!({"containers": [{"name": "a",
                    "livenessProbe": {"httpGet": {"port": 8080}},
                    "readinessProbe": {"tcpSocket": {"port": 8080, "host": ""}}}]}),
                None,
            ),
            row(
                "liveness httpGet host",
                json!({"containers": [{"name": "a", "livenessProbe": {"httpGet": {"host": "bad.host", "port": 80}}}]}),
                Some(("probe or lifecycle host", r#"container "a" uses probe or lifecycle host "bad.host""#)),
            ),
            row(
                "loopback is forbidden too",
                json!({"containers": [{"name": "a", "readinessProbe": {"tcpSocket": {"host": "::1", "port": 80}}}]}),
                Some(("probe or lifecycle host", r#"container "a" uses probe or lifecycle host "::1""#)),
            ),
            row(
                "lifecycle handlers, several containers, sorted unique",
                json!({"containers": [
                    {"name": "b", "lifecycle": {"postStart": {"httpGet": {"host": "z.example", "port": 80}},
                                                "preStop": {"tcpSocket": {"host": "a.example", "port": 80}}}},
                    {"name": "a", "startupProbe": {"httpGet": {"host": "z.example", "port": 80}}}]}),
                Some((
                    "probe or lifecycle host",
                    r#"containers "a", "b" use probe or lifecycle hosts "a.example", "z.example""#,
                )),
            ),
        ];
        run_rows(host_probes_and_host_lifecycle_v1_34, rows);
    }

    #[test]
    fn privileged() {
        // k8s.io/pod-security-admission/policy/check_privileged_test.go
        let rows = vec![
            row(
                "false and unset are allowed",
                json!({"containers": [{"name": "a", "securityContext": {"privileged": false}}, {"name": "b"}]}),
                None,
            ),
            row(
                "multiple containers",
                json!({"containers": [
                    {"name": "a", "securityContext": {"privileged": true}},
                    {"name": "b", "securityContext": {"privileged": false}},
                    {"name": "c", "securityContext": {"privileged": true}}]}),
                Some(("privileged", r#"containers "a", "c" must not set securityContext.privileged=true"#)),
            ),
            row(
                "ephemeral container",
                json!({"containers": [], "ephemeralContainers": [{"name": "dbg", "securityContext": {"privileged": true}}]}),
                Some(("privileged", r#"container "dbg" must not set securityContext.privileged=true"#)),
            ),
        ];
        run_rows(privileged_v1_0, rows);
    }

    #[test]
    fn proc_mount() {
        // k8s.io/pod-security-admission/policy/check_procMount_test.go
        let unmasked = json!({"hostUsers": false, "containers": [
            {"name": "a", "securityContext": {"procMount": "Default"}},
            {"name": "b", "securityContext": {"procMount": "Unmasked"}},
            {"name": "c", "securityContext": {"procMount": "Other"}},
            {"name": "d"}]});
        let rows = vec![
            row(
                "Default and unset are allowed",
                json!({"containers": [{"name": "a", "securityContext": {"procMount": "Default"}}, {"name": "b"}]}),
                None,
            ),
            row(
                "hostUsers false does not relax without opt-in",
                unmasked.clone(),
                Some((
                    "procMount",
                    r#"containers "b", "c" must not set securityContext.procMount to "Other", "Unmasked""#,
                )),
            ),
        ];
        run_rows(proc_mount_v1_0, rows);
        let relaxed = EvaluationOptions { relax_for_user_namespace_pods: true, ..Default::default() };
        run_rows_with(proc_mount_v1_0, &relaxed, vec![row("relaxed for user namespace pod", unmasked, None)]);
    }

    #[test]
    fn se_linux_options_rows() {
        // k8s.io/pod-security-admission/policy/check_seLinuxOptions_test.go TestSELinuxOptions
        let ok_and_bad_containers = json!([
            {"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_t"}}},
            {"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_init_t"}}},
            {"name": "c", "securityContext": {"seLinuxOptions": {"type": "container_kvm_t"}}},
            {"name": "d", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}},
            {"name": "e", "securityContext": {"seLinuxOptions": {"type": "bar"}}},
            {"name": "f", "securityContext": {"seLinuxOptions": {"user": "bar"}}},
            {"name": "g", "securityContext": {"seLinuxOptions": {"role": "baz"}}}]);
        let bad_pod = json!({"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}});
        let rows = vec![
            row(
                "invalid pod and containers",
                json!({"securityContext": bad_pod, "containers": ok_and_bad_containers}),
                Some((
                    "seLinuxOptions",
                    r#"pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set"#,
                )),
            ),
            row(
                "invalid pod",
                json!({"securityContext": bad_pod, "containers": [
                    {"name": "d", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}),
                Some((
                    "seLinuxOptions",
                    r#"pod set forbidden securityContext.seLinuxOptions: type "foo"; user may not be set; role may not be set"#,
                )),
            ),
            row(
                "invalid containers",
                json!({"securityContext": {"seLinuxOptions": {}}, "containers": ok_and_bad_containers}),
                Some((
                    "seLinuxOptions",
                    r#"containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: type "bar"; user may not be set; role may not be set"#,
                )),
            ),
            row(
                "bad type",
                json!({"containers": [], "securityContext": {"seLinuxOptions": {"type": "bad"}}}),
                Some(("seLinuxOptions", r#"pod set forbidden securityContext.seLinuxOptions: type "bad""#)),
            ),
            row(
                "bad user",
                json!({"containers": [], "securityContext": {"seLinuxOptions": {"user": "bad"}}}),
                Some((
                    "seLinuxOptions",
                    "pod set forbidden securityContext.seLinuxOptions: user may not be set",
                )),
            ),
            row(
                "bad role",
                json!({"containers": [], "securityContext": {"seLinuxOptions": {"role": "bad"}}}),
                Some((
                    "seLinuxOptions",
                    "pod set forbidden securityContext.seLinuxOptions: role may not be set",
                )),
            ),
            row(
                "level is not restricted",
                json!({"containers": [], "securityContext": {"seLinuxOptions": {"level": "s0:c1", "type": "container_t"}}}),
                None,
            ),
        ];
        run_rows(se_linux_options_v1_31, rows);
        // Before 1.31 container_engine_t is not allowed.
        run_rows(
            se_linux_options_v1_0,
            vec![row(
                "container_engine_t before 1.31",
                json!({"containers": [{"name": "d", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}),
                Some((
                    "seLinuxOptions",
                    r#"container "d" set forbidden securityContext.seLinuxOptions: type "container_engine_t""#,
                )),
            )],
        );
    }

    #[test]
    fn seccomp_profile_baseline_annotations() {
        // k8s.io/pod-security-admission/policy/check_seccompProfile_baseline_test.go (1.0)
        let rows = vec![
            Row {
                name: "allowed annotation values",
                meta: json!({"annotations": {
                    "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
                    "container.seccomp.security.alpha.kubernetes.io/a": "docker/default",
                    "container.seccomp.security.alpha.kubernetes.io/b": "localhost/x"}}),
                spec: json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                want: None,
            },
            Row {
                name: "pod and container annotations; annotations of absent containers are ignored",
                meta: json!({"annotations": {
                    "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                    "container.seccomp.security.alpha.kubernetes.io/a": "",
                    "container.seccomp.security.alpha.kubernetes.io/z": "unconfined"}}),
                spec: json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                want: Some((
                    "seccompProfile",
                    r#"forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="", seccomp.security.alpha.kubernetes.io/pod="unconfined""#,
                )),
            },
            Row {
                name: "fields are ignored before 1.19",
                meta: json!({}),
                spec: json!({"containers": [], "securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
                want: None,
            },
        ];
        run_rows(seccomp_profile_baseline_v1_0, rows);
    }

    #[test]
    fn seccomp_profile_baseline_fields() {
        // k8s.io/pod-security-admission/policy/check_seccompProfile_baseline_test.go (1.19)
        let rows = vec![
            row(
                "unset, RuntimeDefault and Localhost are allowed",
                json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [
                    {"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}}]}),
                None,
            ),
            row(
                "pod and containers",
                json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [
                    {"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                    {"name": "b", "securityContext": {"seccompProfile": {"type": "Bogus"}}},
                    {"name": "c", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}]}),
                Some((
                    "seccompProfile",
                    r#"pod and containers "a", "b" must not set securityContext.seccompProfile.type to "Bogus", "Unconfined""#,
                )),
            ),
        ];
        run_rows(seccomp_profile_baseline_v1_19, rows);
    }

    #[test]
    fn sysctls_by_version() {
        // k8s.io/pod-security-admission/policy/check_sysctls_test.go
        let with = |names: &[&str]| {
            let sysctls: Vec<serde_json::Value> =
                names.iter().map(|n| json!({"name": n, "value": "1"})).collect();
            json!({"containers": [], "securityContext": {"sysctls": sysctls}})
        };
        run_rows(
            sysctls_v1_0,
            vec![
                row("safe set", with(SYSCTLS_ALLOWED_V1_0), None),
                row(
                    "forbidden in order, duplicates kept",
                    with(&["a", "kernel.shm_rmid_forced", "b", "a"]),
                    Some(("forbidden sysctls", "a, b, a")),
                ),
                row(
                    "1.27 addition not yet allowed",
                    with(SYSCTLS_ADDED_V1_27),
                    Some(("forbidden sysctls", "net.ipv4.ip_local_reserved_ports")),
                ),
            ],
        );
        run_rows(sysctls_v1_27, vec![row("1.27 set", with(SYSCTLS_ADDED_V1_27), None)]);
        run_rows(
            sysctls_v1_29,
            vec![
                row("1.29 set", with(SYSCTLS_ADDED_V1_29), None),
                row(
                    "1.32 addition",
                    with(&["net.ipv4.tcp_rmem"]),
                    Some(("forbidden sysctls", "net.ipv4.tcp_rmem")),
                ),
            ],
        );
        run_rows(sysctls_v1_32, vec![row("1.32 set", with(SYSCTLS_ADDED_V1_32), None)]);
    }

    #[test]
    fn windows_host_process() {
        // k8s.io/pod-security-admission/policy/check_windowsHostProcess_test.go
        let rows = vec![
            row(
                "false is allowed",
                json!({"securityContext": {"windowsOptions": {"hostProcess": false}},
                    "containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": false}}}]}),
                None,
            ),
            row(
                "pod and containers",
                json!({"securityContext": {"windowsOptions": {"hostProcess": true}}, "containers": [
                    {"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}},
                    {"name": "b", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}),
                Some((
                    "hostProcess",
                    r#"pod and containers "a", "b" must not set securityContext.windowsOptions.hostProcess=true"#,
                )),
            ),
            row(
                "container only",
                json!({"containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}),
                Some((
                    "hostProcess",
                    r#"container "a" must not set securityContext.windowsOptions.hostProcess=true"#,
                )),
            ),
        ];
        run_rows(windows_host_process_v1_0, rows);
    }
}
