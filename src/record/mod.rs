//! The one aggregator: every actor reports what happened here; it owns the histograms, the per-second series,
//! the episode detectors and the ledger. Memory stays flat: histograms and streamed rows, never a list of samples.

pub mod episodes;
pub mod hlog;
pub mod ledger;
pub mod ordering;
mod second;
pub mod series;

use crate::broker::{DeadLetterReason, Envelope};
use crate::scenario::FailureKind;
use crate::time::{Nanos, NS_PER_SEC};
use episodes::{Episode, Episodes, Recovery};
use hdrhistogram::Histogram;
use ledger::Ledger;
use series::{Row, SeriesWriter};
use std::collections::BTreeMap;

/// Highest latency the histograms track, in microseconds (30 days); larger values are clamped.
pub const MAX_US: u64 = 30 * 24 * 3600 * 1_000_000;

/// A first attempt counts as having waited (`p_wait`) when it started more than this long after its publish:
/// 1 ms, above a broker's own hand-over time, so that on a real broker it counts waiting for a free handler rather
/// than the hop; in virtual time a message that finds a free handler waits exactly 0.
pub const WAIT_EPSILON_NS: Nanos = 1_000_000;

/// Which attempt of a message this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptClass {
    First,
    /// In-memory retry number n (1-based).
    Retry(u32),
    Redelivery,
}

/// State sampled at the end of each second.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub ready: u64,
    pub unacked: u64,
    pub delayed: u64,
    pub dead: u64,
    pub in_flight: u64,
    pub in_system: u64,
    pub consumers: u64,
    pub capacity: f64,
    /// Circuit breakers not closed (open or half-open).
    pub breakers_open: u64,
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds are valid")
}

/// Everything the run measured, handed to the report.
pub struct Recorded {
    pub produced: u64,
    pub published: u64,
    pub refused: u64,
    pub completed: u64,
    pub dead_lettered: BTreeMap<&'static str, u64>,
    pub dead_skipped: u64,
    pub expired: u64,
    pub ledger: Ledger,
    pub attempts: [u64; 6],
    pub failures: [u64; 6],
    pub calls: u64,
    pub calls_failed: u64,
    pub latency: Histogram<u64>,
    pub latency_raw: Histogram<u64>,
    pub attempt_latency: Histogram<u64>,
    /// From the actual publish to the start of the message's first handler attempt (microseconds, 0 when a
    /// handler was free at once).
    pub queue_wait: Histogram<u64>,
    /// First attempts that waited longer than `WAIT_EPSILON_NS`.
    pub waited: u64,
    /// Time the producer had a due message it could not publish (the broker pushed back), and how often that began.
    pub producer_blocked_ns: Nanos,
    pub producer_blocks: u64,
    /// The furthest a publish went out behind its intended time.
    pub max_publish_lag_ns: Nanos,
    pub dead_letter_time: Histogram<u64>,
    pub peak_offered_per_s: u64,
    pub peak_ready: u64,
    pub peak_unacked: u64,
    pub peak_delayed: u64,
    pub peak_consumers: u64,
    pub min_consumers: u64,
    pub waves: Vec<Episode>,
    pub failure_episodes: Vec<Episode>,
    pub last_failure: Option<Nanos>,
    pub first_publish: Option<Nanos>,
    pub last_outcome: Option<Nanos>,
    pub recovery_s: Option<f64>,
    pub pre_fault_backlog: Option<u64>,
    pub rows: u64,
    pub breaker_opened: u64,
    /// Time the circuit breakers spent open or half-open, summed over the breakers (set at the end of the run).
    pub breaker_open_ns: Nanos,
    /// The kill switch's trips and the time the consumers spent stopped (set at the end of the run).
    pub kill_switch_trips: u64,
    pub kill_switch_stopped_ns: Nanos,
    /// Retries the retry budget refused (they took the path of an exhausted retry policy).
    pub budget_rejected: u64,
    /// Autoscaler decisions that added replicas, and that drained some.
    pub scale_ups: u64,
    pub scale_downs: u64,
    pub peek_lock: PeekLockCounts,
    /// Only with `producers.keys`: ordering violations and per-key lag.
    pub ordering: Option<ordering::OrderingFigures>,
}

/// What peek-lock (Service Bus semantics) did; all zero under RabbitMQ semantics.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeekLockCounts {
    /// Locks that ran out while a consumer held the message (the broker took it back).
    pub expired: u64,
    /// Handlers that started on a message whose lock had already run out in the prefetch buffer.
    pub expired_in_buffer: u64,
    /// Completes, abandons and dead-letters that failed because the lock was lost (MessageLockLost).
    pub settle_failed: u64,
    /// Of those, completes after a successful handler: the side effect happened, the broker delivers it again.
    pub completed_unsettled: u64,
    /// Messages dead-lettered although their side effect had already happened.
    pub dead_lettered_after_effect: u64,
}

pub struct Recorder {
    series: SeriesWriter,
    row: Row,
    /// The series has a `failed_throttled` column (adaptive throttling is configured).
    throttled_column: bool,
    /// The series has a `breakers_open` column (a circuit breaker is configured).
    breaker_column: bool,
    next_flush: Nanos,
    sec_latency: second::SecondLatency,
    nominal_capacity: f64,
    waves: Episodes,
    failure_eps: Episodes,
    recovery: Recovery,
    /// Only with `producers.keys`.
    ordering: Option<ordering::OrderingLedger>,
    r: Recorded,
}

impl Recorder {
    pub fn new(series: SeriesWriter, nominal_capacity: f64, episode_gap_s: u64, recovery: Recovery) -> Recorder {
        Recorder {
            series,
            row: Row::default(),
            throttled_column: false,
            breaker_column: false,
            next_flush: NS_PER_SEC,
            sec_latency: second::SecondLatency::default(),
            nominal_capacity,
            waves: Episodes::new(episode_gap_s),
            failure_eps: Episodes::new(episode_gap_s),
            recovery,
            ordering: None,
            r: Recorded {
                produced: 0,
                published: 0,
                refused: 0,
                completed: 0,
                dead_lettered: BTreeMap::new(),
                dead_skipped: 0,
                expired: 0,
                ledger: Ledger::default(),
                attempts: [0; 6],
                failures: [0; 6],
                calls: 0,
                calls_failed: 0,
                latency: new_histogram(),
                latency_raw: new_histogram(),
                attempt_latency: new_histogram(),
                queue_wait: new_histogram(),
                waited: 0,
                producer_blocked_ns: 0,
                producer_blocks: 0,
                max_publish_lag_ns: 0,
                dead_letter_time: new_histogram(),
                peak_offered_per_s: 0,
                peak_ready: 0,
                peak_unacked: 0,
                peak_delayed: 0,
                peak_consumers: 0,
                min_consumers: u64::MAX,
                waves: Vec::new(),
                failure_episodes: Vec::new(),
                last_failure: None,
                first_publish: None,
                last_outcome: None,
                recovery_s: None,
                pre_fault_backlog: None,
                rows: 0,
                breaker_opened: 0,
                breaker_open_ns: 0,
                kill_switch_trips: 0,
                kill_switch_stopped_ns: 0,
                budget_rejected: 0,
                scale_ups: 0,
                scale_downs: 0,
                peek_lock: PeekLockCounts::default(),
                ordering: None,
            },
        }
    }

    /// Adds the `failed_throttled` column to the series (only then: the files of other runs stay as they were).
    pub fn with_throttled_column(mut self) -> Recorder {
        self.throttled_column = true;
        self.row.failed_throttled = Some(0);
        self
    }

    /// Adds the `breakers_open` column to the series (only then, as for `with_throttled_column`).
    pub fn with_breaker_column(mut self) -> Recorder {
        self.breaker_column = true;
        self
    }

    /// Keeps the ordering ledger of keyed messages (`producers.keys`).
    pub fn with_ordering(mut self, keys: crate::scenario::keys::KeyMap) -> Recorder {
        self.ordering = Some(ordering::OrderingLedger::new(keys));
        self
    }

    /// The ordering ledger, when messages carry keys.
    pub fn ordering(&mut self) -> Option<&mut ordering::OrderingLedger> {
        self.ordering.as_mut()
    }

    /// True when time `now` has passed the end of the current second: call `flush` with the gauges first.
    #[inline]
    pub fn needs_flush(&self, now: Nanos) -> bool {
        now >= self.next_flush
    }

    /// Closes every second that ended at or before `now`, with the gauges as they stood then. Nothing happens
    /// between two calls, so after the first second closed here the rest are idle: they are closed at once.
    pub fn flush(&mut self, now: Nanos, g: &Gauges) -> std::io::Result<()> {
        if now < self.next_flush {
            return Ok(());
        }
        self.close_row(g, self.next_flush)?;
        if now >= self.next_flush {
            let idle = (now - self.next_flush) / NS_PER_SEC + 1;
            let (from, to) = (self.row.time_s, self.row.time_s + idle);
            let backlog = g.ready + g.unacked + g.delayed;
            // Peaks, minimums and episodes see nothing new in an idle second; the recovery sees its backlog.
            self.recovery.observe_idle(from, to, backlog);
            self.series.idle_until(to - 1)?;
            self.row = self.fresh_row(to);
            self.next_flush += idle * NS_PER_SEC;
        }
        Ok(())
    }

    /// An empty row for second `time_s` (with the throttled column's 0 when the series has that column).
    fn fresh_row(&self, time_s: u64) -> Row {
        Row { time_s, failed_throttled: self.throttled_column.then_some(0), ..Row::default() }
    }

    /// Closes the current second with the gauges `g`; `until` is its end (the run's end for a last partial one).
    fn close_row(&mut self, g: &Gauges, until: Nanos) -> std::io::Result<()> {
        let mut row = std::mem::take(&mut self.row);
        row.ready = g.ready;
        row.unacked = g.unacked;
        row.delayed = g.delayed;
        row.dlq = g.dead;
        row.in_flight = g.in_flight;
        row.in_system = g.in_system;
        row.consumers = g.consumers;
        row.breakers_open = self.breaker_column.then_some(g.breakers_open);
        row.capacity = (g.capacity * 1000.0).round() / 1000.0;
        if let Some(f) = self.sec_latency.close() {
            let ms = |us: u64| us as f64 / 1000.0;
            row.latency_p50_ms = Some(ms(f.p50));
            row.latency_p99_ms = Some(ms(f.p99));
            row.latency_max_ms = Some(ms(f.max));
        }
        let sec = row.time_s;
        self.series.close_latency_second(sec)?;
        self.r.peak_offered_per_s = self.r.peak_offered_per_s.max(row.offered);
        self.r.peak_ready = self.r.peak_ready.max(row.ready);
        self.r.peak_unacked = self.r.peak_unacked.max(row.unacked);
        self.r.peak_delayed = self.r.peak_delayed.max(row.delayed);
        self.r.peak_consumers = self.r.peak_consumers.max(row.consumers);
        self.r.min_consumers = self.r.min_consumers.min(row.consumers);
        let above =
            if self.nominal_capacity > 0.0 && row.offered as f64 > self.nominal_capacity { row.offered } else { 0 };
        self.waves.observe(sec, above);
        self.failure_eps.observe(sec, row.calls_failed);
        self.recovery.observe(sec, row.backlog(), until);
        self.series.write(row)?;
        self.row = self.fresh_row(sec + 1);
        self.next_flush += NS_PER_SEC;
        Ok(())
    }

    pub fn produced(&mut self) {
        self.r.produced += 1;
    }

    pub fn published(&mut self, now: Nanos, id: u64) {
        if let Some(o) = &mut self.ordering {
            o.published(id);
        }
        self.r.published += 1;
        self.row.published += 1;
        self.r.first_publish.get_or_insert(now);
    }

    pub fn refused(&mut self, id: u64) {
        if let Some(o) = &mut self.ordering {
            o.finished(id);
        }
        self.r.published -= 1;
        self.row.published -= 1;
        self.r.refused += 1;
    }

    pub fn attempt(&mut self, class: AttemptClass) {
        let i = match class {
            AttemptClass::First => 0,
            AttemptClass::Retry(n) => (n.clamp(1, 4)) as usize,
            AttemptClass::Redelivery => 5,
        };
        self.r.attempts[i] += 1;
        match i {
            0 => self.row.attempts_first += 1,
            1 => self.row.attempts_retry1 += 1,
            2 => self.row.attempts_retry2 += 1,
            3 => self.row.attempts_retry3 += 1,
            4 => self.row.attempts_retry4plus += 1,
            _ => self.row.attempts_redelivery += 1,
        }
    }

    /// A message's first handler attempt starts, `wait` after it was published.
    pub fn queue_wait(&mut self, wait: Nanos) {
        self.r.queue_wait.saturating_record(wait / 1000);
        if wait > WAIT_EPSILON_NS {
            self.r.waited += 1;
        }
    }

    /// The broker pushed back: the producer's due message waits.
    pub fn producer_held(&mut self) {
        self.r.producer_blocks += 1;
    }

    /// The producer was held back for `ns` (one stretch, from the due publish until it went out or the run ended).
    pub fn producer_blocked(&mut self, ns: Nanos) {
        self.r.producer_blocked_ns += ns;
    }

    /// A publish went out `lag` after its intended time.
    pub fn publish_lag(&mut self, lag: Nanos) {
        self.r.max_publish_lag_ns = self.r.max_publish_lag_ns.max(lag);
    }

    pub fn attempt_done(&mut self, took: Nanos, result: Result<(), FailureKind>) {
        self.r.attempt_latency.saturating_record((took / 1000).max(1));
        match result {
            Ok(()) => self.row.succeeded += 1,
            Err(kind) => {
                self.r.failures[kind.index()] += 1;
                match kind {
                    FailureKind::Transient => self.row.failed_transient += 1,
                    FailureKind::Timeout => self.row.failed_timeout += 1,
                    FailureKind::Validation => self.row.failed_validation += 1,
                    FailureKind::Poison => self.row.failed_poison += 1,
                    FailureKind::CircuitOpen => self.row.failed_circuit_open += 1,
                    FailureKind::Throttled => {
                        if let Some(n) = &mut self.row.failed_throttled {
                            *n += 1;
                        }
                    }
                }
            }
        }
    }

    pub fn call_offered(&mut self) {
        self.r.calls += 1;
        self.row.offered += 1;
    }

    /// A downstream call failed for overload or unavailability (not a business error such as validation).
    pub fn call_failed(&mut self, now: Nanos) {
        self.r.calls_failed += 1;
        self.row.calls_failed += 1;
        self.r.last_failure = Some(now);
    }

    pub fn side_effect(&mut self, msg: u64) {
        self.r.ledger.side_effect(msg);
    }

    /// Peek-lock counters (Service Bus semantics).
    pub fn peek_lock(&mut self) -> &mut PeekLockCounts {
        &mut self.r.peek_lock
    }

    /// The circuit breakers' time open and the kill switch's figures, at the end of the run.
    pub fn resilience(&mut self, breaker_open_ns: Nanos, kill_switch_trips: u64, kill_switch_stopped_ns: Nanos) {
        self.r.breaker_open_ns = breaker_open_ns;
        self.r.kill_switch_trips = kill_switch_trips;
        self.r.kill_switch_stopped_ns = kill_switch_stopped_ns;
    }

    pub fn breaker_opened(&mut self) {
        self.r.breaker_opened += 1;
    }

    /// The autoscaler changed the replica count: up (added replicas) or down (drained some).
    pub fn scaled(&mut self, up: bool) {
        if up {
            self.r.scale_ups += 1;
        } else {
            self.r.scale_downs += 1;
        }
    }

    pub fn budget_rejected(&mut self) {
        self.r.budget_rejected += 1;
    }

    /// A message was handled successfully. A second outcome for the same message (at-least-once delivery showing
    /// through, e.g. after a reconnect) counts as a duplicate, not as another completion.
    pub fn completed(&mut self, now: Nanos, env: &Envelope) {
        if !self.outcome(now, env.id) {
            return;
        }
        if let Some(o) = &mut self.ordering {
            o.completed(env.id);
        }
        self.r.completed += 1;
        self.row.completed += 1;
        let us = (now.saturating_sub(env.intended) / 1000).max(1);
        self.r.latency.saturating_record(us);
        self.sec_latency.record(us);
        self.series.latency(us);
        self.r.latency_raw.saturating_record((now.saturating_sub(env.published) / 1000).max(1));
    }

    pub fn dead_lettered(&mut self, now: Nanos, env: &Envelope, reason: DeadLetterReason) {
        if !self.outcome(now, env.id) {
            return;
        }
        *self.r.dead_lettered.entry(reason.as_str()).or_insert(0) += 1;
        if reason.skipped() {
            self.r.dead_skipped += 1;
        }
        self.row.dead_lettered += 1;
        if self.r.ledger.has_effect(env.id) {
            self.r.peek_lock.dead_lettered_after_effect += 1;
        }
        self.r.dead_letter_time.saturating_record((now.saturating_sub(env.intended) / 1000).max(1));
        self.series.dead_letter(now, env, reason);
    }

    pub fn expired(&mut self, now: Nanos, env: &Envelope) {
        if !self.outcome(now, env.id) {
            return;
        }
        self.r.expired += 1;
        self.row.expired += 1;
    }

    /// Records the outcome in the ledger; false if the message had one already.
    fn outcome(&mut self, now: Nanos, id: u64) -> bool {
        self.r.last_outcome = Some(now);
        let first = self.r.ledger.finish(id);
        if let (true, Some(o)) = (first, &mut self.ordering) {
            o.finished(id);
        }
        first
    }

    pub fn is_finished(&self, id: u64) -> bool {
        self.r.ledger.is_finished(id)
    }

    /// Messages published and not yet finished.
    pub fn open_messages(&self) -> u64 {
        self.r.published.saturating_sub(self.r.ledger.finished_count)
    }

    pub fn produced_count(&self) -> u64 {
        self.r.produced
    }

    /// Something was counted in the current second (outcomes at the very instant the run ended included).
    fn row_has_counts(&self) -> bool {
        self.row != self.fresh_row(self.row.time_s) || !self.sec_latency.is_empty()
    }

    /// Closes the last second and hands over the measurements. The last second is closed when the run ended
    /// inside it, or when anything was counted in it: a run that ends exactly on a whole second `t` with outcomes
    /// at `t` writes them in a row for second `t`, so the rows always add up to the run's totals.
    pub fn finish(mut self, now: Nanos, g: &Gauges) -> std::io::Result<Recorded> {
        self.flush(now, g)?;
        if now > self.next_flush - NS_PER_SEC || self.row_has_counts() || self.series.closed == 0 {
            self.close_row(g, now)?;
        }
        self.series.finish()?;
        self.r.rows = self.series.rows;
        self.r.waves = self.waves.finish();
        self.r.failure_episodes = self.failure_eps.finish();
        self.r.recovery_s = self.recovery.finish(now);
        self.r.pre_fault_backlog = self.recovery.pre_fault_level();
        if self.r.min_consumers == u64::MAX {
            self.r.min_consumers = 0;
        }
        self.r.ordering = self.ordering.map(|o| o.figures);
        Ok(self.r)
    }
}
