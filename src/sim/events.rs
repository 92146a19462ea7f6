//! The event queue of the discrete-event engine: a min-heap on (time, insertion order), so equal times keep
//! the order in which they were scheduled and every run with the same seed replays identically.

use crate::time::Nanos;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

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
    seq: u64,
}

impl EventQueue {
    pub fn push(&mut self, at: Nanos, ev: Ev) {
        self.seq += 1;
        self.heap.push(Entry { at, seq: self.seq, ev });
    }
    pub fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|e| e.at)
    }
    pub fn pop(&mut self) -> Option<(Nanos, Ev)> {
        self.heap.pop().map(|e| (e.at, e.ev))
    }
    /// Whether any pending event satisfies `f` (a linear scan: for rare checks, not the hot path).
    pub fn has_any(&self, f: impl Fn(Ev) -> bool) -> bool {
        self.heap.iter().any(|e| f(e.ev))
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
