//! The summary's metrics in reading order, each with a label and the direction that is better (lower latency,
//! crashes and dead letters; higher completions and throughput). Retry-storm metrics come first.

use serde::Serialize;
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
    /// Context, not a score (configuration echoes, counts that follow from the load).
    Neither,
}

/// A key (or a `prefix.*` for keys named by the data, like dead-letter reasons), its label and direction.
pub struct Metric {
    pub key: &'static str,
    pub label: &'static str,
    pub better: Better,
}

const fn m(key: &'static str, label: &'static str, better: Better) -> Metric {
    Metric { key, label, better }
}

use Better::{Higher, Lower, Neither};

/// How many entries of `CATALOGUE` are the retry-storm metrics shown first.
pub const STORM_METRICS: usize = 7;

pub const CATALOGUE: &[Metric] = &[
    m("downstream.peak_offered_ratio", "peak offered load / capacity", Lower),
    m("overload_waves", "overload waves", Lower),
    m("recovery_s", "recovery after the faults (s)", Lower),
    m("amplification", "amplification (attempts per message)", Lower),
    m("latency_ms.p99", "p99 latency", Lower),
    m("messages.dead_lettered.total", "dead-lettered", Lower),
    m("messages.lost", "lost", Lower),
    m("downstream.crashes", "downstream crashes", Lower),
    m("failure_episodes", "failure episodes", Lower),
    m("failure_episodes_after_faults", "failure episodes after the faults", Lower),
    m("last_failure_s", "last failed call (s)", Lower),
    m("faults_end_s", "faults end (s)", Neither),
    m("messages.produced", "produced", Neither),
    m("messages.published", "published", Neither),
    m("messages.rejected_at_publish", "refused at publish", Lower),
    m("messages.completed", "completed", Higher),
    m("messages.dead_lettered.by_reason.*", "dead-lettered:", Lower),
    m("messages.dead_lettered.by_queue.*", "dead-lettered to", Lower),
    m("messages.expired", "expired", Lower),
    m("messages.duplicates", "duplicate side effects", Lower),
    m("messages.in_flight_at_end", "in flight at the end", Lower),
    m("messages.accounted", "every message accounted for", Higher),
    m("attempts.total", "handler attempts", Lower),
    m("attempts.first", "first attempts", Neither),
    m("attempts.retries", "in-memory retries", Lower),
    m("attempts.budget_rejected", "retries refused by the retry budget", Neither),
    m("attempts.redeliveries", "redeliveries", Lower),
    m("attempts.failed.*", "failed attempts:", Lower),
    m("attempts.downstream_calls", "downstream calls", Lower),
    m("attempts.downstream_calls_failed", "downstream calls failed", Lower),
    m("throughput_per_s", "throughput (completed/s)", Higher),
    m("duration_s", "duration (s)", Lower),
    m("stopped_by_duration_limit", "stopped by the duration limit", Lower),
    m("latency_ms.count", "latency: messages measured", Higher),
    m("latency_ms.mean", "mean latency", Lower),
    m("latency_ms.p50", "p50 latency", Lower),
    m("latency_ms.p90", "p90 latency", Lower),
    m("latency_ms.p999", "p99.9 latency", Lower),
    m("latency_ms.max", "max latency", Lower),
    m("latency_raw_ms.count", "raw latency: messages measured", Higher),
    m("latency_raw_ms.*", "raw latency (from actual publish):", Lower),
    m("queue_wait_ms.count", "queue wait: first attempts measured", Higher),
    m("queue_wait_ms.*", "queue wait (publish to first handler start):", Lower),
    m("p_wait", "P(wait): first attempts that waited over 1 ms", Lower),
    m("attempt_latency_ms.count", "attempt latency: attempts measured", Lower),
    m("attempt_latency_ms.*", "attempt latency:", Lower),
    m("time_to_dead_letter_ms.*", "time to dead letter:", Neither),
    m("downstream.capacity_per_s", "downstream capacity (/s)", Neither),
    m("downstream.peak_offered_per_s", "peak offered calls (/s)", Lower),
    m("downstream.peak_in_system", "peak requests in the downstream", Lower),
    m("downstream.circuit_breaker_opened", "circuit breaker opened", Neither),
    m("downstream.throttled", "calls throttled locally", Neither),
    m("downstream.circuit_breaker_open_s", "circuit breaker open (s)", Neither),
    m("queue.peak_ready", "peak ready", Lower),
    m("queue.peak_unacked", "peak unacked", Lower),
    m("queue.peak_delayed", "peak delayed", Lower),
    m("queue.pre_fault_backlog", "backlog before the faults", Neither),
    m("producer.blocked_s", "producer blocked by a full queue (s)", Lower),
    m("producer.blocks", "producer blocked by a full queue (times)", Lower),
    m("producer.max_lag_ms", "producer's largest lag behind schedule (ms)", Lower),
    m("consumers.min", "consumers (min)", Neither),
    m("consumers.peak", "consumers (peak)", Neither),
    m("consumers.kill_switch_trips", "kill switch trips", Neither),
    m("consumers.kill_switch_stopped_s", "consumers stopped by the kill switch (s)", Neither),
    m("ordering.violations", "ordering violations", Lower),
    m("ordering.keys_out_of_order", "keys out of order", Lower),
    m("ordering.peak_key_backlog", "peak key backlog (per-key lag)", Lower),
    m("ordering.peak_key_backlog_key", "key of the peak key backlog", Neither),
    m("ordering.key_wait_ms.count", "waits for a key", Neither),
    m("ordering.key_wait_ms.*", "wait for the key:", Lower),
    m("ordering.keys", "message keys", Neither),
    m("ordering.distribution", "key distribution", Neither),
    m("ordering.zipf_exponent", "Zipf exponent", Neither),
    m("ordering.mode", "consumers' ordering", Neither),
    m("servicebus.locks_expired", "Service Bus: locks expired", Lower),
    m("servicebus.locks_expired_in_buffer", "Service Bus: locks expired in the prefetch buffer", Lower),
    m("servicebus.settles_failed_lock_lost", "Service Bus: settles failed (lock lost)", Lower),
    m("servicebus.completed_after_lock_lost", "Service Bus: handled, lock already lost", Lower),
    m("servicebus.dead_lettered_after_side_effect", "Service Bus: dead-lettered after the side effect", Lower),
    m("servicebus.dead_lettered_by_servicebus_reason.*", "Service Bus: dead-lettered", Lower),
    m("servicebus.lock_duration_s", "Service Bus: lock duration (s)", Neither),
    m("servicebus.max_auto_lock_renewal_s", "Service Bus: lock renewal up to (s)", Neither),
    m("servicebus.max_delivery_count", "Service Bus: max delivery count", Neither),
    m("servicebus.dead_lettering_on_message_expiration", "Service Bus: dead-letter expired messages", Neither),
    m("servicebus.dead_letter_queue", "Service Bus: dead-letter queue", Neither),
];

/// Keys that identify a run rather than measure it (shown in headers and warnings, not in metric tables).
pub const IDENTITY: &[&str] =
    &["schema_version", "scenario.name", "scenario.hash", "seed", "broker", "clock", "time_scale", "episode_gap_s"];

fn matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => pattern == key,
    }
}

/// The catalogue entry of a key, if any.
pub fn lookup(key: &str) -> Option<&'static Metric> {
    CATALOGUE.iter().find(|m| m.key == key).or_else(|| CATALOGUE.iter().find(|m| matches(m.key, key)))
}

pub fn better(key: &str) -> Better {
    lookup(key).map_or(Neither, |m| m.better)
}

/// A label for the key: the catalogue's, completed with the data's own name for `prefix.*` keys.
pub fn label(key: &str) -> String {
    match lookup(key) {
        Some(m) if m.key.ends_with('*') => {
            format!("{} {}", m.label, key.strip_prefix(m.key.trim_end_matches('*')).unwrap_or(key))
        }
        Some(m) => m.label.to_string(),
        None => key.to_string(),
    }
}

/// The metrics of a flattened summary in catalogue order; keys the catalogue does not know come last, in key
/// order. Identity keys are left out.
pub fn ordered(flat: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut used = vec![false; flat.len()];
    let mut out = Vec::with_capacity(flat.len());
    for (i, (k, _)) in flat.iter().enumerate() {
        if IDENTITY.contains(&k.as_str()) {
            used[i] = true;
        }
    }
    for metric in CATALOGUE {
        for (i, (k, v)) in flat.iter().enumerate() {
            if !used[i] && matches(metric.key, k) && lookup(k).is_some_and(|l| std::ptr::eq(l, metric)) {
                used[i] = true;
                out.push((k.clone(), v.clone()));
            }
        }
    }
    out.extend(flat.iter().zip(&used).filter(|(_, u)| !**u).map(|(kv, _)| kv.clone()));
    out
}

/// A value as a number for comparison: booleans are 1/0, null is `None`.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Better,
    Worse,
    Same,
    /// The metric has no better direction, or the values cannot be compared.
    Unrated,
}

/// Judges `value` against `base`. A null under `Lower` (recovery that never came) counts as infinitely high.
pub fn verdict(better: Better, base: &Value, value: &Value) -> Verdict {
    let rank = |v: &Value| match (number(v), v) {
        (Some(x), _) => Some(x),
        (None, Value::Null) if better == Lower => Some(f64::INFINITY),
        _ => None,
    };
    let (Some(a), Some(b)) = (rank(base), rank(value)) else { return Verdict::Unrated };
    match (a.partial_cmp(&b), better) {
        (Some(Ordering::Equal), _) => Verdict::Same,
        (_, Neither) | (None, _) => Verdict::Unrated,
        (Some(Ordering::Greater), Lower) | (Some(Ordering::Less), Higher) => Verdict::Better,
        _ => Verdict::Worse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn directions_and_verdicts() {
        assert_eq!(better("latency_ms.p99"), Lower);
        assert_eq!(better("messages.completed"), Higher);
        assert_eq!(better("messages.dead_lettered.by_reason.retries_exhausted"), Lower);
        assert_eq!(label("attempts.failed.timeout"), "failed attempts: timeout");
        assert_eq!(verdict(Lower, &json!(10), &json!(5)), Verdict::Better);
        assert_eq!(verdict(Higher, &json!(10), &json!(5)), Verdict::Worse);
        assert_eq!(verdict(Lower, &json!(null), &json!(300.0)), Verdict::Better);
        assert_eq!(verdict(Lower, &json!(300.0), &json!(null)), Verdict::Worse);
        assert_eq!(verdict(Neither, &json!(1), &json!(2)), Verdict::Unrated);
        assert_eq!(verdict(Higher, &json!(true), &json!(false)), Verdict::Worse);
    }

    #[test]
    fn storm_metrics_lead_and_identity_is_left_out() {
        let flat: Vec<(String, Value)> = [
            ("seed", json!(1)),
            ("zzz_new", json!(3)),
            ("messages.lost", json!(0)),
            ("downstream.peak_offered_ratio", json!(5.1)),
            ("latency_ms.p50", json!(2)),
            ("latency_ms.p99", json!(9)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let keys: Vec<String> = ordered(&flat).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["downstream.peak_offered_ratio", "latency_ms.p99", "messages.lost", "latency_ms.p50", "zzz_new"]
        );
    }
}
