//! The checked settings of the client-side overload controls: retry budgets (`[retry.budget]`), adaptive
//! throttling (`[downstream.throttle]`), the circuit breaker (`[circuit_breaker]`) and the kill switch
//! (`[kill_switch]`).

use crate::time::Dur;
use serde::Serialize;

/// gRPC's retry throttling example (gRFC A6): `maxTokens` 10, `tokenRatio` 0.1.
pub const DEFAULT_MAX_TOKENS: u32 = 10;
pub const DEFAULT_TOKEN_RATIO: f64 = 0.1;
/// The SRE book's retry budget: retries at most 10% of requests.
pub const DEFAULT_BUDGET_RATIO: f64 = 0.1;
pub const DEFAULT_BUDGET_WINDOW: Dur = Dur(10_000_000_000);
/// The SRE book's adaptive throttling ("Handling Overload"): K = 2 over the last two minutes.
pub const DEFAULT_THROTTLE_K: f64 = 2.0;
pub const DEFAULT_THROTTLE_WINDOW: Dur = Dur(120_000_000_000);

/// A cap on in-memory retries; a retry it refuses goes where an exhausted retry policy sends the message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BudgetCfg {
    #[serde(flatten)]
    pub rule: BudgetRule,
    pub scope: BudgetScope,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BudgetRule {
    /// gRPC retry throttling: a failed attempt costs 1 token, a successful one adds `token_ratio` (up to
    /// `max_tokens`, where the bucket starts); no retry while the tokens are at most `max_tokens / 2`.
    Grpc { max_tokens: u32, token_ratio: f64 },
    /// Retries at most `ratio` x the first attempts of deliveries within the last `window`.
    Ratio { ratio: f64, window: Dur },
}

/// Whose attempts fill one budget (or one circuit breaker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetScope {
    /// One budget per consumer instance (a client process).
    Consumer,
    /// One budget shared by every consumer (a budget kept for the whole service).
    Service,
}

/// Client-side adaptive throttling: each consumer instance rejects a call locally with probability
/// `max(0, (requests - k x accepts) / (requests + 1))`, counted over the last `window`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThrottleCfg {
    pub k: f64,
    pub window: Dur,
}

/// Polly v8 style breaker (MassTransit's spelling maps onto it), one per consumer instance or one for the service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakerCfg {
    pub failure_ratio: f64,
    pub minimum_throughput: u32,
    pub sampling: Dur,
    #[serde(rename = "break")]
    pub break_for: Dur,
    /// Left out of the resolved scenario at its default (`consumer`), so older scenario hashes stay.
    #[serde(skip_serializing_if = "BudgetScope::is_consumer")]
    pub scope: BudgetScope,
}

impl BudgetScope {
    pub fn is_consumer(&self) -> bool {
        *self == BudgetScope::Consumer
    }
}

/// MassTransit's kill switch defaults: `ActivationThreshold` 10, `TripThreshold` 0.15, `RestartTimeout` 1 min.
pub const DEFAULT_KILL_ACTIVATION: u32 = 10;
pub const DEFAULT_KILL_TRIP: f64 = 0.15;
pub const DEFAULT_KILL_RESTART: Dur = Dur(60_000_000_000);
/// MassTransit's `TrackingPeriod` default: 1 min.
pub const DEFAULT_KILL_TRACKING: Dur = Dur(60_000_000_000);

/// MassTransit's kill switch: once `activation_threshold` messages were handled within `tracking_period`, a failure
/// ratio of at least `trip_threshold` stops every consumer (no new deliveries) for `restart_timeout`, then
/// consumption resumes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KillSwitchCfg {
    pub activation_threshold: u32,
    pub trip_threshold: f64,
    pub tracking_period: Dur,
    pub restart_timeout: Dur,
}
