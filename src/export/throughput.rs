//! The throughput chart: messages published, completed and dead-lettered per second, over the handler attempts
//! that failed (all failure kinds) as a light area.

use super::chart::*;
use super::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct Throughput;

/// Message counts as lines: (label, colour, column), drawn in this order over the failed attempts.
const LINES: [Column<u64>; 3] = [
    ("published", pal::BLUE, |r| r.published),
    ("completed", pal::GREEN, |r| r.completed),
    ("dead-lettered", pal::PURPLE, |r| r.dead_lettered),
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
        let peak =
            run.rows.iter().flat_map(|r| LINES.iter().map(move |l| (l.2)(r)).chain([r.failed()])).max().unwrap_or(0);
        let y_max = headroom(peak as f64);
        let mut chart = plot(&area, Axis::new(0.0..axis.end), Axis::new(0.0..y_max), 56)?;
        mesh(&mut chart, &axis.label, "per second", &|v| fmt_num(*v), &|v| fmt_tick(*v))?;
        shade_faults(&mut chart, run, &axis, (0.0, y_max))?;
        let mut failed = Vec::with_capacity(run.rows.len() * 2);
        for r in &run.rows {
            failed.push((axis.x(r.time_s as f64), r.failed() as f64));
            failed.push((axis.x(r.time_s as f64 + 1.0), r.failed() as f64));
        }
        chart.draw_series(AreaSeries::new(failed, 0.0, pal::RED.mix(FAILED_ALPHA).filled()))?;
        let width = line_width(crate::record::series::seconds(&run.rows) as usize, area.dim_in_pixel().0);
        for (_, color, col) in LINES {
            let pts = run.rows.iter().map(|r| (axis.x(r.time_s as f64 + 0.5), col(r) as f64));
            chart.draw_series(LineSeries::new(pts, color.stroke_width(width)))?;
        }
        Ok(())
    }
}
