//! loadtest: a load-testing and chaos-simulation harness for message brokers (retry storms, DLQs, backlog drain).

pub mod dist;
pub mod scenario;
pub mod secret;
pub mod time;
