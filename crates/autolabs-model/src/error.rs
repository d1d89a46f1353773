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

/// The model crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot serialize {what}: {message}")]
    Serialize { what: String, message: String },
}
