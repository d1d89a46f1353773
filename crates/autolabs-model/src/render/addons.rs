//! What the baseline renders for the add-ons (`crate::addons`): their namespaces with the Pod
//! Security level each needs and the reason as an annotation, the same annotation on the
//! document's namespaces a chart runs in, and the ingress controller's default certificate.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use serde_json::{Value, json};

use super::{Ctx, Rendered, typed, untyped};
use crate::addons::charts::charts_for;
use crate::addons::{self, DEFAULT_TLS_SECRET, SELF_SIGNED_ISSUER};
use crate::topology::INGRESS_NGINX;

/// Why a namespace enforces the Pod Security level it does.
pub const POD_SECURITY_REASON: &str = "autolabs.io/pod-security-reason";

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let spec = ctx.spec();
    let version = crate::versions::pod_security_label_version(spec.kubernetes_minor());
    for (name, level, reason) in addons::namespaces(spec) {
        let mut meta = ctx.meta(name, None, &[]);
        let labels = meta.labels.get_or_insert_with(BTreeMap::new);
        super::namespaces::pod_security_labels(labels, level, level, &version);
        meta.annotations = Some(BTreeMap::from([
            ("autolabs.io/purpose".to_string(), format!("add-on namespace ({})", chart_names(ctx, name))),
            (POD_SECURITY_REASON.to_string(), reason),
        ]));
        out.manifests.push(typed(Namespace { metadata: meta, ..Default::default() }));
    }
    // The document's namespaces that a chart runs in say why their level fits it.
    let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in charts_for(spec).filter(|c| !c.renders_namespace) {
        reasons.entry(c.namespace).or_default().push(format!("{}: {}", c.release, c.pod_security_reason));
    }
    for m in out.manifests.iter_mut().filter(|m| m.kind == "Namespace") {
        if let Some(why) = reasons.get(m.name.as_str()) {
            m.value["metadata"]["annotations"][POD_SECURITY_REASON] = Value::String(why.join("; "));
        }
    }

    let issuer = match &spec.ingress.cluster_issuer {
        Some(name) => name.clone(),
        None => {
            out.manifests.push(untyped(json!({
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {
                    "name": SELF_SIGNED_ISSUER,
                    "labels": ctx.common_labels(),
                    "annotations": {"autolabs.io/purpose":
                        "a stand-in until ingress.clusterIssuer names an ACME issuer for the public domain"},
                },
                "spec": {"selfSigned": {}},
            })));
            SELF_SIGNED_ISSUER.to_string()
        }
    };
    let domain = spec.domain();
    out.manifests.push(untyped(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {
            "name": DEFAULT_TLS_SECRET,
            "namespace": INGRESS_NGINX,
            "labels": ctx.common_labels(),
            "annotations": {"autolabs.io/purpose":
                "the ingress controller's default certificate (--default-ssl-certificate)"},
        },
        "spec": {
            "secretName": DEFAULT_TLS_SECRET,
            "dnsNames": [domain, format!("*.{domain}"), format!("*.labs.{domain}")],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
    })));
}

fn chart_names(ctx: &Ctx, namespace: &str) -> String {
    let names: Vec<&str> = charts_for(ctx.spec())
        .filter(|c| c.namespace == namespace || c.workloads.iter().any(|w| w.namespace == namespace))
        .map(|c| c.release)
        .collect();
    names.join(", ")
}
