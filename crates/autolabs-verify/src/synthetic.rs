//! Deterministic synthetic clusters for benchmarks: namespaces with a LimitRange and a quota,
//! pods (a mix of restricted-compliant and not), and roles with bindings.

use serde_json::json;

use crate::objects::ObjectSet;

/// Sizes of a synthetic cluster.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub namespaces: usize,
    pub pods: usize,
    /// Roles and bindings in total (half each).
    pub rbac_objects: usize,
}

/// Builds the object set (as if read from files, so lines are tracked too).
pub fn generate(p: Params) -> ObjectSet {
    let mut docs = String::new();
    let ns_count = p.namespaces.max(1);
    let push = |docs: &mut String, v: serde_json::Value| {
        docs.push_str("---\n");
        docs.push_str(&v.to_string());
        docs.push('\n');
    };
    for n in 0..ns_count {
        let ns = format!("ns-{n}");
        let level = if n % 3 == 0 { "restricted" } else { "baseline" };
        push(
            &mut docs,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/warn": "restricted"}}}),
        );
        push(
            &mut docs,
            json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": ns},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "250m", "memory": "256Mi"}, "max": {"cpu": "2", "memory": "2Gi"}}]}}),
        );
        push(
            &mut docs,
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "quota", "namespace": ns},
            "spec": {"hard": {"requests.cpu": "20", "requests.memory": "20Gi", "limits.cpu": "40", "limits.memory": "40Gi", "pods": "50"}}}),
        );
    }
    for i in 0..p.pods {
        let ns = format!("ns-{}", i % ns_count);
        let hardened = i % 4 != 0;
        let sc = if hardened {
            json!({"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}})
        } else {
            json!({"privileged": i % 8 == 0})
        };
        let cpu = if i % 10 == 0 { "3" } else { "500m" };
        push(
            &mut docs,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("pod-{i}"), "namespace": ns, "labels": {"app": format!("app-{}", i % 7)}},
            "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0", "securityContext": sc,
                "resources": {"limits": {"cpu": cpu, "memory": "512Mi"}}, "ports": [{"name": "http", "containerPort": 8080}]}]}}),
        );
    }
    for r in 0..p.rbac_objects / 2 {
        let ns = format!("ns-{}", r % ns_count);
        let verbs = if r % 11 == 0 { json!(["*"]) } else { json!(["get", "list", "watch"]) };
        let resources =
            if r % 5 == 0 { json!(["secrets"]) } else { json!(["pods", "services", "configmaps"]) };
        push(
            &mut docs,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": format!("role-{r}"), "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}]}),
        );
        push(
            &mut docs,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": format!("binding-{r}"), "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("role-{r}")},
            "subjects": [{"kind": "ServiceAccount", "name": format!("sa-{}", r % 13), "namespace": ns}, {"kind": "User", "name": format!("user-{}", r % 17), "apiGroup": "rbac.authorization.k8s.io"}]}),
        );
    }
    let mut set = ObjectSet::default();
    set.add_text(&docs, "synthetic.yaml");
    set
}

/// Sizes of the reading benchmark's manifest stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamParams {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
}

/// The netpol engine's synthetic cluster (namespaces, pods with named ports, policies of every
/// shape) as one block-style multi-document YAML stream, as `kubectl get -o yaml` or Helm would
/// write it: the input of the reading benchmark (`autolabs bench read`).
pub fn netpol_stream(p: StreamParams) -> String {
    use autolabs_netpol::synthetic::{SyntheticParams, generate as generate_netpol};
    let cluster =
        generate_netpol(SyntheticParams { namespaces: p.namespaces, pods: p.pods, policies: p.policies });
    let mut out = String::with_capacity(400 * (cluster.pods.len() + cluster.policies.len()));
    let mut push = |v: serde_json::Value| {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&v).unwrap_or_default());
    };
    for ns in &cluster.namespaces {
        push(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns.name, "labels": ns.labels}}),
        );
    }
    for pod in &cluster.pods {
        let ports: Vec<serde_json::Value> = pod
            .named_ports
            .iter()
            .map(|np| json!({"name": np.name, "containerPort": np.port, "protocol": np.protocol.as_str()}))
            .collect();
        push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels},
            "spec": {"containers": [{"name": "main", "image": "registry.example/app:1.0", "ports": ports,
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}}]}}));
    }
    for policy in &cluster.policies {
        let mut v = serde_json::to_value(policy).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("apiVersion".into(), json!("networking.k8s.io/v1"));
            map.insert("kind".into(), json!("NetworkPolicy"));
        }
        push(v);
    }
    out
}
