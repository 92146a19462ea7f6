//! The retry-storm chart: handler attempts per second stacked by attempt number, the downstream's capacity, the
//! seconds it was down (outage or crash restart) and the fault windows. Below the whole run, a zoom on the minutes
//! after the last fault ended, where waves of synchronised retries hit a service that just came back.

use super::chart::*;
use super::RunData;
use crate::record::series::Row;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct RetryStorm;

/// Attempt classes from the bottom of the stack up: (label, colour, column).
const LAYERS: [Column<u64>; 6] = [
    ("first try", pal::BLUE, |r| r.attempts_first),
    ("retry 1", RGBColor(0xf7, 0xc0, 0x6f), |r| r.attempts_retry1),
    ("retry 2", pal::ORANGE, |r| r.attempts_retry2),
    ("retry 3", RGBColor(0xd9, 0x5f, 0x0e), |r| r.attempts_retry3),
    ("retry 4+", RGBColor(0x99, 0x34, 0x04), |r| r.attempts_retry4plus),
    ("redelivery", pal::PURPLE, |r| r.attempts_redelivery),
];

const DOWN: RGBColor = RGBColor(0x55, 0x55, 0x55);
const DOWN_ALPHA: f64 = 0.16;

/// Seconds of scenario time the zoom panel shows: from a little before the last fault ended.
const ZOOM_BEFORE_S: f64 = 20.0;
const ZOOM_AFTER_S: f64 = 160.0;

/// The zoom window, for runs long enough to need one and with faults that end.
pub fn zoom_window(run: &RunData) -> Option<(f64, f64)> {
    let end = run.summary.faults_end_s?;
    let duration = crate::record::series::seconds(&run.rows) as f64;
    (duration > 2.0 * (ZOOM_BEFORE_S + ZOOM_AFTER_S) && end < duration)
        .then(|| ((end - ZOOM_BEFORE_S).max(0.0), (end + ZOOM_AFTER_S).min(duration)))
}

impl RetryStorm {
    fn keys(run: &RunData) -> Vec<Key> {
        let mut keys: Vec<Key> = LAYERS
            .iter()
            .filter(|(_, _, col)| run.rows.iter().any(|r| col(r) > 0))
            .map(|(label, color, _)| Key::new(*label, Swatch::Fill(*color, 1.0)))
            .collect();
        let nominal = run.summary.downstream.capacity_per_s;
        if nominal > 0.0 {
            keys.push(Key::new("downstream capacity", Swatch::Line(pal::INK)));
            keys.push(Key::new(format!("nominal {}/s", fmt_num(nominal)), Swatch::Dash(pal::MUTED)));
            if run.rows.iter().any(|r| r.capacity <= 0.0) {
                keys.push(Key::new("downstream down", Swatch::Fill(DOWN, DOWN_ALPHA)));
            }
        }
        keys.extend(fault_key(run));
        keys
    }

    /// One panel: the seconds `from..to` of the run on `axis`.
    fn panel<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        run: &RunData,
        axis: &TimeAxis,
        (from, to): (f64, f64),
        y_max: f64,
        zoom: Option<(f64, f64)>,
    ) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let rows: Vec<&Row> =
            run.rows.iter().filter(|r| (r.time_s as f64) + 1.0 > from && (r.time_s as f64) < to).collect();
        let mut chart = plot(area, Axis::new(axis.x(from)..axis.x(to)), Axis::new(0.0..y_max), 52)?;
        mesh(&mut chart, &axis.label, "attempts / s", &|v| fmt_num(*v), &|v| fmt_tick(*v))?;
        shade_faults(&mut chart, run, axis, (0.0, y_max))?;
        let nominal = run.summary.downstream.capacity_per_s;
        if nominal > 0.0 {
            let style = DOWN.mix(DOWN_ALPHA).filled();
            let down = super::data::down_intervals(&run.rows).into_iter().filter(|(a, b)| *b > from && *a < to);
            chart.draw_series(down.map(|(a, b)| Rectangle::new([(axis.x(a), 0.0), (axis.x(b), y_max)], style)))?;
        }
        if let Some((a, b)) = zoom {
            let frame = pal::INK.stroke_width(1);
            chart
                .draw_series(std::iter::once(Rectangle::new([(axis.x(a), 0.0), (axis.x(b), y_max * 0.985)], frame)))?;
        }

        // Each second is a bar [t, t+1) whose stacked layers are drawn top layer first, lower layers over it.
        let mut tops = vec![vec![0.0f64; rows.len()]; LAYERS.len()];
        for (i, r) in rows.iter().enumerate() {
            let mut acc = 0.0;
            for (k, (_, _, col)) in LAYERS.iter().enumerate() {
                acc += col(r) as f64;
                tops[k][i] = acc;
            }
        }
        for k in (0..LAYERS.len()).rev() {
            let (_, color, col) = LAYERS[k];
            if !rows.iter().any(|r| col(r) > 0) {
                continue;
            }
            let mut pts = Vec::with_capacity(rows.len() * 2);
            for (r, top) in rows.iter().zip(&tops[k]) {
                pts.push((axis.x(r.time_s as f64), *top));
                pts.push((axis.x(r.time_s as f64 + 1.0), *top));
            }
            chart.draw_series(AreaSeries::new(pts, 0.0, color.filled()))?;
        }

        if nominal > 0.0 {
            let dash = pal::MUTED.stroke_width(2);
            let line = vec![(axis.x(from), nominal), (axis.x(to), nominal)];
            chart.draw_series(DashedLineSeries::new(line, 10, 6, dash))?;
            // The capacity while up, as steps; nothing is drawn for the seconds it was down (shaded instead).
            let width = line_width(rows.len(), area.dim_in_pixel().0);
            let segs = segments(rows.iter().map(|r| (r.time_s as f64, (r.capacity > 0.0).then_some(r.capacity))));
            let style = pal::INK.stroke_width(width);
            chart.draw_series(segs.into_iter().map(|seg| {
                let mut steps = Vec::with_capacity(seg.len() * 2);
                for (t, c) in seg {
                    steps.push((axis.x(t), c));
                    steps.push((axis.x(t + 1.0), c));
                }
                PathElement::new(steps, style)
            }))?;
        }
        Ok(())
    }
}

impl Draw<RunData> for RetryStorm {
    fn name(&self) -> &'static str {
        "retry-storm"
    }
    fn title(&self) -> &'static str {
        "Retry storm: handler attempts per second"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, run: &RunData) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let area = page(root, &title_for(Draw::title(self), run), &subtitle_for(run), &RetryStorm::keys(run))?;
        let axis = TimeAxis::of(run);
        let nominal = run.summary.downstream.capacity_per_s;
        let peak = run.rows.iter().map(|r| r.attempts() as f64).fold(0.0, f64::max);
        let cap_peak = run.rows.iter().map(|r| r.capacity).fold(nominal, f64::max);
        let y_max = headroom(peak.max(cap_peak));
        let whole = (0.0, axis.end * axis.per);
        match zoom_window(run) {
            None => RetryStorm::panel(&area, run, &axis, whole, y_max, None),
            Some(zoom) => {
                let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
                RetryStorm::panel(&top, run, &axis, whole, y_max, Some(zoom))?;
                let seconds = TimeAxis::seconds(format!(
                    "scenario time (s) — zoom on the {} s after the last fault ended (framed above)",
                    fmt_num(zoom.1 - zoom.0 - ZOOM_BEFORE_S)
                ));
                RetryStorm::panel(&bottom.margin(6, 0, 0, 0), run, &seconds, zoom, y_max, None)
            }
        }
    }
}
