//! The repeat folder of `loadtest run --repeat N`: complete run folders `run-1/` .. `run-N/`, the resolved
//! `scenario.toml`, and a `summary.json` whose every metric is the median over the runs, with a `repeats` field
//! naming the runs and seeds. `loadtest gate` and `baseline save` take it like a run folder.

use crate::report::summary::Summary;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Repeats {
    pub count: usize,
    /// The statistic every metric of this summary is: "median" (the lower middle value for an even count, so
    /// counts stay whole numbers).
    pub statistic: String,
    pub seeds: Vec<u64>,
    /// The run folders, relative to this one.
    pub runs: Vec<String>,
}

pub fn run_name(k: usize) -> String {
    format!("run-{k}")
}

/// The summary of medians: numbers are the per-field median over the runs (map keys missing in a run count as 0;
/// nulls sort as "never", after every number, except `last_failure_s` where null means "no failure" and sorts
/// first); `accounted` holds only if it held in every run, `stopped_by_duration_limit` if it did in any; episode
/// lists are left empty (each run folder has its own); names, seed and hash are the first run's.
pub fn medians(runs: &[Summary], repeats: Repeats) -> Result<Summary, String> {
    let values: Vec<Value> = runs.iter().map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).collect();
    let mut merged = merge(&values, "");
    if let Some(e) = merged.get_mut("episodes") {
        *e = serde_json::json!({ "failures": [], "overload": [] });
    }
    let mut out: Summary =
        serde_json::from_value(merged).map_err(|e| format!("cannot combine the runs' summaries: {e}"))?;
    out.repeats = Some(repeats);
    Ok(out)
}

fn merge(values: &[Value], path: &str) -> Value {
    let first = &values[0];
    match first {
        Value::Object(_) => {
            let mut out = serde_json::Map::new();
            for k in keys(values) {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                // A key a run left out stands for 0, or for an empty list (`notes`, `faults_not_reached`).
                let absent = if values.iter().any(|v| v.get(k).is_some_and(Value::is_array)) {
                    Value::Array(Vec::new())
                } else {
                    Value::from(0u64)
                };
                let column: Vec<Value> = values.iter().map(|v| v.get(k).cloned().unwrap_or(absent.clone())).collect();
                out.insert(k.clone(), merge(&column, &child));
            }
            Value::Object(out)
        }
        _ if path == "seed" || path == "schema_version" => first.clone(),
        Value::Bool(_) => {
            let all: Vec<bool> = values.iter().map(|v| v.as_bool().unwrap_or(false)).collect();
            Value::Bool(if path.ends_with("stopped_by_duration_limit") {
                all.iter().any(|&b| b)
            } else {
                all.iter().all(|&b| b)
            })
        }
        Value::Number(_) | Value::Null if values.iter().any(|v| v.is_number()) => median(values, path),
        // The warnings' lists: what any run had, each once.
        Value::Array(_) if path == "notes" || path == "faults_not_reached" => union(values),
        _ => first.clone(),
    }
}

/// The keys of the objects among `values`, in first-seen order (one object may lack a key another has).
pub(super) fn keys(values: &[Value]) -> Vec<&String> {
    let mut keys: Vec<&String> = Vec::new();
    for k in values.iter().filter_map(Value::as_object).flat_map(|m| m.keys()) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// The items of the arrays among `values`, each once, in first-seen order.
pub(super) fn union(values: &[Value]) -> Value {
    let mut all: Vec<Value> = Vec::new();
    for item in values.iter().filter_map(Value::as_array).flatten() {
        if !all.contains(item) {
            all.push(item.clone());
        }
    }
    Value::Array(all)
}

fn median(values: &[Value], path: &str) -> Value {
    let null_first = path == "last_failure_s";
    let mut sorted: Vec<&Value> = values.iter().collect();
    sorted.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) if null_first => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) if null_first => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
    });
    sorted[(sorted.len() - 1) / 2].clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_per_field_with_nulls_maps_and_flags() {
        let scn = crate::scenario::load_str("messages = 200\n", "<t>", &[]).unwrap();
        let mut runs: Vec<Summary> = (1..=3).map(|seed| crate::report::simulate(&scn, seed).unwrap()).collect();
        runs[0].messages.lost = 5;
        runs[1].messages.lost = 1;
        runs[2].messages.lost = 3;
        runs[0].recovery_s = None;
        runs[1].recovery_s = Some(10.0);
        runs[2].recovery_s = Some(20.0);
        runs[1].messages.accounted = false;
        runs[2].attempts.failed.insert("timeout".into(), 4);
        let reps = Repeats { count: 3, statistic: "median".into(), seeds: vec![1, 2, 3], runs: vec!["run-1".into()] };
        let m = medians(&runs, reps.clone()).unwrap();
        assert_eq!(m.messages.lost, 3);
        assert_eq!(m.recovery_s, Some(20.0), "null (never recovered) sorts above every number");
        assert!(!m.messages.accounted);
        assert_eq!(m.attempts.failed.get("timeout"), Some(&0), "a key missing in two runs has median 0");
        assert_eq!(m.seed, 1);
        assert_eq!(m.repeats, Some(reps.clone()));
        // Warnings of any run carry over, each once; a run without them has none (the key is absent).
        runs[1].notes = vec!["no message completed (0 of 5 published); no latency was measured".into()];
        runs[2].notes = runs[1].notes.clone();
        let late = crate::report::summary::FaultNotReached { index: 0, kind: "outage".into(), at_s: 600.0 };
        runs[2].faults_not_reached = vec![late.clone()];
        let m = medians(&runs, reps.clone()).unwrap();
        assert_eq!((&m.notes, &m.faults_not_reached), (&runs[1].notes, &vec![late]));
        let back: Summary = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(back.repeats.map(|r| r.count), Some(3), "summary.json carries the repeats field");
    }
}
