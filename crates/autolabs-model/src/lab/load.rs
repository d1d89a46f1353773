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
use crate::error::{ConfigError, ConfigErrors, Located};
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
/// The LabTemplates shipped in the repository's `templates/`, built in: what `serve`,
/// `up --simulate` and the tests start when no template directory is given.
pub const SHIPPED_TEMPLATES: [(&str, &str); 3] = [
    ("templates/linux-basics.yaml", include_str!("../../../../templates/linux-basics.yaml")),
    ("templates/python-internet.yaml", include_str!("../../../../templates/python-internet.yaml")),
    ("templates/web-dev.yaml", include_str!("../../../../templates/web-dev.yaml")),
];

/// [`SHIPPED_TEMPLATES`], loaded and checked against `platform`.
pub fn shipped_templates(platform: &Platform) -> Result<Templates, ConfigErrors> {
    load_templates(&SHIPPED_TEMPLATES, platform)
}

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
    let doc = yaml::parse_one(text).map_err(|e| ConfigErrors::from_yaml(file, &e))?;
    let mut errors = Located::new(file, &doc.locations, "the LabTemplate fields");
    let Value::Object(top) = &doc.value else {
        errors.push(
            "",
            "a lab template must be a YAML mapping with apiVersion, kind, metadata and spec",
            None,
        );
        return Err(errors.finish());
    };
    errors.unknown_top_level_keys(top);
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
    if errors.is_empty() { Ok((template, doc.locations.clone())) } else { Err(errors.finish()) }
}
