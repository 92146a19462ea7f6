//! What every chart shares: the embedded font, the palette, the page layout (title, subtitle, legend), time and
//! latency axes, fault shading, and rendering one drawing to SVG text and to PNG bytes.
//!
//! Text is laid out with DejaVu Sans compiled into the binary (plotters' `ab_glyph` path, no font-kit, no fontconfig):
//! PNGs are drawn with it, each SVG carries the subset its text uses (`svg_font`), so charts read the same anywhere.

pub use super::latency_axis::{fmt_ms, LatencyAxis};
use super::RunData;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 700;

/// The family name charts use. In SVGs it follows the embedded subset's name (`svg_font::embed`) in `font-family`, as
/// the fallback of a viewer that does not load embedded fonts.
pub const FONT: &str = "DejaVu Sans, Verdana, sans-serif";

/// Registers the embedded font once per process.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Both faces are valid TrueType files bundled by the `dejavu` crate; failure would be a build defect.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

pub fn font(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&pal::INK)
}

pub fn bold(size: f64) -> TextStyle<'static> {
    (FONT, size, FontStyle::Bold).into_font().color(&pal::INK)
}

/// The palette (in a module of its own: plotters' prelude has its own BLUE, RED ...).
pub mod pal {
    use plotters::style::RGBColor;
    pub const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
    pub const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
    pub const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
    pub const GRID_LIGHT: RGBColor = RGBColor(0xf3, 0xf3, 0xf3);
    /// Fault windows: amber, apart from the red of failed attempts.
    pub const FAULT: RGBColor = RGBColor(0xe8, 0xa2, 0x02);
    /// Tableau 10: distinct, colour-blind friendly enough, readable on white.
    pub const BLUE: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
    pub const ORANGE: RGBColor = RGBColor(0xf2, 0x8e, 0x2b);
    pub const RED: RGBColor = RGBColor(0xe1, 0x57, 0x59);
    pub const TEAL: RGBColor = RGBColor(0x76, 0xb7, 0xb2);
    pub const GREEN: RGBColor = RGBColor(0x59, 0xa1, 0x4f);
    pub const YELLOW: RGBColor = RGBColor(0xed, 0xc9, 0x48);
    pub const PURPLE: RGBColor = RGBColor(0xb0, 0x7a, 0xa1);
    pub const BROWN: RGBColor = RGBColor(0x9c, 0x75, 0x5f);
    pub const SERIES: [RGBColor; 8] = [BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, TEAL, YELLOW];
}

/// A series of the per-second data: label, colour, channel of the thinned series (`thin::ch`).
pub type Column = (&'static str, RGBColor, usize);

/// A linear f64 axis, optionally with fixed tick positions (round durations on a log-transformed latency axis,
/// percentiles on the 1/(1-p) axis). Every chart uses it for both axes, so helpers share one coordinate type.
#[derive(Clone)]
pub struct Axis {
    inner: RangedCoordf64,
    ticks: Option<Vec<f64>>,
}

impl Axis {
    pub fn new(range: std::ops::Range<f64>) -> Axis {
        Axis { inner: range.into(), ticks: None }
    }
    pub fn with_ticks(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Axis {
        Axis { inner: range.into(), ticks: Some(ticks) }
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // A value far outside the axis (a fault band ending after 10^9 days) would overflow the pixel arithmetic:
        // clamp it to one span beyond either end, which still draws off the plot.
        let r = self.inner.range();
        let span = (r.end - r.start).abs().max(1.0);
        let v = if value.is_nan() { r.start } else { value.clamp(r.start - span, r.end + span) };
        self.inner.map(&v, limit)
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        match &self.ticks {
            Some(t) => t.clone(),
            None => self.inner.key_points(hint),
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

impl ValueFormatter<f64> for Axis {
    fn format(v: &f64) -> String {
        fmt_num(*v)
    }
}

/// The chart type every drawing uses.
pub type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// A plot area with room for tick labels and axis titles.
pub fn plot<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: Axis,
    y: Axis,
    x_label_area: u32,
) -> Result<Plot<'a, DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    Ok(ChartBuilder::on(area).x_label_area_size(x_label_area).y_label_area_size(92).build_cartesian_2d(x, y)?)
}

/// A drawing failure, with plotters' error as text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChartError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> ChartError {
        ChartError(e.to_string())
    }
}

pub type Drawn = Result<(), ChartError>;

/// A picture drawn from some input (one run, or several for `compare`), on any plotters backend.
pub trait Draw<In: ?Sized> {
    /// File stem in `charts/`, e.g. `retry-storm`.
    fn name(&self) -> &'static str;
    /// What the chart shows, for captions and the HTML page.
    fn title(&self) -> &'static str;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, input: &In) -> Drawn
    where
        DB::ErrorType: 'static;
}

/// The object-safe side of `Draw`: SVG text and PNG bytes.
pub trait Chart<In: ?Sized> {
    fn name(&self) -> &'static str;
    fn title(&self) -> &'static str;
    fn svg(&self, input: &In) -> Result<String, ChartError>;
    fn png(&self, input: &In) -> Result<Vec<u8>, ChartError>;
}

impl<In: ?Sized, T: Draw<In>> Chart<In> for T {
    fn name(&self) -> &'static str {
        Draw::name(self)
    }
    fn title(&self) -> &'static str {
        Draw::title(self)
    }
    fn svg(&self, input: &In) -> Result<String, ChartError> {
        register_font();
        let mut out = String::with_capacity(256 * 1024);
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE)?;
            self.draw(&root, input)?;
            root.present()?;
        }
        super::svg_font::embed(out)
    }
    fn png(&self, input: &In) -> Result<Vec<u8>, ChartError> {
        register_font();
        let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root =
                super::glyphs::Bitmap(BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT))).into_drawing_area();
            root.fill(&WHITE)?;
            self.draw(&root, input)?;
            root.present()?;
        }
        encode_png(&pixels, WIDTH, HEIGHT)
    }
}

/// RGB8 pixels to a PNG file: zlib level 3 with the Up filter, chosen by `cargo bench --bench render` (for the
/// storm's five charts 9.7 ms and 289 KB, against 20.0 ms and 239 KB for the crate's balanced default; the pixels
/// are the same).
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_deflate_compression(png::DeflateCompression::Level(3));
    enc.set_filter(png::Filter::Up);
    let mut w = enc.write_header().map_err(|e| ChartError(e.to_string()))?;
    w.write_image_data(rgb).map_err(|e| ChartError(e.to_string()))?;
    w.finish().map_err(|e| ChartError(e.to_string()))?;
    Ok(out)
}

/// How a legend entry shows its series.
#[derive(Clone, Copy, Debug)]
pub enum Swatch {
    /// A filled box (areas, shaded windows), with its opacity.
    Fill(RGBColor, f64),
    Line(RGBColor),
    Dash(RGBColor),
}

/// One legend entry.
#[derive(Clone, Debug)]
pub struct Key(pub String, pub Swatch);

impl Key {
    pub fn new(label: impl Into<String>, swatch: Swatch) -> Key {
        Key(label.into(), swatch)
    }
}

/// Draws the title, the subtitle and the legend (a row of keys under them, wrapping as needed, so it never covers
/// data) and returns the area left for the plot.
pub fn page<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    keys: &[Key],
) -> Result<DrawingArea<DB, Shift>, ChartError>
where
    DB::ErrorType: 'static,
{
    page_rows(root, title, subtitle, keys, 1)
}

/// `page` with room for at least `rows` rows of legend (pictures compared side by side keep their plots level).
pub fn page_rows<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    keys: &[Key],
    rows: usize,
) -> Result<DrawingArea<DB, Shift>, ChartError>
where
    DB::ErrorType: 'static,
{
    root.draw(&Text::new(title.to_string(), (24, 16), bold(24.0)))?;
    let mut y = 50;
    if !subtitle.is_empty() {
        root.draw(&Text::new(subtitle.to_string(), (24, 48), font(15.0).color(&pal::MUTED)))?;
        y = 74;
    }
    let width = root.dim_in_pixel().0 as i32 - 24;
    let mut x = 120;
    if !keys.is_empty() {
        y += 4;
        let label_font = font(15.0);
        let mut used = 1;
        for Key(label, swatch) in keys {
            let (w, _) = root.estimate_text_size(label, &label_font)?;
            let item = 28 + w as i32 + 26;
            if x + item > width && x > 120 {
                x = 120;
                y += 24;
                used += 1;
            }
            let cy = y + 9;
            match *swatch {
                Swatch::Fill(c, a) => root.draw(&Rectangle::new([(x, cy - 7), (x + 20, cy + 7)], c.mix(a).filled()))?,
                Swatch::Line(c) => root.draw(&PathElement::new(vec![(x, cy), (x + 20, cy)], c.stroke_width(3)))?,
                Swatch::Dash(c) => {
                    for k in 0..3 {
                        root.draw(&PathElement::new(vec![(x + 8 * k, cy), (x + 8 * k + 5, cy)], c.stroke_width(2)))?;
                    }
                }
            }
            root.draw(&Text::new(label.clone(), (x + 28, cy - 9), label_font.clone()))?;
            x += item;
        }
        y += 28 + 24 * rows.saturating_sub(used) as i32;
    } else {
        y += 2;
    }
    Ok(root.margin(y as u32, 8, 8, 28))
}

/// Line width that reads well: 2 px while points are sparse, 1 px once they are denser than the pixels (thick lines
/// through one-second spikes grow long miter joins).
pub fn line_width(points: usize, width_px: u32) -> u32 {
    if points as u32 > width_px / 2 {
        1
    } else {
        2
    }
}

/// `"<what> — <scenario>, seed <n>"`.
pub fn title_for(what: &str, run: &RunData) -> String {
    format!("{what} — {}, seed {}", run.summary.scenario.name, run.summary.seed)
}

/// The scenario's description, shortened to fit one line.
pub fn subtitle_for(run: &RunData) -> String {
    let d = run.scenario.description.trim();
    let mut s: String = d.chars().take(140).collect();
    if d.chars().count() > 140 {
        s.push('…');
    }
    s
}

/// The unit a time axis reads best in, for a run of `duration_s` scenario seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeAxis {
    pub unit: &'static str,
    /// Seconds per unit.
    pub per: f64,
    /// Axis extent in units.
    pub end: f64,
    pub label: String,
    /// The scenario second at 0 on the axis (0 but on a zoom panel that counts from the faults' end).
    pub origin: f64,
}

impl TimeAxis {
    pub fn new(duration_s: f64, clock: &str, time_scale: f64) -> TimeAxis {
        let (unit, per) = if duration_s <= 300.0 {
            ("s", 1.0)
        } else if duration_s <= 4.0 * 3600.0 {
            ("min", 60.0)
        } else {
            ("h", 3600.0)
        };
        let mut label = format!("scenario time ({unit})");
        if clock == "real" && time_scale != 1.0 {
            label.push_str(&format!(
                " — real clock ×{}: 1 s of wall time = {} s of scenario time",
                fmt_num(time_scale),
                fmt_num(time_scale)
            ));
        }
        TimeAxis { unit, per, end: (duration_s.max(1.0) / per), label, origin: 0.0 }
    }
    /// An axis in seconds with its own label (zoom panels).
    pub fn seconds(label: String) -> TimeAxis {
        TimeAxis { unit: "s", per: 1.0, end: 0.0, label, origin: 0.0 }
    }
    /// The run's time axis; under `compare`'s shared axes, as long as the longest run compared.
    pub fn of(run: &RunData) -> TimeAxis {
        let s = &run.summary;
        let own = s.duration_s.max(run.seconds as f64);
        TimeAxis::new(run.shared.as_ref().map_or(own, |shared| shared.duration_s.max(own)), &s.clock, s.time_scale)
    }
    /// Scenario seconds to axis units.
    pub fn x(&self, seconds: f64) -> f64 {
        (seconds - self.origin) / self.per
    }
}

/// A number without trailing zeros: 10, 2.5, 0.125.
pub fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Axis tick labels: 1200 → "1,200", 2.5 → "2.5".
pub fn fmt_tick(v: f64) -> String {
    if v.abs() >= 1000.0 && v.fract() == 0.0 {
        let n = v.abs() as u64;
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 {
            out.insert(0, '-');
        }
        out
    } else {
        fmt_num(v)
    }
}

/// Upper end of a linear axis that leaves headroom above `max` (and is never empty).
pub fn headroom(max: f64) -> f64 {
    if max <= 0.0 {
        1.0
    } else {
        max * 1.12
    }
}

/// Fault windows of the run, in scenario seconds: (start, end, kind). Faults without an end run to the end. On a
/// real broker, its lost connections and `connection.blocked` spans are windows too.
pub fn fault_windows(run: &RunData) -> Vec<(f64, f64, &'static str)> {
    let end = run.summary.duration_s.max(run.seconds as f64);
    let mut windows: Vec<(f64, f64, &'static str)> = run
        .scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            // On a real broker, from its first command to its undoing (a command takes seconds); an instant shows as
            // half a second.
            let ran = run.summary.real_broker.as_ref().and_then(|r| r.faults.iter().find(|x| x.index == i));
            let (from, to) = match ran.and_then(|x| Some((x.issued_s.or(x.start_s)?, x.end_s.unwrap_or(end)))) {
                Some(actual) => actual,
                None => (f.at().secs_f64(), f.end().map_or(end, |e| e.secs_f64())),
            };
            (from, if f.is_engine() { to } else { to.max(from + 0.5) }, f.label())
        })
        .collect();
    if let Some(r) = &run.summary.real_broker {
        let span = |i: &crate::broker::real::Interval| (i.start_s, i.duration_s.map_or(end, |d| i.start_s + d));
        windows.extend(r.outages.iter().map(|o| (span(o).0, span(o).1, "connection lost")));
        windows.extend(r.publishing.blocked.iter().map(|b| (span(b).0, span(b).1, "connection blocked")));
    }
    windows
}

const FAULT_ALPHA: f64 = 0.16;

/// The legend entry for the fault windows, if the run has any.
pub fn fault_key(run: &RunData) -> Option<Key> {
    let mut kinds: Vec<&str> = Vec::new();
    for (_, _, kind) in fault_windows(run) {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    (!kinds.is_empty())
        .then(|| Key::new(format!("fault ({})", kinds.join(", ")), Swatch::Fill(pal::FAULT, FAULT_ALPHA)))
}

/// Shades the fault windows across the plot's full height.
pub fn shade_faults<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    run: &RunData,
    axis: &TimeAxis,
    y: (f64, f64),
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let windows = fault_windows(run);
    if windows.is_empty() {
        return Ok(());
    }
    let style = pal::FAULT.mix(FAULT_ALPHA).filled();
    chart.draw_series(windows.iter().map(|(a, b, _)| Rectangle::new([(axis.x(*a), y.0), (axis.x(*b), y.1)], style)))?;
    Ok(())
}

/// How dense and how large a mesh's labels are.
#[derive(Clone, Copy, Debug)]
pub struct MeshStyle {
    pub y_labels: usize,
    pub desc_size: f64,
    pub label_size: f64,
}

impl Default for MeshStyle {
    fn default() -> Self {
        MeshStyle { y_labels: 8, desc_size: 17.0, label_size: 15.0 }
    }
}

/// The standard mesh: light grid, labelled axes with units, readable tick labels.
pub fn mesh<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    mesh_styled(chart, x_desc, y_desc, x_fmt, y_fmt, MeshStyle::default())
}

/// `mesh` with other label density or sizes (stacked panels).
pub fn mesh_styled<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    y_fmt: &dyn Fn(&f64) -> String,
    style: MeshStyle,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let mut m = chart.configure_mesh();
    if !x_desc.is_empty() {
        m.x_desc(x_desc);
    }
    m.y_desc(y_desc)
        .axis_desc_style(font(style.desc_size))
        .label_style(font(style.label_size))
        .bold_line_style(pal::GRID)
        .light_line_style(pal::GRID_LIGHT)
        .axis_style(pal::MUTED)
        .x_labels(12)
        .y_labels(style.y_labels)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .draw()?;
    Ok(())
}

/// Splits an optional series into runs of consecutive present values (lines are not drawn across gaps).
pub fn segments(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur = Vec::new();
    for (x, y) in points {
        match y {
            Some(y) => cur.push((x, y)),
            None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_axis_units_read_well() {
        assert_eq!(TimeAxis::new(120.0, "virtual", 1.0).unit, "s");
        let storm = TimeAxis::new(4600.0, "virtual", 1.0);
        assert_eq!((storm.unit, storm.label.as_str()), ("min", "scenario time (min)"));
        assert_eq!(TimeAxis::new(7.0 * 86400.0, "virtual", 1.0).unit, "h");
        let real = TimeAxis::new(600.0, "real", 10.0);
        assert!(real.label.contains("real clock ×10"), "{}", real.label);
        assert!(!TimeAxis::new(600.0, "real", 1.0).label.contains("real clock"));
    }

    #[test]
    fn segments_break_at_gaps() {
        let s = segments([(0.0, Some(1.0)), (1.0, Some(2.0)), (2.0, None), (3.0, Some(3.0))].into_iter());
        assert_eq!(s, vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 3.0)]]);
    }
}
