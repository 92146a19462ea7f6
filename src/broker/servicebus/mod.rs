//! Azure Service Bus through its REST API (`azure_messaging_servicebus`): the engine's `Broker` calls become tasks
//! on a small tokio runtime (one HTTP request each: send, complete, abandon, renew), receivers hold up to
//! `prefetch` peek-locks per engine consumer, and what happens comes back as events on one channel that the
//! engine's loop waits on. The queue and its `_error` / `_skipped` queues must exist; nothing is created or
//! deleted. Delayed redelivery is a scheduled send; the consumer's dead letters are copies to `_error` /
//! `_skipped` (the REST API cannot dead-letter); the broker's own come from `<queue>/$DeadLetterQueue`.

mod bridge;
pub mod conn;
mod finish;
pub mod http;
mod message;
mod receive;
mod send;
mod setup;

use crate::broker::real::{RealBroker, RealClock, RealReport};
use crate::broker::{Broker, BrokerEvent, DeadLetterReason, Delivery, Depths, Envelope};
use crate::record::ledger::BitSet;
use crate::time::Nanos;
use bridge::{Ctx, Incoming, Lock, Original, Settle, Target};
use hdrhistogram::Histogram;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use conn::{ConnString, CONN_ENV};
pub use setup::connect;

/// Broker events handled in one `wait` before the loop looks at its timers again.
const BATCH: usize = 256;
/// Receivers (concurrent long polls) per engine consumer, at most: each holds one request open.
const RECEIVERS: u32 = 4;

fn engine_tag(gen: u32, n: u64) -> u64 {
    ((gen as u64) << 40) | (n & ((1 << 40) - 1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Paused,
    Closed,
}

struct Consumer {
    state: State,
    /// This opening of the consumer (deliveries of older ones are given back).
    gen: u32,
    next: u64,
    stop: Arc<AtomicBool>,
}

/// A delivery the engine holds.
struct Held {
    env: Envelope,
    lock: Arc<Lock>,
    permit: Option<OwnedSemaphorePermit>,
    renewing: Option<tokio::task::AbortHandle>,
}

#[derive(Default)]
struct Counts {
    deliveries: u64,
    /// Deliveries with a DeliveryCount above 1 (abandoned, or the lock ran out).
    redelivered: u64,
    /// Completes and abandons that failed: the lock had run out (MessageLockLost) or the request failed.
    lost_locks: u64,
    duplicate_dead_letters: u64,
    foreign: u64,
    /// Copies that the broker refused for good (4xx).
    refused: u64,
    /// Publishes to the work queue the broker took, and those it refused for good.
    confirmed: u64,
    refused_publishes: u64,
}

pub struct ServiceBus {
    rt: tokio::runtime::Runtime,
    clock: RealClock,
    rx: Receiver<Incoming>,
    ctx: Arc<Ctx>,
    window: u32,
    time_scale: f64,
    /// How long a running handler's lock is renewed at most (wall clock).
    renew_cap: Duration,
    consumers: Vec<Consumer>,
    held: HashMap<(u32, u64), Held>,
    delayed: BinaryHeap<Reverse<Nanos>>,
    /// Scheduled copies on their way, by (message, redelivery number): due time and delay (wall ms).
    due_of: HashMap<(u64, u32), (Nanos, u64)>,
    lateness: BTreeMap<u64, Histogram<u64>>,
    confirmed: BitSet,
    dead_seen: BitSet,
    dead: u64,
    refused: BitSet,
    counts: Counts,
    handoff: Histogram<u64>,
    fatal: Option<String>,
    info: setup::Info,
}

impl ServiceBus {
    fn consumer(&mut self, c: u32) -> &mut Consumer {
        let i = c as usize;
        if self.consumers.len() <= i {
            self.consumers.resize_with(i + 1, || Consumer {
                state: State::Closed,
                gen: 0,
                next: 0,
                stop: Arc::new(AtomicBool::new(true)),
            });
        }
        &mut self.consumers[i]
    }

    fn submit(&self, s: send::Send) {
        self.ctx.shared.submitted.fetch_add(1, Ordering::AcqRel);
        self.rt.spawn(send::send(Arc::clone(&self.ctx), s));
    }

    /// The wall-clock instant of scenario time `due`.
    fn wall_at(&self, now: Nanos, due: Nanos) -> SystemTime {
        SystemTime::now() + self.clock.wall(due.saturating_sub(now))
    }

    fn send_delayed(&mut self, now: Nanos, env: Envelope, due: Nanos, original: Option<Original>) {
        self.delayed.push(Reverse(due));
        let ms = self.clock.wall(due.saturating_sub(now)).as_millis() as u64;
        self.due_of.insert((env.id, env.redeliveries), (due, ms));
        let at = Some(self.wall_at(now, due));
        self.submit(send::Send { env, target: Target::Work, at, original });
    }

    /// Takes a delivery off the books, its renewals stopped.
    fn take(&mut self, consumer: u32, tag: u64) -> Option<Held> {
        let h = self.held.remove(&(consumer, tag))?;
        if let Some(r) = &h.renewing {
            r.abort();
        }
        Some(h)
    }

    fn settle(&mut self, consumer: u32, tag: u64, what: Settle) {
        let Some(h) = self.take(consumer, tag) else {
            self.counts.lost_locks += 1;
            return;
        };
        let o = Original { consumer, tag, lock: h.lock, permit: h.permit };
        self.rt.spawn(send::settle(Arc::clone(&self.ctx), o, what));
    }

    /// Replaces a delivery by a copy (to `_error` / `_skipped`, or scheduled), completing it once the copy is sent.
    fn replace(&mut self, consumer: u32, tag: u64) -> Option<(Envelope, Original)> {
        let h = self.take(consumer, tag)?;
        Some((h.env, Original { consumer, tag, lock: h.lock, permit: h.permit }))
    }

    fn returned(&mut self, env: Envelope, received: Instant) {
        let Some((due, ms)) = self.due_of.remove(&(env.id, env.redeliveries)) else { return };
        let late = self.clock.at(received).saturating_sub(due);
        let wall_us = self.clock.wall(late).as_micros() as u64;
        self.lateness.entry(ms).or_insert_with(crate::record::new_histogram).saturating_record(wall_us.max(1));
    }

    fn incoming(&mut self, m: Incoming, out: &mut Vec<BrokerEvent>) {
        match m {
            Incoming::Delivery { consumer, gen, env, count, lock, permit, received } => {
                let c = self.consumer(consumer);
                if c.gen != gen || c.state != State::Open {
                    // Arrived after a pause or close: give it back at once.
                    let o = Original { consumer, tag: 0, lock, permit: Some(permit) };
                    let ctx = Arc::clone(&self.ctx);
                    self.rt.spawn(async move { send::settle_lock(&ctx, &o.lock, Settle::Abandon).await });
                    return;
                }
                c.next += 1;
                let tag = engine_tag(gen, c.next);
                if env.redeliveries > 0 {
                    self.returned(env, received);
                }
                let ns = received.elapsed().as_nanos().min(u64::MAX as u128) as u64;
                self.handoff.saturating_record(ns.max(1));
                self.counts.deliveries += 1;
                self.counts.redelivered += (count > 1) as u64;
                self.held.insert((consumer, tag), Held { env, lock, permit: Some(permit), renewing: None });
                out.push(BrokerEvent::Delivered(Delivery { consumer, tag, env, delivery_count: count }));
            }
            Incoming::Foreign => self.counts.foreign += 1,
            Incoming::Dead { env, reason } => {
                if self.dead_seen.set(env.id) {
                    self.counts.duplicate_dead_letters += 1;
                    return;
                }
                self.dead += 1;
                out.push(BrokerEvent::DeadLettered { env, reason });
            }
            Incoming::Sent { env, target, ok, refused, original } => {
                if let Some((_, _, settled)) = original {
                    self.counts.lost_locks += !settled as u64;
                }
                match target {
                    Target::Work if original.is_none() && ok => {
                        self.counts.confirmed += !self.confirmed.set(env.id) as u64;
                    }
                    Target::Work if original.is_none() && refused => {
                        self.counts.refused_publishes += 1;
                        self.refused.set(env.id);
                        out.push(BrokerEvent::PublishRefused { env });
                    }
                    Target::Work => {
                        if !ok {
                            // The scheduled copy never went: the original was abandoned and comes back.
                            self.due_of.remove(&(env.id, env.redeliveries));
                        }
                    }
                    Target::Dead(reason) => {
                        if ok {
                            if self.dead_seen.set(env.id) {
                                self.counts.duplicate_dead_letters += 1;
                            } else {
                                self.dead += 1;
                                out.push(BrokerEvent::DeadLettered { env, reason });
                            }
                        } else {
                            self.counts.refused += refused as u64;
                        }
                    }
                }
            }
            Incoming::Settled { ok } => self.counts.lost_locks += !ok as u64,
            Incoming::Wake => {}
            Incoming::Fatal(why) => {
                self.fatal.get_or_insert(why);
            }
        }
    }
}

impl Broker for ServiceBus {
    fn publish(&mut self, _now: Nanos, env: Envelope, _out: &mut Vec<BrokerEvent>) {
        self.submit(send::Send { env, target: Target::Work, at: None, original: None });
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
        let Some((_, original)) = self.replace(consumer, tag) else {
            self.counts.lost_locks += 1;
            return;
        };
        self.send_delayed(now, env, due, Some(original));
    }

    fn ack(&mut self, _now: Nanos, consumer: u32, tag: u64, _out: &mut Vec<BrokerEvent>) {
        self.settle(consumer, tag, Settle::Complete);
    }

    fn nack(&mut self, now: Nanos, consumer: u32, tag: u64, requeue: bool, out: &mut Vec<BrokerEvent>) {
        if requeue {
            self.settle(consumer, tag, Settle::Abandon);
        } else {
            self.dead_letter(now, consumer, tag, DeadLetterReason::Rejected, out);
        }
    }

    fn dead_letter(
        &mut self,
        _now: Nanos,
        consumer: u32,
        tag: u64,
        reason: DeadLetterReason,
        _out: &mut Vec<BrokerEvent>,
    ) {
        let Some((env, original)) = self.replace(consumer, tag) else {
            self.counts.lost_locks += 1;
            return;
        };
        self.submit(send::Send { env, target: Target::Dead(reason), at: None, original: Some(original) });
    }

    fn open_consumer(&mut self, _now: Nanos, consumer: u32, prefetch: u32, _out: &mut Vec<BrokerEvent>) {
        let c = self.consumer(consumer);
        c.stop.store(true, Ordering::Release);
        c.gen += 1;
        c.state = State::Open;
        c.stop = Arc::new(AtomicBool::new(false));
        let (gen, stop) = (c.gen, Arc::clone(&c.stop));
        let prefetch = prefetch.max(1);
        let slots = Arc::new(Semaphore::new(prefetch as usize));
        for _ in 0..prefetch.min(RECEIVERS) {
            let task = receive::receiver(Arc::clone(&self.ctx), consumer, gen, Arc::clone(&stop), Arc::clone(&slots));
            self.rt.spawn(task);
        }
    }

    fn close_consumer(&mut self, _now: Nanos, consumer: u32, _out: &mut Vec<BrokerEvent>) {
        let c = self.consumer(consumer);
        c.state = State::Closed;
        c.stop.store(true, Ordering::Release);
        let mine: Vec<u64> = self.held.keys().filter(|(k, _)| *k == consumer).map(|(_, t)| *t).collect();
        for tag in mine {
            self.settle(consumer, tag, Settle::Abandon);
        }
    }

    fn pause_consumer(&mut self, _now: Nanos, consumer: u32) {
        let c = self.consumer(consumer);
        c.state = State::Paused;
        c.stop.store(true, Ordering::Release);
    }

    fn holds_lock(&self, consumer: u32, tag: u64) -> bool {
        self.held.get(&(consumer, tag)).is_some_and(|h| h.lock.holds())
    }

    fn handler_started(&mut self, _now: Nanos, consumer: u32, tag: u64) {
        let cap = self.renew_cap;
        let Some(h) = self.held.get_mut(&(consumer, tag)) else { return };
        if h.renewing.is_none() && !cap.is_zero() && !h.lock.period.is_zero() {
            let task = send::renew(Arc::clone(&self.ctx), Arc::clone(&h.lock), cap);
            h.renewing = Some(self.rt.spawn(task).abort_handle());
        }
    }

    fn release(&mut self, _now: Nanos, consumer: u32, tag: u64, out: &mut Vec<BrokerEvent>) {
        // The broker took the message back when the lock ran out: only the slot is freed. The REST API does not
        // say when a lock runs out, so the run learns it here (`servicebus.locks_expired` counts these).
        if let Some(h) = self.take(consumer, tag) {
            self.counts.lost_locks += 1;
            out.push(BrokerEvent::LockExpired { consumer, env: h.env, delivery_count: 0 });
        }
    }

    fn next_wake(&self) -> Option<Nanos> {
        None
    }

    fn wake(&mut self, _now: Nanos, _out: &mut Vec<BrokerEvent>) {}

    fn depths(&self) -> Depths {
        let now = self.clock.now();
        let held = self.held.len() as u64;
        Depths {
            // ActiveMessageCount counts locked messages too.
            ready: self.ctx.shared.active.load(Ordering::Acquire).saturating_sub(held),
            unacked: held,
            delayed: self.delayed.iter().filter(|Reverse(d)| *d > now).count() as u64,
            dead: self.dead,
            external_consumers: None,
        }
    }

    fn real(&mut self) -> Option<&mut dyn RealBroker> {
        Some(self)
    }
}

impl RealBroker for ServiceBus {
    fn clock(&self) -> RealClock {
        self.clock
    }

    fn wait(&mut self, deadline: Nanos, out: &mut Vec<BrokerEvent>) {
        let now = self.clock.now();
        while self.delayed.peek().is_some_and(|Reverse(d)| *d <= now) {
            self.delayed.pop();
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
                    self.fatal.get_or_insert_with(|| "the Service Bus tasks stopped".into());
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
                self.fatal.get_or_insert_with(|| "the Service Bus tasks stopped".into());
            }
        }
    }

    fn can_publish(&self) -> bool {
        let ok = self.ctx.shared.in_flight() < crate::broker::rabbitmq::publish_limit(self.window);
        if !ok {
            self.ctx.shared.waiting.store(true, Ordering::Release);
        }
        ok
    }

    fn quiet(&self) -> bool {
        self.ctx.shared.in_flight() == 0 && !self.expecting(0)
    }

    fn expecting_more(&self, grace: Duration) -> bool {
        self.expecting(self.clock.span(grace))
    }

    fn drained(&self) -> bool {
        false
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

impl ServiceBus {
    /// A scheduled copy is due later, or came due less than `grace` ago (plus the second the REST API rounds up to)
    /// and has not come back.
    fn expecting(&self, grace: Nanos) -> bool {
        let now = self.clock.now();
        let second = self.clock.span(Duration::from_secs(1));
        self.due_of.values().any(|(due, _)| due.saturating_add(grace).saturating_add(second) > now)
    }
}
