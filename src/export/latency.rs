//! Latency over time: p50, p99 and max end-to-end latency of the messages completed in each second (from their
//! intended publish time), on a log scale when the values span more than two decades. Seconds in which nothing
//! completed leave a gap.

use super::chart::*;
use super::shared::{legend_rows, or_own};
use super::thin::{ch, At};
use super::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct LatencyOverTime;

/// (label, colour, column), drawn in this order: the thin max line last, so it shows where it equals p99.
pub const LINES: [Column; 3] = [("p99", pal::ORANGE, ch::P99), ("p50", pal::BLUE, ch::P50), ("max", pal::RED, ch::MAX)];

/// The latency axis that fits every per-second value of these runs.
pub fn axis_for<'a>(runs: impl Iterator<Item = &'a RunData>) -> LatencyAxis {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for run in runs {
        for c in [ch::P50, ch::P99, ch::MAX] {
            if let Some((a, b)) = run.series.extent(c) {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
    }
    LatencyAxis::new(if lo.is_finite() { lo } else { 1.0 }, hi)
}

/// Draws one per-second latency series as line segments between gaps (isolated seconds as dots).
pub fn draw_series<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    segments: Vec<Vec<(f64, f64)>>,
    color: RGBColor,
    width: u32,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let style = color.stroke_width(width);
    let dots: Vec<(f64, f64)> = segments.iter().filter(|s| s.len() == 1).map(|s| s[0]).collect();
    chart.draw_series(segments.into_iter().filter(|s| s.len() > 1).map(move |s| PathElement::new(s, style)))?;
    chart.draw_series(dots.into_iter().map(|p| Circle::new(p, width + 1, color.filled())))?;
    Ok(())
}

impl Draw<RunData> for LatencyOverTime {
    fn name(&self) -> &'static str {
        "latency"
    }
    fn title(&self) -> &'static str {
        "End-to-end latency per second"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, run: &RunData) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let mut keys: Vec<Key> = LINES.iter().map(|(l, c, _)| Key::new(*l, Swatch::Line(*c))).collect();
        keys.extend(fault_key(run));
        let area = page_rows(root, &title_for(Draw::title(self), run), &subtitle_for(run), &keys, legend_rows(run))?;
        let axis = TimeAxis::of(run);
        let lat = or_own(run, |s| s.latency.clone(), || axis_for(std::iter::once(run)));
        let mut chart = plot(&area, Axis::new(0.0..axis.end), lat.axis(), 56)?;
        mesh(&mut chart, &axis.label, &lat.desc("latency from intended publish"), &|v| fmt_num(*v), &|v| {
            lat.label(*v)
        })?;
        shade_faults(&mut chart, run, &axis, (lat.lo, lat.hi))?;
        for (label, color, c) in LINES {
            let pts = run.series.line(c, At::Mid).into_iter().map(|(t, v)| (axis.x(t), v.map(|v| lat.y(v))));
            draw_series(&mut chart, segments(pts), color, if label == "p99" { 2 } else { 1 })?;
        }
        Ok(())
    }
}
