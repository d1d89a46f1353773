//! `autolabs verify`: one object set from any input, every engine over it, one kind of finding.
//!
//! - [`objects`]: an [`ObjectSet`] is what every engine reads, whether it came from files,
//!   a directory, standard input, a `kubectl get -o yaml` list, `render`, or a live cluster.
//!   Each [`Object`] keeps where it came from, so each finding can name a file and line.
//! - [`finding`]: the one [`Finding`] type, with severity and the object it is about.
//! - [`report`]: table, JSON, SARIF 2.1.0 and JUnit renderings of findings.
#![forbid(unsafe_code)]

pub mod connlist;
pub mod diff;
pub mod engines;
pub mod finding;
pub mod intent;
pub mod intent_file;
pub mod objects;
pub mod report;
pub mod run;
pub mod strict;
pub mod synthetic;

pub use finding::{Finding, Severity};
pub use objects::{LoadError, Object, ObjectSet, ReadOptions};
pub use run::{Engine, Options, Report, run};
