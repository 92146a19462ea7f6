//! Shared axes for `compare`: the per-run charts of one kind drawn on the same scales for every run compared (the
//! longest run's time, the highest peak of any run, the latency range of them all), so panels compare by eye. A run
//! drawn on its own (`loadtest run`, `report`) has none and keeps its own axes.

use super::chart::LatencyAxis;
use super::{backlog, latency, latency_dist, retry_storm, throughput, RunData};

/// The union of the compared runs' extents, one field per scale a per-run chart draws. Peaks are the data's (charts
/// add their headroom).
#[derive(Clone, Debug)]
pub struct Shared {
    /// Scenario seconds of the longest run.
    pub duration_s: f64,
    /// Retry-storm chart: attempts or capacity per second.
    pub attempts: f64,
    /// Retry-storm zoom, in seconds from the end of the last fault, when any run has a zoom panel: every run then
    /// draws one, on this range.
    pub zoom: Option<(f64, f64)>,
    /// Throughput chart: published, completed or dead-lettered per second.
    pub messages: f64,
    /// Throughput chart: failed handler attempts per second (its lower panel, when above 0).
    pub failed: f64,
    /// Latency over time.
    pub latency: LatencyAxis,
    /// Latency by percentile: the latency axis and the right end of the percentile axis.
    pub percentiles: (LatencyAxis, f64),
    /// Backlog chart: queue depths, then consuming replicas.
    pub depths: f64,
    pub consumers: f64,
}

fn max_of(runs: &[RunData], f: impl Fn(&RunData) -> f64) -> f64 {
    runs.iter().map(f).fold(0.0, f64::max)
}

impl Shared {
    /// The axes that fit every one of `runs`.
    pub fn over(runs: &[RunData]) -> Shared {
        let zooms: Vec<(f64, f64)> = runs
            .iter()
            .filter_map(|r| Some((retry_storm::zoom_window(r)?, r.summary.faults_end_s?)))
            .map(|((from, to), end)| (from - end, to - end))
            .collect();
        let zoom = zooms.iter().copied().reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
        Shared {
            duration_s: max_of(runs, |r| r.summary.duration_s.max(r.seconds as f64)),
            attempts: max_of(runs, retry_storm::y_peak),
            zoom,
            messages: max_of(runs, |r| throughput::peaks(r).0),
            failed: max_of(runs, |r| throughput::peaks(r).1),
            latency: latency::axis_for(runs.iter()),
            percentiles: (
                latency_dist::axis_for(runs.iter().map(|r| r.latency.as_slice())),
                latency_dist::x_end(runs.iter().map(|r| r.latency.as_slice())),
            ),
            depths: max_of(runs, |r| backlog::peaks(r).0),
            consumers: max_of(runs, |r| backlog::peaks(r).1),
        }
    }

    /// Gives every one of `runs` the axes that fit them all.
    pub fn share(runs: &mut [RunData]) {
        let shared = Shared::over(runs);
        for r in runs {
            r.shared = Some(shared.clone());
        }
    }
}

/// Rows of legend a per-run chart keeps room for: two under shared axes, so that a run with a longer legend (a
/// storm's attempt classes, downstream and fault keys) does not sit its plot lower than the other runs'.
pub fn legend_rows(run: &RunData) -> usize {
    if run.shared.is_some() {
        2
    } else {
        1
    }
}

/// `own` for a run drawn alone, the shared value under `compare`.
pub fn or_own<T>(run: &RunData, shared: impl Fn(&Shared) -> T, own: impl FnOnce() -> T) -> T {
    match &run.shared {
        Some(s) => shared(s),
        None => own(),
    }
}
