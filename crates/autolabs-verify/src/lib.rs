//! `autolabs verify`: one object set from any input, every engine over it, one kind of finding.
//!
//! - [`objects`]: an [`ObjectSet`] is what every engine reads, whether it came from files,
//!   a directory, standard input, a `kubectl get -o yaml` list, `render`, or a live cluster.
//!   Each [`Object`] keeps where it came from, so each finding can name a file and line.
//! - [`strict`]: strict decoding, so an object the engines cannot read is an error, never
//!   dropped without a word; with the API server's own required values for the objects that
//!   carry a pod (`pod_validation`), so a Pod without a `spec` is refused as the server refuses it.
//! - [`run`]: `verify` as a library call: [`run()`] runs the chosen [`Engine`]s (each declares
//!   the kinds it reads) over an [`ObjectSet`] into a [`Report`]; also the rendered baseline
//!   as an object set ([`run::rendered_set`]) and the platform's nodes ([`run::nodes_of`]).
//! - [`engines`]: one adapter per engine, from the object set to the engine crate and back to
//!   findings with file and line.
//! - [`intent`]: the isolation-matrix proof (the platform's flows, or [`intent_file`]'s)
//!   against what the NetworkPolicies allow.
//! - [`connlist`] and [`diff`]: allowed connections at workload granularity, and how they
//!   changed between two manifest sets (np-guard's formats).
//! - [`finding`]: the one [`Finding`] type, with severity and the object it is about.
//! - [`report`]: table, JSON, SARIF 2.1.0, JUnit and matrix (DOT, SVG, HTML) renderings.
//! - [`synthetic`]: deterministic synthetic clusters for the benchmarks.
#![forbid(unsafe_code)]
// A panic in a library is a silent way to fail: non-test code returns errors, or says with an
// allowed `expect` why it cannot fail.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod connlist;
pub mod diff;
pub mod engines;
pub mod finding;
pub mod intent;
pub mod intent_file;
pub mod objects;
mod pod_validation;
pub mod report;
pub mod run;
pub mod strict;
pub mod synthetic;

pub use finding::{Finding, Severity};
pub use objects::{LoadError, Object, ObjectSet, ReadOptions};
pub use run::{Engine, Options, Report, run};
