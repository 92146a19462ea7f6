//! `broker-restart`: `rabbitmqctl stop_app`, and `start_app` once the fault's window has passed. Durable queues and
//! their persistent messages survive; every connection is closed (the run reconnects). It acts on the whole broker.

use super::{BrokerFault, Cx};

/// What it runs, for the plan printed before the run.
pub const PLAN: &[&str] = &["rabbitmqctl stop_app", "rabbitmqctl start_app"];

#[derive(Default)]
pub struct BrokerRestart {
    stopped: bool,
}

impl BrokerFault for BrokerRestart {
    fn start(&mut self, cx: &mut Cx) -> Result<(), String> {
        // Counted as stopped before the call: a stop that timed out may still have stopped it.
        self.stopped = true;
        cx.ctl.run(&["stop_app"], cx.log).map(|_| ())
    }
    fn end(&mut self, cx: &mut Cx) -> Result<(), String> {
        if !self.stopped {
            return Ok(());
        }
        cx.ctl.run(&["start_app"], cx.log)?;
        self.stopped = false;
        Ok(())
    }
    fn active(&self) -> bool {
        self.stopped
    }
}
