//! One module per subcommand.

pub mod apply;
pub mod backup;
pub mod bench;
pub mod bench_apply;
pub mod bench_labs;
pub mod bench_labs_real;
pub mod config;
pub mod connlist;
pub mod diff;
pub mod dump;
pub mod explain;
pub mod init;
pub mod inputs;
pub mod lab;
pub mod plan;
pub mod progress;
pub mod rbac;
pub mod render;
pub mod schema;
pub mod serve;
pub mod up;
pub mod upgrade;
pub mod verify;
