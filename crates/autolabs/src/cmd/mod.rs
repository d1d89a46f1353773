//! One module per subcommand.

pub mod bench;
pub mod config;
pub mod explain;
pub mod init;
pub mod rbac;
pub mod render;
pub mod schema;
pub mod verify;
