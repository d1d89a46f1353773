//! Reading a live cluster into the [`ObjectSet`] that `autolabs verify` reads from files.
//!
//! # Model
//!
//! [`LIVE_KINDS`] lists what the engines read: namespaces, nodes, pods, the workloads that carry pod
//! templates, services, NetworkPolicies, ingresses, RBAC, service accounts, quotas, limit
//! ranges, claims, storage and priority classes, PodDisruptionBudgets, HPAs, and the two
//! custom kinds the baseline renders when their CRD exists. Each is listed across all
//! namespaces in pages of [`LIST_PAGE_SIZE`] (`limit` + `continue`, as kubectl chunks lists),
//! so a large cluster is never one huge response. Items come back without `apiVersion` and
//! `kind` (list items do not carry them), so both are filled in from the resource listed; the
//! server's `managedFields` bookkeeping is dropped and everything else is kept, status
//! included. Each object's `file` is [`CLUSTER_FILE`], so findings name `cluster` as their
//! source.
//!
//! Secrets and ConfigMaps are deliberately not read: no engine needs their contents, and a
//! dump file must never carry credentials.
//!
//! A kind the server does not serve (404, e.g. a CRD that is not installed) is simply absent;
//! any other error stops the read, because verifying half a cluster would report a partial
//! picture as a clean one.

/// The client every function here takes (re-exported so callers need no `kube` dependency).
pub use kube::Client;
use kube::Config;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::{Value, json};

use autolabs_verify::{Object, ObjectSet};

/// `file` of every object read from a cluster.
pub const CLUSTER_FILE: &str = "cluster";

/// Objects per list request (kubectl's `--chunk-size` default).
pub const LIST_PAGE_SIZE: u32 = 500;

/// One resource the live read lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveKind {
    /// API group, empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl LiveKind {
    /// The resource in kube's dynamic form.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version: api_version(self.group, self.version),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

const fn live(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> LiveKind {
    LiveKind { group, version, kind, plural }
}

/// Everything [`read_cluster`] lists, in reading order (namespaces first, as files list them).
pub const LIVE_KINDS: &[LiveKind] = &[
    live("", "v1", "Namespace", "namespaces"),
    // What the nodes can allocate bounds the quotas (`resources/quota-exceeds-nodes`).
    live("", "v1", "Node", "nodes"),
    live("", "v1", "Pod", "pods"),
    live("apps", "v1", "Deployment", "deployments"),
    live("apps", "v1", "StatefulSet", "statefulsets"),
    live("apps", "v1", "DaemonSet", "daemonsets"),
    live("apps", "v1", "ReplicaSet", "replicasets"),
    live("batch", "v1", "Job", "jobs"),
    live("batch", "v1", "CronJob", "cronjobs"),
    live("", "v1", "Service", "services"),
    live("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    live("networking.k8s.io", "v1", "Ingress", "ingresses"),
    live("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    live("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    live("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles"),
    live("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings"),
    live("", "v1", "ServiceAccount", "serviceaccounts"),
    live("", "v1", "ResourceQuota", "resourcequotas"),
    live("", "v1", "LimitRange", "limitranges"),
    live("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    live("storage.k8s.io", "v1", "StorageClass", "storageclasses"),
    live("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses"),
    live("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    live("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    live("snapshot.storage.k8s.io", "v1", "VolumeSnapshotClass", "volumesnapshotclasses"),
    live("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
];

/// Errors of talking to a cluster, each naming what was being done.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable kubeconfig (or in-cluster config), or the context does not exist.
    #[error("cannot load the Kubernetes config{}: {message}", context_note(.context))]
    Config { context: Option<String>, message: String },
    /// The client could not be built from the config.
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// Discovery (`/api`, `/apis`) failed, so no kind can be resolved.
    #[error("API discovery failed: {0}")]
    Discovery(#[source] kube::Error),
    /// The objects could not be written as YAML.
    #[error("cannot write the objects as YAML: {0}")]
    Yaml(String),
    /// An access review (SubjectAccessReview, SelfSubjectRulesReview…) could not be made.
    #[error("creating a {review}: {}", describe_error(.source))]
    Review {
        review: String,
        #[source]
        source: kube::Error,
    },
    /// Listing a resource failed for a reason other than it not being served.
    #[error("listing {resource}: {}", describe_error(.source))]
    List {
        resource: String,
        #[source]
        source: kube::Error,
    },
}

fn context_note(context: &Option<String>) -> String {
    context.as_ref().map(|c| format!(" (context {c:?})")).unwrap_or_default()
}

/// The server's own words for an API error (`message (Reason, code)`), else kube's.
pub fn describe_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() { "Failure".to_string() } else { status.reason.clone() };
            format!("{} ({reason}, HTTP {})", status.message, status.code)
        }
        other => other.to_string(),
    }
}

/// The HTTP code of an API error, if the server answered one.
pub fn error_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// A client for the current kubeconfig context, or `context` when given. Without a context
/// the config is inferred as kubectl does (`KUBECONFIG`, `~/.kube/config`, in-cluster).
pub async fn connect(context: Option<&str>) -> Result<Client, ClusterError> {
    connect_with(None, context).await
}

/// [`connect`], from the kubeconfig file `kubeconfig` when given.
pub async fn connect_with(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<Client, ClusterError> {
    let (config, _) = client_config(kubeconfig, context).await?;
    Client::try_from(config).map_err(ClusterError::Client)
}

/// The client config the flags `--kubeconfig` and `--context` choose, as kubectl chooses it
/// without them (`KUBECONFIG`, then `~/.kube/config`, then the in-cluster ServiceAccount),
/// and where it came from, in words, for logs.
pub async fn client_config(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<(Config, String), ClusterError> {
    let error = |message: String| ClusterError::Config { context: context.map(String::from), message };
    let options =
        kube::config::KubeConfigOptions { context: context.map(String::from), ..Default::default() };
    let (config, source) = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| error(format!("{}: not a readable kubeconfig: {e}", path.display())))?;
            let config = Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| error(format!("{}: {e}", path.display())))?;
            (config, format!("kubeconfig {}", path.display()))
        }
        (None, Some(_)) => (
            Config::from_kubeconfig(&options).await.map_err(|e| error(e.to_string()))?,
            "kubeconfig (KUBECONFIG or ~/.kube/config)".to_string(),
        ),
        (None, None) => {
            let config = Config::infer().await.map_err(|e| error(e.to_string()))?;
            let from_env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
            let home = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".kube/config"));
            let source = match (from_env, home) {
                (Some(path), _) => format!("KUBECONFIG={}", path.to_string_lossy()),
                (None, Some(home)) if home.exists() => home.display().to_string(),
                _ => "in-cluster ServiceAccount".to_string(),
            };
            (config, source)
        }
    };
    let context = context.map(|c| format!(", context {c}")).unwrap_or_default();
    Ok((config, format!("{source}{context}")))
}

/// `v1` or `group/version`.
pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }
}

/// Every object of a resource across all namespaces (optionally label-selected), page by
/// page, each with `apiVersion` and `kind` filled in and `managedFields` dropped.
pub(crate) async fn list_all(
    client: &Client,
    resource: &ApiResource,
    label_selector: Option<&str>,
) -> Result<Vec<Value>, kube::Error> {
    let mut objects = list_with_managed_fields(client, resource, label_selector).await?;
    objects.iter_mut().for_each(strip_managed_fields);
    Ok(objects)
}

/// [`list_all`], keeping `managedFields`: what `apply` reads to tell whether its own last
/// apply still holds.
pub(crate) async fn list_with_managed_fields(
    client: &Client,
    resource: &ApiResource,
    label_selector: Option<&str>,
) -> Result<Vec<Value>, kube::Error> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let mut params = ListParams::default().limit(LIST_PAGE_SIZE);
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    let mut objects = Vec::new();
    loop {
        let page = api.list(&params).await?;
        for item in page.items {
            let mut value = serde_json::to_value(&item).map_err(kube::Error::SerdeError)?;
            add_type(&mut value, resource);
            objects.push(value);
        }
        // k8s.io/apimachinery/pkg/apis/meta/v1/types.go ListMeta.Continue: empty on the last page
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(objects),
        }
    }
}

/// Gives a list item the `apiVersion`/`kind` list items lack and drops `managedFields`.
#[cfg(test)]
fn complete_item(value: &mut Value, resource: &ApiResource) {
    add_type(value, resource);
    strip_managed_fields(value);
}

/// Gives a list item the `apiVersion`/`kind` list items lack.
// k8s.io/apimachinery/pkg/apis/meta/v1/types.go: list items carry no TypeMeta
fn add_type(value: &mut Value, resource: &ApiResource) {
    if let Value::Object(map) = value {
        map.insert("apiVersion".into(), json!(resource.api_version));
        map.insert("kind".into(), json!(resource.kind));
    }
}

/// Removes `metadata.managedFields`: the server's bookkeeping of who set which field.
pub fn strip_managed_fields(value: &mut Value) {
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
}

/// Reads every [`LIVE_KINDS`] resource the cluster serves into one object set, each object's
/// `file` being [`CLUSTER_FILE`].
pub async fn read_cluster(client: &Client) -> Result<ObjectSet, ClusterError> {
    let mut set = ObjectSet::default();
    for kind in LIVE_KINDS {
        let resource = kind.api_resource();
        let items = match list_all(client, &resource, None).await {
            Ok(items) => items,
            // Not served (an uninstalled CRD, an API the server lacks): the cluster has none.
            Err(error) if error_code(&error) == Some(404) => continue,
            Err(source) => {
                return Err(ClusterError::List { resource: resource_name(kind.plural, kind.group), source });
            }
        };
        set.objects.extend(items.into_iter().filter_map(|value| Object::from_value(value, CLUSTER_FILE)));
    }
    set.files = 1;
    Ok(set)
}

/// `deployments.apps` / `pods`: how kubectl names a resource.
pub(crate) fn resource_name(plural: &str, group: &str) -> String {
    if group.is_empty() { plural.to_string() } else { format!("{plural}.{group}") }
}

/// The set as one `kind: List` YAML document, which `autolabs verify FILE` reads back.
pub fn dump_yaml(set: &ObjectSet) -> Result<String, ClusterError> {
    let items: Vec<&Value> = set.objects.iter().map(|object| &object.value).collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items});
    serde_saphyr::to_string(&list).map_err(|e| ClusterError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_get_their_type_and_lose_managed_fields() {
        // k8s.io/apimachinery/pkg/apis/meta/v1/types.go: list items carry no TypeMeta
        let resource =
            LIVE_KINDS.iter().find(|k| k.kind == "Deployment").expect("Deployments are read").api_resource();
        let mut item = json!({"metadata": {"name": "web", "managedFields": [{"manager": "x"}], "labels": {"a": "b"}}, "spec": {}});
        complete_item(&mut item, &resource);
        assert_eq!(item["apiVersion"], "apps/v1");
        assert_eq!(item["kind"], "Deployment");
        assert!(item.pointer("/metadata/managedFields").is_none());
        assert_eq!(item.pointer("/metadata/labels/a"), Some(&json!("b")));
    }

    #[test]
    fn live_kinds_are_unique_and_never_secrets() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in LIVE_KINDS {
            assert!(seen.insert((kind.group, kind.plural)), "{kind:?} twice");
            assert!(!["secrets", "configmaps"].contains(&kind.plural), "{kind:?} must not be dumped");
        }
    }

    #[test]
    fn dump_reads_back_as_the_same_objects() {
        let mut set = ObjectSet::default();
        for value in [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "labs"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "labs"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
        ] {
            set.objects.extend(Object::from_value(value, CLUSTER_FILE));
        }
        let mut again = ObjectSet::default();
        again.add_text(&dump_yaml(&set).expect("yaml"), "dump.yaml");
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        let ids = |s: &ObjectSet| s.objects.iter().map(|o| (o.id(), o.value.clone())).collect::<Vec<_>>();
        assert_eq!(ids(&again), ids(&set));
    }

    #[test]
    fn api_errors_are_described_in_the_servers_words() {
        let status = kube::core::Status::failure("namespaces \"x\" not found", "NotFound").with_code(404);
        let error = kube::Error::Api(Box::new(status));
        assert_eq!(describe_error(&error), "namespaces \"x\" not found (NotFound, HTTP 404)");
        assert_eq!(error_code(&error), Some(404));
    }
}
