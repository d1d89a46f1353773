//! The object set every engine reads, and the loading of it.
//!
//! Input is any mix of YAML or JSON streams: single objects, multi-document files, `List`
//! objects (`kubectl get -A -o yaml` prints `kind: List` with `items`), typed lists as the API
//! server returns them (`PodList`: items without `kind`/`apiVersion`), and JSON arrays of
//! objects. Each document is parsed on its own, so a malformed one is reported (file, line,
//! column) while the others are still checked.
//!
//! Fail closed: every object is decoded strictly as its kind ([`crate::strict`]); one that
//! does not decode is an error naming file, line, column and field, never a silently dropped
//! object. With [`ReadOptions::as_admitted`] it is left out (the API server would refuse it)
//! and still reported. Objects without `apiVersion`/`kind` are errors; kinds no engine reads
//! are kept and counted as skipped by the caller.
//!
//! Directories are walked once per real directory (symlink loops are noted, not followed);
//! files in them that hold no Kubernetes object (READMEs, pictures, `values.yaml`,
//! `kustomization.yaml`, result files) are skipped with a note each, or are errors with
//! [`ReadOptions::strict_inputs`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use autolabs_k8s::yaml::{self, Locations};

use crate::strict;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
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
    /// Positions of the fields of the document the object came from (shared by a list's items).
    locations: Arc<Locations>,
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
            locations: Arc::default(),
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
        // From the borrowed tree: no copy of the object first.
        T::deserialize(&self.value)
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
        let spec = PodSpec::deserialize(spec_value).ok()?;
        let mut meta = ObjectMeta::deserialize(meta_value).unwrap_or_default();
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
pub(crate) fn pod_spec_path(kind: &str, group: &str) -> Option<(&'static str, &'static str)> {
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

/// A document that could not be read, an object the API server would refuse, or a file that
/// was skipped. `line` and `column` are 0 when the problem is about a whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// An object that decoded as YAML but not as its kind: the API server would refuse it.
    pub refused: bool,
}

impl LoadError {
    fn of_file(file: &str, message: impl Into<String>) -> Self {
        LoadError { file: file.into(), line: 0, column: 0, message: message.into(), refused: false }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.message),
            (l, 0) => write!(f, "{}:{l}: {}", self.file, self.message),
            (l, c) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// How inputs are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Analyse the objects as the cluster would end up: objects the API server would refuse
    /// are left out (and listed in [`ObjectSet::refused`]) instead of being input errors.
    pub as_admitted: bool,
    /// Files in a directory that hold no Kubernetes object are input errors, not notes.
    pub strict_inputs: bool,
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct ObjectSet {
    pub objects: Vec<Object>,
    pub errors: Vec<LoadError>,
    /// Files read.
    pub files: usize,
    /// With `as_admitted`: the problems of objects left out because the API server would
    /// refuse them (without it they are in `errors`).
    pub refused: Vec<LoadError>,
    /// Notes: files of a directory skipped (and why), symlink loops, files reached twice.
    pub notes: Vec<LoadError>,
    pub options: ReadOptions,
}

impl ObjectSet {
    /// An empty set that reads with `options`.
    pub fn with_options(options: ReadOptions) -> Self {
        ObjectSet { options, ..Default::default() }
    }

    /// Parses one YAML/JSON text (any number of documents, `List`s expanded). Documents are
    /// parsed and decoded in parallel, one batch of consecutive documents per core; objects and
    /// errors keep the order of the stream.
    pub fn add_text(&mut self, text: &str, file: &str) {
        self.files += 1;
        let chunks = yaml::split_stream(text);
        let weights: Vec<usize> = chunks.iter().map(|(_, chunk)| chunk.len()).collect();
        let options = self.options;
        let parts = yaml::in_parallel(chunks, &weights, |batch| {
            let mut part = ObjectSet::with_options(options);
            for (line, chunk) in batch {
                part.add_parsed(yaml::parse_document(&chunk, line), file);
            }
            part
        });
        self.absorb(parts);
    }

    /// Decodes parsed documents, in parallel as [`ObjectSet::add_text`] does.
    fn add_documents(&mut self, docs: Vec<Result<yaml::Document, yaml::YamlError>>, file: &str) {
        // About the bytes of text each document came from: 20 a located field.
        let weights: Vec<usize> =
            docs.iter().map(|d| d.as_ref().map(|d| 20 * d.locations.len()).unwrap_or(1)).collect();
        let options = self.options;
        let parts = yaml::in_parallel(docs, &weights, |batch| {
            let mut part = ObjectSet::with_options(options);
            for doc in batch {
                part.add_parsed(doc, file);
            }
            part
        });
        self.absorb(parts);
    }

    /// Appends what other sets read, in order.
    fn absorb(&mut self, parts: Vec<ObjectSet>) {
        for part in parts {
            self.objects.extend(part.objects);
            self.errors.extend(part.errors);
            self.refused.extend(part.refused);
            self.notes.extend(part.notes);
            self.files += part.files;
        }
    }

    fn add_parsed(&mut self, doc: Result<yaml::Document, yaml::YamlError>, file: &str) {
        match doc {
            Err(e) => self.errors.push(LoadError {
                file: file.into(),
                line: e.pos.line,
                column: e.pos.column,
                message: format!("not valid YAML: {}", e.message),
                refused: false,
            }),
            Ok(doc) => self.add_document(doc, file),
        }
    }

    fn add_document(&mut self, doc: yaml::Document, file: &str) {
        let yaml::Document { value, locations, line } = doc;
        let locations = Arc::new(locations);
        match value {
            Value::Null => {}
            // A JSON array of objects (`jq '[.items[]]'`, some tools' dumps).
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.add_value(item, file, &locations, &yaml::join_index("", i), line);
                }
            }
            value => self.add_value(value, file, &locations, "", line),
        }
    }

    /// An object, or a list of objects (lists in lists too).
    fn add_value(&mut self, value: Value, file: &str, locations: &Arc<Locations>, prefix: &str, line: u32) {
        let Some(list) = list_kind(&value) else {
            return self.add_object(value, file, locations, prefix, line);
        };
        // A typed list (`PodList`) as the API server returns it: its items carry no kind or
        // apiVersion; they are the list's, without `List`.
        // Mirrors: k8s.io/apimachinery/pkg/api/meta/help.go ExtractList (items of a typed list).
        let item_kind = list.strip_suffix("List").filter(|k| !k.is_empty()).map(str::to_string);
        let api_version = value["apiVersion"].clone();
        let Value::Object(mut map) = value else { return };
        let items = match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        for (i, mut item) in items.into_iter().enumerate() {
            if let (Some(kind), Value::Object(fields)) = (&item_kind, &mut item) {
                if !fields.contains_key("kind") {
                    fields.insert("kind".into(), Value::String(kind.clone()));
                }
                if !fields.contains_key("apiVersion") && api_version.is_string() {
                    fields.insert("apiVersion".into(), api_version.clone());
                }
            }
            let path = yaml::join_index(&yaml::join_key(prefix, "items"), i);
            self.add_value(item, file, locations, &path, line);
        }
    }

    fn add_object(
        &mut self,
        value: Value,
        file: &str,
        locations: &Arc<Locations>,
        prefix: &str,
        doc_line: u32,
    ) {
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
                refused: false,
            });
            return;
        }
        let (api_version, kind) =
            (value["apiVersion"].as_str().unwrap_or_default(), value["kind"].as_str().unwrap_or_default());
        let problems = strict::check(api_version, kind, &value);
        if !problems.is_empty() {
            self.refuse(&value, &problems, file, locations, prefix, line);
            return;
        }
        if let Some(mut obj) = Object::from_value(value, file) {
            obj.line = line;
            obj.locations = Arc::clone(locations);
            obj.prefix = prefix.to_string();
            self.objects.push(obj);
        }
    }

    /// Reports an object that does not decode as its kind, one entry per problem.
    fn refuse(
        &mut self,
        value: &Value,
        problems: &[strict::Problem],
        file: &str,
        locations: &Locations,
        prefix: &str,
        line: u32,
    ) {
        let kind = value["kind"].as_str().unwrap_or_default();
        let name = value["metadata"]["name"].as_str().unwrap_or("(unnamed)");
        let what = match value["metadata"]["namespace"].as_str() {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        };
        let only_when_strict = problems.iter().all(strict::Problem::only_when_strict);
        let fate = match (self.options.as_admitted, only_when_strict) {
            (false, false) => "the API server would refuse this object: it would not exist in the cluster",
            (false, true) => {
                "the API server refuses this object under strict field validation (kubectl apply's default): it would not exist in the cluster"
            }
            (true, _) => "left out (--as-admitted): the API server would refuse it",
        };
        for problem in problems {
            let path = match (prefix.is_empty(), problem.path()) {
                (true, p) => p.to_string(),
                (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
                (false, p) => format!("{prefix}.{p}"),
            };
            let pos = locations.find(&path).filter(|p| p.line >= line);
            let error = LoadError {
                file: file.into(),
                line: pos.map(|p| p.line).unwrap_or(line),
                column: pos.map(|p| p.column).unwrap_or(1),
                message: format!("{what}: {problem} ({fate})"),
                refused: true,
            };
            if self.options.as_admitted {
                self.refused.push(error);
            } else {
                self.errors.push(error);
            }
        }
    }

    /// A file of a directory that holds no Kubernetes object: a note, or an error with
    /// `strict_inputs`.
    fn skip_file(&mut self, file: &str, why: &str) {
        if self.options.strict_inputs {
            self.errors.push(LoadError::of_file(file, format!("{why}; an error under --strict-inputs")));
        } else {
            self.notes.push(LoadError::of_file(file, format!("skipped: {why}")));
        }
    }

    /// Reads a file found in a directory: skipped with a note when it holds no Kubernetes
    /// object, read like any other file when it does (or looks like it does).
    fn add_file_of_directory(&mut self, text: &str, file: &str) {
        let name = Path::new(file).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if let Some(why) = tool_file(&name) {
            self.skip_file(file, why);
            return;
        }
        let docs = yaml::parse_stream(text);
        if let Some(why) = not_objects(text, &docs) {
            self.skip_file(file, &why);
            return;
        }
        self.files += 1;
        self.add_documents(docs, file);
    }

    /// Reads files and directories (recursively: `*.yaml`, `*.yml`, `*.json`, in name order);
    /// `-` reads standard input. Unreadable paths become errors, not panics.
    pub fn read_paths(paths: &[PathBuf]) -> ObjectSet {
        ObjectSet::read_paths_with(paths, ReadOptions::default())
    }

    /// [`ObjectSet::read_paths`] with options. A file named on the command line is read as
    /// manifests whatever it holds; files found in a directory that hold no Kubernetes object
    /// are skipped with a note.
    pub fn read_paths_with(paths: &[PathBuf], options: ReadOptions) -> ObjectSet {
        let mut set = ObjectSet::with_options(options);
        let mut walk = Walk::default();
        for p in paths {
            if p.as_os_str() == "-" {
                let mut s = String::new();
                match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                    Ok(_) => set.add_text(&s, "-"),
                    Err(e) => set.errors.push(LoadError::of_file("-", e.to_string())),
                }
                continue;
            }
            match std::fs::metadata(p) {
                Err(e) => set.errors.push(LoadError::of_file(&p.display().to_string(), e.to_string())),
                Ok(m) if m.is_dir() => {
                    let mut files = Vec::new();
                    walk.directory(p, &mut Vec::new(), &mut files, &mut set);
                    // Files are read in parallel too (a directory of one object per file).
                    let weights: Vec<usize> =
                        files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len() as usize)).collect();
                    let parts = yaml::in_parallel(files, &weights, |batch| {
                        let mut part = ObjectSet::with_options(options);
                        for f in batch {
                            let name = f.display().to_string();
                            match std::fs::read_to_string(&f) {
                                Ok(text) => part.add_file_of_directory(&text, &name),
                                Err(e) => part.errors.push(LoadError::of_file(&name, e.to_string())),
                            }
                        }
                        part
                    });
                    set.absorb(parts);
                }
                Ok(_) => {
                    let name = p.display().to_string();
                    match std::fs::read_to_string(p) {
                        Ok(text) => set.add_text(&text, &name),
                        Err(e) => set.errors.push(LoadError::of_file(&name, e.to_string())),
                    }
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

/// The kind of a list document (`List`, `PodList`…): a kind ending in `List` whose `items`
/// is a sequence (or absent or null: an empty list).
fn list_kind(value: &Value) -> Option<&str> {
    let kind = value["kind"].as_str()?;
    let items = &value["items"];
    (kind.ends_with("List") && (items.is_array() || items.is_null()) && value.get("spec").is_none())
        .then_some(kind)
}

/// Files that tools keep next to manifests and that are never objects themselves.
fn tool_file(name: &str) -> Option<&'static str> {
    Some(match name {
        "kustomization.yaml" | "kustomization.yml" | "Kustomization" => {
            "a kustomize configuration, not a Kubernetes object (render it with `kubectl kustomize` first)"
        }
        "Chart.yaml" | "Chart.lock" => "Helm chart metadata, not a Kubernetes object",
        "values.yaml" | "values.yml" | "values.schema.json" => {
            "Helm values, not a Kubernetes object (render the chart with `helm template` first)"
        }
        _ => return None,
    })
}

/// Why a file of a directory holds no Kubernetes object, or `None` when it does (or looks like
/// it does: then a broken document in it is an input error).
fn not_objects(text: &str, docs: &[Result<yaml::Document, yaml::YamlError>]) -> Option<String> {
    let looks_like_object =
        |v: &Value| v.is_object() && (v.get("apiVersion").is_some() || v.get("kind").is_some());
    let mut any_broken = false;
    for doc in docs {
        match doc {
            Ok(d) if looks_like_object(&d.value) => return None,
            Ok(d) if d.value.as_array().is_some_and(|items| items.iter().any(looks_like_object)) => {
                return None;
            }
            Ok(_) => {}
            Err(_) => any_broken = true,
        }
    }
    if docs.is_empty() {
        return Some("holds no YAML document".into());
    }
    if any_broken {
        let names_a_kind = text.lines().any(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start_matches('"');
            l.starts_with("apiVersion") || l.starts_with("kind")
        });
        if names_a_kind {
            return None;
        }
        return Some("not valid YAML or JSON, and names no apiVersion or kind".into());
    }
    Some("no document has apiVersion or kind: not a Kubernetes object".into())
}

fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}

/// A directory walk that reads each real directory and file once, whatever symlinks lead to
/// them, so a loop (`sub/up -> ..`) ends.
#[derive(Default)]
struct Walk {
    /// Real path of each directory read → the path it was first read as.
    directories: HashMap<PathBuf, String>,
    /// Real path of each file read → the path it was first read as.
    files: HashMap<PathBuf, String>,
}

impl Walk {
    /// Collects the manifest files under `dir` in name order; notes go to `set`.
    /// `ancestors`: the real paths of the directories being walked, to name loops as such.
    fn directory(
        &mut self,
        dir: &Path,
        ancestors: &mut Vec<PathBuf>,
        out: &mut Vec<PathBuf>,
        set: &mut ObjectSet,
    ) {
        let shown = dir.display().to_string();
        let real = match std::fs::canonicalize(dir) {
            Ok(r) => r,
            Err(e) => return set.errors.push(LoadError::of_file(&shown, e.to_string())),
        };
        if let Some(first) = self.directories.get(&real) {
            let why = if ancestors.contains(&real) {
                format!("symlink loop: leads back to {first}, which is being read; not followed")
            } else {
                format!("skipped: the same directory as {first}, already read")
            };
            set.notes.push(LoadError::of_file(&shown, why));
            return;
        }
        self.directories.insert(real.clone(), shown.clone());
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => return set.errors.push(LoadError::of_file(&shown, e.to_string())),
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        ancestors.push(real);
        for entry in entries {
            let shown = entry.display().to_string();
            let name = entry.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if name.starts_with('.') {
                set.notes.push(LoadError::of_file(&shown, "skipped: hidden"));
                continue;
            }
            let Ok(link) = std::fs::symlink_metadata(&entry) else { continue };
            let meta = match std::fs::metadata(&entry) {
                Ok(m) => m,
                Err(e) => {
                    let target =
                        std::fs::read_link(&entry).map(|t| t.display().to_string()).unwrap_or_default();
                    let message = if link.file_type().is_symlink() {
                        format!("dangling symlink to {target} ({e})")
                    } else {
                        e.to_string()
                    };
                    if is_manifest_name(&name) {
                        set.errors.push(LoadError::of_file(&shown, message));
                    } else {
                        set.skip_file(&shown, &message);
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                self.directory(&entry, ancestors, out, set);
            } else if !is_manifest_name(&name) {
                set.skip_file(&shown, "not a .yaml, .yml or .json file");
            } else {
                let real = std::fs::canonicalize(&entry).unwrap_or_else(|_| entry.clone());
                match self.files.get(&real) {
                    Some(first) => set.notes.push(LoadError::of_file(
                        &shown,
                        format!("skipped: the same file as {first}, already read"),
                    )),
                    None => {
                        self.files.insert(real, shown);
                        out.push(entry);
                    }
                }
            }
        }
        ancestors.pop();
    }
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
        set.add_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: 0755\nspec: {containers: [{name: c, image: i}]}\n", "n.yaml");
        assert!(set.objects.is_empty());
        assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
        assert_eq!(set.errors[0].line, 5);
        assert!(set.errors[0].message.contains("metadata.namespace: invalid type"), "{:?}", set.errors);
        assert!(set.errors[0].message.contains("expected a string"), "{:?}", set.errors);
    }

    #[test]
    fn workload_templates_are_found() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: b, namespace: ns1}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: x}}\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: i}]\n",
            "c.yaml",
        );
        let t = set.objects[0].pod_template().unwrap();
        assert_eq!(t.meta.labels.unwrap()["app"], "x");
        assert_eq!(t.spec_path, "spec.jobTemplate.spec.template.spec");
        assert_eq!(t.meta.namespace.as_deref(), Some("ns1"));
    }

    #[test]
    fn typed_lists_give_their_items_kind_and_api_version() {
        let mut set = ObjectSet::default();
        set.add_text(
            "apiVersion: v1\nkind: PodList\nmetadata: {resourceVersion: '1'}\nitems:\n- metadata: {name: a, namespace: ns1}\n  spec: {containers: [{name: c, image: i}]}\n- metadata: {name: b, namespace: ns1}\n  spec: {containers: [{name: c, image: i}]}\n",
            "pods.yaml",
        );
        set.add_text(
            r#"{"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [{"metadata": {"name": "d", "namespace": "ns1"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}]}"#,
            "deployments.json",
        );
        set.add_text("apiVersion: v1\nkind: NamespaceList\nitems: []\n", "empty.yaml");
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        let ids: Vec<String> =
            set.objects.iter().map(|o| format!("{} {} line {}", o.api_version, o.id(), o.line)).collect();
        assert_eq!(ids, ["v1 ns1/Pod/a line 5", "v1 ns1/Pod/b line 7", "apps/v1 ns1/Deployment/d line 1"]);
    }

    #[test]
    fn list_items_without_kind_are_errors_and_json_arrays_are_read() {
        let mut set = ObjectSet::default();
        set.add_text("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- metadata: {name: b}\n", "list.yaml");
        assert_eq!(set.objects.len(), 1);
        assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
        assert_eq!(
            (set.errors[0].line, set.errors[0].message.as_str()),
            (7, "not a Kubernetes object: missing apiVersion and kind")
        );
        let mut set = ObjectSet::default();
        set.add_text("[{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}},\n {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"b\"}}]", "a.json");
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.objects.iter().map(|o| o.line).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn helm_streams_with_empty_documents_are_read() {
        let mut set = ObjectSet::default();
        set.add_text("---\n# Source: chart/templates/a.yaml\n---\n# Source: chart/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n---\n---\n~\n", "helm.yaml");
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!((set.objects.len(), set.objects[0].line), (1, 5));
    }

    #[test]
    fn objects_that_do_not_decode_are_errors_or_left_out_when_as_admitted() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: a\n  labels:\n    version: 1\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";
        let mut set = ObjectSet::default();
        set.add_text(text, "np.yaml");
        assert!(set.objects.is_empty());
        assert_eq!(set.errors.len(), 1);
        let e = &set.errors[0];
        assert!(e.refused);
        assert_eq!((e.line, e.column), (7, 14));
        assert!(e.to_string().starts_with("np.yaml:7:14: NetworkPolicy a/deny: metadata.labels.version: invalid type: integer `1`, expected a string"), "{e}");
        assert!(
            e.message
                .ends_with("(the API server would refuse this object: it would not exist in the cluster)"),
            "{e}"
        );
        let mut set = ObjectSet::with_options(ReadOptions { as_admitted: true, ..Default::default() });
        set.add_text(text, "np.yaml");
        assert!(set.objects.is_empty() && set.errors.is_empty());
        assert_eq!(set.refused.len(), 1);
        assert!(
            set.refused[0].message.ends_with("(left out (--as-admitted): the API server would refuse it)")
        );
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_walked_once_and_stray_files_noted() {
        let dir = std::env::temp_dir().join(format!("autolabs-objects-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sub = dir.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.join("cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
            .unwrap();
        std::fs::write(dir.join("README.md"), "# hi\n").unwrap();
        std::fs::write(dir.join("values.yaml"), "replicas: 2\n").unwrap();
        std::fs::write(dir.join("out.json"), "{\"allowed\": true}\n").unwrap();
        std::fs::write(dir.join("broken.yaml"), "apiVersion: v1\nkind: [\n").unwrap();
        std::os::unix::fs::symlink("..", sub.join("up")).unwrap();
        std::os::unix::fs::symlink("../cm.yaml", sub.join("same.yaml")).unwrap();
        std::os::unix::fs::symlink("nowhere.yaml", dir.join("gone.yaml")).unwrap();
        let set = ObjectSet::read_paths(std::slice::from_ref(&dir));
        let shown = |e: &LoadError| {
            format!("{}: {}", e.file.trim_start_matches(&dir.display().to_string()), e.message)
        };
        let notes: Vec<String> = set.notes.iter().map(shown).collect();
        let errors: Vec<String> = set.errors.iter().map(shown).collect();
        assert_eq!(set.objects.len(), 1);
        assert_eq!(
            notes,
            [
                "/README.md: skipped: not a .yaml, .yml or .json file".to_string(),
                format!("/sub/same.yaml: skipped: the same file as {}/cm.yaml, already read", dir.display()),
                format!("/sub/up: symlink loop: leads back to {}, which is being read; not followed", dir.display()),
                "/out.json: skipped: no document has apiVersion or kind: not a Kubernetes object".to_string(),
                "/values.yaml: skipped: Helm values, not a Kubernetes object (render the chart with `helm template` first)".to_string(),
            ]
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("/gone.yaml: dangling symlink to nowhere.yaml"), "{errors:?}");
        assert!(errors[1].starts_with("/broken.yaml: not valid YAML"), "{errors:?}");
        let strict = ObjectSet::read_paths_with(
            std::slice::from_ref(&dir),
            ReadOptions { strict_inputs: true, ..Default::default() },
        );
        assert_eq!(strict.errors.len(), 5, "{:?}", strict.errors);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
