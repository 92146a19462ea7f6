//! One module per subcommand.

pub mod compare;
pub mod report;
pub mod run;
pub mod validate;
