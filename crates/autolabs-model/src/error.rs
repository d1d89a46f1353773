//! The crate's errors: every problem of a config or template names its file, line and field.

use std::fmt;

/// One problem in a config or template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the position is unknown.
    pub line: u32,
    pub column: u32,
    /// Dotted path of the field (`spec.labs.students`); empty for the whole file.
    pub field: String,
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// All problems found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        if n > 1 {
            write!(f, "\n{n} errors")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// A file that is not YAML at all: one error at the parser's position.
    pub fn from_yaml(file: &str, e: &autolabs_k8s::yaml::YamlError) -> Self {
        ConfigErrors(vec![ConfigError {
            file: file.into(),
            line: e.pos.line,
            column: e.pos.column,
            field: String::new(),
            message: format!("not valid YAML: {}", e.message),
            // A limit (size, depth, aliases) is not a syntax mistake: its message says what to do.
            hint: (!e.message.starts_with("this document cannot be read"))
                .then(|| "fix the YAML syntax at this position".into()),
        }])
    }
}

/// The model crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot serialize {what}: {message}")]
    Serialize { what: String, message: String },
}

/// Collects every problem of one file, each located through the document's field positions.
/// Shared by every loader (platform.yaml, LabTemplates, intent files) so they word and
/// locate errors the same way.
pub struct Located<'a> {
    file: &'a str,
    locations: &'a autolabs_k8s::yaml::Locations,
    list: Vec<ConfigError>,
    /// Where to look up valid field names, for the "unknown field" hint.
    fields_hint: &'static str,
}

impl<'a> Located<'a> {
    pub fn new(
        file: &'a str,
        locations: &'a autolabs_k8s::yaml::Locations,
        fields_hint: &'static str,
    ) -> Self {
        Located { file, locations, list: Vec::new(), fields_hint }
    }

    /// Records a problem at `field` (a dotted path).
    pub fn push(&mut self, field: &str, message: &str, hint: Option<String>) {
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

    /// Records every top-level key other than the four of a Kubernetes-style document
    /// (`platform.yaml` and LabTemplate files alike).
    pub fn unknown_top_level_keys(&mut self, top: &serde_json::Map<String, serde_json::Value>) {
        for key in top.keys() {
            if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec") {
                self.push(
                    key,
                    &format!("unknown field `{key}`"),
                    Some("the top level has only apiVersion, kind, metadata and spec".into()),
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Deserializes `value` (found at `prefix`), recording a located error on failure.
    pub fn deserialize<T: serde::de::DeserializeOwned>(
        &mut self,
        prefix: &str,
        value: serde_json::Value,
    ) -> Option<T> {
        use autolabs_k8s::yaml;
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
                let hint = self.hint_for(&message);
                self.push(&path, &message, hint);
                None
            }
        }
    }

    fn hint_for(&self, message: &str) -> Option<String> {
        if message.starts_with("unknown field") {
            Some(format!("remove it, or check its spelling against {}", self.fields_hint))
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

    /// All problems, in file order.
    pub fn finish(mut self) -> ConfigErrors {
        self.list.sort_by(|a, b| (a.line, a.column, &a.field).cmp(&(b.line, b.column, &b.field)));
        self.list.dedup();
        ConfigErrors(self.list)
    }
}
