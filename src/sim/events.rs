//! The event queue of the discrete-event engine: a min-heap on (time, insertion order), so equal times keep
//! the order in which they were scheduled and every run with the same seed replays identically.
//!
//! Timers with one fixed delay (every downstream call's timeout) are due in the order they were set, so they
//! wait in a FIFO beside the heap instead of in it; `pop` takes the earlier of the two heads on (time, insertion
//! order) with one sequence counter for both, which is exactly the order a single heap would give.

use crate::time::Nanos;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Something that happens at a point in scenario time. Handler events carry a token so that events of a
/// consumer that crashed or a slot that moved on are recognised as stale and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// The producer's next intended publish time.
    Publish,
    /// A handler attempt finished its local work.
    LocalDone {
        consumer: u32,
        slot: u32,
        token: u32,
    },
    /// An in-memory retry delay elapsed.
    RetryDue {
        consumer: u32,
        slot: u32,
        token: u32,
    },
    /// The caller's timeout for a downstream call expired.
    CallTimeout {
        consumer: u32,
        slot: u32,
        token: u32,
    },
    /// A refused call's connect delay (`refuse_after`) is over: it fails now.
    CallRefused {
        consumer: u32,
        slot: u32,
        token: u32,
    },
    /// A downstream server finished a request.
    ServerDone {
        req: u32,
        token: u32,
    },
    /// The downstream has been overloaded for the crash delay; check whether it still is.
    CrashCheck {
        generation: u32,
    },
    /// The downstream finished restarting after a crash.
    Restarted {
        generation: u32,
    },
    FaultStart {
        index: u32,
    },
    FaultEnd {
        index: u32,
    },
    /// A crashed or newly scaled-up consumer starts consuming.
    ConsumerUp {
        consumer: u32,
        generation: u32,
    },
    AutoscalePoll,
    /// The kill switch's restart timeout is over: the consumers consume again.
    KillSwitchRestart,
}

#[derive(Debug)]
struct Entry {
    at: Nanos,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // reversed: BinaryHeap is a max-heap
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    /// Events pushed with `push_in_order`, due times never decreasing.
    fifo: VecDeque<Entry>,
    seq: u64,
}

impl EventQueue {
    pub fn push(&mut self, at: Nanos, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry { at, seq: self.seq, ev });
    }

    /// Pushes an event that is due no earlier than every other event pushed this way (a timer with one fixed
    /// delay): O(1). One that would be out of order goes to the heap, so the pop order is the same either way.
    pub fn push_in_order(&mut self, at: Nanos, ev: Ev) {
        if self.fifo.back().is_some_and(|b| b.at > at) {
            return self.push(at, ev);
        }
        self.seq += 1;
        self.fifo.push_back(Entry { at, seq: self.seq, ev });
    }

    /// Whether the FIFO's head comes before the heap's.
    #[inline]
    fn fifo_first(&self) -> bool {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(f), Some(h)) => (f.at, f.seq) < (h.at, h.seq),
            (f, _) => f.is_some(),
        }
    }

    pub fn peek_time(&self) -> Option<Nanos> {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(f), Some(h)) => Some(f.at.min(h.at)),
            (f, h) => f.or(h).map(|e| e.at),
        }
    }

    pub fn pop(&mut self) -> Option<(Nanos, Ev)> {
        let e = if self.fifo_first() { self.fifo.pop_front() } else { self.heap.pop() };
        e.map(|e| (e.at, e.ev))
    }

    /// Whether any pending event satisfies `f` (a linear scan: for rare checks, not the hot path).
    pub fn has_any(&self, f: impl Fn(Ev) -> bool) -> bool {
        self.heap.iter().chain(&self.fifo).any(|e| f(e.ev))
    }
    pub fn len(&self) -> usize {
        self.heap.len() + self.fifo.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.fifo.is_empty()
    }
    /// Events waiting in the heap (the rest are in the FIFO): the heap length the benchmark's floor uses.
    pub fn heap_len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_and_keeps_insertion_order_for_ties() {
        let mut q = EventQueue::default();
        q.push(5, Ev::FaultStart { index: 0 });
        q.push(1, Ev::Publish);
        q.push(5, Ev::FaultStart { index: 1 });
        q.push(3, Ev::AutoscalePoll);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (1, Ev::Publish),
                (3, Ev::AutoscalePoll),
                (5, Ev::FaultStart { index: 0 }),
                (5, Ev::FaultStart { index: 1 })
            ]
        );
    }

    #[test]
    fn in_order_timers_merge_with_the_heap_exactly_as_one_heap_would() {
        // A pseudo-random mix of heap events and fixed-delay timers (one out of order, which goes to the heap).
        let mut merged = EventQueue::default();
        let mut single = EventQueue::default();
        let mut x: u64 = 12345;
        let mut now = 0;
        for i in 0..2000u32 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let ev = Ev::CallTimeout { consumer: 0, slot: 0, token: i };
            if x >> 62 == 0 {
                let at = if i == 999 { now } else { now + 100 };
                merged.push_in_order(at, ev);
                single.push(at, ev);
            } else {
                let at = now + (x >> 33) % 150;
                merged.push(at, ev);
                single.push(at, ev);
            }
            if x & 1 == 0 {
                let (a, b) = (merged.pop(), single.pop());
                assert_eq!(a, b);
                now = a.map_or(now, |(t, _)| t);
            }
            assert_eq!(merged.peek_time(), single.peek_time());
        }
        assert_eq!(merged.len(), single.len());
        let rest: Vec<_> = std::iter::from_fn(|| merged.pop()).collect();
        let want: Vec<_> = std::iter::from_fn(|| single.pop()).collect();
        assert_eq!(rest, want);
    }
}
