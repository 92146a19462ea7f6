//! A built-in TCP fault proxy on loopback with Toxiproxy's toxics, switched on and off on a timeline.
//!
//! The harness routes its broker connections through a [`Proxy`]; a [`Schedule`] says which toxics (network
//! faults) are active when. A toxic acts on the connections open when its window starts as well as on those
//! accepted during it ("applied to existing connections at once").
//!
//! # The rule
//!
//! **A fault is a rule.** For each chunk (and for each close) the active toxics of that direction that affect the
//! connection are asked in schedule order, and the first one that does not answer `Pass` wins: two overlapping
//! toxics do not compose, the earlier-scheduled one decides. A toxic is active while
//! `start <= elapsed < end`, with `elapsed` the wall time since the schedule's origin (none is before the origin
//! is set). Whether a toxic affects a connection is a deterministic draw from the proxy's seed, the connection's
//! accept number and the toxic's index, against its `toxicity`; jitter, loss and slice draws come from a stream
//! seeded the same way.
//!
//! Connection-level triggers (reset_peer's reset, timeout's close, limit_data's close) also fire with no data
//! flowing: while such a toxic is active every connection's watcher asks the active toxics of both directions, in
//! schedule order, every 5 ms (a tick), under the same first-non-`Pass` rule.
//!
//! # The pipe
//!
//! Per connection and direction a reader reads chunks (up to 64 KiB) into a bounded queue of 16 with their read
//! time, and a writer applies the verdicts and writes, so a held chunk stops the reader and TCP back-pressure
//! reaches the sender. With no active toxic a chunk is written at once. An EOF is passed on as a write shutdown
//! (half-close) after the data before it; the connection ends when both directions have closed, or at once when
//! a toxic closes or resets it, on a read or write error, or at [`Proxy::shutdown`].

mod conn;
mod judge;
mod pipe;
mod server;
mod stats;
mod toxic;
pub mod toxics;

#[cfg(test)]
mod tests;

pub use server::Proxy;
pub use stats::{ProxyStats, ToxicStats};
pub use toxic::{ChunkCtx, Direction, Event, Toxic, ToxicKind, Verdict};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// One scheduled toxic: active while `start <= elapsed < end`, where elapsed is wall time since the schedule's
/// origin.
#[derive(Clone, Debug)]
pub struct Scheduled {
    pub kind: ToxicKind,
    pub start: Duration,
    pub end: Duration,
    pub direction: Direction,
    /// The share of connections it affects, 0.0 to 1.0.
    pub toxicity: f64,
    /// A label for stats, e.g. "latency@10s".
    pub name: String,
}

/// The toxics on a timeline, and their rules; before the origin is set no toxic is active.
pub struct Schedule {
    toxics: Vec<Scheduled>,
    rules: Vec<Box<dyn Toxic>>,
    origin: OnceLock<Instant>,
    /// Set once the run is over: no toxic acts any more (the end's reconciliation must reach the broker).
    disarmed: AtomicBool,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule").field("toxics", &self.toxics).field("origin", &self.origin.get()).finish()
    }
}

impl Schedule {
    pub fn new(toxics: Vec<Scheduled>) -> Arc<Schedule> {
        let rules = toxics.iter().map(|t| t.kind.build()).collect();
        Arc::new(Schedule { toxics, rules, origin: OnceLock::new(), disarmed: AtomicBool::new(false) })
    }

    /// Starts the timeline; later calls are ignored.
    pub fn set_origin(&self, origin: Instant) {
        let _ = self.origin.set(origin);
    }

    pub fn origin(&self) -> Option<Instant> {
        self.origin.get().copied()
    }

    pub fn toxics(&self) -> &[Scheduled] {
        &self.toxics
    }

    /// Wall time since the origin at `now`, if the origin is set.
    pub fn elapsed(&self, now: Instant) -> Option<Duration> {
        self.origin().map(|o| now.saturating_duration_since(o))
    }

    /// Whether toxic `i` is active `elapsed` after the origin.
    pub fn is_active(&self, i: usize, elapsed: Duration) -> bool {
        !self.disarmed.load(Ordering::Relaxed)
            && self.toxics.get(i).is_some_and(|t| t.start <= elapsed && elapsed < t.end)
    }

    /// Ends every toxic now, for good (the run is over).
    pub fn disarm(&self) {
        self.disarmed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn rule(&self, i: usize) -> &dyn Toxic {
        self.rules[i].as_ref()
    }
}
