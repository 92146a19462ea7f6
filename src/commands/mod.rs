//! One module per subcommand.

pub mod baseline;
pub mod compare;
pub mod completions;
pub mod dlq;
pub mod gate;
pub mod init;
pub mod pubsub;
pub mod repeat;
pub mod report;
pub mod run;
pub mod runs;
pub mod schema;
pub mod target;
pub mod validate;
