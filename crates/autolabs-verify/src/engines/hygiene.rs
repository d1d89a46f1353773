//! Hygiene that kube-score and Polaris users expect, only where it matters here: containers
//! without requests or limits (when no LimitRange fills them in), long-running workloads
//! without probes, PVCs naming a StorageClass that does not exist, images by `latest`,
//! images of the platform's own components by tag without a digest, and `$(VAR)`/`$VAR` in a command or its arguments that nothing sets ([`super::variables`]).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, LimitRange};

use crate::finding::{Finding, Severity};
use crate::objects::{Object, ObjectSet};

/// A pod the kubelet runs from a file on its node (or the mirror pod it posts for one): never
/// scheduled, never admitted by LimitRange or ResourceQuota, restarted by the kubelet alone.
/// Requests, limits and probes are its author's choice there (kubeadm's own static pods set
/// no limits), so those hygiene rules skip it.
// Mirror pods: k8s.io/kubernetes/pkg/kubelet/types/pod_update.go IsMirrorPod (the
// `kubernetes.io/config.mirror` annotation) and the Node owner the kubelet sets
// (pkg/kubelet/pod/mirror_client.go CreateMirrorPod); files: a `manifests/` directory, as the
// kubelet's staticPodPath (`/etc/kubernetes/manifests`) and `render`'s control-plane/manifests/.
pub fn is_static_pod(o: &Object) -> bool {
    if o.kind != "Pod" || !o.group().is_empty() {
        return false;
    }
    let owned_by_node = o.value["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["kind"] == "Node"));
    let annotations = o.annotations();
    let mirror = annotations.contains_key("kubernetes.io/config.mirror")
        || annotations.get("kubernetes.io/config.source").is_some_and(|s| s == "file");
    let in_manifests_dir =
        std::path::Path::new(&o.file).parent().and_then(|d| d.file_name()).is_some_and(|d| d == "manifests");
    owned_by_node || mirror || in_manifests_dir
}

pub fn check(set: &ObjectSet) -> Vec<Finding> {
    let mut out = Vec::new();
    // Namespaces whose LimitRange supplies container defaults (requests, limits).
    let mut defaults: BTreeSet<(String, &'static str)> = BTreeSet::new();
    for o in set.of_kind("", "LimitRange") {
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        if let Ok(lr) = o.typed::<LimitRange>() {
            for item in lr.spec.iter().flat_map(|s| &s.limits).filter(|i| i.type_ == "Container") {
                if item.default.is_some() {
                    defaults.insert((ns.clone(), "limits"));
                    defaults.insert((ns.clone(), "requests"));
                }
                if item.default_request.is_some() {
                    defaults.insert((ns.clone(), "requests"));
                }
            }
        }
    }
    let classes: BTreeSet<&str> =
        set.of_kind("storage.k8s.io", "StorageClass").map(|o| o.name.as_str()).collect();
    let has_default_class = set.of_kind("storage.k8s.io", "StorageClass").any(|o| {
        o.annotations().get("storageclass.kubernetes.io/is-default-class").is_some_and(|v| v == "true")
    });

    for o in &set.objects {
        let Some(t) = o.pod_template() else { continue };
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        let long_running = matches!(
            o.kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController"
        );
        let static_pod = is_static_pod(o);
        if is_platform_component(o) {
            out.extend(unpinned_images(o, &t));
        }
        for (i, c) in t.spec.containers.iter().enumerate() {
            let path = format!("{}.containers[{i}]", t.spec_path);
            for (what, present) in [("requests", has(c, true)), ("limits", has(c, false))] {
                if !present && !static_pod && !defaults.contains(&(ns.clone(), what)) {
                    out.push(
                        Finding::new(
                            "hygiene",
                            format!("missing-{what}"),
                            Severity::Warning,
                            format!("container {:?} sets no cpu/memory {what} and no LimitRange in {ns:?} supplies them", c.name),
                        )
                        .at(o, &path),
                    );
                }
            }
            if long_running && (c.readiness_probe.is_none() || c.liveness_probe.is_none()) {
                let missing: Vec<&str> =
                    [("readiness", c.readiness_probe.is_none()), ("liveness", c.liveness_probe.is_none())]
                        .into_iter()
                        .filter(|(_, m)| *m)
                        .map(|(n, _)| n)
                        .collect();
                out.push(
                    Finding::new(
                        "hygiene",
                        "missing-probes",
                        Severity::Warning,
                        format!(
                            "container {:?} of a long-running {} has no {} probe",
                            c.name,
                            o.kind,
                            missing.join(" or ")
                        ),
                    )
                    .at(o, &path),
                );
            }
            if let Some(image) = c.image.as_deref()
                && uses_latest(image)
            {
                out.push(
                    Finding::new(
                        "hygiene",
                        "image-latest",
                        Severity::Warning,
                        format!("container {:?} runs {image:?}: pin a version or a digest", c.name),
                    )
                    .at(o, &format!("{path}.image")),
                );
            }
        }
    }

    for o in &set.objects {
        let Some(t) = o.pod_template() else { continue };
        let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
        let init = t.spec.init_containers.iter().flatten().enumerate().map(|(i, c)| ("initContainers", i, c));
        for (list, i, c) in
            init.chain(t.spec.containers.iter().enumerate().map(|(i, c)| ("containers", i, c)))
        {
            for v in super::variables::unset_variables(set, &ns, &t.spec, c) {
                out.push(
                    Finding::new(
                        "hygiene",
                        "unset-variable",
                        Severity::Warning,
                        format!(
                            "container {:?} uses {} in its command or arguments, but neither its env, its envFrom \
                             nor the image sets {}: {}",
                            c.name,
                            v.written(),
                            v.name,
                            v.consequence()
                        ),
                    )
                    .at(o, &format!("{}.{list}[{i}]", t.spec_path)),
                );
            }
        }
    }

    // PVCs (and StatefulSet claim templates) need a StorageClass that exists.
    let mut claims: Vec<(&crate::Object, String, Option<String>)> = Vec::new();
    for o in set.of_kind("", "PersistentVolumeClaim") {
        claims.push((
            o,
            "spec.storageClassName".into(),
            o.value["spec"]["storageClassName"].as_str().map(str::to_string),
        ));
    }
    for o in set.of_kind("apps", "StatefulSet") {
        for (i, t) in o.value["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten().enumerate() {
            claims.push((
                o,
                format!("spec.volumeClaimTemplates[{i}].spec.storageClassName"),
                t["spec"]["storageClassName"].as_str().map(str::to_string),
            ));
        }
    }
    let classes_known = !classes.is_empty();
    for (o, path, class) in claims {
        match class {
            Some(c) if !c.is_empty() && classes_known && !classes.contains(c.as_str()) => out.push(
                Finding::new(
                    "hygiene",
                    "storageclass-missing",
                    Severity::Warning,
                    format!(
                        "claim asks for StorageClass {c:?}, which is not among the inputs ({})",
                        classes.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(o, &path),
            ),
            None if classes_known && !has_default_class => out.push(
                Finding::new(
                    "hygiene",
                    "storageclass-missing",
                    Severity::Warning,
                    "claim names no StorageClass and no StorageClass is marked default: it stays Pending",
                )
                .at(o, &path),
            ),
            _ => {}
        }
    }
    out
}

fn has(c: &Container, requests: bool) -> bool {
    let r = c.resources.as_ref();
    let list = if requests { r.and_then(|r| r.requests.as_ref()) } else { r.and_then(|r| r.limits.as_ref()) };
    list.is_some_and(|l| l.contains_key("cpu") && l.contains_key("memory"))
}

/// An object `render` wrote for the platform (it carries `autolabs.io/platform`), and not a
/// Pod or ReplicaSet a controller made from one: its owner is checked instead. Lab Pods do not
/// carry the label: their images come from the lab templates.
fn is_platform_component(o: &Object) -> bool {
    let controlled = o.value["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["controller"] == true));
    !controlled && o.labels().contains_key(autolabs_model::topology::PLATFORM_LABEL)
}

/// Containers of a platform component whose image is a tag without a digest: a tag can be
/// pushed again, so the same manifest may run other bytes on the next pull.
fn unpinned_images(o: &Object, t: &crate::objects::PodTemplate) -> Vec<Finding> {
    let init = t.spec.init_containers.iter().flatten().enumerate().map(|(i, c)| ("initContainers", i, c));
    init.chain(t.spec.containers.iter().enumerate().map(|(i, c)| ("containers", i, c)))
        .filter_map(|(list, i, c)| {
            let image = c.image.as_deref()?;
            if autolabs_model::versions::digest(image).is_some() || uses_latest(image) {
                // `latest` has its own finding.
                return None;
            }
            let field = format!("{}.{list}[{i}].image", t.spec_path);
            Some(
                Finding::new(
                    "hygiene",
                    "image-not-digest",
                    Severity::Warning,
                    format!(
                        "{field}: container {:?} of a platform component runs {image:?} by tag: pin it by digest ({image}@sha256:…) in platform.yaml",
                        c.name
                    ),
                )
                .at(o, &field),
            )
        })
        .collect()
}

/// `ubuntu`, `ubuntu:latest`, `registry:5000/app` (no tag) — but not digests.
pub fn uses_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_tags() {
        assert!(uses_latest("ubuntu"));
        assert!(uses_latest("ubuntu:latest"));
        assert!(uses_latest("registry:5000/app"));
        assert!(!uses_latest("registry:5000/app:1.2"));
        assert!(!uses_latest("postgres:16.4"));
        assert!(!uses_latest("app@sha256:abcd"));
    }

    #[test]
    fn flags_missing_resources_probes_and_classes() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: x\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: a}\nspec:\n  storageClassName: slow\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
            "t.yaml",
        );
        let rules: BTreeSet<String> = check(&set).into_iter().map(|f| f.rule).collect();
        for r in
            ["missing-requests", "missing-limits", "missing-probes", "image-latest", "storageclass-missing"]
        {
            assert!(rules.contains(r), "{r} not reported: {rules:?}");
        }
    }

    /// Platform components by tag are warned with the object and the image's field; a digest
    /// silences it; foreign workloads and controller-made copies are not platform components.
    #[test]
    fn platform_images_by_tag_are_warned_with_object_and_field() {
        const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let unpinned = |p: &autolabs_model::Platform| -> Vec<Finding> {
            check(&crate::run::rendered_set(p)).into_iter().filter(|f| f.rule == "image-not-digest").collect()
        };
        let mut p = autolabs_model::Platform::default();
        let defaults = unpinned(&p);
        let provisioner = defaults
            .iter()
            .find(|f| f.message.contains(autolabs_model::versions::PROVISIONER_IMAGE.default))
            .unwrap_or_else(|| panic!("{defaults:#?}"));
        assert_eq!(provisioner.severity, Severity::Warning);
        let object = provisioner.object.as_ref().unwrap();
        assert_eq!(
            (object.kind.as_str(), object.namespace.as_deref(), object.name.as_str()),
            ("Deployment", Some("platform"), "autolabs-provisioner")
        );
        assert!(
            provisioner.message.starts_with("spec.template.spec.containers[0].image: "),
            "{}",
            provisioner.message
        );
        assert!(defaults.iter().any(|f| f.message.contains("postgres:16.4")), "{defaults:#?}");

        p.spec.provisioner.image = Some(format!("registry.example/autolabs:0.2.0@{SHA}"));
        p.spec.images.postgres = format!("postgres:16.4@{SHA}");
        let pinned = unpinned(&p);
        assert!(
            pinned.iter().all(|f| !f.message.contains("registry.example/autolabs") && !f.message.contains("postgres:")),
            "{pinned:#?}"
        );
        assert!(pinned.len() < defaults.len());

        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: a, labels: {autolabs.io/platform: x}, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u, controller: true}]}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: web, image: nginx:1.27}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other, namespace: a}\nspec:\n  selector: {matchLabels: {app: o}}\n  template:\n    metadata: {labels: {app: o}}\n    spec:\n      containers:\n      - {name: o, image: nginx:1.27}\n",
            "t.yaml",
        );
        assert!(check(&set).iter().all(|f| f.rule != "image-not-digest"));
    }
}
