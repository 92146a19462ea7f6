//! RabbitMQ through lapin: the engine's `Broker` calls become commands to lapin tasks (publishing, consuming) on a
//! small tokio runtime; what the broker does comes back as events on one channel that the engine's loop waits on.
//! Acks and nacks go straight from the engine's thread onto the consumer's channel (lapin queues the frame at the
//! first poll; nothing waits). Publishing and consuming use separate connections, named with the run id.

mod bridge;
pub mod connect;
mod consume;
pub mod dlq;
pub mod faults;
mod finish;
mod message;
mod publisher;
mod setup;
pub mod topology;

use crate::broker::real::{RealBroker, RealClock, RealReport};
use crate::broker::{Broker, BrokerEvent, DeadLetterReason, Delivery, Depths, Envelope};
use crate::record::ledger::BitSet;
use crate::time::Nanos;
use bridge::{AckToken, Dead, Incoming, Shared};
use futures_util::FutureExt;
use hdrhistogram::Histogram;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use publisher::Target;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

pub use setup::{connect, fresh_run_id, Options};

/// Most publishes outstanding (handed to the publisher and not settled) before the producer is held back.
pub fn publish_limit(window: u32) -> u64 {
    (window.max(64) as u64) * 2
}

/// Broker events handled in one `wait` before the loop looks at its timers again.
const BATCH: usize = 256;

/// The engine's tag for a delivery: the channel's generation above the broker's delivery tag.
fn engine_tag(gen: u32, delivery_tag: u64) -> u64 {
    ((gen as u64) << 40) | (delivery_tag & ((1 << 40) - 1))
}
fn split_tag(tag: u64) -> (u32, u64) {
    ((tag >> 40) as u32, tag & ((1 << 40) - 1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Paused,
    Closed,
}

/// One engine consumer as this side knows it.
struct Consumer {
    /// The engine's latest request for it (open, pause, close); answers to older ones are stale.
    seq: u32,
    state: State,
    /// The channel generation deliveries must carry; 0 until the channel is ready.
    gen: u32,
    channel: Option<Channel>,
    prefetch: u32,
    /// Messages of others held unacked on the current channel (returned when it closes, never requeued in a loop).
    foreign_held: u32,
}

/// Counters for the report.
#[derive(Default)]
struct Counts {
    deliveries: u64,
    redelivered: u64,
    stale_acks: u64,
    requeued_by_outages: u64,
    duplicate_dead_letters: u64,
    foreign: u64,
}

pub struct RabbitBroker {
    rt: tokio::runtime::Runtime,
    clock: RealClock,
    rx: Receiver<Incoming>,
    publish: UnboundedSender<publisher::Publish>,
    /// Asks the publisher to stop (once, at the end).
    stop_publisher: Option<tokio::sync::oneshot::Sender<publisher::Stop>>,
    consume: UnboundedSender<consume::Command>,
    shared: Arc<Shared>,
    window: u32,
    time_scale: f64,
    /// Redelivery delays as configured (wall-clock ms): these get a delay queue of exactly their length.
    exact_delays: Vec<u64>,
    consumers: Vec<Consumer>,
    /// Deliveries handed to the engine and not yet acked, nacked or moved: what the broker holds unacked for us.
    unacked: HashMap<(u32, u64), Envelope>,
    /// Due times of delayed redeliveries not yet due.
    delayed: BinaryHeap<Reverse<Nanos>>,
    /// Delayed copies on their way, by (message, redelivery number): due time and delay queue (wall ms).
    due_of: HashMap<(u64, u32), (Nanos, u64)>,
    /// How late redeliveries came back, per delay queue (wall ms), in wall-clock microseconds.
    lateness: BTreeMap<u64, Histogram<u64>>,
    dead_seen: BitSet,
    dead: u64,
    refused: BitSet,
    counts: Counts,
    handoff: Histogram<u64>,
    fatal: Option<String>,
    produce_only: bool,
    /// Produce-only: publishes submitted when all were last settled, and the depth poll count then.
    settled_at: Option<(u64, u64)>,
    drained_at: Option<Nanos>,
    /// Scenario time of the latest publish the engine made.
    last_publish: Nanos,
    info: setup::Info,
    /// The fault proxy the connections go through, and its timeline of toxics.
    proxy: Option<(crate::proxy::Proxy, Arc<crate::proxy::Schedule>)>,
    /// The thread that runs the broker faults (dropping it restores the broker).
    faults: Option<faults::Driver>,
    /// The scenario's faults (the network ones are reported from the proxy).
    fault_plan: Vec<crate::scenario::Fault>,
}

impl RabbitBroker {
    fn consumer(&mut self, c: u32) -> &mut Consumer {
        let i = c as usize;
        if self.consumers.len() <= i {
            self.consumers.resize_with(i + 1, || Consumer {
                seq: 0,
                state: State::Closed,
                gen: 0,
                channel: None,
                prefetch: 0,
                foreign_held: 0,
            });
        }
        &mut self.consumers[i]
    }

    /// Every publish (copies too: they share the confirm window) counts as submitted until the publisher settles it.
    fn send(&self, p: publisher::Publish) {
        self.shared.submitted.fetch_add(1, Ordering::AcqRel);
        let _ = self.publish.send(p);
    }

    /// A delayed copy is due, or came due less than `grace` ago and has not come back: more is to come.
    fn expecting(&self, grace: Nanos) -> bool {
        let now = self.clock.now();
        self.due_of.values().any(|(due, _)| due.saturating_add(grace) > now)
    }

    /// Acks or nacks on the delivery's channel if it is still the live one. Never waits: the first poll of lapin's
    /// future queues the frame for its I/O loop.
    fn settle_delivery(&mut self, consumer: u32, tag: u64, nack: Option<bool>) {
        self.unacked.remove(&(consumer, tag));
        let (gen, delivery_tag) = split_tag(tag);
        let c = self.consumer(consumer);
        let live = c.gen == gen && c.state != State::Closed;
        let sent = match (&c.channel, live) {
            (Some(ch), true) => match nack {
                None => ch.basic_ack(delivery_tag, BasicAckOptions::default()).now_or_never(),
                Some(requeue) => {
                    ch.basic_nack(delivery_tag, BasicNackOptions { multiple: false, requeue }).now_or_never()
                }
            },
            _ => None,
        };
        if !live || matches!(sent, Some(Err(_))) {
            self.counts.stale_acks += 1;
        }
    }

    /// The delay queue a redelivery goes to: its configured length exactly, or (jittered delays) the nearest of a
    /// ladder of lengths 2^(k/16) ms apart (within 2.2%), so that jitter does not need a queue per message.
    fn delay_target(&self, now: Nanos, due: Nanos) -> Target {
        let ms = topology::wall_ms(due.saturating_sub(now), self.time_scale);
        if ms < 16 || self.exact_delays.contains(&ms) {
            return Target::Delay(ms);
        }
        let k = (16.0 * (ms as f64).log2()).round();
        Target::Delay(2f64.powf(k / 16.0).round() as u64)
    }

    /// Produce-only: the queue counts as drained once every publish is settled and two depth polls after that
    /// found it empty.
    fn track_drain(&mut self, now: Nanos) {
        let submitted = self.shared.submitted.load(Ordering::Acquire);
        let polls = self.shared.polls.load(Ordering::Acquire);
        if self.shared.in_flight() > 0 || submitted == 0 {
            self.settled_at = None;
            self.drained_at = None;
            return;
        }
        match self.settled_at {
            Some((at_submitted, _)) if at_submitted != submitted => self.settled_at = Some((submitted, polls)),
            None => self.settled_at = Some((submitted, polls)),
            Some(_) => {}
        }
        let Some((_, at_polls)) = self.settled_at else { return };
        let empty = self.shared.ready.load(Ordering::Acquire) == 0;
        if polls >= at_polls + 2 && empty {
            self.drained_at.get_or_insert(now);
        } else if !empty {
            self.drained_at = None;
        }
    }

    /// A delayed copy is back: how late, against its due time.
    fn returned(&mut self, env: Envelope, received: Instant) {
        let Some((due, ms)) = self.due_of.remove(&(env.id, env.redeliveries)) else { return };
        let late = self.clock.at(received).saturating_sub(due);
        let wall_us = self.clock.wall(late).as_micros() as u64;
        self.lateness.entry(ms).or_insert_with(crate::record::new_histogram).saturating_record(wall_us.max(1));
    }

    /// Sends a delayed copy and remembers when it is due.
    fn send_delayed(&mut self, now: Nanos, env: Envelope, due: Nanos, then_ack: Option<AckToken>) {
        self.delayed.push(Reverse(due));
        let target = self.delay_target(now, due);
        if let Target::Delay(ms) = target {
            self.due_of.insert((env.id, env.redeliveries), (due, ms));
        }
        self.send(publisher::Publish::new(env, target, None, then_ack));
    }

    fn incoming(&mut self, m: Incoming, out: &mut Vec<BrokerEvent>) {
        match m {
            Incoming::Delivery { consumer, gen, delivery_tag, env, count, redelivered, received } => {
                let tag = engine_tag(gen, delivery_tag);
                let c = self.consumer(consumer);
                if c.gen != gen {
                    return; // from a channel closed since: the broker has taken it back
                }
                match c.state {
                    State::Open => {
                        if env.redeliveries > 0 {
                            self.returned(env, received);
                        }
                        // Nanoseconds, so that the report's percentiles (which divide by 1000) read in microseconds.
                        let ns = received.elapsed().as_nanos().min(u64::MAX as u128) as u64;
                        self.handoff.saturating_record(ns.max(1));
                        self.counts.deliveries += 1;
                        self.counts.redelivered += redelivered as u64;
                        self.unacked.insert((consumer, tag), env);
                        out.push(BrokerEvent::Delivered(Delivery { consumer, tag, env, delivery_count: count }));
                    }
                    // Arrived after basic.cancel: give it back at once.
                    State::Paused => self.settle_delivery(consumer, tag, Some(true)),
                    State::Closed => {}
                }
            }
            Incoming::Foreign { consumer, gen } => {
                // Someone else's message on the queue: keep it unacked (the broker gets it back when the channel
                // closes). Requeueing it would hand it straight back, in a loop, raising its delivery count.
                self.counts.foreign += 1;
                let q = self.info.names.work.clone();
                let c = self.consumer(consumer);
                if c.gen == gen {
                    c.foreign_held += 1;
                    if c.foreign_held >= c.prefetch.max(1) {
                        self.fatal.get_or_insert_with(|| {
                            format!(
                                "the queue {q} holds messages this run did not publish, and they fill consumer \
                                 {consumer}'s prefetch; empty the queue, or run on a queue of the run's own"
                            )
                        });
                    }
                }
            }
            Incoming::Dead { env, what, redelivered } => {
                if self.dead_seen.get(env.id) {
                    // Seen already: a re-read after a reconnect (redelivered), or a second copy (at-least-once).
                    self.counts.duplicate_dead_letters += !redelivered as u64;
                    return;
                }
                self.dead_seen.set(env.id);
                self.dead += 1;
                out.push(match what {
                    Dead::Letter(reason) => BrokerEvent::DeadLettered { env, reason },
                    Dead::Expired => BrokerEvent::Expired { env },
                });
            }
            Incoming::Nacked { env } => {
                self.refused.set(env.id);
                out.push(BrokerEvent::PublishRefused { env });
            }
            Incoming::AckNow(AckToken { consumer, tag }) => self.settle_delivery(consumer, tag, None),
            Incoming::RequeueNow(AckToken { consumer, tag }) => self.settle_delivery(consumer, tag, Some(true)),
            Incoming::ConsumerReady { consumer, seq, gen, channel } => {
                let c = self.consumer(consumer);
                // A channel opened for the latest request, or (reopened after a reconnect) for the open that a
                // pause followed: either way it is the live channel to ack on.
                let live = (c.seq == seq && c.state == State::Open) || (c.state == State::Paused && seq < c.seq);
                if !live {
                    return;
                }
                let old = c.gen;
                c.gen = gen;
                c.channel = Some(channel);
                c.foreign_held = 0;
                if old != 0 {
                    // A new channel after a lost connection: the broker requeued what the old one held.
                    let before = self.unacked.len();
                    self.unacked.retain(|(k, t), _| *k != consumer || split_tag(*t).0 == gen);
                    self.counts.requeued_by_outages += (before - self.unacked.len()) as u64;
                }
            }
            Incoming::ConsumerEnded { consumer, gen, error } => {
                let c = self.consumer(consumer);
                if c.gen != gen || c.state != State::Open {
                    return;
                }
                match error {
                    None => {
                        let q = &self.info.names.work;
                        self.fatal.get_or_insert_with(|| {
                            format!(
                                "RabbitMQ cancelled consumer {consumer} on {q}: the queue was deleted (or its node went \
                                 away)"
                            )
                        });
                    }
                    // The channel failed under it (the connection may be fine): open a new one. After a lost
                    // connection the consuming task reopens it anyway; the later request wins.
                    Some(_) => {
                        let prefetch = c.prefetch;
                        self.open_consumer(self.clock.now(), consumer, prefetch, &mut Vec::new());
                    }
                }
            }
            Incoming::Wake => {}
            Incoming::Fatal(why) => {
                self.fatal.get_or_insert(why);
            }
        }
    }
}

impl Broker for RabbitBroker {
    fn publish(&mut self, now: Nanos, env: Envelope, _out: &mut Vec<BrokerEvent>) {
        self.last_publish = now;
        self.send(publisher::Publish::new(env, Target::Work, None, None));
    }

    fn publish_delayed(&mut self, now: Nanos, env: Envelope, due: Nanos, _out: &mut Vec<BrokerEvent>) {
        self.send_delayed(now, env, due, None);
    }

    fn redeliver_later(
        &mut self,
        now: Nanos,
        consumer: u32,
        tag: u64,
        env: Envelope,
        due: Nanos,
        _out: &mut Vec<BrokerEvent>,
    ) {
        if !self.unacked.contains_key(&(consumer, tag)) {
            // Its channel is gone and the broker has requeued the original: a copy would be a duplicate.
            self.counts.stale_acks += 1;
            return;
        }
        self.send_delayed(now, env, due, Some(AckToken { consumer, tag }));
    }

    fn ack(&mut self, _now: Nanos, consumer: u32, tag: u64, _out: &mut Vec<BrokerEvent>) {
        self.settle_delivery(consumer, tag, None);
    }

    fn nack(&mut self, _now: Nanos, consumer: u32, tag: u64, requeue: bool, _out: &mut Vec<BrokerEvent>) {
        self.settle_delivery(consumer, tag, Some(requeue));
    }

    fn dead_letter(
        &mut self,
        _now: Nanos,
        consumer: u32,
        tag: u64,
        reason: DeadLetterReason,
        _out: &mut Vec<BrokerEvent>,
    ) {
        let Some(env) = self.unacked.get(&(consumer, tag)).copied() else {
            self.counts.stale_acks += 1;
            return;
        };
        let target = if reason.skipped() { Target::Skipped } else { Target::Error };
        let then_ack = Some(AckToken { consumer, tag });
        self.send(publisher::Publish::new(env, target, Some(reason), then_ack));
    }

    fn open_consumer(&mut self, _now: Nanos, consumer: u32, prefetch: u32, _out: &mut Vec<BrokerEvent>) {
        let c = self.consumer(consumer);
        c.seq += 1;
        c.state = State::Open;
        c.gen = 0;
        c.channel = None;
        c.prefetch = prefetch;
        c.foreign_held = 0;
        let (seq, prefetch) = (c.seq, prefetch.min(u16::MAX as u32) as u16);
        let _ = self.consume.send(consume::Command::Open { consumer, seq, prefetch });
    }

    fn close_consumer(&mut self, _now: Nanos, consumer: u32, _out: &mut Vec<BrokerEvent>) {
        let c = self.consumer(consumer);
        c.seq += 1;
        c.state = State::Closed;
        c.channel = None;
        let seq = c.seq;
        self.unacked.retain(|(k, _), _| *k != consumer);
        let _ = self.consume.send(consume::Command::Close { consumer, seq });
    }

    fn pause_consumer(&mut self, _now: Nanos, consumer: u32) {
        let c = self.consumer(consumer);
        c.seq += 1;
        c.state = State::Paused;
        let seq = c.seq;
        let _ = self.consume.send(consume::Command::Pause { consumer, seq });
    }

    fn next_wake(&self) -> Option<Nanos> {
        None
    }

    fn wake(&mut self, _now: Nanos, _out: &mut Vec<BrokerEvent>) {}

    fn depths(&self) -> Depths {
        let now = self.clock.now();
        Depths {
            ready: self.shared.ready.load(Ordering::Acquire),
            unacked: self.unacked.len() as u64,
            delayed: self.delayed.iter().filter(|Reverse(d)| *d > now).count() as u64,
            dead: self.dead,
            external_consumers: self.produce_only.then(|| self.shared.consumers.load(Ordering::Acquire)),
        }
    }

    fn real(&mut self) -> Option<&mut dyn RealBroker> {
        Some(self)
    }
}

impl RealBroker for RabbitBroker {
    fn clock(&self) -> RealClock {
        self.clock
    }

    fn wait(&mut self, deadline: Nanos, out: &mut Vec<BrokerEvent>) {
        let now = self.clock.now();
        while self.delayed.peek().is_some_and(|Reverse(d)| *d <= now) {
            self.delayed.pop();
        }
        if self.produce_only {
            self.track_drain(now);
        }
        let mut handled = 0;
        loop {
            match self.rx.try_recv() {
                Ok(m) => {
                    self.incoming(m, out);
                    handled += 1;
                    if handled >= BATCH {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.fatal.get_or_insert_with(|| "the broker tasks stopped".into());
                    return;
                }
            }
        }
        if handled > 0 {
            return;
        }
        let timeout = self.clock.instant(deadline).saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(timeout) {
            Ok(m) => self.incoming(m, out),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                self.fatal.get_or_insert_with(|| "the broker tasks stopped".into());
            }
        }
    }

    fn can_publish(&self) -> bool {
        let ok = self.shared.in_flight() < publish_limit(self.window) && !self.shared.blocked.load(Ordering::Acquire);
        if !ok {
            self.shared.waiting.store(true, Ordering::Release);
        }
        ok
    }

    fn quiet(&self) -> bool {
        self.shared.in_flight() == 0 && !self.expecting(0)
    }

    fn expecting_more(&self, grace: std::time::Duration) -> bool {
        self.expecting(self.clock.span(grace))
    }

    fn drained(&self) -> bool {
        self.drained_at.is_some()
    }

    fn fatal(&self) -> Option<String> {
        self.fatal.clone()
    }

    fn finish(
        &mut self,
        ended: &crate::broker::real::EndReason,
        produced: u64,
        finished: &dyn Fn(u64) -> bool,
    ) -> RealReport {
        finish::finish(self, ended, produced, finished)
    }
}
