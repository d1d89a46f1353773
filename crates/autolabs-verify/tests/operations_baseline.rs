//! The rendered baseline against the backup and upgrade-readiness engines, for every profile,
//! provider and backup target: it must pass `backup check` with no error, and use no API its
//! own Kubernetes version (or any version up to 1.35) stops serving.

use autolabs_model::platform::{Platform, Profile, Provider, S3Target};
use autolabs_verify::Severity;
use autolabs_verify::engines::{backup, deprecations};

mod support;
use support::rendered;

fn variants() -> Vec<(String, Platform)> {
    let mut out = Vec::new();
    for profile in Profile::ALL {
        for provider in Provider::ALL {
            for s3 in [false, true] {
                let mut p = Platform::for_profile(profile, provider);
                if s3 {
                    p.spec.backup.target.pvc = None;
                    p.spec.backup.target.s3 = Some(S3Target {
                        endpoint: "https://minio.example.com:9000".into(),
                        bucket: "autolabs-backups".into(),
                        region: "us-east-1".into(),
                        secret_name: "backup-s3".into(),
                        cidr: None,
                    });
                }
                out.push((format!("{}/{}/s3={s3}", profile.as_str(), provider.as_str()), p));
            }
        }
    }
    out
}

#[test]
fn baseline_passes_backup_check() {
    for (variant, p) in variants() {
        let opts = backup::Options {
            control_plane_backup_expected: true,
            snapshots_supported: p.spec.snapshots_supported(),
        };
        let findings = backup::check(&rendered(&p), opts);
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect();
        assert!(errors.is_empty(), "{variant}: {errors:#?}");
        // Redis and RabbitMQ keep data on volumes; render marks them as not backed up on purpose.
        let by_choice: Vec<String> = findings
            .iter()
            .filter(|f| f.rule == "not-backed-up-by-choice")
            .filter_map(|f| f.object.as_ref().map(|o| o.display()))
            .collect();
        assert_eq!(
            by_choice,
            ["infrastructure/Deployment/redis", "messaging/StatefulSet/rabbitmq"],
            "{variant}"
        );
        // Both databases and etcd: one RPO each (daily dumps, hourly snapshots).
        let rpo: Vec<&str> =
            findings.iter().filter(|f| f.rule == "rpo").map(|f| f.message.as_str()).collect();
        assert_eq!(rpo.len(), 3, "{variant}: {rpo:#?}");
        assert_eq!(rpo.iter().filter(|m| m.contains("at most 24 h between backups")).count(), 2, "{variant}");
        assert_eq!(rpo.iter().filter(|m| m.contains("at most 1 h between backups")).count(), 1, "{variant}");
    }
}

#[test]
fn baseline_restore_plan_restores_both_databases_after_etcd() {
    let p = Platform::default();
    let steps = backup::restore_plan(&rendered(&p));
    let pos = |needle: &str| steps.iter().position(|s| s.contains(needle));
    let (stop, etcd, app_db, auth_db) = (
        pos("Stop writers").unwrap(),
        pos("Restore etcd first").unwrap(),
        pos("infrastructure/StatefulSet/postgres").unwrap(),
        pos("auth/StatefulSet/zitadel-postgres").unwrap(),
    );
    assert!(stop < etcd && etcd < app_db && etcd < auth_db, "{steps:#?}");
    assert!(steps[app_db].contains("patch job postgres-restore"), "{}", steps[app_db]);
    assert!(steps[stop].contains("scale deployment backend-platform --replicas=0"), "{}", steps[stop]);
    assert!(steps.last().unwrap().starts_with("Restart"));
}

#[test]
fn baseline_serves_no_removed_api() {
    for (variant, p) in variants() {
        let set = rendered(&p);
        for target in p.spec.kubernetes_minor()..=35 {
            let errors: Vec<_> = deprecations::check(&set, target)
                .into_iter()
                .filter(|f| f.severity == Severity::Error || f.rule != "pod-security-version")
                .collect();
            assert!(errors.is_empty(), "{variant} → 1.{target}: {errors:#?}");
        }
    }
}
