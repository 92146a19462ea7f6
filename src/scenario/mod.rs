//! The checked scenario: every value parsed, defaulted and validated; what the engine runs and what `scenario.toml` records.
//!
//! Loading is two-stage: `node` turns TOML text (plus `--set` overrides) into a tree that remembers line numbers, and
//! `load` walks that tree into these types, collecting every error before failing.

mod fault;
pub mod keys;
pub mod limits;
pub mod load;
pub mod node;
mod overload;
mod reader;
pub mod schema;
pub mod subscription;
pub mod units;

use crate::dist::Dist;
use crate::time::{Dur, Nanos};
use serde::Serialize;

pub use fault::{Fault, OutageMode, Stream, Toxic};
pub use keys::{KeyDistribution, KeyOrdering};
pub use load::{load_file, load_str, ScenarioErrors};
pub use overload::*;
pub use reader::suggest;
pub use subscription::Subscription;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// `None` means "pick one at run time"; the chosen seed is printed and recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub messages: u64,
    /// Upper bound on scenario time; messages still unfinished then are reported as in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<Dur>,
    pub broker: BrokerCfg,
    pub queue: QueueCfg,
    pub producers: ProducerCfg,
    pub consumers: ConsumerCfg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downstream: Option<DownstreamCfg>,
    pub retry: RetryCfg,
    pub redelivery: RedeliveryCfg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<BreakerCfg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<KillSwitchCfg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleCfg>,
    pub report: ReportCfg,
    /// Where a run stops that would otherwise not end (`[limits]`); absent from the resolved file when default.
    #[serde(skip_serializing_if = "limits::Limits::is_default")]
    pub limits: limits::Limits,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// `"metric" = "expression"` pairs for `loadtest gate`, in file order.
    #[serde(skip_serializing_if = "Thresholds::is_empty")]
    pub thresholds: Thresholds,
    /// `[[subscriptions]]`: several services fed by the same producers, each run on a queue of its own. Empty for
    /// a scenario of one queue (and then absent from the resolved file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    Embedded,
    Rabbitmq,
    Servicebus,
}

/// Whose queue semantics the embedded broker models (a real broker has its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Semantics {
    /// A delivery stays with its consumer until ack, nack or the channel closes.
    #[default]
    Rabbitmq,
    /// Peek-lock: a delivery's lock runs out after `queue.lock_duration`, and the broker hands the message to
    /// someone else while the first handler may still be working on it.
    Servicebus,
}

impl Semantics {
    fn is_rabbitmq(&self) -> bool {
        *self == Semantics::Rabbitmq
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockKind {
    Virtual,
    Real,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BrokerCfg {
    pub kind: BrokerKind,
    /// The queue semantics: RabbitMQ's, or Service Bus peek-lock (the default of `kind = "servicebus"`).
    #[serde(skip_serializing_if = "Semantics::is_rabbitmq")]
    pub semantics: Semantics,
    pub clock: ClockKind,
    /// Scenario seconds per wall-clock second when the clock is real (10.0 runs a 5-minute outage in 30 s).
    pub time_scale: f64,
    /// Connection URL for real brokers. Never printed: reports show it with the password masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// TLS files for `amqps://` URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsCfg>,
    /// Real brokers: how long (wall clock) a connection attempt may take before the run gives up (exit 3).
    #[serde(skip_serializing_if = "is_default_connect_timeout")]
    pub connect_timeout: Dur,
    /// Real brokers: once every message is published, how long (wall clock) the run waits with nothing happening
    /// before it reconciles what is left (still held by the broker, or lost).
    #[serde(skip_serializing_if = "is_default_drain_timeout")]
    pub drain_timeout: Dur,
    /// Route the AMQP connections through the harness's own fault proxy on loopback, even without network faults
    /// (they turn it on by themselves).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub via_proxy: bool,
    /// Embedded broker: how long a publish takes to be confirmed; `producers.confirm_window` then bounds the
    /// publishes outstanding (0: confirmed at once, as before, and the window never binds).
    #[serde(skip_serializing_if = "Dur::is_zero")]
    pub confirm_latency: Dur,
}

pub const DEFAULT_CONNECT_TIMEOUT: Dur = Dur(5_000_000_000);
pub const DEFAULT_DRAIN_TIMEOUT: Dur = Dur(10_000_000_000);
fn is_default_connect_timeout(d: &Dur) -> bool {
    *d == DEFAULT_CONNECT_TIMEOUT
}
fn is_default_drain_timeout(d: &Dur) -> bool {
    *d == DEFAULT_DRAIN_TIMEOUT
}

/// Certificates for `amqps://`: the CA that signed the broker's certificate (added to the system's roots), and
/// optionally a client certificate and key (PEM) for mutual TLS. The server name is always checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsCfg {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// RabbitMQ queue type of the work queue (the embedded broker models quorum-queue semantics either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    #[default]
    Classic,
    Quorum,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
        }
    }
    fn is_classic(&self) -> bool {
        *self == QueueType::Classic
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    DropHead,
    RejectPublish,
    /// Embedded broker only: a publish into a full queue waits until the queue has room (the producer falls behind
    /// its intended schedule).
    Block,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueCfg {
    pub name: String,
    /// Deliveries of one message before the broker dead-letters it instead (Service Bus MaxDeliveryCount;
    /// RabbitMQ quorum `x-delivery-limit` = this - 1). `None`: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delivery_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ttl: Option<Dur>,
    /// Maximum number of ready messages (RabbitMQ `x-max-length`; unacked messages do not count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    pub overflow: Overflow,
    /// Real brokers: the work queue's type.
    #[serde(rename = "type", skip_serializing_if = "QueueType::is_classic")]
    pub queue_type: QueueType,
    /// Real brokers: use the queue called `name` as it is (no run id suffix; not declared, not deleted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reuse: bool,
    /// Service Bus semantics: how long a delivery's lock lasts (Service Bus LockDuration: default 60 s, max 5 min).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_duration: Option<Dur>,
    /// Service Bus semantics: the processor renews the lock of a message in its handler until this long after the
    /// handler started (the SDK's MaxAutoLockRenewalDuration, default 5 min; "0s" turns renewal off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_auto_lock_renewal: Option<Dur>,
    /// Service Bus semantics: expired messages go to the dead-letter queue (reason TTLExpiredException) instead of
    /// vanishing (off by default, as on Service Bus).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dead_lettering_on_message_expiration: bool,
}

/// Service Bus's defaults and limits for the peek-lock keys.
pub const DEFAULT_LOCK_DURATION: Dur = Dur(60_000_000_000);
pub const MAX_LOCK_DURATION: Dur = Dur(300_000_000_000);
pub const DEFAULT_MAX_AUTO_LOCK_RENEWAL: Dur = Dur(300_000_000_000);
pub const DEFAULT_SERVICEBUS_MAX_DELIVERY_COUNT: u32 = 10;

/// The peek-lock settings in force (Service Bus semantics only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeekLock {
    pub lock: Nanos,
    /// 0: no automatic renewal.
    pub renew_for: Nanos,
    pub dead_letter_expired: bool,
}

impl QueueCfg {
    /// The Service Bus keys that are set, for the note that they do nothing under RabbitMQ semantics.
    pub fn peek_lock_keys(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.lock_duration.is_some() {
            v.push("queue.lock_duration");
        }
        if self.max_auto_lock_renewal.is_some() {
            v.push("queue.max_auto_lock_renewal");
        }
        if self.dead_lettering_on_message_expiration {
            v.push("queue.dead_lettering_on_message_expiration");
        }
        v
    }
    pub fn error_queue(&self) -> String {
        format!("{}_error", self.name)
    }
    pub fn skipped_queue(&self) -> String {
        format!("{}_skipped", self.name)
    }
}

/// How producers space their messages. Every shape is normalised into one arrival plan before the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "shape", rename_all = "lowercase")]
pub enum RateShape {
    /// Evenly spaced arrivals.
    Constant { per_second: f64 },
    /// Poisson arrivals (exponential gaps) with this mean rate.
    Poisson { per_second: f64 },
    /// Rate rises (or falls) linearly from `from` to `to` over `over`, then holds `to`.
    Ramp { from: f64, to: f64, over: Dur, poisson: bool },
    /// Piecewise-constant rates; the last step's rate holds until all messages are sent.
    Steps { steps: Vec<Step>, poisson: bool },
    /// `size` messages at once, every `every` (the first burst at time 0).
    Burst { size: u64, every: Dur },
}

impl RateShape {
    /// Arrivals at random (exponential gaps) rather than evenly spaced.
    pub fn is_poisson(&self) -> bool {
        matches!(
            self,
            RateShape::Poisson { .. } | RateShape::Ramp { poisson: true, .. } | RateShape::Steps { poisson: true, .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub per_second: f64,
    #[serde(rename = "for")]
    pub hold: Dur,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SizeDist {
    Fixed { bytes: u64 },
    Uniform { min_bytes: u64, max_bytes: u64 },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProducerCfg {
    pub count: u32,
    /// Total rate of all producers together.
    pub rate: RateShape,
    pub size: SizeDist,
    /// Fraction of messages that cannot be deserialized (poison), 0.0..=1.0.
    pub poison_fraction: f64,
    /// Real brokers: delivery mode 2 (persistent).
    #[serde(skip_serializing_if = "is_true")]
    pub persistent: bool,
    /// Real brokers: publisher confirms outstanding at most; 0 turns confirms off.
    #[serde(skip_serializing_if = "is_default_confirm_window")]
    pub confirm_window: u32,
    /// Produce for this long (scenario time): no message is planned at or after it. `messages` still caps the count.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub produce_for: Option<Dur>,
    /// A partition / session key per message, `0..keys` (`None`: messages carry no key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
    /// How the keys are drawn (only with `keys`).
    #[serde(skip_serializing_if = "KeyDistribution::is_uniform")]
    pub key_distribution: KeyDistribution,
}

pub const DEFAULT_CONFIRM_WINDOW: u32 = 1000;
fn is_true(b: &bool) -> bool {
    *b
}
fn is_default_confirm_window(w: &u32) -> bool {
    *w == DEFAULT_CONFIRM_WINDOW
}

/// What a consumer does with a message once retries and redeliveries are exhausted (or its failure is not retried).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// MassTransit: move to `<queue>_error` (poison to `<queue>_skipped`) and ack.
    ErrorQueue,
    /// Naive: nack with requeue; the broker delivers it again (the poison loop unless max_delivery_count bounds it).
    Requeue,
    /// nack without requeue: the broker dead-letters it with reason `rejected`.
    Reject,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsumerCfg {
    /// Consumer instances (replicas), each with its own channel, prefetch and circuit breaker.
    pub count: u32,
    /// Messages one consumer handles at the same time (MassTransit ConcurrentMessageLimit).
    pub concurrency: u32,
    /// Unacked messages the broker lets one consumer hold (basic.qos / PrefetchCount). At least `concurrency`.
    pub prefetch: u32,
    /// Local work per handler attempt, before the downstream call.
    pub service_time: Dist,
    pub on_failure: OnFailure,
    /// Competing consumers, or one message of a key at a time (needs `producers.keys`).
    #[serde(skip_serializing_if = "KeyOrdering::is_competing")]
    pub ordering: KeyOrdering,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// The server does not notice the caller gave up: timed-out work still occupies a server (metastable collapse).
    KeepWorking,
    /// The server drops queued work whose caller timed out.
    Cancel,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorRates {
    pub transient: f64,
    pub timeout: f64,
    pub validation: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrashCfg {
    /// Requests in the system (in service + queued) above which the service is overloaded.
    pub when_in_system_above: u64,
    /// How long it must stay overloaded before it crashes ("0s": at once).
    pub after: Dur,
    /// Time to restart; calls are refused meanwhile.
    pub restart: Dur,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DownstreamCfg {
    pub name: String,
    /// Requests served at the same time; more wait in the service's own queue.
    pub servers: u32,
    /// Work per request on one server.
    pub service_time: Dist,
    /// The caller's timeout. `None`: wait forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    pub on_timeout: OnTimeout,
    /// Requests allowed to wait for a server; beyond it calls are refused at once (HTTP 503). `None`: unbounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_limit: Option<u64>,
    pub errors: ErrorRates,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash: Option<CrashCfg>,
    /// Client-side adaptive throttling of the calls (`[downstream.throttle]`), one per consumer instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleCfg>,
}

impl DownstreamCfg {
    /// Nominal capacity in requests per second: servers / mean service time.
    pub fn capacity_per_s(&self) -> f64 {
        let mean = self.service_time.mean_ns();
        if mean <= 0.0 {
            f64::INFINITY
        } else {
            self.servers as f64 * 1e9 / mean
        }
    }
}

/// Failure kinds a handler attempt can end with; retry filters handle or ignore them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// Downstream error, refused or reset connection, crash.
    Transient,
    /// The caller's timeout expired.
    Timeout,
    /// The downstream rejected the request as invalid; retrying cannot help.
    Validation,
    /// The message cannot be deserialized.
    Poison,
    /// The circuit breaker is open; the call was not made.
    CircuitOpen,
    /// Adaptive throttling rejected the call locally; it was not made.
    Throttled,
}

impl FailureKind {
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Transient,
        FailureKind::Timeout,
        FailureKind::Validation,
        FailureKind::Poison,
        FailureKind::CircuitOpen,
        FailureKind::Throttled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Timeout => "timeout",
            FailureKind::Validation => "validation",
            FailureKind::Poison => "poison",
            FailureKind::CircuitOpen => "circuit-open",
            FailureKind::Throttled => "throttled",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RetryPolicy {
    None,
    /// `limit` retries with no delay.
    Immediate {
        limit: u32,
    },
    /// One retry per listed delay.
    Intervals {
        intervals: Vec<Dur>,
    },
    /// Delay `initial + (n-1) * step` for retry n.
    Incremental {
        limit: u32,
        initial: Dur,
        step: Dur,
    },
    /// Delay `min(cap, base * 2^(n-1))` for retry n.
    Exponential {
        limit: u32,
        base: Dur,
        cap: Dur,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// The policy's delay exactly.
    None,
    /// `rand(0, d)`.
    Full,
    /// `d/2 + rand(0, d/2)`.
    Equal,
    /// `min(cap, rand(base, prev * 3))`.
    Decorrelated,
    /// `d * rand(0.75, 1.25)` (the course material's ±25%).
    Proportional,
}

/// Which failure kinds are retried (and redelivered). `handle` empty means "all kinds not ignored".
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KindFilter {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handle: Vec<FailureKind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<FailureKind>,
}

impl KindFilter {
    pub fn retries(&self, kind: FailureKind) -> bool {
        if self.ignore.contains(&kind) {
            return false;
        }
        self.handle.is_empty() || self.handle.contains(&kind)
    }
}

/// In-memory retry inside the consumer (MassTransit UseMessageRetry): the message stays unacked meanwhile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetryCfg {
    pub policy: RetryPolicy,
    pub jitter: Jitter,
    #[serde(flatten)]
    pub filter: KindFilter,
    /// Caps the retries (`[retry.budget]`); a refused retry takes the path of an exhausted policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetCfg>,
}

/// Delayed redelivery through the broker (MassTransit UseDelayedRedelivery), after in-memory retries are exhausted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RedeliveryCfg {
    pub intervals: Vec<Dur>,
    pub jitter: Jitter,
}

/// KEDA queue-length scaler driving the HPA.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AutoscaleCfg {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// KEDA `value`: target messages per replica.
    pub messages_per_replica: u64,
    pub polling_interval: Dur,
    /// KEDA cooldownPeriod: wait after the last activity before scaling to zero.
    pub cooldown: Dur,
    /// HPA scale-down stabilisation window.
    pub scale_down_stabilization: Dur,
    /// Time from a scale-up decision until the new replica consumes.
    pub startup_delay: Dur,
    /// KEDA's AMQP mode counts only ready messages; unacked (in-memory retries) are invisible to it.
    pub count_unacked: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportCfg {
    /// Failure episodes and overload waves closer than this are merged into one.
    pub episode_gap: Dur,
}

/// Thresholds for `loadtest gate`, parsed by `gate::threshold` at load time; one entry per condition, in file order
/// (a key written with a list of expressions gives several entries with that key).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds(pub Vec<crate::gate::threshold::Threshold>);

impl Thresholds {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// As written: `"key" = "expression"`, or `"key" = ["expression", ...]` for a key with several conditions.
impl Serialize for Thresholds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut keys: Vec<(&str, Vec<&str>)> = Vec::new();
        for t in &self.0 {
            match keys.iter_mut().find(|(k, _)| *k == t.key) {
                Some((_, exprs)) => exprs.push(&t.expression),
                None => keys.push((&t.key, vec![&t.expression])),
            }
        }
        let mut m = s.serialize_map(Some(keys.len()))?;
        for (k, exprs) in &keys {
            match exprs.as_slice() {
                [one] => m.serialize_entry(k, one)?,
                many => m.serialize_entry(k, many)?,
            }
        }
        m.end()
    }
}

impl Scenario {
    /// The peek-lock settings when the broker has Service Bus semantics; `None` under RabbitMQ's.
    pub fn peek_lock(&self) -> Option<PeekLock> {
        if self.broker.semantics != Semantics::Servicebus {
            return None;
        }
        let q = &self.queue;
        Some(PeekLock {
            lock: q.lock_duration.unwrap_or(DEFAULT_LOCK_DURATION).ns(),
            renew_for: q.max_auto_lock_renewal.unwrap_or(DEFAULT_MAX_AUTO_LOCK_RENEWAL).ns(),
            dead_letter_expired: q.dead_lettering_on_message_expiration,
        })
    }

    /// Keys that do nothing in this scenario (Service Bus keys under RabbitMQ semantics), for a note at start-up:
    /// they are accepted so that one file can be run both ways (`--set broker.semantics=rabbitmq`).
    pub fn inert_keys(&self) -> Vec<&'static str> {
        if self.broker.semantics == Semantics::Servicebus {
            return Vec::new();
        }
        self.queue.peek_lock_keys()
    }

    /// The resolved scenario as TOML: every default filled in, overrides applied, `[broker]` masked
    /// (`secret::mask_scenario_toml`). Its hash identifies the configuration.
    pub fn to_toml(&self) -> String {
        let text = toml::to_string(self).unwrap_or_else(|e| format!("# could not serialise the scenario: {e}\n"));
        crate::secret::mask_scenario_toml(&text)
    }

    /// The AMQP connections go through the fault proxy: asked for, or needed by a network fault.
    pub fn uses_proxy(&self) -> bool {
        self.broker.via_proxy || self.faults.iter().any(|f| matches!(f, Fault::Network { .. }))
    }
    /// Faults that run broker admin commands (they need `--allow-commands`): with `[[subscriptions]]`, those of
    /// the subscriptions (the ones that run).
    pub fn command_faults(&self) -> impl Iterator<Item = &Fault> {
        let own = if self.subscriptions.is_empty() { &self.faults[..] } else { &[] };
        own.iter().chain(self.subscriptions.iter().flat_map(|s| &s.faults)).filter(|f| f.runs_commands())
    }
}
