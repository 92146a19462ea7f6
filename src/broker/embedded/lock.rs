//! Service Bus peek-lock on the embedded broker: every delivery's lock runs out `lock_duration` after the broker
//! handed it over (in the client's prefetch buffer too), unless the processor renews it while the handler runs.
//! When it runs out the broker takes the message back at once (delivery count kept, dead-lettered at
//! `max_delivery_count`) although the first consumer may still be working on it; that consumer's later complete,
//! abandon or dead-letter fails (MessageLockLost) and only drops its stale copy.

use super::{EmbeddedBroker, Queued};
use crate::broker::BrokerEvent;
use crate::scenario::PeekLock;
use crate::time::Nanos;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub(super) struct Locks {
    cfg: PeekLock,
    /// (locked until, delivery tag); entries of settled or renewed deliveries are skipped when they come due.
    due: BinaryHeap<Reverse<(Nanos, u64)>>,
    /// Deliveries whose lock ran out and that their consumer still holds.
    stale: u64,
}

impl Locks {
    pub(super) fn new(cfg: PeekLock) -> Locks {
        Locks { cfg, due: BinaryHeap::new(), stale: 0 }
    }

    /// A new delivery: its lock runs until the returned time.
    pub(super) fn lock(&mut self, now: Nanos, tag: u64) -> Nanos {
        let until = now.saturating_add(self.cfg.lock);
        self.due.push(Reverse((until, tag)));
        until
    }

    /// The next time a lock may run out.
    pub(super) fn next(&self) -> Option<Nanos> {
        self.due.peek().map(|Reverse((t, _))| *t)
    }

    pub(super) fn dead_letter_expired(&self) -> bool {
        self.cfg.dead_letter_expired
    }

    /// A consumer settled (or dropped on close) a delivery whose lock had run out.
    pub(super) fn stale_dropped(&mut self) {
        self.stale = self.stale.saturating_sub(1);
    }

    pub(super) fn stale_held(&self) -> u64 {
        self.stale
    }
}

impl EmbeddedBroker {
    /// Locks that ran out by `now`: the broker takes those messages back.
    pub(super) fn expire_locks(&mut self, now: Nanos, out: &mut Vec<BrokerEvent>) {
        let Some(l) = &mut self.locks else { return };
        let mut back: Vec<Queued> = Vec::new();
        while let Some(Reverse((t, tag))) = l.due.peek().copied() {
            if t > now {
                break;
            }
            l.due.pop();
            let Some(h) = self.unacked.get_mut(tag) else { continue };
            if h.lost || h.locked_until != t {
                continue;
            }
            h.lost = true;
            l.stale += 1;
            out.push(BrokerEvent::LockExpired { consumer: h.consumer, env: h.q.env(), delivery_count: h.q.count });
            back.push(h.q);
        }
        // Back to the head in delivery order: push the newest first.
        for q in back.into_iter().rev() {
            self.return_to_queue(q, out);
        }
    }

    /// The handler started on a delivery: the processor keeps its lock until `max_auto_lock_renewal` after now
    /// (modelled as one renewal to that point; a lock that already ran out is not renewed).
    pub(super) fn renew(&mut self, now: Nanos, consumer: u32, tag: u64) {
        let Some(l) = &mut self.locks else { return };
        if l.cfg.renew_for == 0 {
            return;
        }
        let Some(h) = self.unacked.get_mut(tag).filter(|h| h.consumer == consumer && !h.lost) else { return };
        let until = now.saturating_add(l.cfg.renew_for);
        if until > h.locked_until {
            h.locked_until = until;
            l.due.push(Reverse((until, tag)));
        }
    }
}
