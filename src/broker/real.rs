//! What a real broker adds to the `Broker` seam: a wall clock, asynchronous events the engine waits for, publish
//! back-pressure, and, at the end, a reconciliation report (`real_broker` in summary.json).

use super::BrokerEvent;
use crate::report::summary::Percentiles;
use crate::time::Nanos;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Scenario time on the wall clock: `time_scale` scenario seconds per wall second since `start`.
#[derive(Clone, Copy, Debug)]
pub struct RealClock {
    start: Instant,
    scale: f64,
}

impl RealClock {
    pub fn start(time_scale: f64) -> RealClock {
        RealClock { start: Instant::now(), scale: if time_scale > 0.0 { time_scale } else { 1.0 } }
    }
    /// Scenario time now.
    pub fn now(&self) -> Nanos {
        self.at(Instant::now())
    }
    /// The wall-clock instant at which scenario time 0 was.
    pub fn origin(&self) -> Instant {
        self.start
    }
    /// Scenario time at a wall-clock instant.
    pub fn at(&self, t: Instant) -> Nanos {
        let wall = t.saturating_duration_since(self.start).as_nanos() as f64;
        (wall * self.scale).min(u64::MAX as f64) as Nanos
    }
    /// The wall-clock instant at which scenario time `t` is due.
    pub fn instant(&self, t: Nanos) -> Instant {
        let wall =
            Duration::try_from_secs_f64(t as f64 / 1e9 / self.scale).unwrap_or(Duration::from_secs(86_400 * 365));
        self.start.checked_add(wall).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
    }
    /// A scenario span as wall time.
    pub fn wall(&self, span: Nanos) -> Duration {
        Duration::try_from_secs_f64(span as f64 / 1e9 / self.scale).unwrap_or(Duration::MAX)
    }
    /// A wall span in scenario nanoseconds.
    pub fn span(&self, wall: Duration) -> Nanos {
        (wall.as_nanos() as f64 * self.scale).min(u64::MAX as f64) as Nanos
    }
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

/// Why a run on a real broker ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Every message has an outcome.
    Completed,
    /// The scenario's `duration` ran out.
    DurationLimit,
    /// Every message was published, and nothing happened for `broker.drain_timeout`.
    DrainTimeout,
    /// SIGINT or SIGTERM.
    Interrupted(i32),
    /// A `[limits]` bound stopped the run (its message says which).
    Limit(String),
    /// The broker made the run impossible (the queue was deleted, the connection could not be restored).
    Fatal(String),
}

impl EndReason {
    pub fn describe(&self) -> String {
        match self {
            EndReason::Completed => "completed".into(),
            EndReason::DurationLimit => "duration limit".into(),
            EndReason::DrainTimeout => "drain timeout (nothing happened for broker.drain_timeout)".into(),
            EndReason::Interrupted(sig) => format!("interrupted ({})", signal_name(*sig)),
            EndReason::Limit(why) => format!("limit: {why}"),
            EndReason::Fatal(why) => format!("failed: {why}"),
        }
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// A broker that runs on the wall clock and answers asynchronously.
pub trait RealBroker {
    fn clock(&self) -> RealClock;
    /// Waits until scenario time `deadline` at most for broker events and pushes those that arrived (at once if
    /// some are queued already).
    fn wait(&mut self, deadline: Nanos, out: &mut Vec<BrokerEvent>);
    /// Whether a publish now would be sent without waiting: false while the confirm window is full or the broker
    /// blocks the connection (the producer then lags behind its intended times).
    fn can_publish(&self) -> bool;
    /// Nothing outstanding that could still produce an event: no unconfirmed publish, no delayed copy not yet back.
    fn quiet(&self) -> bool;
    /// A delayed copy is due later, or came due less than `grace` (wall clock) ago: the run must wait for it, however
    /// long nothing else happens.
    fn expecting_more(&self, grace: std::time::Duration) -> bool;
    /// Produce-only mode: the queue the user's consumers drain is empty now.
    fn drained(&self) -> bool;
    /// A condition that ends the run (the queue was deleted under it, the connection cannot be restored).
    fn fatal(&self) -> Option<String>;
    /// Called once after the loop: stops consuming, reconciles every message, removes the run's topology (unless
    /// asked to keep it) and reports. `finished(id)` says whether the engine recorded an outcome for message `id`.
    fn finish(&mut self, ended: &EndReason, produced: u64, finished: &dyn Fn(u64) -> bool) -> RealReport;
}

/// `real_broker` in summary.json: how the run met the real broker, and the reconciliation of every message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RealReport {
    pub kind: String,
    /// The URL without its password.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub vhost: String,
    pub tls: bool,
    /// Product and version the broker announced, e.g. "RabbitMQ 3.10.8".
    pub server: String,
    pub queue_type: String,
    pub run_id: String,
    /// Queues (and exchanges) the run used, with the work queue first.
    pub topology: Vec<String>,
    /// The run's topology was left in place (`--keep-topology`, or a reused queue).
    pub topology_kept: bool,
    pub ended_by: String,
    /// How to read latencies taken on a scaled clock.
    pub time_scale_note: String,
    /// Where each queue-depth figure in the time series comes from.
    pub depth_sources: Vec<String>,
    pub publishing: Publishing,
    pub consuming: Consuming,
    /// Connection outages (the broker or network closed a connection; the run reconnected or gave up).
    pub outages: Vec<Interval>,
    pub ledger: Reconciliation,
    /// From a delivery reaching the client library to the engine handling it (the bridge's hand-off), wall-clock us.
    pub handoff_us: Percentiles,
    /// Delayed redelivery, per delay queue: how long after their due time the copies reached a consumer again.
    pub delays: Vec<DelayStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produce_only: Option<ProduceOnly>,
    /// The fault proxy, when the run's connections went through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyReport>,
    /// Network and broker faults as they happened, and what each cost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultRun>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyReport {
    /// Where the harness's connections went in (loopback), and where the proxy forwarded them.
    pub listen: String,
    pub upstream: String,
    pub connections: u64,
    pub bytes_upstream: u64,
    pub bytes_downstream: u64,
}

/// One network or broker fault of the scenario as it happened on the real broker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRun {
    /// Its place in `[[faults]]`.
    pub index: usize,
    pub kind: String,
    /// When the scenario has it start (scenario seconds).
    pub planned_start_s: f64,
    /// When its first command was issued (broker faults; a CLI call takes seconds).
    pub issued_s: Option<f64>,
    /// When it took effect (its command returned; a toxic's window opened), and when it was undone.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// The commands run, in order, with their outcome and wall-clock time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Publishes handed to the broker and not yet confirmed when it began: their fate was open at the fault.
    pub unconfirmed_at_start: u64,
    /// Nothing of the fault is in force on the broker at the end (the watermark restored, the app started).
    pub restored: bool,
    /// It was still in force when the run ended (early, interrupted, failed) and was undone then.
    pub undone_at_run_end: bool,
    /// A toxic: what it did on the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toxic: Option<crate::proxy::ToxicStats>,
    /// What the window cost, from the run's time series (filled in when the report is written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<FaultCost>,
}

impl FaultRun {
    /// When it acted, in one phrase, from its first command: "5.0-12.6 s (planned 5.0 s)".
    pub fn when(&self) -> String {
        match (self.issued_s.or(self.start_s), self.end_s) {
            (Some(s), Some(e)) if (e - s).abs() < 0.0005 => {
                format!("at {s:.1} s (planned {:.1} s)", self.planned_start_s)
            }
            (Some(s), Some(e)) => format!("{s:.1}-{e:.1} s (planned {:.1} s)", self.planned_start_s),
            (Some(s), None) => format!("from {s:.1} s (planned {:.1} s)", self.planned_start_s),
            _ => format!("never took effect (planned {:.1} s)", self.planned_start_s),
        }
    }
    /// What it cost, in one line.
    pub fn cost_line(&self) -> String {
        let Some(c) = &self.cost else { return String::new() };
        let ms = |v: f64| if v >= 1000.0 { format!("{:.2} s", v / 1000.0) } else { format!("{v:.1} ms") };
        let recovered = match c.recovered_after_s {
            Some(r) => format!("recovered {r:.0} s after"),
            None => "not recovered within the run".to_string(),
        };
        format!(
            "completed {:.0}/s (slowest second {}, {} s with none; before {:.0}/s), p50 {} p99 {} (before {} / {}), \
             failed attempts {}, connections lost {}, blocked {:.1} s, lost {}, {recovered}",
            c.completed_per_s,
            c.completed_per_s_min,
            c.seconds_without_completions,
            c.completed_per_s_before,
            ms(c.latency_ms.p50),
            ms(c.latency_ms.p99),
            ms(c.latency_before_ms.p50),
            ms(c.latency_before_ms.p99),
            c.failed_attempts,
            c.connections_lost,
            c.blocked_s,
            c.lost
        )
    }
}

/// One command a fault ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandRun {
    pub command: String,
    pub ok: bool,
    pub wall_ms: u64,
    /// The CLI's complaint, first line (empty when it succeeded).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// A fault window's cost: what happened from its start to its end, against the seconds before the first fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultCost {
    /// The window (scenario seconds, whole seconds of the time series it covers).
    pub from_s: u64,
    pub to_s: u64,
    pub published: u64,
    pub completed: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    /// Published per second in the window against before the first fault.
    pub published_per_s: f64,
    pub published_per_s_before: f64,
    pub completed_per_s: f64,
    pub completed_per_s_before: f64,
    /// The slowest second of the window, and how many of its seconds completed nothing (an average hides a stall
    /// that the backlog makes up for afterwards).
    pub completed_per_s_min: u64,
    pub seconds_without_completions: u64,
    /// End-to-end latency of the messages completed in the window, and before the first fault.
    pub latency_ms: crate::report::summary::Percentiles,
    pub latency_before_ms: crate::report::summary::Percentiles,
    /// Connection outages and `connection.blocked` time that overlap the window.
    pub connections_lost: u64,
    pub blocked_s: f64,
    /// Lost messages (confirmed, never delivered) published from the previous fault's end to this one's end.
    pub lost: u64,
    /// Seconds after the window until completions per second were back to 90% of the rate before the first
    /// fault (or the backlog had drained); `null` if never within the run.
    pub recovered_after_s: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Publishing {
    pub confirms: bool,
    pub confirm_window: u32,
    pub persistent: bool,
    pub confirmed: u64,
    /// Publishes the broker refused (nack), e.g. a full queue with `reject-publish`.
    pub nacked: u64,
    /// Publishes sent again after a connection loss left their outcome unknown (at-least-once).
    pub republished: u64,
    /// Publishes whose confirm never came (the run ended or the connection died first).
    pub unconfirmed_at_end: u64,
    /// How far the producer fell behind its intended times (confirm window full, connection blocked), ms.
    pub lag_ms: Percentiles,
    /// `connection.blocked` intervals (memory or disk alarm), scenario time.
    pub blocked: Vec<Interval>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Consuming {
    pub deliveries: u64,
    /// Deliveries the broker marked redelivered (requeued, or after a reconnect).
    pub redelivered: u64,
    /// Acks and nacks that arrived after their channel was gone (the broker requeues those messages).
    pub stale_acks: u64,
    /// Unacked messages the broker took back because a channel or connection closed under them.
    pub requeued_by_outages: u64,
    /// Dead-lettered copies of a message already seen in a dead-letter queue (at-least-once showing through).
    pub duplicate_dead_letters: u64,
    /// Messages on the queue that were not published by this run (reused queues), left alone.
    pub foreign: u64,
}

/// An interval of scenario time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interval {
    pub what: String,
    pub start_s: f64,
    /// `null` while it had not ended when the run did.
    pub duration_s: Option<f64>,
}

/// Every message id, reconciled at the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reconciliation {
    /// `by id` (every open message looked up in the queues) or `by count` (queue depths only).
    pub method: String,
    /// Still in the work queue or a delay queue at the end.
    pub held_at_end: u64,
    /// Confirmed by the broker, never finished, and in no queue at the end.
    pub lost: u64,
    /// The first lost message ids (up to 20).
    pub lost_ids: Vec<u64>,
    /// Publishes whose outcome stayed unknown and that never arrived anywhere: not accepted, so not counted published.
    pub unconfirmed_unseen: u64,
    /// Messages the run's own consumers never saw because someone else's took them (produce-only).
    pub consumed_elsewhere: u64,
    /// Second final outcomes for a message already finished (delivered again after it was completed, e.g. after a
    /// reconnect): at-least-once delivery showing through. Each counts once in the outcome totals.
    pub finished_again: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DelayStats {
    pub queue: String,
    /// The queue's TTL, wall-clock ms (the scenario's delay divided by the time scale).
    pub ttl_ms: u64,
    /// Redeliveries that came back through it.
    pub returned: u64,
    /// From the due time until a consumer received the copy again, wall-clock ms: the delay queue's own lateness
    /// plus any wait behind the work queue's backlog (0 when it came early or on time).
    pub late_ms: Percentiles,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProduceOnly {
    /// Messages published per second, from the start to the last publish.
    pub published_per_s: f64,
    /// Highest ready count seen on the queue.
    pub peak_backlog: u64,
    /// From the last publish until the queue was found empty; `null` if it never was.
    pub drain_s: Option<f64>,
    /// Scenario time at which the queue was found empty after the last publish; `null` if it never was.
    pub drained_at_s: Option<f64>,
    pub consumers_min: u64,
    pub consumers_max: u64,
    /// Where the consumer count comes from.
    pub consumers_source: String,
}
