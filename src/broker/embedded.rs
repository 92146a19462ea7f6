//! The embedded broker: an in-process model of one queue with prefetch, unacked accounting, requeue, delivery
//! counting, delivery-limit dead-lettering, scheduled (delayed) messages, TTL expiry and max-length overflow.
//!
//! Semantics follow RabbitMQ quorum queues and Service Bus where they agree: returned messages go back to the head
//! of the queue with their delivery count kept; a message returned after `max_delivery_count` deliveries is
//! dead-lettered (`delivery_limit`); TTL expires messages at the head; `x-max-length` counts ready messages only.
//! Overflow `block` (a model only, no real broker has it) holds the publisher back while the queue is full.
//! With Service Bus semantics (`PeekLock`) a delivery's lock also runs out: see `lock.rs`.

mod lock;
mod tags;

use super::{Broker, BrokerEvent, DeadLetterReason, Delivery, Depths, Envelope};
use crate::scenario::{Overflow, PeekLock, QueueCfg};
use crate::time::Nanos;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use tags::TagMap;

/// A message in the queue: its envelope's fields laid out flat with the broker's own (48 bytes where an `Envelope`
/// plus the two would take 56: a backlog of a million messages is mostly these).
#[derive(Clone, Copy, Debug)]
struct Queued {
    id: u64,
    intended: Nanos,
    published: Nanos,
    /// `Nanos::MAX` when the queue has no TTL.
    expires: Nanos,
    size: u32,
    redeliveries: u32,
    /// Deliveries since the last publish.
    count: u32,
    poison: bool,
}

impl Queued {
    fn new(env: Envelope, expires: Nanos) -> Queued {
        let Envelope { id, intended, published, size, poison, redeliveries } = env;
        Queued { id, intended, published, expires, size, redeliveries, count: 0, poison }
    }

    fn env(&self) -> Envelope {
        let Queued { id, intended, published, size, poison, redeliveries, .. } = *self;
        Envelope { id, intended, published, size, poison, redeliveries }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DelayedKey {
    due: Nanos,
    seq: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Channel {
    open: bool,
    paused: bool,
    prefetch: u32,
    unacked: u32,
}

impl Channel {
    fn credit(&self) -> bool {
        self.open && !self.paused && self.unacked < self.prefetch
    }
}

pub struct EmbeddedBroker {
    max_delivery_count: Option<u32>,
    ttl: Option<Nanos>,
    max_length: Option<u64>,
    overflow: Overflow,
    ready: VecDeque<Queued>,
    delayed: BinaryHeap<Reverse<DelayedKey>>,
    delayed_envs: TagMap<Envelope>,
    next_seq: u64,
    unacked: TagMap<Held>,
    channels: Vec<Channel>,
    next_tag: u64,
    rr: usize,
    dead: u64,
    /// Service Bus semantics: locks that run out; `None` under RabbitMQ's.
    locks: Option<lock::Locks>,
    /// Publisher confirms (`broker.confirm_latency` > 0): when each outstanding one arrives, oldest first (at most
    /// `confirm_window` of them; a full window blocks the publisher).
    confirms: VecDeque<Nanos>,
    confirm_latency: Nanos,
    confirm_window: usize,
}

/// A delivery as the broker keeps it until the consumer settles it.
#[derive(Clone, Copy, Debug)]
struct Held {
    consumer: u32,
    q: Queued,
    /// When its lock runs out (`Nanos::MAX` under RabbitMQ semantics).
    locked_until: Nanos,
    /// The lock ran out and the broker took the message back; the consumer still holds its stale copy (and the
    /// prefetch slot) until it tries to settle it.
    lost: bool,
}

/// What settling a delivery found.
enum Taken {
    /// The consumer held the lock: here is the message.
    Live(Queued),
    /// The lock had run out: only the consumer's stale copy was dropped.
    Lost,
    /// No such delivery for this consumer.
    Unknown,
}

impl EmbeddedBroker {
    /// `peek_lock`: Service Bus semantics (`Scenario::peek_lock`); `None` for RabbitMQ's.
    pub fn new(q: &QueueCfg, peek_lock: Option<PeekLock>) -> EmbeddedBroker {
        EmbeddedBroker {
            max_delivery_count: q.max_delivery_count,
            ttl: q.message_ttl.map(|d| d.ns()),
            max_length: q.max_length,
            overflow: q.overflow,
            ready: VecDeque::new(),
            delayed: BinaryHeap::new(),
            delayed_envs: TagMap::default(),
            next_seq: 0,
            unacked: TagMap::default(),
            channels: Vec::new(),
            next_tag: 1,
            rr: 0,
            dead: 0,
            locks: peek_lock.map(lock::Locks::new),
            confirms: VecDeque::new(),
            confirm_latency: 0,
            confirm_window: 0,
        }
    }

    /// Publisher confirms take `latency` each and at most `window` may be outstanding (`broker.confirm_latency`,
    /// `producers.confirm_window`); a latency of 0 or a window of 0 (confirms off) never blocks.
    pub fn with_confirms(mut self, latency: Nanos, window: u32) -> EmbeddedBroker {
        if latency > 0 && window > 0 {
            (self.confirm_latency, self.confirm_window) = (latency, window as usize);
        }
        self
    }

    fn channel(&mut self, consumer: u32) -> &mut Channel {
        let i = consumer as usize;
        if self.channels.len() <= i {
            self.channels.resize(i + 1, Channel::default());
        }
        &mut self.channels[i]
    }

    fn expiry(&self, now: Nanos) -> Nanos {
        self.ttl.map(|t| now.saturating_add(t)).unwrap_or(Nanos::MAX)
    }

    fn dead_letter_env(&mut self, env: Envelope, reason: DeadLetterReason, out: &mut Vec<BrokerEvent>) {
        self.dead += 1;
        out.push(BrokerEvent::DeadLettered { env, reason });
    }

    /// Appends a newly published (or newly due) message, applying max-length. Under overflow = block nothing is
    /// dropped or refused: the engine does not publish into a full queue (`publish_blocked`), and what the broker
    /// moves in itself (a delayed message falling due) is let in over the bound, as a requeue is.
    fn enqueue(&mut self, now: Nanos, env: Envelope, refuse_when_full: bool, out: &mut Vec<BrokerEvent>) {
        if let Some(max) = self.max_length.filter(|_| self.overflow != Overflow::Block) {
            if self.ready.len() as u64 >= max {
                if refuse_when_full && self.overflow == Overflow::RejectPublish {
                    out.push(BrokerEvent::PublishRefused { env });
                    return;
                }
                if let Some(head) = self.ready.pop_front() {
                    self.dead_letter_env(head.env(), DeadLetterReason::MaxLength, out);
                }
            }
        }
        let expires = self.expiry(now);
        self.ready.push_back(Queued::new(env, expires));
    }

    /// A delivered message comes back (nack with requeue, consumer gone): to the head, or dead-lettered at its limit.
    fn return_to_queue(&mut self, q: Queued, out: &mut Vec<BrokerEvent>) {
        if self.max_delivery_count.is_some_and(|max| q.count >= max) {
            self.dead_letter_env(q.env(), DeadLetterReason::DeliveryLimit, out);
        } else {
            self.ready.push_front(q);
        }
    }

    fn take_unacked(&mut self, consumer: u32, tag: u64) -> Taken {
        match self.unacked.get(tag) {
            Some(h) if h.consumer == consumer => {}
            _ => return Taken::Unknown,
        }
        let Some(h) = self.unacked.remove(tag) else { return Taken::Unknown };
        let ch = self.channel(consumer);
        ch.unacked = ch.unacked.saturating_sub(1);
        if h.lost {
            if let Some(l) = &mut self.locks {
                l.stale_dropped();
            }
            return Taken::Lost;
        }
        Taken::Live(h.q)
    }

    fn expire_head(&mut self, now: Nanos, out: &mut Vec<BrokerEvent>) {
        while let Some(head) = self.ready.front() {
            if head.expires > now {
                break;
            }
            let env = head.env();
            self.ready.pop_front();
            if self.locks.as_ref().is_some_and(|l| l.dead_letter_expired()) {
                self.dead_letter_env(env, DeadLetterReason::TtlExpired, out);
            } else {
                out.push(BrokerEvent::Expired { env });
            }
        }
    }

    /// Hands ready messages to consumers with free prefetch, round-robin.
    fn dispatch(&mut self, now: Nanos, out: &mut Vec<BrokerEvent>) {
        let n = self.channels.len();
        while !self.ready.is_empty() && n > 0 {
            let Some(pick) = (0..n).map(|k| (self.rr + k) % n).find(|&i| self.channels[i].credit()) else {
                break;
            };
            self.expire_head(now, out);
            let Some(mut q) = self.ready.pop_front() else { break };
            self.rr = (pick + 1) % n;
            q.count += 1;
            let tag = self.next_tag;
            self.next_tag += 1;
            self.channels[pick].unacked += 1;
            let locked_until = match &mut self.locks {
                Some(l) => l.lock(now, tag),
                None => Nanos::MAX,
            };
            self.unacked.insert(tag, Held { consumer: pick as u32, q, locked_until, lost: false });
            out.push(BrokerEvent::Delivered(Delivery {
                consumer: pick as u32,
                tag,
                env: q.env(),
                delivery_count: q.count,
            }));
        }
    }
}

impl Broker for EmbeddedBroker {
    fn publish(&mut self, now: Nanos, env: Envelope, out: &mut Vec<BrokerEvent>) {
        if self.confirm_window > 0 {
            self.confirms.push_back(now.saturating_add(self.confirm_latency));
        }
        self.expire_head(now, out);
        self.enqueue(now, env, true, out);
        self.dispatch(now, out);
    }

    fn publish_delayed(&mut self, now: Nanos, env: Envelope, due: Nanos, out: &mut Vec<BrokerEvent>) {
        if due <= now {
            self.expire_head(now, out);
            self.enqueue(now, env, false, out);
            self.dispatch(now, out);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.delayed.push(Reverse(DelayedKey { due, seq }));
        self.delayed_envs.insert(seq, env);
    }

    fn ack(&mut self, now: Nanos, consumer: u32, tag: u64, out: &mut Vec<BrokerEvent>) {
        if !matches!(self.take_unacked(consumer, tag), Taken::Unknown) {
            self.dispatch(now, out);
        }
    }

    fn nack(&mut self, now: Nanos, consumer: u32, tag: u64, requeue: bool, out: &mut Vec<BrokerEvent>) {
        match self.take_unacked(consumer, tag) {
            Taken::Live(q) => {
                if requeue {
                    self.return_to_queue(q, out);
                } else {
                    self.dead_letter_env(q.env(), DeadLetterReason::Rejected, out);
                }
            }
            Taken::Lost => {}
            Taken::Unknown => return,
        }
        self.dispatch(now, out);
    }

    fn dead_letter(
        &mut self,
        now: Nanos,
        consumer: u32,
        tag: u64,
        reason: DeadLetterReason,
        out: &mut Vec<BrokerEvent>,
    ) {
        match self.take_unacked(consumer, tag) {
            Taken::Live(q) => self.dead_letter_env(q.env(), reason, out),
            Taken::Lost => {}
            Taken::Unknown => return,
        }
        self.dispatch(now, out);
    }

    fn open_consumer(&mut self, now: Nanos, consumer: u32, prefetch: u32, out: &mut Vec<BrokerEvent>) {
        let ch = self.channel(consumer);
        ch.open = true;
        ch.paused = false;
        ch.prefetch = prefetch;
        self.dispatch(now, out);
    }

    fn close_consumer(&mut self, now: Nanos, consumer: u32, out: &mut Vec<BrokerEvent>) {
        let ch = self.channel(consumer);
        ch.open = false;
        ch.unacked = 0;
        let tags = self.unacked.keys_where(|h| h.consumer == consumer);
        // Back to the head in their original order: push the newest first. Lost locks are already back.
        for tag in tags.into_iter().rev() {
            match self.unacked.remove(tag) {
                Some(h) if h.lost => {
                    if let Some(l) = &mut self.locks {
                        l.stale_dropped();
                    }
                }
                Some(h) => self.return_to_queue(h.q, out),
                None => {}
            }
        }
        self.dispatch(now, out);
    }

    fn pause_consumer(&mut self, _now: Nanos, consumer: u32) {
        self.channel(consumer).paused = true;
    }

    fn publish_blocked(&self) -> bool {
        let full =
            self.overflow == Overflow::Block && self.max_length.is_some_and(|max| self.ready.len() as u64 >= max);
        full || (self.confirm_window > 0 && self.confirms.len() >= self.confirm_window)
    }

    fn next_wake(&self) -> Option<Nanos> {
        let delayed = self.delayed.peek().map(|Reverse(k)| k.due);
        let expiry = self.ready.front().map(|q| q.expires).filter(|&e| e != Nanos::MAX);
        let lock = self.locks.as_ref().and_then(|l| l.next());
        let confirm = self.confirms.front().copied();
        [delayed, expiry, lock, confirm].into_iter().flatten().min()
    }

    fn wake(&mut self, now: Nanos, out: &mut Vec<BrokerEvent>) {
        while self.confirms.front().is_some_and(|&due| due <= now) {
            self.confirms.pop_front();
        }
        self.expire_locks(now, out);
        self.expire_head(now, out);
        while let Some(Reverse(k)) = self.delayed.peek().copied() {
            if k.due > now {
                break;
            }
            self.delayed.pop();
            if let Some(env) = self.delayed_envs.remove(k.seq) {
                self.enqueue(now, env, false, out);
            }
        }
        self.dispatch(now, out);
    }

    fn holds_lock(&self, consumer: u32, tag: u64) -> bool {
        if self.locks.is_none() {
            return true;
        }
        self.unacked.get(tag).is_some_and(|h| h.consumer == consumer && !h.lost)
    }

    fn handler_started(&mut self, now: Nanos, consumer: u32, tag: u64) {
        self.renew(now, consumer, tag);
    }

    fn depths(&self) -> Depths {
        let stale = self.locks.as_ref().map_or(0, |l| l.stale_held());
        Depths {
            ready: self.ready.len() as u64,
            unacked: self.unacked.len() as u64 - stale,
            delayed: self.delayed.len() as u64,
            dead: self.dead,
            external_consumers: None,
        }
    }
}

#[cfg(test)]
mod tests;
