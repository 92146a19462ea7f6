//! What each network or broker fault of a real-broker run cost: the time series and the latency log read back over
//! the fault's window (from when it took effect until it was undone, stretched over the connection outages and
//! blocked spans it caused), against the seconds before the first fault.

use crate::broker::real::{FaultCost, FaultRun, Interval, RealReport};
use crate::record::series::Row;
use crate::report::summary::{percentiles, round};
use hdrhistogram::Histogram;
use std::path::Path;

/// An outage or a blocked span that starts this soon (scenario seconds) after a fault's end is counted as its doing.
const CAUSED_WITHIN_S: f64 = 2.0;

/// Fills in `cost` for every fault that took effect, from `timeseries.csv` and `latency.hlog` in `dir`.
pub fn fill(dir: &Path, real: &mut RealReport) -> Result<(), String> {
    if real.faults.iter().all(|f| f.start_s.is_none()) {
        return Ok(());
    }
    let csv = dir.join(super::TIMESERIES);
    let rows = crate::record::series::read_csv(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
    let first = real.faults.iter().filter_map(|f| f.issued_s.or(f.start_s)).fold(f64::INFINITY, f64::min);
    let windows: Vec<Option<(u64, u64)>> = real.faults.iter().map(|f| window(f, real)).collect();
    // Latency per window (and before the first fault) from the per-second histograms.
    let mut hists: Vec<Histogram<u64>> = windows.iter().map(|_| crate::record::new_histogram()).collect();
    let mut before = crate::record::new_histogram();
    let hlog = dir.join(super::HLOG);
    if hlog.is_file() {
        crate::record::hlog::for_each_interval(&hlog, |sec, h| {
            if (sec as f64) + 1.0 <= first {
                let _ = before.add(h);
            }
            for (w, acc) in windows.iter().zip(hists.iter_mut()) {
                if w.is_some_and(|(from, to)| sec >= from && sec < to) {
                    let _ = acc.add(h);
                }
            }
        })?;
    }
    let base: Vec<&Row> = rows.iter().filter(|r| (r.time_s as f64) + 1.0 <= first).collect();
    let per_s = |rows: &[&Row], f: fn(&Row) -> u64| {
        if rows.is_empty() {
            0.0
        } else {
            round(rows.iter().map(|r| f(r)).sum::<u64>() as f64 / rows.len() as f64, 3)
        }
    };
    let published_before = per_s(&base, |r| r.published);
    let completed_before = per_s(&base, |r| r.completed);
    let peak_ready_before = base.iter().map(|r| r.ready).max().unwrap_or(0);
    let p50_before = percentiles(&before).p50;
    // Message ids are given out in publish order: the time series' cumulative publishes date each id.
    let mut cumulative = Vec::with_capacity(rows.len());
    let mut total = 0u64;
    for r in &rows {
        total += r.published;
        cumulative.push((r.time_s, total));
    }
    let published_by = |sec: u64| cumulative.iter().take_while(|(t, _)| *t < sec).last().map_or(0, |(_, c)| *c);
    let mut previous_end = 0u64;
    for (i, f) in real.faults.iter_mut().enumerate() {
        let Some((from, to)) = windows[i] else { continue };
        let inside: Vec<&Row> = rows.iter().filter(|r| r.time_s >= from && r.time_s < to).collect();
        let sum = |g: fn(&Row) -> u64| inside.iter().map(|r| g(r)).sum::<u64>();
        let span = (to - from).max(1) as f64;
        let (lo, hi) = (published_by(previous_end), published_by(to));
        let lost = real.ledger.lost_ids.iter().filter(|&&id| id >= lo && id < hi).count() as u64;
        previous_end = to;
        let recovered_after_s = (!base.is_empty()).then(|| {
            rows.iter()
                .filter(|r| r.time_s >= to)
                .find(|r| {
                    let calm = r.latency_p50_ms.is_none_or(|p| p <= 2.0 * p50_before + 5.0);
                    r.ready <= peak_ready_before + published_before.ceil() as u64 && calm
                })
                .map(|r| (r.time_s - to) as f64)
        });
        f.cost = Some(FaultCost {
            from_s: from,
            to_s: to,
            published: sum(|r| r.published),
            completed: sum(|r| r.completed),
            failed_attempts: sum(Row::failed),
            dead_lettered: sum(|r| r.dead_lettered),
            published_per_s: round(sum(|r| r.published) as f64 / span, 3),
            published_per_s_before: published_before,
            completed_per_s: round(sum(|r| r.completed) as f64 / span, 3),
            completed_per_s_before: completed_before,
            completed_per_s_min: inside.iter().map(|r| r.completed).min().unwrap_or(0),
            seconds_without_completions: inside.iter().filter(|r| r.completed == 0).count() as u64,
            latency_ms: percentiles(&hists[i]),
            latency_before_ms: percentiles(&before),
            connections_lost: real.outages.iter().filter(|o| caused(o, from, to)).count() as u64,
            // fold from +0.0: an empty f64 `sum()` is -0.0, which would print as "-0.0 s".
            blocked_s: round(real.publishing.blocked.iter().map(|b| overlap(b, from, to)).fold(0.0, |a, b| a + b), 3),
            lost,
            recovered_after_s: recovered_after_s.flatten(),
        });
    }
    Ok(())
}

/// The whole seconds of the time series a fault covers: from when its first command was issued (a kill closes
/// the first connection seconds before its last `close_connection` returns) or its toxic's window opened, until it
/// was undone, stretched over the outages and blocked spans that began meanwhile (or just after); at least 1 s.
fn window(f: &FaultRun, real: &RealReport) -> Option<(u64, u64)> {
    let took_effect = f.start_s?;
    let start = f.issued_s.unwrap_or(took_effect);
    let mut end = f.end_s.unwrap_or(start).max(start);
    for i in real.outages.iter().chain(&real.publishing.blocked) {
        if i.start_s >= start - 0.5 && i.start_s <= end + CAUSED_WITHIN_S {
            end = end.max(i.start_s + i.duration_s.unwrap_or(0.0));
        }
    }
    let from = start.floor() as u64;
    Some((from, (end.ceil() as u64).max(from + 1)))
}

fn caused(i: &Interval, from: u64, to: u64) -> bool {
    i.start_s >= from as f64 - 0.5 && i.start_s < to as f64
}

fn overlap(i: &Interval, from: u64, to: u64) -> f64 {
    let (s, e) = (i.start_s, i.start_s + i.duration_s.unwrap_or(0.0));
    (e.min(to as f64) - s.max(from as f64)).max(0.0)
}
