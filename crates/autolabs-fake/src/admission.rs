//! Pluggable admission, run on every create and update after the object is defaulted and
//! validated and before it is stored (dry runs included), in the order plugins were given.
//!
//! The built-in plugins mirror kube-apiserver's and are thin adapters over the project's pure
//! engines, so the fake refuses exactly what those engines refuse:
//!
//! - [`LimitRanger`]: `autolabs_resources::admit_pod` with the namespace's LimitRanges —
//!   defaults, pod validation (422) and min/max/ratio (403);
//! - [`PodSecurity`]: `autolabs_pss::evaluate` at the namespace's enforce level (403);
//! - [`Priority`]: resolves `priorityClassName` to `priority` and `preemptionPolicy` (403
//!   when the class does not exist);
//! - [`ResourceQuotaAdmission`]: `autolabs_resources::admit_pod` with the namespace's quotas
//!   for pods, object counts (`count/*`, `services`, `configmaps`, …) for everything else (403).
//!
//! [`default_plugins`] returns them in kube-apiserver's order. Keeping each quota's
//! `status.used` current is not admission but the quota controller's job; the store does it
//! (see `quota.rs`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use autolabs_k8s::k8s::{LimitRange, Namespace, Pod, PriorityClass, ResourceQuota};
use autolabs_resources::{QuotaState, Rejection, RejectionSource};
use serde::Deserialize;
use serde_json::Value;

use super::quota::object_usage;
use super::resources::ResourceType;
use super::status::{Status, StatusCause, StatusReason};

/// The kind of write being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// What a plugin may read about the request and its namespace.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionCtx<'a> {
    pub resource: &'static ResourceType,
    /// `status` for writes to the status subresource.
    pub subresource: Option<&'a str>,
    /// The namespace of a namespaced object.
    pub namespace: Option<&'a str>,
    /// The namespace object, when the object is namespaced.
    pub namespace_object: Option<&'a Namespace>,
    pub limit_ranges: &'a [LimitRange],
    /// The namespace's quotas with their current `status`.
    pub resource_quotas: &'a [ResourceQuota],
    /// Every PriorityClass (read for pods only).
    pub priority_classes: &'a [PriorityClass],
    /// The stored object, for updates.
    pub old_object: Option<&'a Value>,
    /// `dryRun=All`: nothing will be stored.
    pub dry_run: bool,
    /// The engines' reading of `limit_ranges` and `resource_quotas`, when the caller has it
    /// (the store caches it per namespace); `None`: plugins parse the typed objects.
    pub parsed: Option<ParsedInputs<'a>>,
}

/// `limit_ranges` and `resource_quotas` as the `autolabs_resources` engines read them, parsed
/// once per change of those objects instead of once per request. An `Err` is the parse
/// error, answered as a 500 as when a plugin parses the objects itself.
#[derive(Debug, Clone, Copy)]
pub struct ParsedInputs<'a> {
    /// `Namespace::from_k8s(limit_ranges, &[])`.
    pub limit_ranges: &'a Result<autolabs_resources::Namespace, String>,
    /// `Namespace::from_k8s(&[], resource_quotas)`.
    pub quotas: &'a Result<autolabs_resources::Namespace, String>,
    /// `QuotaState::from_k8s` of each of `resource_quotas`, in order.
    pub quota_states: &'a [Result<QuotaState, String>],
}

/// The engine namespace of `ctx`: the parsed one, or parsed now from the typed objects.
fn engine_namespace<'a>(
    parsed: Option<&'a Result<autolabs_resources::Namespace, String>>,
    limit_ranges: &[LimitRange],
    quotas: &[ResourceQuota],
) -> Result<Cow<'a, autolabs_resources::Namespace>, Status> {
    match parsed {
        Some(Ok(namespace)) => Ok(Cow::Borrowed(namespace)),
        Some(Err(message)) => Err(Status::internal(message)),
        None => autolabs_resources::Namespace::from_k8s(limit_ranges, quotas)
            .map(Cow::Owned)
            .map_err(|e| Status::internal(&e.to_string())),
    }
}

/// An admission plugin: may change the object, or refuse it with a `Status`.
pub trait Admission: Send + Sync {
    /// The plugin's name, as kube-apiserver names it.
    fn name(&self) -> &str;

    fn admit(&self, ctx: &AdmissionCtx<'_>, operation: Operation, object: &mut Value) -> Result<(), Status>;
}

/// LimitRanger, PodSecurity, Priority and ResourceQuota, in kube-apiserver's order.
// k8s.io/kubernetes/pkg/kubeapiserver/options/plugins.go AllOrderedPlugins
pub fn default_plugins() -> Vec<Arc<dyn Admission>> {
    vec![Arc::new(LimitRanger), Arc::new(PodSecurity), Arc::new(Priority), Arc::new(ResourceQuotaAdmission)]
}

fn is_pod_create(ctx: &AdmissionCtx<'_>, operation: Operation) -> bool {
    ctx.resource.plural == "pods"
        && ctx.resource.group.is_empty()
        && ctx.subresource.is_none()
        && operation == Operation::Create
}

fn decode_pod(object: &Value) -> Result<Pod, Status> {
    Pod::deserialize(object)
        .map_err(|e| Status::bad_request(format!("Pod in version \"v1\" cannot be handled as a Pod: {e}")))
}

fn pod_name(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

/// An engine's rejection as the API server's `Status`.
fn rejection_status(rejection: &Rejection, name: &str) -> Status {
    let reason = match rejection.source {
        RejectionSource::Decode => StatusReason::BadRequest,
        RejectionSource::Validation => StatusReason::Invalid,
        RejectionSource::LimitRanger | RejectionSource::ResourceQuota => StatusReason::Forbidden,
    };
    let mut status = Status::new(rejection.status, reason, rejection.message.clone());
    status.details.name = (!name.is_empty()).then(|| name.to_string());
    match rejection.source {
        RejectionSource::Validation => {
            status.details.kind = Some("Pod".into());
            status.details.causes = rejection
                .causes
                .iter()
                .map(|cause| {
                    let (field, message) = cause.split_once(": ").unwrap_or(("", cause));
                    StatusCause {
                        reason: "FieldValueInvalid".into(),
                        message: message.to_string(),
                        field: field.to_string(),
                    }
                })
                .collect();
        }
        RejectionSource::LimitRanger | RejectionSource::ResourceQuota => {
            status.details.kind = Some("pods".into())
        }
        RejectionSource::Decode => {}
    }
    status
}

/// LimitRange defaulting and min/max/ratio for pod creates.
///
/// Pod updates are not checked: containers cannot be added or their resources changed in place.
// k8s.io/kubernetes/plugin/pkg/admission/limitranger/admission.go (Admit + Validate)
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitRanger;

impl Admission for LimitRanger {
    fn name(&self) -> &str {
        "LimitRanger"
    }

    fn admit(&self, ctx: &AdmissionCtx<'_>, operation: Operation, object: &mut Value) -> Result<(), Status> {
        if !is_pod_create(ctx, operation) || ctx.limit_ranges.is_empty() {
            return Ok(());
        }
        let pod = decode_pod(object)?;
        let namespace = engine_namespace(ctx.parsed.map(|p| p.limit_ranges), ctx.limit_ranges, &[])?;
        let admitted = autolabs_resources::admit_pod(&namespace, &pod)
            .map_err(|r| rejection_status(&r, pod_name(object)))?;
        // A pod that already states everything the LimitRanges would default is stored as
        // sent; encoding it again would only cost time under the store lock.
        if admitted.pod != pod {
            *object = serde_json::to_value(admitted.pod).map_err(|e| Status::internal(&e.to_string()))?;
        }
        Ok(())
    }
}

/// Pod Security admission at the namespace's `enforce` level, for pod creates and for
/// updates that change a container image or the number of containers.
// k8s.io/pod-security-admission/admission/admission.go ValidatePod
#[derive(Debug, Clone, Copy, Default)]
pub struct PodSecurity;

impl Admission for PodSecurity {
    fn name(&self) -> &str {
        "PodSecurity"
    }

    fn admit(&self, ctx: &AdmissionCtx<'_>, operation: Operation, object: &mut Value) -> Result<(), Status> {
        if ctx.resource.plural != "pods" || !ctx.resource.group.is_empty() || ctx.subresource.is_some() {
            return Ok(());
        }
        if operation == Operation::Update
            && !ctx.old_object.is_some_and(|old| is_significant_pod_update(object, old))
        {
            return Ok(());
        }
        let labels: BTreeMap<String, String> =
            ctx.namespace_object.and_then(|ns| ns.metadata.labels.clone()).unwrap_or_default();
        let policy = autolabs_pss::namespace_policy(&labels);
        let pod = decode_pod(object)?;
        let spec = pod.spec.unwrap_or_default();
        let violations = autolabs_pss::evaluate(&pod.metadata, &spec, policy.enforce);
        if violations.is_empty() {
            return Ok(());
        }
        let why = autolabs_pss::forbidden_message(policy.enforce, &violations);
        Err(Status::forbidden("pods", "", pod_name(object), &why))
    }
}

/// `isSignificantPodUpdate`: the container lists changed length or an image changed.
// k8s.io/pod-security-admission/admission/admission.go isSignificantPodUpdate
fn is_significant_pod_update(new: &Value, old: &Value) -> bool {
    ["containers", "initContainers", "ephemeralContainers"].iter().any(|list| {
        let images = |pod: &Value| -> Vec<Option<String>> {
            pod.pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .map(|items| {
                    items.iter().map(|c| c.get("image").and_then(Value::as_str).map(String::from)).collect()
                })
                .unwrap_or_default()
        };
        images(new) != images(old)
    })
}

/// Priority admission for pod creates: the pod's `priorityClassName` (or the global default
/// class) decides `spec.priority` and `spec.preemptionPolicy`; a missing class is refused.
// k8s.io/kubernetes/plugin/pkg/admission/priority/admission.go admitPod
#[derive(Debug, Clone, Copy, Default)]
pub struct Priority;

/// `scheduling.DefaultPriorityWhenNoDefaultClassExists`.
const DEFAULT_PRIORITY: i32 = 0;

impl Admission for Priority {
    fn name(&self) -> &str {
        "Priority"
    }

    fn admit(&self, ctx: &AdmissionCtx<'_>, operation: Operation, object: &mut Value) -> Result<(), Status> {
        if !is_pod_create(ctx, operation) {
            return Ok(());
        }
        let name = pod_name(object).to_string();
        let forbidden = |why: String| Status::forbidden("pods", "", &name, &why);
        let class_name =
            object.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or("").to_string();
        let class = if class_name.is_empty() {
            // getDefaultPriority: the global default class with the highest value, if any.
            ctx.priority_classes.iter().filter(|c| c.global_default == Some(true)).max_by_key(|c| c.value)
        } else {
            let found =
                ctx.priority_classes.iter().find(|c| c.metadata.name.as_deref() == Some(class_name.as_str()));
            Some(
                found
                    .ok_or_else(|| forbidden(format!("no PriorityClass with name {class_name} was found")))?,
            )
        };
        let (class_name, value, preemption) = match class {
            Some(c) => (
                c.metadata.name.clone().unwrap_or_default(),
                c.value,
                c.preemption_policy.clone().unwrap_or_else(|| "PreemptLowerPriority".into()),
            ),
            None => (String::new(), DEFAULT_PRIORITY, "PreemptLowerPriority".into()),
        };
        if let Some(given) = object.pointer("/spec/priority").and_then(Value::as_i64)
            && given != i64::from(value)
        {
            return Err(forbidden(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission \
                 controller computed {value} from the given PriorityClass name"
            )));
        }
        if let Some(given) = object.pointer("/spec/preemptionPolicy").and_then(Value::as_str)
            && given != preemption
        {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority \
                 admission controller computed {preemption} from the given PriorityClass name"
            )));
        }
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            if !class_name.is_empty() {
                spec.insert("priorityClassName".into(), Value::from(class_name));
            }
            spec.insert("priority".into(), Value::from(value));
            spec.insert("preemptionPolicy".into(), Value::from(preemption));
        }
        Ok(())
    }
}

/// ResourceQuota admission: the pod evaluator for pods, object counts for other kinds.
// k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go CheckRequest
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceQuotaAdmission;

impl Admission for ResourceQuotaAdmission {
    fn name(&self) -> &str {
        "ResourceQuota"
    }

    fn admit(&self, ctx: &AdmissionCtx<'_>, operation: Operation, object: &mut Value) -> Result<(), Status> {
        if operation != Operation::Create || ctx.subresource.is_some() || ctx.resource_quotas.is_empty() {
            return Ok(());
        }
        let name = pod_name(object).to_string();
        if is_pod_create(ctx, operation) {
            let pod = decode_pod(object)?;
            let namespace = engine_namespace(ctx.parsed.map(|p| p.quotas), &[], ctx.resource_quotas)?;
            return autolabs_resources::admit_pod(&namespace, &pod)
                .map(drop)
                .map_err(|r| rejection_status(&r, &name));
        }
        let usage = object_usage(ctx.resource, object);
        let mut states = Vec::with_capacity(ctx.resource_quotas.len());
        for (i, quota) in ctx.resource_quotas.iter().enumerate() {
            states.push(match ctx.parsed.and_then(|p| p.quota_states.get(i)) {
                Some(Ok(state)) => Cow::Borrowed(state),
                Some(Err(message)) => return Err(Status::internal(message)),
                None => {
                    Cow::Owned(QuotaState::from_k8s(quota).map_err(|e| Status::internal(&e.to_string()))?)
                }
            });
        }
        match autolabs_resources::check_object_count(states.iter().map(|s| &**s), &usage) {
            Ok(Ok(_charges)) => {}
            Ok(Err(denial)) => {
                return Err(Status::forbidden(
                    ctx.resource.plural,
                    ctx.resource.group,
                    &name,
                    &denial.message,
                ));
            }
            Err(e) => return Err(Status::internal(&e.to_string())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    fn ctx<'a>(
        plural: &str,
        namespace: Option<&'a Namespace>,
        limit_ranges: &'a [LimitRange],
        quotas: &'a [ResourceQuota],
    ) -> AdmissionCtx<'a> {
        AdmissionCtx {
            resource: find("", "v1", plural).unwrap(),
            subresource: None,
            namespace: Some("n"),
            namespace_object: namespace,
            limit_ranges,
            resource_quotas: quotas,
            priority_classes: &[],
            old_object: None,
            dry_run: false,
            parsed: None,
        }
    }

    fn pod(cpu_limit: Option<&str>) -> Value {
        let resources = match cpu_limit {
            Some(cpu) => json!({"limits": {"cpu": cpu, "memory": "64Mi"}}),
            None => json!({}),
        };
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
               "spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]}})
    }

    #[test]
    fn limit_ranger_defaults_and_refuses() {
        let lr: LimitRange = serde_json::from_value(json!({"metadata": {"name": "lr"}, "spec": {"limits": [
            {"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"}, "max": {"cpu": "1"}}]}}))
        .unwrap();
        let lrs = [lr];
        let c = ctx("pods", None, &lrs, &[]);
        // limitranger mergePodResourceRequirements: defaults fill missing limits (and requests)
        let mut object = pod(None);
        LimitRanger.admit(&c, Operation::Create, &mut object).unwrap();
        assert_eq!(object.pointer("/spec/containers/0/resources/limits/cpu").unwrap(), "500m");
        // limitranger maxConstraint: 403
        let err = LimitRanger.admit(&c, Operation::Create, &mut pod(Some("2"))).unwrap_err();
        assert_eq!((err.code, err.reason), (403, StatusReason::Forbidden));
        assert!(
            err.message.starts_with("pods \"p\" is forbidden: maximum cpu usage per Container is 1"),
            "{}",
            err.message
        );
    }

    #[test]
    fn pod_security_enforces_the_namespace_level() {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "n", "labels": {
            "pod-security.kubernetes.io/enforce": "restricted"}}}))
        .unwrap();
        let c = ctx("pods", Some(&ns), &[], &[]);
        let err = PodSecurity.admit(&c, Operation::Create, &mut pod(None)).unwrap_err();
        assert_eq!(err.code, 403);
        assert!(
            err.message.starts_with("pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": "),
            "{}",
            err.message
        );
        // privileged by default: no labels, no refusal
        let open = ctx("pods", None, &[], &[]);
        PodSecurity.admit(&open, Operation::Create, &mut pod(None)).unwrap();
    }

    #[test]
    fn pod_security_skips_insignificant_updates() {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "n", "labels": {
            "pod-security.kubernetes.io/enforce": "restricted"}}}))
        .unwrap();
        let old = pod(None);
        let mut c = ctx("pods", Some(&ns), &[], &[]);
        c.old_object = Some(&old);
        let mut relabeled = pod(None);
        relabeled["metadata"]["labels"] = json!({"a": "b"});
        PodSecurity.admit(&c, Operation::Update, &mut relabeled).unwrap();
        let mut new_image = pod(None);
        new_image["spec"]["containers"][0]["image"] = json!("other");
        assert!(PodSecurity.admit(&c, Operation::Update, &mut new_image).is_err());
    }

    #[test]
    fn priority_resolves_the_class_or_refuses() {
        let classes: Vec<PriorityClass> = vec![
            serde_json::from_value(json!({"metadata": {"name": "lab-priority"}, "value": 100})).unwrap(),
            serde_json::from_value(
                json!({"metadata": {"name": "default"}, "value": 5, "globalDefault": true}),
            )
            .unwrap(),
        ];
        let mut c = ctx("pods", None, &[], &[]);
        c.priority_classes = &classes;
        // admitPod: the named class gives the value
        let mut named = pod(None);
        named["spec"]["priorityClassName"] = json!("lab-priority");
        Priority.admit(&c, Operation::Create, &mut named).unwrap();
        assert_eq!(named["spec"]["priority"], 100);
        assert_eq!(named["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        // getDefaultPriority: the global default class
        let mut unnamed = pod(None);
        Priority.admit(&c, Operation::Create, &mut unnamed).unwrap();
        assert_eq!(
            (unnamed["spec"]["priority"].clone(), unnamed["spec"]["priorityClassName"].clone()),
            (json!(5), json!("default"))
        );
        // a missing class is 403
        let mut missing = pod(None);
        missing["spec"]["priorityClassName"] = json!("nope");
        let err = Priority.admit(&c, Operation::Create, &mut missing).unwrap_err();
        assert_eq!(err.message, "pods \"p\" is forbidden: no PriorityClass with name nope was found");
        // a priority that disagrees with the class is 403
        let mut wrong = named.clone();
        wrong["spec"]["priority"] = json!(7);
        assert_eq!(Priority.admit(&c, Operation::Create, &mut wrong).unwrap_err().code, 403);
    }

    #[test]
    fn quota_counts_objects() {
        let quota: ResourceQuota = serde_json::from_value(json!({"metadata": {"name": "q"},
            "spec": {"hard": {"configmaps": "1"}}, "status": {"hard": {"configmaps": "1"}, "used": {"configmaps": "1"}}}))
        .unwrap();
        let quotas = [quota];
        let c = ctx("configmaps", None, &[], &quotas);
        let mut cm = json!({"metadata": {"name": "cm", "namespace": "n"}});
        let err = ResourceQuotaAdmission.admit(&c, Operation::Create, &mut cm).unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "configmaps \"cm\" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1"
        );
    }

    #[test]
    fn quota_refuses_pods_over_the_limit() {
        let quota: ResourceQuota = serde_json::from_value(json!({"metadata": {"name": "q"},
            "spec": {"hard": {"pods": "1"}}, "status": {"hard": {"pods": "1"}, "used": {"pods": "1"}}}))
        .unwrap();
        let quotas = [quota];
        let c = ctx("pods", None, &[], &quotas);
        let err = ResourceQuotaAdmission.admit(&c, Operation::Create, &mut pod(Some("1"))).unwrap_err();
        assert_eq!(
            err.message,
            "pods \"p\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"
        );
    }
}
