//! One module per subcommand.

pub mod baseline;
pub mod compare;
pub mod dlq;
pub mod gate;
pub mod repeat;
pub mod report;
pub mod run;
pub mod target;
pub mod validate;
