//! `summary.json`: the contract between a run and everything that reads it later (compare, gate, charts).
//! Field order is fixed by these structs; maps are BTreeMaps; nothing here depends on the wall clock, so the
//! same scenario and seed give a byte-identical file.

use crate::record::episodes::Episode;
use crate::record::Recorded;
use crate::scenario::{FailureKind, Scenario};
use crate::sim::Outcome;
use crate::time::NS_PER_SEC;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

/// Episodes listed in full up to this many; the counts always cover all of them.
const MAX_LISTED_EPISODES: usize = 100;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: ScenarioId,
    pub seed: u64,
    pub broker: String,
    pub clock: String,
    pub time_scale: f64,
    pub messages: Messages,
    pub attempts: Attempts,
    /// Handler attempts per published message.
    pub amplification: f64,
    /// End-to-end latency of completed messages from their intended publish time (corrected for coordinated omission).
    pub latency_ms: Percentiles,
    /// The same from the actual publish time (raw). Equal to `latency_ms` when the producer never lagged.
    pub latency_raw_ms: Percentiles,
    /// From the actual publish to the start of the message's first handler attempt: the time it waited for a free
    /// handler (in the queue and in a consumer's prefetch buffer). Always written; `None` only when read from a
    /// summary written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_ms: Option<Percentiles>,
    /// Share of first attempts that waited longer than 1 ms (`record::WAIT_EPSILON_NS`): in an M/M/c steady state,
    /// Erlang C's P(wait). Always written, like `queue_wait_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_wait: Option<f64>,
    /// One handler attempt, local work plus downstream call.
    pub attempt_latency_ms: Percentiles,
    /// From intended publish time until the message reached a dead-letter queue.
    pub time_to_dead_letter_ms: Percentiles,
    /// Completed messages per second of run time.
    pub throughput_per_s: f64,
    /// Scenario time from start to the last outcome (or to the duration limit).
    pub duration_s: f64,
    pub stopped_by_duration_limit: bool,
    /// Only when a `[limits]` bound or a signal stopped the run early: which, and why. The run exits 3 (a limit) or
    /// 128 + the signal; everything up to then is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<StoppedBy>,
    /// Only when the run's figures would mislead without them: sentences the terminal and the HTML page print as
    /// warnings (a run that published or completed nothing: its latency figures are 0 because nothing was measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub downstream: DownstreamStats,
    pub queue: QueueStats,
    /// Only with `queue.overflow = "block"` or a `broker.confirm_latency`: how the broker held the producer back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerStats>,
    pub consumers: ConsumerStats,
    /// Separate periods in which offered load exceeded the downstream's nominal capacity.
    pub overload_waves: u64,
    /// Separate periods with failed downstream calls (merged across gaps shorter than `episode_gap_s`).
    pub failure_episodes: u64,
    /// Failure episodes that still had failures after the last fault ended.
    pub failure_episodes_after_faults: u64,
    pub episode_gap_s: f64,
    /// Scenario time of the last failed downstream call; null if none failed.
    pub last_failure_s: Option<f64>,
    /// When the last fault ended; null without faults that end.
    pub faults_end_s: Option<f64>,
    /// From the end of the last fault until the backlog is back within its pre-fault band and stays there for 30 s
    /// (`record::episodes::Recovery`); null if never.
    pub recovery_s: Option<f64>,
    /// Only when some `[[faults]]` start at or after the run's end: they never happened, so they are left out of
    /// `faults_end_s` and `recovery_s`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults_not_reached: Vec<FaultNotReached>,
    pub episodes: EpisodeLists,
    /// Only with `producers.keys`: the keys, the consumers' ordering mode, ordering violations and per-key lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering: Option<OrderingStats>,
    /// Only under Service Bus semantics: the peek-lock settings and what the locks did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servicebus: Option<PeekLockStats>,
    /// Only for runs on a real broker: the broker, the publishing and consuming figures, outages, and the
    /// reconciliation of every message. Absent on the embedded broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_broker: Option<crate::broker::real::RealReport>,
    /// Only in the `summary.json` of a repeat folder (`loadtest run --repeat N`), whose every metric is a median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<super::repeats::Repeats>,
    /// Only in the `summary.json` of a scenario with `[[subscriptions]]`: each subscription's own summary (its
    /// folder `subscriptions/<name>/` has the same file). The fields above are then the run as a whole
    /// (`report::pubsub`): counts summed over the subscriptions, every other figure the worst subscription's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscriptions: BTreeMap<String, Summary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeekLockStats {
    pub lock_duration_s: f64,
    pub max_auto_lock_renewal_s: f64,
    pub max_delivery_count: u32,
    pub dead_lettering_on_message_expiration: bool,
    /// Locks that ran out while a consumer held the message: the broker made it available again.
    pub locks_expired: u64,
    /// Handlers that started on a message whose lock had already run out in the prefetch buffer.
    pub locks_expired_in_buffer: u64,
    /// Completes, abandons, redeliveries and dead-letters that failed with MessageLockLost.
    pub settles_failed_lock_lost: u64,
    /// Of those, completes of a successful handler: the side effect happened and the message came back anyway.
    pub completed_after_lock_lost: u64,
    /// Messages dead-lettered although a handler had already done their side effect.
    pub dead_lettered_after_side_effect: u64,
    /// Where Service Bus itself dead-letters (`<queue>/$DeadLetterQueue`).
    pub dead_letter_queue: String,
    /// Broker-decided dead letters by Service Bus's DeadLetterReason.
    pub dead_lettered_by_servicebus_reason: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderingStats {
    /// `producers.keys`.
    pub keys: u64,
    /// `uniform` or `zipf`.
    pub distribution: String,
    /// Only with a Zipf distribution: its exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipf_exponent: Option<f64>,
    /// `competing` or `keyed` (`consumers.ordering`).
    pub mode: String,
    /// Completions of a message after a later message of the same key had completed.
    pub violations: u64,
    /// Keys with at least one violation.
    pub keys_out_of_order: u64,
    /// The per-key lag: the largest number of one key's messages published and not yet finished at any moment.
    pub peak_key_backlog: u64,
    /// The key that had it (the first to reach it).
    pub peak_key_backlog_key: u32,
    /// Only for keyed consumers: from delivery to the consumer until the handler started, waiting for the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_wait_ms: Option<Percentiles>,
}

fn ordering_stats(scn: &Scenario, f: &crate::record::ordering::OrderingFigures) -> OrderingStats {
    let p = &scn.producers;
    let zipf_exponent = match p.key_distribution {
        crate::scenario::KeyDistribution::Zipf(s) => Some(s),
        crate::scenario::KeyDistribution::Uniform => None,
    };
    let keyed = scn.consumers.ordering == crate::scenario::KeyOrdering::Keyed;
    OrderingStats {
        keys: p.keys.unwrap_or(0),
        distribution: if zipf_exponent.is_some() { "zipf" } else { "uniform" }.to_string(),
        zipf_exponent,
        mode: scn.consumers.ordering.as_str().to_string(),
        violations: f.violations,
        keys_out_of_order: f.keys_out_of_order,
        peak_key_backlog: f.peak_key_backlog,
        peak_key_backlog_key: f.peak_key_backlog_key,
        key_wait_ms: keyed.then(|| percentiles(&f.key_wait)),
    }
}

/// A fault of the scenario that the run ended before.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultNotReached {
    /// Its position in `[[faults]]` (0-based).
    pub index: usize,
    pub kind: String,
    /// When it was due to start.
    pub at_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioId {
    pub name: String,
    /// sha256 of the resolved scenario (`scenario.toml` in the report folder).
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Messages {
    /// Messages the producers tried to publish.
    pub produced: u64,
    /// Accepted by the broker.
    pub published: u64,
    /// Refused by the broker (max-length with reject-publish).
    pub rejected_at_publish: u64,
    pub completed: u64,
    pub dead_lettered: DeadLettered,
    pub expired: u64,
    /// Published and neither finished nor still held by the broker at the end.
    pub lost: u64,
    /// Messages whose side effect (successful downstream call) happened more than once, counted per extra time.
    pub duplicates: u64,
    /// Still in the broker (ready, unacked or delayed) when the run ended.
    pub in_flight_at_end: u64,
    /// published == completed + dead_lettered + expired + lost + in_flight_at_end.
    pub accounted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLettered {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub by_queue: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempts {
    pub total: u64,
    pub first: u64,
    pub retries: u64,
    /// Only with a `[retry.budget]`: retries the budget refused (the message took the exhausted policy's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_rejected: Option<u64>,
    pub redeliveries: u64,
    /// Failed attempts by failure kind.
    pub failed: BTreeMap<String, u64>,
    /// Calls made to the downstream (refused ones included).
    pub downstream_calls: u64,
    /// Calls that failed for overload or unavailability (errors, refusals, resets, timeouts).
    pub downstream_calls_failed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownstreamStats {
    /// Servers / mean service time, requests per second; 0 without a downstream.
    pub capacity_per_s: f64,
    /// Highest number of calls offered in one second.
    pub peak_offered_per_s: u64,
    /// `peak_offered_per_s / capacity_per_s`.
    pub peak_offered_ratio: f64,
    pub crashes: u64,
    pub peak_in_system: u64,
    pub circuit_breaker_opened: u64,
    /// Only with a `[circuit_breaker]`: time the breakers spent open or half-open, summed over the breakers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker_open_s: Option<f64>,
    /// Only with `[downstream.throttle]`: calls adaptive throttling rejected locally (never sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    pub peak_ready: u64,
    pub peak_unacked: u64,
    pub peak_delayed: u64,
    /// Highest backlog (ready + unacked + delayed) in the 30 s before the first fault: the recovery band's base.
    pub pre_fault_backlog: Option<u64>,
}

/// The producer against an embedded broker that pushes back (`queue.overflow = "block"`, `broker.confirm_latency`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducerStats {
    /// Time the producer had a due message it could not publish (the queue full, or the confirm window).
    pub blocked_s: f64,
    /// How often a due publish found the broker pushing back and waited.
    pub blocks: u64,
    /// The furthest a publish went out behind its intended time (what `latency_ms` counts and `latency_raw_ms`
    /// does not).
    pub max_lag_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsumerStats {
    pub min: u64,
    pub peak: u64,
    /// Only with a `[kill_switch]`: how often it stopped the consumers, and the time they spent stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_switch_trips: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_switch_stopped_s: Option<f64>,
    /// Only with `[autoscale]`: the autoscaler's decisions that added replicas, and that drained some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_ups: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_downs: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeLists {
    pub failures: Vec<Episode>,
    pub overload: Vec<Episode>,
}

fn peek_lock_stats(scn: &Scenario, p: crate::scenario::PeekLock, r: &Recorded) -> PeekLockStats {
    let c = &r.peek_lock;
    let by_reason = crate::broker::DeadLetterReason::ALL
        .iter()
        .filter_map(|k| Some((k.servicebus_name()?, r.dead_lettered.get(k.as_str()).copied()?)))
        .map(|(name, n)| (name.to_string(), n))
        .collect();
    PeekLockStats {
        lock_duration_s: round(p.lock as f64 / NS_PER_SEC as f64, 3),
        max_auto_lock_renewal_s: round(p.renew_for as f64 / NS_PER_SEC as f64, 3),
        max_delivery_count: scn.queue.max_delivery_count.unwrap_or(0),
        dead_lettering_on_message_expiration: p.dead_letter_expired,
        locks_expired: c.expired,
        locks_expired_in_buffer: c.expired_in_buffer,
        settles_failed_lock_lost: c.settle_failed,
        completed_after_lock_lost: c.completed_unsettled,
        dead_lettered_after_side_effect: c.dead_lettered_after_effect,
        dead_letter_queue: format!("{}/$DeadLetterQueue", scn.queue.name),
        dead_lettered_by_servicebus_reason: by_reason,
    }
}

/// The embedded broker can hold the producer back: a blocking full queue, or confirms that take time.
fn producer_can_block(scn: &Scenario) -> bool {
    let confirms = !scn.broker.confirm_latency.is_zero() && scn.producers.confirm_window > 0;
    scn.queue.overflow == crate::scenario::Overflow::Block || confirms
}

/// `v` rounded to `places` decimals, as every figure in summary.json is.
pub fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

/// Percentiles of a microsecond histogram, in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let ms = |us: u64| round(us as f64 / 1000.0, 3);
    Percentiles {
        count: h.len(),
        mean: round(h.mean() / 1000.0, 3),
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

impl Summary {
    pub fn build(scn: &Scenario, hash: &str, seed: u64, o: &Outcome) -> Summary {
        let r: &Recorded = &o.recorded;
        let dead_total: u64 = r.dead_lettered.values().sum();
        let finished = r.completed + dead_total + r.expired;
        // A real broker reconciled every message itself: held in a queue at the end, lost, never accepted, or
        // taken by someone else's consumers (produce-only). The embedded broker's books are exact by construction.
        let (published, in_flight, lost, elsewhere) = match &o.real {
            Some(real) => {
                let l = &real.ledger;
                (r.published.saturating_sub(l.unconfirmed_unseen), l.held_at_end, l.lost, l.consumed_elsewhere)
            }
            None => {
                let in_flight = o.depths.held();
                (r.published, in_flight, r.published.saturating_sub(finished + in_flight), 0)
            }
        };
        let accounted = published == finished + lost + in_flight + elsewhere;
        let peek_lock = scn.peek_lock().map(|p| peek_lock_stats(scn, p, r));
        // Service Bus dead-letters into the queue's own subqueue; MassTransit's faults still go to `_error`.
        let broker_dead = peek_lock.as_ref().map_or(0, |p| p.dead_lettered_by_servicebus_reason.values().sum());
        let mut by_queue = BTreeMap::new();
        if let Some(p) = peek_lock.as_ref().filter(|_| broker_dead > 0) {
            by_queue.insert(p.dead_letter_queue.clone(), broker_dead);
        }
        if dead_total > r.dead_skipped + broker_dead {
            by_queue.insert(scn.queue.error_queue(), dead_total - r.dead_skipped - broker_dead);
        }
        if r.dead_skipped > 0 {
            by_queue.insert(scn.queue.skipped_queue(), r.dead_skipped);
        }
        let failed = FailureKind::ALL
            .iter()
            .filter(|k| r.failures[k.index()] > 0)
            .map(|k| (k.as_str().to_string(), r.failures[k.index()]))
            .collect();
        let total_attempts: u64 = r.attempts.iter().sum();
        let secs = |ns: u64| round(ns as f64 / NS_PER_SEC as f64, 3);
        let duration_s = secs(o.end);
        let capacity = scn.downstream.as_ref().map_or(0.0, |d| d.capacity_per_s());
        // A fault happened if it started before the run ended (one cut short by the end counts).
        let (reached, not_reached): (Vec<_>, Vec<_>) =
            scn.faults.iter().enumerate().partition(|(_, f)| f.at().ns() < o.end);
        let faults_end = reached.iter().filter_map(|(_, f)| f.end()).max().map(|d| d.secs_f64());
        let faults_not_reached = not_reached
            .iter()
            .map(|(i, f)| FaultNotReached { index: *i, kind: f.label().to_string(), at_s: round(f.at().secs_f64(), 3) })
            .collect();
        let after_faults = match faults_end {
            Some(end) => r.failure_episodes.iter().filter(|e| e.end_s as f64 > end).count() as u64,
            None => 0,
        };
        let list = |v: &[Episode]| v.iter().take(MAX_LISTED_EPISODES).copied().collect();
        let mut notes = Vec::new();
        if published == 0 {
            let why = if r.produced > r.refused || r.produced == 0 {
                format!("none was due before the run ended at {duration_s} s")
            } else {
                format!("the broker refused all {} publishes", r.refused)
            };
            notes.push(format!(
                "nothing was published (0 of {} messages): {why}; no latency was measured",
                scn.messages
            ));
        } else if r.completed == 0 {
            notes.push(format!("no message completed (0 of {published} published); no latency was measured"));
        }
        Summary {
            schema_version: SCHEMA_VERSION,
            scenario: ScenarioId { name: scn.name.clone(), hash: hash.to_string() },
            seed,
            broker: format!("{:?}", scn.broker.kind).to_lowercase(),
            clock: format!("{:?}", scn.broker.clock).to_lowercase(),
            time_scale: scn.broker.time_scale,
            messages: Messages {
                produced: r.produced,
                published,
                rejected_at_publish: r.refused,
                completed: r.completed,
                dead_lettered: DeadLettered {
                    total: dead_total,
                    by_reason: r.dead_lettered.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    by_queue,
                },
                expired: r.expired,
                lost,
                duplicates: r.ledger.duplicate_effects,
                in_flight_at_end: in_flight,
                accounted,
            },
            attempts: Attempts {
                total: total_attempts,
                first: r.attempts[0],
                retries: r.attempts[1..5].iter().sum(),
                budget_rejected: scn.retry.budget.as_ref().map(|_| r.budget_rejected),
                redeliveries: r.attempts[5],
                failed,
                downstream_calls: r.calls,
                downstream_calls_failed: r.calls_failed,
            },
            amplification: if published > 0 { round(total_attempts as f64 / published as f64, 4) } else { 0.0 },
            latency_ms: percentiles(&r.latency),
            latency_raw_ms: percentiles(&r.latency_raw),
            queue_wait_ms: Some(percentiles(&r.queue_wait)),
            p_wait: Some(if r.queue_wait.is_empty() {
                0.0
            } else {
                round(r.waited as f64 / r.queue_wait.len() as f64, 4)
            }),
            attempt_latency_ms: percentiles(&r.attempt_latency),
            time_to_dead_letter_ms: percentiles(&r.dead_letter_time),
            throughput_per_s: if duration_s > 0.0 { round(r.completed as f64 / duration_s, 3) } else { 0.0 },
            duration_s,
            stopped_by_duration_limit: o.stopped_by_limit,
            stopped_by: StoppedBy::of(o),
            notes,
            downstream: DownstreamStats {
                capacity_per_s: round(capacity, 3),
                peak_offered_per_s: r.peak_offered_per_s,
                peak_offered_ratio: if capacity > 0.0 { round(r.peak_offered_per_s as f64 / capacity, 4) } else { 0.0 },
                crashes: o.downstream_crashes,
                peak_in_system: o.downstream_peak_in_system,
                circuit_breaker_opened: r.breaker_opened,
                circuit_breaker_open_s: scn.circuit_breaker.as_ref().map(|_| secs(r.breaker_open_ns)),
                throttled: scn
                    .downstream
                    .as_ref()
                    .and_then(|d| d.throttle.as_ref())
                    .map(|_| r.failures[FailureKind::Throttled.index()]),
            },
            queue: QueueStats {
                peak_ready: r.peak_ready,
                peak_unacked: r.peak_unacked,
                peak_delayed: r.peak_delayed,
                pre_fault_backlog: r.pre_fault_backlog,
            },
            producer: producer_can_block(scn).then(|| ProducerStats {
                blocked_s: secs(r.producer_blocked_ns),
                blocks: r.producer_blocks,
                max_lag_ms: round(r.max_publish_lag_ns as f64 / 1e6, 3),
            }),
            consumers: ConsumerStats {
                min: r.min_consumers,
                peak: r.peak_consumers,
                kill_switch_trips: scn.kill_switch.as_ref().map(|_| r.kill_switch_trips),
                kill_switch_stopped_s: scn.kill_switch.as_ref().map(|_| secs(r.kill_switch_stopped_ns)),
                scale_ups: scn.autoscale.as_ref().map(|_| r.scale_ups),
                scale_downs: scn.autoscale.as_ref().map(|_| r.scale_downs),
            },
            overload_waves: r.waves.len() as u64,
            failure_episodes: r.failure_episodes.len() as u64,
            failure_episodes_after_faults: after_faults,
            episode_gap_s: scn.report.episode_gap.secs_f64(),
            last_failure_s: r.last_failure.map(secs),
            faults_end_s: faults_end,
            recovery_s: r.recovery_s,
            faults_not_reached,
            episodes: EpisodeLists { failures: list(&r.failure_episodes), overload: list(&r.waves) },
            ordering: r.ordering.as_ref().map(|f| ordering_stats(scn, f)),
            servicebus: peek_lock,
            real_broker: o.real.clone().map(|mut real| {
                real.ledger.finished_again = r.ledger.refinished;
                real
            }),
            repeats: None,
            subscriptions: BTreeMap::new(),
        }
    }

    /// What the terminal and the HTML page warn about: results that would otherwise mislead.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = self.notes.clone();
        for f in &self.faults_not_reached {
            out.push(format!(
                "faults[{}] ({} at {} s) never happened: the run ended at {} s, before it was due; it is left out of \
                 the fault end and the recovery",
                f.index, f.kind, f.at_s, self.duration_s
            ));
        }
        out
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// What stopped a run early: a `[limits]` key or a signal, with the sentence the terminal printed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoppedBy {
    /// `limits.max_events`, `limits.stalled_events`, `limits.max_scenario_time`, `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub cause: String,
    pub message: String,
}

impl StoppedBy {
    fn of(o: &crate::sim::Outcome) -> Option<StoppedBy> {
        if let Some(hit) = &o.limit {
            return Some(StoppedBy { cause: hit.key().to_string(), message: hit.explain() });
        }
        let name = crate::broker::real::signal_name(o.signal?);
        let at = o.end as f64 / 1e9;
        let message =
            format!("interrupted by {name} at {at:.3} s of scenario time; the report covers the run up to then");
        Some(StoppedBy { cause: name.to_string(), message })
    }
}
