//! Service-time distributions (fixed, uniform, exponential, lognormal by median and p99) and their sampling.

use crate::time::{Dur, Nanos};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal};
use serde::Serialize;

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// A distribution of durations, as written in a scenario (`{ dist = "lognormal", median = "5ms", p99 = "50ms" }`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Dist {
    Fixed { value: Dur },
    Uniform { min: Dur, max: Dur },
    Exponential { mean: Dur },
    Lognormal { median: Dur, p99: Dur },
}

impl Dist {
    pub fn fixed(d: Dur) -> Dist {
        Dist::Fixed { value: d }
    }

    /// Mean of the distribution in nanoseconds (used for capacity figures and the queueing oracle).
    pub fn mean_ns(&self) -> f64 {
        match *self {
            Dist::Fixed { value } => value.0 as f64,
            Dist::Uniform { min, max } => (min.0 as f64 + max.0 as f64) / 2.0,
            Dist::Exponential { mean } => mean.0 as f64,
            Dist::Lognormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                (mu + sigma * sigma / 2.0).exp()
            }
        }
    }

    /// Draws one duration; `factor` scales it (latency spikes). For many draws, `sampler` computes the
    /// parameters once.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, factor: f64) -> Nanos {
        self.sampler().sample(rng, factor)
    }

    /// The distribution with its parameters computed (a lognormal's `mu` and `sigma`), for drawing on a hot path.
    pub fn sampler(&self) -> Sampler {
        match *self {
            Dist::Fixed { value } => Sampler::Fixed(value.0 as f64),
            Dist::Uniform { min, max } if max.0 <= min.0 => Sampler::Fixed(min.0 as f64),
            Dist::Uniform { min, max } => Sampler::Uniform(min.0 as f64, max.0 as f64),
            Dist::Exponential { mean } => Sampler::Exponential(mean.0 as f64),
            Dist::Lognormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(median, p99);
                Sampler::Lognormal { mu, sigma }
            }
        }
    }
}

/// A `Dist` ready to draw from: the same draws from the same random numbers, without per-draw set-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    Fixed(f64),
    Uniform(f64, f64),
    Exponential(f64),
    Lognormal { mu: f64, sigma: f64 },
}

impl Sampler {
    /// Draws one duration; `factor` scales it (latency spikes).
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, factor: f64) -> Nanos {
        let v = match *self {
            Sampler::Fixed(v) => v,
            Sampler::Uniform(min, max) => rng.random_range(min..max),
            Sampler::Exponential(mean) => {
                let e: f64 = Exp1.sample(rng);
                e * mean
            }
            Sampler::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
        };
        (v * factor).round().clamp(0.0, 1e18) as Nanos
    }
}

/// `ln X ~ N(mu, sigma)` with `median = e^mu` and `p99 = e^(mu + z99 sigma)`.
fn lognormal_params(median: Dur, p99: Dur) -> (f64, f64) {
    let m = (median.0.max(1)) as f64;
    let q = (p99.0.max(1)) as f64;
    let mu = m.ln();
    let sigma = ((q / m).ln() / Z99).max(0.0);
    (mu, sigma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ms(v: u64) -> Dur {
        Dur::from_millis(v)
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = Dist::Lognormal { median: ms(5), p99: ms(50) };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut v: Vec<u64> = (0..200_000).map(|_| d.sample(&mut rng, 1.0)).collect();
        v.sort_unstable();
        let median = v[v.len() / 2] as f64 / 1e6;
        let p99 = v[v.len() * 99 / 100] as f64 / 1e6;
        assert!((median - 5.0).abs() < 0.1, "median {median}");
        assert!((p99 - 50.0).abs() < 2.0, "p99 {p99}");
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        assert!((mean / d.mean_ns() - 1.0).abs() < 0.02, "mean {mean} vs {}", d.mean_ns());
    }

    #[test]
    fn exponential_and_uniform_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for d in [Dist::Exponential { mean: ms(100) }, Dist::Uniform { min: ms(10), max: ms(30) }] {
            let n = 100_000;
            let mean = (0..n).map(|_| d.sample(&mut rng, 1.0) as f64).sum::<f64>() / n as f64;
            assert!((mean / d.mean_ns() - 1.0).abs() < 0.02, "{d:?}: {mean}");
        }
        assert_eq!(Dist::fixed(ms(3)).sample(&mut rng, 2.0), 6 * 1_000_000);
    }

    #[test]
    fn a_sampler_draws_what_the_distribution_draws() {
        for d in [
            Dist::Lognormal { median: ms(15), p99: ms(80) },
            Dist::Exponential { mean: ms(7) },
            Dist::Uniform { min: ms(1), max: ms(9) },
            Dist::Uniform { min: ms(4), max: ms(4) },
            Dist::fixed(ms(2)),
        ] {
            let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(3), ChaCha8Rng::seed_from_u64(3));
            let s = d.sampler();
            for _ in 0..1000 {
                assert_eq!(s.sample(&mut a, 1.5), d.sample(&mut b, 1.5), "{d:?}");
            }
        }
    }
}
