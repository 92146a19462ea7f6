//! The metric catalog: every name a threshold or regression check may use (a field path in summary.json, or a
//! windowed metric over the per-second data), which direction is worse, how to read it, and what null means.

use crate::broker::DeadLetterReason;
use crate::record::series::Row;
use crate::scenario::FailureKind;
use std::sync::OnceLock;

/// Which way a metric gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
    /// Neither way is worse (configuration echoes, consumer counts): any change beyond the tolerance fails.
    Either,
}

/// How a null value in summary.json compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullMeans {
    /// Not nullable.
    Never,
    /// Never happened, so infinitely late (`recovery_s`: never recovered).
    Infinity,
    /// Nothing to measure (`last_failure_s`: no call failed); compares below every number.
    NegInfinity,
    /// Not applicable (no fault in the scenario): fails every threshold.
    Missing,
}

/// A statistic of the latency distribution within a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyStat {
    Count,
    Mean,
    Quantile(f64),
    Max,
}

/// A per-second counter summed over a window (columns of timeseries.csv).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Published,
    Completed,
    DeadLettered,
    Expired,
    Attempts,
    Retries,
    Redeliveries,
    Calls,
    CallsFailed,
}

impl Counter {
    pub fn of(self, r: &Row) -> u64 {
        match self {
            Counter::Published => r.published,
            Counter::Completed => r.completed,
            Counter::DeadLettered => r.dead_lettered,
            Counter::Expired => r.expired,
            Counter::Attempts => r.attempts(),
            Counter::Retries => r.attempts_retry1 + r.attempts_retry2 + r.attempts_retry3 + r.attempts_retry4plus,
            Counter::Redeliveries => r.attempts_redelivery,
            Counter::Calls => r.offered,
            Counter::CallsFailed => r.calls_failed,
        }
    }
}

/// Where a windowed metric comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WindowSource {
    /// Merged per-second histograms of `latency.hlog`.
    Latency(LatencyStat),
    /// Sum of a `timeseries.csv` column.
    Counter(Counter),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// The field path in summary.json, e.g. `latency_ms.p99`.
    pub name: String,
    pub direction: Direction,
    pub unit: &'static str,
    pub null: NullMeans,
    /// Set when the metric may also be windowed (`latency_ms.p99[10s]`).
    pub window: Option<WindowSource>,
}

const PERCENTILE_FIELDS: [(&str, LatencyStat); 7] = [
    ("count", LatencyStat::Count),
    ("mean", LatencyStat::Mean),
    ("p50", LatencyStat::Quantile(0.5)),
    ("p90", LatencyStat::Quantile(0.9)),
    ("p99", LatencyStat::Quantile(0.99)),
    ("p999", LatencyStat::Quantile(0.999)),
    ("max", LatencyStat::Max),
];

fn build() -> Vec<Metric> {
    use Direction::*;
    let mut v = Vec::new();
    let mut add = |name: &str, direction, unit, null, window| {
        v.push(Metric { name: name.to_string(), direction, unit, null, window });
    };
    let counter = |c| Some(WindowSource::Counter(c));
    add("messages.produced", Either, "messages", NullMeans::Never, None);
    add("messages.published", HigherIsBetter, "messages", NullMeans::Never, counter(Counter::Published));
    add("messages.rejected_at_publish", LowerIsBetter, "messages", NullMeans::Never, None);
    add("messages.completed", HigherIsBetter, "messages", NullMeans::Never, counter(Counter::Completed));
    add("messages.dead_lettered", LowerIsBetter, "messages", NullMeans::Never, counter(Counter::DeadLettered));
    for r in DeadLetterReason::ALL {
        let name = format!("messages.dead_lettered.by_reason.{}", r.as_str());
        add(&name, LowerIsBetter, "messages", NullMeans::Never, None);
    }
    add("messages.expired", LowerIsBetter, "messages", NullMeans::Never, counter(Counter::Expired));
    add("messages.lost", LowerIsBetter, "messages", NullMeans::Never, None);
    add("messages.duplicates", LowerIsBetter, "messages", NullMeans::Never, None);
    add("messages.in_flight_at_end", LowerIsBetter, "messages", NullMeans::Never, None);
    add("attempts.total", LowerIsBetter, "attempts", NullMeans::Never, counter(Counter::Attempts));
    add("attempts.first", Either, "attempts", NullMeans::Never, None);
    add("attempts.retries", LowerIsBetter, "attempts", NullMeans::Never, counter(Counter::Retries));
    add("attempts.redeliveries", LowerIsBetter, "attempts", NullMeans::Never, counter(Counter::Redeliveries));
    for k in FailureKind::ALL {
        add(&format!("attempts.failed.{}", k.as_str()), LowerIsBetter, "attempts", NullMeans::Never, None);
    }
    add("attempts.downstream_calls", LowerIsBetter, "calls", NullMeans::Never, counter(Counter::Calls));
    add("attempts.downstream_calls_failed", LowerIsBetter, "calls", NullMeans::Never, counter(Counter::CallsFailed));
    add("amplification", LowerIsBetter, "attempts/message", NullMeans::Never, None);
    for group in ["latency_ms", "latency_raw_ms", "attempt_latency_ms", "time_to_dead_letter_ms"] {
        for (field, stat) in PERCENTILE_FIELDS {
            let (direction, unit) = if field == "count" { (Either, "") } else { (LowerIsBetter, "ms") };
            let window = (group == "latency_ms").then_some(WindowSource::Latency(stat));
            add(&format!("{group}.{field}"), direction, unit, NullMeans::Never, window);
        }
    }
    add("throughput_per_s", HigherIsBetter, "messages/s", NullMeans::Never, None);
    add("duration_s", LowerIsBetter, "s", NullMeans::Never, None);
    add("downstream.capacity_per_s", Either, "requests/s", NullMeans::Never, None);
    add("downstream.peak_offered_per_s", LowerIsBetter, "requests/s", NullMeans::Never, None);
    add("downstream.peak_offered_ratio", LowerIsBetter, "x capacity", NullMeans::Never, None);
    add("downstream.crashes", LowerIsBetter, "crashes", NullMeans::Never, None);
    add("downstream.peak_in_system", LowerIsBetter, "requests", NullMeans::Never, None);
    add("downstream.circuit_breaker_opened", LowerIsBetter, "times", NullMeans::Never, None);
    add("queue.peak_ready", LowerIsBetter, "messages", NullMeans::Never, None);
    add("queue.peak_unacked", LowerIsBetter, "messages", NullMeans::Never, None);
    add("queue.peak_delayed", LowerIsBetter, "messages", NullMeans::Never, None);
    add("queue.pre_fault_backlog", Either, "messages", NullMeans::Missing, None);
    add("consumers.min", Either, "consumers", NullMeans::Never, None);
    add("consumers.peak", Either, "consumers", NullMeans::Never, None);
    add("overload_waves", LowerIsBetter, "waves", NullMeans::Never, None);
    add("failure_episodes", LowerIsBetter, "episodes", NullMeans::Never, None);
    add("failure_episodes_after_faults", LowerIsBetter, "episodes", NullMeans::Never, None);
    add("last_failure_s", LowerIsBetter, "s", NullMeans::NegInfinity, None);
    add("recovery_s", LowerIsBetter, "s", NullMeans::Infinity, None);
    v
}

/// Every metric, in summary.json order.
pub fn catalog() -> &'static [Metric] {
    static CATALOG: OnceLock<Vec<Metric>> = OnceLock::new();
    CATALOG.get_or_init(build)
}

pub fn find(name: &str) -> Option<&'static Metric> {
    catalog().iter().find(|m| m.name == name)
}

/// The metric a mistyped or shortened name most likely meant: `p99` -> `latency_ms.p99`, `lost` -> `messages.lost`.
pub fn closest(name: &str, windowed: bool) -> Option<&'static str> {
    let names: Vec<&'static str> =
        catalog().iter().filter(|m| !windowed || m.window.is_some()).map(|m| m.name.as_str()).collect();
    let lower = name.to_ascii_lowercase();
    let suffix = format!(".{lower}");
    if let Some(n) = names.iter().find(|n| n.ends_with(&suffix)) {
        return Some(n);
    }
    crate::scenario::suggest(&lower, &names)
}

/// The valid names, compactly: `messages.{produced,published,...}`, one group per line.
pub fn listing(windowed: bool) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for m in catalog().iter().filter(|m| !windowed || m.window.is_some()) {
        let (prefix, leaf) = match m.name.rsplit_once('.') {
            Some((p, l)) => (p.to_string(), l),
            None => (String::new(), m.name.as_str()),
        };
        match groups.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, leaves)) => leaves.push(leaf),
            None => groups.push((prefix, vec![leaf])),
        }
    }
    let lines: Vec<String> = groups
        .into_iter()
        .map(|(p, leaves)| match (p.is_empty(), leaves.len()) {
            (true, _) => leaves.join(", "),
            (false, 1) => format!("{p}.{}", leaves[0]),
            (false, _) => format!("{p}.{{{}}}", leaves.join(",")),
        })
        .collect();
    lines.join("\n    ")
}

/// What a null value of this metric means, for notes in the gate's output.
pub fn null_note(name: &str) -> &'static str {
    match name {
        "recovery_s" => "null: the backlog never returned to its pre-fault level (counts as never)",
        "last_failure_s" => "null: no downstream call failed",
        "queue.pre_fault_backlog" => "null: the scenario has no fault, so there is no pre-fault level",
        _ => "null",
    }
}

/// A metric's value in a summary (as JSON): `Some(None)` is null; an object with a `total` means its total; a
/// missing key in a by-kind map (`attempts.failed.timeout`) is 0. `None` if the path is not in the summary.
pub fn read(summary: &serde_json::Value, name: &str) -> Option<Option<f64>> {
    let mut node = summary;
    let parts: Vec<&str> = name.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        node = match node.get(part) {
            Some(n) => n,
            None if i > 0 && i == parts.len() - 1 && matches!(parts[i - 1], "by_reason" | "failed") => {
                return Some(Some(0.0))
            }
            None => return None,
        };
    }
    if let Some(total) = node.get("total") {
        node = total;
    }
    match node {
        serde_json::Value::Null => Some(None),
        v => v.as_f64().map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_numeric_leaf_of_a_summary_is_in_the_catalog_and_back() {
        let scn = crate::scenario::load_file(std::path::Path::new("scenarios/retry-storm.toml"), &[]).unwrap();
        let summary = serde_json::to_value(crate::report::simulate(&scn, 42).unwrap()).unwrap();
        // Every catalog name reads from a real summary.
        for m in catalog() {
            assert!(read(&summary, &m.name).is_some(), "{} is not in summary.json", m.name);
        }
        // Every numeric field of the summary is in the catalog, except identifiers and configuration echoes.
        let skip = ["schema_version", "seed", "time_scale", "episode_gap_s", "faults_end_s"];
        fn leaves(v: &serde_json::Value, path: String, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        leaves(v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out)
                    }
                }
                serde_json::Value::Number(_) | serde_json::Value::Null => out.push(path),
                _ => {}
            }
        }
        let mut all = Vec::new();
        leaves(&summary, String::new(), &mut all);
        for path in all {
            if skip.contains(&path.as_str()) || path.contains(".by_queue.") {
                continue;
            }
            let total_of = path.strip_suffix(".total").and_then(find); // `messages.dead_lettered` means its total
            assert!(find(&path).or(total_of).is_some(), "summary field {path} is missing from the metric catalog");
        }
    }

    #[test]
    fn reading_totals_nulls_and_missing_map_keys() {
        let s = serde_json::json!({
            "messages": { "dead_lettered": { "total": 7, "by_reason": { "delivery_limit": 7 } } },
            "attempts": { "failed": { "transient": 3 } },
            "recovery_s": null,
        });
        assert_eq!(read(&s, "messages.dead_lettered"), Some(Some(7.0)));
        assert_eq!(read(&s, "messages.dead_lettered.by_reason.delivery_limit"), Some(Some(7.0)));
        assert_eq!(read(&s, "messages.dead_lettered.by_reason.rejected"), Some(Some(0.0)));
        assert_eq!(read(&s, "attempts.failed.timeout"), Some(Some(0.0)));
        assert_eq!(read(&s, "recovery_s"), Some(None));
        assert_eq!(read(&s, "nothing"), None);
    }

    #[test]
    fn suggestions_for_short_and_mistyped_names() {
        assert_eq!(closest("p99", false), Some("latency_ms.p99"));
        assert_eq!(closest("lost", false), Some("messages.lost"));
        assert_eq!(closest("latency_ms.p98", false), Some("latency_ms.p99"));
        assert_eq!(closest("amplificaton", false), Some("amplification"));
        assert!(listing(true).contains("latency_ms.{count,mean,p50,p90,p99,p999,max}"));
        assert!(!listing(true).contains("recovery_s"));
    }
}
