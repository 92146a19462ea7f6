//! `summary.json` as dotted key → value pairs (`messages.dead_lettered.total`), sorted by key; `metrics` puts
//! them in reading order for the HTML page and `compare`.

use super::summary::Summary;
use serde_json::Value;

/// Every scalar of the summary except the episode lists (their counts are metrics of their own).
pub fn flatten(s: &Summary) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let v = serde_json::to_value(s).unwrap_or(Value::Null);
    walk("", &v, &mut out);
    out
}

fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if prefix.is_empty() && k == "episodes" {
                    continue;
                }
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                walk(&key, child, out);
            }
        }
        Value::Array(_) => {}
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// A value as the tables show it: integers plainly, floats to at most 3 decimals, null as "-".
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            let s = format!("{f:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
