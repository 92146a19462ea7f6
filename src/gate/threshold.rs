//! The threshold syntax, parsed in one place for the scenario loader and `loadtest gate`:
//! `"METRIC" = "OP NUMBER"` or `"METRIC[WINDOW]" = "OP NUMBER"`, or a list of such expressions for one key.

use super::metric::{self, Metric};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// Longest first, so `<=` is not read as `<`.
    const ALL: [(&'static str, Op); 6] =
        [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];

    pub fn as_str(self) -> &'static str {
        Op::ALL.iter().find(|(_, op)| *op == self).map_or("?", |(s, _)| s)
    }

    /// Whether `value OP limit` holds.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Eq => value == limit,
            Op::Ne => value != limit,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition on one metric (a key with a list of expressions gives one `Threshold` each).
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The key as written, e.g. `latency_ms.p99[10s]`.
    pub key: String,
    /// The metric's name in summary.json, e.g. `latency_ms.p99`.
    pub metric: String,
    /// Set for windowed thresholds: the condition must hold in every window of this many seconds.
    pub window_s: Option<u64>,
    pub op: Op,
    pub limit: f64,
    /// The expression as written, e.g. `< 2000`.
    pub expression: String,
}

impl Threshold {
    /// `latency_ms.p99[10s] < 2000`.
    pub fn label(&self) -> String {
        format!("{} {}", self.key, self.expression.trim())
    }
}

const EXPRESSION_HELP: &str =
    "write an operator (<, <=, >, >=, ==, !=) and a number in the metric's unit, e.g. \"< 2000\"";
const WINDOW_HELP: &str = "write a window of whole seconds, e.g. \"latency_ms.p99[10s]\" or \"[1m]\"";

/// Parses one key and one expression. The error says what is wrong and how to fix it (the caller adds where).
pub fn parse(key: &str, expression: &str) -> Result<Threshold, String> {
    if let Some(hint) = k6_form(key, expression) {
        return Err(hint);
    }
    let (metric, window_s) = parse_key(key)?;
    let (op, limit) = parse_expression(expression)?;
    Ok(Threshold {
        key: key.to_string(),
        metric: metric.name.clone(),
        window_s,
        op,
        limit,
        expression: expression.trim().to_string(),
    })
}

/// k6's threshold forms (`http_req_duration = "p(99)<2000"`, `avg<200`, `rate<0.01`): what to write here instead.
pub fn k6_form(key: &str, expression: &str) -> Option<String> {
    let e = expression.trim();
    let k6_key = match key.trim() {
        "http_req_duration" | "iteration_duration" => Some("latency_ms"),
        "http_req_failed" | "checks" => Some("messages.dead_lettered"),
        "iterations" | "http_reqs" => Some("messages.completed"),
        _ => None,
    };
    let base = k6_key.unwrap_or(if key.trim().starts_with("latency_ms") { "latency_ms" } else { key.trim() });
    let (stat, rest) = if let Some(after) = e.strip_prefix("p(") {
        let (q, rest) = after.split_once(')')?;
        let stat = match q.trim() {
            "50" => "p50".to_string(),
            "90" => "p90".to_string(),
            "99" => "p99".to_string(),
            "99.9" => "p999".to_string(),
            other => format!("p{} (the percentiles here are p50, p90, p99 and p999)", other.replace('.', "")),
        };
        (Some(stat), rest)
    } else if let Some(rest) = ["avg", "med", "max", "min"].iter().find_map(|w| e.strip_prefix(w).map(|r| (*w, r))) {
        let stat = match rest.0 {
            "avg" => "mean",
            "med" => "p50",
            "max" => "max",
            _ => "p50 (there is no min here; the latency metrics are count, mean, p50, p90, p99, p999, max)",
        };
        (Some(stat.to_string()), rest.1)
    } else if let Some(rest) = e.strip_prefix("rate").or_else(|| e.strip_prefix("count")) {
        (None, rest)
    } else if k6_key.is_some() {
        (None, e)
    } else {
        return None;
    };
    let rest = rest.trim();
    if !rest.starts_with(['<', '>', '=', '!']) {
        return None;
    }
    let key_here = match stat {
        Some(stat) => format!("{base}.{stat}"),
        None => base.to_string(),
    };
    Some(format!(
        "\"{e}\" is k6's threshold form; here the statistic is part of the key and the value is only the \
         comparison: \"{key_here}\" = \"{rest}\" (counts, not rates: e.g. \"messages.lost\" = \"== 0\")"
    ))
}

/// `latency_ms.p99` or `latency_ms.p99[10s]`.
pub fn parse_key(key: &str) -> Result<(Metric, Option<u64>), String> {
    let key = key.trim();
    let (name, window) = match key.split_once('[') {
        Some((name, rest)) => {
            let inner =
                rest.strip_suffix(']').ok_or_else(|| format!("`{key}` has an unclosed window; {WINDOW_HELP}"))?;
            (name.trim(), Some(parse_window(inner)?))
        }
        None => (key, None),
    };
    let windowed = window.is_some();
    match metric::find(name) {
        Some(m) if windowed && m.window.is_none() => Err(format!(
            "`{name}` cannot be windowed (only latency_ms percentiles and per-second counters can); use `{name}` \
             without a window, or one of the windowed metrics:\n    {}",
            metric::listing(true)
        )),
        Some(m) => Ok((m, window)),
        None => Err(unknown(name, windowed)),
    }
}

/// The error for a name not in the catalog: the closest valid name and the full list.
pub fn unknown(name: &str, windowed: bool) -> String {
    let hint = match metric::closest(name, windowed) {
        Some(c) => format!("did you mean `{c}`? "),
        None => String::new(),
    };
    let what = if windowed { "windowed metric" } else { "metric" };
    format!("unknown {what} `{name}`; {hint}the valid {what}s are:\n    {}", metric::listing(windowed))
}

fn parse_window(text: &str) -> Result<u64, String> {
    let d = crate::time::Dur::parse(text).map_err(|_| format!("`[{text}]` is not a window; {WINDOW_HELP}"))?;
    let ns = d.ns();
    if ns == 0 || ns % crate::time::NS_PER_SEC != 0 {
        return Err(format!("`[{text}]`: windows slide over whole seconds; {WINDOW_HELP}"));
    }
    Ok(ns / crate::time::NS_PER_SEC)
}

/// `< 2000`, `<= 1.5`, `== 0`, `!= 3`.
pub fn parse_expression(text: &str) -> Result<(Op, f64), String> {
    let t = text.trim();
    let (op, rest) = Op::ALL
        .iter()
        .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (*op, rest)))
        .ok_or_else(|| format!("\"{t}\" has no comparison operator; {EXPRESSION_HELP}"))?;
    let number = rest.trim().replace('_', "");
    let limit: f64 = number.parse().map_err(|_| {
        if number.is_empty() {
            format!("\"{t}\" has no number after `{op}`; {EXPRESSION_HELP}")
        } else {
            format!("\"{t}\": `{}` is not a number; {EXPRESSION_HELP}", rest.trim())
        }
    })?;
    if !limit.is_finite() {
        return Err(format!("\"{t}\": the limit must be a finite number; {EXPRESSION_HELP}"));
    }
    Ok((op, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_thresholds_say_what_to_write_here() {
        let e = parse("latency_ms", "p(99)<2000").unwrap_err();
        assert!(e.contains("\"latency_ms.p99\" = \"<2000\""), "{e}");
        let e = parse("http_req_duration", "p(95) < 500").unwrap_err();
        assert!(e.contains("\"latency_ms.p95 (the percentiles here are p50, p90, p99 and p999)\""), "{e}");
        let e = parse("http_req_duration", "avg<200").unwrap_err();
        assert!(e.contains("\"latency_ms.mean\" = \"<200\""), "{e}");
        let e = parse("http_req_failed", "rate<0.01").unwrap_err();
        assert!(e.contains("\"messages.dead_lettered\" = \"<0.01\""), "{e}");
        assert!(parse("latency_ms.p99", "< 2000").is_ok(), "our own form is untouched");
        assert!(parse("messages.lost", "== 0").is_ok());
    }

    #[test]
    fn plain_and_windowed_keys() {
        let t = parse("latency_ms.p99", "< 2000").unwrap();
        assert_eq!((t.metric.as_str(), t.window_s, t.op, t.limit), ("latency_ms.p99", None, Op::Lt, 2000.0));
        let t = parse("latency_ms.p99[10s]", " <= 2_000 ").unwrap();
        assert_eq!((t.metric.as_str(), t.window_s, t.op, t.limit), ("latency_ms.p99", Some(10), Op::Le, 2000.0));
        assert_eq!(t.label(), "latency_ms.p99[10s] <= 2_000");
        let t = parse("attempts.downstream_calls_failed[1m]", "== 0").unwrap();
        assert_eq!(t.window_s, Some(60));
        for (s, op) in [("<", Op::Lt), ("<=", Op::Le), (">", Op::Gt), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne)] {
            assert_eq!(parse_expression(&format!("{s} -1.5")).unwrap(), (op, -1.5));
        }
    }

    #[test]
    fn operators_compare() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && !Op::Le.holds(2.1, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
        assert!(Op::Ge.holds(2.0, 2.0) && !Op::Ge.holds(1.9, 2.0));
        assert!(Op::Eq.holds(0.0, 0.0) && !Op::Eq.holds(1.0, 0.0));
        assert!(Op::Ne.holds(1.0, 0.0) && !Op::Ne.holds(0.0, 0.0));
    }

    #[test]
    fn errors_say_what_and_how() {
        let e = parse("latency_ms.p98", "< 5").unwrap_err();
        assert!(e.starts_with("unknown metric `latency_ms.p98`; did you mean `latency_ms.p99`?"), "{e}");
        assert!(e.contains("messages.{produced,published,"), "{e}");
        let e = parse("p99", "< 5").unwrap_err();
        assert!(e.contains("did you mean `latency_ms.p99`?"), "{e}");
        let e = parse("recovery_s[10s]", "< 5").unwrap_err();
        assert!(e.starts_with("`recovery_s` cannot be windowed"), "{e}");
        assert!(parse("latency_ms.p99[10]", "< 5").unwrap_err().contains("is not a window"));
        assert!(parse("latency_ms.p99[1500ms]", "< 5").unwrap_err().contains("whole seconds"));
        assert!(parse("latency_ms.p99[10s", "< 5").unwrap_err().contains("unclosed window"));
        assert!(parse("latency_ms.p99", "2000").unwrap_err().contains("no comparison operator"));
        assert!(parse("latency_ms.p99", "<").unwrap_err().contains("no number after `<`"));
        assert!(parse("latency_ms.p99", "< 2s").unwrap_err().contains("`2s` is not a number"));
        assert!(parse("latency_ms.p99", "=< 2").unwrap_err().contains("no comparison operator"));
        assert!(parse("latency_ms.p99", "< inf").unwrap_err().contains("finite"));
    }
}
