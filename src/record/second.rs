//! One second's end-to-end latencies for its row (p50, p99, max): the second's samples, sorted when it closes.
//! The figures are those of an HdrHistogram of the recorder's configuration, without zeroing that histogram's
//! whole counts array (a quarter of a megabyte) at the end of every second.

use super::hlog::highest_equivalent;
use super::MAX_US;

#[derive(Default)]
pub struct SecondLatency {
    samples: Vec<u64>,
    /// A sample above `MAX_US` (the histogram clamps those): this second's figures come from a histogram.
    over: bool,
}

/// p50, p99 and max of one second, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl SecondLatency {
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.over |= us > MAX_US;
        self.samples.push(us);
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The second's figures (`None` without samples); starts the next second.
    pub fn close(&mut self) -> Option<Figures> {
        if self.samples.is_empty() {
            return None;
        }
        let f = if self.over {
            let mut h = super::new_histogram();
            for &v in &self.samples {
                h.saturating_record(v);
            }
            Figures { p50: h.value_at_quantile(0.5), p99: h.value_at_quantile(0.99), max: h.max() }
        } else {
            self.samples.sort_unstable();
            let s = &self.samples;
            // `Histogram::value_at_quantile`: the slot of the ceil(q n)-th smallest sample, its highest value.
            let at = |q: f64| highest_equivalent(s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]);
            Figures { p50: at(0.5), p99: at(0.99), max: highest_equivalent(s[s.len() - 1]) }
        };
        self.samples.clear();
        self.over = false;
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_the_histograms() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut s = SecondLatency::default();
        for n in [1usize, 2, 3, 7, 100, 101, 1999, 5000] {
            for big in [false, true] {
                let mut h = crate::record::new_histogram();
                for i in 0..n {
                    let v = if big && i == n / 2 { MAX_US + 12_345_678 } else { 1 + next() % (1 << (next() % 42)) };
                    h.saturating_record(v);
                    s.record(v);
                }
                let want = Figures { p50: h.value_at_quantile(0.5), p99: h.value_at_quantile(0.99), max: h.max() };
                assert_eq!(s.close(), Some(want), "{n} samples");
                assert!(s.is_empty());
            }
        }
        assert_eq!(s.close(), None);
    }
}
