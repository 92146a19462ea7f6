//! A sliding window of two counts over scenario time, kept in a fixed number of buckets (memory does not grow
//! with the window or the traffic): the retry budget's first attempts and retries, the throttle's requests and
//! accepts.

use crate::time::Nanos;
use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub struct Window {
    bucket_len: Nanos,
    buckets: u64,
    /// (bucket index, counts), oldest first; at most `buckets` entries.
    ring: VecDeque<(u64, [u64; 2])>,
    totals: [u64; 2],
}

impl Window {
    /// A window of `len` cut into `buckets` buckets (an event counts until its bucket slides out).
    pub fn new(len: Nanos, buckets: u64) -> Window {
        let buckets = buckets.max(1);
        let bucket_len = (len / buckets).max(1);
        Window { bucket_len, buckets, ring: VecDeque::with_capacity(buckets as usize + 1), totals: [0; 2] }
    }

    fn slide(&mut self, now: Nanos) -> u64 {
        let bucket = now / self.bucket_len;
        while let Some(&(b, counts)) = self.ring.front() {
            if b + self.buckets > bucket {
                break;
            }
            self.ring.pop_front();
            self.totals[0] -= counts[0];
            self.totals[1] -= counts[1];
        }
        bucket
    }

    /// Counts one event of kind `which` (0 or 1) at `now`.
    pub fn add(&mut self, now: Nanos, which: usize) {
        let bucket = self.slide(now);
        match self.ring.back_mut() {
            Some((b, counts)) if *b == bucket => counts[which] += 1,
            _ => {
                let mut counts = [0; 2];
                counts[which] = 1;
                self.ring.push_back((bucket, counts));
            }
        }
        self.totals[which] += 1;
    }

    /// Both counts within the window that ends at `now`.
    pub fn totals(&mut self, now: Nanos) -> [u64; 2] {
        self.slide(now);
        self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn events_count_until_their_bucket_slides_out() {
        // 10 buckets of 1 s
        let mut w = Window::new(10_000, 10);
        w.add(0, 0);
        w.add(999, 0);
        w.add(1_000, 1);
        assert_eq!(w.totals(9_999), [2, 1]);
        assert_eq!(w.totals(10_000), [0, 1], "the first bucket [0, 1000) has slid out");
        assert_eq!(w.totals(11_000), [0, 0]);
        w.add(50_000, 1);
        assert_eq!(w.totals(50_000), [0, 1]);
    }
}
