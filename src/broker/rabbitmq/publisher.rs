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
    /// Times the channel failed under it (its outcome unknown each time).
    pub failures: u8,
}

impl Publish {
    pub fn new(env: Envelope, target: Target, reason: Option<DeadLetterReason>, then_ack: Option<AckToken>) -> Publish {
        Publish { env, target, reason, then_ack, failures: 0 }
    }
}

/// How the end of the run asks the publisher to stop: wait up to this long for outstanding confirms, then report.
/// It travels on a channel of its own, so that a full window or a reconnect cannot hold it up.
pub type Stop = (Duration, oneshot::Sender<Report>);

/// A publish whose channel failed this many times is not tried again: the run fails, naming it.
const MAX_FAILURES: u8 = 5;

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
    /// Give up (the run fails) when the connection cannot be restored for this long.
    pub give_up_after: Duration,
    /// Delay queues declared before the run started.
    pub declared: BTreeSet<String>,
}

/// A publish on its way: resolves with its sequence number (its `Publish` waits in `pending`).
type InFlight = Pin<Box<dyn Future<Output = (u64, lapin::Result<Confirmation>)> + Send>>;

struct Publisher {
    s: Settings,
    conn: Option<Connection>,
    ch: Option<Channel>,
    events: Option<Pin<Box<dyn futures_util::Stream<Item = Event> + Send>>>,
    /// The run's stamp as the body carries it.
    run_hash: u64,
    in_flight: FuturesUnordered<InFlight>,
    /// Publishes sent and not yet settled, by sequence number (republished in order after a reconnect).
    pending: BTreeMap<u64, Publish>,
    seq: u64,
    retry: VecDeque<Publish>,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Publish>,
    stop: oneshot::Receiver<Stop>,
    r: Report,
}

/// What a reconnect attempt ended with.
enum Reconnect {
    Done,
    GaveUp,
    Stopped(Stop),
}

/// Runs until asked to stop. `conn` is the connection made (and the topology declared) before the run started.
pub async fn run(
    s: Settings,
    conn: Connection,
    rx: mpsc::UnboundedReceiver<Publish>,
    stop: oneshot::Receiver<Stop>,
    tx: Sender<Incoming>,
    shared: Arc<Shared>,
) {
    let delay_queues = s.declared.clone();
    let run_hash = message::run_hash(&s.names.stamp);
    let mut p = Publisher {
        s,
        conn: None,
        ch: None,
        events: None,
        run_hash,
        in_flight: FuturesUnordered::new(),
        pending: BTreeMap::new(),
        seq: 0,
        retry: VecDeque::new(),
        tx,
        shared,
        rx,
        stop,
        r: Report {
            blocked: Intervals::named("connection.blocked (publishing)"),
            outages: Intervals::named("publishing connection lost"),
            delay_queues,
            ..empty_report()
        },
    };
    if let Err(e) = bounded(p.adopt(conn)).await {
        let _ = p.tx.send(Incoming::Fatal(p.s.endpoint.failure(format!("opening the publishing channel: {e}"))));
    }
    p.main().await;
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

    async fn main(&mut self) {
        loop {
            if self.ch.is_none() {
                match self.reconnect().await {
                    Reconnect::Done => {}
                    Reconnect::GaveUp => return self.wait_for_stop().await,
                    Reconnect::Stopped(stop) => return self.finish(stop).await,
                }
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
                stop = &mut self.stop => match stop {
                    Ok(stop) => return self.finish(stop).await,
                    Err(_) => return,
                },
                Some((seq, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => self.outcome(seq, result),
                ev = next_event(&mut self.events) => self.on_event(ev),
                p = self.rx.recv(), if room => match p {
                    Some(p) => self.send(p).await,
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
        let props = message::properties(&p.env, self.s.persistent, p.reason);
        let mut body = Vec::with_capacity((p.env.size as usize).max(message::ENVELOPE_BYTES));
        message::body(self.run_hash, &p.env, published, &mut body);
        self.seq += 1;
        let seq = self.seq;
        self.pending.insert(seq, p);
        let fut = async move {
            // Mandatory: a publish that no queue takes (its queue deleted under the run) comes back as returned
            // instead of being confirmed into nowhere.
            let opts = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
            let result = match ch.basic_publish(exchange.into(), key.as_str().into(), opts, &body, props).await {
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
        // Returned (unroutable) counts as refused: no queue holds the message.
        let refused = match &confirmation {
            Confirmation::Nack(_) => true,
            Confirmation::Ack(returned) => returned.is_some(),
            Confirmation::NotRequested => false,
        };
        match (refused, p.target) {
            (true, Target::Work) => {
                self.r.nacked += 1;
                // A republish refused says nothing of the first copy, which may well be in the queue: its outcome
                // stays unknown (the end reconciles it) instead of counting as refused.
                if p.failures == 0 {
                    let _ = self.tx.send(Incoming::Nacked { env: p.env });
                }
                settled(self);
            }
            (true, _) => {
                // A copy that replaces a delivery could not be placed: give the delivery back to the queue.
                if let Some(t) = p.then_ack {
                    let _ = self.tx.send(Incoming::RequeueNow(t));
                }
                settled(self);
            }
            (false, target) => {
                if target == Target::Work && matches!(confirmation, Confirmation::Ack(_)) {
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

    /// The channel or connection failed under a publish: its outcome is unknown, so it goes out again; unless the
    /// broker refuses the operation itself (access, a missing or mismatched queue) or it failed too often.
    fn lost_channel(&mut self, mut p: Publish, e: lapin::Error) {
        p.failures = p.failures.saturating_add(1);
        let by_broker = matches!(e.kind(), lapin::ErrorKind::ProtocolError(a) if matches!(a.get_id(), 403 | 404 | 406));
        if by_broker || p.failures > MAX_FAILURES {
            let why = format!("publishing to {:?} failed {} time(s), last: {e}", p.target, p.failures);
            let _ = self.tx.send(Incoming::Fatal(self.s.endpoint.failure(why)));
        }
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

    /// Rebuilds the connection with backoff (100 ms doubling to 2 s), until `give_up_after` or a stop.
    async fn reconnect(&mut self) -> Reconnect {
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
        // Only a confirmation settles a publish here; one that failed stays pending and goes out again below.
        // (Removing it from `pending` before looking at the result lost the message: 1 run in 6 of the kill test.)
        for (seq, result) in done {
            if let Ok(c) = result {
                if let Some(p) = self.pending.remove(&seq) {
                    self.settle(p, Ok(c));
                }
            }
        }
        for (_, mut p) in std::mem::take(&mut self.pending) {
            p.failures = p.failures.saturating_add(1);
            self.r.republished += 1;
            self.retry.push_back(p);
        }
        self.shared.blocked.store(false, Ordering::Release);
        self.r.blocked.close(self.s.clock.now());
        if let Some(old) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), old.close(320, "reconnecting".into())).await;
        }
        let started = Instant::now();
        tracing::warn!(republishing = self.retry.len(), "publishing connection lost; reconnecting");
        let mut backoff = Duration::from_millis(100);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                stop = &mut self.stop => return match stop {
                    Ok(stop) => Reconnect::Stopped(stop),
                    Err(_) => Reconnect::GaveUp,
                },
            }
            if let Ok(conn) = self.s.endpoint.open(&self.s.connection_name).await {
                if bounded(self.adopt(conn)).await.is_ok() {
                    self.r.outages.close(self.s.clock.now());
                    tracing::info!(after_ms = started.elapsed().as_millis() as u64, "publishing connection restored");
                    return Reconnect::Done;
                }
            }
            if started.elapsed() >= self.s.give_up_after {
                let why = format!(
                    "the publishing connection was lost and could not be restored for {:.0} s",
                    self.s.give_up_after.as_secs_f64()
                );
                let _ = self.tx.send(Incoming::Fatal(self.s.endpoint.failure(why)));
                return Reconnect::GaveUp;
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// After giving up: answer the stop so that the run can still write its report.
    async fn wait_for_stop(&mut self) {
        if let Ok(stop) = (&mut self.stop).await {
            self.finish(stop).await;
        }
    }

    /// Stops publishing: what the engine handed over and was never sent stays unconfirmed (the end reconciles it:
    /// never accepted); publishes already sent get up to `wait` for their confirms.
    async fn finish(&mut self, (wait, reply): Stop) {
        let mut unsent = self.retry.len() as u64;
        while self.rx.try_recv().is_ok() {
            unsent += 1;
        }
        self.retry.clear();
        let deadline = tokio::time::Instant::now() + wait;
        while self.ch.is_some() && !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, self.in_flight.next()).await {
                Ok(Some((seq, result))) => self.outcome(seq, result),
                _ => break,
            }
        }
        // A publish whose channel failed just now went back to retry: it stays unconfirmed too.
        self.r.unconfirmed_at_end = unsent + (self.pending.len() + self.retry.len()) as u64;
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
