//! What the resilience patterns did, drawn on the time charts: the seconds a circuit breaker was open (a strip along
//! the top of the plot) and the calls that actually reached the service when fast failures (circuit open, throttled
//! locally) never did.

use super::chart::*;
use super::thin::{ch, At, Series};
use super::RunData;
use plotters::prelude::*;

/// Colour of the breaker strip.
pub const BREAKER: RGBColor = pal::TEAL;
/// Share of the plot's height the strip takes, at its top.
const STRIP: f64 = 0.035;
const REACHED: RGBColor = pal::GREEN;

/// Whether the run had a circuit breaker that opened.
fn breaker_opened(run: &RunData) -> bool {
    run.summary.downstream.circuit_breaker_open_s.is_some() && run.summary.downstream.circuit_breaker_opened > 0
}

/// Whether some handler attempts failed fast without a call (a breaker or adaptive throttling is configured).
pub fn has_fast_failures(run: &RunData) -> bool {
    let d = &run.summary.downstream;
    d.capacity_per_s > 0.0 && (d.circuit_breaker_open_s.is_some() || d.throttled.is_some())
}

/// The legend entry of the breaker strip, for runs whose breakers opened.
pub fn breaker_key(run: &RunData) -> Option<Key> {
    breaker_opened(run).then(|| Key::new("circuit breaker open (strip at the top)", Swatch::Fill(BREAKER, 1.0)))
}

/// The legend entry of the calls line.
pub fn reached_key(run: &RunData) -> Option<Key> {
    has_fast_failures(run).then(|| Key::new("calls that reached the service", Swatch::Line(REACHED)))
}

/// Draws a strip along the top of the plot over the seconds `from..to` of `series` in which a breaker was open.
pub fn strip_breakers<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    run: &RunData,
    series: &Series,
    axis: &TimeAxis,
    (from, to): (f64, f64),
    y_max: f64,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    if !breaker_opened(run) {
        return Ok(());
    }
    let (lo, hi) = (y_max * (1.0 - STRIP), y_max);
    let bands = series.bands(ch::BREAKERS_OPEN).into_iter().filter(|(a, b)| *b > from && *a < to);
    let style = BREAKER.filled();
    chart
        .draw_series(bands.map(|(a, b)| Rectangle::new([(axis.x(a.max(from)), lo), (axis.x(b.min(to)), hi)], style)))?;
    Ok(())
}

/// Draws the calls that reached the downstream per second over `from..to`, apart from the handler attempts (which
/// count circuit-open and throttled fast failures too).
pub fn line_reached<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    run: &RunData,
    series: &Series,
    axis: &TimeAxis,
    (from, to): (f64, f64),
    width: u32,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    if !has_fast_failures(run) {
        return Ok(());
    }
    let pts: Vec<(f64, f64)> = series
        .line_dense(ch::OFFERED, At::Mid)
        .into_iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .map(|(t, y)| (axis.x(t), y))
        .collect();
    chart.draw_series(LineSeries::new(pts, REACHED.stroke_width(width)))?;
    Ok(())
}
