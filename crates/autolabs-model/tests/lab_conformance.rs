//! The lab template's resource rules against a real kube-apiserver: the admission cases in
//! `conformance/admission/` were recorded by sending Pods into a namespace with a LimitRange
//! (and a ResourceQuota). For every container of every case, our template rules — request
//! from limit (SetDefaults_Pod), LimitRange defaults (mergeContainerResources), min/max
//! (minConstraint/maxConstraint) and request ≤ limit (ValidateResourceRequirements) — must
//! agree with the server: admitted Pods have no container problem and exactly the resources
//! the server stored; Pods rejected for a container-level reason have a container problem.
//!
//! Exceptions (counted and printed, never silently skipped): rejections whose only reasons
//! are `maxLimitRequestRatio`, a `type: Pod` limit, or the ResourceQuota. The labs LimitRange
//! has none of those, and quota headroom is the provisioner's check at creation time, not a
//! property of a template.

use autolabs_k8s::Quantity;
use autolabs_k8s::yaml::parse_stream;
use autolabs_model::Platform;
use autolabs_model::lab::{LabTemplate, TEMPLATE_API_VERSION, TEMPLATE_KIND};
use autolabs_model::platform::{LabsSpec, Resources};
use autolabs_model::qty::Qty;
use serde_json::{Value, json};

fn qty(v: &Value) -> Qty {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Qty(Quantity::parse(&text).unwrap_or_else(|e| panic!("quantity {text}: {e:?}")))
}

/// The labs settings equivalent to the setup's `type: Container` LimitRange item, with the
/// API server's LimitRange defaulting (`pkg/apis/core/v1/defaults.go` SetDefaults_LimitRangeItem:
/// default ← max, defaultRequest ← default).
fn labs_from_setup(setup: &str) -> LabsSpec {
    let item = parse_stream(setup)
        .into_iter()
        .map(|d| d.expect("setup parses").value)
        .filter(|v| v["kind"] == "LimitRange")
        .flat_map(|v| v["spec"]["limits"].as_array().cloned().unwrap_or_default())
        .find(|i| i["type"] == "Container")
        .expect("a Container limit");
    let get = |section: &str, resource: &str| item[section].get(resource).map(qty);
    let pick = |resource: &str| {
        let max = get("max", resource).expect("max set in every setup");
        let min = get("min", resource).unwrap_or(Qty(Quantity::ZERO));
        let default = get("default", resource).unwrap_or(max);
        let default_request = get("defaultRequest", resource).unwrap_or(default);
        (min, max, default, default_request)
    };
    let (cpu, mem) = (pick("cpu"), pick("memory"));
    LabsSpec {
        min: Resources { cpu: cpu.0, memory: mem.0 },
        max: Resources { cpu: cpu.1, memory: mem.1 },
        limits: Resources { cpu: cpu.2, memory: mem.2 },
        requests: Resources { cpu: cpu.3, memory: mem.3 },
        ..LabsSpec::default()
    }
}

fn template_for(container: &Value) -> LabTemplate {
    let resources = container.get("resources").cloned().unwrap_or(json!({}));
    let amounts = |section: &str| {
        let mut m = serde_json::Map::new();
        for r in ["cpu", "memory"] {
            if let Some(v) = resources.get(section).and_then(|s| s.get(r)) {
                m.insert(r.into(), v.clone());
            }
        }
        Value::Object(m)
    };
    serde_json::from_value(json!({
        "apiVersion": TEMPLATE_API_VERSION,
        "kind": TEMPLATE_KIND,
        "metadata": {"name": "conformance"},
        "spec": {
            "image": "registry.k8s.io/pause:3.10",
            "ports": [{"name": "http", "port": 8080}],
            "resources": {"requests": amounts("requests"), "limits": amounts("limits")},
        }
    }))
    .expect("container resources fit a template")
}

fn same(stored: &Value, q: Qty) -> bool {
    qty(stored).0 == q.0
}

#[test]
fn template_resource_rules_agree_with_the_api_server() {
    let Some(dir) = autolabs_testenv::conformance_dir() else { return };
    let mut checked = 0;
    let mut exceptions = 0;
    for (setup, cases) in
        [("setup.yaml", "cases.jsonl"), ("setup-no-defaults.yaml", "cases-no-defaults.jsonl")]
    {
        let admission = dir.join("admission");
        let setup_text = std::fs::read_to_string(admission.join(setup)).expect("setup readable");
        let mut platform = Platform::default();
        platform.spec.labs = labs_from_setup(&setup_text);
        let text = std::fs::read_to_string(admission.join(cases)).expect("cases readable");
        for (n, line) in text.lines().enumerate() {
            let case: Value = serde_json::from_str(line).expect("case parses");
            let spec = &case["pod"]["spec"];
            let containers: Vec<&Value> = ["initContainers", "containers"]
                .iter()
                .flat_map(|k| spec[*k].as_array().into_iter().flatten())
                .collect();
            let mut problems = Vec::new();
            for c in &containers {
                let t = template_for(c);
                for (field, message, _) in t.problems(&platform) {
                    assert!(field.starts_with("spec.resources"), "{cases}:{}: {field}: {message}", n + 1);
                    problems.push(format!("{}: {message}", c["name"]));
                }
                if case["allowed"] == true {
                    let eff = t.effective_resources(&platform.spec.labs);
                    let stored = &case["resources"][c["name"].as_str().expect("name")];
                    let ok = same(&stored["requests"]["cpu"], eff.requests.cpu)
                        && same(&stored["requests"]["memory"], eff.requests.memory)
                        && same(&stored["limits"]["cpu"], eff.limits.cpu)
                        && same(&stored["limits"]["memory"], eff.limits.memory);
                    assert!(ok, "{cases}:{}: server stored {stored}, we computed {eff:?}", n + 1);
                }
            }
            let message = case["message"].as_str().unwrap_or_default();
            let container_level =
                message.contains("must be less than or equal to") || message.contains("usage per Container");
            match (case["allowed"] == true, container_level) {
                (true, _) => assert!(problems.is_empty(), "{cases}:{}: admitted, we say {problems:?}", n + 1),
                (false, true) => {
                    assert!(
                        !problems.is_empty(),
                        "{cases}:{}: server said {message:?}, we found nothing",
                        n + 1
                    )
                }
                (false, false) => {
                    // The server got past every container rule; so must we.
                    assert!(
                        problems.is_empty(),
                        "{cases}:{}: server said {message:?}, we say {problems:?}",
                        n + 1
                    );
                    exceptions += 1;
                    continue;
                }
            }
            checked += 1;
        }
    }
    eprintln!(
        "admission conformance: {checked} cases agree; {exceptions} rejected only by ratio / Pod limit / quota (out of scope)"
    );
    assert!(checked >= 900, "{checked}");
}
