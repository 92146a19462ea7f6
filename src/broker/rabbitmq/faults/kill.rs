//! `connection-kill`: the broker closes this run's connections (found by the run id in their connection name,
//! never anyone else's) with `rabbitmqctl close_connection`; the run's tasks reconnect.

use super::{BrokerFault, Cx};

/// What it runs, for the plan printed before the run.
pub const PLAN: &[&str] = &[
    "rabbitmqctl list_connections pid client_properties",
    "rabbitmqctl close_connection <each connection of this run>",
];

pub struct ConnectionKill;

impl BrokerFault for ConnectionKill {
    fn start(&mut self, cx: &mut Cx) -> Result<(), String> {
        let listed =
            cx.ctl.run(&["list_connections", "-q", "--no-table-headers", "pid", "client_properties"], cx.log)?;
        let needle = format!("loadtest {} ", cx.run_id);
        let pids: Vec<&str> =
            listed.lines().filter(|l| l.contains(&needle)).filter_map(|l| l.split_whitespace().next()).collect();
        if pids.is_empty() {
            return Err(format!("no connection of run {} was found on the broker", cx.run_id));
        }
        for pid in pids {
            cx.ctl.run(&["close_connection", pid, "loadtest fault: connection-kill"], cx.log)?;
        }
        Ok(())
    }
}
