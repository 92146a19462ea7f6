//! The throughput chart: messages published, completed and dead-lettered per second, and below them, on an axis
//! of their own, the handler attempts that failed (all failure kinds) as a light area.

use super::chart::*;
use super::shared::{legend_rows, or_own};
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

/// Failed handler attempts (all failure kinds): a light area in a panel of their own below the message lines, on
/// their own axis (the storm's 500 a second would flatten lines of tens a second).
const FAILED_ALPHA: f64 = 0.35;

/// The y axis of the failed attempts' panel.
const FAILED_DESC: &str = "failed attempts / s";

/// The run's highest message count per second (published, completed or dead-lettered) and failed attempts per second.
pub fn peaks(run: &RunData) -> (f64, f64) {
    (LINES.iter().map(|l| run.series.peak(l.2)).fold(0.0, f64::max), run.series.peak(ch::FAILED))
}

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
        let (messages, failed) = or_own(run, |s| (s.messages, s.failed), || peaks(run));
        let mut keys: Vec<Key> = LINES.iter().map(|(l, c, _)| Key::new(*l, Swatch::Line(*c))).collect();
        if failed > 0.0 {
            keys.push(Key::new("failed handler attempts (lower panel)", Swatch::Fill(pal::RED, FAILED_ALPHA)));
        }
        keys.extend(fault_key(run));
        let area = page_rows(root, &title_for(Draw::title(self), run), &subtitle_for(run), &keys, legend_rows(run))?;
        let axis = TimeAxis::of(run);
        let (top, bottom) = match failed > 0.0 {
            true => {
                let (top, bottom) = area.split_vertically((area.dim_in_pixel().1 as f64 * 0.68) as u32);
                (top, Some(bottom.margin(12, 0, 0, 0)))
            }
            false => (area, None),
        };
        let y_max = headroom(messages);
        let mut chart =
            plot(&top, Axis::new(0.0..axis.end), Axis::new(0.0..y_max), if bottom.is_some() { 8 } else { 56 })?;
        match bottom {
            Some(_) => {
                let style = MeshStyle { y_labels: 7, ..MeshStyle::default() };
                mesh_styled(&mut chart, "", "messages / s", &|_| String::new(), &|v| fmt_tick(*v), style)?
            }
            None => mesh(&mut chart, &axis.label, "messages / s", &|v| fmt_num(*v), &|v| fmt_tick(*v))?,
        }
        shade_faults(&mut chart, run, &axis, (0.0, y_max))?;
        let width = line_width(run.seconds as usize, top.dim_in_pixel().0);
        for (_, color, c) in LINES {
            let pts = run.series.line_dense(c, At::Mid).into_iter().map(|(t, y)| (axis.x(t), y));
            chart.draw_series(LineSeries::new(pts, color.stroke_width(width)))?;
        }
        let Some(bottom) = bottom else { return Ok(()) };
        let f_max = headroom(failed);
        let mut lower = plot(&bottom, Axis::new(0.0..axis.end), Axis::new(0.0..f_max), 56)?;
        let style = MeshStyle { y_labels: 4, ..MeshStyle::default() };
        mesh_styled(&mut lower, &axis.label, FAILED_DESC, &|v| fmt_num(*v), &|v| fmt_tick(*v), style)?;
        shade_faults(&mut lower, run, &axis, (0.0, f_max))?;
        let pts: Vec<(f64, f64)> = run.series.steps(ch::FAILED).into_iter().map(|(t, y)| (axis.x(t), y)).collect();
        let area =
            AreaSeries::new(pts, 0.0, pal::RED.mix(FAILED_ALPHA).filled()).border_style(pal::RED.stroke_width(1));
        lower.draw_series(area)?;
        Ok(())
    }
}
