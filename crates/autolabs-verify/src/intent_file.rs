//! Intent from its own file (`verify --intent FILE`), for clusters that are not ours.
//!
//! ```yaml
//! apiVersion: autolabs.io/v1alpha1
//! kind: IsolationIntent
//! metadata: {name: shop}          # optional
//! spec:
//!   namespaces: [shop, payments]  # the namespaces the intent governs
//!   flows:                        # the same Flow type as platform.yaml's isolation flows
//!   - name: web-to-api
//!     from: {namespace: shop, pods: {app: web}}
//!     to: {namespace: shop, pods: {app: api}}
//!     ports: [8080]
//!   network: {podCidr: 10.244.0.0/16, serviceCidr: 10.96.0.0/12, nodeCidr: 10.0.0.0/24}  # optional
//! ```
//!
//! A full `kind: Platform` file is accepted too; its intent is [`Intent::of_platform`].
//!
//! Every problem is reported at once, each with file, line, column and field path, in the
//! [`ConfigErrors`] form `autolabs_model::load_platform` uses: each value is read on its own so
//! that one bad flow does not hide another, and the semantic checks mirror the ones
//! `platform.yaml`'s flows get.

use std::collections::{BTreeMap, BTreeSet};

use autolabs_k8s::names;
use autolabs_k8s::yaml;
use autolabs_model::error::Located;
use autolabs_model::platform::{API_VERSION, Endpoint, Flow, NetworkSpec, PortSpec};
use autolabs_model::{ConfigErrors, load_platform};
use serde_json::Value;

use crate::intent::Intent;

/// The kind of an intent file.
pub const KIND: &str = "IsolationIntent";

/// The shared located-error collector, in this file's call style.
struct Errors<'a>(Located<'a>);

impl Errors<'_> {
    fn push(&mut self, field: &str, message: impl Into<String>, hint: Option<&str>) {
        self.0.push(field, &message.into(), hint.map(str::to_string));
    }

    /// Deserializes one value found at `field`, locating any error at the exact field.
    fn read<T: serde::de::DeserializeOwned>(&mut self, field: &str, value: &Value) -> Option<T> {
        self.0.deserialize(field, value.clone())
    }

    fn finish(self) -> ConfigErrors {
        self.0.finish()
    }
}

/// Reads an intent file: `kind: IsolationIntent`, or a whole `kind: Platform`. `file` is
/// used in messages only.
pub fn load_intent(text: &str, file: &str) -> Result<Intent, ConfigErrors> {
    let doc = yaml::parse_one(text).map_err(|e| ConfigErrors::from_yaml(file, &e))?;
    if doc.value["kind"].as_str() == Some(autolabs_model::platform::KIND) {
        return load_platform(text, file).map(|p| Intent::of_platform(&p));
    }
    let mut errors = Errors(Located::new(file, &doc.locations, "the IsolationIntent fields"));
    let Value::Object(top) = &doc.value else {
        errors.push("", "the file must be a YAML mapping with apiVersion, kind and spec", None);
        return Err(errors.finish());
    };
    for key in top.keys() {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec") {
            errors.push(
                &yaml::join_key("", key),
                format!("unknown field `{key}`"),
                Some("the top level has only apiVersion, kind, metadata and spec"),
            );
        }
    }
    match top.get("apiVersion") {
        Some(Value::String(v)) if v == API_VERSION => {}
        Some(v) => errors.push("apiVersion", format!("must be {API_VERSION:?}, found {v}"), None),
        None => errors.push("apiVersion", "missing", Some("add `apiVersion: autolabs.io/v1alpha1`")),
    }
    match top.get("kind") {
        Some(Value::String(v)) if v == KIND => {}
        Some(v) => errors.push(
            "kind",
            format!("must be {KIND:?} or \"Platform\", found {v}"),
            Some("write `kind: IsolationIntent`"),
        ),
        None => errors.push("kind", "missing", Some("add `kind: IsolationIntent`")),
    }
    if let Some(meta) = top.get("metadata")
        && !meta.is_object()
        && !meta.is_null()
    {
        errors.push("metadata", "must be a mapping", None);
    }

    let empty = serde_json::Map::new();
    let spec = match top.get("spec") {
        Some(Value::Object(map)) => map,
        Some(_) => {
            errors.push("spec", "must be a mapping", Some("write `spec:` followed by namespaces and flows"));
            &empty
        }
        None => {
            errors.push("spec", "missing", Some("add `spec:` with namespaces and flows"));
            &empty
        }
    };
    for key in spec.keys() {
        if !matches!(key.as_str(), "namespaces" | "flows" | "network") {
            errors.push(
                &yaml::join_key("spec", key),
                format!("unknown field `{key}`"),
                Some("spec has only namespaces, flows and network"),
            );
        }
    }

    let namespaces = read_namespaces(&mut errors, spec.get("namespaces"));
    let flows = read_flows(&mut errors, spec.get("flows"));
    let network = match spec.get("network") {
        None | Some(Value::Null) => NetworkSpec::default(),
        Some(v) => {
            let network = errors.read::<NetworkSpec>("spec.network", v).unwrap_or_default();
            for (field, cidr) in [
                ("spec.network.podCidr", &network.pod_cidr),
                ("spec.network.serviceCidr", &network.service_cidr),
                ("spec.network.nodeCidr", &network.node_cidr),
            ] {
                check_cidr(&mut errors, field, cidr);
            }
            network
        }
    };
    if errors.0.is_empty() { Ok(Intent { flows, namespaces, network }) } else { Err(errors.finish()) }
}

fn read_namespaces(errors: &mut Errors<'_>, value: Option<&Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(value) = value else {
        errors.push(
            "spec.namespaces",
            "missing",
            Some("list the namespaces the intent governs; pairs outside them are not judged"),
        );
        return out;
    };
    let Some(items) = errors.read::<Vec<String>>("spec.namespaces", value) else { return out };
    if items.is_empty() {
        errors.push("spec.namespaces", "must name at least one namespace", None);
    }
    for (i, ns) in items.into_iter().enumerate() {
        let field = yaml::join_index("spec.namespaces", i);
        for e in names::dns1123_label(&ns) {
            errors.push(&field, format!("{ns:?} {e}"), None);
        }
        if !out.insert(ns.clone()) {
            errors.push(&field, format!("duplicate namespace {ns:?}"), None);
        }
    }
    out
}

fn read_flows(errors: &mut Errors<'_>, value: Option<&Value>) -> Vec<Flow> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push("spec.flows", "must be a list of flows", None);
            return Vec::new();
        }
    };
    let mut flows = Vec::new();
    let mut names_seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let field = yaml::join_index("spec.flows", i);
        let Some(flow) = read_flow(errors, &field, item) else { continue };
        // The checks platform.yaml's flows get (`autolabs-model` validate: isolation matrix).
        for e in names::dns1123_label(&flow.name) {
            errors.push(&format!("{field}.name"), format!("{:?} {e}", flow.name), None);
        }
        if !names_seen.insert(flow.name.clone()) {
            errors.push(
                &format!("{field}.name"),
                format!("duplicate flow name {:?}", flow.name),
                Some("each flow needs its own name"),
            );
        }
        if !flow.from.is_in_cluster() && !flow.to.is_in_cluster() {
            errors.push(
                &field,
                "a flow needs pods on at least one side",
                Some("set `namespace` on `from` or `to`"),
            );
        }
        flows.push(flow);
    }
    flows
}

/// One flow, each of its fields read on its own so that every problem gets its own path; each
/// endpoint is checked as soon as it is read. `None` when anything is wrong with the flow.
fn read_flow(errors: &mut Errors<'_>, field: &str, item: &Value) -> Option<Flow> {
    let Value::Object(map) = item else {
        errors.push(field, "a flow must be a mapping with name, from, to and ports", None);
        return None;
    };
    let before = errors.0.len();
    for (key, value) in map {
        let path = yaml::join_key(field, key);
        match key.as_str() {
            "name" => {
                errors.read::<String>(&path, value);
            }
            "from" | "to" => {
                if let Some(end) = errors.read::<Endpoint>(&path, value) {
                    check_endpoint(errors, &path, &end);
                }
            }
            "ports" => match value {
                Value::Array(ports) => {
                    for (j, port) in ports.iter().enumerate() {
                        errors.read::<PortSpec>(&yaml::join_index(&path, j), port);
                    }
                }
                other => {
                    errors.read::<Vec<PortSpec>>(&path, other);
                }
            },
            _ => errors.push(
                &path,
                format!("unknown field `{key}`"),
                Some("a flow has name, from, to and ports"),
            ),
        }
    }
    for required in ["name", "from", "to"] {
        if !map.contains_key(required) {
            errors.push(field, format!("missing field `{required}`"), None);
        }
    }
    if errors.0.len() > before {
        return None;
    }
    errors.read::<Flow>(field, item)
}

/// One side of a flow: exactly one of namespace, internet or cidr; labels and names valid.
fn check_endpoint(errors: &mut Errors<'_>, field: &str, e: &Endpoint) {
    let kinds = u8::from(e.namespace.is_some()) + u8::from(e.internet) + u8::from(e.cidr.is_some());
    if kinds != 1 {
        errors.push(field, "set exactly one of namespace, internet or cidr", None);
    }
    if e.pods.is_some() && e.namespace.is_none() {
        errors.push(&format!("{field}.pods"), "pods needs a namespace", None);
    }
    if let Some(ns) = &e.namespace {
        for err in names::dns1123_label(ns) {
            errors.push(&format!("{field}.namespace"), format!("{ns:?} {err}"), None);
        }
    }
    let labels: &BTreeMap<String, String> = match &e.pods {
        Some(l) => l,
        None => &BTreeMap::new(),
    };
    for (k, v) in labels {
        for err in names::qualified_name(k).into_iter().chain(names::label_value(v)) {
            errors.push(&yaml::join_key(&format!("{field}.pods"), k), err, None);
        }
    }
    if let Some(c) = &e.cidr {
        check_cidr(errors, &format!("{field}.cidr"), c);
    }
}

fn check_cidr(errors: &mut Errors<'_>, field: &str, value: &str) {
    match value.parse::<ipnet::Ipv4Net>() {
        Ok(n) if n.addr() == n.network() => {}
        Ok(n) => {
            errors.push(field, format!("{value:?} has host bits set"), Some(&format!("write {}", n.trunc())))
        }
        Err(_) => {
            errors.push(field, format!("{value:?} is not an IPv4 CIDR"), Some("write it as 203.0.113.0/24"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: autolabs.io/v1alpha1
kind: IsolationIntent
metadata: {name: shop}
spec:
  namespaces: [shop, payments]
  flows:
  - name: web-to-api
    from: {namespace: shop, pods: {app: web}}
    to: {namespace: shop, pods: {app: api}}
    ports: [8080, UDP/53]
  - name: api-out
    from: {namespace: shop, pods: {app: api}}
    to: {internet: true}
  network: {podCidr: 10.244.0.0/16}
";

    #[test]
    fn a_good_file_gives_its_intent() {
        let intent = match load_intent(GOOD, "intent.yaml") {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(intent.namespaces.iter().collect::<Vec<_>>(), ["payments", "shop"]);
        assert_eq!(intent.flows.len(), 2);
        assert_eq!(intent.flows[0].ports.len(), 2);
        assert_eq!(intent.network.pod_cidr, "10.244.0.0/16");
        assert_eq!(intent.network.service_cidr, NetworkSpec::default().service_cidr);
    }

    #[test]
    fn a_platform_file_gives_the_platform_intent() {
        let text = "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nmetadata: {name: p}\nspec: {}\n";
        match load_intent(text, "platform.yaml") {
            Ok(intent) => {
                assert!(intent.namespaces.contains("labs"));
                assert!(!intent.flows.is_empty());
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn every_error_is_located() {
        // Rows: (the line changed in GOOD, replacement, field, line).
        let rows = [
            ("kind: IsolationIntent", "kind: Intent", "kind", 2),
            ("  namespaces: [shop, payments]", "  namespaces: [shop, Payments]", "spec.namespaces[1]", 5),
            ("    ports: [8080, UDP/53]", "    ports: [8080, UDP/99999]", "spec.flows[0].ports[1]", 10),
            (
                "    to: {internet: true}",
                "    to: {internet: true, colour: red}",
                "spec.flows[1].to.colour",
                13,
            ),
            (
                "    to: {internet: true}",
                "    to: {internet: true, cidr: 10.0.0.0/8}",
                "spec.flows[1].to",
                13,
            ),
            ("  - name: api-out", "  - name: web-to-api", "spec.flows[1].name", 11),
            ("  - name: api-out", "  - name: Api_Out", "spec.flows[1].name", 11),
            (
                "  network: {podCidr: 10.244.0.0/16}",
                "  network: {podCidr: 10.244.0.1/16}",
                "spec.network.podCidr",
                14,
            ),
            ("  network: {podCidr: 10.244.0.0/16}", "  netwerk: {}", "spec.netwerk", 14),
            (
                "    from: {namespace: shop, pods: {app: web}}",
                "    from: {namespace: shop, pods: {app: -web}}",
                "spec.flows[0].from.pods.app",
                8,
            ),
        ];
        for (from, to, field, line) in rows {
            let text = GOOD.replacen(from, to, 1);
            let errors = match load_intent(&text, "intent.yaml") {
                Ok(_) => panic!("{to:?} should be rejected"),
                Err(e) => e,
            };
            assert!(
                errors.0.iter().any(|e| e.field == field && e.line == line && e.file == "intent.yaml"),
                "{to:?}: expected {field} at line {line}, got:\n{errors}"
            );
        }
    }

    #[test]
    fn problems_in_two_flows_are_both_reported() {
        let text = GOOD.replacen("[8080, UDP/53]", "[0]", 1).replacen("{internet: true}", "{internet: 1}", 1);
        let errors = load_intent(&text, "i.yaml").err().map(|e| e.0).unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"spec.flows[0].ports[0]"), "{fields:?}");
        assert!(fields.contains(&"spec.flows[1].to.internet"), "{fields:?}");
        // An endpoint problem is found even when another field of the same flow is broken.
        let text = GOOD.replacen("[8080, UDP/53]", "[0]", 1).replacen(
            "namespace: shop, pods: {app: web}",
            "internet: true, pods: {app: web}",
            1,
        );
        let errors = load_intent(&text, "i.yaml").err().map(|e| e.0).unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"spec.flows[0].from.pods"), "{fields:?}");
        assert!(fields.contains(&"spec.flows[0].ports[0]"), "{fields:?}");
    }

    #[test]
    fn bad_yaml_is_located() {
        let errors = load_intent("spec: [\n", "x.yaml").err().map(|e| e.0).unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].line >= 1 && errors[0].message.starts_with("not valid YAML"));
    }
}
