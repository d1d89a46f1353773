//! Requests, expiry and extension arithmetic, phases, lab ids and the bilingual errors.

use std::collections::BTreeMap;

use autolabs_model::Platform;
use autolabs_model::lab::{
    self, LabContext, LabError, LabPhase, LabRequest, Lang, check_lab_id, desired, expires_at, extend,
    is_expired, is_lab_object, lab_id_of, load_template, load_templates, phase, phase_at,
};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use proptest::prelude::*;

/// 2026-11-25T19:00:00Z.
const NOW: u64 = 1_795_633_200;
const HOUR: u64 = 3600;

const TEMPLATE: &str = "\
apiVersion: autolabs.io/v1alpha1
kind: LabTemplate
metadata:
  name: shell
spec:
  image: busybox:1.36
  ports:
    - name: http
      port: 8080
  ttl:
    default: 2h
    max: 8h
";

fn template() -> lab::LabTemplate {
    load_template(TEMPLATE, "shell.yaml", &Platform::default()).expect("loads")
}

fn request(id: &str, ttl: Option<u64>) -> LabRequest {
    LabRequest { id: id.into(), template: "shell".into(), ttl_seconds: ttl }
}

/// The Pod `desired` builds at `now` with `ttl`.
fn lab_pod(now: u64, ttl: u64) -> Pod {
    let platform = Platform::default();
    desired(&template(), &request("lab1", Some(ttl)), &LabContext::new(&platform, now)).expect("bundle").pod
}

fn pod_with_annotations(pairs: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            annotations: Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn lab_ids_are_short_dns_labels() {
    // (id, valid, rule)
    let rows = [
        ("a", true, "IsDNS1123Label: one character"),
        ("lab-1", true, "IsDNS1123Label: letters, digits, '-'"),
        ("0abc", true, "IsDNS1123Label: may start with a digit (objects are named lab-<id>)"),
        (&"a".repeat(40), true, "40 characters is the limit"),
        (&"a".repeat(41), false, "more than 40 characters"),
        ("", false, "IsDNS1123Label: empty"),
        ("Lab", false, "IsDNS1123Label: uppercase"),
        ("-lab", false, "IsDNS1123Label: starts with '-'"),
        ("lab-", false, "IsDNS1123Label: ends with '-'"),
        ("a_b", false, "IsDNS1123Label: underscore"),
        ("a.b", false, "IsDNS1123Label: dot (a label, not a subdomain)"),
        ("ivan@uni", false, "IsDNS1123Label: '@'"),
    ];
    for (id, valid, rule) in rows {
        assert_eq!(check_lab_id(id).is_ok(), valid, "{rule}: {id:?}");
    }
    let err = check_lab_id(&"a".repeat(41)).expect_err("too long");
    assert!(err.to_string().contains("no more than 40 characters"), "{err}");
    assert_eq!(err.code(), "invalid_id");
}

#[test]
fn requests_are_checked_against_the_template_list() {
    let platform = Platform::default();
    let templates = load_templates(&[("shell.yaml", TEMPLATE)], &platform).expect("loads");
    // (request, result)
    let rows: Vec<(LabRequest, Result<u64, LabError>)> = vec![
        (request("l1", None), Ok(2 * HOUR)),
        (request("l1", Some(90 * 60)), Ok(90 * 60)),
        (request("l1", Some(8 * HOUR)), Ok(8 * HOUR)),
        (
            request("l1", Some(8 * HOUR + 1)),
            Err(LabError::TtlTooLong { requested: 8 * HOUR + 1, max: 8 * HOUR }),
        ),
        (request("l1", Some(0)), Err(LabError::TtlZero)),
        (
            request("L1", None),
            Err(LabError::InvalidId { id: "L1".into(), reason: check_lab_id("L1").unwrap_err().to_string() }),
        ),
        (
            LabRequest { id: "l1".into(), template: "nope".into(), ttl_seconds: None },
            Err(LabError::UnknownTemplate { name: "nope".into(), known: vec!["shell".into()] }),
        ),
    ];
    for (req, want) in rows {
        let got = req.validate(&templates).map(|(t, ttl)| {
            assert_eq!(t.name(), "shell");
            ttl
        });
        match (&got, &want) {
            (Err(LabError::InvalidId { id, .. }), Err(LabError::InvalidId { id: want_id, .. })) => {
                assert_eq!(id, want_id)
            }
            _ => assert_eq!(got, want, "{req:?}"),
        }
    }
}

#[test]
fn desired_refuses_what_validate_refuses() {
    let platform = Platform::default();
    let ctx = LabContext::new(&platform, NOW);
    let t = template();
    assert_eq!(desired(&t, &request("l1", Some(0)), &ctx).unwrap_err(), LabError::TtlZero);
    assert_eq!(desired(&t, &request("BAD", None), &ctx).unwrap_err().code(), "invalid_id");
    let other = LabRequest { id: "l1".into(), template: "other".into(), ttl_seconds: None };
    assert_eq!(desired(&t, &other, &ctx).unwrap_err().code(), "template_mismatch");
    // A template built in code that does not fit the platform is refused, not rendered.
    let mut big = t.clone();
    big.spec.resources.limits.memory = Some(serde_json::from_str("\"64Gi\"").expect("qty"));
    let err = desired(&big, &request("l1", None), &ctx).unwrap_err();
    assert_eq!(err.code(), "invalid_template");
    assert!(err.to_string().contains("spec.resources.limits.memory"), "{err}");
    // A clock past year 9999 cannot be written as RFC 3339.
    let far = LabContext::new(&platform, lab::time::MAX_TIMESTAMP);
    assert_eq!(desired(&t, &request("l1", None), &far).unwrap_err().code(), "time_out_of_range");
    let overflow = LabContext::new(&platform, u64::MAX - 1);
    assert_eq!(desired(&t, &request("l1", None), &overflow).unwrap_err().code(), "time_out_of_range");
}

#[test]
fn requests_deserialize_from_the_api_body() {
    let req: LabRequest =
        serde_json::from_str(r#"{"id": "abc", "template": "shell", "ttlSeconds": 3600}"#).expect("parses");
    assert_eq!(req, request("abc", Some(3600)));
    assert!(
        serde_json::from_str::<LabRequest>(r#"{"id": "abc", "template": "shell", "student": "x"}"#).is_err()
    );
}

#[test]
fn expiry_is_read_from_the_pod() {
    let pod = lab_pod(NOW, 2 * HOUR);
    assert_eq!(lab::created_at(&pod), Some(NOW));
    assert_eq!(expires_at(&pod), Some(NOW + 2 * HOUR));
    // (now, expired): the expiry second itself counts as expired.
    for (now, want) in
        [(NOW, false), (NOW + 2 * HOUR - 1, false), (NOW + 2 * HOUR, true), (NOW + 3 * HOUR, true)]
    {
        assert_eq!(is_expired(&pod, now), want, "{now}");
    }
    // No or unreadable annotation: no expiry, never expired here.
    for pod in [Pod::default(), pod_with_annotations(&[("autolabs.io/expires-at", "tomorrow")])] {
        assert_eq!(expires_at(&pod), None);
        assert!(!is_expired(&pod, u64::MAX));
    }
    // Offsets other than Z are understood (someone edited it by hand).
    let edited = pod_with_annotations(&[("autolabs.io/expires-at", "2026-11-25T23:00:00+03:00")]);
    assert_eq!(expires_at(&edited), Some(NOW + HOUR));
}

#[test]
fn extend_adds_to_the_expiry_within_the_template_maximum() {
    let pod = lab_pod(NOW, 2 * HOUR); // expires NOW+2h, may live until NOW+8h
    let max = 8 * HOUR;
    // (extra, now, result)
    let rows = [
        (HOUR, NOW + HOUR, Ok(NOW + 3 * HOUR)),
        (6 * HOUR, NOW + HOUR, Ok(NOW + 8 * HOUR)),
        (
            6 * HOUR + 1,
            NOW + HOUR,
            Err(LabError::ExtendBeyondMax { requested_until: NOW + 8 * HOUR + 1, max_until: NOW + max }),
        ),
        (0, NOW, Err(LabError::TtlZero)),
        (HOUR, NOW + 2 * HOUR, Err(LabError::Expired { expired_at: NOW + 2 * HOUR })),
        (u64::MAX, NOW, Err(LabError::ExtendBeyondMax { requested_until: u64::MAX, max_until: NOW + max })),
    ];
    for (extra, now, want) in rows {
        assert_eq!(extend(&pod, extra, max, now), want, "extra {extra} at {now}");
    }
    assert_eq!(extend(&Pod::default(), HOUR, max, NOW), Err(LabError::NoExpiry));
    let annotations = lab::expiry_annotations(&pod, NOW + 3 * HOUR).expect("annotations");
    assert_eq!(
        annotations,
        BTreeMap::from([
            ("autolabs.io/expires-at".to_string(), "2026-11-25T22:00:00Z".to_string()),
            ("autolabs.io/ttl-seconds".to_string(), (3 * HOUR).to_string()),
        ])
    );
}

proptest! {
    /// Whatever the clock, lifetime and sequence of extensions, a lab never runs past
    /// created-at + max, every granted extension moves the expiry forward by exactly what was
    /// asked, and every refusal leaves the lab as it was.
    #[test]
    fn extend_never_exceeds_created_plus_max(
        now in 0u64..4_000_000_000,
        max in 1u64..(48 * HOUR),
        ttl_fraction in 0.0f64..=1.0,
        steps in prop::collection::vec((0u64..(10 * HOUR), 0u64..(4 * HOUR)), 0..12),
    ) {
        let ttl = ((max as f64 * ttl_fraction) as u64).clamp(1, max);
        let mut pod = pod_with_annotations(&[
            ("autolabs.io/created-at", &lab::format_rfc3339(now).unwrap()),
            ("autolabs.io/expires-at", &lab::format_rfc3339(now + ttl).unwrap()),
        ]);
        let mut clock = now;
        for (extra, wait) in steps {
            clock += wait;
            let before = expires_at(&pod).unwrap();
            match extend(&pod, extra, max, clock) {
                Ok(new) => {
                    prop_assert!(new <= now + max);
                    prop_assert_eq!(new, before + extra);
                    prop_assert!(before > clock);
                    let annotations = lab::expiry_annotations(&pod, new).unwrap();
                    pod.metadata.annotations.as_mut().unwrap().extend(annotations);
                    prop_assert_eq!(expires_at(&pod), Some(new));
                }
                Err(LabError::TtlZero) => prop_assert_eq!(extra, 0),
                Err(LabError::Expired { expired_at }) => prop_assert!(expired_at <= clock),
                Err(LabError::ExtendBeyondMax { requested_until, max_until }) => {
                    prop_assert!(requested_until > max_until);
                    prop_assert_eq!(max_until, now + max);
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
            prop_assert!(expires_at(&pod).unwrap() <= now + max);
        }
    }

    /// RFC 3339 text round-trips for every second from 1970 to 9999.
    #[test]
    fn rfc3339_round_trips(secs in 0u64..=lab::time::MAX_TIMESTAMP) {
        let text = lab::format_rfc3339(secs).unwrap();
        prop_assert_eq!(text.len(), 20);
        prop_assert_eq!(lab::parse_rfc3339(&text), Some(secs));
    }

    /// Lab ids: valid ones make valid object names and hosts; nothing panics.
    #[test]
    fn lab_ids_never_panic(id in "\\PC{0,50}") {
        if check_lab_id(&id).is_ok() {
            let name = lab::object_name(&id);
            prop_assert!(autolabs_k8s::names::dns1123_label(&name).is_empty());
            prop_assert!(autolabs_k8s::names::label_value(&id).is_empty());
        }
    }
}

fn status(phase: &str, ready: bool, waiting: Option<&str>) -> PodStatus {
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]),
        container_statuses: waiting.map(|reason| {
            vec![ContainerStatus {
                name: "lab".into(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: None }),
                    ..Default::default()
                }),
                ..Default::default()
            }]
        }),
        ..Default::default()
    }
}

#[test]
fn phases_follow_the_pod_status() {
    // (status, deleting, phase): PodPhase and the Ready condition as the kubelet reports them.
    let rows = [
        (None, false, LabPhase::Pending),
        (Some(status("Pending", false, Some("ContainerCreating"))), false, LabPhase::Pending),
        (Some(status("Pending", false, Some("ImagePullBackOff"))), false, LabPhase::Failed),
        (Some(status("Pending", false, Some("ErrImagePull"))), false, LabPhase::Failed),
        (Some(status("Running", false, Some("CrashLoopBackOff"))), false, LabPhase::Failed),
        (Some(status("Running", false, None)), false, LabPhase::Pending),
        (Some(status("Running", true, None)), false, LabPhase::Running),
        (Some(status("Failed", false, None)), false, LabPhase::Failed),
        (Some(status("Succeeded", false, None)), false, LabPhase::Failed),
        (Some(status("Unknown", false, None)), false, LabPhase::Pending),
        (Some(status("Running", true, None)), true, LabPhase::Expiring),
    ];
    for (st, deleting, want) in rows {
        let mut pod = lab_pod(NOW, HOUR);
        pod.status = st.clone();
        if deleting {
            pod.metadata.deletion_timestamp = Some(Time("2026-11-25T19:30:00Z".parse().expect("timestamp")));
        }
        assert_eq!(phase(&pod), want, "{st:?} deleting={deleting}");
        assert_eq!(phase(&pod).as_str(), format!("{want:?}"));
    }
    let mut running = lab_pod(NOW, HOUR);
    running.status = Some(status("Running", true, None));
    assert_eq!(phase_at(&running, NOW + HOUR - 1), LabPhase::Running);
    assert_eq!(phase_at(&running, NOW + HOUR), LabPhase::Expiring);
}

#[test]
fn lab_objects_are_recognised_by_their_labels() {
    let pod = lab_pod(NOW, HOUR);
    let labels = pod.metadata.labels.clone().expect("labels");
    assert_eq!(lab_id_of(&labels), Some("lab1"));
    assert!(is_lab_object(&labels));
    let with = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    // (labels, lab id)
    let rows = [
        (with(&[("app.kubernetes.io/managed-by", "autolabs"), ("autolabs.io/lab-id", "x1")]), Some("x1")),
        (with(&[("autolabs.io/lab-id", "x1")]), None),
        (with(&[("app.kubernetes.io/managed-by", "helm"), ("autolabs.io/lab-id", "x1")]), None),
        (with(&[("app.kubernetes.io/managed-by", "autolabs")]), None),
        (with(&[("app.kubernetes.io/managed-by", "autolabs"), ("autolabs.io/lab-id", "Not_An_Id")]), None),
        (BTreeMap::new(), None),
    ];
    for (labels, want) in rows {
        assert_eq!(lab_id_of(&labels), want, "{labels:?}");
        assert_eq!(is_lab_object(&labels), want.is_some());
    }
}

#[test]
fn every_error_speaks_english_and_russian() {
    let errors = [
        LabError::UnknownTemplate { name: "x".into(), known: vec!["shell".into()] },
        LabError::UnknownTemplate { name: "x".into(), known: vec![] },
        LabError::TemplateMismatch { requested: "a".into(), given: "b".into() },
        LabError::InvalidTemplate {
            name: "x".into(),
            problems: vec!["spec.image: must not be empty".into()],
        },
        LabError::InvalidId { id: "X".into(), reason: "uppercase".into() },
        LabError::TtlZero,
        LabError::TtlTooLong { requested: 9 * HOUR, max: 8 * HOUR },
        LabError::NoExpiry,
        LabError::Expired { expired_at: NOW },
        LabError::ExtendBeyondMax { requested_until: NOW + 9 * HOUR, max_until: NOW + 8 * HOUR },
        LabError::TimeOutOfRange { seconds: u64::MAX },
    ];
    let cyrillic = |s: &str| s.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)));
    let mut codes = std::collections::BTreeSet::new();
    for e in &errors {
        let (en, ru) = (e.message(Lang::En), e.message(Lang::Ru));
        assert_eq!(e.to_string(), en);
        assert!(!en.is_empty() && !cyrillic(&en), "{en}");
        assert!(cyrillic(&ru), "{ru}");
        assert_ne!(en, ru);
        codes.insert(e.code());
    }
    assert_eq!(codes.len(), errors.len() - 1, "one code per variant");
    let too_long = LabError::TtlTooLong { requested: 9 * HOUR + 30 * 60, max: 8 * HOUR };
    assert_eq!(
        too_long.message(Lang::En),
        "a lab of this template may run at most 8 h; 9 h 30 min was asked for"
    );
    assert_eq!(
        too_long.message(Lang::Ru),
        "лабораторная этого шаблона может работать не дольше 8 ч; запрошено 9 ч 30 мин"
    );
    let beyond = LabError::ExtendBeyondMax { requested_until: NOW + 9 * HOUR, max_until: NOW + 8 * HOUR };
    assert!(beyond.message(Lang::En).contains("until 2026-11-26T03:00:00Z"), "{beyond}");
    // (tag, language)
    for (tag, want) in [
        ("ru", Lang::Ru),
        ("ru-RU,en;q=0.8", Lang::Ru),
        ("RU", Lang::Ru),
        ("en-US", Lang::En),
        ("", Lang::En),
        // German is not spoken here: the next preference, Russian, is.
        ("de,ru", Lang::Ru),
        ("de", Lang::En),
        // Reported: weights were ignored.
        ("en;q=0.1, ru;q=0.9", Lang::Ru),
        ("ru;q=0.5, en", Lang::En),
        ("ru;q=0, *", Lang::En),
        ("ru;q=0.8, en;q=0.8", Lang::Ru),
    ] {
        assert_eq!(Lang::from_tag(tag), want, "{tag}");
    }
}
