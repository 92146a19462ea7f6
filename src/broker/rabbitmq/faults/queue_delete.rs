//! `queue-delete`: the run's work queue deleted under it (`rabbitmqctl delete_queue`); what it held is gone and the
//! run ends (exit 3) with a complete report.

use super::{BrokerFault, Cx};

/// What it runs, for the plan printed before the run.
pub const PLAN: &[&str] = &["rabbitmqctl delete_queue -p <vhost> <the run's work queue>"];

pub struct QueueDelete;

impl BrokerFault for QueueDelete {
    fn start(&mut self, cx: &mut Cx) -> Result<(), String> {
        let (vhost, queue) = (cx.vhost.to_string(), cx.queue.to_string());
        cx.ctl.run(&["delete_queue", "-p", &vhost, &queue], cx.log).map(|_| ())
    }
}
