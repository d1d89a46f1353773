//! The provisioner's Prometheus metrics (`prometheus-client`): labs by phase and template,
//! create latency (JupyterHub's spawn-duration buckets, so the same dashboards work), preflight
//! rejections by reason, Kubernetes API errors by code, reaper deletions by reason and kind.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// JupyterHub's default `server_spawn_duration_seconds` buckets (jupyterhub/metrics.py), in
/// seconds; `+Inf` is implicit.
pub const CREATE_LATENCY_BUCKETS: [f64; 12] =
    [0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: String,
    pub template: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeletionLabels {
    pub reason: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// Every metric of the provisioner, registered in [`Metrics::registry`].
#[derive(Clone)]
pub struct Metrics {
    pub labs: Family<PhaseLabels, Gauge>,
    pub create_duration: Family<StatusLabels, Histogram>,
    pub preflight_rejections: Family<ReasonLabels, Counter>,
    pub api_errors: Family<CodeLabels, Counter>,
    pub reaper_deletions: Family<DeletionLabels, Counter>,
    pub reaper_repairs: Family<KindLabels, Counter>,
    pub registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(CREATE_LATENCY_BUCKETS)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("autolabs");
        let labs = Family::<PhaseLabels, Gauge>::default();
        let create_duration =
            Family::<StatusLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let preflight_rejections = Family::<ReasonLabels, Counter>::default();
        let api_errors = Family::<CodeLabels, Counter>::default();
        let reaper_deletions = Family::<DeletionLabels, Counter>::default();
        let reaper_repairs = Family::<KindLabels, Counter>::default();
        registry.register("labs", "Labs by phase and template", labs.clone());
        registry.register(
            "lab_create_duration_seconds",
            "Time to create a lab's objects, by outcome (success, failure)",
            create_duration.clone(),
        );
        registry.register(
            "preflight_rejections",
            "Lab creations refused before any API call, by reason",
            preflight_rejections.clone(),
        );
        registry.register("kube_api_errors", "Kubernetes API errors seen, by HTTP code", api_errors.clone());
        registry.register(
            "reaper_deletions",
            "Objects the reaper deleted, by reason and kind",
            reaper_deletions.clone(),
        );
        registry.register(
            "reaper_repairs",
            "Lab objects the reaper recreated (deleted by hand or never made), by kind",
            reaper_repairs.clone(),
        );
        // Counters start at zero for the label values alerts and dashboards select, so their
        // series exist (and `rate()` reads 0) before the first event: OpenMetrics emits no
        // family that has no series, and an alert on an absent series can never be told apart
        // from one on a misspelled name.
        let _ = api_errors.get_or_create(&CodeLabels { code: "connection".into() });
        for reason in ["cluster_full", "not_ready"] {
            let _ = preflight_rejections.get_or_create(&ReasonLabels { reason: reason.into() });
        }
        for reason in [super::plan::ReapReason::Expired, super::plan::ReapReason::Incomplete] {
            let _ = reaper_deletions
                .get_or_create(&DeletionLabels { reason: reason.as_str().into(), kind: "Pod".into() });
        }
        for kind in super::plan::ChildKind::ALL {
            let _ = reaper_repairs.get_or_create(&KindLabels { kind: kind.as_str().into() });
        }
        Metrics {
            labs,
            create_duration,
            preflight_rejections,
            api_errors,
            reaper_deletions,
            reaper_repairs,
            registry: Arc::new(registry),
        }
    }

    /// Counts one API error (`code` 0 for a connection failure).
    pub fn api_error(&self, error: &kube::Error) {
        let code = match error {
            kube::Error::Api(status) => status.code.to_string(),
            _ => "connection".into(),
        };
        self.api_errors.get_or_create(&CodeLabels { code }).inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family_and_the_jupyterhub_buckets() {
        let metrics = Metrics::new();
        metrics.labs.get_or_create(&PhaseLabels { phase: "Running".into(), template: "t".into() }).set(2);
        metrics.create_duration.get_or_create(&StatusLabels { status: "success".into() }).observe(0.02);
        metrics.preflight_rejections.get_or_create(&ReasonLabels { reason: "cluster_full".into() }).inc();
        metrics
            .reaper_deletions
            .get_or_create(&DeletionLabels { reason: "expired".into(), kind: "Pod".into() })
            .inc();
        let text = metrics.encode();
        for needle in [
            "autolabs_labs{phase=\"Running\",template=\"t\"} 2",
            "autolabs_lab_create_duration_seconds_bucket{le=\"0.5\",status=\"success\"} 1",
            "le=\"600.0\"",
            "autolabs_preflight_rejections_total{reason=\"cluster_full\"} 1",
            "autolabs_reaper_deletions_total{reason=\"expired\",kind=\"Pod\"} 1",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
