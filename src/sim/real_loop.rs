//! The engine's loop on a real broker: the same handlers as in virtual time, driven by the wall clock. The loop
//! waits for "the next timer deadline or the next broker event", whichever comes first, on the broker's event
//! channel (never sleeping past a delivery), handles due timers first, and ends when every message has an outcome,
//! the duration runs out, nothing happens for the drain timeout, a `[limits]` bound is reached, a signal arrives or
//! the broker fails.

use super::engine::{Ended, Engine, Finished};
use super::events::Ev;
use super::interrupt;
use crate::broker::real::EndReason;
use crate::scenario::limits::LimitHit;
use std::time::{Duration, Instant};

/// The longest the loop waits without looking up (signals, drain, progress), wall clock.
const LOOK_UP: Duration = Duration::from_millis(50);
/// Due timers handled one after another before the loop takes in what the broker sent meanwhile.
const TIMERS_BEFORE_EVENTS: u32 = 64;
/// Progress reports on a real clock, wall clock.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The loop sleeps in `recv_timeout` until its next timer: ask Linux for exact wake-ups (the default timer slack
/// of 50 us would make every timer, the producer's publish times included, that much late).
fn precise_wakeups() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only affects the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

impl Engine<'_> {
    pub(super) fn run_real(mut self, progress: &mut dyn FnMut(super::Progress)) -> std::io::Result<Finished> {
        let Some(clock) = self.broker.real().map(|r| r.clock()) else {
            return Err(std::io::Error::other("run_real needs a real broker"));
        };
        let drain_timeout = Duration::from_nanos(self.cfg.broker.drain_timeout.ns());
        precise_wakeups();
        let produce_only = self.cfg.consumers.count == 0 && self.cfg.autoscale.is_none();
        self.start();
        let mut last_activity = Instant::now();
        let mut next_progress = Instant::now();
        let mut timers_in_a_row = 0;
        let max_events = self.cfg.limits.max_events(self.cfg.messages);
        let mut limit = None;
        let reason = loop {
            if let Some(sig) = interrupt::received() {
                break EndReason::Interrupted(sig);
            }
            let Some(real) = self.broker.real() else { break EndReason::Fatal("the broker went away".into()) };
            if let Some(why) = real.fatal() {
                break EndReason::Fatal(why);
            }
            let all_published = self.produced_all && !self.publish_held;
            if all_published && (self.rec.open_messages() == 0 || (produce_only && real.drained())) {
                break EndReason::Completed;
            }
            if self.publish_held && real.can_publish() {
                let t = clock.now().max(self.now);
                self.advance(t)?;
                self.publish_now();
                self.settle();
                last_activity = Instant::now();
                continue;
            }
            let wall_now = clock.now();
            if wall_now >= self.stop_at {
                self.advance(self.stop_at.max(self.now))?;
                if self.cfg.duration.is_some() {
                    break EndReason::DurationLimit;
                }
                let hit = LimitHit::ScenarioTime { max: self.cfg.limits.max_scenario_time() };
                let why = hit.key().to_string();
                limit = Some(hit);
                break EndReason::Limit(why);
            }
            if self.events >= max_events {
                let hit = LimitHit::Events { max: max_events };
                let why = hit.key().to_string();
                limit = Some(hit);
                break EndReason::Limit(why);
            }
            match self.q.peek_time() {
                // Due timers first, but not for ever: a loop far behind its timers still takes in broker events.
                Some(t) if t <= wall_now && timers_in_a_row < TIMERS_BEFORE_EVENTS => {
                    timers_in_a_row += 1;
                    self.advance(t.max(self.now))?;
                    if let Some((_, ev)) = self.q.pop() {
                        self.events += 1;
                        if ev != Ev::AutoscalePoll {
                            last_activity = Instant::now();
                        }
                        self.handle(ev);
                        self.settle();
                    }
                    continue;
                }
                next => {
                    timers_in_a_row = 0;
                    let look_up = wall_now.saturating_add(clock.span(LOOK_UP));
                    let deadline = next.map_or(look_up, |t| t.min(look_up)).min(self.stop_at);
                    real.wait(deadline, &mut self.out);
                    if !self.out.is_empty() {
                        self.events += self.out.len() as u64;
                        self.advance(clock.now().max(self.now))?;
                        self.settle();
                        last_activity = Instant::now();
                    }
                }
            }
            if Instant::now() >= next_progress {
                progress(self.progress());
                next_progress = Instant::now() + PROGRESS_EVERY;
            }
            // Drained: nothing happened for the drain timeout and nothing is pending. A delayed copy not yet due
            // (or due less than the drain timeout ago) is pending however long it takes; a confirm still
            // outstanding gets six times as long (a blocked connection can hold it, but not forever). Produce-only
            // runs wait for the user's consumers instead: they end drained, or at `duration`.
            let idle = last_activity.elapsed();
            if all_published && !produce_only && idle >= drain_timeout && !self.q.has_any(|ev| ev != Ev::AutoscalePoll)
            {
                let (quiet, expecting) =
                    self.broker.real().map_or((true, false), |r| (r.quiet(), r.expecting_more(drain_timeout)));
                if !expecting && (quiet || idle >= drain_timeout * 6) {
                    break EndReason::DrainTimeout;
                }
            }
        };
        if reason != EndReason::Completed && reason != EndReason::DurationLimit {
            self.advance(clock.now().clamp(self.now, self.stop_at.max(self.now)))?;
        }
        progress(self.progress());
        self.record_resilience();
        self.end_held_publish();
        let gauges = self.gauges();
        let produced = self.rec.produced_count();
        let rec = &self.rec;
        let report = match self.broker.real() {
            Some(real) => real.finish(&reason, produced, &|id| rec.is_finished(id)),
            None => Default::default(),
        };
        let by_limit = reason == EndReason::DurationLimit;
        let ended = Ended {
            at: self.now,
            by_limit,
            limit,
            signal: None,
            events: self.events,
            mean_queue_len: 0.0,
            mean_heap_len: 0.0,
            gauges,
        };
        let depths = self.broker.depths();
        Ok(Finished { ended, rec: self.rec, depths, downstream: self.downstream, real: Some(report) })
    }
}
