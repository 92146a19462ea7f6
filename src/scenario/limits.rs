//! Bounds on what a scenario may ask for, and the `[limits]` a run stops at. The value bounds lie far beyond what a
//! real system needs and close the classes of input that would make a run allocate without bound, stop advancing
//! in scenario time, or take forever: a configured limit never sizes an allocation by itself.

use crate::time::{Dur, NS_PER_SEC};
use serde::Serialize;

/// `retry.policy.limit`: retries of one delivery (Polly and MassTransit examples use 3-10).
pub const MAX_RETRY_LIMIT: u32 = 10_000;
/// `consumers.count` and `autoscale.max_replicas`: consumer instances (KEDA's default maximum is 100).
pub const MAX_CONSUMERS: u32 = 10_000;
/// `consumers.concurrency`: handlers per consumer.
pub const MAX_CONCURRENCY: u32 = 10_000;
/// Handler slots over all consumers at their largest (consumers or max_replicas, times concurrency); each is
/// allocated when its consumer starts.
pub const MAX_HANDLER_SLOTS: u64 = 1_000_000;
/// `consumers.prefetch`: AMQP's basic.qos prefetch-count is a 16-bit field.
pub const MAX_PREFETCH: u32 = 65_535;
/// `producers.count`.
pub const MAX_PRODUCERS: u32 = 10_000;
/// `downstream.servers`.
pub const MAX_SERVERS: u32 = 1_000_000;
/// Message size: RabbitMQ's hard maximum (512 MiB; its default `max_message_size` is 128 MiB).
pub const MAX_MESSAGE_BYTES: u64 = 512 << 20;
/// The shortest interval of a timer that repeats or re-arms (autoscaler polling, bursts, redelivery, the breaker):
/// below it a run spends its events on ticks, not on messages.
pub const MIN_TIMER: Dur = Dur(1_000);
/// `retry.budget.max_tokens` (gRPC retry throttling): gRPC's own bound, `maxTokens` in (0, 1000].
pub const MAX_BUDGET_TOKENS: u32 = 1_000;
/// `retry.budget.token_ratio`: gRPC keeps three decimals, so 0.001 is the smallest ratio that adds tokens.
pub const TOKEN_RATIO: (f64, f64) = (0.001, 1_000.0);
/// `retry.budget.ratio`: retries per first attempt; more than a retry policy's largest limit allows nothing more.
pub const MAX_BUDGET_RATIO: f64 = MAX_RETRY_LIMIT as f64;
/// `downstream.throttle.k`: below 1 the throttle rejects calls the service accepts; the SRE book's values are 1.1-2.
pub const THROTTLE_K: (f64, f64) = (1.0, 1_000.0);
/// `faults[].refuse_after`: a connect delay before a refused call fails (Linux gives up a connect after ~2 min).
pub const MAX_REFUSE_AFTER: Dur = Dur(3_600 * NS_PER_SEC);
/// `latency-spike` factor: outside this the service time under the spike underflows to 0 or overflows.
pub const FACTOR: (f64, f64) = (1e-6, 1e6);

/// Default `limits.max_scenario_time`: a run without a `duration` stops here (seven days of scenario time).
pub const DEFAULT_MAX_SCENARIO_TIME: Dur = Dur(7 * 24 * 3600 * NS_PER_SEC);
/// Default `limits.stalled_events`: events in a row at one instant of scenario time before the run counts as stalled
/// (a zero-time loop). A burst of a million messages with a zero service time needs about four million.
pub const DEFAULT_STALLED_EVENTS: u64 = 20_000_000;
/// Default `limits.max_events` is this many per message plus `EVENTS_BASE` (the shipped scenarios need 2-40 per message).
pub const EVENTS_PER_MESSAGE: u64 = 1_000;
pub const EVENTS_BASE: u64 = 10_000_000;

/// `[limits]`: where a run stops that would otherwise not end, or end only after days. Reaching one is exit 3 with a
/// complete report that says which limit and why. Written to the resolved scenario only where set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Handled events in all; default `EVENTS_BASE + EVENTS_PER_MESSAGE x messages`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u64>,
    /// Events in a row without scenario time moving on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stalled_events: Option<u64>,
    /// Scenario time at which a run without a `duration` stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_scenario_time: Option<Dur>,
}

impl Limits {
    pub fn is_default(&self) -> bool {
        *self == Limits::default()
    }
    pub fn max_events(&self, messages: u64) -> u64 {
        self.max_events.unwrap_or_else(|| EVENTS_BASE.saturating_add(EVENTS_PER_MESSAGE.saturating_mul(messages)))
    }
    pub fn stalled_events(&self) -> u64 {
        self.stalled_events.unwrap_or(DEFAULT_STALLED_EVENTS)
    }
    pub fn max_scenario_time(&self) -> Dur {
        self.max_scenario_time.unwrap_or(DEFAULT_MAX_SCENARIO_TIME)
    }
}

/// Why a run stopped at one of its `[limits]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitHit {
    /// `limits.max_events` events were handled.
    Events { max: u64 },
    /// `limits.stalled_events` events in a row happened at scenario time `at_ns`.
    Stalled { events: u64, at_ns: u64 },
    /// Scenario time reached `limits.max_scenario_time` (no `duration` was set).
    ScenarioTime { max: Dur },
}

impl LimitHit {
    /// One line for the terminal, the report and the exit message: what happened, the likely cause and the fix.
    pub fn explain(&self) -> String {
        match self {
            LimitHit::Events { max } => format!(
                "stopped at limits.max_events = {max}: the run had handled that many events without ending; a \
                 timer that fires too often or a loop of retries is the usual cause (raise limits.max_events if the \
                 run is meant to be this long)"
            ),
            LimitHit::Stalled { events, at_ns } => format!(
                "stopped at limits.stalled_events = {events}: scenario time stood still at {} s for that many events \
                 in a row, a loop that takes no time (e.g. consumers.service_time = \"0s\" with on_failure = \
                 \"requeue\" and a message that always fails); give the loop a duration or raise \
                 limits.stalled_events",
                crate::time::Dur(*at_ns).secs_f64()
            ),
            LimitHit::ScenarioTime { max } => format!(
                "stopped at limits.max_scenario_time = {max} of scenario time with messages still open; set \
                 `duration` to stop earlier on purpose, or raise limits.max_scenario_time"
            ),
        }
    }
    /// The short form for summary.json's `stopped_by`.
    pub fn key(&self) -> &'static str {
        match self {
            LimitHit::Events { .. } => "limits.max_events",
            LimitHit::Stalled { .. } => "limits.stalled_events",
            LimitHit::ScenarioTime { .. } => "limits.max_scenario_time",
        }
    }
}
