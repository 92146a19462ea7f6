//! The publisher task: one connection and one channel carry every publish of the run (messages, delayed
//! redeliveries, the consumer's moves to `_error` / `_skipped`), with publisher confirms pipelined under a window.
//! A blocked connection or a full window only makes the producer lag; a lost connection is rebuilt with backoff and
//! whatever it took with it is published again (at-least-once).

use super::bridge::{bounded, next_event, AckToken, Incoming, Intervals, Shared};
use super::connect::Endpoint;
use super::message;
use super::topology::{self, Names};
use crate::broker::real::RealClock;
use crate::broker::{DeadLetterReason, Envelope};
use crate::record::ledger::BitSet;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::Confirmation;
use lapin::{Channel, Connection, Event};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Where a publish goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Work,
    /// The delay queue of this many wall-clock milliseconds.
    Delay(u64),
    Error,
    Skipped,
}

#[derive(Clone, Copy, Debug)]
pub struct Publish {
    pub env: Envelope,
    pub target: Target,
    pub reason: Option<DeadLetterReason>,
    /// The delivery this copy replaces: acked once the copy is confirmed.
    pub then_ack: Option<AckToken>,
}

pub enum Command {
    Publish(Publish),
    /// Stop: wait up to the given time for outstanding confirms, close, report.
    Finish(Duration, oneshot::Sender<Report>),
}

/// What the publisher saw, handed over at the end.
pub struct Report {
    pub confirmed: BitSet,
    pub confirmed_count: u64,
    pub nacked: u64,
    pub republished: u64,
    pub unconfirmed_at_end: u64,
    /// Producer lag (actual minus intended publish time), scenario microseconds.
    pub lag: Histogram<u64>,
    pub blocked: Intervals,
    pub outages: Intervals,
    pub delay_queues: BTreeSet<String>,
}

pub struct Settings {
    pub endpoint: Endpoint,
    pub connection_name: String,
    pub names: Names,
    pub window: u32,
    pub persistent: bool,
    pub clock: RealClock,
    pub max_body: usize,
    /// Give up (the run fails) when the connection cannot be restored for this long.
    pub give_up_after: Duration,
}

/// A publish on its way: resolves with its sequence number (its `Publish` waits in `pending`).
type InFlight = Pin<Box<dyn Future<Output = (u64, lapin::Result<Confirmation>)> + Send>>;

struct Publisher {
    s: Settings,
    conn: Option<Connection>,
    ch: Option<Channel>,
    events: Option<Pin<Box<dyn futures_util::Stream<Item = Event> + Send>>>,
    body: Arc<Vec<u8>>,
    in_flight: FuturesUnordered<InFlight>,
    /// Publishes sent and not yet settled, by sequence number (republished in order after a reconnect).
    pending: BTreeMap<u64, Publish>,
    seq: u64,
    retry: VecDeque<Publish>,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
    r: Report,
}

/// Runs until `Finish`. `conn` is the connection made (and the topology declared) before the run started.
pub async fn run(
    s: Settings,
    conn: Connection,
    rx: mpsc::UnboundedReceiver<Command>,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
) {
    let max_body = s.max_body;
    let mut p = Publisher {
        s,
        conn: None,
        ch: None,
        events: None,
        body: Arc::new(vec![b'x'; max_body]),
        in_flight: FuturesUnordered::new(),
        pending: BTreeMap::new(),
        seq: 0,
        retry: VecDeque::new(),
        tx,
        shared,
        r: Report {
            blocked: Intervals::named("connection.blocked (publishing)"),
            outages: Intervals::named("publishing connection lost"),
            ..empty_report()
        },
    };
    if let Err(e) = bounded(p.adopt(conn)).await {
        let _ = p.tx.send(Incoming::Fatal(p.s.endpoint.failure(format!("opening the publishing channel: {e}"))));
    }
    p.main(rx).await;
}

impl Publisher {
    async fn adopt(&mut self, conn: Connection) -> lapin::Result<()> {
        let ch = conn.create_channel().await?;
        if self.s.window > 0 {
            ch.confirm_select(ConfirmSelectOptions::default()).await?;
        }
        self.events = Some(Box::pin(conn.events_listener()));
        self.conn = Some(conn);
        self.ch = Some(ch);
        Ok(())
    }

    fn window(&self) -> usize {
        if self.s.window == 0 {
            1024
        } else {
            self.s.window as usize
        }
    }

    async fn main(&mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        loop {
            if self.ch.is_none() && !self.reconnect().await {
                return self.drain_after_failure(rx).await;
            }
            let room = self.in_flight.len() < self.window();
            if room {
                if let Some(p) = self.retry.pop_front() {
                    self.send(p).await;
                    continue;
                }
            }
            tokio::select! {
                biased;
                Some((seq, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => self.outcome(seq, result),
                ev = next_event(&mut self.events) => self.on_event(ev),
                cmd = rx.recv(), if room => match cmd {
                    Some(Command::Publish(p)) => self.send(p).await,
                    Some(Command::Finish(wait, reply)) => return self.finish(wait, reply).await,
                    None => return,
                },
            }
        }
    }

    async fn send(&mut self, p: Publish) {
        let Some(ch) = self.ch.clone() else {
            self.retry.push_back(p);
            return;
        };
        let now = self.s.clock.now();
        // The first publish of a message stamps its actual publish time; copies keep the original's.
        let published = if p.target == Target::Work { now } else { p.env.published };
        if p.target == Target::Work {
            self.r.lag.saturating_record((now.saturating_sub(p.env.intended) / 1000).max(1));
        }
        let n = &self.s.names;
        let (exchange, key) = match p.target {
            Target::Work => ("", n.work.clone()),
            Target::Error => ("", n.error.clone()),
            Target::Skipped => ("", n.skipped.clone()),
            Target::Delay(ms) => {
                let name = n.delay(ms);
                if !self.r.delay_queues.contains(&name) {
                    match bounded(topology::declare_delay(&ch, n, ms)).await {
                        Ok(name) => {
                            self.r.delay_queues.insert(name.clone());
                            if let Ok(mut q) = self.shared.delay_queues.lock() {
                                q.push(name);
                            }
                        }
                        Err(e) => return self.lost_channel(p, e),
                    }
                }
                ("", name)
            }
        };
        let props = message::properties(&n.run_id, &p.env, published, self.s.persistent, p.reason);
        let body = Arc::clone(&self.body);
        let len = (p.env.size as usize).min(body.len());
        self.seq += 1;
        let seq = self.seq;
        self.pending.insert(seq, p);
        let fut = async move {
            let opts = BasicPublishOptions::default();
            let result = match ch.basic_publish(exchange.into(), key.as_str().into(), opts, &body[..len], props).await {
                Ok(confirm) => confirm.await,
                Err(e) => Err(e),
            };
            (seq, result)
        };
        self.in_flight.push(Box::pin(fut));
    }

    fn outcome(&mut self, seq: u64, result: lapin::Result<Confirmation>) {
        if let Some(p) = self.pending.remove(&seq) {
            self.settle(p, result);
        }
    }

    fn settle(&mut self, p: Publish, result: lapin::Result<Confirmation>) {
        let confirmation = match result {
            Ok(c) => c,
            Err(e) => return self.lost_channel(p, e),
        };
        let settled = |s: &Self| {
            s.shared.settled.fetch_add(1, Ordering::AcqRel);
            if s.shared.waiting.load(Ordering::Acquire) && s.shared.in_flight() < super::publish_limit(s.s.window) {
                s.shared.waiting.store(false, Ordering::Release);
                let _ = s.tx.send(Incoming::Wake);
            }
        };
        match (confirmation, p.target) {
            (Confirmation::Nack(_), Target::Work) => {
                self.r.nacked += 1;
                let _ = self.tx.send(Incoming::Nacked { env: p.env });
                settled(self);
            }
            (Confirmation::Nack(_), _) => {
                // A copy that replaces a delivery could not be placed: give the delivery back to the queue.
                if let Some(t) = p.then_ack {
                    let _ = self.tx.send(Incoming::RequeueNow(t));
                }
                settled(self);
            }
            (c, target) => {
                if target == Target::Work && matches!(c, Confirmation::Ack(_)) {
                    self.r.confirmed.set(p.env.id);
                    self.r.confirmed_count += 1;
                }
                if let Some(t) = p.then_ack {
                    let _ = self.tx.send(Incoming::AckNow(t));
                }
                settled(self);
            }
        }
    }

    /// The channel or connection failed under a publish: its outcome is unknown, so it goes out again.
    fn lost_channel(&mut self, p: Publish, _e: lapin::Error) {
        self.r.republished += 1;
        self.retry.push_back(p);
        self.connection_lost();
    }

    fn connection_lost(&mut self) {
        if self.ch.take().is_some() {
            self.r.outages.open(self.s.clock.now());
        }
    }

    fn on_event(&mut self, ev: Option<Event>) {
        let now = self.s.clock.now();
        match ev {
            Some(Event::ConnectionBlocked(_)) => {
                self.shared.blocked.store(true, Ordering::Release);
                self.r.blocked.open(now);
            }
            Some(Event::ConnectionUnblocked) => {
                self.shared.blocked.store(false, Ordering::Release);
                self.r.blocked.close(now);
            }
            Some(Event::Error(_)) | None => {
                self.events = None;
                self.connection_lost();
            }
            Some(_) => {}
        }
    }

    /// Rebuilds the connection with backoff (100 ms doubling to 2 s); false once `give_up_after` has passed.
    async fn reconnect(&mut self) -> bool {
        // Publishes in flight on the dead channel fail by themselves (give them a moment); whatever has no
        // outcome then is published again.
        let mut stale = std::mem::take(&mut self.in_flight);
        let mut done = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(x) = stale.next().await {
                done.push(x);
            }
        })
        .await;
        for (seq, result) in done {
            if let (Ok(c), Some(p)) = (result, self.pending.remove(&seq)) {
                self.settle(p, Ok(c));
            }
        }
        for (_, p) in std::mem::take(&mut self.pending) {
            self.r.republished += 1;
            self.retry.push_back(p);
        }
        self.shared.blocked.store(false, Ordering::Release);
        self.r.blocked.close(self.s.clock.now());
        if let Some(old) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), old.close(320, "reconnecting".into())).await;
        }
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::time::sleep(backoff).await;
            if let Ok(conn) = self.s.endpoint.open(&self.s.connection_name).await {
                if bounded(self.adopt(conn)).await.is_ok() {
                    self.r.outages.close(self.s.clock.now());
                    return true;
                }
            }
            if started.elapsed() >= self.s.give_up_after {
                let why = format!(
                    "the publishing connection was lost and could not be restored for {:.0} s",
                    self.s.give_up_after.as_secs_f64()
                );
                let _ = self.tx.send(Incoming::Fatal(self.s.endpoint.failure(why)));
                return false;
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// After giving up: answer `Finish` so that the run can still write its report.
    async fn drain_after_failure(&mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Publish(p) => self.retry.push_back(p),
                Command::Finish(_, reply) => {
                    self.r.unconfirmed_at_end = self.retry.len() as u64;
                    let _ = reply.send(std::mem::replace(&mut self.r, empty_report()));
                    return;
                }
            }
        }
    }

    async fn finish(&mut self, wait: Duration, reply: oneshot::Sender<Report>) {
        let deadline = tokio::time::Instant::now() + wait;
        while !self.in_flight.is_empty() || !self.retry.is_empty() {
            if self.ch.is_none() || tokio::time::Instant::now() >= deadline {
                break;
            }
            if let Some(p) = self.retry.pop_front() {
                self.send(p).await;
                continue;
            }
            match tokio::time::timeout_at(deadline, self.in_flight.next()).await {
                Ok(Some((seq, result))) => self.outcome(seq, result),
                _ => break,
            }
        }
        self.r.unconfirmed_at_end = (self.pending.len() + self.retry.len()) as u64;
        self.r.blocked.close(self.s.clock.now());
        self.r.outages.close(self.s.clock.now());
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, "run finished".into())).await;
        }
        let _ = reply.send(std::mem::replace(&mut self.r, empty_report()));
    }
}

fn empty_report() -> Report {
    Report {
        confirmed: BitSet::default(),
        confirmed_count: 0,
        nacked: 0,
        republished: 0,
        unconfirmed_at_end: 0,
        lag: crate::record::new_histogram(),
        blocked: Intervals::default(),
        outages: Intervals::default(),
        delay_queues: BTreeSet::new(),
    }
}
