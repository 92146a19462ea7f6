//! Keyed consumption (`consumers.ordering = "keyed"`): one message of a key at a time over the whole consumer pool,
//! in the order the deliveries reached it; other keys run in parallel.
//!
//! A delivery whose key is being handled (or has an earlier delivery waiting) waits in its key's line, unacked and
//! holding its consumer's prefetch slot (as MassTransit's partitioner holds a ConcurrentMessageLimit slot, and as a
//! Service Bus session is locked to one receiver), until the key's current message finishes: completed,
//! dead-lettered, requeued or handed to delayed redelivery. Then it is released into its consumer's buffer, which
//! holds only deliveries free to start, so starting one costs no scan. A message that comes back later through the
//! broker (delayed redelivery, requeue) joins the end of its key's line: that reorders the key, as in MassTransit.
//!
//! State: one line per key that has deliveries in the pool, so bounded by the deliveries the consumers hold.

use super::engine::Engine;
use crate::broker::Delivery;
use crate::scenario::keys::KeyMap;
use crate::time::Nanos;
use std::collections::{BTreeMap, VecDeque};

/// A delivery of the key in the pool, and when it reached its consumer.
#[derive(Clone, Copy, Debug)]
struct Held {
    d: Delivery,
    since: Nanos,
}

impl Held {
    fn is(&self, d: &Delivery) -> bool {
        self.d.consumer == d.consumer && self.d.tag == d.tag
    }
}

/// The deliveries of one key in the pool: the first is released (in its consumer's buffer, or running), the rest
/// wait here.
#[derive(Debug, Default)]
struct Line {
    queue: VecDeque<Held>,
}

pub struct KeyedPool {
    map: KeyMap,
    /// Keys with deliveries in the pool (a BTreeMap: the same order every run).
    lines: BTreeMap<u32, Line>,
}

/// What consumer `c`'s deliveries leaving the pool changed (`KeyedPool::forget`).
#[derive(Debug, Default, PartialEq)]
struct Forgotten {
    /// `c`'s deliveries that were waiting in a line (not in its buffer).
    waiting: Vec<Delivery>,
    /// Deliveries of other consumers that came first in their line: released now.
    released: Vec<Delivery>,
}

impl KeyedPool {
    pub fn new(map: KeyMap) -> KeyedPool {
        KeyedPool { map, lines: BTreeMap::new() }
    }

    fn key(&self, d: &Delivery) -> u32 {
        self.map.key(d.env.id)
    }

    /// A delivery reached its consumer: it joins the end of its key's line. Whether it is released at once (its key
    /// had nothing in the pool).
    fn arrived(&mut self, d: &Delivery, now: Nanos) -> bool {
        let line = self.lines.entry(self.key(d)).or_default();
        line.queue.push_back(Held { d: *d, since: now });
        line.queue.len() == 1
    }

    /// The released delivery's handler starts; how long it waited in the pool.
    fn start(&mut self, d: &Delivery, now: Nanos) -> Nanos {
        let front = self.lines.get(&self.key(d)).and_then(|l| l.queue.front());
        front.filter(|h| h.is(d)).map_or(0, |h| now.saturating_sub(h.since))
    }

    /// The delivery's handler ended: the key's next delivery, released now, if any.
    fn done(&mut self, d: &Delivery) -> Option<Delivery> {
        let k = self.key(d);
        let line = self.lines.get_mut(&k)?;
        if !line.queue.front().is_some_and(|h| h.is(d)) {
            return None;
        }
        line.queue.pop_front();
        match line.queue.front() {
            Some(next) => Some(next.d),
            None => {
                self.lines.remove(&k);
                None
            }
        }
    }

    /// Consumer `c`'s deliveries leave the pool: all of them (`running_too`: a crash), or all but the one it is
    /// running of each key (its prefetch handed back).
    fn forget(&mut self, c: u32, running_too: bool, running: impl Fn(&Delivery) -> bool) -> Forgotten {
        let mut out = Forgotten::default();
        self.lines.retain(|_, line| {
            let front_before = line.queue.front().map(|h| (h.d.consumer, h.d.tag));
            let mut i = 0;
            line.queue.retain(|h| {
                let (first, keep) = (i == 0, h.d.consumer != c || (!running_too && running(&h.d)));
                i += 1;
                if !keep && !first {
                    out.waiting.push(h.d);
                }
                keep
            });
            let front = line.queue.front().map(|h| h.d);
            if front.is_some_and(|f| Some((f.consumer, f.tag)) != front_before) {
                out.released.extend(front);
            }
            !line.queue.is_empty()
        });
        out
    }
}

impl Engine<'_> {
    /// Keyed consumption: the delivery joins its key's line; whether it is free to start now. Without keyed
    /// consumption every delivery is.
    pub(super) fn keyed_arrived(&mut self, d: &Delivery) -> bool {
        let now = self.now;
        self.keyed.as_mut().is_none_or(|k| k.arrived(d, now))
    }

    /// Keyed consumption: the delivery's handler starts (its wait for the key is recorded).
    pub(super) fn keyed_start(&mut self, d: &Delivery) {
        let Some(k) = &mut self.keyed else { return };
        let waited = k.start(d, self.now);
        if let Some(o) = self.rec.ordering() {
            o.waited(waited);
        }
    }

    /// Keyed consumption: the handler of `d` ended; the key's next delivery is released into its consumer's buffer.
    pub(super) fn keyed_done(&mut self, d: &Delivery) {
        let Some(next) = self.keyed.as_mut().and_then(|k| k.done(d)) else { return };
        self.release(next);
    }

    /// Keyed consumption: consumer `c`'s deliveries leave the pool (a crash: `running_too`; a hand-back: the waiting
    /// ones). Returns `c`'s deliveries that were waiting in a line; releases the ones that came first because of it.
    pub(super) fn keyed_forget(&mut self, c: u32, running_too: bool) -> Vec<Delivery> {
        let consumers = &self.consumers;
        let Some(k) = &mut self.keyed else { return Vec::new() };
        let running = |d: &Delivery| consumers.get(d.consumer as usize).is_some_and(|con| con.is_running(d.tag));
        let f = k.forget(c, running_too, running);
        for d in f.released {
            self.release(d);
        }
        f.waiting
    }

    fn release(&mut self, d: Delivery) {
        if let Some(con) = self.consumers.get_mut(d.consumer as usize) {
            con.buffer.push_back(d);
            self.pump(d.consumer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Envelope;
    use crate::scenario::KeyDistribution;

    fn delivery(consumer: u32, tag: u64, id: u64) -> Delivery {
        let env = Envelope { id, intended: 0, published: 0, size: 0, poison: false, redeliveries: 0 };
        Delivery { consumer, tag, env, delivery_count: 1 }
    }

    #[test]
    fn one_delivery_of_a_key_at_a_time_in_arrival_order_across_consumers() {
        // one key: every message shares it
        let mut pool = KeyedPool::new(KeyMap::new(1, KeyDistribution::Uniform, 1));
        let (a, b, c) = (delivery(0, 1, 0), delivery(1, 1, 1), delivery(0, 2, 2));
        let released: Vec<bool> = [&a, &b, &c].iter().map(|d| pool.arrived(d, 10)).collect();
        assert_eq!(released, [true, false, false], "only the first of the key is free to start");
        assert_eq!(pool.start(&a, 25), 15);
        assert_eq!(pool.done(&a), Some(b), "consumer 1's delivery is next");
        // consumer 1 hands its deliveries back (b was released into its buffer): consumer 0's c comes first
        let f = pool.forget(1, false, |_| false);
        assert_eq!(f, Forgotten { waiting: vec![], released: vec![c] });
        pool.start(&c, 30);
        // consumer 0 crashes while c runs: the key's line is gone
        assert_eq!(pool.forget(0, true, |_| true), Forgotten::default());
        assert!(pool.lines.is_empty());
        // a hand-back keeps the running delivery and returns the waiting ones
        let (d, e) = (delivery(2, 1, 3), delivery(2, 2, 4));
        assert_eq!((pool.arrived(&d, 40), pool.arrived(&e, 40)), (true, false));
        assert_eq!(pool.forget(2, false, |x| x.tag == 1), Forgotten { waiting: vec![e], released: vec![] });
        assert_eq!(pool.done(&d), None);
    }
}
