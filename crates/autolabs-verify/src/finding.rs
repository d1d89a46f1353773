//! The one finding type every engine reports in.

use serde::Serialize;

/// How bad a finding is. `--fail-on` compares against this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn of(o: &crate::Object) -> Self {
        ObjectRef {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            namespace: o.namespace.clone(),
            name: o.name.clone(),
        }
    }

    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// One problem (or fact) an engine found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `pss`, `rbac`, `resources`, `netpol`, `intent`, `hygiene`, `load`.
    pub engine: &'static str,
    /// Stable rule id within the engine (`runAsNonRoot`, `secrets-read`…).
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Column of the field, when known (input errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Finding {
    pub fn new(
        engine: &'static str,
        rule: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            engine,
            rule: rule.into(),
            severity,
            message: message.into(),
            object: None,
            file: None,
            line: None,
            column: None,
        }
    }

    /// Attaches an object and the line of `path` inside it.
    pub fn at(mut self, o: &crate::Object, path: &str) -> Self {
        self.object = Some(ObjectRef::of(o));
        self.file = Some(o.file.clone());
        let line = o.line_of(path);
        self.line = (line > 0).then_some(line);
        self
    }

    /// `file:line` (`file:line:column` for input errors) when known.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            (None, _) => file.clone(),
        })
    }
}

/// Counts by severity, plus what was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub objects: usize,
    pub files: usize,
    /// Objects of kinds no engine reads (kept, not errors), by `Kind`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped: std::collections::BTreeMap<String, usize>,
}

impl Summary {
    pub fn of(findings: &[Finding], objects: usize, files: usize) -> Self {
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            objects,
            files,
            skipped: Default::default(),
        }
    }
}

/// Kinds some engine reads; everything else is counted as skipped.
pub fn is_read_by_an_engine(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "Pod"
                | "Namespace"
                | "LimitRange"
                | "ResourceQuota"
                | "ServiceAccount"
                | "PersistentVolumeClaim"
                | "ReplicationController"
                | "PodTemplate"
                | "ConfigMap"
                | "Node"
        ) | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("batch", "Job" | "CronJob")
            | ("networking.k8s.io", "NetworkPolicy")
            | (
                "policy.networking.k8s.io",
                "ClusterNetworkPolicy" | "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy"
            )
            | ("rbac.authorization.k8s.io", "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding")
            | ("storage.k8s.io", "StorageClass")
            | ("policy", "PodDisruptionBudget")
            | ("autoscaling", "HorizontalPodAutoscaler")
            | ("monitoring.coreos.com", "PrometheusRule")
    )
}
