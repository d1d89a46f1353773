//! Cluster-scoped prerequisites: PriorityClasses, the provider's StorageClasses and, where the
//! CSI driver supports snapshots, a VolumeSnapshotClass.

use std::collections::BTreeMap;

use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::json;

use super::{Ctx, Rendered, typed, untyped};
use crate::platform::{PlatformSpec, Profile, Provider};
use crate::topology::{LAB_PRIORITY, PLATFORM_PRIORITY};

/// The provider's StorageClass for the data tier: `(name, provisioner, parameters)`.
pub(crate) fn provider_class(
    spec: &PlatformSpec,
) -> (&'static str, &'static str, &'static [(&'static str, &'static str)]) {
    match (spec.provider, spec.profile) {
        // The document: local-path for the MVP, proxmox-csi for production.
        (Provider::Proxmox, Profile::Mvp) | (Provider::Generic, _) => {
            ("local-path", "rancher.io/local-path", &[])
        }
        (Provider::Proxmox, Profile::Production) => (
            "proxmox-ssd",
            "csi.proxmox.sinextra.dev",
            &[("storage", "local-lvm"), ("csi.storage.k8s.io/fstype", "ext4")],
        ),
        (Provider::Aws, _) => ("gp3-encrypted", "ebs.csi.aws.com", &[("type", "gp3"), ("encrypted", "true")]),
        (Provider::Gcp, _) => ("pd-ssd", "pd.csi.storage.gke.io", &[("type", "pd-ssd")]),
        (Provider::Yandex, _) => (
            "yc-network-ssd",
            "disk-csi-driver.mks.ycloud.io",
            &[("type", "network-ssd"), ("csi.storage.k8s.io/fstype", "ext4")],
        ),
        (Provider::Azure, _) => ("managed-csi-premium", "disk.csi.azure.com", &[("skuName", "Premium_LRS")]),
    }
}

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let spec = ctx.spec();
    // The document's PriorityClasses: the platform may preempt labs, never the reverse.
    for (name, value, description) in [
        (
            PLATFORM_PRIORITY,
            1000,
            "AutoLabs platform components: may preempt student labs when the cluster is short.",
        ),
        (LAB_PRIORITY, 100, "Student labs: evicted before any platform component."),
    ] {
        out.manifests.push(typed(PriorityClass {
            metadata: ctx.meta(name, None, &[]),
            value,
            global_default: Some(false),
            description: Some(description.into()),
            preemption_policy: Some(
                if name == LAB_PRIORITY { "Never" } else { "PreemptLowerPriority" }.into(),
            ),
        }));
    }

    let (name, provisioner, params) = provider_class(spec);
    let local = provisioner == "rancher.io/local-path";
    out.manifests.push(typed(StorageClass {
        metadata: {
            let mut m = ctx.meta(name, None, &[]);
            m.annotations = Some(BTreeMap::from([(
                "storageclass.kubernetes.io/is-default-class".to_string(),
                "true".to_string(),
            )]));
            m
        },
        provisioner: provisioner.into(),
        parameters: (!params.is_empty())
            .then(|| params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        // Keep the data of a deleted claim: the databases live here.
        reclaim_policy: Some("Retain".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        allow_volume_expansion: Some(!local),
        ..Default::default()
    }));
    // On Proxmox production the document keeps local-path for data that may be lost.
    if spec.provider == Provider::Proxmox && spec.profile == Profile::Production {
        out.manifests.push(typed(StorageClass {
            metadata: ctx.meta("local-path", None, &[]),
            provisioner: "rancher.io/local-path".into(),
            reclaim_policy: Some("Delete".into()),
            volume_binding_mode: Some("WaitForFirstConsumer".into()),
            ..Default::default()
        }));
    }

    if spec.snapshots_supported() {
        let mut labels = ctx.common_labels();
        labels.insert("app.kubernetes.io/part-of".into(), "autolabs".into());
        out.manifests.push(untyped(json!({
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": {"name": format!("{name}-snapshot"), "labels": labels},
            "driver": provisioner,
            "deletionPolicy": "Retain",
        })));
    }
}
