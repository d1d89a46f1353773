//! Properties that follow from upstream's registry design, checked on generated pods.
//!
//! - `restricted` includes `baseline`: at the same version, every baseline check that fails
//!   also fails at restricted, either itself or through the restricted check that overrides
//!   it (`OverrideCheckIDs`). Windows pods are excluded on purpose: from 1.25 the restricted
//!   capability and seccomp checks exempt `spec.os.name: windows`, so a Windows pod that adds
//!   e.g. `NET_RAW` fails baseline but passes restricted, exactly as upstream behaves.
//! - Policy text round-trips through `Display`/`FromStr`.

use autolabs_k8s::k8s::ObjectMeta;
use autolabs_k8s::k8s::k8s_openapi::api::core::v1::PodSpec;
use autolabs_pss::{Level, LevelVersion, Version, evaluate};
use proptest::prelude::*;
use serde_json::{Value, json};

/// `k8s.io/pod-security-admission/policy/check_*.go` OverrideCheckIDs.
const OVERRIDES: &[(&str, &str)] = &[
    ("hostPathVolumes", "restrictedVolumes"),
    ("capabilities_baseline", "capabilities_restricted"),
    ("seccompProfile_baseline", "seccompProfile_restricted"),
];

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = Option<&'static str>> {
    proptest::option::of(proptest::sample::select(options))
}

fn security_context() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(any::<bool>()),
        proptest::collection::vec(
            proptest::sample::select(&["NET_RAW", "CHOWN", "NET_BIND_SERVICE", "SYS_ADMIN"][..]),
            0..3,
        ),
        proptest::option::of(proptest::collection::vec(
            proptest::sample::select(&["ALL", "NET_RAW"][..]),
            0..2,
        )),
        pick(&["RuntimeDefault", "Localhost", "Unconfined"]),
        pick(&["Default", "Unmasked"]),
        pick(&["container_t", "spc_t"]),
        pick(&["RuntimeDefault", "Unconfined"]),
        (proptest::option::of(any::<bool>()), proptest::option::of(0i64..2)),
    )
        .prop_map(|(privileged, add, drop, seccomp, proc_mount, selinux, apparmor, (non_root, user))| {
            let mut sc = serde_json::Map::new();
            if let Some(privileged) = privileged {
                sc.insert("privileged".into(), json!(privileged));
                sc.insert("allowPrivilegeEscalation".into(), json!(privileged));
            }
            sc.insert("capabilities".into(), json!({"add": add, "drop": drop}));
            if let Some(seccomp) = seccomp {
                sc.insert("seccompProfile".into(), json!({"type": seccomp}));
            }
            if let Some(proc_mount) = proc_mount {
                sc.insert("procMount".into(), json!(proc_mount));
            }
            if let Some(selinux) = selinux {
                sc.insert("seLinuxOptions".into(), json!({"type": selinux}));
            }
            if let Some(apparmor) = apparmor {
                sc.insert("appArmorProfile".into(), json!({"type": apparmor}));
            }
            if let Some(non_root) = non_root {
                sc.insert("runAsNonRoot".into(), json!(non_root));
            }
            if let Some(user) = user {
                sc.insert("runAsUser".into(), json!(user));
            }
            Value::Object(sc)
        })
}

fn pod_spec() -> impl Strategy<Value = (ObjectMeta, PodSpec)> {
    (
        proptest::collection::vec(
            (security_context(), proptest::option::of(0i32..2), proptest::option::of(any::<bool>())),
            1..3,
        ),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(proptest::sample::select(&["linux", "windows"][..])),
        ),
        pick(&["net.ipv4.tcp_rmem", "kernel.msgmax", "kernel.shm_rmid_forced"]),
        pick(&["RuntimeDefault", "Unconfined"]),
        pick(&["runtime/default", "unconfined"]),
    )
        .prop_filter_map(
            "windows pods are exempt from some restricted checks",
            |(containers, (host_network, host_path, os), sysctl, pod_seccomp, annotation)| {
                if os == Some("windows") {
                    return None;
                }
                let containers: Vec<Value> = containers
                    .into_iter()
                    .enumerate()
                    .map(|(index, (sc, host_port, probe_host))| {
                        let mut container = json!({"name": format!("c{index}"), "securityContext": sc});
                        if let Some(host_port) = host_port {
                            container["ports"] = json!([{"containerPort": 80, "hostPort": host_port * 8080}]);
                        }
                        if let Some(true) = probe_host {
                            container["livenessProbe"] = json!({"httpGet": {"host": "10.0.0.1", "port": 80}});
                        }
                        container
                    })
                    .collect();
                let mut spec =
                    json!({"containers": containers, "hostNetwork": host_network, "securityContext": {}});
                if host_path {
                    spec["volumes"] = json!([{"name": "h", "hostPath": {"path": "/"}}]);
                }
                if let Some(os) = os {
                    spec["os"] = json!({"name": os});
                }
                if let Some(sysctl) = sysctl {
                    spec["securityContext"]["sysctls"] = json!([{"name": sysctl, "value": "1"}]);
                }
                if let Some(seccomp) = pod_seccomp {
                    spec["securityContext"]["seccompProfile"] = json!({"type": seccomp});
                }
                let meta = match annotation {
                    Some(value) => json!({"annotations": {
                    "container.apparmor.security.beta.kubernetes.io/c0": value,
                    "seccomp.security.alpha.kubernetes.io/pod": value}}),
                    None => json!({}),
                };
                Some((serde_json::from_value(meta).ok()?, serde_json::from_value(spec).ok()?))
            },
        )
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::Latest), (0u32..40).prop_map(Version::V1)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn restricted_includes_baseline((meta, spec) in pod_spec(), version in version()) {
        let baseline = evaluate(&meta, &spec, LevelVersion::new(Level::Baseline, version));
        let restricted = evaluate(&meta, &spec, LevelVersion::new(Level::Restricted, version));
        for violation in &baseline {
            let replacement = OVERRIDES.iter().find(|(base, _)| *base == violation.check).map(|(_, r)| *r);
            let covered = restricted.iter().any(|r| r == violation)
                || replacement.is_some_and(|id| restricted.iter().any(|r| r.check == id));
            prop_assert!(covered, "{} at {version}: baseline {:?}, restricted {:?}", violation.check, baseline, restricted);
        }
    }

    #[test]
    fn policy_text_round_trips(level in proptest::sample::select(&[Level::Privileged, Level::Baseline, Level::Restricted][..]), version in version()) {
        let policy = LevelVersion::new(level, version);
        prop_assert_eq!(policy.to_string().parse::<LevelVersion>().ok(), Some(policy));
    }
}
