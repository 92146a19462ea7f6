//! The arrival plan: every rate shape (constant, Poisson, ramp, steps, burst) normalised into one schedule of
//! intended publish times.
//!
//! Rates are piecewise linear in time. Arrival k happens when the cumulative rate `Λ(t)` reaches `S_k`, with
//! `S_k = k` for evenly spaced arrivals and a sum of unit exponentials for Poisson ones (a time change of a
//! unit-rate Poisson process, which is exactly a non-homogeneous Poisson process of that rate).

use crate::scenario::RateShape;
use crate::time::{Nanos, NS_PER_SEC};
use rand::Rng;
use rand_distr::{Distribution, Exp1};

#[derive(Clone, Debug)]
struct Segment {
    /// Start time in seconds.
    start: f64,
    /// Length in seconds (infinite for the last one).
    len: f64,
    r0: f64,
    r1: f64,
}

impl Segment {
    /// Arrivals the segment holds in total.
    fn mass(&self) -> f64 {
        if self.len.is_infinite() {
            if self.r0 > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            (self.r0 + self.r1) / 2.0 * self.len
        }
    }
    /// Time offset within the segment at which `x` arrivals have accumulated.
    fn invert(&self, x: f64) -> f64 {
        let slope = if self.len.is_infinite() { 0.0 } else { (self.r1 - self.r0) / self.len };
        if slope.abs() < 1e-12 {
            return x / self.r0;
        }
        // r0 τ + slope τ² / 2 = x
        let disc = self.r0 * self.r0 + 2.0 * slope * x;
        (-self.r0 + disc.max(0.0).sqrt()) / slope
    }
}

pub struct Arrivals {
    mode: Mode,
    total: u64,
    emitted: u64,
    /// No arrival is planned at or after this time (`producers.for`).
    until: Nanos,
}

enum Mode {
    Rate { segments: Vec<Segment>, poisson: bool, seg: usize, seg_base: f64, level: f64 },
    Burst { size: u64, every: Nanos },
}

impl Arrivals {
    pub fn new(shape: &RateShape, total: u64) -> Arrivals {
        let (segments, poisson) = match shape {
            RateShape::Constant { per_second } => (vec![flat(0.0, f64::INFINITY, *per_second)], false),
            RateShape::Poisson { per_second } => (vec![flat(0.0, f64::INFINITY, *per_second)], true),
            RateShape::Ramp { from, to, over, poisson } => {
                let len = over.secs_f64();
                (vec![Segment { start: 0.0, len, r0: *from, r1: *to }, flat(len, f64::INFINITY, *to)], *poisson)
            }
            RateShape::Steps { steps, poisson } => {
                let mut segs = Vec::new();
                let mut t = 0.0;
                for (i, s) in steps.iter().enumerate() {
                    let len = if i + 1 == steps.len() { f64::INFINITY } else { s.hold.secs_f64() };
                    segs.push(flat(t, len, s.per_second));
                    t += s.hold.secs_f64();
                }
                (segs, *poisson)
            }
            RateShape::Burst { size, every } => {
                let mode = Mode::Burst { size: *size, every: every.ns() };
                return Arrivals { mode, total, emitted: 0, until: Nanos::MAX };
            }
        };
        let mode = Mode::Rate { segments, poisson, seg: 0, seg_base: 0.0, level: 0.0 };
        Arrivals { mode, total, emitted: 0, until: Nanos::MAX }
    }

    /// Plans nothing at or after `window` of scenario time (`producers.for`); `None` changes nothing.
    pub fn until(mut self, window: Option<crate::time::Dur>) -> Arrivals {
        self.until = window.map_or(Nanos::MAX, |w| w.ns());
        self
    }

    /// Intended publish time of the next message, or `None` once all are planned (or the rate stays zero).
    pub fn next<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<Nanos> {
        if self.emitted >= self.total {
            return None;
        }
        let k = self.emitted;
        let t = match &mut self.mode {
            Mode::Burst { size, every } => (k / *size).saturating_mul(*every),
            Mode::Rate { segments, poisson, seg, seg_base, level } => {
                let target = if *poisson {
                    let e: f64 = Exp1.sample(rng);
                    *level + e
                } else if k == 0 {
                    0.0
                } else {
                    *level + 1.0
                };
                *level = target;
                loop {
                    let s = segments.get(*seg)?;
                    let m = s.mass();
                    if target - *seg_base < m {
                        let secs = s.start + s.invert(target - *seg_base);
                        break (secs * NS_PER_SEC as f64).round() as Nanos;
                    }
                    *seg_base += m;
                    *seg += 1;
                }
            }
        };
        if t >= self.until {
            self.emitted = self.total;
            return None;
        }
        self.emitted += 1;
        Some(t)
    }
}

/// When the last message is planned, in seconds: exact for evenly spaced arrivals and bursts, the expected time for
/// Poisson ones (where the cumulative rate reaches `total`); `None` if the rate never gets there.
pub fn planned_end(shape: &RateShape, total: u64) -> Option<f64> {
    match Arrivals::new(shape, total).mode {
        Mode::Burst { size, every } => Some((total.saturating_sub(1) / size.max(1)) as f64 * every as f64 / 1e9),
        Mode::Rate { segments, poisson, .. } => {
            let mut left = if poisson { total as f64 } else { total.saturating_sub(1) as f64 };
            for s in &segments {
                let m = s.mass();
                if left < m {
                    return Some(s.start + s.invert(left));
                }
                left -= m;
            }
            None
        }
    }
}

/// `messages` when only `producers.for` bounds production: for evenly spaced arrivals and bursts exactly what the
/// window holds, for Poisson ones its expectation plus 8 standard deviations (a cap the window reaches with a
/// probability under 1e-15), at least 1.
pub fn cap_for(shape: &RateShape, window: crate::time::Dur) -> u64 {
    let window_s = window.secs_f64();
    let poisson = shape.is_poisson();
    let expected = planned_by(shape, u64::MAX, window_s);
    let cap = if poisson {
        expected + 8.0 * expected.sqrt() + 8.0
    } else if let RateShape::Burst { .. } = shape {
        // a burst exactly at the window's end is not in it
        planned_by(shape, u64::MAX, (window_s - 1e-9).max(0.0))
    } else {
        // arrivals at 0, 1/r, 2/r, ... before the window's end
        expected.ceil().max(1.0)
    };
    (cap.min(i64::MAX as f64) as u64).max(1)
}

/// Messages planned by `t` seconds (expected, for Poisson arrivals), at most `total`.
pub fn planned_by(shape: &RateShape, total: u64, t: f64) -> f64 {
    match Arrivals::new(shape, total).mode {
        Mode::Burst { size, every } => {
            let bursts = (t * 1e9 / (every.max(1) as f64)).floor() + 1.0;
            (bursts * size as f64).min(total as f64)
        }
        Mode::Rate { segments, .. } => {
            let mut sum = 0.0;
            for s in segments.iter().filter(|s| s.start < t) {
                let tau = (t - s.start).min(s.len);
                let slope = if s.len.is_infinite() { 0.0 } else { (s.r1 - s.r0) / s.len };
                sum += s.r0 * tau + slope * tau * tau / 2.0;
            }
            sum.min(total as f64)
        }
    }
}

fn flat(start: f64, len: f64, rate: f64) -> Segment {
    Segment { start, len, r0: rate, r1: rate }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Step;
    use crate::time::Dur;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn all(shape: RateShape, n: u64) -> Vec<f64> {
        let mut a = Arrivals::new(&shape, n);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        std::iter::from_fn(|| a.next(&mut rng)).map(|t| t as f64 / 1e9).collect()
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let t = all(RateShape::Constant { per_second: 4.0 }, 5);
        assert_eq!(t, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn poisson_rate_has_the_right_mean() {
        let t = all(RateShape::Poisson { per_second: 50.0 }, 100_000);
        let rate = t.len() as f64 / t.last().unwrap();
        assert!((rate / 50.0 - 1.0).abs() < 0.01, "rate {rate}");
        assert!(t.windows(2).all(|w| w[1] >= w[0]));
    }

    #[test]
    fn ramp_accumulates_the_area_under_the_rate() {
        // 0 -> 10/s over 10 s holds 50 arrivals; the 51st comes after the ramp at 10/s.
        let t = all(RateShape::Ramp { from: 0.0, to: 10.0, over: Dur::from_secs(10), poisson: false }, 61);
        // arrival k (k>=1) of the ramp: 0.5 τ² = k  ->  τ = sqrt(2k)
        assert!((t[8] - 4.0).abs() < 1e-9, "{}", t[8]);
        assert!((t[50] - 10.0).abs() < 1e-9);
        assert!((t[60] - 11.0).abs() < 1e-9);
    }

    #[test]
    fn steps_switch_rates_and_the_last_one_holds() {
        let steps = vec![
            Step { per_second: 2.0, hold: Dur::from_secs(2) },
            Step { per_second: 0.0, hold: Dur::from_secs(3) },
            Step { per_second: 10.0, hold: Dur::from_secs(1) },
        ];
        let t = all(RateShape::Steps { steps, poisson: false }, 8);
        assert_eq!(t[..4], [0.0, 0.5, 1.0, 1.5]);
        assert!((t[4] - 5.0).abs() < 1e-9, "the 5th waits out the silent step: {}", t[4]);
        assert!((t[7] - 5.3).abs() < 1e-9);
    }

    #[test]
    fn bursts_come_in_blocks() {
        let t = all(RateShape::Burst { size: 3, every: Dur::from_secs(60) }, 7);
        assert_eq!(t, vec![0.0, 0.0, 0.0, 60.0, 60.0, 60.0, 120.0]);
    }

    #[test]
    fn a_rate_that_ends_at_zero_stops_producing() {
        let steps =
            vec![Step { per_second: 1.0, hold: Dur::from_secs(3) }, Step { per_second: 0.0, hold: Dur::from_secs(1) }];
        let t = all(RateShape::Steps { steps, poisson: false }, 100);
        assert_eq!(t, vec![0.0, 1.0, 2.0], "three seconds at 1/s hold three arrivals");
    }
}
