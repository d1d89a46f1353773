//! Properties of the admission model over generated pods, LimitRanges and quotas.

use std::collections::BTreeMap;

use autolabs_k8s::Quantity;
use autolabs_k8s::k8s::{Container, ObjectMeta, Pod, PodSpec, ResourceRequirements};
use autolabs_resources::limit_range::ratio_violation;
use autolabs_resources::{
    LimitRangeItem, LimitRangePolicy, LimitType, Namespace, QuotaState, RejectionSource, admit_pod,
};
use proptest::prelude::*;

/// A cpu value in millicores, or absent.
fn milli() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![Just(None), (0u32..3000).prop_map(Some)]
}

fn resources(request: Option<u32>, limit: Option<u32>) -> Option<ResourceRequirements> {
    let as_list = |v: Option<u32>| {
        v.map(|m| BTreeMap::from([("cpu".to_string(), Quantity::from_milli(i128::from(m)).to_k8s())]))
    };
    Some(ResourceRequirements { requests: as_list(request), limits: as_list(limit), ..Default::default() })
}

fn pod(containers: &[(Option<u32>, Option<u32>)], init: &[(Option<u32>, Option<u32>)]) -> Pod {
    let make = |prefix: &str, list: &[(Option<u32>, Option<u32>)]| -> Vec<Container> {
        list.iter()
            .enumerate()
            .map(|(i, (r, l))| Container {
                name: format!("{prefix}{i}"),
                resources: resources(*r, *l),
                ..Default::default()
            })
            .collect()
    };
    Pod {
        metadata: ObjectMeta { name: Some("p".into()), ..Default::default() },
        spec: Some(PodSpec {
            containers: make("c", containers),
            init_containers: Some(make("i", init)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cpu(list: &Option<BTreeMap<String, autolabs_k8s::k8s::K8sQuantity>>) -> Option<Quantity> {
    list.as_ref().and_then(|l| l.get("cpu")).map(|q| Quantity::parse(&q.0).unwrap())
}

fn namespace(
    default: Option<u32>,
    default_request: Option<u32>,
    max: Option<u32>,
    hard: Option<u32>,
) -> Namespace {
    let as_list = |v: Option<u32>| -> BTreeMap<String, Quantity> {
        v.map(|m| ("cpu".to_string(), Quantity::from_milli(i128::from(m)))).into_iter().collect()
    };
    let mut item = LimitRangeItem {
        default: as_list(default),
        default_request: as_list(default_request),
        max: as_list(max),
        ..LimitRangeItem::new(LimitType::Container)
    };
    item.apply_stored_defaults();
    Namespace {
        limit_ranges: vec![LimitRangePolicy { name: "lr".into(), items: vec![item] }],
        quotas: hard.map(|h| QuotaState::new("q", as_list(Some(h)))).into_iter().collect(),
    }
}

proptest! {
    /// Defaulting never stores a request above its limit: either the pod is refused, or
    /// every container it admits has request ≤ limit.
    #[test]
    fn admitted_pods_never_request_above_limit(
        containers in prop::collection::vec((milli(), milli()), 1..4),
        init in prop::collection::vec((milli(), milli()), 0..3),
        default in milli(), default_request in milli(), max in milli(),
    ) {
        let ns = namespace(default, default_request, max, None);
        if let Ok(admitted) = admit_pod(&ns, &pod(&containers, &init)) {
            let spec = admitted.pod.spec.unwrap();
            for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
                let r = c.resources.clone().unwrap_or_default();
                if let (Some(req), Some(lim)) = (cpu(&r.requests), cpu(&r.limits)) {
                    prop_assert!(req <= lim, "{}: request {req} > limit {lim}", c.name);
                }
            }
        }
    }

    /// A request above its limit after defaulting is always a 422 from validation, never
    /// a LimitRanger or quota answer.
    #[test]
    fn request_above_limit_is_validation(request in 1u32..3000, limit in 0u32..3000) {
        prop_assume!(request > limit);
        let ns = namespace(None, None, None, Some(100_000));
        let rejection = admit_pod(&ns, &pod(&[(Some(request), Some(limit))], &[])).unwrap_err();
        prop_assert_eq!(rejection.source, RejectionSource::Validation);
        prop_assert_eq!(rejection.status, 422);
    }

    /// Recording admitted pods one after another never lets `used` pass `hard`, and the
    /// first refusal is an `exceeded quota` from the quota.
    #[test]
    fn recorded_usage_stays_within_hard(request in 1u32..1500, hard in 0u32..6000) {
        let mut ns = namespace(None, None, None, Some(hard));
        let p = pod(&[(Some(request), None)], &[]);
        let mut admitted_count = 0u32;
        loop {
            match admit_pod(&ns, &p) {
                Ok(admitted) => {
                    ns.record(&admitted).unwrap();
                    admitted_count += 1;
                    let q = &ns.quotas[0];
                    prop_assert!(q.used["cpu"] <= q.hard["cpu"]);
                }
                Err(rejection) => {
                    prop_assert_eq!(rejection.source, RejectionSource::ResourceQuota);
                    prop_assert!(rejection.message.contains("exceeded quota: q"), "{}", rejection.message);
                    break;
                }
            }
        }
        prop_assert_eq!(admitted_count, hard / request);
    }

    /// The ratio check is exact: it fires iff limit·1000 > request·ratio_milli.
    #[test]
    fn ratio_check_is_exact(request in 1i128..100_000, limit in 1i128..100_000, ratio in 1000i128..10_000) {
        let fires = ratio_violation(
            "Container", "cpu", Quantity::from_milli(ratio),
            Some(&Quantity::from_milli(request)), Some(&Quantity::from_milli(limit)),
        ).is_some();
        prop_assert_eq!(fires, limit * 1000 > request * ratio);
    }
}
