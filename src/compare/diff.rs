//! What differs between two runs' resolved scenarios, key by key (`retry.jitter: "none" vs "full"`), read from the
//! `scenario.toml` each report folder holds.

use crate::export::RunData;
use std::collections::BTreeMap;
use toml::Value;

/// The resolved scenario as dotted key → rendered value (`faults[0].at` for arrays of tables).
pub fn flatten(toml_text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(table) = toml_text.parse::<toml::Table>() {
        for (k, v) in &table {
            walk(k, v, &mut out);
        }
    }
    out
}

fn walk(key: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Table(t) => {
            for (k, child) in t {
                walk(&format!("{key}.{k}"), child, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| matches!(i, Value::Table(_))) => {
            for (i, item) in items.iter().enumerate() {
                walk(&format!("{key}[{i}]"), item, out);
            }
        }
        other => {
            out.insert(key.to_string(), render(other));
        }
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Value::Array(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// Sort order of a difference: what users check first (seed, broker, message count), then configuration, then
/// the name and description (which differ whenever the files do).
fn rank(key: &str) -> u8 {
    match key {
        "seed" => 0,
        k if k.starts_with("broker.") => 1,
        "messages" => 2,
        "name" | "description" => 4,
        _ => 3,
    }
}

/// Differences of `other` from `base`, each `key: base value vs other value`; empty when the scenarios match.
pub fn differences(base: &RunData, other: &RunData) -> Vec<String> {
    let a = flatten(&base.scenario_toml);
    let b = flatten(&other.scenario_toml);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort_by(|x, y| rank(x).cmp(&rank(y)).then(x.cmp(y)));
    keys.dedup();
    let missing = "(not set)".to_string();
    let mut out = Vec::new();
    for k in keys {
        let (va, vb) = (a.get(k).unwrap_or(&missing), b.get(k).unwrap_or(&missing));
        if va != vb && k == "description" {
            out.push("description text".to_string());
        } else if va != vb {
            out.push(format!("{k}: {va} vs {vb}"));
        }
    }
    // The summaries record the seed actually used, even where a scenario file had none.
    if base.summary.seed != other.summary.seed && !out.iter().any(|d| d.starts_with("seed:")) {
        out.insert(0, format!("seed: {} vs {}", base.summary.seed, other.summary.seed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_tables_arrays_and_inline_tables() {
        let f = flatten(
            "name = \"x\"\n[retry]\njitter = \"none\"\npolicy = { kind = \"exponential\", limit = 5 }\n\
             [redelivery]\nintervals = [\"1m\", \"5m\"]\n[[faults]]\nkind = \"outage\"\nat = \"30s\"\n",
        );
        assert_eq!(f["retry.jitter"], "\"none\"");
        assert_eq!(f["retry.policy.limit"], "5");
        assert_eq!(f["redelivery.intervals"], "[\"1m\", \"5m\"]");
        assert_eq!(f["faults[0].at"], "\"30s\"");
    }
}
