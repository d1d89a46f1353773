//! Pure Kubernetes foundations shared by every autolabs engine.
//!
//! Nothing here does I/O. The engines (`autolabs-pss`, `autolabs-rbac`,
//! `autolabs-resources`, `autolabs-netpol`) and the model build on three things:
//!
//! - [`k8s`]: the k8s-openapi types under short paths, so code reads `k8s::Pod`;
//! - [`quantity`]: exact `resource.Quantity` parsing, arithmetic and canonical printing;
//! - [`selector`] and [`names`]: label selectors and the name/label syntax rules of
//!   `k8s.io/apimachinery/pkg/util/validation`;
//! - [`cron`]: CronJob schedules as the API server and the CronJob controller read them;
//! - [`yaml`]: YAML/JSON documents with a field path → line map, for located errors;
//! - [`resource_names`]: the names of Kubernetes resources (kinds, plurals) in one table.
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cron;
pub mod k8s;
pub mod names;
pub mod quantity;
pub mod resource_names;
pub mod selector;
pub mod yaml;

pub use quantity::{Quantity, QuantityError};
pub use selector::{Selector, SelectorError};
