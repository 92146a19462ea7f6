//! The `summary.json` of a scenario with `[[subscriptions]]`: each subscription's own summary under
//! `subscriptions.<name>`, and at the top the run as a whole: counts summed over the subscriptions, every other
//! figure the worst subscription's (highest latency, lowest throughput, latest recovery), so that a threshold on
//! the top level holds for every subscription.

use crate::report::metrics::{self as catalogue, Better};
use crate::report::repeats::{keys, union};
use crate::report::summary::Summary;
use serde_json::Value;
use std::collections::BTreeMap;

/// Figures that are counts (summed), beside every field under `messages.`, `attempts.` and the distributions'
/// `.count`s.
const SUMMED: &[&str] = &[
    "downstream.crashes",
    "downstream.circuit_breaker_opened",
    "downstream.throttled",
    "downstream.circuit_breaker_open_s",
    "consumers.kill_switch_trips",
    "consumers.kill_switch_stopped_s",
    "consumers.scale_ups",
    "consumers.scale_downs",
    "overload_waves",
    "failure_episodes",
    "failure_episodes_after_faults",
    "ordering.violations",
    "ordering.keys_out_of_order",
];

/// The top-level summary of `subs` (in the scenario's order); `name` and `hash` are the whole scenario's.
pub fn total(subs: Vec<(String, Summary)>, name: &str, hash: &str) -> Result<Summary, String> {
    let values: Vec<Value> = subs.iter().map(|(_, s)| serde_json::to_value(s).unwrap_or(Value::Null)).collect();
    let mut merged = combine(&values, "");
    if let Some(e) = merged.get_mut("episodes") {
        *e = serde_json::json!({ "failures": [], "overload": [] });
    }
    let mut out: Summary =
        serde_json::from_value(merged).map_err(|e| format!("cannot combine the subscriptions' summaries: {e}"))?;
    // A real broker's section (connections, confirms, reconciliation) is each subscription's own: its figures do
    // not add up into one broker's.
    out.real_broker = None;
    out.scenario.name = name.to_string();
    out.scenario.hash = hash.to_string();
    // Recovery is the latest of the subscriptions that had a fault to recover from, and never if one of those never
    // recovered; a subscription without faults has nothing to recover from.
    let faulted: Vec<Option<f64>> =
        subs.iter().filter(|(_, s)| s.faults_end_s.is_some()).map(|(_, s)| s.recovery_s).collect();
    out.recovery_s = match faulted.iter().copied().collect::<Option<Vec<f64>>>() {
        Some(all) => all.into_iter().reduce(f64::max),
        None => None,
    };
    let published = out.messages.published;
    out.amplification = if published == 0 { 0.0 } else { round4(out.attempts.total as f64 / published as f64) };
    out.subscriptions = subs.into_iter().collect::<BTreeMap<_, _>>();
    Ok(out)
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn summed(path: &str) -> bool {
    path.starts_with("messages.") || path.starts_with("attempts.") || path.ends_with(".count") || SUMMED.contains(&path)
}

fn combine(values: &[Value], path: &str) -> Value {
    match &values[0] {
        Value::Object(_) => {
            let mut out = serde_json::Map::new();
            for k in keys(values) {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let present: Vec<Value> = values.iter().filter_map(|v| v.get(k).cloned()).collect();
                // A field one subscription has and another lacks (a map key, an optional section): its count is 0
                // there, and for any other figure only the subscriptions that have it count.
                let column = if summed(&child) && present.iter().all(Value::is_number) {
                    values.iter().map(|v| v.get(k).cloned().unwrap_or(Value::from(0u64))).collect()
                } else {
                    present
                };
                out.insert(k.clone(), combine(&column, &child));
            }
            Value::Object(out)
        }
        Value::Bool(_) => {
            let all: Vec<bool> = values.iter().map(|v| v.as_bool().unwrap_or(false)).collect();
            Value::Bool(if path.ends_with("accounted") { all.iter().all(|&b| b) } else { all.iter().any(|&b| b) })
        }
        _ if path == "seed" || path == "schema_version" || path == "episode_gap_s" => values[0].clone(),
        Value::Number(_) | Value::Null if values.iter().any(Value::is_number) => number(values, path),
        Value::Array(_) => union(values),
        // Names that differ (each subscription's downstream): all of them, in order.
        Value::String(_) => {
            let mut names: Vec<&str> = Vec::new();
            for s in values.iter().filter_map(Value::as_str) {
                if !names.contains(&s) {
                    names.push(s);
                }
            }
            Value::String(names.join(", "))
        }
        _ => values[0].clone(),
    }
}

/// A sum for counts; otherwise the worst value by the metric's direction (the highest where neither is better).
fn number(values: &[Value], path: &str) -> Value {
    if summed(path) {
        let ints: Option<Vec<u64>> = values.iter().map(Value::as_u64).collect();
        return match ints {
            Some(ints) => Value::from(ints.iter().sum::<u64>()),
            None => float(values.iter().filter_map(Value::as_f64).sum()),
        };
    }
    let nums = values.iter().filter(|v| v.is_number());
    let pick = |a: &&Value, b: &&Value| a.as_f64().unwrap_or(0.0).total_cmp(&b.as_f64().unwrap_or(0.0));
    let worst = match catalogue::better(path) {
        Better::Higher => nums.min_by(pick),
        Better::Lower | Better::Neither => nums.max_by(pick),
    };
    worst.cloned().unwrap_or(Value::Null)
}

fn float(x: f64) -> Value {
    serde_json::Number::from_f64((x * 1e3).round() / 1e3).map_or(Value::Null, Value::Number)
}
