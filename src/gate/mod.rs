//! `loadtest gate`: checks a finished run against its thresholds and, optionally, a baseline run.

pub mod metric;
pub mod source;
pub mod threshold;
pub mod window;
