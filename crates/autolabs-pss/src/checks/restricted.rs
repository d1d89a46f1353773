//! Restricted checks: they run only at `restricted`, and some of them replace ("override") a
//! baseline check at the same version (see the registry).

use std::collections::BTreeSet;

use autolabs_k8s::k8s::ObjectMeta;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::{PodSpec, Volume};

use super::baseline::valid_seccomp_type;
use super::{Finding, containers_phrase, is_windows_pod, relax_for_user_namespace_pod};
use crate::containers::containers;
use crate::format::{join_quote, pluralize};
use crate::registry::EvaluationOptions;

// ---------------------------------------------------------------------------------------
// allowPrivilegeEscalation

/// Every container must set `securityContext.allowPrivilegeEscalation=false` (1.8+).
// k8s.io/pod-security-admission/policy/check_allowPrivilegeEscalation.go allowPrivilegeEscalationV1Dot8
pub(crate) fn allow_privilege_escalation_v1_8(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let bad_containers: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|sc| sc.allow_privilege_escalation) != Some(false))
        .map(|c| c.name)
        .collect();
    if bad_containers.is_empty() {
        return None;
    }
    Some(Finding {
        reason: "allowPrivilegeEscalation != false",
        detail: format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&bad_containers)
        ),
    })
}

/// As 1.8, but pods with `spec.os.name: windows` are exempt (1.25+).
// k8s.io/pod-security-admission/policy/check_allowPrivilegeEscalation.go allowPrivilegeEscalationV1Dot25
pub(crate) fn allow_privilege_escalation_v1_25(
    meta: &ObjectMeta,
    spec: &PodSpec,
    options: &EvaluationOptions,
) -> Option<Finding> {
    if is_windows_pod(spec) {
        return None;
    }
    allow_privilege_escalation_v1_8(meta, spec, options)
}

// ---------------------------------------------------------------------------------------
// capabilities_restricted

/// Containers must drop `ALL` and may add only `NET_BIND_SERVICE` (1.22+).
// k8s.io/pod-security-admission/policy/check_capabilities_restricted.go capabilitiesRestrictedV1Dot22
pub(crate) fn capabilities_restricted_v1_22(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut missing_drop_all: Vec<&str> = Vec::new();
    let mut adding_forbidden: Vec<&str> = Vec::new();
    let mut forbidden_capabilities: BTreeSet<&str> = BTreeSet::new();
    for container in containers(spec) {
        let Some(capabilities) = container.security_context.and_then(|sc| sc.capabilities.as_ref()) else {
            missing_drop_all.push(container.name);
            continue;
        };
        if !capabilities.drop.iter().flatten().any(|c| c == "ALL") {
            missing_drop_all.push(container.name);
        }
        let mut added_forbidden = false;
        for capability in capabilities.add.iter().flatten() {
            if capability != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden_capabilities.insert(capability);
            }
        }
        if added_forbidden {
            adding_forbidden.push(container.name);
        }
    }
    let mut details: Vec<String> = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            r#"{} must set securityContext.capabilities.drop=["ALL"]"#,
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        let forbidden: Vec<&str> = forbidden_capabilities.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    Some(Finding { reason: "unrestricted capabilities", detail: details.join("; ") })
}

/// As 1.22, but pods with `spec.os.name: windows` are exempt (1.25+).
// k8s.io/pod-security-admission/policy/check_capabilities_restricted.go capabilitiesRestrictedV1Dot25
pub(crate) fn capabilities_restricted_v1_25(
    meta: &ObjectMeta,
    spec: &PodSpec,
    options: &EvaluationOptions,
) -> Option<Finding> {
    if is_windows_pod(spec) {
        return None;
    }
    capabilities_restricted_v1_22(meta, spec, options)
}

// ---------------------------------------------------------------------------------------
// restrictedVolumes

/// The upstream name of the first restricted source a volume uses, in upstream's order;
/// `None` for the allowed inline sources.
///
/// A volume with no source at all is what the API server defaults to `emptyDir`
/// (`SetDefaults_Volume`) before admission sees it, so it is allowed here too.
// k8s.io/pod-security-admission/policy/check_restrictedVolumes.go restrictedVolumes_1_0
fn restricted_volume_type(volume: &Volume) -> Option<&'static str> {
    let allowed = volume.config_map.is_some()
        || volume.csi.is_some()
        || volume.downward_api.is_some()
        || volume.empty_dir.is_some()
        || volume.ephemeral.is_some()
        || volume.persistent_volume_claim.is_some()
        || volume.projected.is_some()
        || volume.secret.is_some()
        // kubernetes/kubernetes#130394: image volumes are allowed (as running images are).
        || volume.image.is_some();
    if allowed {
        return None;
    }
    let restricted = [
        (volume.host_path.is_some(), "hostPath"),
        (volume.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (volume.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (volume.git_repo.is_some(), "gitRepo"),
        (volume.nfs.is_some(), "nfs"),
        (volume.iscsi.is_some(), "iscsi"),
        (volume.glusterfs.is_some(), "glusterfs"),
        (volume.rbd.is_some(), "rbd"),
        (volume.flex_volume.is_some(), "flexVolume"),
        (volume.cinder.is_some(), "cinder"),
        (volume.cephfs.is_some(), "cephfs"),
        (volume.flocker.is_some(), "flocker"),
        (volume.fc.is_some(), "fc"),
        (volume.azure_file.is_some(), "azureFile"),
        (volume.vsphere_volume.is_some(), "vsphereVolume"),
        (volume.quobyte.is_some(), "quobyte"),
        (volume.azure_disk.is_some(), "azureDisk"),
        (volume.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (volume.portworx_volume.is_some(), "portworxVolume"),
        (volume.scale_io.is_some(), "scaleIO"),
        (volume.storageos.is_some(), "storageos"),
    ];
    // No source set: defaulted to emptyDir (allowed). Every source k8s-openapi knows is
    // listed above, so upstream's "unknown" cannot arise from these types.
    restricted.iter().find(|(set, _)| *set).map(|(_, name)| *name)
}

/// Inline volumes only of the allowed types: configMap, csi, downwardAPI, emptyDir,
/// ephemeral, persistentVolumeClaim, projected, secret, image.
// k8s.io/pod-security-admission/policy/check_restrictedVolumes.go restrictedVolumesV1Dot0
pub(crate) fn restricted_volumes_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut bad_volumes: Vec<&str> = Vec::new();
    let mut bad_types: BTreeSet<&str> = BTreeSet::new();
    for volume in spec.volumes.iter().flatten() {
        if let Some(volume_type) = restricted_volume_type(volume) {
            bad_volumes.push(&volume.name);
            bad_types.insert(volume_type);
        }
    }
    if bad_volumes.is_empty() {
        return None;
    }
    let bad_types: Vec<&str> = bad_types.into_iter().collect();
    Some(Finding {
        reason: "restricted volume types",
        detail: format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad_volumes.len()),
            join_quote(&bad_volumes),
            pluralize("uses", "use", bad_volumes.len()),
            pluralize("restricted volume type", "restricted volume types", bad_types.len()),
            join_quote(&bad_types)
        ),
    })
}

// ---------------------------------------------------------------------------------------
// runAsNonRoot

/// `runAsNonRoot` must be true: set on the pod (and not overridden with false), or on every
/// container.
// k8s.io/pod-security-admission/policy/check_runAsNonRoot.go runAsNonRootV1Dot0
pub(crate) fn run_as_non_root_v1_0(
    _: &ObjectMeta,
    spec: &PodSpec,
    options: &EvaluationOptions,
) -> Option<Finding> {
    if relax_for_user_namespace_pod(spec, options) {
        return None;
    }
    let mut bad_setters: Vec<String> = Vec::new();
    let mut pod_run_as_non_root = false;
    match spec.security_context.as_ref().and_then(|sc| sc.run_as_non_root) {
        Some(false) => bad_setters.push("pod".to_string()),
        Some(true) => pod_run_as_non_root = true,
        None => {}
    }
    let mut explicitly_bad: Vec<&str> = Vec::new();
    let mut implicitly_bad: Vec<&str> = Vec::new();
    for container in containers(spec) {
        match container.security_context.and_then(|sc| sc.run_as_non_root) {
            Some(false) => explicitly_bad.push(container.name),
            Some(true) => {}
            None if !pod_run_as_non_root => implicitly_bad.push(container.name),
            None => {}
        }
    }
    if !explicitly_bad.is_empty() {
        bad_setters.push(containers_phrase(&explicitly_bad));
    }
    if !bad_setters.is_empty() {
        return Some(Finding {
            reason: "runAsNonRoot != true",
            detail: format!("{} must not set securityContext.runAsNonRoot=false", bad_setters.join(" and ")),
        });
    }
    if !implicitly_bad.is_empty() {
        return Some(Finding {
            reason: "runAsNonRoot != true",
            detail: format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers_phrase(&implicitly_bad)
            ),
        });
    }
    None
}

// ---------------------------------------------------------------------------------------
// runAsUser

/// Neither the pod nor a container may set `runAsUser: 0` (1.23+).
// k8s.io/pod-security-admission/policy/check_runAsUser.go runAsUserV1Dot23
pub(crate) fn run_as_user_v1_23(
    _: &ObjectMeta,
    spec: &PodSpec,
    options: &EvaluationOptions,
) -> Option<Finding> {
    if relax_for_user_namespace_pod(spec, options) {
        return None;
    }
    let mut bad_setters: Vec<String> = Vec::new();
    if spec.security_context.as_ref().and_then(|sc| sc.run_as_user) == Some(0) {
        bad_setters.push("pod".to_string());
    }
    let explicitly_bad: Vec<&str> = containers(spec)
        .filter(|c| c.security_context.and_then(|sc| sc.run_as_user) == Some(0))
        .map(|c| c.name)
        .collect();
    if !explicitly_bad.is_empty() {
        bad_setters.push(containers_phrase(&explicitly_bad));
    }
    if bad_setters.is_empty() {
        return None;
    }
    Some(Finding {
        reason: "runAsUser=0",
        detail: format!("{} must not set runAsUser=0", bad_setters.join(" and ")),
    })
}

// ---------------------------------------------------------------------------------------
// seccompProfile_restricted

/// `seccompProfile.type` must be `RuntimeDefault` or `Localhost`, on the pod or on every
/// container (1.19+).
// k8s.io/pod-security-admission/policy/check_seccompProfile_restricted.go seccompProfileRestrictedV1Dot19
pub(crate) fn seccomp_profile_restricted_v1_19(
    _: &ObjectMeta,
    spec: &PodSpec,
    _: &EvaluationOptions,
) -> Option<Finding> {
    let mut bad_setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<&str> = BTreeSet::new();
    let mut pod_seccomp_set = false;
    if let Some(profile) = spec.security_context.as_ref().and_then(|sc| sc.seccomp_profile.as_ref()) {
        if valid_seccomp_type(&profile.type_) {
            pod_seccomp_set = true;
        } else {
            bad_setters.push("pod".to_string());
            bad_values.insert(&profile.type_);
        }
    }
    let mut explicitly_bad: Vec<&str> = Vec::new();
    let mut implicitly_bad: Vec<&str> = Vec::new();
    for container in containers(spec) {
        match container.security_context.and_then(|sc| sc.seccomp_profile.as_ref()) {
            Some(profile) if !valid_seccomp_type(&profile.type_) => {
                explicitly_bad.push(container.name);
                bad_values.insert(&profile.type_);
            }
            Some(_) => {}
            None if !pod_seccomp_set => implicitly_bad.push(container.name),
            None => {}
        }
    }
    if !explicitly_bad.is_empty() {
        bad_setters.push(containers_phrase(&explicitly_bad));
    }
    if !bad_setters.is_empty() {
        let bad_values: Vec<&str> = bad_values.into_iter().collect();
        return Some(Finding {
            reason: "seccompProfile",
            detail: format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                bad_setters.join(" and "),
                join_quote(&bad_values)
            ),
        });
    }
    if !implicitly_bad.is_empty() {
        return Some(Finding {
            reason: "seccompProfile",
            detail: format!(
                r#"pod or {} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
                containers_phrase(&implicitly_bad)
            ),
        });
    }
    None
}

/// As 1.19, but pods with `spec.os.name: windows` are exempt (1.25+).
// k8s.io/pod-security-admission/policy/check_seccompProfile_restricted.go seccompProfileRestrictedV1Dot25
pub(crate) fn seccomp_profile_restricted_v1_25(
    meta: &ObjectMeta,
    spec: &PodSpec,
    options: &EvaluationOptions,
) -> Option<Finding> {
    if is_windows_pod(spec) {
        return None;
    }
    seccomp_profile_restricted_v1_19(meta, spec, options)
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
    fn allow_privilege_escalation() {
        // k8s.io/pod-security-admission/policy/check_allowPrivilegeEscalation_test.go
        let multiple = json!({"containers": [
            {"name": "a"},
            {"name": "b", "securityContext": {}},
            {"name": "c", "securityContext": {"allowPrivilegeEscalation": true}},
            {"name": "d", "securityContext": {"allowPrivilegeEscalation": false}}]});
        let windows = json!({"os": {"name": "windows"}, "containers": [{"name": "a"}]});
        let linux = json!({"os": {"name": "linux"}, "containers": [{"name": "a"}]});
        run_rows(
            allow_privilege_escalation_v1_8,
            vec![
                row(
                    "multiple containers",
                    multiple.clone(),
                    Some((
                        "allowPrivilegeEscalation != false",
                        r#"containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false"#,
                    )),
                ),
                row(
                    "windows is not exempt before 1.25",
                    windows.clone(),
                    Some((
                        "allowPrivilegeEscalation != false",
                        r#"container "a" must set securityContext.allowPrivilegeEscalation=false"#,
                    )),
                ),
            ],
        );
        run_rows(
            allow_privilege_escalation_v1_25,
            vec![
                row("windows pod is exempt", windows, None),
                row(
                    "linux pod is checked",
                    linux,
                    Some((
                        "allowPrivilegeEscalation != false",
                        r#"container "a" must set securityContext.allowPrivilegeEscalation=false"#,
                    )),
                ),
            ],
        );
    }

    #[test]
    fn capabilities_restricted() {
        // k8s.io/pod-security-admission/policy/check_capabilities_restricted_test.go
        let rows = vec![
            row(
                "drop ALL and add NET_BIND_SERVICE is allowed",
                json!({"containers": [{"name": "a", "securityContext": {"capabilities":
                    {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]}),
                None,
            ),
            row(
                "multiple containers",
                json!({"containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {"capabilities": {}}},
                    {"name": "c", "securityContext": {"capabilities": {"drop": ["all"]}}},
                    {"name": "d", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["FOO"]}}},
                    {"name": "e", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "BAR"]}}},
                    {"name": "f", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]}),
                Some((
                    "unrestricted capabilities",
                    r#"containers "a", "b", "c" must set securityContext.capabilities.drop=["ALL"]; containers "d", "e" must not include "BAR", "FOO" in securityContext.capabilities.add"#,
                )),
            ),
        ];
        run_rows(capabilities_restricted_v1_22, rows);
        let windows = json!({"os": {"name": "windows"}, "containers": [{"name": "a"}]});
        run_rows(capabilities_restricted_v1_25, vec![row("windows pod is exempt", windows.clone(), None)]);
        run_rows(
            capabilities_restricted_v1_22,
            vec![row(
                "windows is not exempt before 1.25",
                windows,
                Some((
                    "unrestricted capabilities",
                    r#"container "a" must set securityContext.capabilities.drop=["ALL"]"#,
                )),
            )],
        );
    }

    #[test]
    fn restricted_volumes() {
        // k8s.io/pod-security-admission/policy/check_restrictedVolumes_test.go
        let rows = vec![
            row(
                "allowed types, and a source-less volume (defaulted to emptyDir)",
                json!({"containers": [], "volumes": [
                    {"name": "v0"},
                    {"name": "v1", "emptyDir": {}},
                    {"name": "v2", "secret": {"secretName": "s"}},
                    {"name": "v3", "persistentVolumeClaim": {"claimName": "c"}},
                    {"name": "v4", "downwardAPI": {}},
                    {"name": "v5", "configMap": {"name": "c"}},
                    {"name": "v6", "projected": {"sources": []}},
                    {"name": "v7", "csi": {"driver": "d"}},
                    {"name": "v8", "ephemeral": {}},
                    {"name": "v9", "image": {"reference": "registry.k8s.io/pause"}}]}),
                None,
            ),
            row(
                "all restricted types",
                json!({"containers": [], "volumes": [
                    {"name": "b1", "hostPath": {"path": "/"}},
                    {"name": "b2", "gcePersistentDisk": {"pdName": "x"}},
                    {"name": "b3", "awsElasticBlockStore": {"volumeID": "x"}},
                    {"name": "b4", "gitRepo": {"repository": "x"}},
                    {"name": "b5", "nfs": {"server": "x", "path": "/"}},
                    {"name": "b6", "iscsi": {"targetPortal": "x", "iqn": "x", "lun": 0}},
                    {"name": "b7", "glusterfs": {"endpoints": "x", "path": "x"}},
                    {"name": "b8", "rbd": {"monitors": [], "image": "x"}},
                    {"name": "b9", "flexVolume": {"driver": "x"}},
                    {"name": "b10", "cinder": {"volumeID": "x"}},
                    {"name": "b11", "cephfs": {"monitors": []}},
                    {"name": "b12", "flocker": {}},
                    {"name": "b13", "fc": {}},
                    {"name": "b14", "azureFile": {"secretName": "x", "shareName": "x"}},
                    {"name": "b15", "vsphereVolume": {"volumePath": "x"}},
                    {"name": "b16", "quobyte": {"registry": "x", "volume": "x"}},
                    {"name": "b17", "azureDisk": {"diskName": "x", "diskURI": "x"}},
                    {"name": "b18", "portworxVolume": {"volumeID": "x"}},
                    {"name": "b19", "scaleIO": {"gateway": "x", "system": "x", "secretRef": {}}},
                    {"name": "b20", "storageos": {}},
                    {"name": "b21", "photonPersistentDisk": {"pdID": "x"}},
                    {"name": "ok", "emptyDir": {}}]}),
                Some((
                    "restricted volume types",
                    concat!(
                        r#"volumes "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "b13", "b14", "b15", "b16", "b17", "b18", "b19", "b20", "b21" "#,
                        r#"use restricted volume types "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume""#
                    ),
                )),
            ),
            row(
                "one volume",
                json!({"containers": [], "volumes": [{"name": "a", "hostPath": {"path": "/"}}]}),
                Some(("restricted volume types", r#"volume "a" uses restricted volume type "hostPath""#)),
            ),
        ];
        run_rows(restricted_volumes_v1_0, rows);
    }

    #[test]
    fn run_as_non_root() {
        // k8s.io/pod-security-admission/policy/check_runAsNonRoot_test.go
        let rows = vec![
            row(
                "pod true covers containers",
                json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]}),
                None,
            ),
            row(
                "every container true",
                json!({"containers": [{"name": "a", "securityContext": {"runAsNonRoot": true}}]}),
                None,
            ),
            row(
                "no explicit, no implicit",
                json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {}}]}),
                Some((
                    "runAsNonRoot != true",
                    r#"pod or containers "a", "b" must set securityContext.runAsNonRoot=true"#,
                )),
            ),
            row(
                "explicit false wins over implicit",
                json!({"securityContext": {"runAsNonRoot": false}, "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {"runAsNonRoot": false}},
                    {"name": "c", "securityContext": {"runAsNonRoot": false}},
                    {"name": "d", "securityContext": {"runAsNonRoot": true}}]}),
                Some((
                    "runAsNonRoot != true",
                    r#"pod and containers "b", "c" must not set securityContext.runAsNonRoot=false"#,
                )),
            ),
            row(
                "container false overrides pod true",
                json!({"securityContext": {"runAsNonRoot": true}, "containers": [
                    {"name": "a", "securityContext": {"runAsNonRoot": false}}]}),
                Some((
                    "runAsNonRoot != true",
                    r#"container "a" must not set securityContext.runAsNonRoot=false"#,
                )),
            ),
        ];
        run_rows(run_as_non_root_v1_0, rows);
        let relaxed = EvaluationOptions { relax_for_user_namespace_pods: true, ..Default::default() };
        run_rows_with(
            run_as_non_root_v1_0,
            &relaxed,
            vec![
                row(
                    "user namespace pod is relaxed",
                    json!({"hostUsers": false, "containers": [{"name": "a"}]}),
                    None,
                ),
                row(
                    "hostUsers true is not relaxed",
                    json!({"hostUsers": true, "containers": [{"name": "a"}]}),
                    Some((
                        "runAsNonRoot != true",
                        r#"pod or container "a" must set securityContext.runAsNonRoot=true"#,
                    )),
                ),
            ],
        );
    }

    #[test]
    fn run_as_user() {
        // k8s.io/pod-security-admission/policy/check_runAsUser_test.go
        let rows = vec![
            row(
                "non-zero and unset are allowed",
                json!({"securityContext": {"runAsUser": 1000}, "containers": [
                    {"name": "a"}, {"name": "b", "securityContext": {"runAsUser": 1}}]}),
                None,
            ),
            row(
                "pod and containers",
                json!({"securityContext": {"runAsUser": 0}, "containers": [
                    {"name": "a", "securityContext": {"runAsUser": 0}},
                    {"name": "b", "securityContext": {"runAsUser": 1}},
                    {"name": "c", "securityContext": {"runAsUser": 0}}]}),
                Some(("runAsUser=0", r#"pod and containers "a", "c" must not set runAsUser=0"#)),
            ),
            row(
                "pod only",
                json!({"securityContext": {"runAsUser": 0}, "containers": [{"name": "a"}]}),
                Some(("runAsUser=0", "pod must not set runAsUser=0")),
            ),
        ];
        run_rows(run_as_user_v1_23, rows);
    }

    #[test]
    fn seccomp_profile_restricted() {
        // k8s.io/pod-security-admission/policy/check_seccompProfile_restricted_test.go
        let rows = vec![
            row(
                "pod RuntimeDefault covers containers",
                json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "a"}]}),
                None,
            ),
            row(
                "no explicit, no implicit",
                json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": "Localhost"}}}]}),
                Some((
                    "seccompProfile",
                    r#"pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
                )),
            ),
            row(
                "explicit bad values",
                json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                    {"name": "c", "securityContext": {"seccompProfile": {"type": "Bogus"}}}]}),
                Some((
                    "seccompProfile",
                    r#"pod and containers "b", "c" must not set securityContext.seccompProfile.type to "Bogus", "Unconfined""#,
                )),
            ),
        ];
        run_rows(seccomp_profile_restricted_v1_19, rows);
        let windows = json!({"os": {"name": "windows"}, "containers": [{"name": "a"}]});
        run_rows(seccomp_profile_restricted_v1_25, vec![row("windows pod is exempt", windows, None)]);
    }
}
