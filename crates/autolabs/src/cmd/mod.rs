//! One module per subcommand.

pub mod config;
pub mod init;
pub mod render;
pub mod schema;
