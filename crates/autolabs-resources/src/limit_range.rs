//! LimitRange: the object as the API server stores it (with `SetDefaults_LimitRangeItem`
//! applied) and the LimitRanger admission plugin's two halves.
//!
//! - **Mutating** (`PodMutateLimitFunc`): every container and init container that omits a
//!   request or limit named in a `type: Container` item's `defaultRequest`/`default` gets
//!   it, and the pod is annotated `kubernetes.io/limit-ranger`.
//! - **Validating** (`PodValidateLimitFunc`): `min`, `max` and `maxLimitRequestRatio` per
//!   container (and init container) for `type: Container` items, and against the pod
//!   totals for `type: Pod` items. All violations of one LimitRange are reported together;
//!   the first LimitRange with a violation stops admission (403).
//!
//! Stored defaulting matters: a `type: Container` item with only `max` still defaults
//! limits (to `max`) and requests (to `default`, then `min`).

use std::fmt::Write as _;

use autolabs_k8s::Quantity;
use autolabs_k8s::k8s::LimitRange;

use crate::ResourcesError;
use crate::pod::{PodResources, TotalOptions, pod_limits, pod_requests};
use crate::resource_list::{ResourceList, parse_list};

/// The annotation the mutating half writes.
pub const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// `LimitRangeItem.type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LimitType {
    Container,
    Pod,
    PersistentVolumeClaim,
    /// A type this plugin ignores for pods.
    Other(String),
}

impl LimitType {
    fn parse(s: &str) -> Self {
        match s {
            "Container" => LimitType::Container,
            "Pod" => LimitType::Pod,
            "PersistentVolumeClaim" => LimitType::PersistentVolumeClaim,
            other => LimitType::Other(other.to_string()),
        }
    }

    /// The word upstream messages use (`per Container`).
    pub fn as_str(&self) -> &str {
        match self {
            LimitType::Container => "Container",
            LimitType::Pod => "Pod",
            LimitType::PersistentVolumeClaim => "PersistentVolumeClaim",
            LimitType::Other(s) => s,
        }
    }
}

/// One `spec.limits[]` entry, after stored defaulting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRangeItem {
    pub limit_type: LimitType,
    pub max: ResourceList,
    pub min: ResourceList,
    pub default: ResourceList,
    pub default_request: ResourceList,
    pub max_limit_request_ratio: ResourceList,
}

impl LimitRangeItem {
    /// An item with the given type and no constraints.
    pub fn new(limit_type: LimitType) -> Self {
        LimitRangeItem {
            limit_type,
            max: ResourceList::new(),
            min: ResourceList::new(),
            default: ResourceList::new(),
            default_request: ResourceList::new(),
            max_limit_request_ratio: ResourceList::new(),
        }
    }

    /// `SetDefaults_LimitRangeItem`: for `type: Container`, a missing `default` comes from
    /// `max`, a missing `defaultRequest` from `default`, then from `min`.
    // k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem
    pub fn apply_stored_defaults(&mut self) {
        if self.limit_type != LimitType::Container {
            return;
        }
        for (name, q) in &self.max {
            self.default.entry(name.clone()).or_insert(*q);
        }
        for (name, q) in &self.default {
            self.default_request.entry(name.clone()).or_insert(*q);
        }
        for (name, q) in &self.min {
            self.default_request.entry(name.clone()).or_insert(*q);
        }
    }
}

/// A LimitRange as the LimitRanger sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRangePolicy {
    pub name: String,
    pub items: Vec<LimitRangeItem>,
}

impl LimitRangePolicy {
    /// Reads a LimitRange and applies the defaulting the API server applied when it was
    /// created (idempotent, so an already-stored object reads the same).
    pub fn from_k8s(limit_range: &LimitRange) -> Result<Self, ResourcesError> {
        let name = limit_range.metadata.name.clone().unwrap_or_default();
        let mut items = Vec::new();
        for (i, raw) in limit_range.spec.iter().flat_map(|s| &s.limits).enumerate() {
            let path = format!("spec.limits[{i}]");
            let mut item = LimitRangeItem {
                limit_type: LimitType::parse(&raw.type_),
                max: parse_list(raw.max.as_ref(), &format!("{path}.max"))?,
                min: parse_list(raw.min.as_ref(), &format!("{path}.min"))?,
                default: parse_list(raw.default.as_ref(), &format!("{path}.default"))?,
                default_request: parse_list(raw.default_request.as_ref(), &format!("{path}.defaultRequest"))?,
                max_limit_request_ratio: parse_list(
                    raw.max_limit_request_ratio.as_ref(),
                    &format!("{path}.maxLimitRequestRatio"),
                )?,
            };
            item.apply_stored_defaults();
            items.push(item);
        }
        Ok(LimitRangePolicy { name, items })
    }

    /// `defaultContainerResourceRequirements`: the defaults of every `type: Container`
    /// item, later items overriding earlier ones. Returns (requests, limits).
    // k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go defaultContainerResourceRequirements
    pub fn container_defaults(&self) -> (ResourceList, ResourceList) {
        let mut requests = ResourceList::new();
        let mut limits = ResourceList::new();
        for item in self.items.iter().filter(|i| i.limit_type == LimitType::Container) {
            requests.extend(item.default_request.iter().map(|(k, v)| (k.clone(), *v)));
            limits.extend(item.default.iter().map(|(k, v)| (k.clone(), *v)));
        }
        (requests, limits)
    }

    /// The mutating half: fills missing requests and limits from this LimitRange's
    /// defaults. Returns the annotation fragments (`cpu, memory request for container c0`).
    // k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go mergePodResourceRequirements
    pub fn apply_defaults(&self, pod: &mut PodResources) -> Vec<String> {
        let (default_requests, default_limits) = self.container_defaults();
        let mut notes = Vec::new();
        let groups = [("container", &mut pod.containers), ("init container", &mut pod.init_containers)];
        for (kind, containers) in groups {
            for container in containers.iter_mut() {
                // mergeContainerResources: only names the container does not state.
                let mut set_limits = Vec::new();
                for (name, q) in &default_limits {
                    if !container.limits.contains_key(name) {
                        container.limits.insert(name.clone(), *q);
                        set_limits.push(name.as_str());
                    }
                }
                let mut set_requests = Vec::new();
                for (name, q) in &default_requests {
                    if !container.requests.contains_key(name) {
                        container.requests.insert(name.clone(), *q);
                        set_requests.push(name.as_str());
                    }
                }
                if !set_requests.is_empty() {
                    notes.push(format!("{} request for {kind} {}", set_requests.join(", "), container.name));
                }
                if !set_limits.is_empty() {
                    notes.push(format!("{} limit for {kind} {}", set_limits.join(", "), container.name));
                }
            }
        }
        notes
    }

    /// The validating half: every min/max/ratio violation, in upstream's order (items in
    /// order; containers, then init containers; min, then max, then ratio; resources
    /// sorted by name where upstream iterates a map).
    // k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go PodValidateLimitFunc
    pub fn violations(&self, pod: &PodResources) -> Result<Vec<String>, ResourcesError> {
        let mut errors = Vec::new();
        for item in &self.items {
            let kind = item.limit_type.as_str();
            match item.limit_type {
                LimitType::Container => {
                    for c in pod.all_containers() {
                        check_item(item, kind, &c.requests, &c.limits, &mut errors);
                    }
                }
                LimitType::Pod => {
                    let requests = pod_requests(pod, TotalOptions::LIMIT_RANGER)?;
                    let limits = pod_limits(pod, TotalOptions::LIMIT_RANGER)?;
                    check_item(item, kind, &requests, &limits, &mut errors);
                }
                LimitType::PersistentVolumeClaim | LimitType::Other(_) => {}
            }
        }
        Ok(errors)
    }
}

fn check_item(
    item: &LimitRangeItem,
    kind: &str,
    requests: &ResourceList,
    limits: &ResourceList,
    out: &mut Vec<String>,
) {
    for (name, enforced) in &item.min {
        out.extend(min_violation(kind, name, *enforced, requests.get(name), limits.get(name)));
    }
    for (name, enforced) in &item.max {
        out.extend(max_violation(kind, name, *enforced, requests.get(name), limits.get(name)));
    }
    for (name, enforced) in &item.max_limit_request_ratio {
        out.extend(ratio_violation(kind, name, *enforced, requests.get(name), limits.get(name)));
    }
}

/// `minConstraint`.
// k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go minConstraint
pub fn min_violation(
    kind: &str,
    name: &str,
    enforced: Quantity,
    request: Option<&Quantity>,
    limit: Option<&Quantity>,
) -> Option<String> {
    let Some(request) = request else {
        return Some(format!("minimum {name} usage per {kind} is {enforced}.  No request is specified"));
    };
    if enforced > *request {
        return Some(format!("minimum {name} usage per {kind} is {enforced}, but request is {request}"));
    }
    match limit {
        Some(limit) if enforced > *limit => {
            Some(format!("minimum {name} usage per {kind} is {enforced}, but limit is {limit}"))
        }
        _ => None,
    }
}

/// `maxConstraint`.
// k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go maxConstraint
pub fn max_violation(
    kind: &str,
    name: &str,
    enforced: Quantity,
    request: Option<&Quantity>,
    limit: Option<&Quantity>,
) -> Option<String> {
    let Some(limit) = limit else {
        return Some(format!("maximum {name} usage per {kind} is {enforced}.  No limit is specified"));
    };
    if *limit > enforced {
        return Some(format!("maximum {name} usage per {kind} is {enforced}, but limit is {limit}"));
    }
    match request {
        Some(request) if *request > enforced => {
            Some(format!("maximum {name} usage per {kind} is {enforced}, but request is {request}"))
        }
        _ => None,
    }
}

/// `limitRequestRatioConstraint`: limit ≤ request × ratio, compared exactly.
// k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go limitRequestRatioConstraint
pub fn ratio_violation(
    kind: &str,
    name: &str,
    enforced: Quantity,
    request: Option<&Quantity>,
    limit: Option<&Quantity>,
) -> Option<String> {
    let request = match request {
        Some(r) if !r.is_zero() => *r,
        _ => {
            return Some(format!(
                "{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"
            ));
        }
    };
    let limit = match limit {
        Some(l) if !l.is_zero() => *l,
        _ => {
            return Some(format!(
                "{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
            ));
        }
    };
    exceeds_ratio(limit, request, enforced).then(|| {
        format!(
            "{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {}",
            ratio_string(limit, request)
        )
    })
}

/// Whether |limit| > |request| × ratio, exactly (`exceedsAllowed`). In nano-units:
/// L·10⁹ > R·T, computed in 256 bits so no value overflows.
// k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go exceedsAllowed
fn exceeds_ratio(limit: Quantity, request: Quantity, ratio: Quantity) -> bool {
    if ratio.is_negative() {
        return true;
    }
    let lhs = wide_mul(limit.nanos().unsigned_abs(), 1_000_000_000);
    let rhs = wide_mul(request.nanos().unsigned_abs(), ratio.nanos().unsigned_abs());
    lhs > rhs
}

/// The full 256-bit product of two u128 values as (high, low).
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let middle = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
    let low = (lo_lo & MASK) | (middle << 64);
    let high = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (middle >> 64);
    (high, low)
}

/// |limit| / |request| with six decimals, rounded half to even (`ratioString`; older
/// releases printed the float with `%f`, which reads the same for every ratio a cluster
/// meets in practice).
// k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go ratioString
pub fn ratio_string(limit: Quantity, request: Quantity) -> String {
    let numerator = limit.nanos().unsigned_abs();
    let denominator = request.nanos().unsigned_abs();
    if denominator == 0 {
        return "+Inf".to_string();
    }
    match numerator.checked_mul(1_000_000) {
        Some(scaled) => {
            let mut micros = scaled / denominator;
            let remainder = scaled % denominator;
            let twice = remainder.saturating_mul(2);
            if twice > denominator || (twice == denominator && micros % 2 == 1) {
                micros += 1;
            }
            let mut out = String::new();
            let _ = write!(out, "{}.{:06}", micros / 1_000_000, micros % 1_000_000);
            out
        }
        // Beyond 10³² nano-units the ratio is astronomically large; print it via f64.
        None => format!("{:.6}", numerator as f64 / denominator as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), q(v))).collect()
    }

    #[test]
    fn stored_defaults() {
        // k8s.io/kubernetes/pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem
        // (rule, max, min, default, defaultRequest, expected default, expected defaultRequest)
        type Row<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
            &'a str,
            &'a str,
        );
        let rows: [Row; 4] = [
            ("default limit from max", &[("cpu", "1")], &[], &[], &[], "cpu=1", "cpu=1"),
            ("default request from default limit", &[], &[], &[("cpu", "500m")], &[], "cpu=500m", "cpu=500m"),
            (
                "default request from min when no default",
                &[],
                &[("memory", "64Mi")],
                &[],
                &[],
                "",
                "memory=64Mi",
            ),
            (
                "explicit values are kept",
                &[("cpu", "2")],
                &[("cpu", "100m")],
                &[("cpu", "1")],
                &[("cpu", "250m")],
                "cpu=1",
                "cpu=250m",
            ),
        ];
        for (rule, max, min, default, default_request, want_default, want_request) in rows {
            let mut item = LimitRangeItem {
                max: list(max),
                min: list(min),
                default: list(default),
                default_request: list(default_request),
                ..LimitRangeItem::new(LimitType::Container)
            };
            item.apply_stored_defaults();
            assert_eq!(crate::resource_list::pretty_print(&item.default), want_default, "{rule}");
            assert_eq!(crate::resource_list::pretty_print(&item.default_request), want_request, "{rule}");
        }
        let mut pod_item =
            LimitRangeItem { max: list(&[("cpu", "1")]), ..LimitRangeItem::new(LimitType::Pod) };
        pod_item.apply_stored_defaults();
        assert!(pod_item.default.is_empty(), "type Pod items are not defaulted");
    }

    #[test]
    fn constraint_messages() {
        let c = "Container";
        // (upstream rule, message produced, expected)
        let rows: Vec<(&str, Option<String>, Option<&str>)> = vec![
            (
                "minConstraint: no request",
                min_violation(c, "cpu", q("100m"), None, None),
                Some("minimum cpu usage per Container is 100m.  No request is specified"),
            ),
            (
                "minConstraint: request below",
                min_violation(c, "cpu", q("100m"), Some(&q("50m")), None),
                Some("minimum cpu usage per Container is 100m, but request is 50m"),
            ),
            (
                "minConstraint: limit below",
                min_violation(c, "cpu", q("100m"), Some(&q("100m")), Some(&q("50m"))),
                Some("minimum cpu usage per Container is 100m, but limit is 50m"),
            ),
            (
                "minConstraint: equal passes",
                min_violation(c, "cpu", q("100m"), Some(&q("0.1")), Some(&q("0.1"))),
                None,
            ),
            (
                "maxConstraint: no limit",
                max_violation(c, "memory", q("1Gi"), None, None),
                Some("maximum memory usage per Container is 1Gi.  No limit is specified"),
            ),
            (
                "maxConstraint: limit above",
                max_violation(c, "cpu", q("500m"), None, Some(&q("1"))),
                Some("maximum cpu usage per Container is 500m, but limit is 1"),
            ),
            (
                "maxConstraint: request above",
                max_violation(c, "cpu", q("500m"), Some(&q("750m")), Some(&q("500m"))),
                Some("maximum cpu usage per Container is 500m, but request is 750m"),
            ),
            (
                "maxConstraint: equal passes",
                max_violation(c, "memory", q("1Gi"), Some(&q("1Gi")), Some(&q("1024Mi"))),
                None,
            ),
            (
                "limitRequestRatioConstraint: no request",
                ratio_violation(c, "cpu", q("4"), None, Some(&q("1"))),
                Some(
                    "cpu max limit to request ratio per Container is 4, but no request is specified or request is 0",
                ),
            ),
            (
                "limitRequestRatioConstraint: zero limit",
                ratio_violation(c, "cpu", q("4"), Some(&q("1")), Some(&q("0"))),
                Some(
                    "cpu max limit to request ratio per Container is 4, but no limit is specified or limit is 0",
                ),
            ),
            (
                "limitRequestRatioConstraint: ratio above",
                ratio_violation(c, "cpu", q("4"), Some(&q("100m")), Some(&q("1"))),
                Some("cpu max limit to request ratio per Container is 4, but provided ratio is 10.000000"),
            ),
            (
                "limitRequestRatioConstraint: exactly the ratio passes",
                ratio_violation(c, "cpu", q("4"), Some(&q("250m")), Some(&q("1"))),
                None,
            ),
            (
                "limitRequestRatioConstraint: six decimals",
                ratio_violation(c, "memory", q("1"), Some(&q("3")), Some(&q("10"))),
                Some("memory max limit to request ratio per Container is 1, but provided ratio is 3.333333"),
            ),
            (
                "limitRequestRatioConstraint: fractional ratio",
                ratio_violation(c, "cpu", q("1.5"), Some(&q("1")), Some(&q("2"))),
                Some("cpu max limit to request ratio per Container is 1500m, but provided ratio is 2.000000"),
            ),
        ];
        for (rule, got, want) in rows {
            assert_eq!(got.as_deref(), want, "{rule}");
        }
    }

    #[test]
    fn ratio_rounds_half_to_even() {
        // 1/8 = 0.125 exactly at six decimals; 1/3 rounds down; 2/3 rounds up.
        assert_eq!(ratio_string(q("1"), q("8")), "0.125000");
        assert_eq!(ratio_string(q("2"), q("3")), "0.666667");
        assert_eq!(ratio_string(q("1n"), q("2000000")), "0.000000");
        assert_eq!(ratio_string(q("3n"), q("2000000")), "0.000000");
    }

    #[test]
    fn wide_multiplication_is_exact() {
        assert_eq!(wide_mul(u128::MAX, 2), (1, u128::MAX - 1));
        assert_eq!(wide_mul(1 << 64, 1 << 64), (1, 0));
        assert_eq!(wide_mul(12345, 678), (0, 12345 * 678));
    }
}
