//! Thinned time series for drawing: the per-second rows of `timeseries.csv`, streamed into at most `MAX_BUCKETS`
//! buckets of equal width (about two points per pixel column of a chart), each keeping the minimum and the maximum of
//! every drawn value so one-second spikes survive. Memory and drawing cost follow the chart's width, not the length of
//! the run; the exact data stays in the CSV.

use crate::record::series::Row;

/// Buckets a whole-run series keeps at most: a chart's plot is about 1,080 pixels wide, and each bucket draws its
/// minimum and its maximum.
pub const MAX_BUCKETS: usize = 1100;

/// The drawn values of a second, by index into `Bucket::min` / `Bucket::max`.
pub mod ch {
    pub const PUBLISHED: usize = 0;
    pub const COMPLETED: usize = 1;
    pub const DEAD_LETTERED: usize = 2;
    pub const FAILED: usize = 3;
    pub const READY: usize = 4;
    pub const UNACKED: usize = 5;
    pub const DELAYED: usize = 6;
    pub const DLQ: usize = 7;
    pub const CONSUMERS: usize = 8;
    /// The downstream's capacity while it is up (absent while down).
    pub const CAPACITY_UP: usize = 9;
    /// All capacity values, down seconds as 0.
    pub const CAPACITY: usize = 10;
    pub const ATTEMPTS: usize = 11;
    pub const BACKLOG: usize = 12;
    pub const P50: usize = 13;
    pub const P99: usize = 14;
    pub const MAX: usize = 15;
    /// Handler attempts by class (first try, retry 1 .. 4+, redelivery), then their stacked tops.
    pub const LAYER: usize = 16;
    pub const TOP: usize = 22;
    /// Calls that reached the downstream (circuit-open and throttled fast failures never do).
    pub const OFFERED: usize = 28;
    /// Circuit breakers open or half-open (absent without a breaker).
    pub const BREAKERS_OPEN: usize = 29;
    pub const N: usize = 30;
}

/// The drawn values of one row; NaN where a value is absent (no latency in that second, downstream down).
fn values(r: &Row) -> [f64; ch::N] {
    let mut v = [f64::NAN; ch::N];
    let opt = |x: Option<f64>| x.unwrap_or(f64::NAN);
    v[ch::PUBLISHED] = r.published as f64;
    v[ch::COMPLETED] = r.completed as f64;
    v[ch::DEAD_LETTERED] = r.dead_lettered as f64;
    v[ch::FAILED] = r.failed() as f64;
    v[ch::READY] = r.ready as f64;
    v[ch::UNACKED] = r.unacked as f64;
    v[ch::DELAYED] = r.delayed as f64;
    v[ch::DLQ] = r.dlq as f64;
    v[ch::CONSUMERS] = r.consumers as f64;
    v[ch::CAPACITY_UP] = if r.capacity > 0.0 { r.capacity } else { f64::NAN };
    v[ch::CAPACITY] = r.capacity;
    v[ch::ATTEMPTS] = r.attempts() as f64;
    v[ch::BACKLOG] = r.backlog() as f64;
    v[ch::P50] = opt(r.latency_p50_ms);
    v[ch::P99] = opt(r.latency_p99_ms);
    v[ch::MAX] = opt(r.latency_max_ms);
    v[ch::OFFERED] = r.offered as f64;
    v[ch::BREAKERS_OPEN] = r.breakers_open.map_or(f64::NAN, |n| n as f64);
    let layers = [
        r.attempts_first,
        r.attempts_retry1,
        r.attempts_retry2,
        r.attempts_retry3,
        r.attempts_retry4plus,
        r.attempts_redelivery,
    ];
    let mut acc = 0.0;
    for (k, n) in layers.iter().enumerate() {
        acc += *n as f64;
        v[ch::LAYER + k] = *n as f64;
        v[ch::TOP + k] = acc;
    }
    v
}

/// The seconds of one bucket: the minimum and maximum of each value over them (NaN: absent in every second).
#[derive(Clone, Debug)]
pub struct Bucket {
    pub min: [f64; ch::N],
    pub max: [f64; ch::N],
    /// Whether any second of the run fell in this bucket.
    pub seen: bool,
}

impl Bucket {
    fn empty() -> Bucket {
        Bucket { min: [f64::NAN; ch::N], max: [f64::NAN; ch::N], seen: false }
    }
    fn absorb(&mut self, v: &[f64; ch::N]) {
        // f64::min/max ignore a NaN operand, so absent values never win over present ones.
        for (k, x) in v.iter().enumerate() {
            self.min[k] = self.min[k].min(*x);
            self.max[k] = self.max[k].max(*x);
        }
        self.seen = true;
    }
    fn merge(&mut self, o: &Bucket) {
        if o.seen {
            self.absorb(&o.min);
            self.absorb(&o.max);
        }
    }
}

/// One bucket as a chart draws it: the seconds `from..to` and the values' range over them.
#[derive(Clone, Copy, Debug)]
pub struct Span<'a> {
    pub from: f64,
    pub to: f64,
    pub bucket: &'a Bucket,
}

impl Span<'_> {
    pub fn mid(&self) -> f64 {
        (self.from + self.to) / 2.0
    }
    /// `(min, max)` of value `c`, if present in any second of the bucket.
    pub fn range(&self, c: usize) -> Option<(f64, f64)> {
        let (lo, hi) = (self.bucket.min[c], self.bucket.max[c]);
        (!lo.is_nan()).then_some((lo, hi))
    }
}

/// Where a line puts a bucket's points: the middle of its seconds (counts within a second) or their end (gauges
/// at the end of a second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    Mid,
    End,
}

/// A run's seconds `start_s..` in buckets of `width` seconds, and the intervals in which the downstream was down.
#[derive(Clone, Debug)]
pub struct Series {
    pub start_s: u64,
    /// Seconds per bucket (1 while the run fits `max_buckets`).
    pub width: u64,
    pub buckets: Vec<Bucket>,
    /// Seconds (from, to) in which the downstream had no capacity; intervals closer than one bucket merged.
    pub down: Vec<(f64, f64)>,
    /// One past the last second seen (0 if none).
    pub end_s: u64,
    /// Seconds at and after this one are left out (a zoom window).
    limit_s: u64,
    max_buckets: usize,
}

impl Series {
    /// A series for a run expected to last `seconds` (its width grows if the rows go on longer).
    pub fn whole(seconds: u64) -> Series {
        let width = seconds.div_ceil(MAX_BUCKETS as u64).max(1);
        Series::new(0, u64::MAX, width, MAX_BUCKETS)
    }
    /// Every second of `from_s..to_s` on its own (a zoom panel).
    pub fn window(from_s: u64, to_s: u64) -> Series {
        let n = to_s.saturating_sub(from_s).clamp(1, MAX_BUCKETS as u64) as usize;
        Series::new(from_s, to_s, 1, n)
    }
    fn new(start_s: u64, limit_s: u64, width: u64, max_buckets: usize) -> Series {
        Series { start_s, width, buckets: Vec::new(), down: Vec::new(), end_s: 0, limit_s, max_buckets }
    }

    /// Row `row` holds for the seconds `from..to` (one second of the file, or an idle stretch after it).
    pub fn add(&mut self, from: u64, to: u64, row: &Row) {
        let (from, to) = (from.max(self.start_s), to.min(self.limit_s));
        if from >= to {
            return;
        }
        while (to - 1 - self.start_s) / self.width >= self.max_buckets as u64 {
            self.coarsen();
        }
        let v = values(row);
        let (a, b) = (((from - self.start_s) / self.width) as usize, ((to - 1 - self.start_s) / self.width) as usize);
        if self.buckets.len() <= b {
            self.buckets.resize(b + 1, Bucket::empty());
        }
        for bucket in &mut self.buckets[a..=b] {
            bucket.absorb(&v);
        }
        if row.capacity <= 0.0 {
            self.down_push(from as f64, to as f64);
        }
        self.end_s = self.end_s.max(to);
    }

    fn down_push(&mut self, from: f64, to: f64) {
        let gap = (self.width - 1) as f64;
        match self.down.last_mut() {
            Some(last) if from <= last.1 + gap && from >= last.0 => last.1 = last.1.max(to),
            _ => self.down.push((from, to)),
        }
    }

    /// Doubles the bucket width: neighbouring buckets merge, down intervals closer than a bucket join.
    fn coarsen(&mut self) {
        let old = std::mem::take(&mut self.buckets);
        self.buckets = old
            .chunks(2)
            .map(|pair| {
                let mut b = pair[0].clone();
                if let Some(o) = pair.get(1) {
                    b.merge(o);
                }
                b
            })
            .collect();
        self.width = self.width.saturating_mul(2);
        let down = std::mem::take(&mut self.down);
        for (a, b) in down {
            self.down_push(a, b);
        }
    }

    /// The buckets that hold data, in time order.
    pub fn spans(&self) -> impl Iterator<Item = Span<'_>> + '_ {
        let end = self.end_s as f64;
        self.buckets.iter().enumerate().filter(|(_, b)| b.seen).map(move |(i, bucket)| {
            let from = self.start_s as f64 + i as f64 * self.width as f64;
            Span { from, to: (from + self.width as f64).min(end), bucket }
        })
    }

    /// The spans overlapping the seconds `from..to`.
    pub fn spans_in(&self, from: f64, to: f64) -> impl Iterator<Item = Span<'_>> + '_ {
        self.spans().filter(move |s| s.to > from && s.from < to)
    }

    /// The largest value of `c` (0 if it is never present).
    pub fn peak(&self, c: usize) -> f64 {
        self.spans().filter_map(|s| s.range(c)).map(|r| r.1).fold(0.0, f64::max)
    }

    /// `(min, max)` of `c` over the whole series, if ever present.
    pub fn extent(&self, c: usize) -> Option<(f64, f64)> {
        self.spans().filter_map(|s| s.range(c)).reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// Whether `c` is ever above zero.
    pub fn any_positive(&self, c: usize) -> bool {
        self.peak(c) > 0.0
    }

    /// Points of a line through value `c`: each bucket's minimum and maximum (one point where they are equal), `None`
    /// where the value is absent (a gap in the line).
    pub fn line(&self, c: usize, at: At) -> Vec<(f64, Option<f64>)> {
        let mut out = Vec::with_capacity(self.buckets.len() * 2);
        for s in self.spans() {
            let x = if at == At::Mid { s.mid() } else { s.to };
            match s.range(c) {
                None => out.push((x, None)),
                Some((lo, hi)) => {
                    out.push((x, Some(lo)));
                    if hi != lo {
                        out.push((x, Some(hi)));
                    }
                }
            }
        }
        out
    }

    /// `line` without gaps (values that are always present).
    pub fn line_dense(&self, c: usize, at: At) -> Vec<(f64, f64)> {
        self.line(c, at).into_iter().filter_map(|(x, y)| Some((x, y?))).collect()
    }

    /// Steps of an area under value `c`: each bucket at its maximum over its seconds, within `from..to`.
    pub fn steps_in(&self, c: usize, from: f64, to: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(self.buckets.len() * 2);
        for s in self.spans_in(from, to) {
            let y = s.range(c).map_or(0.0, |r| r.1);
            out.push((s.from, y));
            out.push((s.to, y));
        }
        out
    }

    /// The seconds (from, to) in which value `c` was above zero, neighbouring buckets joined (bands on a chart).
    pub fn bands(&self, c: usize) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        for s in self.spans().filter(|s| s.range(c).is_some_and(|r| r.1 > 0.0)) {
            match out.last_mut() {
                Some(last) if last.1 >= s.from => last.1 = s.to,
                _ => out.push((s.from, s.to)),
            }
        }
        out
    }

    /// `steps_in` over the whole series.
    pub fn steps(&self, c: usize) -> Vec<(f64, f64)> {
        self.steps_in(c, f64::NEG_INFINITY, f64::INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_s: u64, published: u64, capacity: f64) -> Row {
        Row { time_s, published, capacity, ..Row::default() }
    }

    #[test]
    fn short_runs_keep_every_second() {
        let mut s = Series::whole(10);
        for t in 0..10 {
            s.add(t, t + 1, &row(t, t * 10, 5.0));
        }
        assert_eq!((s.width, s.buckets.len(), s.end_s), (1, 10, 10));
        assert_eq!(s.line_dense(ch::PUBLISHED, At::Mid)[3], (3.5, 30.0));
        assert_eq!(s.steps(ch::PUBLISHED).len(), 20);
    }

    #[test]
    fn long_runs_are_bounded_and_keep_their_spikes() {
        let seconds = 1_000_000u64;
        let mut s = Series::whole(seconds);
        for t in 0..seconds {
            let spike = if t == 777_777 { 9_000 } else { 3 };
            s.add(t, t + 1, &row(t, spike, 1.0));
        }
        assert!(s.buckets.len() <= MAX_BUCKETS, "{} buckets", s.buckets.len());
        assert_eq!(s.width, 910);
        assert_eq!(s.peak(ch::PUBLISHED), 9_000.0);
        assert_eq!(s.extent(ch::PUBLISHED), Some((3.0, 9_000.0)));
        assert_eq!(s.line(ch::PUBLISHED, At::Mid).len(), s.buckets.len() + 1, "min and max only where they differ");
    }

    #[test]
    fn rows_beyond_the_expected_length_coarsen_the_buckets() {
        let mut s = Series::whole(100);
        s.add(0, 1, &row(0, 1, 1.0));
        s.add(1, 10_000_000, &row(1, 0, 1.0));
        s.add(10_000_000, 10_000_001, &row(10_000_000, 7, 1.0));
        assert!(s.buckets.len() <= MAX_BUCKETS);
        assert_eq!((s.peak(ch::PUBLISHED), s.end_s), (7.0, 10_000_001));
        s.add(u64::MAX - 1, u64::MAX, &row(u64::MAX - 1, 1, 1.0));
        assert!(s.buckets.len() <= MAX_BUCKETS);
    }

    #[test]
    fn down_intervals_closer_than_a_bucket_merge() {
        let mut s = Series::whole(10);
        for (t, c) in [(0, 1.0), (1, 0.0), (2, 0.0), (3, 1.0), (4, 0.0), (5, 1.0)] {
            s.add(t, t + 1, &row(t, 0, c));
        }
        assert_eq!(s.down, vec![(1.0, 3.0), (4.0, 5.0)]);
        let mut coarse = Series::whole(MAX_BUCKETS as u64 * 4);
        for (t, c) in [(0, 0.0), (1, 1.0), (2, 0.0), (9, 0.0), (10, 1.0)] {
            coarse.add(t, t + 1, &row(t, 0, c));
        }
        assert_eq!(coarse.down, vec![(0.0, 3.0), (9.0, 10.0)]);
    }

    #[test]
    fn bands_join_neighbouring_seconds_and_skip_absent_values() {
        let mut s = Series::whole(10);
        for (t, open) in [(0, Some(0)), (1, Some(2)), (2, Some(1)), (3, Some(0)), (5, Some(1)), (6, None)] {
            s.add(t, t + 1, &Row { time_s: t, breakers_open: open, ..Row::default() });
        }
        assert_eq!(s.bands(ch::BREAKERS_OPEN), vec![(1.0, 3.0), (5.0, 6.0)]);
        assert_eq!(s.bands(ch::DLQ), vec![]);
    }

    #[test]
    fn a_window_keeps_its_own_seconds() {
        let mut s = Series::window(100, 110);
        for t in 95..120 {
            s.add(t, t + 1, &row(t, t, 1.0));
        }
        let spans: Vec<(f64, f64)> = s.spans().map(|x| (x.from, x.to)).collect();
        assert_eq!(spans.len(), 10);
        assert_eq!((spans[0], spans[9]), ((100.0, 101.0), (109.0, 110.0)));
    }
}
