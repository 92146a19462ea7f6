//! The circuit breaker (Polly v8 / MassTransit style): trips when the failure ratio over the sampling window
//! reaches the threshold with at least the minimum throughput, stays open for the break duration, then lets
//! one probe through (half-open): success closes it, failure opens it again.

use crate::scenario::BreakerCfg;
use crate::time::Nanos;

const BUCKETS: u64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open { until: Nanos },
    HalfOpen { probing: bool },
}

#[derive(Clone, Debug)]
pub struct Breaker {
    ratio: f64,
    min_throughput: u64,
    bucket_len: Nanos,
    break_for: Nanos,
    /// (bucket index, calls, failures), oldest first.
    window: Vec<(u64, u64, u64)>,
    pub state: State,
    pub opened: u64,
    /// Since when the breaker has not been closed (open or half-open), if it is not closed now.
    not_closed_since: Option<Nanos>,
    /// Time spent not closed, up to the last close.
    not_closed_ns: Nanos,
}

impl Breaker {
    pub fn new(cfg: &BreakerCfg) -> Breaker {
        Breaker {
            ratio: cfg.failure_ratio,
            min_throughput: cfg.minimum_throughput as u64,
            bucket_len: (cfg.sampling.ns() / BUCKETS).max(1),
            break_for: cfg.break_for.ns(),
            window: Vec::with_capacity(BUCKETS as usize + 1),
            state: State::Closed,
            opened: 0,
            not_closed_since: None,
            not_closed_ns: 0,
        }
    }

    /// May a call go out now? Moves an expired open breaker to half-open and admits one probe.
    pub fn allow(&mut self, now: Nanos) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen { probing: true };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probing: true } => false,
            State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                true
            }
        }
    }

    /// The outcome of a call that `allow` let through. Returns true when this outcome opened the breaker.
    pub fn record(&mut self, now: Nanos, success: bool) -> bool {
        match self.state {
            State::HalfOpen { .. } => {
                if success {
                    self.state = State::Closed;
                    self.window.clear();
                    if let Some(since) = self.not_closed_since.take() {
                        self.not_closed_ns += now.saturating_sub(since);
                    }
                    false
                } else {
                    self.open(now);
                    true
                }
            }
            State::Open { .. } => false,
            State::Closed => {
                let bucket = now / self.bucket_len;
                self.window.retain(|&(b, _, _)| b + BUCKETS > bucket);
                match self.window.last_mut() {
                    Some(last) if last.0 == bucket => {
                        last.1 += 1;
                        last.2 += u64::from(!success);
                    }
                    _ => self.window.push((bucket, 1, u64::from(!success))),
                }
                let calls: u64 = self.window.iter().map(|w| w.1).sum();
                let failures: u64 = self.window.iter().map(|w| w.2).sum();
                if calls >= self.min_throughput && failures as f64 >= self.ratio * calls as f64 && failures > 0 {
                    self.open(now);
                    true
                } else {
                    false
                }
            }
        }
    }

    fn open(&mut self, now: Nanos) {
        self.state = State::Open { until: now.saturating_add(self.break_for) };
        self.window.clear();
        self.opened += 1;
        self.not_closed_since.get_or_insert(now);
    }

    /// Time the breaker has spent open or half-open (calls failed at once, or waiting on a probe) up to `now`.
    pub fn open_time(&self, now: Nanos) -> Nanos {
        self.not_closed_ns + self.not_closed_since.map_or(0, |since| now.saturating_sub(since))
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Dur;

    const S: u64 = 1_000_000_000;

    fn breaker() -> Breaker {
        Breaker::new(&BreakerCfg {
            failure_ratio: 0.5,
            minimum_throughput: 4,
            sampling: Dur(10 * S),
            break_for: Dur(5 * S),
            scope: crate::scenario::BudgetScope::Consumer,
        })
    }

    #[test]
    fn trips_at_the_ratio_once_throughput_is_reached() {
        let mut b = breaker();
        assert!(!b.record(0, false));
        assert!(!b.record(1, false));
        assert!(!b.record(2, false), "3 calls are below the minimum throughput of 4");
        assert!(b.record(3, true), "4 calls, 3 failed: 75% >= 50%");
        assert!(!b.allow(4 * S));
        assert_eq!(b.opened, 1);
    }

    #[test]
    fn old_failures_slide_out_of_the_window() {
        let mut b = breaker();
        b.record(0, false);
        b.record(0, false);
        // 11 s later the two failures are outside the 10 s window
        for i in 0..4 {
            assert!(!b.record(11 * S + i, i != 0));
        }
        assert!(!b.is_open());
    }

    #[test]
    fn half_open_admits_one_probe_which_decides() {
        let mut b = breaker();
        for i in 0..4 {
            b.record(i, false);
        }
        assert!(!b.allow(5 * S - 1), "opened at 3 ns for 5 s");
        assert!(b.allow(6 * S), "break over: one probe");
        assert!(!b.allow(6 * S), "only one probe at a time");
        assert!(b.record(6 * S, false), "failed probe opens it again");
        assert!(!b.allow(7 * S));
        assert!(b.allow(11 * S));
        b.record(11 * S, true);
        assert_eq!(b.state, State::Closed);
        assert!(b.allow(11 * S));
        assert_eq!(b.opened, 2);
        assert_eq!(b.open_time(20 * S), 11 * S - 3, "open from 3 ns until the probe at 11 s closed it");
    }
}
