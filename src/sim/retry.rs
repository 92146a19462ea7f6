//! Retry and redelivery delays: the policies (immediate, intervals, incremental, exponential) and jitter formulas.
//!
//! Jitter follows AWS "Exponential Backoff and Jitter" (2015): full `rand(0, d)`, equal `d/2 + rand(0, d/2)`,
//! decorrelated `min(cap, rand(base, prev * 3))`; proportional is the course material's `d * rand(0.75, 1.25)`.

use crate::scenario::{Jitter, RetryPolicy};
use crate::time::Nanos;
use rand::{Rng, RngExt};

/// A schedule of delays: retry n (1-based) waits `delay(n)` before jitter.
///
/// Delays are computed on demand: nothing here is proportional to a configured limit.
#[derive(Clone, Debug)]
pub struct Backoff {
    delays: Kind,
    jitter: Jitter,
    /// Decorrelated jitter's `base` (the smallest positive un-jittered delay) and `cap`: the policy's `cap` for
    /// exponential backoff, the largest un-jittered delay for the policies that have no cap.
    base: Nanos,
    cap: Nanos,
}

#[derive(Clone, Debug)]
enum Kind {
    /// `limit` retries with no delay.
    Immediate {
        limit: u32,
    },
    /// One retry per listed delay (the list is the user's own, read from the scenario file).
    List(Vec<Nanos>),
    Incremental {
        limit: u32,
        initial: Nanos,
        step: Nanos,
    },
    Exponential {
        limit: u32,
        base: Nanos,
        cap: Nanos,
    },
}

impl Backoff {
    pub fn from_policy(policy: &RetryPolicy, jitter: Jitter) -> Backoff {
        let delays = match policy {
            RetryPolicy::None => Kind::List(Vec::new()),
            RetryPolicy::Immediate { limit } => Kind::Immediate { limit: *limit },
            RetryPolicy::Intervals { intervals } => Kind::List(intervals.iter().map(|d| d.ns()).collect()),
            RetryPolicy::Incremental { limit, initial, step } => {
                Kind::Incremental { limit: *limit, initial: initial.ns(), step: step.ns() }
            }
            RetryPolicy::Exponential { limit, base, cap } => {
                Kind::Exponential { limit: *limit, base: base.ns(), cap: cap.ns().max(base.ns()) }
            }
        };
        Backoff::new(delays, jitter)
    }

    /// Fixed intervals (delayed redelivery).
    pub fn intervals(delays: Vec<Nanos>, jitter: Jitter) -> Backoff {
        Backoff::new(Kind::List(delays), jitter)
    }

    fn new(delays: Kind, jitter: Jitter) -> Backoff {
        let mut b = Backoff { delays, jitter, base: 0, cap: 0 };
        (b.base, b.cap) = b.extremes();
        if let Kind::Exponential { cap, .. } = b.delays {
            if b.limit() > 0 {
                b.cap = cap;
            }
        }
        b
    }

    /// Smallest positive and largest un-jittered delay over retries `1..=limit` (0 when there is none), in closed
    /// form: incremental and exponential delays never decrease with `n`, so the extremes are at known retries.
    fn extremes(&self) -> (Nanos, Nanos) {
        let limit = self.limit();
        if limit == 0 {
            return (0, 0);
        }
        match &self.delays {
            Kind::Immediate { .. } => (0, 0),
            Kind::List(v) => {
                (v.iter().copied().filter(|&d| d > 0).min().unwrap_or(0), v.iter().copied().max().unwrap_or(0))
            }
            Kind::Incremental { .. } | Kind::Exponential { .. } => {
                // the first positive delay: retry 1, or retry 2 when incremental starts at 0 (then it is `step`)
                let first_positive = [1, 2].into_iter().filter(|&n| n <= limit).map(|n| self.delay(n)).find(|&d| d > 0);
                (first_positive.unwrap_or(0), self.delay(limit))
            }
        }
    }

    /// How many retries the schedule allows.
    pub fn limit(&self) -> u32 {
        match &self.delays {
            Kind::List(v) => v.len() as u32,
            Kind::Immediate { limit } | Kind::Incremental { limit, .. } | Kind::Exponential { limit, .. } => *limit,
        }
    }

    /// Un-jittered delay before retry `n` (1-based).
    pub fn delay(&self, n: u32) -> Nanos {
        let n = n.max(1);
        match &self.delays {
            Kind::Immediate { .. } => 0,
            Kind::List(v) => v.get(n as usize - 1).copied().unwrap_or(0),
            Kind::Incremental { initial, step, .. } => initial.saturating_add(step.saturating_mul(n as u64 - 1)),
            Kind::Exponential { base, cap, .. } => {
                let factor = 1u64.checked_shl(n - 1).unwrap_or(u64::MAX);
                base.saturating_mul(factor).min(*cap)
            }
        }
    }

    /// Jittered delay before retry `n`; `prev` is the previous jittered delay (0 before the first retry).
    pub fn next<R: Rng + ?Sized>(&self, n: u32, prev: Nanos, rng: &mut R) -> Nanos {
        let d = self.delay(n);
        apply_jitter(self.jitter, d, self.base, self.cap, prev, rng)
    }
}

/// One jittered delay. `d` is the policy's delay, `base`/`cap` its smallest and largest, `prev` the last jittered one.
pub fn apply_jitter<R: Rng + ?Sized>(
    jitter: Jitter,
    d: Nanos,
    base: Nanos,
    cap: Nanos,
    prev: Nanos,
    rng: &mut R,
) -> Nanos {
    let uniform = |rng: &mut R, lo: f64, hi: f64| if hi > lo { rng.random_range(lo..hi) } else { lo };
    let v = match jitter {
        Jitter::None => return d,
        Jitter::Full => uniform(rng, 0.0, d as f64),
        Jitter::Equal => d as f64 / 2.0 + uniform(rng, 0.0, d as f64 / 2.0),
        Jitter::Decorrelated => {
            if d == 0 {
                return 0;
            }
            let prev = if prev == 0 { base } else { prev };
            uniform(rng, base as f64, prev as f64 * 3.0).min(cap as f64)
        }
        Jitter::Proportional => d as f64 * uniform(rng, 0.75, 1.25),
    };
    v.round().max(0.0) as Nanos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Dur;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn exp(limit: u32, base: u64, cap: u64) -> RetryPolicy {
        RetryPolicy::Exponential { limit, base: Dur(base), cap: Dur(cap) }
    }

    fn seq(b: &Backoff) -> Vec<Nanos> {
        (1..=b.limit()).map(|n| b.delay(n)).collect()
    }

    #[test]
    fn policies_give_hand_computed_sequences() {
        assert_eq!(seq(&Backoff::from_policy(&RetryPolicy::None, Jitter::None)), Vec::<u64>::new());
        assert_eq!(seq(&Backoff::from_policy(&RetryPolicy::Immediate { limit: 3 }, Jitter::None)), vec![0, 0, 0]);
        let iv =
            RetryPolicy::Intervals { intervals: vec![Dur(100 * MS), Dur(500 * MS), Dur(S), Dur(5 * S), Dur(30 * S)] };
        assert_eq!(seq(&Backoff::from_policy(&iv, Jitter::None)), vec![100 * MS, 500 * MS, S, 5 * S, 30 * S]);
        let inc = RetryPolicy::Incremental { limit: 4, initial: Dur(S), step: Dur(2 * S) };
        assert_eq!(seq(&Backoff::from_policy(&inc, Jitter::None)), vec![S, 3 * S, 5 * S, 7 * S]);
        // min(cap, base * 2^(n-1)): 1, 2, 4, 8, 16, 30 (capped), 30
        let e = Backoff::from_policy(&exp(7, S, 30 * S), Jitter::None);
        assert_eq!(seq(&e), vec![S, 2 * S, 4 * S, 8 * S, 16 * S, 30 * S, 30 * S]);
        // the course material's 5-minute cap with a 1 s base
        let e = Backoff::from_policy(&exp(12, S, 300 * S), Jitter::None);
        assert_eq!(e.delay(9), 256 * S);
        assert_eq!(e.delay(10), 300 * S);
        // huge attempt numbers saturate at the cap instead of overflowing
        assert_eq!(e.delay(200), 300 * S);
    }

    #[test]
    fn no_jitter_is_exact_and_jitters_stay_in_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let policy = exp(5, S, 10 * S);
        let none = Backoff::from_policy(&policy, Jitter::None);
        for n in 1..=5 {
            assert_eq!(none.next(n, 0, &mut rng), none.delay(n));
        }
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Proportional, Jitter::Decorrelated] {
            let b = Backoff::from_policy(&policy, jitter);
            let mut prev = 0;
            for _ in 0..2000 {
                for n in 1..=5 {
                    let d = b.delay(n);
                    let v = b.next(n, prev, &mut rng);
                    let (lo, hi) = match jitter {
                        Jitter::Full => (0, d),
                        Jitter::Equal => (d / 2, d),
                        Jitter::Proportional => (d * 3 / 4, d * 5 / 4),
                        Jitter::Decorrelated => (S, (prev.max(S) * 3).min(10 * S)),
                        Jitter::None => unreachable!(),
                    };
                    assert!(v >= lo && v <= hi, "{jitter:?} n={n} d={d} prev={prev}: {v} not in [{lo}, {hi}]");
                    prev = v;
                }
                prev = 0;
            }
        }
    }

    #[test]
    fn full_jitter_halves_the_mean_and_equal_keeps_three_quarters() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let d = 4 * S;
        let mean = |j: Jitter, rng: &mut ChaCha8Rng| {
            (0..100_000).map(|_| apply_jitter(j, d, S, 10 * S, 0, rng) as f64).sum::<f64>() / 100_000.0
        };
        let full = mean(Jitter::Full, &mut rng);
        let equal = mean(Jitter::Equal, &mut rng);
        let prop = mean(Jitter::Proportional, &mut rng);
        assert!((full / (d as f64 / 2.0) - 1.0).abs() < 0.01, "full {full}");
        assert!((equal / (d as f64 * 0.75) - 1.0).abs() < 0.01, "equal {equal}");
        assert!((prop / d as f64 - 1.0).abs() < 0.01, "proportional {prop}");
    }

    #[test]
    fn decorrelated_grows_from_base_and_respects_cap() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let b = Backoff::from_policy(&exp(10, S, 20 * S), Jitter::Decorrelated);
        // the first draw is rand(base, base*3)
        for _ in 0..1000 {
            let v = b.next(1, 0, &mut rng);
            assert!((S..=3 * S).contains(&v));
        }
        let mut prev = 0;
        let mut max_seen = 0;
        for n in 1..=200 {
            prev = b.next(n.min(10), prev, &mut rng);
            max_seen = max_seen.max(prev);
            assert!((S..=20 * S).contains(&prev));
        }
        assert!(max_seen > 10 * S, "decorrelated never grew: {max_seen}");
    }

    #[test]
    fn huge_limits_allocate_nothing_and_give_closed_form_delays() {
        // u32::MAX retries: before, a precomputed delay list of 34 GB (immediate) or 4 billion delays computed up front
        let imm = Backoff::from_policy(&RetryPolicy::Immediate { limit: u32::MAX }, Jitter::Decorrelated);
        assert_eq!((imm.limit(), imm.delay(u32::MAX), imm.base, imm.cap), (u32::MAX, 0, 0, 0));
        let inc = RetryPolicy::Incremental { limit: u32::MAX, initial: Dur(0), step: Dur(MS) };
        let inc = Backoff::from_policy(&inc, Jitter::None);
        assert_eq!((inc.limit(), inc.base, inc.cap), (u32::MAX, MS, (u32::MAX as u64 - 1) * MS));
        let e = Backoff::from_policy(&exp(u32::MAX, S, 300 * S), Jitter::None);
        assert_eq!((e.limit(), e.delay(u32::MAX), e.base, e.cap), (u32::MAX, 300 * S, S, 300 * S));
    }

    #[test]
    fn closed_form_extremes_match_a_scan_of_every_delay() {
        let policies = [
            RetryPolicy::None,
            RetryPolicy::Immediate { limit: 3 },
            RetryPolicy::Intervals { intervals: vec![Dur(0), Dur(5 * S), Dur(2 * S)] },
            RetryPolicy::Incremental { limit: 1, initial: Dur(0), step: Dur(S) },
            RetryPolicy::Incremental { limit: 4, initial: Dur(0), step: Dur(S) },
            RetryPolicy::Incremental { limit: 4, initial: Dur(0), step: Dur(0) },
            RetryPolicy::Incremental { limit: 4, initial: Dur(2 * S), step: Dur(S) },
            exp(0, S, 30 * S),
            exp(3, 0, 30 * S),
            exp(7, S, 30 * S),
            exp(70, S, u64::MAX),
        ];
        for p in &policies {
            let b = Backoff::from_policy(p, Jitter::None);
            let all = seq(&b);
            let base = all.iter().copied().filter(|&d| d > 0).min().unwrap_or(0);
            let cap = all.iter().copied().max().unwrap_or(0);
            assert_eq!(b.extremes(), (base, cap), "{p:?}");
        }
    }

    #[test]
    fn decorrelated_caps_at_the_policy_cap_not_the_largest_delay() {
        // limit 5, base 1 s: the largest scheduled delay is 16 s whatever the cap; the cap decides
        let draws = |cap: u64| {
            let b = Backoff::from_policy(&exp(5, S, cap), Jitter::Decorrelated);
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let (mut prev, mut all) = (0, Vec::new());
            for _ in 0..1000 {
                for n in 1..=5 {
                    prev = b.next(n, prev, &mut rng);
                    assert!((S..=cap).contains(&prev), "cap {cap}: {prev}");
                    all.push(prev);
                }
                prev = 0;
            }
            (all.iter().max().copied().unwrap(), all.iter().sum::<u64>())
        };
        // (the largest delay drawn, the sum of all 5000): before, every cap gave the 16 s cap's figures
        assert_eq!(draws(4 * S), (4 * S, 15_067_546_909_558));
        assert_eq!(draws(60 * S), (60 * S, 33_400_753_207_717));
        assert_eq!(draws(600 * S), (127_499_584_831, 33_752_106_611_433));
        // the policies without a cap keep the largest scheduled delay as decorrelated jitter's cap
        let inc = RetryPolicy::Incremental { limit: 3, initial: Dur(S), step: Dur(S) };
        assert_eq!(Backoff::from_policy(&inc, Jitter::Decorrelated).cap, 3 * S);
    }

    #[test]
    fn redelivery_intervals_are_a_plain_list() {
        let b = Backoff::intervals(vec![60 * S, 300 * S, 1800 * S], Jitter::None);
        assert_eq!(b.limit(), 3);
        assert_eq!(seq(&b), vec![60 * S, 300 * S, 1800 * S]);
        assert_eq!(b.delay(4), 0, "beyond the list there is no delay (callers check limit)");
    }
}
