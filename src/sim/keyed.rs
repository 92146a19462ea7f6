//! Keyed consumption (`consumers.ordering = "keyed"`): one message of a key at a time over the whole consumer pool,
//! in the order the deliveries reached it; other keys run in parallel.
//!
//! A delivery whose key is being handled (or has an earlier delivery waiting) waits in its consumer's prefetch
//! buffer, unacked and holding its prefetch slot (as MassTransit's partitioner holds a ConcurrentMessageLimit slot,
//! and as a Service Bus session is locked to one receiver), until the key's current message finishes: completed,
//! dead-lettered, requeued or handed to delayed redelivery. A message that comes back later through the broker
//! (delayed redelivery, requeue) joins the end of its key's line: that reorders the key, as it does in MassTransit.
//!
//! State: one line per key that has deliveries in the pool, so bounded by the deliveries the consumers hold.

use super::engine::Engine;
use crate::broker::Delivery;
use crate::scenario::keys::KeyMap;
use crate::time::Nanos;
use std::collections::{BTreeMap, VecDeque};

/// A delivery of the key in the pool.
#[derive(Clone, Copy, Debug)]
struct Held {
    consumer: u32,
    tag: u64,
    since: Nanos,
}

impl Held {
    fn is(&self, d: &Delivery) -> bool {
        self.consumer == d.consumer && self.tag == d.tag
    }
}

#[derive(Debug, Default)]
struct Line {
    /// The front delivery's handler is running.
    running: bool,
    queue: VecDeque<Held>,
}

pub struct KeyedPool {
    map: KeyMap,
    /// Keys with deliveries in the pool (a BTreeMap: the same order every run).
    lines: BTreeMap<u32, Line>,
}

impl KeyedPool {
    pub fn new(map: KeyMap) -> KeyedPool {
        KeyedPool { map, lines: BTreeMap::new() }
    }

    fn key(&self, d: &Delivery) -> u32 {
        self.map.key(d.env.id)
    }

    /// A delivery reached its consumer: it joins the end of its key's line.
    fn arrived(&mut self, d: &Delivery, now: Nanos) {
        let held = Held { consumer: d.consumer, tag: d.tag, since: now };
        self.lines.entry(self.key(d)).or_default().queue.push_back(held);
    }

    /// The delivery is first in its key's line and nothing of its key runs.
    pub fn startable(&self, d: &Delivery) -> bool {
        self.lines.get(&self.key(d)).is_some_and(|l| !l.running && l.queue.front().is_some_and(|h| h.is(d)))
    }

    /// The delivery's handler starts; how long it waited in the pool.
    fn start(&mut self, d: &Delivery, now: Nanos) -> Nanos {
        let Some(line) = self.lines.get_mut(&self.map.key(d.env.id)) else { return 0 };
        line.running = true;
        line.queue.front().map_or(0, |h| now.saturating_sub(h.since))
    }

    /// The delivery's handler ended: the consumer holding the key's next delivery, if any.
    fn done(&mut self, d: &Delivery) -> Option<u32> {
        let k = self.key(d);
        let line = self.lines.get_mut(&k)?;
        if line.queue.front().is_some_and(|h| h.is(d)) {
            line.queue.pop_front();
            line.running = false;
        }
        match line.queue.front() {
            Some(next) => Some(next.consumer),
            None => {
                self.lines.remove(&k);
                None
            }
        }
    }

    /// Consumer `c`'s deliveries leave the pool: all of them (`running_too`, a crash) or those still waiting (their
    /// prefetch handed back). The consumers whose deliveries came first in their line because of it.
    fn forget(&mut self, c: u32, running_too: bool) -> Vec<u32> {
        let mut woken = Vec::new();
        self.lines.retain(|_, line| {
            let front_before = line.queue.front().copied().map(|h| (h.consumer, h.tag));
            let mut first = true;
            line.queue.retain(|h| {
                let running = first && line.running;
                first = false;
                h.consumer != c || (running && !running_too)
            });
            if line.running && front_before.is_some_and(|(fc, _)| fc == c) && running_too {
                line.running = false;
            }
            let front_now = line.queue.front().map(|h| (h.consumer, h.tag));
            if let (Some((next, _)), false) = (front_now, front_now == front_before) {
                woken.push(next);
            }
            !line.queue.is_empty()
        });
        woken.sort_unstable();
        woken.dedup();
        woken
    }
}

impl Engine<'_> {
    /// Keyed consumption: the delivery joins its key's line.
    pub(super) fn keyed_arrived(&mut self, d: &Delivery) {
        if let Some(k) = &mut self.keyed {
            k.arrived(d, self.now);
        }
    }

    /// Keyed consumption: the delivery's handler starts (its wait for the key is recorded).
    pub(super) fn keyed_start(&mut self, d: &Delivery) {
        let Some(k) = &mut self.keyed else { return };
        let waited = k.start(d, self.now);
        if let Some(o) = self.rec.ordering() {
            o.waited(waited);
        }
    }

    /// Keyed consumption: consumer `c`'s handler of `d` ended; the key's next delivery may start.
    pub(super) fn keyed_done(&mut self, c: u32, d: &Delivery) {
        let Some(k) = &mut self.keyed else { return };
        if let Some(next) = k.done(d).filter(|&n| n != c) {
            self.pump(next);
        }
    }

    /// Keyed consumption: consumer `c`'s deliveries left the pool (see `KeyedPool::forget`).
    pub(super) fn keyed_forget(&mut self, c: u32, running_too: bool) {
        let Some(k) = &mut self.keyed else { return };
        for next in k.forget(c, running_too) {
            self.pump(next);
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
        for d in [&a, &b, &c] {
            pool.arrived(d, 10);
        }
        assert!(pool.startable(&a) && !pool.startable(&b) && !pool.startable(&c));
        assert_eq!(pool.start(&a, 25), 15);
        assert!(!pool.startable(&a) && !pool.startable(&b), "the key is held while a runs");
        assert_eq!(pool.done(&a), Some(1), "consumer 1 holds the next one");
        assert!(pool.startable(&b) && !pool.startable(&c));
        // consumer 1 hands its waiting delivery back: consumer 0's is next, and consumer 0 is woken
        assert_eq!(pool.forget(1, false), vec![0]);
        assert!(pool.startable(&c));
        pool.start(&c, 30);
        // consumer 0 crashes while c runs: the key is free again, and its line is gone
        assert_eq!(pool.forget(0, true), Vec::<u32>::new());
        assert!(pool.lines.is_empty());
    }
}
