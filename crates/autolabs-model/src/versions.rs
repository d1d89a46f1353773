//! Everything autolabs pins, in one place: the Kubernetes version line and the Pod Security
//! label version it implies, every container image default, and the upstream charts of the
//! add-ons. `autolabs versions` prints [`Versions::of`]; `autolabs upgrade plan` asks
//! [`upgrade_changes`] what moves when Kubernetes does.
//!
//! To pin something new, add a row here and read it from here: a default written anywhere
//! else is a pin nobody sees.

use serde::Serialize;

use crate::platform::PlatformSpec;

/// The Kubernetes minor version `platform.yaml` defaults to.
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.30";
/// The oldest minor version `platform.yaml` accepts (the design document targets 1.28+).
pub const OLDEST_SUPPORTED_MINOR: u32 = 28;
/// The newest minor version `platform.yaml` accepts: the newest whose APIs, kubeadm config
/// and Pod Security checks the engines know.
pub const NEWEST_SUPPORTED_MINOR: u32 = 37;

/// The `pod-security.kubernetes.io/<mode>-version` value `render` writes for a cluster at
/// 1.`minor`: pinned to that version, so an upgrade never changes the policy silently.
// k8s.io/pod-security-admission/api/helpers.go ParseVersion: "v1.N" or "latest".
pub fn pod_security_label_version(minor: u32) -> String {
    format!("v1.{minor}")
}

/// A container image autolabs renders, with the `platform.yaml` field that overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImagePin {
    /// What runs it.
    pub component: &'static str,
    /// The `platform.yaml` field that overrides the default; `None` for images fixed here
    /// (the component says how else to change it, if at all).
    pub field: Option<&'static str>,
    pub default: &'static str,
}

/// The provisioner's own image: this binary (`Containerfile`, `image/build`).
pub const PROVISIONER_IMAGE: ImagePin = ImagePin {
    component: "lab provisioner (autolabs serve)",
    field: Some("spec.provisioner.image"),
    default: "ghcr.io/autolabs/autolabs:0.1.0",
};
pub const BACKEND_IMAGE: ImagePin = ImagePin {
    component: "backend platform (placeholder)",
    field: Some("spec.images.backend"),
    default: "ghcr.io/autolabs/backend-platform:placeholder",
};
pub const POSTGRES_IMAGE: ImagePin = ImagePin {
    component: "PostgreSQL (platform, auth) and pg_dump backups",
    field: Some("spec.images.postgres"),
    default: "postgres:16.4",
};
pub const REDIS_IMAGE: ImagePin =
    ImagePin { component: "Redis", field: Some("spec.images.redis"), default: "redis:7.4.1" };
pub const RABBITMQ_IMAGE: ImagePin = ImagePin {
    component: "RabbitMQ",
    field: Some("spec.images.rabbitmq"),
    default: "rabbitmq:3.13.7-management",
};
pub const ETCD_IMAGE: ImagePin = ImagePin {
    component: "etcd snapshot backups (etcdctl)",
    field: Some("spec.images.etcd"),
    default: "registry.k8s.io/etcd:3.5.15-0",
};
pub const AWS_CLI_IMAGE: ImagePin = ImagePin {
    component: "backup uploads to S3/MinIO",
    field: Some("spec.images.awsCli"),
    default: "amazon/aws-cli:2.17.0",
};

/// The production control plane's static load-balancer pods (the kubeadm HA guide's choice).
pub const HAPROXY_IMAGE: ImagePin = ImagePin {
    component: "HAProxy (production control plane, static pod)",
    field: None,
    default: "haproxy:2.8.10",
};
pub const KEEPALIVED_IMAGE: ImagePin = ImagePin {
    component: "keepalived (production control plane, static pod)",
    field: None,
    default: "osixia/keepalived:2.0.20",
};
/// `autolabs probe`'s pods (`--image` changes it per run).
pub const PROBE_IMAGE: ImagePin =
    ImagePin { component: "autolabs probe pods (--image)", field: None, default: "busybox:1.36" };

/// Every image default, in the order `autolabs versions` prints them.
pub const IMAGES: &[ImagePin] = &[
    PROVISIONER_IMAGE,
    BACKEND_IMAGE,
    POSTGRES_IMAGE,
    REDIS_IMAGE,
    RABBITMQ_IMAGE,
    ETCD_IMAGE,
    AWS_CLI_IMAGE,
    HAPROXY_IMAGE,
    KEEPALIVED_IMAGE,
    PROBE_IMAGE,
];

/// An upstream Helm chart an add-on is installed from (`render`'s `addons/`), as printed:
/// the pins themselves, with their facts, live in [`crate::addons::charts::CHARTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartPin {
    /// What the platform calls the component (`cni`, `ingress`…).
    pub component: &'static str,
    /// The chart's name in its repository (`tigera-operator`, `ingress-nginx`…).
    pub name: &'static str,
    /// The Helm repository URL (or `oci://…`).
    pub repo: &'static str,
    /// The chart version pinned.
    pub version: &'static str,
    /// The chart's `appVersion`: the version of the software it installs.
    pub app_version: &'static str,
}

/// The add-on charts `spec`'s platform installs, in install order.
pub fn charts_of(spec: &PlatformSpec) -> Vec<ChartPin> {
    crate::addons::charts::charts_for(spec)
        .map(|c| ChartPin {
            component: c.component,
            name: c.chart,
            repo: c.repo_url,
            version: c.version,
            app_version: c.app_version,
        })
        .collect()
}

/// One image as a platform uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRow {
    pub component: &'static str,
    /// The platform.yaml field that overrides it; `null` when fixed.
    pub field: Option<&'static str>,
    pub image: String,
    /// `true` when platform.yaml overrides the default.
    pub overridden: bool,
    /// The `sha256:…` digest the reference is pinned to, if any.
    pub digest: Option<String>,
}

/// Everything pinned, as one platform resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Versions {
    /// The Kubernetes version of platform.yaml (`kubernetesVersion`).
    pub kubernetes: String,
    pub kubernetes_supported: String,
    /// What `render` writes into every namespace's `pod-security.kubernetes.io/*-version`.
    pub pod_security_version: String,
    /// The kubeadm `kubernetesVersion` of the production control plane.
    pub kubeadm_version: String,
    pub images: Vec<ImageRow>,
    pub charts: Vec<ChartPin>,
}

impl Versions {
    pub fn of(spec: &PlatformSpec) -> Versions {
        let minor = spec.kubernetes_minor();
        let images = IMAGES
            .iter()
            .map(|pin| {
                let image = spec.image_for(pin).to_string();
                ImageRow {
                    component: pin.component,
                    field: pin.field,
                    overridden: image != pin.default,
                    digest: digest(&image).map(str::to_string),
                    image,
                }
            })
            .collect();
        Versions {
            kubernetes: spec.kubernetes_version().to_string(),
            kubernetes_supported: format!("1.{OLDEST_SUPPORTED_MINOR} … 1.{NEWEST_SUPPORTED_MINOR}"),
            pod_security_version: pod_security_label_version(minor),
            kubeadm_version: kubeadm_version(spec.kubernetes_version()),
            images,
            charts: charts_of(spec),
        }
    }
}

/// `v1.30.0` from `1.30`, `v1.30.4` from `1.30.4`: kubeadm's `kubernetesVersion`.
pub fn kubeadm_version(version: &str) -> String {
    let v = version.strip_prefix('v').unwrap_or(version);
    match v.split('.').count() {
        2 => format!("v{v}.0"),
        _ => format!("v{v}"),
    }
}

/// The digest an image reference is pinned to (`name@sha256:<64 hex>`), or `None` for a
/// reference by tag only. A malformed digest (wrong length, upper case) is no pin.
// github.com/distribution/reference/regexp.go (DigestRegexp) and
// github.com/opencontainers/go-digest/algorithm.go (sha256: 64 lowercase hex digits).
pub fn digest(image: &str) -> Option<&str> {
    let (_, digest) = image.rsplit_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then_some(digest)
}

/// How serious a change of [`upgrade_changes`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeLevel {
    /// Changes when you re-render for the target; nothing to decide.
    Info,
    /// Works, but deserves a decision before the upgrade.
    Warning,
    /// autolabs cannot render or check the target.
    Error,
}

/// One thing that changes (or should) when the cluster moves to another minor version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionChange {
    pub level: ChangeLevel,
    /// What is pinned: `kubernetesVersion`, a label, an image field, a chart.
    pub subject: String,
    pub message: String,
}

/// What moves among the pins when a platform at its `kubernetesVersion` upgrades to
/// 1.`target_minor`: the Kubernetes line itself, the Pod Security label version, kubeadm's
/// version, and the images that are not pinned by digest (a tag can be re-pushed, so the
/// same platform.yaml may run other bytes after the upgrade's rollouts).
pub fn upgrade_changes(spec: &PlatformSpec, target_minor: u32) -> Vec<VersionChange> {
    let mut out = Vec::new();
    let current = spec.kubernetes_minor();
    let mut change = |level, subject: &str, message: String| {
        out.push(VersionChange { level, subject: subject.to_string(), message });
    };
    if !(OLDEST_SUPPORTED_MINOR..=NEWEST_SUPPORTED_MINOR).contains(&target_minor) {
        change(
            ChangeLevel::Error,
            "kubernetesVersion",
            format!(
                "1.{target_minor} is outside what this autolabs supports (1.{OLDEST_SUPPORTED_MINOR} … 1.{NEWEST_SUPPORTED_MINOR}): it cannot render or check that version's APIs and Pod Security rules"
            ),
        );
    }
    if target_minor < current {
        change(
            ChangeLevel::Error,
            "kubernetesVersion",
            format!("1.{target_minor} is older than the platform's 1.{current}: kubeadm does not downgrade"),
        );
    } else if target_minor > current + 1 {
        // cmd/kubeadm/app/phases/upgrade/policy.go (EnforceVersionPolicies): one minor at a time.
        change(
            ChangeLevel::Warning,
            "kubernetesVersion",
            format!(
                "1.{current} → 1.{target_minor} skips {} minor version(s): kubeadm upgrades one minor at a time (go through each)",
                target_minor - current - 1
            ),
        );
    }
    if target_minor != current {
        change(
            ChangeLevel::Info,
            "kubernetesVersion",
            format!(
                "set kubernetesVersion: \"1.{target_minor}\" in platform.yaml and re-render (kubeadm kubernetesVersion {} → {})",
                kubeadm_version(spec.kubernetes_version()),
                kubeadm_version(&format!("1.{target_minor}"))
            ),
        );
        change(
            ChangeLevel::Info,
            "pod-security.kubernetes.io/*-version",
            format!(
                "every platform namespace's Pod Security labels move from {} to {}: re-render after the control plane is upgraded, and run `autolabs verify --target-version 1.{target_minor}` first to see what the newer checks refuse",
                pod_security_label_version(current),
                pod_security_label_version(target_minor)
            ),
        );
    }
    // Only what platform.yaml can pin: a warning about a fixed image would have no remedy.
    for pin in IMAGES {
        let Some(field) = pin.field else { continue };
        let image = spec.image_for(pin);
        if digest(image).is_none() {
            change(
                ChangeLevel::Warning,
                field,
                format!(
                    "{image} ({}) is pinned by tag, not digest: the rollouts of an upgrade may pull other bytes under the same tag; pin it as {image}@sha256:…",
                    pin.component
                ),
            );
        }
    }
    for chart in charts_of(spec) {
        change(
            ChangeLevel::Info,
            chart.name,
            format!(
                "chart {} {} (app {}): check its supported Kubernetes versions before moving to 1.{target_minor}",
                chart.name, chart.version, chart.app_version
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn digests_are_recognised_only_when_well_formed() {
        assert_eq!(digest(&format!("postgres:16.4@{SHA}")), Some(SHA));
        assert_eq!(digest(&format!("registry:5000/app@{SHA}")), Some(SHA));
        assert_eq!(digest("postgres:16.4"), None);
        assert_eq!(digest("registry:5000/app"), None);
        assert_eq!(digest("app@sha256:abcd"), None, "too short");
        assert_eq!(digest(&format!("app@{}", SHA.to_uppercase().replace("SHA256", "sha256"))), None);
        assert_eq!(digest(&format!("app@sha512:{}", &SHA[7..])), None);
    }

    #[test]
    fn every_default_image_is_listed_once_with_its_field() {
        let fields: std::collections::BTreeSet<_> = IMAGES.iter().filter_map(|p| p.field).collect();
        assert_eq!(fields.len(), IMAGES.iter().filter(|p| p.field.is_some()).count());
        let p = Platform::default();
        let v = Versions::of(&p.spec);
        assert_eq!(v.kubernetes, DEFAULT_KUBERNETES_VERSION);
        assert_eq!(v.pod_security_version, "v1.30");
        assert_eq!(v.kubeadm_version, "v1.30.0");
        assert!(v.images.iter().all(|i| !i.overridden && i.digest.is_none()), "{:?}", v.images);
        assert_eq!(v.images[0].image, PROVISIONER_IMAGE.default);
    }

    #[test]
    fn an_override_is_reported_with_its_digest() {
        let mut p = Platform::default();
        p.spec.provisioner.image = Some(format!("registry.example/autolabs@{SHA}"));
        p.spec.images.postgres = format!("postgres:17.0@{SHA}");
        let v = Versions::of(&p.spec);
        let row = |field: &str| v.images.iter().find(|i| i.field == Some(field)).unwrap().clone();
        assert!(row("spec.provisioner.image").overridden);
        assert_eq!(row("spec.provisioner.image").digest.as_deref(), Some(SHA));
        assert_eq!(row("spec.images.postgres").digest.as_deref(), Some(SHA));
        assert_eq!(row("spec.images.redis").digest, None);
        let changes = upgrade_changes(&p.spec, 31);
        assert!(!changes.iter().any(|c| c.subject == "spec.provisioner.image"));
        assert!(changes.iter().any(|c| c.subject == "spec.images.redis" && c.level == ChangeLevel::Warning));
    }

    #[test]
    fn the_next_minor_moves_the_pod_security_labels_and_kubeadm() {
        let p = Platform::default();
        let changes = upgrade_changes(&p.spec, 31);
        let pss = changes.iter().find(|c| c.subject == "pod-security.kubernetes.io/*-version").unwrap();
        assert!(pss.message.contains("from v1.30 to v1.31"), "{}", pss.message);
        assert!(changes.iter().any(|c| c.message.contains("v1.30.0 → v1.31.0")));
        assert!(changes.iter().all(|c| c.level != ChangeLevel::Error), "{changes:?}");
        assert_eq!(
            changes.iter().filter(|c| c.level == ChangeLevel::Warning).count(),
            IMAGES.iter().filter(|p| p.field.is_some()).count(),
            "one warning per image of platform.yaml pinned by tag: {changes:?}"
        );
    }

    #[test]
    fn skipping_downgrading_and_unsupported_targets_are_said() {
        let p = Platform::default();
        let level_of = |target: u32| {
            upgrade_changes(&p.spec, target)
                .into_iter()
                .filter(|c| c.subject == "kubernetesVersion")
                .map(|c| c.level)
                .max()
                .unwrap()
        };
        assert_eq!(level_of(31), ChangeLevel::Info);
        assert_eq!(level_of(33), ChangeLevel::Warning);
        assert_eq!(level_of(29), ChangeLevel::Error);
        assert_eq!(level_of(NEWEST_SUPPORTED_MINOR + 1), ChangeLevel::Error);
        assert!(
            upgrade_changes(&p.spec, 30).iter().all(|c| c.subject != "pod-security.kubernetes.io/*-version")
        );
    }
}
