//! The lab service's Grafana dashboard: a ConfigMap in `monitoring` labelled
//! `grafana_dashboard: "1"`, the label kube-prometheus-stack's Grafana sidecar watches for
//! (its `sidecar.dashboards.label` default), holding one dashboard JSON.
//!
//! Its panels query only series `autolabs serve` exports on `/metrics` (a test of the lab API
//! scrapes a running one and fails on any other): labs by phase and by template, create
//! latency quantiles and outcomes, preflight refusals, Kubernetes API errors, and what the
//! reaper deleted and repaired.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::workloads::object_meta;
use super::{Ctx, Rendered, typed};
use crate::topology::MONITORING;

/// The ConfigMap's name.
pub const DASHBOARD: &str = "autolabs-lab-service-dashboard";
/// Its key, the file the sidecar writes into Grafana's dashboards folder.
pub const DASHBOARD_KEY: &str = "autolabs-lab-service.json";
/// The label (and value) the kube-prometheus-stack Grafana sidecar imports dashboards by.
pub const DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// One time-series panel: its title, unit, and (legend, PromQL) per line.
struct Panel {
    title: &'static str,
    description: &'static str,
    unit: &'static str,
    queries: Vec<(&'static str, String)>,
}

pub(crate) fn render(ctx: &Ctx, out: &mut Rendered) {
    let mut meta = object_meta(ctx, DASHBOARD, MONITORING, "grafana", &[]);
    if let Some(labels) = meta.labels.as_mut() {
        labels.insert("app.kubernetes.io/part-of".into(), "autolabs".into());
        labels.insert(DASHBOARD_LABEL.0.into(), DASHBOARD_LABEL.1.into());
    }
    let text = serde_json::to_string_pretty(&dashboard()).unwrap_or_default();
    out.manifests.push(typed(ConfigMap {
        metadata: meta,
        data: Some(BTreeMap::from([(DASHBOARD_KEY.to_string(), text)])),
        ..Default::default()
    }));
}

fn panels() -> Vec<Panel> {
    let quantile = |q: &str| {
        format!(
            "histogram_quantile({q}, sum by (le) (rate(autolabs_lab_create_duration_seconds_bucket{{status=\"success\"}}[$__rate_interval])))"
        )
    };
    vec![
        Panel {
            title: "Labs by phase",
            description: "Labs that exist, by phase (Pending, Running, Degraded, Failed, Expiring).",
            unit: "short",
            queries: vec![("{{phase}}", "sum by (phase) (autolabs_labs)".into())],
        },
        Panel {
            title: "Labs by template",
            description: "Labs that exist, by template.",
            unit: "short",
            queries: vec![("{{template}}", "sum by (template) (autolabs_labs)".into())],
        },
        Panel {
            title: "Lab create latency",
            description: "Quantiles of the time to create a lab's objects (successful creates).",
            unit: "s",
            queries: vec![("p50", quantile("0.5")), ("p95", quantile("0.95")), ("p99", quantile("0.99"))],
        },
        Panel {
            title: "Lab creates by outcome",
            description: "Creates per second that succeeded or failed (refusals before any API call are not counted).",
            unit: "reqps",
            queries: vec![(
                "{{status}}",
                "sum by (status) (rate(autolabs_lab_create_duration_seconds_count[$__rate_interval]))".into(),
            )],
        },
        Panel {
            title: "Preflight refusals",
            description: "Creates refused before any API call, by reason (cluster_full: no room in the labs quota).",
            unit: "reqps",
            queries: vec![(
                "{{reason}}",
                "sum by (reason) (rate(autolabs_preflight_rejections_total[$__rate_interval]))".into(),
            )],
        },
        Panel {
            title: "Kubernetes API errors",
            description: "Errors the provisioner got from the Kubernetes API, by HTTP code (connection: unreachable).",
            unit: "reqps",
            queries: vec![(
                "{{code}}",
                "sum by (code) (rate(autolabs_kube_api_errors_total[$__rate_interval]))".into(),
            )],
        },
        Panel {
            title: "Reaper deletions",
            description: "Objects the reaper deleted per hour, by reason (expired, incomplete, orphan) and kind.",
            unit: "short",
            queries: vec![(
                "{{reason}} {{kind}}",
                "sum by (reason, kind) (increase(autolabs_reaper_deletions_total[1h]))".into(),
            )],
        },
        Panel {
            title: "Reaper repairs",
            description: "Lab objects the reaper recreated per hour, by kind.",
            unit: "short",
            queries: vec![("{{kind}}", "sum by (kind) (increase(autolabs_reaper_repairs_total[1h]))".into())],
        },
    ]
}

/// The dashboard model (Grafana's dashboard JSON, schemaVersion 39), two panels a row.
pub(crate) fn dashboard() -> Value {
    let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
    let panels: Vec<Value> = panels()
        .into_iter()
        .enumerate()
        .map(|(index, panel)| {
            let targets: Vec<Value> = panel
                .queries
                .iter()
                .zip('A'..)
                .map(|((legend, expr), ref_id)| {
                    json!({
                        "datasource": datasource,
                        "expr": expr,
                        "legendFormat": legend,
                        "refId": ref_id.to_string(),
                    })
                })
                .collect();
            json!({
                "id": index + 1,
                "type": "timeseries",
                "title": panel.title,
                "description": panel.description,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index / 2) * 8},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": targets,
            })
        })
        .collect();
    json!({
        "uid": "autolabs-lab-service",
        "title": "AutoLabs lab service",
        "description": "The lab provisioner (autolabs serve): labs, creates, refusals, API errors, the reaper.",
        "tags": ["autolabs"],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "templating": {"list": [{
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        }]},
        "annotations": {"list": []},
        "panels": panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;

    /// The sidecar's shape: a ConfigMap with the label, and a dashboard Grafana imports
    /// (schemaVersion, unique panel ids, every panel and query with a datasource and a query).
    #[test]
    fn the_dashboard_is_a_grafana_dashboard_the_sidecar_picks_up() {
        let rendered = crate::render(&Platform::default());
        let config_map = rendered.find("ConfigMap", Some(MONITORING), DASHBOARD).expect("rendered");
        assert_eq!(config_map.value["metadata"]["labels"][DASHBOARD_LABEL.0], DASHBOARD_LABEL.1);
        let text = config_map.value["data"][DASHBOARD_KEY].as_str().expect("the JSON");
        let dashboard: Value = serde_json::from_str(text).expect("well-formed JSON");
        assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{dashboard}");
        assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty() && u.len() <= 40));
        assert!(dashboard["title"].is_string());
        let variable = &dashboard["templating"]["list"][0];
        assert_eq!((&variable["name"], &variable["type"]), (&json!("datasource"), &json!("datasource")));
        let panels = dashboard["panels"].as_array().expect("panels");
        let mut ids = std::collections::BTreeSet::new();
        for panel in panels {
            assert!(ids.insert(panel["id"].as_u64().expect("numeric id")), "duplicate id in {panel}");
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
            assert!(panel["gridPos"]["w"].as_u64().is_some_and(|w| w > 0 && w <= 24), "{panel}");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{panel}");
            for target in targets {
                assert!(target["expr"].as_str().is_some_and(|e| e.contains("autolabs_")), "{target}");
                assert_eq!(target["datasource"], panel["datasource"]);
            }
        }
        let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
        for wanted in [
            "Labs by phase",
            "Labs by template",
            "Lab create latency",
            "Preflight refusals",
            "Kubernetes API errors",
            "Reaper deletions",
        ] {
            assert!(titles.contains(&wanted), "{wanted} missing: {titles:?}");
        }
    }
}
