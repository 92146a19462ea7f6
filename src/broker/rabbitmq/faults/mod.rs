//! Broker faults on the run's timeline (`connection-kill`, `memory-alarm`, `broker-restart`, `queue-delete`): a
//! thread of their own runs each fault's `rabbitmqctl` commands when it is due (a CLI call takes seconds; the
//! engine's loop never waits for one), records when each took effect, and puts the broker back as it was found:
//! at the fault's end, when the run ends early, is interrupted or fails, and when the broker is dropped (a panic).
//! Only a SIGKILL of the harness can leave a fault in place. They run only with `--allow-commands`.

mod ctl;
mod kill;
mod memory_alarm;
mod queue_delete;
mod restart;

pub use ctl::Ctl;

use super::bridge::Shared;
use crate::broker::real::{CommandRun, FaultRun, RealClock};
use crate::scenario::Fault;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// What a fault needs to act.
pub struct Cx<'a> {
    pub ctl: &'a Ctl,
    pub log: &'a mut Vec<CommandRun>,
    pub run_id: &'a str,
    pub vhost: &'a str,
    pub queue: &'a str,
}

/// One broker fault: what it does when it starts, and how it is undone.
pub trait BrokerFault: Send {
    fn start(&mut self, cx: &mut Cx) -> Result<(), String>;
    /// Undoes the fault (nothing for an instant one); also called at the run's end while `active`.
    fn end(&mut self, _cx: &mut Cx) -> Result<(), String> {
        Ok(())
    }
    /// The broker is still changed by this fault.
    fn active(&self) -> bool {
        false
    }
}

/// Where the faults act.
pub struct Target {
    pub run_id: String,
    pub vhost: String,
    pub queue: String,
}

/// The faults' thread. Dropping it stops the thread and restores the broker.
pub struct Driver {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Vec<FaultRun>>>,
}

struct Planned {
    index: usize,
    label: &'static str,
    at: crate::time::Nanos,
    /// How long the broker stays changed once the fault has taken effect (scenario time); `None`: an instant.
    lasts: Option<crate::time::Nanos>,
    fault: Box<dyn BrokerFault>,
}

/// The commands a fault runs (empty for a fault that runs none), as the plan printed before the run.
pub fn plan(f: &Fault) -> &'static [&'static str] {
    match f {
        Fault::ConnectionKill { .. } => kill::PLAN,
        Fault::MemoryAlarm { .. } => memory_alarm::PLAN,
        Fault::BrokerRestart { .. } => restart::PLAN,
        Fault::QueueDelete { .. } => queue_delete::PLAN,
        _ => &[],
    }
}

fn planned(index: usize, f: &Fault) -> Option<Planned> {
    let (fault, lasts): (Box<dyn BrokerFault>, _) = match f {
        Fault::ConnectionKill { .. } => (Box::new(kill::ConnectionKill), None),
        Fault::MemoryAlarm { duration, .. } => (Box::<memory_alarm::MemoryAlarm>::default(), Some(duration.ns())),
        Fault::BrokerRestart { duration, .. } => (Box::<restart::BrokerRestart>::default(), Some(duration.ns())),
        Fault::QueueDelete { .. } => (Box::new(queue_delete::QueueDelete), None),
        _ => return None,
    };
    Some(Planned { index, label: f.label(), at: f.at().ns(), lasts, fault })
}

impl Driver {
    /// Starts the thread if the scenario has broker faults.
    pub fn start(faults: &[Fault], ctl: Ctl, target: Target, clock: RealClock, shared: Arc<Shared>) -> Option<Driver> {
        let planned: Vec<Planned> = faults.iter().enumerate().filter_map(|(i, f)| planned(i, f)).collect();
        if planned.is_empty() {
            return None;
        }
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("loadtest-faults".into())
            .spawn(move || drive(planned, &ctl, &target, clock, &shared, &stopped))
            .ok()?;
        Some(Driver { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops the thread (a command under way finishes first), undoes what is still in force, returns what ran.
    pub fn finish(&mut self) -> Vec<FaultRun> {
        drop(self.stop.take());
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.finish();
    }
}

enum Phase {
    Start,
    End,
}

fn drive(
    mut planned: Vec<Planned>,
    ctl: &Ctl,
    t: &Target,
    clock: RealClock,
    shared: &Shared,
    stopped: &mpsc::Receiver<()>,
) -> Vec<FaultRun> {
    let secs = |ns: crate::time::Nanos| (ns as f64 / 1e6).round() / 1e3;
    let mut runs: Vec<FaultRun> = planned
        .iter()
        .map(|p| FaultRun {
            index: p.index,
            kind: p.label.to_string(),
            planned_start_s: secs(p.at),
            ..Default::default()
        })
        .collect();
    let mut due: BinaryHeap<Reverse<(Instant, usize, u8)>> =
        planned.iter().enumerate().map(|(i, p)| Reverse((clock.instant(p.at), i, 0))).collect();
    while let Some(Reverse((when, i, phase))) = due.pop() {
        match stopped.recv_timeout(when.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
        let phase = if phase == 0 { Phase::Start } else { Phase::End };
        let (p, run) = (&mut planned[i], &mut runs[i]);
        let mut cx = Cx { ctl, log: &mut run.commands, run_id: &t.run_id, vhost: &t.vhost, queue: &t.queue };
        match phase {
            Phase::Start => {
                run.issued_s = Some(secs(clock.now()));
                run.unconfirmed_at_start = shared.in_flight();
                let result = p.fault.start(&mut cx);
                let now = clock.now();
                run.start_s = Some(secs(now));
                match &result {
                    Ok(()) => tracing::info!(fault = p.index, kind = p.label, at_s = secs(now), "fault started"),
                    Err(e) => tracing::warn!(fault = p.index, kind = p.label, error = %e, "fault failed to start"),
                }
                match result {
                    Ok(()) => match p.lasts {
                        Some(span) => due.push(Reverse((clock.instant(now.saturating_add(span)), i, 1))),
                        None => run.end_s = run.start_s,
                    },
                    Err(e) => {
                        run.error = Some(e);
                        // Half done (a stop that timed out, an alarm set and then an error): undo at once.
                        if p.fault.active() {
                            due.push(Reverse((Instant::now(), i, 1)));
                        }
                    }
                }
            }
            Phase::End => {
                let result = p.fault.end(&mut cx);
                run.end_s = Some(secs(clock.now()));
                if let Err(e) = result {
                    run.error.get_or_insert(e);
                }
            }
        }
    }
    // Stopped early (the run ended, was interrupted, failed): put the broker back.
    for (p, run) in planned.iter_mut().zip(runs.iter_mut()) {
        if p.fault.active() {
            let mut cx = Cx { ctl, log: &mut run.commands, run_id: &t.run_id, vhost: &t.vhost, queue: &t.queue };
            let result = p.fault.end(&mut cx);
            run.end_s = Some(secs(clock.now()));
            run.undone_at_run_end = true;
            if let Err(e) = result {
                run.error.get_or_insert(format!("restoring the broker failed: {e}"));
            }
        }
        run.restored = !p.fault.active();
    }
    runs
}

/// Whether a rabbitmqctl fault can work here: the CLI runs and reaches the node. Checked before the run starts.
pub fn check(ctl: &Ctl) -> Result<(), String> {
    let mut log = Vec::new();
    ctl.run(&["eval", "ok."], &mut log).map(|_| ()).map_err(|e| {
        format!(
            "the scenario's broker faults need rabbitmqctl on the broker's machine, and `{} eval ok.` failed: {e} \
             (run as a user that may use rabbitmqctl, e.g. root, or pass --rabbitmqctl PATH)",
            ctl.program()
        )
    })
}

/// The network faults as they ran on the proxy: their windows (as planned; the run's end cuts one short) and
/// what each toxic did (both directions of a `stream = "both"` toxic summed).
pub fn network_runs(plan: &[Fault], stats: &[crate::proxy::ToxicStats], end: crate::time::Nanos) -> Vec<FaultRun> {
    let secs = |ns: crate::time::Nanos| (ns as f64 / 1e6).round() / 1e3;
    let mut out = Vec::new();
    for (i, f) in plan.iter().enumerate() {
        let Fault::Network { at, .. } = f else { continue };
        let name = format!("faults[{i}]");
        let mut total: Option<crate::proxy::ToxicStats> = None;
        for s in stats.iter().filter(|s| s.name == name) {
            let t = total.get_or_insert_with(|| crate::proxy::ToxicStats {
                name: name.clone(),
                kind: s.kind.clone(),
                ..Default::default()
            });
            t.connections_affected += s.connections_affected;
            t.chunks_delayed += s.chunks_delayed;
            t.connections_reset += s.connections_reset;
            t.connections_closed += s.connections_closed;
            t.bytes_held += s.bytes_held;
        }
        let started = at.ns() <= end;
        let stop = f.end().map_or(end, |e| e.ns().min(end));
        out.push(FaultRun {
            index: i,
            kind: f.label().to_string(),
            planned_start_s: secs(at.ns()),
            start_s: started.then(|| secs(at.ns())),
            end_s: started.then(|| secs(stop)),
            restored: true,
            toxic: total,
            ..Default::default()
        });
    }
    out
}
