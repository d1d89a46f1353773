//! The one error type of this crate.

use std::fmt;

/// One problem with one field of the input, named by its path (`clusterRoles[3].rules[0].verbs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Path of the offending field, rooted at the [`crate::Policy`] collection it came from.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldProblem {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldProblem { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RbacError {
    /// The policy holds objects a real API server would have rejected; every problem is listed.
    #[error("invalid RBAC policy: {}", join(problems))]
    InvalidPolicy { problems: Vec<FieldProblem> },
    /// A `kubectl auth can-i` style argument that cannot be turned into a request.
    #[error("invalid can-i argument {argument:?}: {message}")]
    InvalidCanIArgument { argument: String, message: String },
}

fn join(problems: &[FieldProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
