//! Windowed metrics: a metric over every window of W seconds, sliding by 1 s, from the run's per-second data
//! (`latency.hlog` intervals merged into one distribution per window, or sums of `timeseries.csv` counters), so a
//! late collapse is not diluted by a good start.

use super::metric::{Counter, LatencyStat, WindowSource};
use crate::record::series::Row;
use crate::report::check;
use crate::report::{HLOG, TIMESERIES};
use std::collections::BTreeMap;
use std::path::Path;

/// A metric's value in the window `[start_s, start_s + w)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start_s: u64,
    pub value: f64,
}

/// One second's latency distribution: (highest equivalent value in us, count), ascending.
type Sparse = Vec<(u64, u64)>;

/// The per-second data of one run folder, read once and shared by all windowed checks.
pub struct Series {
    /// Seconds of scenario time the run covered (windows never reach past it).
    seconds: u64,
    /// Messages completed, from the run's summary.json: with any, the files must hold data.
    completed: u64,
    latency: Option<Result<Vec<(u64, Sparse)>, String>>,
    rows: Option<Result<Vec<Row>, String>>,
}

impl Series {
    pub fn new(summary: &crate::report::summary::Summary) -> Series {
        let seconds = (summary.duration_s.ceil() as u64).max(1);
        Series { seconds, completed: summary.messages.completed, latency: None, rows: None }
    }

    /// Every window's value; windows without completions have no latency and are left out. A run shorter than
    /// `w` is one window.
    pub fn windows(&mut self, dir: &Path, source: WindowSource, w: u64) -> Result<Vec<Window>, String> {
        let seconds = self.seconds;
        match source {
            WindowSource::Counter(c) => {
                let rows = self.rows(dir)?;
                let n = seconds.max(rows.last().map_or(0, |r| r.time_s + 1));
                Ok(counter_windows(rows, c, w, n))
            }
            WindowSource::Latency(stat) => {
                let intervals = self.latency(dir)?;
                let n = seconds.max(intervals.last().map_or(0, |(sec, _)| sec + 1));
                Ok(latency_windows(intervals, stat, w, n.saturating_sub(w) + 1))
            }
        }
    }

    fn rows(&mut self, dir: &Path) -> Result<&[Row], String> {
        let path = dir.join(TIMESERIES);
        let completed = self.completed;
        let rows = self.rows.get_or_insert_with(|| {
            if !path.exists() {
                return Err(format!(
                    "{} is missing; windowed counters need the run's per-second series",
                    path.display()
                ));
            }
            check::timeseries(&path, completed).map_err(|e| format!("{}: {e}", path.display()))
        });
        rows.as_deref().map_err(Clone::clone)
    }

    fn latency(&mut self, dir: &Path) -> Result<&[(u64, Sparse)], String> {
        let path = dir.join(HLOG);
        let completed = self.completed;
        let intervals = self.latency.get_or_insert_with(|| {
            let mut out = Vec::new();
            crate::record::hlog::for_each_interval(&path, |sec, h| {
                let sparse = h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
                out.push((sec, sparse));
            })
            .map_err(|e| format!("{e}; windowed latency needs latency.hlog, written by `loadtest run`"))?;
            check::hlog(&path, out.len(), completed).map_err(|e| format!("{}: {e}", path.display()))?;
            out.sort_by_key(|(sec, _)| *sec);
            Ok(out)
        });
        intervals.as_deref().map_err(Clone::clone)
    }
}

/// Sums of a counter over `[t, t + w)` for every start `t` in a run of `n` seconds.
fn counter_windows(rows: &[Row], c: Counter, w: u64, n: u64) -> Vec<Window> {
    let mut per_sec = vec![0u64; n as usize];
    for r in rows {
        if let Some(slot) = per_sec.get_mut(r.time_s as usize) {
            *slot += c.of(r);
        }
    }
    let w = (w as usize).min(per_sec.len());
    let mut sum: u64 = per_sec[..w].iter().sum();
    let mut out = vec![Window { start_s: 0, value: sum as f64 }];
    for t in 1..=(per_sec.len() - w) {
        sum = sum + per_sec[t + w - 1] - per_sec[t - 1];
        out.push(Window { start_s: t as u64, value: sum as f64 });
    }
    out
}

fn latency_windows(intervals: &[(u64, Sparse)], stat: LatencyStat, w: u64, starts: u64) -> Vec<Window> {
    let helper = crate::record::new_histogram(); // only for the median-equivalent value of a slot (means)
    let mut merged: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total = 0u64;
    let (mut enter, mut leave) = (0usize, 0usize);
    let mut out = Vec::new();
    let mut last: Option<f64> = None;
    for t in 0..starts {
        let mut changed = false;
        while enter < intervals.len() && intervals[enter].0 < t + w {
            for &(v, n) in &intervals[enter].1 {
                *merged.entry(v).or_insert(0) += n;
                total += n;
            }
            enter += 1;
            changed = true;
        }
        while leave < enter && intervals[leave].0 < t {
            for &(v, n) in &intervals[leave].1 {
                let slot = merged.get_mut(&v).expect("a leaving interval was added before");
                *slot -= n;
                if *slot == 0 {
                    merged.remove(&v);
                }
                total -= n;
            }
            leave += 1;
            changed = true;
        }
        if changed {
            last = (total > 0).then(|| statistic(&merged, total, stat, &helper));
        }
        if let Some(value) = last {
            out.push(Window { start_s: t, value });
        }
    }
    out
}

/// HdrHistogram's own definitions (`value_at_quantile`, `mean`, `max`), in milliseconds as summary.json has them.
fn statistic(merged: &BTreeMap<u64, u64>, total: u64, stat: LatencyStat, helper: &hdrhistogram::Histogram<u64>) -> f64 {
    let ms = |us: f64| crate::report::summary::round(us / 1000.0, 3);
    match stat {
        LatencyStat::Count => total as f64,
        LatencyStat::Max => ms(*merged.keys().next_back().unwrap_or(&0) as f64),
        LatencyStat::Mean => {
            let sum: f64 = merged.iter().map(|(&v, &n)| helper.median_equivalent(v) as f64 * n as f64).sum();
            ms(sum / total as f64)
        }
        LatencyStat::Quantile(q) => {
            let target = ((q * total as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (&v, &n) in merged {
                seen += n;
                if seen >= target {
                    return ms(v as f64);
                }
            }
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: u64, failed: u64) -> Row {
        Row { time_s: t, calls_failed: failed, ..Row::default() }
    }

    #[test]
    fn counters_slide_by_one_second() {
        let rows: Vec<Row> = [0, 5, 0, 0, 7, 1].iter().enumerate().map(|(t, &f)| row(t as u64, f)).collect();
        let v: Vec<f64> = counter_windows(&rows, Counter::CallsFailed, 3, 6).iter().map(|w| w.value).collect();
        assert_eq!(v, [5.0, 5.0, 7.0, 8.0]);
        // A run shorter than the window is one window over all of it.
        let v = counter_windows(&rows, Counter::CallsFailed, 60, 6);
        assert_eq!(v, [Window { start_s: 0, value: 13.0 }]);
    }

    #[test]
    fn latency_windows_merge_distributions_not_percentiles() {
        let sparse = |values: &[u64]| {
            let mut h = crate::record::new_histogram();
            values.iter().for_each(|&v| h.record(v).unwrap());
            h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect::<Sparse>()
        };
        // 99 fast messages in second 0, one slow one in second 1, nothing in 2, 3 fast ones in second 3.
        let intervals = vec![(0, sparse(&[1000; 99])), (1, sparse(&[900_000])), (3, sparse(&[2000, 2000, 2000]))];
        let p99 = latency_windows(&intervals, LatencyStat::Quantile(0.99), 2, 3);
        // [0,2): p99 of 100 values is the 99th smallest (1 ms); [1,3): only the slow one; [2,4): the three fast.
        assert_eq!(
            p99,
            [
                Window { start_s: 0, value: 1.0 },
                Window { start_s: 1, value: 900.095 },
                Window { start_s: 2, value: 2.0 }
            ]
        );
        let max = latency_windows(&intervals, LatencyStat::Max, 1, 4);
        assert_eq!(max.iter().map(|w| w.start_s).collect::<Vec<_>>(), [0, 1, 3], "empty seconds have no window");
        let count = latency_windows(&intervals, LatencyStat::Count, 4, 1);
        assert_eq!(count, [Window { start_s: 0, value: 103.0 }]);
    }
}
