//! The latency distribution as HdrHistogram users know it: latency by percentile, the x axis on the
//! 1/(1-p) log scale (ticks 90%, 99%, 99.9% ...), drawn from `latency.hgrm` so `loadtest report` can re-render it.

use super::chart::*;
use super::shared::{legend_rows, or_own};
use super::RunData;
use crate::report::hgrm::Point;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct LatencyDistribution;

/// x position of a percentile: log10(1/(1-p)); 90% is 1, 99% is 2. `None` for 100%.
pub fn x_of(p: f64) -> Option<f64> {
    (p < 1.0).then(|| (1.0 / (1.0 - p)).log10())
}

/// Label of an x tick: 0 → "0%", 1 → "90%", 2 → "99%", 3 → "99.9%".
pub fn x_label(x: f64) -> String {
    let n = x.round() as i32;
    match n {
        i32::MIN..=0 => "0%".to_string(),
        1 => "90%".to_string(),
        n => format!("99.{}%", "9".repeat((n - 2) as usize)).replace("99.%", "99%"),
    }
}

/// The points to draw as a step line: every finite percentile, then the maximum at the right edge.
pub fn steps(points: &[Point], x_end: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len() * 2 + 1);
    for p in points {
        let x = x_of(p.percentile).unwrap_or(x_end).min(x_end);
        if let Some(&(_, last_y)) = out.last() {
            out.push((x, last_y));
        }
        out.push((x, p.value_ms));
    }
    if let Some(&(x, y)) = out.last() {
        if x < x_end {
            out.push((x_end, y));
        }
    }
    out
}

/// Right end of the x axis for these distributions: the decade past the last finite percentile, at least 99.9%.
pub fn x_end<'a>(dists: impl Iterator<Item = &'a [Point]>) -> f64 {
    let last = dists.flat_map(|d| d.iter().filter_map(|p| x_of(p.percentile))).fold(0.0, f64::max);
    last.ceil().max(3.0)
}

/// The latency axis for these distributions.
pub fn axis_for<'a>(dists: impl Iterator<Item = &'a [Point]>) -> LatencyAxis {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for p in dists.flatten() {
        lo = lo.min(p.value_ms);
        hi = hi.max(p.value_ms);
    }
    LatencyAxis::new(if lo.is_finite() { lo } else { 1.0 }, hi)
}

/// The frame shared by the single and the overlaid distribution chart.
pub fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    lat: &LatencyAxis,
    x_end: f64,
) -> Result<Plot<'a, DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    let x_ticks: Vec<f64> = (0..=x_end as i32).map(f64::from).collect();
    let mut chart = plot(area, Axis::with_ticks(0.0..x_end, x_ticks), lat.axis(), 56)?;
    let desc = lat.desc("latency from intended publish");
    mesh(&mut chart, "percentile (1/(1-p) log scale)", &desc, &|v| x_label(*v), &|v| lat.label(*v))?;
    Ok(chart)
}

impl Draw<RunData> for LatencyDistribution {
    fn name(&self) -> &'static str {
        "latency-distribution"
    }
    fn title(&self) -> &'static str {
        "Latency by percentile"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, run: &RunData) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let s = &run.summary.latency_ms;
        let sub = format!(
            "{} completed messages · p50 {} · p99 {} · p99.9 {} · max {}",
            fmt_tick(s.count as f64),
            fmt_ms(s.p50),
            fmt_ms(s.p99),
            fmt_ms(s.p999),
            fmt_ms(s.max)
        );
        let keys = [Key::new("end-to-end latency of completed messages", Swatch::Line(pal::BLUE))];
        let sub = match never_completed(run) {
            Some(note) => format!("{sub} · {note}"),
            None => sub,
        };
        let area = page_rows(root, &title_for(Draw::title(self), run), &sub, &keys, legend_rows(run))?;
        let own = || {
            let dist = || std::iter::once(run.latency.as_slice());
            (axis_for(dist()), x_end(dist()))
        };
        let (lat, end) = or_own(run, |s| s.percentiles.clone(), own);
        let mut chart = frame(&area, &lat, end)?;
        if run.latency.is_empty() {
            chart.draw_series(std::iter::once(Text::new(
                "no message completed",
                (end / 2.0, (lat.lo + lat.hi) / 2.0),
                font(20.0).color(&pal::MUTED),
            )))?;
            return Ok(());
        }
        let pts: Vec<(f64, f64)> = steps(&run.latency, end).into_iter().map(|(x, v)| (x, lat.y(v))).collect();
        let style = pal::BLUE.stroke_width(3);
        chart.draw_series(LineSeries::new(pts, style))?;
        Ok(())
    }
}

/// The share of published messages this distribution leaves out (dead-lettered, expired, lost), if any.
fn never_completed(run: &RunData) -> Option<String> {
    let m = &run.summary.messages;
    let dead = m.dead_lettered.total;
    let out = dead + m.expired + m.lost;
    if out == 0 || m.published == 0 {
        return None;
    }
    let share = 100.0 * out as f64 / m.published as f64;
    let mut parts = Vec::new();
    for (n, what) in [(dead, "dead-lettered"), (m.expired, "expired"), (m.lost, "lost")] {
        if n > 0 {
            parts.push(format!("{} {what}", fmt_tick(n as f64)));
        }
    }
    Some(format!("{}% of published never completed ({}): not in this curve", fmt_num(share), parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_ticks() {
        assert_eq!(x_label(0.0), "0%");
        assert_eq!(x_label(1.0), "90%");
        assert_eq!(x_label(2.0), "99%");
        assert_eq!(x_label(3.0), "99.9%");
        assert_eq!(x_label(5.0), "99.999%");
        assert!((x_of(0.99).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(x_of(1.0), None);
    }
}
