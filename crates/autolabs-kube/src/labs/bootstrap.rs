//! Makes a namespace where the provisioner can run the way it runs in the rendered `labs`
//! namespace — its Pod Security labels, ResourceQuota and LimitRange, the PriorityClasses lab
//! Pods name, and a ServiceAccount bound to a Role of exactly
//! `autolabs_model::render::PROVISIONER_RULES` — and gives that ServiceAccount's token.
//!
//! The real-cluster suites (`tests/labs_e2e.rs`, `autolabs/tests/serve_replicas_e2e.rs`) and
//! `autolabs bench labs --kubeconfig` use it, so each runs the provisioner with its own
//! least-privilege identity (never the admin's) in a namespace of its own. It acts as the
//! admin (the `admin` client): it creates RBAC objects and requests tokens.

use std::collections::BTreeMap;
use std::time::Duration;

use autolabs_model::{Platform, render, topology};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::{ListParams, ObjectMeta, PostParams};

use super::error::LabsError;
use super::retry::api_error;

/// The ServiceAccount (and Role, RoleBinding) name [`seed`] uses unless told otherwise.
pub const PROVISIONER_ACCOUNT: &str = "lab-provisioner";

/// How long [`seed`] waits for RBAC to grant the rules and the quota controller to fill in the
/// quota's status before giving up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What [`seed`] makes beyond the rendered objects.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The ServiceAccount the provisioner runs as; its Role and RoleBinding have the same name.
    pub service_account: String,
    /// Entries that replace (or add to) the rendered quota's `spec.hard`, e.g. a larger
    /// `pods` for a benchmark, or a smaller one to reach the quota's end quickly.
    pub quota_hard: BTreeMap<String, String>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { service_account: PROVISIONER_ACCOUNT.into(), quota_hard: BTreeMap::new() }
    }
}

/// The labels of the rendered `labs` namespace (Pod Security `restricted`, …), to give a
/// namespace that stands in for it.
pub fn labs_namespace_labels(platform: &Platform) -> BTreeMap<String, String> {
    let rendered = render(platform);
    rendered
        .find("Namespace", None, topology::LABS)
        .and_then(|m| m.value.pointer("/metadata/labels")?.as_object().cloned())
        .map(|labels| {
            labels.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect()
        })
        .unwrap_or_default()
}

fn typed<T: serde::de::DeserializeOwned>(what: &str, value: &serde_json::Value) -> Result<T, LabsError> {
    serde_json::from_value(value.clone())
        .map_err(|e| LabsError::Unexpected { what: format!("rendered {what}"), message: e.to_string() })
}

/// Seeds `namespace` (which must exist, labelled with [`labs_namespace_labels`]): creates the
/// PriorityClasses when absent, the rendered labs ResourceQuota (with `options.quota_hard`)
/// and LimitRange, and the ServiceAccount with a Role made the way render makes the
/// provisioner's; then waits until RBAC grants every rule and the quota has a status (quota
/// admission refuses every Pod until it has one).
pub async fn seed(
    admin: &kube::Client,
    namespace: &str,
    platform: &Platform,
    options: &SeedOptions,
) -> Result<(), LabsError> {
    let rendered = render(platform);
    let post = PostParams::default();

    // Cluster-scoped and shared with the baseline: created when absent, never changed (so no
    // field of `autolabs apply`'s belongs to anyone else). `globalDefault: false` is left out:
    // the API server does not store it, and a manager owning it would conflict with apply.
    let classes: Api<PriorityClass> = Api::all(admin.clone());
    for manifest in rendered.of_kind("PriorityClass") {
        let mut class: PriorityClass = typed("PriorityClass", &manifest.value)?;
        if class.global_default == Some(false) {
            class.global_default = None;
        }
        match classes.create(&post, &class).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => return Err(api_error("create PriorityClass", e)),
        }
    }

    for manifest in rendered.manifests.iter().filter(|m| m.namespace.as_deref() == Some(topology::LABS)) {
        match manifest.kind.as_str() {
            "ResourceQuota" => {
                let mut quota: ResourceQuota = typed("ResourceQuota", &manifest.value)?;
                quota.metadata.namespace = Some(namespace.to_string());
                let spec = quota.spec.get_or_insert_with(Default::default);
                let hard = spec.hard.get_or_insert_with(Default::default);
                for (resource, amount) in &options.quota_hard {
                    hard.insert(resource.clone(), Quantity(amount.clone()));
                }
                Api::<ResourceQuota>::namespaced(admin.clone(), namespace)
                    .create(&post, &quota)
                    .await
                    .map_err(|e| api_error("create the labs ResourceQuota", e))?;
            }
            "LimitRange" => {
                let mut limits: LimitRange = typed("LimitRange", &manifest.value)?;
                limits.metadata.namespace = Some(namespace.to_string());
                Api::<LimitRange>::namespaced(admin.clone(), namespace)
                    .create(&post, &limits)
                    .await
                    .map_err(|e| api_error("create the labs LimitRange", e))?;
            }
            _ => {}
        }
    }

    let account = options.service_account.as_str();
    let provisioner_role =
        rendered.find("Role", Some(topology::LABS), topology::PROVISIONER_SA).ok_or_else(|| {
            LabsError::Unexpected {
                what: "rendered baseline".into(),
                message: "it has no provisioner Role".into(),
            }
        })?;
    let mut role: Role = typed("Role", &provisioner_role.value)?;
    role.metadata = ObjectMeta {
        name: Some(account.to_string()),
        namespace: Some(namespace.to_string()),
        ..ObjectMeta::default()
    };
    let binding: RoleBinding = typed(
        "RoleBinding",
        &serde_json::json!({
            "metadata": {"name": account, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        }),
    )?;
    let service_account = ServiceAccount {
        metadata: ObjectMeta { name: Some(account.to_string()), ..ObjectMeta::default() },
        ..ServiceAccount::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), namespace)
        .create(&post, &service_account)
        .await
        .map_err(|e| api_error("create the provisioner ServiceAccount", e))?;
    Api::<Role>::namespaced(admin.clone(), namespace)
        .create(&post, &role)
        .await
        .map_err(|e| api_error("create the provisioner Role", e))?;
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .create(&post, &binding)
        .await
        .map_err(|e| api_error("create the provisioner RoleBinding", e))?;

    wait_for_rbac(admin, namespace, account).await?;
    wait_for_quota_status(admin, namespace).await
}

/// Polls `check` every 100 ms until it holds or [`SETTLE_TIMEOUT`] passes.
async fn settle<F, Fut>(what: &str, mut check: F) -> Result<(), LabsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, LabsError>>,
{
    let started = std::time::Instant::now();
    while started.elapsed() < SETTLE_TIMEOUT {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LabsError::Unexpected {
        what: what.to_string(),
        message: format!("not settled after {} s", SETTLE_TIMEOUT.as_secs()),
    })
}

/// Waits until the RBAC authorizer grants the ServiceAccount every verb of every rule of
/// PROVISIONER_RULES (the Role reaches the authorizer's cache asynchronously), asking as
/// the API server decides: with SubjectAccessReviews.
async fn wait_for_rbac(admin: &kube::Client, namespace: &str, account: &str) -> Result<(), LabsError> {
    let reviews: Api<SubjectAccessReview> = Api::all(admin.clone());
    let user = format!("system:serviceaccount:{namespace}:{account}");
    for (group, resource, verbs) in autolabs_model::render::PROVISIONER_RULES {
        for verb in verbs.iter() {
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(user.clone()),
                    groups: Some(vec!["system:serviceaccounts".into(), "system:authenticated".into()]),
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(group.to_string()),
                        resource: Some(resource.to_string()),
                        verb: Some(verb.to_string()),
                        namespace: Some(namespace.to_string()),
                        ..ResourceAttributes::default()
                    }),
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            settle(&format!("RBAC granting {user} {verb} {resource}"), || async {
                let answer = reviews
                    .create(&PostParams::default(), &review)
                    .await
                    .map_err(|e| api_error("create SubjectAccessReview", e))?;
                Ok(answer.status.is_some_and(|s| s.allowed))
            })
            .await?;
        }
    }
    Ok(())
}

/// Waits until the quota controller has written every quota's status of `namespace`.
async fn wait_for_quota_status(admin: &kube::Client, namespace: &str) -> Result<(), LabsError> {
    let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), namespace);
    settle("the quota controller filling in the labs quota's status", || async {
        let listed =
            quotas.list(&ListParams::default()).await.map_err(|e| api_error("list ResourceQuotas", e))?;
        Ok(listed
            .items
            .iter()
            .all(|q| q.status.as_ref().is_some_and(|s| s.hard.is_some() && s.used.is_some())))
    })
    .await
}

/// A bound token of ServiceAccount `namespace/account`, valid for `lifetime` — what `kubectl
/// create token` gives.
pub async fn service_account_token(
    admin: &kube::Client,
    namespace: &str,
    account: &str,
    lifetime: Duration,
) -> Result<String, LabsError> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let answer = api
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(|e| api_error("create a ServiceAccount token", e))?;
    answer.status.map(|s| s.token).ok_or_else(|| LabsError::Unexpected {
        what: format!("token of ServiceAccount {namespace}/{account}"),
        message: "the TokenRequest came back without a status".into(),
    })
}
