//! The proxy's counters: atomics updated as connections come and toxics act, and their serialisable snapshot.

use super::Scheduled;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the proxy's counters.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes written towards the broker.
    pub bytes_upstream: u64,
    /// Bytes written towards the client.
    pub bytes_downstream: u64,
    /// One per scheduled toxic, in schedule order.
    pub per_toxic: Vec<ToxicStats>,
}

/// What one scheduled toxic did.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ToxicStats {
    pub name: String,
    pub kind: String,
    /// Connections it acted on (after toxicity): those for which it answered other than `Pass` at least once.
    pub connections_affected: u64,
    /// Chunks it released later than they would have been (delayed, throttled or sliced), and closes it delayed.
    pub chunks_delayed: u64,
    /// Connections it reset.
    pub connections_reset: u64,
    /// Connections it closed.
    pub connections_closed: u64,
    /// Bytes it held back (each held chunk counted once).
    pub bytes_held: u64,
}

#[derive(Default)]
pub(crate) struct ToxicCounters {
    pub connections_affected: AtomicU64,
    pub chunks_delayed: AtomicU64,
    pub connections_reset: AtomicU64,
    pub connections_closed: AtomicU64,
    pub bytes_held: AtomicU64,
}

pub(crate) struct Counters {
    pub connections: AtomicU64,
    /// Bytes written, by `Direction::index()`.
    pub bytes: [AtomicU64; 2],
    names: Vec<(String, String)>,
    pub per_toxic: Vec<ToxicCounters>,
}

impl Counters {
    pub fn new(toxics: &[Scheduled]) -> Counters {
        Counters {
            connections: AtomicU64::new(0),
            bytes: [AtomicU64::new(0), AtomicU64::new(0)],
            names: toxics.iter().map(|t| (t.name.clone(), t.kind.name().to_string())).collect(),
            per_toxic: toxics.iter().map(|_| ToxicCounters::default()).collect(),
        }
    }

    /// Adds `n` to a toxic's counter, if the toxic exists.
    pub fn bump(&self, toxic: usize, which: impl Fn(&ToxicCounters) -> &AtomicU64, n: u64) {
        if let Some(c) = self.per_toxic.get(toxic) {
            which(c).fetch_add(n, Relaxed);
        }
    }

    pub fn snapshot(&self) -> ProxyStats {
        ProxyStats {
            connections: self.connections.load(Relaxed),
            bytes_upstream: self.bytes[0].load(Relaxed),
            bytes_downstream: self.bytes[1].load(Relaxed),
            per_toxic: self
                .names
                .iter()
                .zip(&self.per_toxic)
                .map(|((name, kind), c)| ToxicStats {
                    name: name.clone(),
                    kind: kind.clone(),
                    connections_affected: c.connections_affected.load(Relaxed),
                    chunks_delayed: c.chunks_delayed.load(Relaxed),
                    connections_reset: c.connections_reset.load(Relaxed),
                    connections_closed: c.connections_closed.load(Relaxed),
                    bytes_held: c.bytes_held.load(Relaxed),
                })
                .collect(),
        }
    }
}
