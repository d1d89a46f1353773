//! The labs quota's arithmetic, written once. Four callers ask it different questions:
//!
//! - `render` writes the `labs` ResourceQuota: [`hard`] (one lab's requests and limits times
//!   the students, the lab Pods, one Service and one Ingress per lab Pod);
//! - `capacity` and `plan` count how many labs the nodes hold: [`labs_on_node`] per node,
//!   [`for_students`] for what the students need in all;
//! - the provisioner's preflight counts how many more labs a quota admits:
//!   [`labs_admitted`] per quota resource, [`OBJECT_COUNT_RESOURCES`] for the objects a
//!   lab creates besides its Pod;
//! - the provisioner reads an API server's quota refusal back into numbers:
//!   [`QuotaRefusal::parse`].
//!
//! Everything here is exact ([`Quantity`] arithmetic) and pure.

use std::collections::BTreeMap;

use autolabs_k8s::Quantity;

use crate::platform::LabsSpec;

/// The `labs` ResourceQuota's `spec.hard` for `students` labs of the size `labs` gives: the
/// document's 50 students × 500m / 512Mi requests and × 1 / 1Gi limits, `pods_per_student`
/// Pods each, one Service and one Ingress per lab Pod, and nothing that opens the labs to
/// the outside (no NodePorts, LoadBalancers or volumes).
pub fn hard(labs: &LabsSpec, students: u32) -> BTreeMap<String, Quantity> {
    let pods = Quantity::from_units(i128::from(students) * i128::from(labs.pods_per_student));
    BTreeMap::from([
        ("requests.cpu".to_string(), for_students(labs.requests.cpu.0, students)),
        ("requests.memory".to_string(), for_students(labs.requests.memory.0, students)),
        ("limits.cpu".to_string(), for_students(labs.limits.cpu.0, students)),
        ("limits.memory".to_string(), for_students(labs.limits.memory.0, students)),
        ("pods".to_string(), pods),
        ("services".to_string(), pods),
        ("count/ingresses.networking.k8s.io".to_string(), pods),
        ("services.nodeports".to_string(), Quantity::ZERO),
        ("services.loadbalancers".to_string(), Quantity::ZERO),
        ("persistentvolumeclaims".to_string(), Quantity::ZERO),
    ])
}

/// What `students` labs of `per_lab` need together; `per_lab` itself when the product would
/// overflow (beyond 10^29 units: no input the schema admits gets there).
pub fn for_students(per_lab: Quantity, students: u32) -> Quantity {
    per_lab.checked_mul(i128::from(students)).unwrap_or(per_lab)
}

/// The object-count quota resources each object a lab creates besides its Pod is charged to,
/// by kind (`k8s.io/kubernetes/pkg/quota/v1/evaluator/core/services.go` charges `services`;
/// `k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go` ObjectCountQuotaResourceNameFor
/// charges `count/<resource>.<group>`). [`hard`] bounds `services` and Ingresses by it.
pub const OBJECT_COUNT_RESOURCES: [(&str, &[&str]); 3] = [
    ("Service", &["services", "count/services"]),
    ("NetworkPolicy", &["count/networkpolicies.networking.k8s.io"]),
    ("Ingress", &["count/ingresses.networking.k8s.io"]),
];

/// The object-count quota resources one lab object of `kind` is charged to (empty for a kind
/// a lab does not create besides its Pod).
pub fn object_count_resources(kind: &str) -> &'static [&'static str] {
    OBJECT_COUNT_RESOURCES.iter().find(|(k, _)| *k == kind).map_or(&[], |(_, resources)| resources)
}

/// Whole labs of `per_lab` that fit in `room` (a room below zero holds none), saturating at
/// `u64::MAX`; `None` when `per_lab` is zero or negative: then this resource bounds nothing.
pub fn labs_in(room: Quantity, per_lab: Quantity) -> Option<u64> {
    room.fits(per_lab).map(|n| u64::try_from(n.max(0)).unwrap_or(u64::MAX))
}

/// How many more labs one quota resource admits when each is charged `per_lab`: the largest
/// `n` with `used + n × per_lab <= hard`; `None` (unbounded) when a lab is charged nothing.
// k8s.io/apiserver/pkg/quota/v1/resources.go LessThanOrEqual: used + requested <= hard.
pub fn labs_admitted(hard: Quantity, used: Quantity, per_lab: Quantity) -> Option<u64> {
    let remaining = hard.checked_sub(used).filter(|r| !r.is_negative()).unwrap_or(Quantity::ZERO);
    labs_in(remaining, per_lab)
}

/// Whole labs a node with `free_cpu` and `free_memory` left holds, each lab requesting
/// `lab_cpu` and `lab_memory`: the scheduler places a Pod only where both fit
/// (`k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources/fit.go` fitsRequest).
/// A resource a lab requests none of does not bound it (`u64::MAX` when neither does).
pub fn labs_on_node(
    free_cpu: Quantity,
    free_memory: Quantity,
    lab_cpu: Quantity,
    lab_memory: Quantity,
) -> u64 {
    let by_cpu = labs_in(free_cpu, lab_cpu).unwrap_or(u64::MAX);
    by_cpu.min(labs_in(free_memory, lab_memory).unwrap_or(u64::MAX))
}

/// The numbers of an API server's quota refusal, as text (the quantities as the API server
/// printed them), worded by `k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`
/// CheckRequest: `exceeded quota: <name>, requested: <r>=<q>,…, used: <r>=<q>,…, limited:
/// <r>=<q>,…`, listing only the exceeded resources. The first resource is the one reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRefusal {
    /// The ResourceQuota that refused.
    pub quota: String,
    /// The first exceeded quota resource.
    pub resource: String,
    /// What the refused object would have added to it.
    pub requested: String,
    /// The quota's `status.used` of it (empty when the message does not list it).
    pub used: String,
    /// The quota's `spec.hard` of it (empty when the message does not list it).
    pub limited: String,
}

impl QuotaRefusal {
    /// The refusal's numbers, or `None` when `message` is not a quota refusal.
    pub fn parse(message: &str) -> Option<QuotaRefusal> {
        let rest = message.split_once("exceeded quota: ")?.1;
        let (quota, rest) = rest.split_once(", requested: ")?;
        let (requested, rest) = rest.split_once(", used: ")?;
        let (used, limited) = rest.split_once(", limited: ")?;
        let (resource, amount) = requested.split(',').next()?.split_once('=')?;
        let resource = resource.trim();
        let value_of = |list: &str| {
            list.split(',')
                .filter_map(|item| item.split_once('='))
                .find(|(name, _)| name.trim() == resource)
                .map(|(_, value)| value.trim().to_string())
                .unwrap_or_default()
        };
        Some(QuotaRefusal {
            quota: quota.trim().to_string(),
            resource: resource.to_string(),
            requested: amount.trim().to_string(),
            used: value_of(used),
            limited: value_of(limited),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qty::constant as q;

    #[test]
    fn the_documents_labs_quota_for_fifty_students() {
        let hard = hard(&LabsSpec::default(), 50);
        let text: BTreeMap<&str, String> = hard.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
        assert_eq!(text["requests.cpu"], "25");
        assert_eq!(text["requests.memory"], "25Gi");
        assert_eq!(text["limits.cpu"], "50");
        assert_eq!(text["limits.memory"], "50Gi");
        assert_eq!(text["pods"], "100");
        assert_eq!(text["services"], "100");
        assert_eq!(text["count/ingresses.networking.k8s.io"], "100");
        for closed in ["services.nodeports", "services.loadbalancers", "persistentvolumeclaims"] {
            assert_eq!(text[closed], "0", "{closed}");
        }
        assert_eq!(hard.len(), 10);
    }

    #[test]
    fn every_object_a_lab_creates_has_its_counted_resources() {
        assert_eq!(object_count_resources("Service"), ["services", "count/services"]);
        assert_eq!(object_count_resources("Ingress"), ["count/ingresses.networking.k8s.io"]);
        assert_eq!(object_count_resources("NetworkPolicy"), ["count/networkpolicies.networking.k8s.io"]);
        assert!(object_count_resources("Pod").is_empty());
        // hard() bounds each counted kind it limits by the lab Pods.
        let hard = hard(&LabsSpec::default(), 3);
        for (kind, resources) in OBJECT_COUNT_RESOURCES {
            for resource in resources.iter().filter(|r| hard.contains_key(**r)) {
                assert_eq!(hard[*resource], hard["pods"], "{kind} {resource}");
            }
        }
    }

    #[test]
    fn labs_admitted_is_used_plus_requested_at_most_hard() {
        // (hard, used, per lab) -> labs admitted
        let cases = [
            ("5", "1", "500m", Some(8)),
            ("5", "4500m", "500m", Some(1)),
            ("5", "4600m", "500m", Some(0)),
            ("5", "5", "500m", Some(0)),
            // A quota already over its hard limit (lowered under running labs) admits none.
            ("5", "7", "500m", Some(0)),
            ("20", "20", "1", Some(0)),
            ("1Gi", "0", "512Mi", Some(2)),
            ("1Gi", "1", "512Mi", Some(1)),
            // A lab charged nothing of a resource is not bounded by it.
            ("0", "0", "0", None),
        ];
        for (hard, used, per_lab, expected) in cases {
            assert_eq!(labs_admitted(q(hard), q(used), q(per_lab)), expected, "{hard} {used} {per_lab}");
        }
    }

    #[test]
    fn labs_admitted_agrees_with_adding_lab_after_lab() {
        for hard in 0..40 {
            for used in 0..40 {
                for per_lab in 1..7 {
                    let (h, u, p) =
                        (Quantity::from_milli(hard * 100), Quantity::from_milli(used * 100), per_lab);
                    let mut n = 0u64;
                    while u.nanos() + i128::from(n + 1) * Quantity::from_milli(p * 100).nanos() <= h.nanos() {
                        n += 1;
                    }
                    assert_eq!(
                        labs_admitted(h, u, Quantity::from_milli(p * 100)),
                        Some(n),
                        "{hard} {used} {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_node_holds_the_labs_both_its_cpu_and_memory_hold() {
        let labs = |cpu: &str, mem: &str, lab_cpu: &str, lab_mem: &str| {
            labs_on_node(q(cpu), q(mem), q(lab_cpu), q(lab_mem))
        };
        assert_eq!(labs("4", "8Gi", "500m", "512Mi"), 8);
        assert_eq!(labs("4", "2Gi", "500m", "512Mi"), 4);
        assert_eq!(labs("1200m", "8Gi", "500m", "512Mi"), 2);
        assert_eq!(labs("-1", "8Gi", "500m", "512Mi"), 0);
        // A resource a lab requests none of does not bound it.
        assert_eq!(labs("0", "8Gi", "0", "1Gi"), 8);
        assert_eq!(labs("0", "0", "0", "0"), u64::MAX);
    }

    #[test]
    fn students_multiply_the_lab() {
        assert_eq!(for_students(q("500m"), 50).to_string(), "25");
        assert_eq!(for_students(q("512Mi"), 3).to_string(), "1536Mi");
        assert_eq!(for_students(q("1"), 0), Quantity::ZERO);
    }

    #[test]
    fn quota_refusals_read_back_into_numbers() {
        // resourcequota/controller.go CheckRequest wording
        let message = "pods \"lab-a\" is forbidden: exceeded quota: labs-quota, requested: pods=1,requests.cpu=500m, used: pods=20,requests.cpu=1, limited: pods=20,requests.cpu=5";
        assert_eq!(
            QuotaRefusal::parse(message),
            Some(QuotaRefusal {
                quota: "labs-quota".into(),
                resource: "pods".into(),
                requested: "1".into(),
                used: "20".into(),
                limited: "20".into(),
            })
        );
        let second = "exceeded quota: q, requested: requests.cpu=750m, used: requests.cpu=1500m, limited: requests.cpu=2";
        let refusal = QuotaRefusal::parse(second).expect("parses");
        assert_eq!(
            (refusal.requested.as_str(), refusal.used.as_str(), refusal.limited.as_str()),
            ("750m", "1500m", "2")
        );
        for other in ["violates PodSecurity", "exceeded quota: q", "exceeded quota: q, requested: pods"] {
            assert_eq!(QuotaRefusal::parse(other), None, "{other}");
        }
    }
}
