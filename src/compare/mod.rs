//! `loadtest compare`: two or more finished runs side by side, read from their report folders. Every summary
//! metric with each run's value and its ratio or difference to the first run, better/worse marked by the metric's
//! direction (retry-storm metrics first), and warnings naming what differs when the runs' scenarios differ.

pub mod diff;
pub mod html;
pub mod overlay;
pub mod table;

use crate::export::RunData;
use crate::report::flat;
use crate::report::metrics::{self, Better, Verdict};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// One run as the comparison names it.
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    /// A, B, C ...
    pub label: String,
    pub dir: String,
    pub scenario: String,
    pub seed: u64,
    pub hash: String,
}

/// A run's value against the first run's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delta {
    /// value / baseline, when both are numbers and the baseline is not 0.
    pub ratio: Option<f64>,
    /// value - baseline, when both are numbers.
    pub difference: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct MetricRow {
    pub key: String,
    pub label: String,
    pub better: Better,
    /// One per run, in run order.
    pub values: Vec<Value>,
    /// One per run; the first (the baseline itself) is null.
    pub vs_first: Vec<Option<Delta>>,
    /// A retry-storm metric (shown first).
    #[serde(skip)]
    pub storm: bool,
}

/// Everything `compare` prints and writes.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub runs: Vec<RunInfo>,
    /// What differs between the runs' scenarios, one message per run that differs from the first.
    pub warnings: Vec<String>,
    pub metrics: Vec<MetricRow>,
}

/// A, B, ..., Z, AA, AB ...
pub fn run_label(i: usize) -> String {
    let mut n = i;
    let mut s = String::new();
    loop {
        s.insert(0, (b'A' + (n % 26) as u8) as char);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s
}

/// Keys named by the data (`messages.dead_lettered.by_reason.*`, `attempts.failed.*`): absent means zero.
fn absent_is_zero(key: &str) -> bool {
    metrics::lookup(key).is_some_and(|m| m.key.ends_with('*'))
        && (key.starts_with("messages.dead_lettered.") || key.starts_with("attempts.failed."))
}

pub fn delta(better: Better, base: &Value, value: &Value) -> Delta {
    let (a, b) = (metrics::number(base), metrics::number(value));
    let (ratio, difference) = match (a, b) {
        (Some(a), Some(b)) => ((a != 0.0).then(|| b / a), Some(b - a)),
        _ => (None, None),
    };
    Delta { ratio, difference, verdict: metrics::verdict(better, base, value) }
}

/// Compares `runs` (at least two) against the first.
pub fn compare(runs: &[RunData]) -> Comparison {
    let infos: Vec<RunInfo> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| RunInfo {
            label: run_label(i),
            dir: r.dir.display().to_string(),
            scenario: r.summary.scenario.name.clone(),
            seed: r.summary.seed,
            hash: r.summary.scenario.hash.clone(),
        })
        .collect();
    let flats: Vec<Vec<(String, Value)>> = runs.iter().map(|r| flat::flatten(&r.summary)).collect();
    // Every key any run has, then in reading order.
    let keys: BTreeSet<String> = flats.iter().flatten().map(|(k, _)| k.clone()).collect();
    let union: Vec<(String, Value)> = keys.into_iter().map(|k| (k, Value::Null)).collect();
    let metrics = metrics::ordered(&union)
        .into_iter()
        .map(|(key, _)| {
            let values: Vec<Value> = flats
                .iter()
                .map(|f| match f.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.clone(),
                    None if absent_is_zero(&key) => Value::from(0),
                    None => Value::Null,
                })
                .collect();
            let better = metrics::better(&key);
            // A field only one run has (a real broker's, Service Bus semantics') is shown, not judged.
            let has = |f: &Vec<(String, Value)>| absent_is_zero(&key) || f.iter().any(|(k, _)| *k == key);
            let judged = |i: usize| has(&flats[0]) && has(&flats[i]);
            let vs_first = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    (i > 0).then(|| match judged(i) {
                        true => delta(better, &values[0], v),
                        false => Delta { ratio: None, difference: None, verdict: metrics::Verdict::Unrated },
                    })
                })
                .collect();
            let storm = metrics::CATALOGUE[..metrics::STORM_METRICS].iter().any(|m| m.key == key);
            MetricRow { label: metrics::label(&key), key, better, values, vs_first, storm }
        })
        .collect();
    let warnings = runs
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, r)| {
            let differences = diff::differences(&runs[0], r);
            (!differences.is_empty()).then(|| {
                format!(
                    "{} ({}) and {} ({}) differ in {}",
                    run_label(i),
                    r.summary.scenario.name,
                    run_label(0),
                    runs[0].summary.scenario.name,
                    differences.join("; ")
                )
            })
        })
        .collect();
    Comparison { runs: infos, warnings, metrics }
}

/// A value as the tables show it: latencies as durations (`1.2 h`), `never` for a recovery that did not happen.
pub fn show(key: &str, v: &Value) -> String {
    let is_latency = key.contains("_ms.") && !key.ends_with(".count");
    match v {
        Value::Null if key == "recovery_s" => "never".to_string(),
        Value::Number(n) if is_latency => crate::export::chart::fmt_ms(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        other => flat::show(other),
    }
}

/// The change against the first run: `x0.55` (ratio) or `+12` (difference, when the first run had 0).
pub fn show_delta(d: &Delta) -> String {
    match (d.ratio, d.difference) {
        (_, Some(0.0)) => "=".to_string(),
        (Some(r), _) => {
            let s = if r >= 100.0 {
                format!("{r:.0}")
            } else if r >= 10.0 {
                format!("{r:.1}")
            } else {
                format!("{r:.2}")
            };
            format!("x{s}")
        }
        (None, Some(diff)) => format!("{}{}", if diff > 0.0 { "+" } else { "" }, flat::show(&Value::from(diff))),
        (None, None) => String::new(),
    }
}

pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::Same | Verdict::Unrated => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_and_deltas() {
        assert_eq!(run_label(0), "A");
        assert_eq!(run_label(25), "Z");
        assert_eq!(run_label(26), "AA");
        let d = delta(Better::Lower, &json!(5.14), &json!(2.85));
        assert_eq!(d.verdict, Verdict::Better);
        assert_eq!(show_delta(&d), "x0.55");
        let z = delta(Better::Lower, &json!(0), &json!(12));
        assert_eq!((show_delta(&z).as_str(), z.verdict), ("+12", Verdict::Worse));
        assert_eq!(show_delta(&delta(Better::Lower, &json!(3), &json!(3))), "=");
        assert_eq!(show("recovery_s", &Value::Null), "never");
        assert_eq!(show("latency_ms.p99", &json!(4_177_526.8)), "1.2 h");
    }
}
