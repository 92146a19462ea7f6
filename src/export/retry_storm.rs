//! The retry-storm chart: handler attempts per second stacked by attempt number, the downstream's capacity, the
//! seconds it was down (outage or crash restart) and the fault windows. Below the whole run, a zoom on the minutes
//! after the last fault ended, where waves of synchronised retries hit a service that just came back.

use super::bands;
use super::chart::*;
use super::shared::{legend_rows, or_own};
use super::thin::{ch, Series};
use super::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub struct RetryStorm;

/// Attempt classes from the bottom of the stack up: (label, colour, column).
const LAYERS: [Column; 6] = [
    ("first try", pal::BLUE, ch::LAYER),
    ("retry 1", RGBColor(0xf7, 0xc0, 0x6f), ch::LAYER + 1),
    ("retry 2", pal::ORANGE, ch::LAYER + 2),
    ("retry 3", RGBColor(0xd9, 0x5f, 0x0e), ch::LAYER + 3),
    ("retry 4+", RGBColor(0x99, 0x34, 0x04), ch::LAYER + 4),
    ("redelivery", pal::PURPLE, ch::LAYER + 5),
];

const DOWN: RGBColor = RGBColor(0x55, 0x55, 0x55);
const DOWN_ALPHA: f64 = 0.16;

/// Seconds of scenario time the zoom panel shows: from a little before the last fault ended.
const ZOOM_BEFORE_S: f64 = 20.0;
const ZOOM_AFTER_S: f64 = 160.0;

/// The zoom window, for runs long enough to need one and with faults that end.
pub fn zoom_window(run: &RunData) -> Option<(f64, f64)> {
    let end = run.summary.faults_end_s?;
    let duration = run.seconds as f64;
    (duration > 2.0 * (ZOOM_BEFORE_S + ZOOM_AFTER_S) && end < duration)
        .then(|| ((end - ZOOM_BEFORE_S).max(0.0), (end + ZOOM_AFTER_S).min(duration)))
}

/// The whole seconds a zoom window after faults ending at `end` can touch (kept unthinned while reading the run).
pub fn zoom_candidate(end: f64) -> (u64, u64) {
    ((end - ZOOM_BEFORE_S).max(0.0).floor() as u64, (end + ZOOM_AFTER_S).max(0.0).ceil() as u64)
}

/// What the y axis has to reach: the most attempts, or the capacity, of any second.
pub fn y_peak(run: &RunData) -> f64 {
    let nominal = run.summary.downstream.capacity_per_s;
    run.series.peak(ch::ATTEMPTS).max(run.series.peak(ch::CAPACITY).max(nominal))
}

impl RetryStorm {
    fn keys(run: &RunData) -> Vec<Key> {
        let mut keys: Vec<Key> = LAYERS
            .iter()
            .filter(|(_, _, c)| run.series.any_positive(*c))
            .map(|(label, color, _)| Key::new(*label, Swatch::Fill(*color, 1.0)))
            .collect();
        let nominal = run.summary.downstream.capacity_per_s;
        if nominal > 0.0 {
            keys.push(Key::new("downstream capacity", Swatch::Line(pal::INK)));
            // Whole requests/s from 1000/s up (1029.208/s reads as 1029/s), two decimals below.
            let shown = if nominal >= 1000.0 { nominal.round() } else { (nominal * 100.0).round() / 100.0 };
            keys.push(Key::new(format!("nominal {}/s", fmt_num(shown)), Swatch::Dash(pal::MUTED)));
            if !run.series.down.is_empty() {
                keys.push(Key::new("downstream down", Swatch::Fill(DOWN, DOWN_ALPHA)));
            }
        }
        keys.extend(bands::reached_key(run));
        keys.extend(bands::breaker_key(run));
        keys.extend(fault_key(run));
        keys
    }

    /// One panel: the seconds `from..to` of `series` on `axis`.
    #[allow(clippy::too_many_arguments)]
    fn panel<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        run: &RunData,
        series: &Series,
        axis: &TimeAxis,
        (from, to): (f64, f64),
        y_max: f64,
        zoom: Option<(f64, f64)>,
    ) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let mut chart = plot(area, Axis::new(axis.x(from)..axis.x(to)), Axis::new(0.0..y_max), 52)?;
        mesh(&mut chart, &axis.label, "attempts / s", &|v| fmt_num(*v), &|v| fmt_tick(*v))?;
        shade_faults(&mut chart, run, axis, (0.0, y_max))?;
        let nominal = run.summary.downstream.capacity_per_s;
        if nominal > 0.0 {
            let style = DOWN.mix(DOWN_ALPHA).filled();
            let down = series.down.iter().filter(|(a, b)| *b > from && *a < to);
            chart.draw_series(down.map(|(a, b)| Rectangle::new([(axis.x(*a), 0.0), (axis.x(*b), y_max)], style)))?;
        }
        if let Some((a, b)) = zoom {
            let frame = pal::INK.stroke_width(1);
            chart
                .draw_series(std::iter::once(Rectangle::new([(axis.x(a), 0.0), (axis.x(b), y_max * 0.985)], frame)))?;
        }

        // Each bucket of seconds is a bar whose stacked layers (at their highest in the bucket) are drawn top layer
        // first, lower layers over it.
        for k in (0..LAYERS.len()).rev() {
            if !series.any_positive(ch::LAYER + k) {
                continue;
            }
            let pts: Vec<(f64, f64)> =
                series.steps_in(ch::TOP + k, from, to).into_iter().map(|(t, y)| (axis.x(t), y)).collect();
            chart.draw_series(AreaSeries::new(pts, 0.0, LAYERS[k].1.filled()))?;
        }

        if nominal > 0.0 {
            let dash = pal::MUTED.stroke_width(2);
            let line = vec![(axis.x(from), nominal), (axis.x(to), nominal)];
            chart.draw_series(DashedLineSeries::new(line, 10, 6, dash))?;
            // The capacity while up, as steps (a bucket's lowest to its highest); nothing is drawn for the seconds it
            // was down (shaded instead).
            let spans: Vec<_> = series.spans_in(from, to).collect();
            let seconds = spans.iter().map(|s| s.to - s.from).sum::<f64>() as usize;
            let width = line_width(seconds, area.dim_in_pixel().0);
            let mut segs: Vec<Vec<(f64, f64)>> = Vec::new();
            let mut cur: Vec<(f64, f64)> = Vec::new();
            for s in &spans {
                match s.range(ch::CAPACITY_UP) {
                    Some((lo, hi)) => {
                        cur.push((axis.x(s.from), lo));
                        cur.push((axis.x(s.to), hi));
                    }
                    None if !cur.is_empty() => segs.push(std::mem::take(&mut cur)),
                    None => {}
                }
            }
            if !cur.is_empty() {
                segs.push(cur);
            }
            let style = pal::INK.stroke_width(width);
            chart.draw_series(segs.into_iter().map(|steps| PathElement::new(steps, style)))?;
            bands::line_reached(&mut chart, run, series, axis, (from, to), width)?;
        }
        bands::strip_breakers(&mut chart, run, series, axis, (from, to), y_max)?;
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
        let area = page_rows(
            root,
            &title_for(Draw::title(self), run),
            &subtitle_for(run),
            &RetryStorm::keys(run),
            legend_rows(run),
        )?;
        let axis = TimeAxis::of(run);
        let y_max = headroom(or_own(run, |s| s.attempts, || y_peak(run)));
        let whole = (0.0, axis.end * axis.per);
        let shared_zoom = run.shared.as_ref().and_then(|s| s.zoom);
        let own_zoom = zoom_window(run).filter(|_| shared_zoom.is_none());
        if own_zoom.is_none() && shared_zoom.is_none() {
            return RetryStorm::panel(&area, run, &run.series, &axis, whole, y_max, None);
        }
        let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
        let bottom = bottom.margin(6, 0, 0, 0);
        let zoomed = run.zoom.as_ref().unwrap_or(&run.series);
        if let Some(zoom) = own_zoom {
            RetryStorm::panel(&top, run, &run.series, &axis, whole, y_max, Some(zoom))?;
            let seconds = TimeAxis::seconds(format!(
                "scenario time (s) — zoom on the {} s after the last fault ended (framed above)",
                fmt_num(zoom.1 - zoom.0 - ZOOM_BEFORE_S)
            ));
            return RetryStorm::panel(&bottom, run, zoomed, &seconds, zoom, y_max, None);
        }
        // Shared axes: every run has the zoom panel, counted from the end of its last fault.
        let (from, to) = shared_zoom.unwrap_or((-ZOOM_BEFORE_S, ZOOM_AFTER_S));
        let label = "seconds after the last fault ended — zoom, framed above".to_string();
        let duration = run.seconds as f64;
        match run.summary.faults_end_s.filter(|e| e.is_finite() && *e < duration && run.zoom.is_some()) {
            Some(end) => {
                let frame = ((end + from).max(0.0), (end + to).min(duration));
                RetryStorm::panel(&top, run, &run.series, &axis, whole, y_max, Some(frame))?;
                let seconds = TimeAxis { origin: end, ..TimeAxis::seconds(label) };
                RetryStorm::panel(&bottom, run, zoomed, &seconds, (end + from, end + to), y_max, None)
            }
            None => {
                RetryStorm::panel(&top, run, &run.series, &axis, whole, y_max, None)?;
                let mut chart = plot(&bottom, Axis::new(from..to), Axis::new(0.0..y_max), 52)?;
                mesh(&mut chart, &label, "attempts / s", &|v| fmt_num(*v), &|v| fmt_tick(*v))?;
                let note = font(18.0).color(&pal::MUTED).pos(Pos::new(HPos::Center, VPos::Center));
                let at = ((from + to) / 2.0, y_max / 2.0);
                chart.draw_series(std::iter::once(Text::new("no fault ended in this run", at, note)))?;
                Ok(())
            }
        }
    }
}
