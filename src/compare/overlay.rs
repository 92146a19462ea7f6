//! Comparison charts for `compare`: the runs on shared axes, one picture per metric, each run in its own colour.
//! Handler attempts per second are spiky (one-second waves), so they get one panel per run on the same axes
//! (small multiples) rather than lines drawn over each other; backlog and latency are overlaid.

use crate::export::chart::*;
use crate::export::latency_dist;
use crate::export::thin::{ch, At};
use crate::export::RunData;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The overlay charts, in the order the comparison page shows them.
pub fn charts() -> Vec<&'static dyn Chart<[RunData]>> {
    vec![&Attempts, &Backlog, &LatencyP99, &LatencyDistribution]
}

fn color(i: usize) -> RGBColor {
    pal::SERIES[i % pal::SERIES.len()]
}

fn keys(runs: &[RunData]) -> Vec<Key> {
    let seeds_differ = runs.iter().any(|r| r.summary.seed != runs[0].summary.seed);
    runs.iter()
        .enumerate()
        .map(|(i, r)| Key::new(format!("{} {}", super::run_label(i), r.label(seeds_differ)), Swatch::Line(color(i))))
        .collect()
}

fn title(what: &str, runs: &[RunData]) -> String {
    format!("{what} — {} runs compared", runs.len())
}

/// The time axis that spans the longest run.
fn time_axis(runs: &[RunData]) -> TimeAxis {
    let longest = runs.iter().max_by_key(|r| r.seconds);
    longest.map_or_else(|| TimeAxis::new(1.0, "virtual", 1.0), TimeAxis::of)
}

/// One line per run of a per-second value, over the faults of every run.
fn per_second_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[RunData],
    y_desc: &str,
    value: usize,
    nominal: bool,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let axis = time_axis(runs);
    let peak = runs.iter().map(|r| r.series.peak(value)).fold(0.0, f64::max);
    let cap = if nominal { runs.iter().map(|r| r.summary.downstream.capacity_per_s).fold(0.0, f64::max) } else { 0.0 };
    let y_max = headroom(peak.max(cap));
    let mut chart = plot(area, Axis::new(0.0..axis.end), Axis::new(0.0..y_max), 56)?;
    mesh(&mut chart, &axis.label, y_desc, &|v| fmt_num(*v), &|v| fmt_tick(*v))?;
    // Each run's faults, once per distinct timeline (runs of one scenario share theirs).
    for (i, r) in runs.iter().enumerate() {
        if !runs[..i].iter().any(|o| o.scenario.faults == r.scenario.faults) {
            shade_faults(&mut chart, r, &axis, (0.0, y_max))?;
        }
    }
    if cap > 0.0 {
        let dash = pal::MUTED.stroke_width(2);
        chart.draw_series(DashedLineSeries::new(vec![(0.0, cap), (axis.end, cap)], 10, 6, dash))?;
    }
    let longest = runs.iter().map(|r| r.seconds).max().unwrap_or(0);
    let width = line_width(longest as usize, area.dim_in_pixel().0);
    for (i, r) in runs.iter().enumerate() {
        let pts = r.series.line_dense(value, At::Mid).into_iter().map(|(t, y)| (axis.x(t), y));
        chart.draw_series(LineSeries::new(pts, color(i).stroke_width(width)))?;
    }
    Ok(())
}

fn with_extra_keys(runs: &[RunData], nominal: bool) -> Vec<Key> {
    let mut k = keys(runs);
    let cap = runs.iter().map(|r| r.summary.downstream.capacity_per_s).fold(0.0, f64::max);
    if nominal && cap > 0.0 {
        k.push(Key::new(format!("nominal capacity {}/s", fmt_num(cap)), Swatch::Dash(pal::MUTED)));
    }
    if let Some(f) = fault_key(&runs[0]) {
        k.push(f);
    }
    k
}

pub struct Attempts;

impl Draw<[RunData]> for Attempts {
    fn name(&self) -> &'static str {
        "compare-retry-storm"
    }
    fn title(&self) -> &'static str {
        "Retry storm: handler attempts per second"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, runs: &[RunData]) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let sub = "All attempts (first tries, retries, redeliveries) per second; one panel per run, same axes";
        let mut k = with_extra_keys(runs, true);
        let down = RGBColor(0x55, 0x55, 0x55);
        k.push(Key::new("downstream down", Swatch::Fill(down, 0.16)));
        let area = page(root, &title(Draw::title(self), runs), sub, &k)?;
        let axis = time_axis(runs);
        let peak = runs.iter().map(|r| r.series.peak(ch::ATTEMPTS)).fold(0.0, f64::max);
        let cap = runs.iter().map(|r| r.summary.downstream.capacity_per_s).fold(0.0, f64::max);
        let y_max = headroom(peak.max(cap));
        let panels = area.split_evenly((runs.len(), 1));
        let last = runs.len() - 1;
        for (i, (run, panel)) in runs.iter().zip(&panels).enumerate() {
            let x_area = if i == last { 52 } else { 6 };
            let mut chart = plot(panel, Axis::new(0.0..axis.end), Axis::new(0.0..y_max), x_area)?;
            let x_desc = if i == last { axis.label.as_str() } else { "" };
            let blank = |_: &f64| String::new();
            let x_fmt: &dyn Fn(&f64) -> String = if i == last { &|v| fmt_num(*v) } else { &blank };
            let style = MeshStyle { y_labels: 4, desc_size: 15.0, label_size: 14.0 };
            mesh_styled(&mut chart, x_desc, "attempts / s", x_fmt, &|v| fmt_tick(*v), style)?;
            shade_faults(&mut chart, run, &axis, (0.0, y_max))?;
            let down_spans = match run.summary.downstream.capacity_per_s > 0.0 {
                true => run.series.down.clone(),
                false => Vec::new(),
            };
            let style = down.mix(0.16).filled();
            chart.draw_series(
                down_spans.iter().map(|(a, b)| Rectangle::new([(axis.x(*a), 0.0), (axis.x(*b), y_max)], style)),
            )?;
            let pts: Vec<(f64, f64)> =
                run.series.steps(ch::ATTEMPTS).into_iter().map(|(t, y)| (axis.x(t), y)).collect();
            chart.draw_series(AreaSeries::new(pts, 0.0, color(i).filled()))?;
            let nominal = run.summary.downstream.capacity_per_s;
            if nominal > 0.0 {
                let dash = pal::MUTED.stroke_width(2);
                chart.draw_series(DashedLineSeries::new(vec![(0.0, nominal), (axis.end, nominal)], 10, 6, dash))?;
            }
            let seeds_differ = runs.iter().any(|r| r.summary.seed != runs[0].summary.seed);
            let name = format!("{} {}", super::run_label(i), run.label(seeds_differ));
            let c = color(i);
            let anchor = Pos::new(HPos::Right, VPos::Top);
            let style = bold(16.0).color(&c).pos(anchor);
            chart.draw_series(std::iter::once(Text::new(name, (axis.end * 0.985, y_max * 0.95), style)))?;
        }
        Ok(())
    }
}

pub struct Backlog;

impl Draw<[RunData]> for Backlog {
    fn name(&self) -> &'static str {
        "compare-backlog"
    }
    fn title(&self) -> &'static str {
        "Backlog: messages in the broker"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, runs: &[RunData]) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let sub = "Ready + unacked + delayed at the end of each second (dead-lettered messages not included)";
        let area = page(root, &title(Draw::title(self), runs), sub, &with_extra_keys(runs, false))?;
        per_second_lines(&area, runs, "messages", ch::BACKLOG, false)
    }
}

pub struct LatencyP99;

impl Draw<[RunData]> for LatencyP99 {
    fn name(&self) -> &'static str {
        "compare-latency"
    }
    fn title(&self) -> &'static str {
        "p99 end-to-end latency per second"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, runs: &[RunData]) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let sub =
            "p99 of the messages completed in each second, from their intended publish time; gaps: none completed";
        let area = page(root, &title(Draw::title(self), runs), sub, &with_extra_keys(runs, false))?;
        let axis = time_axis(runs);
        let lat = crate::export::latency::axis_for(runs.iter());
        let mut chart = plot(&area, Axis::new(0.0..axis.end), lat.axis(), 56)?;
        mesh(&mut chart, &axis.label, &lat.desc("p99 latency"), &|v| fmt_num(*v), &|v| lat.label(*v))?;
        shade_faults(&mut chart, &runs[0], &axis, (lat.lo, lat.hi))?;
        for (i, r) in runs.iter().enumerate() {
            let pts = r.series.line(ch::P99, At::Mid).into_iter().map(|(t, v)| (axis.x(t), v.map(|v| lat.y(v))));
            crate::export::latency::draw_series(&mut chart, segments(pts), color(i), 2)?;
        }
        Ok(())
    }
}

pub struct LatencyDistribution;

impl Draw<[RunData]> for LatencyDistribution {
    fn name(&self) -> &'static str {
        "compare-latency-distribution"
    }
    fn title(&self) -> &'static str {
        "Latency by percentile"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, runs: &[RunData]) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let sub = "End-to-end latency of completed messages, from each run's latency.hgrm";
        let area = page(root, &title(Draw::title(self), runs), sub, &keys(runs))?;
        let lat = latency_dist::axis_for(runs.iter().map(|r| r.latency.as_slice()));
        let end = latency_dist::x_end(runs.iter().map(|r| r.latency.as_slice()));
        let mut chart = latency_dist::frame(&area, &lat, end)?;
        for (i, r) in runs.iter().enumerate() {
            let pts: Vec<(f64, f64)> =
                latency_dist::steps(&r.latency, end).into_iter().map(|(x, v)| (x, lat.y(v))).collect();
            chart.draw_series(LineSeries::new(pts, color(i).stroke_width(3)))?;
        }
        Ok(())
    }
}

/// The backlog of each subscription of a pub/sub run on one chart (the run's page), each line named by its
/// subscription, with every subscription's faults shaded.
pub struct SubscriptionBacklog;

impl Draw<[RunData]> for SubscriptionBacklog {
    fn name(&self) -> &'static str {
        "subscriptions-backlog"
    }
    fn title(&self) -> &'static str {
        "Backlog per subscription"
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, runs: &[RunData]) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        let sub = "Ready + unacked + delayed at the end of each second, one line per subscription (dead letters not \
                   included); shaded: a subscription's faults";
        let name = |r: &RunData| {
            let full = &r.summary.scenario.name;
            full.rsplit_once('.').map_or(full.clone(), |(_, s)| s.to_string())
        };
        let mut keys: Vec<Key> =
            runs.iter().enumerate().map(|(i, r)| Key::new(name(r), Swatch::Line(color(i)))).collect();
        if let Some(f) = runs.iter().find_map(fault_key) {
            keys.push(f);
        }
        let area = page(root, Draw::title(self), sub, &keys)?;
        per_second_lines(&area, runs, "messages", ch::BACKLOG, false)
    }
}
