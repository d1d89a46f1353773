//! Loading `platform.yaml`: YAML → typed [`Platform`], with every problem reported at once,
//! each naming the file, line and field and saying how to fix it.
//!
//! serde stops at the first error of a value, so each section of `spec` is deserialized on
//! its own (a type error in `labs` does not hide an unknown field in `backup`); then the
//! semantic checks of [`crate::validate`] run over the whole config.

use serde_json::Value;

use autolabs_k8s::yaml::{self, Locations};

use crate::error::{ConfigError, ConfigErrors};
use crate::platform::{API_VERSION, KIND, Platform, PlatformSpec};
use crate::validate;

/// Parses and validates a `platform.yaml` text; `file` is used in messages only.
pub fn load_platform(text: &str, file: &str) -> Result<Platform, ConfigErrors> {
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
            "the file must be a YAML mapping with apiVersion, kind, metadata and spec",
            Some(starter_hint()),
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
    match top.get("apiVersion") {
        Some(Value::String(v)) if v == API_VERSION => {}
        Some(v) => errors.push(
            "apiVersion",
            &format!("must be {API_VERSION:?}, found {v}"),
            Some(format!("write `apiVersion: {API_VERSION}`")),
        ),
        None => {
            errors.push("apiVersion", "missing", Some(format!("add `apiVersion: {API_VERSION}` at the top")))
        }
    }
    match top.get("kind") {
        Some(Value::String(v)) if v == KIND => {}
        Some(v) => errors.push(
            "kind",
            &format!("must be {KIND:?}, found {v}"),
            Some(format!("write `kind: {KIND}`")),
        ),
        None => errors.push("kind", "missing", Some(format!("add `kind: {KIND}` at the top"))),
    }

    let metadata = match top.get("metadata") {
        None | Some(Value::Null) => Some(Default::default()),
        Some(v) => errors.deserialize("metadata", v.clone()),
    };

    // Each spec section alone, so that all of them report their errors.
    let spec_value = match top.get("spec") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            errors.push(
                "spec",
                "must be a mapping",
                Some("write `spec:` followed by indented fields, or `spec: {}`".into()),
            );
            Value::Object(Default::default())
        }
    };
    let mut sections_ok = true;
    if let Value::Object(map) = &spec_value {
        for (key, value) in map {
            let mut one = serde_json::Map::new();
            one.insert(key.clone(), value.clone());
            if errors.deserialize::<PlatformSpec>("spec", Value::Object(one)).is_none() {
                sections_ok = false;
            }
        }
    }
    let spec = if sections_ok { errors.deserialize::<PlatformSpec>("spec", spec_value) } else { None };

    let (Some(metadata), Some(spec)) = (metadata, spec) else {
        return Err(errors.finish());
    };
    let platform = Platform { api_version: API_VERSION.into(), kind: KIND.into(), metadata, spec };
    for (field, message, hint) in validate::check(&platform) {
        errors.push(&field, &message, hint);
    }
    if errors.list.is_empty() { Ok(platform) } else { Err(errors.finish()) }
}

fn starter_hint() -> String {
    "run `autolabs init` to write a commented starting file".into()
}

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
        Some("remove it, or check its spelling against `autolabs schema`".into())
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
