//! The names a threshold or regression check may use: every numeric field path of summary.json, with its unit,
//! what null means, and whether it can be windowed over the per-second data. Which direction is better comes from
//! `report::metrics` (the one catalogue that `compare` uses too); values are read from `report::flat`.

use crate::broker::DeadLetterReason;
use crate::record::series::Row;
use crate::report::metrics::{self as catalogue, Better};
use crate::scenario::FailureKind;
use serde_json::Value;
use std::sync::OnceLock;

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
    /// The field path in summary.json, e.g. `latency_ms.p99` (`messages.dead_lettered` stands for its `.total`).
    pub name: String,
    /// Which way is better (`Neither`: any change beyond the tolerance fails a regression check).
    pub better: Better,
    pub unit: &'static str,
    pub null: NullMeans,
    /// Set when the metric may also be windowed (`latency_ms.p99[10s]`).
    pub window: Option<WindowSource>,
}

/// Fields summary.json has only when the feature that counts them is configured: absent, they do not apply.
pub const OPTIONAL: &[&str] = &[
    "attempts.budget_rejected",
    "downstream.throttled",
    "downstream.circuit_breaker_open_s",
    "consumers.kill_switch_trips",
    "consumers.kill_switch_stopped_s",
    "producer.blocked_s",
    "producer.blocks",
    "producer.max_lag_ms",
    "ordering.violations",
    "ordering.keys_out_of_order",
    "ordering.peak_key_backlog",
];

/// Metrics newer than the first summaries: a baseline written before one existed lacks it, and it does not apply
/// there (`--exact` compares it only when the baseline has it). A prefix ending in `.` stands for its group.
pub const NEWER: &[&str] = &["queue_wait_ms.", "p_wait"];

/// Whether `name` is one of `NEWER`.
pub fn is_newer(name: &str) -> bool {
    let name = in_subscription(name).map_or(name, |(_, n)| n);
    NEWER.iter().any(|n| if n.ends_with('.') { name.starts_with(n) } else { name == *n })
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
    let mut v = Vec::new();
    let mut add = |name: &str, unit, null, window| {
        let total = format!("{name}.total");
        let better =
            catalogue::lookup(name).or_else(|| catalogue::lookup(&total)).map_or(Better::Neither, |m| m.better);
        v.push(Metric { name: name.to_string(), better, unit, null, window });
    };
    let counter = |c| Some(WindowSource::Counter(c));
    add("messages.produced", "messages", NullMeans::Never, None);
    add("messages.published", "messages", NullMeans::Never, counter(Counter::Published));
    add("messages.rejected_at_publish", "messages", NullMeans::Never, None);
    add("messages.completed", "messages", NullMeans::Never, counter(Counter::Completed));
    add("messages.dead_lettered", "messages", NullMeans::Never, counter(Counter::DeadLettered));
    for r in DeadLetterReason::ALL {
        let name = format!("messages.dead_lettered.by_reason.{}", r.as_str());
        add(&name, "messages", NullMeans::Never, None);
    }
    add("messages.expired", "messages", NullMeans::Never, counter(Counter::Expired));
    add("messages.lost", "messages", NullMeans::Never, None);
    add("messages.duplicates", "messages", NullMeans::Never, None);
    add("messages.in_flight_at_end", "messages", NullMeans::Never, None);
    add("attempts.total", "attempts", NullMeans::Never, counter(Counter::Attempts));
    add("attempts.first", "attempts", NullMeans::Never, None);
    add("attempts.retries", "attempts", NullMeans::Never, counter(Counter::Retries));
    add("attempts.budget_rejected", "retries", NullMeans::Missing, None);
    add("attempts.redeliveries", "attempts", NullMeans::Never, counter(Counter::Redeliveries));
    for k in FailureKind::ALL {
        add(&format!("attempts.failed.{}", k.as_str()), "attempts", NullMeans::Never, None);
    }
    add("attempts.downstream_calls", "calls", NullMeans::Never, counter(Counter::Calls));
    add("attempts.downstream_calls_failed", "calls", NullMeans::Never, counter(Counter::CallsFailed));
    add("amplification", "attempts/message", NullMeans::Never, None);
    for group in ["latency_ms", "latency_raw_ms", "queue_wait_ms", "attempt_latency_ms", "time_to_dead_letter_ms"] {
        for (field, stat) in PERCENTILE_FIELDS {
            let unit = if field == "count" { "" } else { "ms" };
            let window = (group == "latency_ms").then_some(WindowSource::Latency(stat));
            add(&format!("{group}.{field}"), unit, NullMeans::Never, window);
        }
    }
    add("p_wait", "share", NullMeans::Never, None);
    add("throughput_per_s", "messages/s", NullMeans::Never, None);
    add("duration_s", "s", NullMeans::Never, None);
    add("downstream.capacity_per_s", "requests/s", NullMeans::Never, None);
    add("downstream.peak_offered_per_s", "requests/s", NullMeans::Never, None);
    add("downstream.peak_offered_ratio", "x capacity", NullMeans::Never, None);
    add("downstream.crashes", "crashes", NullMeans::Never, None);
    add("downstream.peak_in_system", "requests", NullMeans::Never, None);
    add("downstream.circuit_breaker_opened", "times", NullMeans::Never, None);
    add("downstream.throttled", "calls", NullMeans::Missing, None);
    add("downstream.circuit_breaker_open_s", "s", NullMeans::Missing, None);
    add("queue.peak_ready", "messages", NullMeans::Never, None);
    add("queue.peak_unacked", "messages", NullMeans::Never, None);
    add("queue.peak_delayed", "messages", NullMeans::Never, None);
    add("queue.pre_fault_backlog", "messages", NullMeans::Missing, None);
    add("producer.blocked_s", "s", NullMeans::Missing, None);
    add("producer.blocks", "times", NullMeans::Missing, None);
    add("producer.max_lag_ms", "ms", NullMeans::Missing, None);
    add("consumers.min", "consumers", NullMeans::Never, None);
    add("consumers.peak", "consumers", NullMeans::Never, None);
    add("consumers.kill_switch_trips", "trips", NullMeans::Missing, None);
    add("consumers.kill_switch_stopped_s", "s", NullMeans::Missing, None);
    add("overload_waves", "waves", NullMeans::Never, None);
    add("failure_episodes", "episodes", NullMeans::Never, None);
    add("failure_episodes_after_faults", "episodes", NullMeans::Never, None);
    add("last_failure_s", "s", NullMeans::NegInfinity, None);
    add("recovery_s", "s", NullMeans::Infinity, None);
    add("ordering.violations", "completions", NullMeans::Missing, None);
    add("ordering.keys_out_of_order", "keys", NullMeans::Missing, None);
    add("ordering.peak_key_backlog", "messages", NullMeans::Missing, None);
    for field in [
        "locks_expired",
        "locks_expired_in_buffer",
        "settles_failed_lock_lost",
        "completed_after_lock_lost",
        "dead_lettered_after_side_effect",
    ] {
        add(&format!("servicebus.{field}"), "messages", NullMeans::Missing, None);
    }
    v
}

/// Every metric, in summary.json order.
pub fn catalog() -> &'static [Metric] {
    static CATALOG: OnceLock<Vec<Metric>> = OnceLock::new();
    CATALOG.get_or_init(build)
}

/// The metric `name`: one of the catalog, or `subscriptions.<subscription>.<metric>` (one subscription's figure
/// in the summary of a scenario with `[[subscriptions]]`; not windowed).
pub fn find(name: &str) -> Option<Metric> {
    if let Some((_, inner)) = in_subscription(name) {
        let m = catalog().iter().find(|m| m.name == inner)?;
        return Some(Metric { name: name.to_string(), window: None, ..m.clone() });
    }
    catalog().iter().find(|m| m.name == name).cloned()
}

/// `subscriptions.<subscription>.<metric>` split into the subscription and the metric.
pub fn in_subscription(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix("subscriptions.")?.split_once('.')
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
    let names = catalog().iter().filter(|m| !windowed || m.window.is_some()).map(|m| m.name.as_str());
    fold(names).join("\n    ")
}

/// Metric names with the leaves of each group folded, in first-seen order: `queue_wait_ms.{count,mean}`, `p_wait`.
pub fn fold<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for name in names {
        let (prefix, leaf) = name.rsplit_once('.').unwrap_or(("", name));
        match groups.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, leaves)) => leaves.push(leaf),
            None => groups.push((prefix, vec![leaf])),
        }
    }
    groups
        .into_iter()
        .map(|(p, leaves)| match (p.is_empty(), leaves.len()) {
            (true, _) => leaves.join(", "),
            (false, 1) => format!("{p}.{}", leaves[0]),
            (false, _) => format!("{p}.{{{}}}", leaves.join(",")),
        })
        .collect()
}

/// What a null value of this metric means, for notes in the gate's output.
pub fn null_note(name: &str) -> &'static str {
    match name {
        "recovery_s" => "null: the backlog never returned to its pre-fault band for 30 s (counts as never)",
        "last_failure_s" => "null: no downstream call failed",
        "queue.pre_fault_backlog" => "null: the scenario has no fault, so there is no pre-fault level",
        _ if is_newer(name) => "null: the summary was written before this metric existed; save a new baseline",
        _ => "null",
    }
}

/// `null_note`, told why this run's value is null where the summary says (`recovery_s` without a fault to recover
/// from, or with one still on at the end).
pub fn null_note_for(name: &str, s: &crate::report::summary::Summary) -> String {
    if let Some(empty) = empty_distribution(name, s) {
        return format!("null: {empty}, so there is no latency to judge");
    }
    if name != "recovery_s" {
        return null_note(name).to_string();
    }
    let never = "(counts as never)";
    match s.faults_end_s {
        Some(end) if end > s.duration_s => {
            format!(
                "null: the last fault, due to end at {end} s, was still on when the run ended at {} s {never}",
                s.duration_s
            )
        }
        Some(_) => null_note(name).to_string(),
        None if !s.faults_not_reached.is_empty() => {
            let late: Vec<String> =
                s.faults_not_reached.iter().map(|f| format!("faults[{}] at {} s", f.index, f.at_s)).collect();
            format!(
                "null: no fault that ends happened ({} due after the run ended at {} s), so there was nothing to \
                 recover from {never}",
                late.join(", "),
                s.duration_s
            )
        }
        None => format!("null: no fault of the scenario ends, so there is nothing to recover from {never}"),
    }
}

/// Why `name` (a statistic other than the count of `latency_ms`, `latency_raw_ms` or `attempt_latency_ms`) has no
/// value in this run although summary.json gives it as 0: nothing was measured. `None` if it was.
pub fn empty_distribution(name: &str, s: &crate::report::summary::Summary) -> Option<&'static str> {
    let (dist, stat) = name.split_once('.')?;
    let (count, why) = match dist {
        "latency_ms" | "latency_raw_ms" => (s.latency_ms.count, "no message completed"),
        "attempt_latency_ms" => (s.attempt_latency_ms.count, "no handler attempt was made"),
        "queue_wait_ms" => (s.queue_wait_ms.as_ref()?.count, "no first handler attempt started"),
        _ => return None,
    };
    (count == 0 && stat != "count").then_some(why)
}

/// A metric's value in a flattened summary (`report::flat`): `Some(None)` is null; `messages.dead_lettered` means
/// its `.total`; a key missing from a by-kind map (`attempts.failed.timeout`) is 0. `None` if the summary has no
/// such field.
pub fn read(flat: &[(String, Value)], name: &str) -> Option<Option<f64>> {
    let total = format!("{name}.total");
    match flat.iter().find(|(k, _)| *k == name || *k == total) {
        Some((_, Value::Null)) => Some(None),
        Some((_, v)) => catalogue::number(v).map(Some),
        None if name.contains(".by_reason.") || name.starts_with("attempts.failed.") => Some(Some(0.0)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_numeric_leaf_of_a_summary_is_in_the_catalog_and_back() {
        let flat_of = |file: &str, sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            let scn = crate::scenario::load_file(std::path::Path::new(file), &sets).unwrap();
            crate::report::flat::flatten(&crate::report::simulate(&scn, 42).unwrap())
        };
        // the storm with every optional feature on, so that its optional fields are written
        let storm = flat_of(
            "scenarios/retry-storm.toml",
            &[
                "retry.budget={ kind = \"grpc\" }",
                "downstream.throttle={}",
                "circuit_breaker={}",
                "kill_switch={}",
                "queue.overflow=\"block\"",
            ],
        );
        let peek_lock = flat_of("scenarios/servicebus-lock-expiry.toml", &[]);
        let keyed = flat_of("scenarios/ordering.toml", &["consumers.ordering=keyed"]);
        for m in catalog() {
            let flat = match &m.name {
                n if n.starts_with("servicebus.") => &peek_lock,
                n if n.starts_with("ordering.") => &keyed,
                _ => &storm,
            };
            assert!(read(flat, &m.name).is_some(), "{} is not in summary.json", m.name);
        }
        // Every number of the summary is a metric, except identifiers and configuration echoes.
        let skip = ["schema_version", "seed", "time_scale", "episode_gap_s", "faults_end_s"];
        let echo = [
            "servicebus.lock_duration_s",
            "servicebus.max_auto_lock_renewal_s",
            "servicebus.max_delivery_count",
            "ordering.keys",
            "ordering.zipf_exponent",
            "ordering.peak_key_backlog_key",
        ];
        for (key, v) in storm.iter().chain(&peek_lock).chain(&keyed) {
            let (skip, echo) = (skip.contains(&key.as_str()), echo.contains(&key.as_str()));
            // the wait for a key is read in the summary, not gated (the latency percentiles gate the run)
            let by_name = key.contains(".by_queue.")
                || key.contains(".dead_lettered_by_servicebus_reason.")
                || key.starts_with("ordering.key_wait_ms.");
            if !(v.is_number() || v.is_null()) || skip || echo || by_name {
                continue;
            }
            let total_of = key.strip_suffix(".total").and_then(find); // `messages.dead_lettered` means its total
            assert!(find(key).or(total_of).is_some(), "summary field {key} is missing from the metric catalog");
        }
        // Directions come from report::metrics, totals included.
        assert_eq!(find("messages.dead_lettered").unwrap().better, Better::Lower);
        assert_eq!(find("messages.completed").unwrap().better, Better::Higher);
    }

    #[test]
    fn reading_totals_nulls_and_missing_map_keys() {
        let flat: Vec<(String, Value)> = [
            ("messages.dead_lettered.total", serde_json::json!(7)),
            ("messages.dead_lettered.by_reason.delivery_limit", serde_json::json!(7)),
            ("attempts.failed.transient", serde_json::json!(3)),
            ("recovery_s", Value::Null),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(read(&flat, "messages.dead_lettered"), Some(Some(7.0)));
        assert_eq!(read(&flat, "messages.dead_lettered.by_reason.delivery_limit"), Some(Some(7.0)));
        assert_eq!(read(&flat, "messages.dead_lettered.by_reason.rejected"), Some(Some(0.0)));
        assert_eq!(read(&flat, "attempts.failed.timeout"), Some(Some(0.0)));
        assert_eq!(read(&flat, "recovery_s"), Some(None));
        assert_eq!(read(&flat, "nothing"), None);
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
