//! The consuming side: one task owns the consuming connection and opens, pauses and closes one channel per engine
//! consumer (basic.qos = prefetch), runs each channel's delivery stream, reads the dead-letter queues (kept unacked,
//! so they still hold every message), polls queue depths, and rebuilds it all after the connection is lost.

use super::bridge::{bounded, next_event, Dead, Incoming, Intervals, Shared, OP_TIMEOUT};
use super::connect::Endpoint;
use super::message::{self, DeadOutcome};
use super::topology::{self, Names};
use crate::broker::real::RealClock;
use crate::scenario::QueueCfg;
use futures_util::StreamExt;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Event};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

pub enum Command {
    Open {
        consumer: u32,
        seq: u32,
        prefetch: u16,
    },
    /// basic.cancel: no new deliveries; what the consumer holds it may still ack.
    Pause {
        consumer: u32,
        seq: u32,
    },
    Close {
        consumer: u32,
        seq: u32,
    },
    /// Count what is left in the work queue and the delay queues and, with `read`, read every message of this run
    /// there (without acking: closing the channel puts them back) and return their ids.
    Sweep {
        read: bool,
        reply: oneshot::Sender<Sweep>,
    },
    Finish(oneshot::Sender<Report>),
}

#[derive(Default)]
pub struct Sweep {
    pub ids: Vec<u64>,
    /// Messages counted by passive declares (work queue ready + delay queues), including strangers'.
    pub counted: u64,
    /// Every queue answered its count.
    pub counted_all: bool,
    /// Every counted message was read back (so `ids` is complete).
    pub read_all: bool,
}

pub struct Report {
    pub outages: Intervals,
    pub peak_ready: u64,
    pub consumers_min: u64,
    pub consumers_max: u64,
}

pub struct Settings {
    pub endpoint: Endpoint,
    pub connection_name: String,
    pub names: Names,
    pub queue: QueueCfg,
    pub time_scale: f64,
    pub clock: RealClock,
    /// Read the dead-letter queues (not in produce-only mode, where the user's service owns them).
    pub read_dead_letters: bool,
    pub poll_every: Duration,
    pub give_up_after: Duration,
}

#[derive(Clone)]
struct Slot {
    seq: u32,
    prefetch: u16,
    paused: bool,
    channel: Option<Channel>,
    gen: u32,
}

struct Consumers {
    s: Settings,
    conn: Option<Connection>,
    events: Option<Pin<Box<dyn futures_util::Stream<Item = Event> + Send>>>,
    slots: Vec<Option<Slot>>,
    next_gen: u32,
    dlq: Option<Channel>,
    depth: Option<Channel>,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
    r: Report,
}

pub async fn run(
    s: Settings,
    conn: Connection,
    rx: mpsc::UnboundedReceiver<Command>,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
) {
    let outages = Intervals::named("consuming connection lost");
    let r = Report { outages, peak_ready: 0, consumers_min: u64::MAX, consumers_max: 0 };
    let mut c = Consumers {
        s,
        conn: None,
        events: None,
        slots: Vec::new(),
        next_gen: 0,
        dlq: None,
        depth: None,
        tx,
        shared,
        r,
    };
    if let Err(e) = bounded(c.adopt(conn)).await {
        let _ = c.tx.send(Incoming::Fatal(c.s.endpoint.failure(format!("opening the consuming channels: {e}"))));
    }
    c.main(rx).await;
}

impl Consumers {
    /// Takes a fresh connection into use: dead-letter readers, the depth channel, and every open consumer again.
    async fn adopt(&mut self, conn: Connection) -> lapin::Result<()> {
        self.events = Some(Box::pin(conn.events_listener()));
        self.depth = Some(conn.create_channel().await?);
        if self.s.read_dead_letters {
            let ch = conn.create_channel().await?;
            for (queue, skipped) in [(self.s.names.error.clone(), false), (self.s.names.skipped.clone(), true)] {
                let tag = format!("loadtest-{}-dlq{}", self.s.names.run_id, if skipped { "-skipped" } else { "" });
                let stream = ch
                    .basic_consume(
                        queue.as_str().into(),
                        tag.as_str().into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                tokio::spawn(dead_letters(
                    stream,
                    self.s.names.work.clone(),
                    self.s.names.stamp.clone(),
                    self.tx.clone(),
                ));
            }
            self.dlq = Some(ch);
        }
        self.conn = Some(conn);
        for c in 0..self.slots.len() {
            let Some(slot) = self.slots[c].clone() else { continue };
            if slot.paused {
                self.slots[c] = None; // its channel died with the connection; the broker took its messages back
            } else {
                self.open(c as u32, slot.seq, slot.prefetch).await?;
            }
        }
        Ok(())
    }

    async fn main(&mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(self.s.poll_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.conn.is_none() && !self.reconnect().await {
                return drain_after_failure(rx, std::mem::replace(&mut self.r, empty_report())).await;
            }
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Open { consumer, seq, prefetch }) => {
                        if let Err(e) = bounded(self.open(consumer, seq, prefetch)).await {
                            self.lost(e);
                        }
                    }
                    Some(Command::Pause { consumer, seq }) => {
                        let _ = tokio::time::timeout(OP_TIMEOUT, self.pause(consumer, seq)).await;
                    }
                    Some(Command::Close { consumer, seq }) => {
                        let _ = tokio::time::timeout(OP_TIMEOUT, self.close(consumer, seq)).await;
                    }
                    Some(Command::Sweep { read, reply }) => {
                        let sweep = tokio::time::timeout(OP_TIMEOUT * 3, self.sweep(read)).await;
                        let _ = reply.send(sweep.unwrap_or_default());
                    }
                    Some(Command::Finish(reply)) => return self.finish(reply).await,
                    None => return,
                },
                ev = next_event(&mut self.events) => match ev {
                    Some(Event::Error(_)) | None => self.connection_lost(),
                    Some(_) => {}
                },
                _ = tick.tick() => self.poll_depths().await,
            }
        }
    }

    async fn open(&mut self, consumer: u32, seq: u32, prefetch: u16) -> lapin::Result<()> {
        let c = consumer as usize;
        if self.slots.len() <= c {
            self.slots.resize(c + 1, None);
        }
        // The request is remembered first: if opening fails (or there is no connection), the next connection opens it.
        let wanted = Slot { seq, prefetch, paused: false, channel: None, gen: 0 };
        if let Some(old) = self.slots[c].replace(wanted).and_then(|s| s.channel) {
            let _ = old.close(200, "reopened".into()).await;
        }
        let Some(conn) = &self.conn else { return Ok(()) };
        let ch = conn.create_channel().await?;
        ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
        self.next_gen += 1;
        let gen = self.next_gen;
        self.slots[c] = Some(Slot { seq, prefetch, paused: false, channel: Some(ch.clone()), gen });
        // Ready goes out before the first delivery can: both travel the same channel to the engine, in order.
        let _ = self.tx.send(Incoming::ConsumerReady { consumer, seq, gen, channel: ch.clone() });
        let tag = format!("loadtest-{}-c{consumer}-g{gen}", self.s.names.run_id);
        let stream = ch
            .basic_consume(
                self.s.names.work.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tokio::spawn(deliveries(stream, consumer, gen, self.s.names.stamp.clone(), self.tx.clone()));
        Ok(())
    }

    async fn pause(&mut self, consumer: u32, seq: u32) {
        let Some(Some(slot)) = self.slots.get_mut(consumer as usize) else { return };
        slot.seq = seq;
        slot.paused = true;
        if let Some(ch) = &slot.channel {
            let tag = format!("loadtest-{}-c{consumer}-g{}", self.s.names.run_id, slot.gen);
            let _ = ch.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
        }
    }

    async fn close(&mut self, consumer: u32, _seq: u32) {
        let Some(slot) = self.slots.get_mut(consumer as usize).and_then(Option::take) else { return };
        if let Some(ch) = slot.channel {
            // Closing with messages unacked hands them back to the queue (delivery counts raised on quorum).
            let _ = ch.close(200, "consumer closed".into()).await;
        }
    }

    fn lost(&mut self, e: lapin::Error) {
        if topology::is_not_found(&e) {
            let why = format!("the work queue {} no longer exists on the broker", self.s.names.work);
            let _ = self.tx.send(Incoming::Fatal(why));
        } else {
            self.connection_lost();
        }
    }

    fn connection_lost(&mut self) {
        self.events = None;
        if self.conn.take().is_some() {
            self.r.outages.open(self.s.clock.now());
        }
        self.dlq = None;
        self.depth = None;
        for s in self.slots.iter_mut().flatten() {
            s.channel = None;
        }
    }

    async fn reconnect(&mut self) -> bool {
        let started = Instant::now();
        tracing::warn!("consuming connection lost; reconnecting");
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::time::sleep(backoff).await;
            if let Ok(conn) = self.s.endpoint.open(&self.s.connection_name).await {
                // A restarted broker keeps durable queues; declaring again restores anything that went missing.
                let declared = match bounded(conn.create_channel()).await {
                    Ok(ch) => {
                        let (q, n, scale) = (&self.s.queue, &self.s.names, self.s.time_scale);
                        bounded(topology::declare(&ch, q, n, scale, self.s.read_dead_letters)).await.is_ok()
                    }
                    Err(_) => false,
                };
                if declared && bounded(self.adopt(conn)).await.is_ok() {
                    self.r.outages.close(self.s.clock.now());
                    tracing::info!(after_ms = started.elapsed().as_millis() as u64, "consuming connection restored");
                    return true;
                }
                self.conn = None;
            }
            if started.elapsed() >= self.s.give_up_after {
                let why = format!(
                    "the consuming connection was lost and could not be restored for {:.0} s",
                    self.s.give_up_after.as_secs_f64()
                );
                let _ = self.tx.send(Incoming::Fatal(self.s.endpoint.failure(why)));
                return false;
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn count(&mut self, queue: &str) -> Option<(u64, u64)> {
        let ch = self.depth.as_ref()?;
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        match bounded(ch.queue_declare(queue.into(), passive, FieldTable::default())).await {
            Ok(q) => Some((q.message_count() as u64, q.consumer_count() as u64)),
            Err(e) => {
                // A 404 closes the channel: reopen it for the next poll.
                self.depth = match &self.conn {
                    Some(conn) => bounded(conn.create_channel()).await.ok(),
                    None => None,
                };
                if topology::is_not_found(&e) && queue == self.s.names.work {
                    let why = format!("the work queue {queue} was deleted under the run");
                    let _ = self.tx.send(Incoming::Fatal(why));
                }
                None
            }
        }
    }

    async fn poll_depths(&mut self) {
        let work = self.s.names.work.clone();
        let Some((ready, consumers)) = self.count(&work).await else { return };
        let delay_queues = self.shared.delay_queues.lock().map(|q| q.clone()).unwrap_or_default();
        let mut delayed = 0;
        for q in &delay_queues {
            delayed += self.count(q).await.map_or(0, |(n, _)| n);
        }
        self.shared.ready.store(ready, Ordering::Release);
        self.shared.consumers.store(consumers, Ordering::Release);
        self.shared.delayed.store(delayed, Ordering::Release);
        self.shared.polls.fetch_add(1, Ordering::AcqRel);
        self.r.peak_ready = self.r.peak_ready.max(ready);
        self.r.consumers_min = self.r.consumers_min.min(consumers);
        self.r.consumers_max = self.r.consumers_max.max(consumers);
    }

    async fn sweep(&mut self, read: bool) -> Sweep {
        let mut out =
            Sweep { counted_all: self.conn.is_some(), read_all: read && self.conn.is_some(), ..Sweep::default() };
        let mut queues = vec![self.s.names.work.clone()];
        queues.extend(self.shared.delay_queues.lock().map(|q| q.clone()).unwrap_or_default());
        queues.dedup();
        for q in queues {
            let Some((n, _)) = self.count(&q).await else {
                out.counted_all = false;
                out.read_all = false;
                continue;
            };
            out.counted += n;
            if n == 0 || !read {
                continue;
            }
            let Some(Ok(ch)) = (match &self.conn {
                Some(conn) => Some(conn.create_channel().await),
                None => None,
            }) else {
                out.read_all = false;
                continue;
            };
            let tag = format!("loadtest-{}-sweep", self.s.names.run_id);
            let Ok(mut stream) = ch
                .basic_consume(
                    q.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
            else {
                out.read_all = false;
                continue;
            };
            let mut seen = 0;
            while seen < n {
                match tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
                    Ok(Some(Ok(d))) => {
                        seen += 1;
                        if let Some(env) = message::envelope(&d.data, message::run_hash(&self.s.names.stamp)) {
                            out.ids.push(env.id);
                        }
                    }
                    _ => break,
                }
            }
            out.read_all &= seen >= n;
            let _ = ch.close(200, "sweep done".into()).await;
        }
        out
    }

    async fn finish(&mut self, reply: oneshot::Sender<Report>) {
        self.r.outages.close(self.s.clock.now());
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, "run finished".into())).await;
        }
        if self.r.consumers_min == u64::MAX {
            self.r.consumers_min = 0;
        }
        let _ = reply.send(std::mem::replace(&mut self.r, empty_report()));
    }
}

fn empty_report() -> Report {
    Report { outages: Intervals::default(), peak_ready: 0, consumers_min: 0, consumers_max: 0 }
}

async fn drain_after_failure(mut rx: mpsc::UnboundedReceiver<Command>, mut r: Report) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::Sweep { reply, .. } => {
                let _ = reply.send(Sweep::default());
            }
            Command::Finish(reply) => {
                r.consumers_min = r.consumers_min.min(r.consumers_max);
                let _ = reply.send(r);
                return;
            }
            _ => {}
        }
    }
}

/// One consumer channel's deliveries, handed to the engine as they arrive.
async fn deliveries(mut stream: lapin::Consumer, consumer: u32, gen: u32, run: String, tx: Sender<Incoming>) {
    let run = message::run_hash(&run);
    while let Some(item) = stream.next().await {
        match item {
            Ok(d) => {
                let received = Instant::now();
                let msg = match message::envelope(&d.data, run) {
                    Some(env) => Incoming::Delivery {
                        consumer,
                        gen,
                        delivery_tag: d.delivery_tag,
                        count: message::delivery_count(&d.properties, d.redelivered),
                        redelivered: d.redelivered,
                        env,
                        received,
                    },
                    None => Incoming::Foreign { consumer, gen },
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Incoming::ConsumerEnded { consumer, gen, error: Some(e.to_string()) });
                return;
            }
        }
    }
    let _ = tx.send(Incoming::ConsumerEnded { consumer, gen, error: None });
}

/// A dead-letter queue's messages, read and never acked: the queue keeps holding them.
async fn dead_letters(mut stream: lapin::Consumer, work: String, run: String, tx: Sender<Incoming>) {
    let run = message::run_hash(&run);
    while let Some(Ok(d)) = stream.next().await {
        let Some(env) = message::envelope(&d.data, run) else { continue };
        let what = match message::dead_outcome(&d.properties, &work) {
            Some(DeadOutcome::Dead(reason)) => Dead::Letter(reason),
            Some(DeadOutcome::Expired) => Dead::Expired,
            None => continue,
        };
        if tx.send(Incoming::Dead { env, what, redelivered: d.redelivered }).is_err() {
            return;
        }
    }
}
