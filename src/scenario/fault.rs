//! `[[faults]]`: what goes wrong when, on the scenario's timeline: the downstream and consumers (every broker), the
//! network between the harness and a real broker (toxics on the harness's own proxy), and the broker itself (admin
//! commands, only with `--allow-commands`).

use crate::time::Dur;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutageMode {
    /// Calls fail at once (connection refused).
    Refuse,
    /// Calls hang until the caller's timeout.
    Hang,
    /// The service accepts and queues calls but serves none (a GC pause, a lock, a dead disk), work in service
    /// included; then it works through everything queued, calls whose callers gave up included.
    Stall,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// The downstream is down (calls in progress fail when it starts), or stalled.
    Outage {
        at: Dur,
        duration: Dur,
        mode: OutageMode,
        /// `refuse`: how long a refused call takes to fail (a connect delay); 0, at once, is not written.
        #[serde(skip_serializing_if = "Dur::is_zero")]
        refuse_after: Dur,
    },
    /// Error rates replaced for the window.
    ErrorSpike { at: Dur, duration: Dur, transient: f64, timeout: f64, validation: f64 },
    /// Downstream service times multiplied by `factor` for the window.
    LatencySpike { at: Dur, duration: Dur, factor: f64 },
    /// A consumer instance dies: its unacked messages return to the queue with their delivery count raised.
    ConsumerCrash {
        at: Dur,
        /// Index of the consumer (0-based); `None` crashes all of them.
        #[serde(skip_serializing_if = "Option::is_none")]
        consumer: Option<u32>,
        /// Restart after this long; `None` stays down.
        #[serde(skip_serializing_if = "Option::is_none")]
        restart: Option<Dur>,
    },
    /// A toxic on the harness's fault proxy between it and a real broker (Toxiproxy's toxics and parameters).
    Network {
        at: Dur,
        duration: Dur,
        #[serde(flatten)]
        toxic: Toxic,
        /// Which way the bytes it acts on travel (Toxiproxy's `stream`).
        stream: Stream,
        /// The share of connections it affects (Toxiproxy's `toxicity`).
        toxicity: f64,
    },
    /// The broker closes the run's own connections (`rabbitmqctl close_connection`); the run reconnects.
    ConnectionKill { at: Dur },
    /// RabbitMQ's memory alarm: the high watermark set near zero for the window (publishers are blocked), then the
    /// value found before restored.
    MemoryAlarm { at: Dur, duration: Dur },
    /// `rabbitmqctl stop_app`, then `start_app` once the broker has been stopped for `duration`.
    BrokerRestart { at: Dur, duration: Dur },
    /// The run's work queue is deleted (`rabbitmqctl delete_queue`): what it held is gone, and the run ends.
    QueueDelete { at: Dur },
}

/// Toxiproxy's toxics, with its parameter names. Durations and sizes are in scenario terms: a scaled run scales
/// them (at time scale 10, a 50 ms latency is 5 ms of wall time and a rate of 100 KB/s is 1,000 KB/s of wall time).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "toxic", rename_all = "kebab-case")]
pub enum Toxic {
    /// Every chunk delayed by `latency` ± `jitter`.
    Latency { latency: Dur, jitter: Dur },
    /// At most `rate` KB/s.
    Bandwidth { rate: u64 },
    /// The close of a connection delayed by `delay`.
    SlowClose { delay: Dur },
    /// Nothing passes (a blackhole, a partition); the connection is closed after `timeout` unless it is 0.
    Timeout { timeout: Dur },
    /// Connections reset (TCP RST) `timeout` after the toxic reaches them.
    ResetPeer { timeout: Dur },
    /// Chunks cut into pieces of `average_size` ± `size_variation` bytes, `delay` apart.
    Slicer { average_size: u64, size_variation: u64, delay: Dur },
    /// A connection closed once `bytes` have passed.
    LimitData { bytes: u64 },
    /// Packet-loss-like: with `probability` a chunk waits one retransmission timeout `rto`.
    PacketLoss { probability: f64, rto: Dur },
}

impl Toxic {
    pub const NAMES: [&'static str; 8] =
        ["latency", "bandwidth", "slow-close", "timeout", "reset-peer", "slicer", "limit-data", "packet-loss"];
    pub fn name(&self) -> &'static str {
        match self {
            Toxic::Latency { .. } => "latency",
            Toxic::Bandwidth { .. } => "bandwidth",
            Toxic::SlowClose { .. } => "slow-close",
            Toxic::Timeout { .. } => "timeout",
            Toxic::ResetPeer { .. } => "reset-peer",
            Toxic::Slicer { .. } => "slicer",
            Toxic::LimitData { .. } => "limit-data",
            Toxic::PacketLoss { .. } => "packet-loss",
        }
    }
}

/// Toxiproxy's streams: `upstream` is harness to broker (publishes, acks), `downstream` broker to harness
/// (deliveries, confirms); `both` applies the toxic to each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Upstream,
    Downstream,
    Both,
}

impl Fault {
    pub fn at(&self) -> Dur {
        match self {
            Fault::Outage { at, .. }
            | Fault::ErrorSpike { at, .. }
            | Fault::LatencySpike { at, .. }
            | Fault::ConsumerCrash { at, .. }
            | Fault::Network { at, .. }
            | Fault::ConnectionKill { at }
            | Fault::MemoryAlarm { at, .. }
            | Fault::BrokerRestart { at, .. }
            | Fault::QueueDelete { at } => *at,
        }
    }
    /// When the fault stops acting (a crash without restart never ends; a kill or a delete is an instant).
    pub fn end(&self) -> Option<Dur> {
        match self {
            Fault::Outage { at, duration, .. }
            | Fault::ErrorSpike { at, duration, .. }
            | Fault::LatencySpike { at, duration, .. }
            | Fault::Network { at, duration, .. }
            | Fault::MemoryAlarm { at, duration }
            | Fault::BrokerRestart { at, duration } => Some(Dur(at.0.saturating_add(duration.0))),
            Fault::ConsumerCrash { at, restart, .. } => restart.map(|r| Dur(at.0.saturating_add(r.0))),
            Fault::ConnectionKill { at } | Fault::QueueDelete { at } => Some(*at),
        }
    }
    pub fn kind_str(&self) -> &'static str {
        match self {
            Fault::Outage { .. } => "outage",
            Fault::ErrorSpike { .. } => "error-spike",
            Fault::LatencySpike { .. } => "latency-spike",
            Fault::ConsumerCrash { .. } => "consumer-crash",
            Fault::Network { .. } => "network",
            Fault::ConnectionKill { .. } => "connection-kill",
            Fault::MemoryAlarm { .. } => "memory-alarm",
            Fault::BrokerRestart { .. } => "broker-restart",
            Fault::QueueDelete { .. } => "queue-delete",
        }
    }
    /// A short label for charts and tables: the kind, or the toxic for network faults.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::Network { toxic, .. } => match toxic {
                Toxic::Latency { .. } => "latency toxic",
                Toxic::Bandwidth { .. } => "bandwidth toxic",
                Toxic::SlowClose { .. } => "slow-close toxic",
                Toxic::Timeout { .. } => "timeout toxic",
                Toxic::ResetPeer { .. } => "reset-peer toxic",
                Toxic::Slicer { .. } => "slicer toxic",
                Toxic::LimitData { .. } => "limit-data toxic",
                Toxic::PacketLoss { .. } => "packet-loss toxic",
            },
            other => other.kind_str(),
        }
    }
    /// Acts on the downstream or the consumers (the engine's faults, on every broker).
    pub fn is_engine(&self) -> bool {
        matches!(
            self,
            Fault::Outage { .. } | Fault::ErrorSpike { .. } | Fault::LatencySpike { .. } | Fault::ConsumerCrash { .. }
        )
    }
    /// Runs broker admin commands (needs `--allow-commands`; the commands are listed next to each fault's
    /// implementation, `broker::rabbitmq::faults`).
    pub fn runs_commands(&self) -> bool {
        matches!(
            self,
            Fault::ConnectionKill { .. }
                | Fault::MemoryAlarm { .. }
                | Fault::BrokerRestart { .. }
                | Fault::QueueDelete { .. }
        )
    }
}
