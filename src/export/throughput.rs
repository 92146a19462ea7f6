//! The throughput chart: messages published, completed and dead-lettered per second, over the handler attempts
//! that failed (all failure kinds) as a light area.

use super::chart::*;
use super::thin::{ch, At};
use super::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct Throughput;

/// Message counts as lines: (label, colour, column), drawn in this order over the failed attempts.
const LINES: [Column; 3] = [
    ("published", pal::BLUE, ch::PUBLISHED),
    ("completed", pal::GREEN, ch::COMPLETED),
    ("dead-lettered", pal::PURPLE, ch::DEAD_LETTERED),
];

/// Failed handler attempts (all failure kinds), shown as a light area behind the message lines.
const FAILED_ALPHA: f64 = 0.35;

impl Draw<RunData> for Throughput {
    fn name(&self) -> &'static str {
        "throughput"
    }
    fn title(&self) -> &'static str {
        "Throughput: messages per second"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, run: &RunData) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let mut keys: Vec<Key> = LINES.iter().map(|(l, c, _)| Key::new(*l, Swatch::Line(*c))).collect();
        keys.push(Key::new("failed handler attempts", Swatch::Fill(pal::RED, FAILED_ALPHA)));
        keys.extend(fault_key(run));
        let area = page(root, &title_for(Draw::title(self), run), &subtitle_for(run), &keys)?;
        let axis = TimeAxis::of(run);
        let peak = LINES.iter().map(|l| run.series.peak(l.2)).fold(run.series.peak(ch::FAILED), f64::max);
        let y_max = headroom(peak);
        let mut chart = plot(&area, Axis::new(0.0..axis.end), Axis::new(0.0..y_max), 56)?;
        mesh(&mut chart, &axis.label, "per second", &|v| fmt_num(*v), &|v| fmt_tick(*v))?;
        shade_faults(&mut chart, run, &axis, (0.0, y_max))?;
        let failed: Vec<(f64, f64)> = run.series.steps(ch::FAILED).into_iter().map(|(t, y)| (axis.x(t), y)).collect();
        chart.draw_series(AreaSeries::new(failed, 0.0, pal::RED.mix(FAILED_ALPHA).filled()))?;
        let width = line_width(run.seconds as usize, area.dim_in_pixel().0);
        for (_, color, c) in LINES {
            let pts = run.series.line_dense(c, At::Mid).into_iter().map(|(t, y)| (axis.x(t), y));
            chart.draw_series(LineSeries::new(pts, color.stroke_width(width)))?;
        }
        Ok(())
    }
}
