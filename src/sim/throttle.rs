//! Client-side adaptive throttling (Google SRE book, "Handling Overload"): a client counts its requests and the
//! ones the backend accepted over a sliding window, and rejects a new request locally with probability
//! `max(0, (requests - K x accepts) / (requests + 1))`, so that a backend that rejects most calls sees few of them.

use super::window::Window;
use crate::scenario::ThrottleCfg;
use crate::time::Nanos;

/// The window is counted in this many buckets.
const BUCKETS: u64 = 100;
const REQUESTS: usize = 0;
const ACCEPTS: usize = 1;

#[derive(Clone, Debug)]
pub struct Throttle {
    k: f64,
    window: Window,
}

/// The SRE book's formula: the share of requests to reject locally.
pub fn reject_probability(requests: u64, accepts: u64, k: f64) -> f64 {
    ((requests as f64 - k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
}

impl Throttle {
    pub fn new(cfg: &ThrottleCfg) -> Throttle {
        Throttle { k: cfg.k, window: Window::new(cfg.window.ns(), BUCKETS) }
    }

    /// The probability that a call made now is rejected locally, from the requests and accepts in the window.
    pub fn probability(&mut self, now: Nanos) -> f64 {
        let [requests, accepts] = self.window.totals(now);
        reject_probability(requests, accepts, self.k)
    }

    /// A call's outcome is known: rejected locally, or answered, refused or timed out (`accepted`: the backend
    /// took it and answered). As in gRPC's adaptive throttler, a request counts once its outcome is known, so calls
    /// still in flight count neither way.
    pub fn outcome(&mut self, now: Nanos, accepted: bool) {
        self.window.add(now, REQUESTS);
        if accepted {
            self.window.add(now, ACCEPTS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Dur;

    #[test]
    fn the_formula_rejects_nothing_until_requests_exceed_k_times_accepts() {
        assert_eq!(reject_probability(0, 0, 2.0), 0.0);
        assert_eq!(reject_probability(100, 100, 2.0), 0.0, "all accepted");
        assert_eq!(reject_probability(100, 50, 2.0), 0.0, "exactly K x accepts");
        // (100 - 2 x 25) / 101
        assert_eq!(reject_probability(100, 25, 2.0), 50.0 / 101.0);
        // nothing accepted: 99 of 100 requests rejected
        assert_eq!(reject_probability(99, 0, 2.0), 0.99);
        // a smaller K is more aggressive: (100 - 1.5 x 50) / 101
        assert_eq!(reject_probability(100, 50, 1.5), 25.0 / 101.0);
    }

    #[test]
    fn requests_and_accepts_are_counted_over_the_window() {
        // 2 minutes in 100 buckets of 1.2 s
        let mut t = Throttle::new(&ThrottleCfg { k: 2.0, window: Dur::from_secs(120) });
        const S: u64 = 1_000_000_000;
        for i in 0..10 {
            t.outcome(i * S, i == 5);
        }
        assert_eq!(t.probability(10 * S), 8.0 / 11.0);
        // at 120.5 s the first bucket [0, 1.2 s) and its 2 requests have slid out: 8 requests and the accept are left
        assert_eq!(t.probability(120 * S + 500_000_000), 6.0 / 9.0);
        assert_eq!(t.probability(1_000 * S), 0.0, "everything has slid out");
    }
}
