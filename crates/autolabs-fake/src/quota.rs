//! The quota controller's bookkeeping: every ResourceQuota's `status.hard` mirrors its
//! `spec.hard` and `status.used` is what the namespace's objects use, kept current on every
//! create, update and delete (so deleting a pod releases its usage at once).
//!
//! Pod usage is `autolabs_resources`' `PodUsageFunc` (terminal pods use only `count/pods`);
//! other kinds count as one `count/<resource>` plus their legacy names (`services`,
//! `configmaps`, `secrets`, …), services also `services.loadbalancers`/`services.nodeports`,
//! claims `requests.storage`.

use autolabs_k8s::Quantity;
use autolabs_k8s::k8s::{Pod, ResourceQuota};
use autolabs_resources::QuotaState;
use autolabs_resources::pod::PodResources;
use autolabs_resources::quota::pod_usage;
use autolabs_resources::resource_list::{ResourceList, mask, to_k8s_list};
use serde::Deserialize;
use serde_json::Value;

use super::resources::ResourceType;

/// One object as the quota controller sees it: what it uses and, for a pod, the resource
/// view that quota scopes are matched against. Built once per write, so a pod is decoded
/// once however many quotas the namespace has.
pub struct QuotaSubject {
    /// What the object uses of quota resources (whether or not a quota tracks them).
    pub usage: ResourceList,
    /// `Some` for pods: `None` inside when the pod could not be read (no quota matches it).
    pod: Option<Option<PodResources>>,
}

impl QuotaSubject {
    // k8s.io/kubernetes/pkg/quota/v1/evaluator/core/{pods,services,persistent_volume_claims}.go Usage
    // and k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go objectCountEvaluator.Usage
    pub fn of(resource: &ResourceType, object: &Value) -> Self {
        if resource.plural == "pods" && resource.group.is_empty() {
            let pod = Pod::deserialize(object).ok().and_then(|pod| PodResources::from_pod(&pod).ok());
            let usage = match pod.as_ref().map(pod_usage) {
                Some(Ok(usage)) => usage,
                _ => [("count/pods".to_string(), Quantity::from_units(1))].into(),
            };
            return QuotaSubject { usage, pod: Some(pod) };
        }
        QuotaSubject { usage: counted_usage(resource, object), pod: None }
    }

    /// Whether `quota` counts this object: scoped quotas count only the pods their scopes select.
    // k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go Matches
    pub fn counted_by(&self, quota: &QuotaState) -> bool {
        match &self.pod {
            Some(pod) => pod.as_ref().is_some_and(|pod| quota.matches(pod)),
            None => quota.scopes.is_empty(),
        }
    }
}

/// What one object uses of quota resources (whether or not a quota tracks them).
pub fn object_usage(resource: &ResourceType, object: &Value) -> ResourceList {
    QuotaSubject::of(resource, object).usage
}

/// The object-count evaluators' usage of a kind other than pods.
// k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go objectCountEvaluator.Usage
fn counted_usage(resource: &ResourceType, object: &Value) -> ResourceList {
    let one = Quantity::from_units(1);
    let mut usage = ResourceList::new();
    usage.insert(resource.count_quota_name(), one);
    if resource.group.is_empty() {
        match resource.plural {
            "services" => {
                usage.insert("services".into(), one);
                let service_type =
                    object.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
                let ports = object.pointer("/spec/ports").and_then(Value::as_array).map_or(0, Vec::len);
                if service_type == "LoadBalancer" {
                    usage.insert("services.loadbalancers".into(), one);
                }
                if matches!(service_type, "NodePort" | "LoadBalancer") {
                    usage.insert("services.nodeports".into(), Quantity::from_units(ports as i128));
                }
            }
            "persistentvolumeclaims" => {
                usage.insert("persistentvolumeclaims".into(), one);
                if let Some(storage) = object
                    .pointer("/spec/resources/requests/storage")
                    .and_then(Value::as_str)
                    .and_then(|s| Quantity::parse(s).ok())
                {
                    usage.insert("requests.storage".into(), storage);
                }
            }
            "configmaps" | "secrets" | "resourcequotas" | "replicationcontrollers" => {
                usage.insert(resource.plural.into(), one);
            }
            _ => {}
        }
    }
    usage
}

/// `status.used` after adding `added` and removing `removed` (each masked to the quota's hard
/// resources), never below zero.
pub fn adjust(quota: &QuotaState, added: &ResourceList, removed: &ResourceList) -> ResourceList {
    let mut used = quota.used.clone();
    for (name, amount) in mask(added, quota.hard.keys()) {
        let current = used.get(&name).copied().unwrap_or(Quantity::ZERO);
        // checked_add keeps upstream's rule that a zero receiver takes the operand's format.
        used.insert(name, current.checked_add(amount).unwrap_or(current));
    }
    for (name, amount) in mask(removed, quota.hard.keys()) {
        let current = used.get(&name).copied().unwrap_or(Quantity::ZERO);
        let left = current.checked_sub(amount).filter(|q| !q.is_negative()).unwrap_or(Quantity::ZERO);
        used.insert(name, left);
    }
    used
}

/// Writes `hard` (from `spec.hard`) and `used` into a quota object's `status`.
pub fn write_status(quota: &mut Value, hard: &ResourceList, used: &ResourceList) {
    let to_json = |list: &ResourceList| {
        serde_json::to_value(to_k8s_list(list).unwrap_or_default()).unwrap_or(Value::Null)
    };
    quota["status"] = serde_json::json!({"hard": to_json(hard), "used": to_json(used)});
}

/// A quota's state as the controller starts a full recount: `hard` from `spec.hard` and
/// zero `used` for each of those resources.
pub fn state_with_spec_hard(quota: &Value) -> Option<QuotaState> {
    let typed = ResourceQuota::deserialize(quota).ok()?;
    let mut state = QuotaState::from_k8s(&typed).ok()?;
    let spec_only = ResourceQuota { status: None, ..typed };
    let spec_state = QuotaState::from_k8s(&spec_only).ok()?;
    state.hard = spec_state.hard;
    state.used = state.hard.keys().map(|k| (k.clone(), Quantity::ZERO)).collect();
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn object_usage_per_evaluator() {
        // services evaluator: services, count/services, loadbalancers, nodeports
        let svc = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 1}, {"port": 2}]}});
        let usage = object_usage(find("", "v1", "services").unwrap(), &svc);
        assert_eq!(usage["services"], q("1"));
        assert_eq!(usage["count/services"], q("1"));
        assert_eq!(usage["services.loadbalancers"], q("1"));
        assert_eq!(usage["services.nodeports"], q("2"));
        // object count evaluator for a grouped resource
        let usage = object_usage(find("apps", "v1", "deployments").unwrap(), &json!({}));
        assert_eq!(usage.keys().collect::<Vec<_>>(), ["count/deployments.apps"]);
        // pod evaluator: requests and limits, pods and count/pods
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}}}]}});
        let usage = object_usage(find("", "v1", "pods").unwrap(), &pod);
        assert_eq!(usage["requests.cpu"], q("100m"));
        assert_eq!(usage["limits.cpu"], q("200m"));
        assert_eq!(usage["pods"], q("1"));
        // PodUsageFunc: a terminal pod uses only count/pods
        let mut done = pod.clone();
        done["status"] = json!({"phase": "Succeeded"});
        let usage = object_usage(find("", "v1", "pods").unwrap(), &done);
        assert_eq!(usage.keys().collect::<Vec<_>>(), ["count/pods"]);
    }

    #[test]
    fn adjust_never_goes_below_zero() {
        let quota = QuotaState::new("q", [("pods".to_string(), q("2"))].into());
        let one: ResourceList = [("pods".to_string(), q("1")), ("other".to_string(), q("5"))].into();
        let used = adjust(&quota, &one, &ResourceList::new());
        assert_eq!(used.get("pods"), Some(&q("1")));
        assert!(!used.contains_key("other"));
        let released = adjust(&quota, &ResourceList::new(), &one);
        assert_eq!(released.get("pods"), Some(&Quantity::ZERO));
    }

    #[test]
    fn adding_to_zero_takes_the_operand_format() {
        // resource.Quantity.Add: a zero receiver takes the argument's format
        let quota = QuotaState::new("q", [("limits.memory".to_string(), q("1Gi"))].into());
        let half: ResourceList = [("limits.memory".to_string(), q("256Mi"))].into();
        let once = adjust(&quota, &half, &ResourceList::new());
        let twice = adjust(&QuotaState { used: once, ..quota }, &half, &ResourceList::new());
        assert_eq!(twice["limits.memory"].to_string(), "512Mi");
    }
}
