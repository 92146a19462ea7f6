//! loadtest: a load-testing and chaos-simulation harness for message brokers (retry storms, DLQs, backlog drain).

pub mod amqp_url;
pub mod broker;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod dist;
pub mod dlq;
pub mod exit;
pub mod export;
pub mod gate;
pub mod habits;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod out;
pub mod plan;
pub mod progress;
pub mod proxy;
pub mod record;
pub mod report;
pub mod scenario;
pub mod secret;
pub mod sim;
pub mod time;
