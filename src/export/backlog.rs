//! The backlog chart: queue depth (ready, unacked, delayed) and dead-letter queue depth over time, with the
//! number of consuming replicas in a panel below on its own axis.

use super::bands;
use super::chart::*;
use super::shared::{legend_rows, or_own};
use super::thin::{ch, At};
use super::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct Backlog;

/// (label, colour, column).
const DEPTHS: [Column; 4] = [
    ("ready", pal::BLUE, ch::READY),
    ("unacked (in consumers, incl. in-memory retries)", pal::ORANGE, ch::UNACKED),
    ("delayed (waiting for redelivery)", pal::PURPLE, ch::DELAYED),
    ("dead-letter queue", pal::RED, ch::DLQ),
];

/// The highest queue depth and the most consuming replicas of the run.
pub fn peaks(run: &RunData) -> (f64, f64) {
    (DEPTHS.iter().map(|d| run.series.peak(d.2)).fold(0.0, f64::max), run.series.peak(ch::CONSUMERS))
}

impl Draw<RunData> for Backlog {
    fn name(&self) -> &'static str {
        "backlog"
    }
    fn title(&self) -> &'static str {
        "Backlog: queue depths and consumers"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, run: &RunData) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let mut keys: Vec<Key> = DEPTHS.iter().map(|(l, c, _)| Key::new(*l, Swatch::Line(*c))).collect();
        keys.push(Key::new("consuming replicas", Swatch::Fill(pal::GREEN, 0.5)));
        keys.extend(bands::breaker_key(run));
        keys.extend(fault_key(run));
        let area = page_rows(root, &title_for(Draw::title(self), run), &subtitle_for(run), &keys, legend_rows(run))?;
        let axis = TimeAxis::of(run);
        let (top, bottom) = area.split_vertically((area.dim_in_pixel().1 as f64 * 0.74) as u32);

        let (peak, peak_consumers) = or_own(run, |s| (s.depths, s.consumers), || peaks(run));
        let y_max = headroom(peak);
        let mut chart = plot(&top, Axis::new(0.0..axis.end), Axis::new(0.0..y_max), 8)?;
        let top_style = MeshStyle { y_labels: 7, ..MeshStyle::default() };
        mesh_styled(&mut chart, "", "messages", &|_| String::new(), &|v| fmt_tick(*v), top_style)?;
        shade_faults(&mut chart, run, &axis, (0.0, y_max))?;
        for (_, color, c) in DEPTHS {
            let pts = run.series.line_dense(c, At::End).into_iter().map(|(t, y)| (axis.x(t), y));
            chart.draw_series(LineSeries::new(pts, color.stroke_width(2)))?;
        }
        bands::strip_breakers(&mut chart, run, &run.series, &axis, (0.0, axis.end * axis.per), y_max)?;

        let peak_consumers = peak_consumers.max(1.0);
        let c_max = (peak_consumers * 1.3).ceil().max(2.0);
        let bottom = bottom.margin(12, 0, 0, 0);
        let mut lower = plot(&bottom, Axis::new(0.0..axis.end), Axis::new(0.0..c_max), 56)?;
        let whole = |v: &f64| if v.fract() == 0.0 { fmt_num(*v) } else { String::new() };
        let lower_style = MeshStyle { y_labels: 4, ..MeshStyle::default() };
        mesh_styled(&mut lower, axis.label.as_str(), "consumers", &|v| fmt_num(*v), &whole, lower_style)?;
        let steps: Vec<(f64, f64)> = run.series.steps(ch::CONSUMERS).into_iter().map(|(t, y)| (axis.x(t), y)).collect();
        lower.draw_series(
            AreaSeries::new(steps, 0.0, pal::GREEN.mix(0.25).filled()).border_style(pal::GREEN.stroke_width(2)),
        )?;
        Ok(())
    }
}
