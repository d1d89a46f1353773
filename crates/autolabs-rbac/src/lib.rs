//! An RBAC authorizer with Kubernetes' exact semantics: can-i, who-can, escalation findings,
//! and the default bootstrap policy built in.
//!
//! The model, module by module:
//! - [`Policy`] holds the RBAC objects (k8s-openapi types); [`Policy::bootstrap`] is the default
//!   policy of every cluster, [`Policy::with`] layers the user's objects on top.
//! - [`Authorizer::new`] validates a policy like the API server does, resolves aggregated
//!   ClusterRoles like the aggregation controller does, and indexes the bindings;
//!   [`Authorizer::authorize`] then answers like the API server's RBAC authorizer: the first
//!   matching rule wins and is reported as a [`Grant`] chain (binding → role → rule), otherwise
//!   RBAC has no opinion. [`Authorizer::who_can`] and [`Authorizer::rules_for`] answer the
//!   reverse questions.
//! - [`rules`] holds the single-rule matching helpers (`VerbMatches`, `ResourceMatches`…).
//! - [`can_i`] turns `kubectl auth can-i` arguments into request [`Attributes`].
//! - [`escalation`] lists grants that let a subject gain more power than it was given.
//! - [`request`] holds who asks ([`UserInfo`]) and what for ([`Attributes`]); [`policy`] the
//!   objects; [`authorizer`] the decision; [`bootstrap`] the default policy every cluster
//!   has; [`error`] the crate's one error type, [`RbacError`].
//!
//! Nothing here does I/O.
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod aggregation;
pub mod authorizer;
pub mod bootstrap;
pub mod can_i;
pub mod error;
pub mod escalation;
pub mod policy;
pub mod request;
pub mod rules;
#[cfg(test)]
mod testutil;

pub use authorizer::{Authorizer, BindingKind, BindingRef, Decision, Grant, RoleId, RoleKind, WhoCan};
pub use autolabs_k8s::k8s;
pub use can_i::{CanIRequest, parse_can_i};
pub use error::{FieldProblem, RbacError};
pub use escalation::{Capability, Finding, ServiceAccountExposure};
pub use policy::{Policy, PolicyObject};
pub use request::{Attributes, UserInfo};
