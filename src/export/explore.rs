//! The page's interactive charts: the per-second series (runs over two hours thinned to two points per pixel
//! column, each bucket keeping its minimum and maximum so spikes survive), embedded in `index.html` as a JSON data block and drawn
//! by uPlot (MIT, inlined from `assets/uplot/`): hover reads the values at a time, drag zooms, a legend click hides a
//! series. The page needs no network, and its Content-Security-Policy forbids any.

use crate::export::chart::pal;
use crate::record::series::Row;
use plotters::style::RGBColor;
use serde::Serialize;

/// uPlot 1.6.32 (`dist/uPlot.iife.min.js`, `dist/uPlot.min.css`), MIT licensed: `assets/uplot/LICENSE`.
const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
/// Reads the data block and draws every panel (`window.loadtestCharts` holds the uPlot instances).
const INIT_JS: &str = include_str!("../../assets/explore.js");

/// Runs up to this long keep every second (hover reads the exact per-second value, zoom shows every second; the
/// data stays under ~0.5 MB); longer runs are thinned to `MAX_POINTS`.
pub const EXACT_UP_TO_S: u64 = 7200;
/// Points drawn per series at most in a thinned run: two per pixel column of a 1,200-pixel-wide chart.
pub const MAX_POINTS: u64 = 2400;

/// One line of a panel: its legend label, colour, and the value it takes from a row (`None`: no value that second).
struct LineDef {
    label: &'static str,
    color: RGBColor,
    get: fn(&Row) -> Option<f64>,
    /// Drawn against the right-hand axis.
    right: bool,
    /// Always listed, even if it is zero throughout (otherwise a line that never moves is left out).
    always: bool,
}

const fn line(label: &'static str, color: RGBColor, get: fn(&Row) -> Option<f64>) -> LineDef {
    LineDef { label, color, get, right: false, always: false }
}

struct PanelDef {
    id: &'static str,
    title: &'static str,
    /// Unit of the left axis (`/s`, `messages`, `ms`); the right axis, if any line uses it, has `right_unit`.
    unit: &'static str,
    right_unit: &'static str,
    log: bool,
    lines: &'static [LineDef],
}

fn n(v: u64) -> Option<f64> {
    Some(v as f64)
}

const GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);

const PANELS: [PanelDef; 5] = [
    PanelDef {
        id: "attempts",
        title: "Handler attempts per second, against the service's capacity",
        unit: "/s",
        right_unit: "",
        log: false,
        lines: &[
            line("calls offered to the service", pal::INK, |r| n(r.offered)),
            LineDef { always: true, ..line("first attempts", pal::BLUE, |r| n(r.attempts_first)) },
            line("retry 1", pal::ORANGE, |r| n(r.attempts_retry1)),
            line("retry 2", pal::YELLOW, |r| n(r.attempts_retry2)),
            line("retry 3", pal::TEAL, |r| n(r.attempts_retry3)),
            line("retry 4+", pal::BROWN, |r| n(r.attempts_retry4plus)),
            line("redelivered", pal::PURPLE, |r| n(r.attempts_redelivery)),
            line("service capacity", pal::GREEN, |r| Some(r.capacity)),
        ],
    },
    PanelDef {
        id: "throughput",
        title: "Messages per second",
        unit: "/s",
        right_unit: "",
        log: false,
        lines: &[
            LineDef { always: true, ..line("published", pal::BLUE, |r| n(r.published)) },
            LineDef { always: true, ..line("completed", pal::GREEN, |r| n(r.completed)) },
            line("dead-lettered", pal::PURPLE, |r| n(r.dead_lettered)),
            line("expired", pal::BROWN, |r| n(r.expired)),
        ],
    },
    PanelDef {
        id: "failures",
        title: "Failed attempts per second, by kind",
        unit: "/s",
        right_unit: "",
        log: false,
        lines: &[
            LineDef { always: true, ..line("transient", pal::RED, |r| n(r.failed_transient)) },
            line("timeout", pal::ORANGE, |r| n(r.failed_timeout)),
            line("validation", pal::PURPLE, |r| n(r.failed_validation)),
            line("poison", pal::BROWN, |r| n(r.failed_poison)),
            line("circuit open (never reached the service)", GREY, |r| n(r.failed_circuit_open)),
            line("throttled locally", pal::TEAL, |r| r.failed_throttled.map(|v| v as f64)),
        ],
    },
    PanelDef {
        id: "backlog",
        title: "Backlog: messages in the queue, and consumers",
        unit: "messages",
        right_unit: "consumers",
        log: false,
        lines: &[
            LineDef { always: true, ..line("ready", pal::BLUE, |r| n(r.ready)) },
            line("unacked", pal::ORANGE, |r| n(r.unacked)),
            line("delayed (redelivery)", pal::PURPLE, |r| n(r.delayed)),
            line("dead-letter queue", pal::RED, |r| n(r.dlq)),
            LineDef { right: true, always: true, ..line("consumers", pal::GREEN, |r| n(r.consumers)) },
        ],
    },
    PanelDef {
        id: "latency",
        title: "End-to-end latency of the messages completed in each second",
        unit: "ms",
        right_unit: "",
        log: true,
        lines: &[
            LineDef { always: true, ..line("p50", pal::BLUE, |r| r.latency_p50_ms) },
            LineDef { always: true, ..line("p99", pal::ORANGE, |r| r.latency_p99_ms) },
            LineDef { always: true, ..line("max", pal::RED, |r| r.latency_max_ms) },
        ],
    },
];

#[derive(Serialize)]
struct LineOut {
    label: &'static str,
    color: String,
    right: bool,
    #[serde(serialize_with = "opt_nums")]
    values: Vec<Option<f64>>,
}

/// A number as the page's script reads it: integral values (most of them are counts) without a trailing ".0", which
/// is a fifth of the storm page's data block; the rest as serde_json writes them.
struct Num(f64);

impl Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 9.0e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

fn nums<S: serde::Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| Num(*x)))
}

fn opt_nums<S: serde::Serializer>(v: &[Option<f64>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.map(Num)))
}

#[derive(Serialize)]
struct PanelOut {
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    right_unit: &'static str,
    log: bool,
    lines: Vec<LineOut>,
}

/// What the page's script reads: the shared time axis, the panels, the intervals in which the service was down.
#[derive(Serialize)]
struct Data {
    /// Seconds of scenario time per bucket (1: every second is drawn as it is).
    bucket_s: u64,
    #[serde(serialize_with = "nums")]
    x: Vec<f64>,
    down: Vec<(f64, f64)>,
    /// The seconds a circuit breaker was open or half-open (absent when none ever was).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    breaker: Vec<(f64, f64)>,
    /// The scenario's fault windows: from, to, what.
    faults: Vec<(f64, f64, String)>,
    panels: Vec<PanelOut>,
}

/// The extremes of one line over the current bucket, and where in it each came.
#[derive(Clone, Copy, Debug, Default)]
struct Extremes {
    min: Option<(f64, u64)>,
    max: Option<(f64, u64)>,
}

impl Extremes {
    fn add(&mut self, v: Option<f64>, t: u64) {
        let Some(v) = v.filter(|v| v.is_finite()) else { return };
        if self.min.is_none_or(|(m, _)| v < m) {
            self.min = Some((v, t));
        }
        if self.max.is_none_or(|(m, _)| v > m) {
            self.max = Some((v, t));
        }
    }
    /// The bucket's two points, the earlier extreme first.
    fn points(&self) -> [Option<f64>; 2] {
        match (self.min, self.max) {
            (Some((lo, tl)), Some((hi, th))) if th < tl => [Some(hi), Some(lo)],
            (Some((lo, _)), Some((hi, _))) => [Some(lo), Some(hi)],
            _ => [None, None],
        }
    }
}

/// Builds the thinned series from rows fed in time order (gaps are idle seconds: gauges held, no counts).
#[derive(Clone, Debug)]
pub struct Builder {
    bucket_s: u64,
    seconds: u64,
    x: Vec<f64>,
    /// Per line of every panel, in panel order.
    values: Vec<Vec<Option<f64>>>,
    nonzero: Vec<bool>,
    current: Vec<Extremes>,
    bucket: Option<u64>,
    last: Option<Row>,
    down: Vec<(f64, f64)>,
    breaker: Vec<(f64, f64)>,
}

fn lines() -> impl Iterator<Item = &'static LineDef> {
    PANELS.iter().flat_map(|p| p.lines.iter())
}

impl Builder {
    /// For a run of `seconds` seconds of scenario time.
    pub fn new(seconds: u64) -> Builder {
        let bucket_s = if seconds <= EXACT_UP_TO_S { 1 } else { seconds.div_ceil(MAX_POINTS / 2) };
        let count = lines().count();
        Builder {
            bucket_s,
            seconds,
            x: Vec::new(),
            values: vec![Vec::new(); count],
            nonzero: vec![false; count],
            current: vec![Extremes::default(); count],
            bucket: None,
            last: None,
            down: Vec::new(),
            breaker: Vec::new(),
        }
    }

    /// The next row of the time series (rows of seconds already seen are ignored).
    pub fn push(&mut self, row: &Row) {
        if self.last.as_ref().is_some_and(|l| row.time_s <= l.time_s) {
            return;
        }
        if let Some(last) = self.last.take() {
            self.idle(&last, row.time_s);
        }
        self.span(row.time_s, row.time_s + 1, row);
        self.last = Some(row.clone());
    }

    /// The idle seconds after `last` up to `to` (exclusive): its gauges, no counts.
    fn idle(&mut self, last: &Row, to: u64) {
        let from = last.time_s + 1;
        if from < to {
            self.span(from, to, &last.idle_after(from));
        }
    }

    /// Seconds `from..to` that all look like `row`: one step per bucket, however long the span.
    fn span(&mut self, from: u64, to: u64, row: &Row) {
        // Intervals closer than one bucket merge: at this zoom they are one band.
        let bucket = self.bucket_s as f64;
        let band = |list: &mut Vec<(f64, f64)>| match list.last_mut() {
            Some(last) if from as f64 - last.1 < bucket => last.1 = to as f64,
            _ => list.push((from as f64, to as f64)),
        };
        if row.capacity <= 0.0 {
            band(&mut self.down);
        }
        if row.breakers_open.is_some_and(|n| n > 0) {
            band(&mut self.breaker);
        }
        let mut t = from;
        while t < to {
            let bucket = t / self.bucket_s;
            if self.bucket.is_some_and(|b| b != bucket) {
                self.flush();
            }
            self.bucket = Some(bucket);
            for (i, l) in lines().enumerate() {
                let v = (l.get)(row);
                self.nonzero[i] |= v.is_some_and(|v| v != 0.0);
                self.current[i].add(v, t);
            }
            t = ((bucket + 1) * self.bucket_s).min(to);
        }
    }

    fn flush(&mut self) {
        let Some(b) = self.bucket.take() else { return };
        let start = (b * self.bucket_s) as f64;
        if self.bucket_s == 1 {
            self.x.push(start);
            for (i, e) in self.current.iter().enumerate() {
                self.values[i].push(e.min.map(|m| m.0));
            }
        } else {
            self.x.extend([start, start + self.bucket_s as f64 / 2.0]);
            for (i, e) in self.current.iter().enumerate() {
                self.values[i].extend(e.points());
            }
        }
        self.current.fill(Extremes::default());
    }

    /// Idle seconds up to the run's end, then the data block's JSON (escaped for a `<script>` element), with the
    /// fault windows (from, to, label) drawn as bands.
    pub fn finish(mut self, faults: &[(f64, f64, &str)]) -> String {
        if let Some(last) = self.last.take() {
            self.idle(&last, self.seconds);
        }
        self.flush();
        let mut values = self.values.into_iter();
        let mut nonzero = self.nonzero.into_iter();
        let panels = PANELS
            .iter()
            .map(|p| PanelOut {
                id: p.id,
                title: p.title,
                unit: p.unit,
                right_unit: p.right_unit,
                log: p.log,
                lines: p
                    .lines
                    .iter()
                    .filter_map(|l| {
                        let (v, any) = (values.next().unwrap_or_default(), nonzero.next().unwrap_or(false));
                        (any || l.always).then(|| LineOut {
                            label: l.label,
                            color: hex(l.color),
                            right: l.right,
                            values: v,
                        })
                    })
                    .collect(),
            })
            .collect();
        let faults = faults.iter().map(|(a, b, what)| (*a, *b, what.to_string())).collect();
        let data = Data { bucket_s: self.bucket_s, x: self.x, down: self.down, breaker: self.breaker, faults, panels };
        script_json(&serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_string()))
    }
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// JSON made safe inside a `<script>` element: no `<`, `>` or `&` (so no `</script>` or `<!--`), and no U+2028/9.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The interactive section: the data block, uPlot's stylesheet and script, and the script that draws the panels.
pub fn section(data_json: &str) -> String {
    format!(
        "<style>{UPLOT_CSS}</style>\n<div id=\"explore\"></div>\n\
         <script type=\"application/json\" id=\"loadtest-data\">{data_json}</script>\n\
         <script>{UPLOT_JS}</script>\n<script>{INIT_JS}</script>\n"
    )
}

/// The Content-Security-Policy of a page with the interactive section: nothing from the network, only the two
/// inline scripts (by hash), inline styles, and data: images and fonts (the charts' embedded font).
pub fn csp() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{}' 'sha256-{}'; style-src 'unsafe-inline'; img-src data:; font-src data:; \
         base-uri 'none'; form-action 'none'",
        hash(UPLOT_JS),
        hash(INIT_JS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: u64, published: u64, ready: u64) -> Row {
        Row { time_s: t, published, ready, capacity: 10.0, ..Row::default() }
    }

    fn data(b: Builder) -> serde_json::Value {
        serde_json::from_str(&b.finish(&[(1.0, 2.0, "outage")])).unwrap()
    }

    #[test]
    fn short_runs_keep_every_second_and_fill_idle_ones() {
        let mut b = Builder::new(6);
        b.push(&row(0, 5, 1));
        b.push(&row(3, 7, 4));
        let d = data(b);
        assert_eq!(d["bucket_s"], 1);
        assert_eq!(d["faults"], serde_json::json!([[1.0, 2.0, "outage"]]));
        assert_eq!(d["x"], serde_json::json!([0, 1, 2, 3, 4, 5]));
        let published = &d["panels"][1]["lines"][0]["values"];
        assert_eq!(published, &serde_json::json!([5, 0, 0, 7, 0, 0]));
        let ready = &d["panels"][3]["lines"][0]["values"];
        assert_eq!(ready, &serde_json::json!([1, 1, 1, 4, 4, 4]), "gauges hold over idle seconds");
    }

    #[test]
    fn long_runs_are_bounded_and_keep_spikes() {
        let seconds = 86_400;
        let mut b = Builder::new(seconds);
        for t in 0..seconds {
            b.push(&row(t, if t == 50_000 { 9_999 } else { 10 }, 0));
        }
        let d = data(b);
        let x = d["x"].as_array().unwrap();
        assert!(x.len() as u64 <= MAX_POINTS, "{} points", x.len());
        let published = d["panels"][1]["lines"][0]["values"].as_array().unwrap();
        assert_eq!(published.len(), x.len());
        assert!(published.iter().any(|v| v == 9_999), "the one-second spike survives thinning");
        assert_eq!(published.iter().filter(|v| *v == 10).count(), x.len() - 1);
    }

    #[test]
    fn a_long_idle_gap_costs_one_step_per_bucket() {
        // 3.6e9 s of scenario time with two rows: every bucket drawn, in no more steps than there are buckets.
        let mut b = Builder::new(3_600_000_000);
        b.push(&row(0, 1, 7));
        b.push(&row(3_599_999_999, 2, 0));
        let d = data(b);
        assert_eq!(d["x"].as_array().unwrap().len() as u64, MAX_POINTS);
        let ready = d["panels"][3]["lines"][0]["values"].as_array().unwrap();
        assert_eq!(ready.iter().filter(|v| *v == 7).count() as u64, MAX_POINTS - 1, "held until the last bucket");
    }

    #[test]
    fn breaker_seconds_become_bands_only_when_a_breaker_opened() {
        let mut b = Builder::new(10);
        for t in 0..6 {
            let open = [0, 1, 1, 0, 0, 2][t as usize];
            b.push(&Row { time_s: t, breakers_open: Some(open), ..row(t, 0, 0) });
        }
        // the last row's gauge holds through the idle seconds to the run's end
        assert_eq!(data(b)["breaker"], serde_json::json!([[1.0, 3.0], [5.0, 10.0]]));
        let mut never = Builder::new(3);
        never.push(&Row { breakers_open: Some(0), ..row(0, 0, 0) });
        assert!(data(never).get("breaker").is_none(), "no key without an opening");
    }

    #[test]
    fn down_seconds_become_merged_bands() {
        let mut b = Builder::new(10);
        for t in 0..10 {
            b.push(&Row { capacity: if (3..6).contains(&t) || t == 8 { 0.0 } else { 5.0 }, ..row(t, 1, 0) });
        }
        assert_eq!(data(b)["down"], serde_json::json!([[3.0, 6.0], [8.0, 9.0]]));
    }

    #[test]
    fn lines_that_never_move_are_left_out_unless_always_shown() {
        let mut b = Builder::new(2);
        b.push(&row(0, 1, 0));
        let d = data(b);
        let labels: Vec<&str> =
            d["panels"][1]["lines"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["published", "completed"]);
    }

    #[test]
    fn script_json_cannot_close_the_element() {
        let s = script_json(r#"{"name":"</script><!-- & \u2028"}"#);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&script_json("\"</script>\u{2028}\"")).unwrap();
        assert_eq!(back, "</script>\u{2028}");
    }
}
