//! MassTransit's kill switch: watches the outcome of every message the consumers handle (after in-memory retries)
//! and, once `activation_threshold` of them fell within `tracking_period` and more than `trip_threshold` of those
//! failed, stops every consumer (no new deliveries; the prefetched ones go back to the queue) for
//! `restart_timeout`, then resumes consumption and starts counting afresh.

use super::engine::Engine;
use super::events::Ev;
use super::window::Window;
use crate::scenario::KillSwitchCfg;
use crate::time::Nanos;

/// The tracking period is counted in this many buckets.
const BUCKETS: u64 = 10;

#[derive(Clone, Debug)]
pub struct KillSwitch {
    activation: u64,
    trip: f64,
    tracking: Nanos,
    restart: Nanos,
    /// Counts 0: messages handled; 1: of those, failed.
    window: Window,
    /// Since when the consumers are stopped, while they are.
    stopped_since: Option<Nanos>,
    stopped_ns: Nanos,
    pub trips: u64,
}

impl KillSwitch {
    pub fn new(cfg: &KillSwitchCfg) -> KillSwitch {
        KillSwitch {
            activation: u64::from(cfg.activation_threshold),
            trip: cfg.trip_threshold,
            tracking: cfg.tracking_period.ns(),
            restart: cfg.restart_timeout.ns(),
            window: Window::new(cfg.tracking_period.ns(), BUCKETS),
            stopped_since: None,
            stopped_ns: 0,
            trips: 0,
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped_since.is_some()
    }

    /// A message's handling ended (completed, or failed once retries were spent). Returns true when this outcome
    /// trips the switch.
    pub fn record(&mut self, now: Nanos, success: bool) -> bool {
        if self.is_stopped() {
            return false;
        }
        self.window.add(now, 0);
        if !success {
            self.window.add(now, 1);
        }
        let [handled, failed] = self.window.totals(now);
        if handled < self.activation || failed as f64 <= self.trip * handled as f64 {
            return false;
        }
        self.trips += 1;
        self.stopped_since = Some(now);
        self.window = Window::new(self.tracking, BUCKETS);
        true
    }

    fn restart(&mut self, now: Nanos) {
        if let Some(since) = self.stopped_since.take() {
            self.stopped_ns += now.saturating_sub(since);
        }
    }

    /// Time the consumers spent stopped, up to `now`.
    pub fn stopped_time(&self, now: Nanos) -> Nanos {
        self.stopped_ns + self.stopped_since.map_or(0, |since| now.saturating_sub(since))
    }
}

impl Engine<'_> {
    /// Hands the breakers' time open and the kill switch's figures to the recorder (the run ends now).
    pub(super) fn record_resilience(&mut self) {
        let now = self.now;
        let own = self.consumers.iter().filter_map(|c| c.breaker.as_ref());
        let open: Nanos = self.breaker.iter().chain(own).map(|b| b.open_time(now)).sum();
        let (trips, stopped) = self.kill_switch.as_ref().map_or((0, 0), |k| (k.trips, k.stopped_time(now)));
        self.rec.resilience(open, trips, stopped);
    }

    /// Whether the kill switch holds the consumers stopped now.
    pub(super) fn kill_switch_stopped(&self) -> bool {
        self.kill_switch.as_ref().is_some_and(KillSwitch::is_stopped)
    }

    /// A message's handling ended: the kill switch (if any) counts it, and may stop the consumers.
    pub(super) fn kill_switch_outcome(&mut self, success: bool) {
        let now = self.now;
        let Some(k) = &mut self.kill_switch else { return };
        if !k.record(now, success) {
            return;
        }
        let restart = k.restart;
        for c in 0..self.consumers.len() as u32 {
            let con = &mut self.consumers[c as usize];
            con.resume_when_idle = false;
            if con.life == super::consumer::Life::Running {
                self.stop_consuming(c);
            }
        }
        self.q.push(now.saturating_add(restart), Ev::KillSwitchRestart);
    }

    /// The restart timeout is over: every running consumer consumes again (one still finishing a delivery once it
    /// is done).
    pub(super) fn kill_switch_restart(&mut self) {
        let now = self.now;
        let Some(k) = &mut self.kill_switch else { return };
        k.restart(now);
        let prefetch = self.cfg.consumers.prefetch;
        for c in 0..self.consumers.len() as u32 {
            let con = &mut self.consumers[c as usize];
            if con.life != super::consumer::Life::Running {
                continue;
            }
            if con.busy > 0 {
                con.resume_when_idle = true;
            } else {
                self.broker.open_consumer(now, c, prefetch, &mut self.out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Dur;

    const S: u64 = 1_000_000_000;

    #[test]
    fn trips_above_the_ratio_once_activated_and_counts_the_time_stopped() {
        let cfg = KillSwitchCfg {
            activation_threshold: 10,
            trip_threshold: 0.15,
            tracking_period: Dur(60 * S),
            restart_timeout: Dur(60 * S),
        };
        let mut k = KillSwitch::new(&cfg);
        // 9 failures: all failed, but fewer than 10 messages handled
        for i in 0..9 {
            assert!(!k.record(i, false));
        }
        assert!(k.record(9, true), "10 handled, 9 failed: 90% > 15%");
        assert!(k.is_stopped());
        assert!(!k.record(10, false), "stopped: nothing is counted");
        k.restart(60 * S + 9);
        assert_eq!(k.stopped_time(100 * S), 60 * S);
        // afresh: 17 successes and 3 failures are 15%, not above it
        for i in 0..17 {
            assert!(!k.record(61 * S + i, true));
        }
        for i in 0..3 {
            assert!(!k.record(62 * S + i, false));
        }
        assert!(k.record(63 * S, false), "4 of 21 failed: 19% > 15%");
        assert_eq!(k.trips, 2);
        assert_eq!(k.stopped_time(64 * S), 61 * S);
    }
}
