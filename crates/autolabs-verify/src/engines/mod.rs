//! Adapters: each reads the [`ObjectSet`](crate::ObjectSet), calls one pure engine crate, and
//! turns its answers into [`Finding`](crate::Finding)s with file and line.

pub mod alerts;
pub mod backup;
pub mod components;
pub mod deprecations;
pub mod hygiene;
pub mod netpol;
pub mod pss;
pub mod rbac;
pub mod resources;
pub mod variables;
