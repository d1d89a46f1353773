//! Loading `platform.yaml`: YAML → typed [`Platform`], with every problem reported at once,
//! each naming the file, line and field and saying how to fix it.
//!
//! serde stops at the first error of a value, so each section of `spec` is deserialized on
//! its own (a type error in `labs` does not hide an unknown field in `backup`); then the
//! semantic checks of [`crate::validate`] run over the whole config.

use serde_json::Value;

use autolabs_k8s::yaml;

use crate::error::{ConfigErrors, Located};
use crate::platform::{API_VERSION, KIND, Platform, PlatformSpec};
use crate::validate;

/// Parses and validates a `platform.yaml` text; `file` is used in messages only.
///
/// ```
/// let errors = autolabs_model::load_platform("kind: Cluster\n", "platform.yaml").unwrap_err();
/// assert!(errors.to_string().contains("platform.yaml"), "{errors}");
/// ```
pub fn load_platform(text: &str, file: &str) -> Result<Platform, ConfigErrors> {
    load(text, file, true)
}

/// [`load_platform`] without the capacity check (whether the nodes hold the students): for
/// `autolabs plan`, whose job is that arithmetic — the check's own hint sends users there.
pub fn load_platform_for_planning(text: &str, file: &str) -> Result<Platform, ConfigErrors> {
    load(text, file, false)
}

fn load(text: &str, file: &str, check_capacity: bool) -> Result<Platform, ConfigErrors> {
    let doc = yaml::parse_one(text).map_err(|e| ConfigErrors::from_yaml(file, &e))?;
    let mut errors = Located::new(file, &doc.locations, "`autolabs schema`");
    let Value::Object(top) = &doc.value else {
        errors.push(
            "",
            "the file must be a YAML mapping with apiVersion, kind, metadata and spec",
            Some(starter_hint()),
        );
        return Err(errors.finish());
    };

    errors.unknown_top_level_keys(top);
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
    // Sections that do not deserialize are reported, then left at their defaults so the
    // semantic checks still run over every other section (their findings inside a broken
    // section would only echo the defaults, so those are dropped).
    let mut good = serde_json::Map::new();
    let mut broken: Vec<String> = Vec::new();
    if let Value::Object(map) = &spec_value {
        for (key, value) in map {
            let mut one = serde_json::Map::new();
            one.insert(key.clone(), value.clone());
            if errors.deserialize::<PlatformSpec>("spec", Value::Object(one)).is_some() {
                good.insert(key.clone(), value.clone());
            } else {
                broken.push(yaml::join_key("spec", key));
            }
        }
    }
    let spec = errors.deserialize::<PlatformSpec>("spec", Value::Object(good));

    let (Some(metadata), Some(spec)) = (metadata, spec) else {
        return Err(errors.finish());
    };
    let platform = Platform { api_version: API_VERSION.into(), kind: KIND.into(), metadata, spec };
    // The capacity check needs every section read; planning leaves it to `plan`.
    let complete = broken.is_empty() && errors.is_empty() && check_capacity;
    for (field, message, hint) in validate::check(&platform, complete) {
        if !broken.iter().any(|b| {
            field == *b || field.starts_with(&format!("{b}.")) || field.starts_with(&format!("{b}["))
        }) {
            // A field the file does not hold is located at its nearest written parent; say
            // that its value is a default, so the user knows to add the field, not edit a line.
            let message = if doc.locations.get(&field).is_some() {
                message
            } else {
                format!(
                    "{message} ({field} is not in the file: this is its default for profile {})",
                    platform.spec.profile.as_str()
                )
            };
            errors.push(&field, &message, hint);
        }
    }
    if errors.is_empty() { Ok(platform) } else { Err(errors.finish()) }
}

fn starter_hint() -> String {
    "run `autolabs init` to write a commented starting file".into()
}
