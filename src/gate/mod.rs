//! `loadtest gate`: checks a finished run against its thresholds and, optionally, a baseline run; the result is
//! a list of checks that the renderers (terminal table, gate.md, JUnit XML) show.

pub mod baseline;
pub mod junit;
pub mod metric;
pub mod render;
pub mod source;
pub mod threshold;
pub mod window;

use metric::NullMeans;
use source::{Source, Worst};
use threshold::{Op, Threshold};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Threshold,
    Regression,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Threshold => "threshold",
            Kind::Regression => "regression",
        }
    }
}

/// One check and its verdict, ready to render.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    pub kind: Kind,
    /// The metric key, e.g. `latency_ms.p99[10s]`.
    pub metric: String,
    /// The run's value, formatted.
    pub value: String,
    /// The limit (`< 2000`) or the baseline and allowance (`2428502 (+0% allowed)`).
    pub limit: String,
    pub passed: bool,
    /// What the verdict rests on: the worst window, the change, what null means.
    pub note: String,
}

impl Check {
    /// `latency_ms.p99[10s] < 2000` / `latency_ms.p99 vs baseline`: the test-case name in JUnit.
    pub fn name(&self) -> String {
        match self.kind {
            Kind::Threshold => format!("{} {}", self.metric, self.limit),
            Kind::Regression => format!("{} vs baseline", self.metric),
        }
    }

    /// One line saying what failed and by how much.
    pub fn message(&self) -> String {
        let what = match self.kind {
            Kind::Threshold => format!("{} = {}, threshold {}", self.metric, self.value, self.limit),
            Kind::Regression => format!("{} = {}, baseline {}", self.metric, self.value, self.limit),
        };
        if self.note.is_empty() {
            what
        } else {
            format!("{what}: {}", self.note)
        }
    }
}

/// Everything one gate run found (also written as gate.json, which the run's page shows).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The run (or repeat) folder, as given.
    pub run: String,
    pub baseline: Option<String>,
    /// Lines about how the comparison was made (clock, repeats, tolerances, configuration differences).
    pub notes: Vec<String>,
    pub checks: Vec<Check>,
}

impl Outcome {
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }
}

/// A value as summary.json has it; null is spelled out.
pub fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "null".to_string(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Some(x) => format!("{}", (x * 1e4).round() / 1e4),
    }
}

/// Whether `value OP limit` holds, with null compared as the metric defines it.
pub fn holds(op: Op, value: Option<f64>, null: NullMeans, limit: f64) -> bool {
    match (value, null) {
        (Some(v), _) => op.holds(v, limit),
        (None, NullMeans::Infinity) => op.holds(f64::INFINITY, limit),
        (None, NullMeans::NegInfinity) => op.holds(f64::NEG_INFINITY, limit),
        (None, _) => false,
    }
}

/// Checks every threshold against the run. Errors are input errors (a file the check needs is missing).
pub fn check_thresholds(src: &mut Source, thresholds: &[Threshold]) -> Result<Vec<Check>, String> {
    let mut out = Vec::new();
    for t in thresholds {
        let m = metric::find(&t.metric).ok_or_else(|| threshold::unknown(&t.metric, t.window_s.is_some()))?;
        let limit = t.expression.clone();
        let check = match t.window_s {
            None => {
                let v = src.plain(&m)?;
                let passed = holds(t.op, v, m.null, t.limit);
                let note = match v {
                    None => metric::null_note_for(&m.name, &src.summary),
                    Some(v) if !passed => margin(t.op, v, t.limit),
                    Some(_) => String::new(),
                };
                Check { kind: Kind::Threshold, metric: t.key.clone(), value: fmt_value(v), limit, passed, note }
            }
            Some(w) => windowed(src, t, &m, w)?,
        };
        out.push(check);
    }
    Ok(out)
}

/// How far a value is on the wrong side of a limit: `8023.039 over the limit (+0.4%)`.
pub fn margin(op: Op, value: f64, limit: f64) -> String {
    let pct = |d: f64| if limit != 0.0 { format!(" ({:+.1}%)", d / limit.abs() * 100.0) } else { String::new() };
    match op {
        Op::Lt | Op::Le if value == limit => "at the limit, which it must stay below".into(),
        Op::Lt | Op::Le => format!("{} over the limit{}", fmt_value(Some(value - limit)), pct(value - limit)),
        Op::Gt | Op::Ge if value == limit => "at the limit, which it must stay above".into(),
        Op::Gt | Op::Ge => format!("{} under the limit{}", fmt_value(Some(limit - value)), pct(value - limit)),
        Op::Eq => format!("off by {}", fmt_value(Some(value - limit))),
        Op::Ne => "equal to the value it must not have".into(),
    }
}

/// A windowed threshold holds if it holds in every window. For a repeat folder, it applies to the median of the
/// runs' worst windows.
fn windowed(src: &mut Source, t: &Threshold, m: &metric::Metric, w: u64) -> Result<Check, String> {
    let worst = match t.op {
        Op::Gt | Op::Ge => Worst::Lowest,
        _ => Worst::Highest,
    };
    let check = |value: Option<f64>, passed: bool, note: String| Check {
        kind: Kind::Threshold,
        metric: t.key.clone(),
        value: fmt_value(value),
        limit: t.expression.clone(),
        passed,
        note,
    };
    if src.repeats() > 1 {
        let v = src.worst_window(m, w, worst)?;
        let passed = v.value.is_some_and(|x| t.op.holds(x, t.limit));
        let note = match (v.value, v.window_start_s) {
            (Some(x), Some(s)) if !passed => format!(
                "{}; median over {} runs of the worst {w} s window (e.g. from {s} s)",
                margin(t.op, x, t.limit),
                src.repeats()
            ),
            (Some(_), _) => format!("median over {} runs of the worst {w} s window", src.repeats()),
            _ => format!("no {w} s window has a value (no message completed)"),
        };
        return Ok(check(v.value, passed, note));
    }
    let windows = src.windows(m, w)?.remove(0);
    let breaches: Vec<_> = windows.iter().filter(|x| !t.op.holds(x.value, t.limit)).collect();
    // `==` and `!=` have no "worst" direction: show the first breach.
    let shown = match t.op {
        Op::Eq | Op::Ne => breaches.first().map(|x| **x).or_else(|| source::pick(&windows, worst)),
        _ => source::pick(&windows, worst),
    };
    let Some(shown) = shown else {
        return Ok(check(None, false, format!("no {w} s window has a value (no message completed)")));
    };
    let (s, e) = (shown.start_s, shown.start_s + w);
    let note = match breaches.first() {
        None => format!("worst {w} s window: {s} s to {e} s"),
        Some(first) => format!(
            "{}; worst {w} s window {s} s to {e} s; breached in {} of {} windows, first from {} s",
            margin(t.op, shown.value, t.limit),
            breaches.len(),
            windows.len(),
            first.start_s
        ),
    };
    Ok(check(Some(shown.value), breaches.is_empty(), note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_compare_as_their_metric_defines() {
        // recovery_s null: never recovered, so it fails `<` and passes `>`.
        assert!(!holds(Op::Lt, None, NullMeans::Infinity, 600.0));
        assert!(holds(Op::Gt, None, NullMeans::Infinity, 600.0));
        // last_failure_s null: nothing failed, so "the last failure was before 600 s" holds.
        assert!(holds(Op::Lt, None, NullMeans::NegInfinity, 600.0));
        // Not applicable: fails whatever the condition.
        assert!(!holds(Op::Ne, None, NullMeans::Missing, 0.0));
        assert_eq!(fmt_value(Some(3.0)), "3");
        assert_eq!(fmt_value(Some(2428502.015)), "2428502.015");
        assert_eq!(fmt_value(None), "null");
    }
}
