//! The object set every engine reads, and the loading of it.
//!
//! Input is any mix of YAML or JSON streams: single objects, multi-document files, and
//! `List` objects (`kubectl get -A -o yaml` prints `kind: List` with `items`). Each document
//! is parsed on its own, so a malformed one is reported (file, line, column) while the
//! others are still checked. Objects without `apiVersion`/`kind` are errors; kinds no engine
//! reads are kept and counted as skipped by the caller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use autolabs_k8s::yaml::{self, Locations};
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// One Kubernetes object and where it came from.
#[derive(Debug, Clone)]
pub struct Object {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub value: Value,
    /// File the object was read from (`-` for stdin, `cluster` for a live read).
    pub file: String,
    /// Line the object starts on (1-based; 0 when unknown).
    pub line: u32,
    locations: Locations,
    /// Path of this object inside its document (`items[3]` for a List item).
    prefix: String,
}

impl Object {
    /// An object that did not come from a file (rendered, or read from a cluster).
    pub fn from_value(value: Value, file: &str) -> Option<Object> {
        let api_version = value.get("apiVersion")?.as_str()?.to_string();
        let kind = value.get("kind")?.as_str()?.to_string();
        let name = value["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let namespace = value["metadata"]["namespace"].as_str().map(str::to_string);
        Some(Object {
            api_version,
            kind,
            namespace,
            name,
            value,
            file: file.to_string(),
            line: 0,
            locations: Locations::default(),
            prefix: String::new(),
        })
    }

    /// The API group (`""` for core).
    pub fn group(&self) -> &str {
        self.api_version.split_once('/').map(|(g, _)| g).unwrap_or("")
    }

    /// `namespace/Kind/name` or `Kind/name`.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The line of a field path inside this object (`spec.template.spec.containers[0]`),
    /// or of its nearest ancestor that has one; the object's own line otherwise.
    pub fn line_of(&self, path: &str) -> u32 {
        let full = match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) if path.starts_with('[') => format!("{}{path}", self.prefix),
            (false, false) => format!("{}.{path}", self.prefix),
        };
        self.locations.find(&full).map(|p| p.line).filter(|l| *l >= self.line).unwrap_or(self.line)
    }

    /// Deserializes into a typed k8s-openapi value.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.value.clone())
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        string_map(&self.value["metadata"]["labels"])
    }

    pub fn annotations(&self) -> BTreeMap<String, String> {
        string_map(&self.value["metadata"]["annotations"])
    }

    /// The pod this object runs: a Pod itself, or the pod template of a workload
    /// (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob).
    /// Returns the template's metadata, its spec, and the field path of the spec.
    pub fn pod_template(&self) -> Option<PodTemplate> {
        let path = pod_spec_path(&self.kind, self.group())?;
        let (meta_path, spec_path) = path;
        let meta_value =
            if meta_path.is_empty() { &self.value["metadata"] } else { pointer(&self.value, meta_path) };
        let spec_value = pointer(&self.value, spec_path);
        let spec: PodSpec = serde_json::from_value(spec_value.clone()).ok()?;
        let mut meta: ObjectMeta = serde_json::from_value(meta_value.clone()).unwrap_or_default();
        if meta.namespace.is_none() {
            meta.namespace = self.namespace.clone();
        }
        Some(PodTemplate { meta, spec, spec_path: spec_path.to_string() })
    }
}

/// A pod, or the pod a workload's template describes.
#[derive(Debug, Clone)]
pub struct PodTemplate {
    pub meta: ObjectMeta,
    pub spec: PodSpec,
    /// Field path of the PodSpec inside its object (`spec.template.spec`).
    pub spec_path: String,
}

/// Where each kind keeps its pod: (metadata path, spec path), dotted.
fn pod_spec_path(kind: &str, group: &str) -> Option<(&'static str, &'static str)> {
    Some(match (group, kind) {
        ("", "Pod") => ("", "spec"),
        ("", "PodTemplate") => ("template.metadata", "template.spec"),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("", "ReplicationController")
        | ("batch", "Job") => ("spec.template.metadata", "spec.template.spec"),
        ("batch", "CronJob") => {
            ("spec.jobTemplate.spec.template.metadata", "spec.jobTemplate.spec.template.spec")
        }
        _ => return None,
    })
}

fn pointer<'a>(v: &'a Value, dotted: &str) -> &'a Value {
    let mut cur = v;
    for seg in dotted.split('.') {
        cur = &cur[seg];
    }
    cur
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// A document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    pub objects: Vec<Object>,
    pub errors: Vec<LoadError>,
    /// Files read.
    pub files: usize,
}

impl ObjectSet {
    /// Parses one YAML/JSON text (any number of documents, `List`s expanded).
    pub fn add_text(&mut self, text: &str, file: &str) {
        self.files += 1;
        for doc in yaml::parse_stream(text) {
            match doc {
                Err(e) => self.errors.push(LoadError {
                    file: file.into(),
                    line: e.pos.line,
                    column: e.pos.column,
                    message: format!("not valid YAML: {}", e.message),
                }),
                Ok(doc) => self.add_document(doc, file),
            }
        }
    }

    fn add_document(&mut self, doc: yaml::Document, file: &str) {
        if doc.value.is_null() {
            return;
        }
        let is_list = doc.value["kind"].as_str().is_some_and(|k| k == "List" || k.ends_with("List"))
            && doc.value.get("items").is_some_and(Value::is_array);
        if is_list {
            let items = doc.value["items"].as_array().cloned().unwrap_or_default();
            for (i, item) in items.into_iter().enumerate() {
                let prefix = yaml::join_index("items", i);
                self.add_object(item, file, &doc.locations, &prefix, doc.line);
            }
        } else {
            self.add_object(doc.value, file, &doc.locations, "", doc.line);
        }
    }

    fn add_object(&mut self, value: Value, file: &str, locations: &Locations, prefix: &str, doc_line: u32) {
        let line = if prefix.is_empty() {
            doc_line
        } else {
            locations.find(prefix).map(|p| p.line).unwrap_or(doc_line)
        };
        let mut missing = Vec::new();
        if !value["apiVersion"].is_string() {
            missing.push("apiVersion");
        }
        if !value["kind"].is_string() {
            missing.push("kind");
        }
        if !value.is_object() || !missing.is_empty() {
            self.errors.push(LoadError {
                file: file.into(),
                line,
                column: 1,
                message: if value.is_object() {
                    format!("not a Kubernetes object: missing {}", missing.join(" and "))
                } else {
                    "not a Kubernetes object: expected a mapping".into()
                },
            });
            return;
        }
        for field in ["name", "namespace"] {
            let v = &value["metadata"][field];
            if !v.is_null() && !v.is_string() {
                let path = if prefix.is_empty() {
                    format!("metadata.{field}")
                } else {
                    format!("{prefix}.metadata.{field}")
                };
                self.errors.push(LoadError {
                    file: file.into(),
                    line: locations.find(&path).map(|p| p.line).unwrap_or(line),
                    column: locations.find(&path).map(|p| p.column).unwrap_or(1),
                    message: format!(
                        "metadata.{field} must be a string, found {v} (YAML reads unquoted y, n, yes, no, on, off, numbers as other types: quote it)"
                    ),
                });
                return;
            }
        }
        if let Some(mut obj) = Object::from_value(value, file) {
            obj.line = line;
            obj.locations = locations.clone();
            obj.prefix = prefix.to_string();
            self.objects.push(obj);
        }
    }

    /// Reads files and directories (recursively: `*.yaml`, `*.yml`, `*.json`, in name order);
    /// `-` reads standard input. Unreadable paths become errors, not panics.
    pub fn read_paths(paths: &[PathBuf]) -> ObjectSet {
        let mut set = ObjectSet::default();
        for p in paths {
            if p.as_os_str() == "-" {
                let mut s = String::new();
                match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                    Ok(_) => set.add_text(&s, "-"),
                    Err(e) => set.errors.push(LoadError {
                        file: "-".into(),
                        line: 0,
                        column: 0,
                        message: e.to_string(),
                    }),
                }
                continue;
            }
            let mut files = Vec::new();
            if let Err(e) = collect_files(p, &mut files) {
                set.errors.push(LoadError {
                    file: p.display().to_string(),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                });
            }
            for f in files {
                match std::fs::read_to_string(&f) {
                    Ok(text) => set.add_text(&text, &f.display().to_string()),
                    Err(e) => set.errors.push(LoadError {
                        file: f.display().to_string(),
                        line: 0,
                        column: 0,
                        message: e.to_string(),
                    }),
                }
            }
        }
        set
    }

    /// Objects of one kind (and API group).
    pub fn of_kind<'a>(&'a self, group: &'a str, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.kind == kind && o.group() == group)
    }

    /// The labels of each namespace: declared Namespace objects, plus every namespace an
    /// object lives in (with the `kubernetes.io/metadata.name` label the API server sets).
    pub fn namespaces(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for o in self.of_kind("", "Namespace") {
            let mut labels = o.labels();
            labels.insert("kubernetes.io/metadata.name".into(), o.name.clone());
            out.insert(o.name.clone(), labels);
        }
        for o in &self.objects {
            if let Some(ns) = &o.namespace {
                out.entry(ns.clone()).or_insert_with(|| {
                    BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.clone())])
                });
            }
        }
        out
    }
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        let name = e.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if e.is_dir() {
            collect_files(&e, out)?;
        } else if (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
            && name != "kustomization.yaml"
        {
            out.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_streams_lists_and_keeps_lines() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p, namespace: a}\n  spec:\n    containers:\n    - name: c\n      image: x\n",
            "f.yaml",
        );
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.objects.len(), 2);
        let pod = &set.objects[1];
        assert_eq!((pod.kind.as_str(), pod.line), ("Pod", 9));
        assert_eq!(pod.line_of("spec.containers[0].image"), 15);
        let t = pod.pod_template().unwrap();
        assert_eq!(t.spec.containers[0].name, "c");
        assert_eq!(t.meta.namespace.as_deref(), Some("a"));
    }

    #[test]
    fn a_bad_document_does_not_hide_the_others() {
        let mut set = ObjectSet::default();
        set.add_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [\n---\nfoo: bar\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "x.yaml");
        assert_eq!(set.objects.len(), 2);
        assert_eq!(set.errors.len(), 2, "{:?}", set.errors);
        assert!(set.errors[0].line >= 5);
        assert!(set.errors[1].message.contains("missing apiVersion"));
        assert_eq!(set.errors[1].line, 7);
    }

    #[test]
    fn non_string_names_are_errors_not_silently_default() {
        let mut set = ObjectSet::default();
        set.add_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: 0755\n", "n.yaml");
        assert!(set.objects.is_empty());
        assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
        assert_eq!(set.errors[0].line, 5);
        assert!(set.errors[0].message.contains("must be a string"));
    }

    #[test]
    fn workload_templates_are_found() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: b, namespace: ns1}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: x}}\n        spec:\n          containers: [{name: c, image: i}]\n",
            "c.yaml",
        );
        let t = set.objects[0].pod_template().unwrap();
        assert_eq!(t.meta.labels.unwrap()["app"], "x");
        assert_eq!(t.spec_path, "spec.jobTemplate.spec.template.spec");
        assert_eq!(t.meta.namespace.as_deref(), Some("ns1"));
    }
}
