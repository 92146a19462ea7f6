//! Per connection: which toxics affect it (the toxicity draws), their seeded streams, and the rule that asks
//! them: the active toxics in schedule order, the first that does not `Pass` wins.

use super::stats::Counters;
use super::toxic::{ChunkCtx, Direction, Event, Verdict};
use super::Schedule;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the connection's watcher should do next.
pub(crate) enum Plan {
    /// A toxic that acts without data is active for this connection: tick soon.
    Tick,
    /// None is active yet: sleep until this instant (the next such window's start).
    Until(Instant),
    /// The schedule has no origin yet: look again later.
    Later,
    /// None will ever be active for this connection.
    Never,
}

struct PerToxic {
    /// The toxicity draw: whether this toxic affects this connection at all.
    affected: bool,
    /// Whether `connections_affected` has counted this connection yet.
    counted: bool,
    /// The direction's written bytes when the toxic was first seen active for this connection.
    base: Option<u64>,
    rng: ChaCha8Rng,
}

pub(crate) struct Judge {
    schedule: Arc<Schedule>,
    counters: Arc<Counters>,
    accept: Instant,
    /// Bytes written on this connection, by `Direction::index()`.
    written: [AtomicU64; 2],
    toxics: Mutex<Vec<PerToxic>>,
}

impl Judge {
    pub fn new(schedule: Arc<Schedule>, counters: Arc<Counters>, seed: u64, conn: u64, accept: Instant) -> Judge {
        let toxics = schedule
            .toxics()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let key = splitmix64(seed ^ splitmix64(conn ^ splitmix64(i as u64 ^ 0x70c1_c170_0000_0000)));
                PerToxic {
                    affected: unit(splitmix64(key ^ 1)) < t.toxicity,
                    counted: false,
                    base: None,
                    rng: ChaCha8Rng::seed_from_u64(splitmix64(key ^ 2)),
                }
            })
            .collect();
        Judge {
            schedule,
            counters,
            accept,
            written: [AtomicU64::new(0), AtomicU64::new(0)],
            toxics: Mutex::new(toxics),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts `n` bytes written in `dir`.
    pub fn wrote(&self, dir: Direction, n: usize) {
        self.written[dir.index()].fetch_add(n as u64, Relaxed);
        self.counters.bytes[dir.index()].fetch_add(n as u64, Relaxed);
    }

    /// Asks the active toxics of `dir` (of both directions for a tick, `dir = None`) that affect this connection,
    /// in schedule order; returns the first that does not pass and its verdict, or `None` if all pass.
    pub fn decide(&self, dir: Option<Direction>, event: Event, arrival: Instant) -> Option<(usize, Verdict)> {
        let now = Instant::now();
        let origin = self.schedule.origin()?;
        let elapsed = now.saturating_duration_since(origin);
        let toxics = self.schedule.toxics();
        // Fast path: no lock, no allocation when nothing is active for this direction.
        let first = (0..toxics.len())
            .find(|&i| dir.is_none_or(|d| toxics[i].direction == d) && self.schedule.is_active(i, elapsed))?;
        let mut state = self.toxics.lock().unwrap_or_else(|e| e.into_inner());
        for (i, t) in toxics.iter().enumerate().skip(first) {
            if !dir.is_none_or(|d| t.direction == d) || !self.schedule.is_active(i, elapsed) {
                continue;
            }
            let Some(per) = state.get_mut(i) else { continue };
            if !per.affected {
                continue;
            }
            let written = self.written[t.direction.index()].load(Relaxed);
            let base = *per.base.get_or_insert(written);
            let mut ctx = ChunkCtx {
                event,
                now,
                arrival,
                active_since: (origin + t.start).max(self.accept),
                bytes_since_active: written.saturating_sub(base),
                rng: &mut per.rng,
            };
            let verdict = self.schedule.rule(i).verdict(&mut ctx);
            if verdict != Verdict::Pass {
                if !per.counted {
                    per.counted = true;
                    self.counters.bump(i, |c| &c.connections_affected, 1);
                }
                return Some((i, verdict));
            }
        }
        None
    }

    /// When the watcher should next ask: only toxics that can act without data and affect this connection count.
    pub fn plan(&self) -> Plan {
        let toxics = self.schedule.toxics();
        let state = self.toxics.lock().unwrap_or_else(|e| e.into_inner());
        let relevant = |i: usize| toxics[i].kind.acts_without_data() && state.get(i).is_some_and(|p| p.affected);
        if !(0..toxics.len()).any(relevant) {
            return Plan::Never;
        }
        let Some(origin) = self.schedule.origin() else { return Plan::Later };
        let elapsed = Instant::now().saturating_duration_since(origin);
        let mut next: Option<Duration> = None;
        for i in (0..toxics.len()).filter(|&i| relevant(i)) {
            if self.schedule.is_active(i, elapsed) {
                return Plan::Tick;
            }
            if toxics[i].start > elapsed && toxics[i].start < toxics[i].end {
                next = Some(next.map_or(toxics[i].start, |n| n.min(toxics[i].start)));
            }
        }
        match next.and_then(|start| origin.checked_add(start)) {
            Some(at) => Plan::Until(at),
            None => Plan::Never,
        }
    }
}

/// SplitMix64 finaliser: spreads nearby keys far apart.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from 53 bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}
