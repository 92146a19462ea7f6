//! The toxic trait: what a toxic is asked (a chunk, a close, a tick) and what it may answer (a verdict).

use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

use super::toxics;

/// Which way the bytes a toxic acts on travel (Toxiproxy's `stream`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server: towards the broker.
    Upstream,
    /// Server to client: from the broker (Toxiproxy's default stream).
    #[default]
    Downstream,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::Upstream => 0,
            Direction::Downstream => 1,
        }
    }
}

/// Toxiproxy's toxics with their parameters; every duration is wall-clock time.
#[derive(Clone, Debug, PartialEq)]
pub enum ToxicKind {
    /// Each chunk delayed by `latency` ± uniform `jitter`, from when it was read; order preserved.
    Latency { latency: Duration, jitter: Duration },
    /// The direction limited to `rate_bytes_per_s`.
    Bandwidth { rate_bytes_per_s: u64 },
    /// When the source side closes, the other side is closed `delay` later.
    SlowClose { delay: Duration },
    /// A blackhole that holds (not drops) the data; the connection is closed after `timeout` unless it is zero.
    Timeout { timeout: Duration },
    /// The connection is reset (TCP RST) `timeout` after the toxic reaches it.
    ResetPeer { timeout: Duration },
    /// Chunks cut into pieces of `average_size` ± `size_variation` bytes, written `delay` apart.
    Slicer { average_size: usize, size_variation: usize, delay: Duration },
    /// The connection is closed once `bytes` have passed in the direction since the toxic reached it.
    LimitData { bytes: u64 },
    /// Packet-loss-like: with `probability` a chunk waits one retransmission timeout `rto`.
    Drop { probability: f64, rto: Duration },
}

impl ToxicKind {
    /// The toxic's name, as the scenario files spell it (`Toxic::NAMES`).
    pub fn name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow-close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset-peer",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::LimitData { .. } => "limit-data",
            ToxicKind::Drop { .. } => "packet-loss",
        }
    }

    /// Whether the toxic can end a connection on its own, with no data flowing (the watcher ticks for these).
    pub fn acts_without_data(&self) -> bool {
        match self {
            ToxicKind::Timeout { timeout } => !timeout.is_zero(),
            ToxicKind::ResetPeer { .. } | ToxicKind::LimitData { .. } => true,
            _ => false,
        }
    }

    /// The rule that implements this kind.
    pub fn build(&self) -> Box<dyn Toxic> {
        match *self {
            ToxicKind::Latency { latency, jitter } => Box::new(toxics::Latency { latency, jitter }),
            ToxicKind::Bandwidth { rate_bytes_per_s } => Box::new(toxics::Bandwidth { rate_bytes_per_s }),
            ToxicKind::SlowClose { delay } => Box::new(toxics::SlowClose { delay }),
            ToxicKind::Timeout { timeout } => Box::new(toxics::Timeout { timeout }),
            ToxicKind::ResetPeer { timeout } => Box::new(toxics::ResetPeer { timeout }),
            ToxicKind::Slicer { average_size, size_variation, delay } => {
                Box::new(toxics::Slicer { average_size, size_variation, delay })
            }
            ToxicKind::LimitData { bytes } => Box::new(toxics::LimitData { bytes }),
            ToxicKind::Drop { probability, rto } => Box::new(toxics::PacketLoss { probability, rto }),
        }
    }
}

/// What a toxic is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A chunk of `len` bytes is next in the toxic's direction.
    Data { len: usize },
    /// The source side of the toxic's direction has closed (EOF); the close is next to pass on.
    Eof,
    /// The connection's watcher asks, with or without data flowing: only `Close` and `Reset` act on a tick.
    Tick,
}

/// Everything a toxic may look at; `rng` is the (connection, toxic) stream, seeded from the proxy's seed.
pub struct ChunkCtx<'a> {
    pub event: Event,
    pub now: Instant,
    /// When the chunk (or the EOF) was read; `now` for a tick.
    pub arrival: Instant,
    /// When the toxic became active for this connection: its window's start, or the accept if that was later.
    pub active_since: Instant,
    /// Bytes written in the toxic's direction on this connection since it became active.
    pub bytes_since_active: u64,
    pub rng: &'a mut ChaCha8Rng,
}

impl ChunkCtx<'_> {
    /// How long the toxic has been active for this connection.
    pub fn active_for(&self) -> Duration {
        self.now.saturating_duration_since(self.active_since)
    }
}

/// A toxic's answer for one event. On a tick only `Pass`, `Close` and `Reset` mean anything (the rest are ignored).
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Not this toxic's business: the next active toxic is asked; if none acts, the chunk is written at once.
    Pass,
    /// Release the chunk (or the close) no earlier than its arrival + this; later chunks queue behind it.
    Delay(Duration),
    /// Not yet: keep it (and stop reading, so back-pressure builds), ask again soon.
    Hold,
    /// Close the connection (both directions, FIN) now; the chunk is not written.
    Close,
    /// Write the first `n` bytes of the chunk, then close the connection.
    CloseAfter(usize),
    /// Reset the connection (TCP RST on both sockets).
    Reset,
    /// Write the chunk in pieces of these sizes (summing to the chunk's length), `delay` apart.
    Slice { sizes: Vec<usize>, delay: Duration },
    /// Write the chunk at no more than this rate.
    Throttle { bytes_per_s: u64 },
}

/// One toxic's rule. Implementations keep no per-connection state of their own: it is in the context.
pub trait Toxic: Send + Sync {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict;
}
