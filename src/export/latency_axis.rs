//! Latency values and latency axes: durations as people say them, and a log10-of-milliseconds axis with round
//! durations as ticks when the values span more than two decades (linear otherwise).

use super::chart::{fmt_num, headroom, Axis};

/// Latency values (ms) as people say them: 850 µs, 12 ms, 1.5 s, 2 min, 1 h.
pub fn fmt_ms(ms: f64) -> String {
    if ms <= 0.0 {
        "0".to_string()
    } else if ms < 1.0 {
        format!("{} µs", fmt_num((ms * 1000.0 * 10.0).round() / 10.0))
    } else if ms < 1000.0 {
        format!("{} ms", fmt_num((ms * 10.0).round() / 10.0))
    } else if ms < 60_000.0 {
        format!("{} s", fmt_num((ms / 100.0).round() / 10.0))
    } else if ms < 3_600_000.0 {
        format!("{} min", fmt_num((ms / 6000.0).round() / 10.0))
    } else {
        format!("{} h", fmt_num((ms / 360_000.0).round() / 10.0))
    }
}

/// A latency axis: log10 of milliseconds when the values span more than two decades, linear otherwise.
#[derive(Clone, Debug)]
pub struct LatencyAxis {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
    /// Tick positions in axis units.
    pub ticks: Vec<f64>,
}

/// Round durations for log-axis ticks, in ms.
const LOG_TICKS_MS: [f64; 17] =
    [0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 6e4, 6e5, 3.6e6, 3.6e7, 8.64e7, 8.64e8, 1e9, 1e10, 1e11, 1e12];

impl LatencyAxis {
    pub fn new(min_ms: f64, max_ms: f64) -> LatencyAxis {
        let (min_ms, max_ms) = if max_ms > 0.0 { (min_ms.max(max_ms * 1e-9).max(0.001), max_ms) } else { (1.0, 1.0) };
        if max_ms / min_ms > 100.0 {
            let lo = min_ms.log10().floor();
            let hi = (max_ms * 1.3).log10();
            let ticks = LOG_TICKS_MS.iter().map(|t| t.log10()).filter(|t| *t >= lo - 1e-9 && *t <= hi).collect();
            LatencyAxis { log: true, lo, hi, ticks }
        } else {
            LatencyAxis { log: false, lo: 0.0, hi: headroom(max_ms), ticks: Vec::new() }
        }
    }
    /// Milliseconds to axis units.
    pub fn y(&self, ms: f64) -> f64 {
        if self.log {
            ms.max(10f64.powf(self.lo)).log10()
        } else {
            ms
        }
    }
    /// Axis units to a tick label.
    pub fn label(&self, v: f64) -> String {
        fmt_ms(if self.log { 10f64.powf(v) } else { v })
    }
    pub fn desc(&self, what: &str) -> String {
        if self.log {
            format!("{what} (log scale)")
        } else {
            format!("{what} (ms)")
        }
    }
    /// The y axis: round durations as ticks on a log axis (1 ms, 1 s, 1 min, 1 h), automatic ticks otherwise.
    pub fn axis(&self) -> Axis {
        if self.log {
            Axis::with_ticks(self.lo..self.hi, self.ticks.clone())
        } else {
            Axis::new(self.lo..self.hi)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::chart::fmt_tick;

    #[test]
    fn latency_labels_and_axes() {
        assert_eq!(fmt_ms(0.85), "850 µs");
        assert_eq!(fmt_ms(12.0), "12 ms");
        assert_eq!(fmt_ms(1500.0), "1.5 s");
        assert_eq!(fmt_ms(120_000.0), "2 min");
        assert_eq!(fmt_ms(3_600_000.0), "1 h");
        let wide = LatencyAxis::new(1.1, 4_320_133.0);
        assert!(wide.log);
        let labels: Vec<String> = wide.ticks.iter().map(|t| wide.label(*t)).collect();
        assert_eq!(labels, ["1 ms", "10 ms", "100 ms", "1 s", "10 s", "1 min", "10 min", "1 h"]);
        assert!(!LatencyAxis::new(50.0, 900.0).log);
        assert_eq!(fmt_tick(12000.0), "12,000");
    }
}
