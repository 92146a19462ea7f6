//! `memory-alarm`: RabbitMQ's high memory watermark set near zero, so that the broker blocks every publishing
//! connection (`connection.blocked`), then the value read first put back. It acts on the whole broker: every
//! publisher of it is blocked meanwhile, not only this run's.

use super::{BrokerFault, Cx};

/// What it runs, for the plan printed before the run.
pub const PLAN: &[&str] = &[
    "rabbitmqctl eval 'vm_memory_monitor:get_vm_memory_high_watermark().'",
    "rabbitmqctl set_vm_memory_high_watermark 0.0000001",
    "rabbitmqctl set_vm_memory_high_watermark <the value read first>",
];

/// Low enough that any running broker is above it.
const TINY: &str = "0.0000001";

#[derive(Default)]
pub struct MemoryAlarm {
    /// The watermark found before, as `set_vm_memory_high_watermark` takes it; `Some` while the alarm is ours.
    previous: Option<Vec<String>>,
}

/// `0.4` -> ["0.4"]; `{absolute,1073741824}` -> ["absolute", "1073741824"].
fn parse(answer: &str) -> Option<Vec<String>> {
    let a = answer.trim();
    if let Some(inner) = a.strip_prefix("{absolute,").and_then(|r| r.strip_suffix('}')) {
        let n = inner.trim();
        return n.chars().all(|c| c.is_ascii_digit()).then(|| vec!["absolute".to_string(), n.to_string()]);
    }
    let f: f64 = a.parse().ok()?;
    (f > 0.0).then(|| vec![a.to_string()])
}

fn read(cx: &mut Cx) -> Result<Vec<String>, String> {
    let answer = cx.ctl.run(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."], cx.log)?;
    parse(&answer).ok_or_else(|| format!("cannot read the memory watermark from {:?}", answer.trim()))
}

impl BrokerFault for MemoryAlarm {
    fn start(&mut self, cx: &mut Cx) -> Result<(), String> {
        let previous = read(cx)?;
        self.previous = Some(previous);
        cx.ctl.run(&["set_vm_memory_high_watermark", TINY], cx.log).map(|_| ())
    }
    fn end(&mut self, cx: &mut Cx) -> Result<(), String> {
        let Some(previous) = self.previous.clone() else { return Ok(()) };
        let mut args = vec!["set_vm_memory_high_watermark"];
        args.extend(previous.iter().map(String::as_str));
        cx.ctl.run(&args, cx.log)?;
        let now = read(cx)?;
        if now != previous {
            return Err(format!("the watermark reads {now:?} after restoring {previous:?}"));
        }
        self.previous = None;
        Ok(())
    }
    fn active(&self) -> bool {
        self.previous.is_some()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn watermarks_parse_as_the_cli_prints_them() {
        assert_eq!(super::parse("0.4\n"), Some(vec!["0.4".into()]));
        assert_eq!(super::parse("{absolute,1073741824}"), Some(vec!["absolute".into(), "1073741824".into()]));
        assert_eq!(super::parse("{error,nope}"), None);
        assert_eq!(super::parse("0"), None);
    }
}
