//! Loading `LabTemplate` files: YAML → [`LabTemplate`], every problem of every file at once,
//! each with file:line and field, unknown fields rejected, exactly like `platform.yaml`.
//!
//! serde stops at the first error of a value, so each field of `spec` is deserialized on its
//! own first (the required `image` and `ports` filled with placeholders when another field is
//! being checked), then the whole spec; finally [`LabTemplate::problems`] checks the values
//! against the platform. The caller reads the files; this module only sees their text.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use autolabs_k8s::yaml::{self, Locations};

use super::error::LabError;
use super::template::{LabTemplate, LabTemplateSpec, TEMPLATE_API_VERSION, TEMPLATE_KIND, TemplateMetadata};
use crate::error::{ConfigError, ConfigErrors};
use crate::platform::Platform;

/// The loaded templates, by name: only these can be started.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Templates {
    by_name: BTreeMap<String, LabTemplate>,
}

impl Templates {
    /// The template of a request, or [`LabError::UnknownTemplate`] naming those that exist.
    pub fn get(&self, name: &str) -> Result<&LabTemplate, LabError> {
        self.by_name
            .get(name)
            .ok_or_else(|| LabError::UnknownTemplate { name: name.to_string(), known: self.names() })
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// In name order.
    pub fn iter(&self) -> impl Iterator<Item = &LabTemplate> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Loads every template of `files` (`(file name, text)`), checked against `platform`; names
/// must be unique across files. Errors of all files are returned together, in file order.
pub fn load_templates<N: AsRef<str>, T: AsRef<str>>(
    files: &[(N, T)],
    platform: &Platform,
) -> Result<Templates, ConfigErrors> {
    let mut errors = Vec::new();
    let mut templates = Templates::default();
    let mut first_file: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in files {
        let file = file.as_ref();
        match load_located(text.as_ref(), file, platform) {
            Ok((template, locations)) => {
                let name = template.metadata.name.clone();
                if let Some(first) = first_file.get(&name) {
                    let pos = locations.find("metadata.name").unwrap_or_default();
                    errors.push(ConfigError {
                        file: file.into(),
                        line: pos.line,
                        column: pos.column,
                        field: "metadata.name".into(),
                        message: format!("template name {name:?} is already used by {first}"),
                        hint: Some("give each template its own metadata.name".into()),
                    });
                } else {
                    first_file.insert(name.clone(), file.to_string());
                    templates.by_name.insert(name, template);
                }
            }
            Err(e) => errors.extend(e.0),
        }
    }
    if errors.is_empty() { Ok(templates) } else { Err(ConfigErrors(errors)) }
}

/// Loads one template file; `file` is used in messages only.
pub fn load_template(text: &str, file: &str, platform: &Platform) -> Result<LabTemplate, ConfigErrors> {
    load_located(text, file, platform).map(|(t, _)| t)
}

fn load_located(
    text: &str,
    file: &str,
    platform: &Platform,
) -> Result<(LabTemplate, Locations), ConfigErrors> {
    let doc = yaml::parse_one(text).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.into(),
            line: e.pos.line,
            column: e.pos.column,
            field: String::new(),
            message: format!("not valid YAML: {}", e.message),
            hint: Some("fix the YAML syntax at this position".into()),
        }])
    })?;
    let mut errors = Errors { file, locations: &doc.locations, list: Vec::new() };
    let Value::Object(top) = &doc.value else {
        errors.push(
            "",
            "a lab template must be a YAML mapping with apiVersion, kind, metadata and spec",
            None,
        );
        return Err(errors.finish());
    };
    for key in top.keys() {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec") {
            errors.push(
                key,
                &format!("unknown field `{key}`"),
                Some("the top level has only apiVersion, kind, metadata and spec".into()),
            );
        }
    }
    for (field, want) in [("apiVersion", TEMPLATE_API_VERSION), ("kind", TEMPLATE_KIND)] {
        match top.get(field) {
            Some(Value::String(v)) if v == want => {}
            Some(v) => errors.push(
                field,
                &format!("must be {want:?}, found {v}"),
                Some(format!("write `{field}: {want}`")),
            ),
            None => errors.push(field, "missing", Some(format!("add `{field}: {want}` at the top"))),
        }
    }

    let metadata = match top.get("metadata") {
        Some(v) => errors.deserialize::<TemplateMetadata>("metadata", v.clone()),
        None => {
            errors.push("metadata", "missing", Some("add `metadata:` with `name: <template name>`".into()));
            None
        }
    };

    let spec = match top.get("spec") {
        Some(Value::Object(map)) => {
            let mut complete = true;
            for required in ["image", "ports"] {
                if !map.contains_key(required) {
                    errors.push(
                        "spec",
                        &format!("missing field `{required}`"),
                        Some(format!("add `{required}:` under spec")),
                    );
                    complete = false;
                }
            }
            // Each field alone, so that all of them report their errors.
            for (key, value) in map {
                let mut one = serde_json::Map::new();
                one.insert("image".into(), json!("placeholder:1"));
                one.insert("ports".into(), json!([]));
                one.insert(key.clone(), value.clone());
                if errors.deserialize::<LabTemplateSpec>("spec", Value::Object(one)).is_none() {
                    complete = false;
                }
            }
            if complete {
                errors.deserialize::<LabTemplateSpec>("spec", Value::Object(map.clone()))
            } else {
                None
            }
        }
        Some(_) => {
            errors.push(
                "spec",
                "must be a mapping",
                Some("write `spec:` followed by indented fields".into()),
            );
            None
        }
        None => {
            errors.push("spec", "missing", Some("add `spec:` with at least image and ports".into()));
            None
        }
    };

    let (Some(metadata), Some(spec)) = (metadata, spec) else {
        return Err(errors.finish());
    };
    let template =
        LabTemplate { api_version: TEMPLATE_API_VERSION.into(), kind: TEMPLATE_KIND.into(), metadata, spec };
    for (field, message, hint) in template.problems(platform) {
        errors.push(&field, &message, hint);
    }
    if errors.list.is_empty() { Ok((template, doc.locations.clone())) } else { Err(errors.finish()) }
}

/// Problems of one file, located through the document's field positions.
struct Errors<'a> {
    file: &'a str,
    locations: &'a Locations,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn push(&mut self, field: &str, message: &str, hint: Option<String>) {
        let pos = self.locations.find(field).unwrap_or_default();
        self.list.push(ConfigError {
            file: self.file.into(),
            line: pos.line,
            column: pos.column,
            field: field.into(),
            message: message.into(),
            hint,
        });
    }

    /// Deserializes `value` (found at `prefix`), recording a located error on failure.
    fn deserialize<T: serde::de::DeserializeOwned>(&mut self, prefix: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                let mut path = prefix.to_string();
                for seg in e.path().iter() {
                    path = match seg {
                        serde_path_to_error::Segment::Seq { index } => yaml::join_index(&path, *index),
                        serde_path_to_error::Segment::Map { key }
                        | serde_path_to_error::Segment::Enum { variant: key } => yaml::join_key(&path, key),
                        serde_path_to_error::Segment::Unknown => path,
                    };
                }
                let message = e.inner().to_string();
                // serde reports an unknown field at its parent; point at the field itself.
                if let Some(name) = message.strip_prefix("unknown field `").and_then(|r| r.split('`').next())
                {
                    let with_name = yaml::join_key("", name);
                    if !path.ends_with(&with_name) {
                        path = yaml::join_key(&path, name);
                    }
                }
                let hint = hint_for(&message);
                self.push(&path, &message, hint);
                None
            }
        }
    }

    fn finish(mut self) -> ConfigErrors {
        self.list.sort_by(|a, b| (a.line, a.column, &a.field).cmp(&(b.line, b.column, &b.field)));
        self.list.dedup();
        ConfigErrors(self.list)
    }
}

fn hint_for(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove it, or check its spelling against the LabTemplate fields".into())
    } else if message.starts_with("invalid type") {
        Some("give a value of the type the message names".into())
    } else if message.starts_with("unknown variant") {
        Some("use one of the values the message lists".into())
    } else if message.starts_with("missing field") {
        Some("add the field the message names".into())
    } else {
        None
    }
}
