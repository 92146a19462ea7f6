//! The discrete-event engine: one loop over scenario time that drives producers, the consumer pool, the
//! downstream, faults and the autoscaler against one broker, and reports everything to the recorder.
//!
//! Virtual time jumps from event to event (a 30-minute redelivery costs nothing); a real clock paces the same
//! loop against the wall clock. The same seed replays the same run.

use super::arrivals::Arrivals;
use super::autoscale::Autoscaler;
use super::breaker::Breaker;
use super::budget::RetryBudget;
use super::clock::Pacer;
use super::consumer::Consumer;
use super::downstream::{Downstream, Notice};
use super::events::{Ev, EventQueue};
use super::killswitch::KillSwitch;
use super::retry::Backoff;
use super::rng::Streams;
use crate::broker::{Broker, BrokerEvent, Envelope};
use crate::record::{Gauges, Recorder};
use crate::scenario::limits::LimitHit;
use crate::scenario::{Fault, Scenario};
use crate::time::Nanos;
use rand::RngExt;

pub struct Engine<'a> {
    pub(super) cfg: &'a Scenario,
    pub(super) now: Nanos,
    pub(super) q: EventQueue,
    pub(super) broker: Box<dyn Broker + 'a>,
    pub(super) out: Vec<BrokerEvent>,
    scratch: Vec<BrokerEvent>,
    pub(super) notices: Vec<Notice>,
    notice_scratch: Vec<Notice>,
    pub(super) consumers: Vec<Consumer>,
    /// Keyed consumption (`consumers.ordering = "keyed"`): the keys' lines over the whole pool.
    pub(super) keyed: Option<super::keyed::KeyedPool>,
    /// The handlers' local work per attempt (`consumers.service_time`, parameters computed once).
    pub(super) handler_time: crate::dist::Sampler,
    pub(super) downstream: Option<Downstream>,
    arrivals: Arrivals,
    pub(super) produced_all: bool,
    /// When the next message is meant to be published (its intended time).
    planned_publish: Nanos,
    /// The broker pushed back (a real one's confirm window full or connection blocked, the embedded queue full
    /// under overflow = block): the due publish waits. Later arrivals stay in the lazy plan behind it.
    pub(super) publish_held: bool,
    /// Since when the due publish has waited.
    held_since: Nanos,
    next_id: u64,
    active_faults: Vec<bool>,
    pub(super) autoscaler: Option<Autoscaler>,
    pub(super) retry: Backoff,
    /// The retry budget shared by every consumer (`scope = "service"`).
    pub(super) budget: Option<RetryBudget>,
    /// The circuit breaker shared by every consumer (`scope = "service"`).
    pub(super) breaker: Option<Breaker>,
    pub(super) kill_switch: Option<KillSwitch>,
    pub(super) redelivery: Backoff,
    pub(super) rng: Streams,
    pub(super) rec: Recorder,
    pacer: Option<Pacer>,
    pub(super) stop_at: Nanos,
    pub(super) events: u64,
    /// Events pending (all of them, and those in the heap) summed at every handled event: the queue lengths the
    /// speed benchmark prices its event-queue floor at.
    queue_len_sum: u64,
    heap_len_sum: u64,
}

/// Loop turns between two looks at the signal flag in virtual time (a relaxed atomic load, but not for free).
const SIGNAL_EVERY: u64 = 1 << 12;

/// What the loop leaves behind.
pub struct Finished {
    pub ended: Ended,
    pub rec: Recorder,
    /// What the broker still held at the end.
    pub depths: crate::broker::Depths,
    pub downstream: Option<Downstream>,
    /// A real broker's reconciliation and report.
    pub real: Option<crate::broker::real::RealReport>,
}

/// How the loop ended.
pub struct Ended {
    pub at: Nanos,
    /// The duration limit cut the run short.
    pub by_limit: bool,
    /// A `[limits]` bound stopped the run (exit 3).
    pub limit: Option<LimitHit>,
    /// The signal that stopped the run (virtual time; a real broker's run reports it in its `RealReport`).
    pub signal: Option<i32>,
    pub events: u64,
    /// Mean events pending when one was taken (heap and fixed-delay FIFO), and of those the mean in the heap.
    pub mean_queue_len: f64,
    pub mean_heap_len: f64,
    /// State at the end, for the last row of the series.
    pub gauges: Gauges,
}

impl<'a> Engine<'a> {
    pub fn new(
        cfg: &'a Scenario,
        seed: u64,
        broker: Box<dyn Broker + 'a>,
        rec: Recorder,
        pacer: Option<Pacer>,
        stop_at: Nanos,
    ) -> Engine<'a> {
        let consumers = (0..cfg.consumers.count).map(|_| Consumer::new(cfg)).collect();
        let shared_budget = cfg.retry.budget.as_ref().filter(|b| b.scope == crate::scenario::BudgetScope::Service);
        let shared_breaker = cfg.circuit_breaker.as_ref().filter(|b| b.scope == crate::scenario::BudgetScope::Service);
        Engine {
            cfg,
            now: 0,
            q: EventQueue::default(),
            broker,
            out: Vec::with_capacity(64),
            scratch: Vec::with_capacity(64),
            notices: Vec::with_capacity(64),
            notice_scratch: Vec::with_capacity(64),
            consumers,
            keyed: cfg.producers.keys.filter(|_| cfg.consumers.ordering == crate::scenario::KeyOrdering::Keyed).map(
                |n| {
                    super::keyed::KeyedPool::new(crate::scenario::keys::KeyMap::new(
                        n,
                        cfg.producers.key_distribution,
                        seed,
                    ))
                },
            ),
            handler_time: cfg.consumers.service_time.sampler(),
            downstream: cfg.downstream.as_ref().map(Downstream::new),
            arrivals: Arrivals::new(&cfg.producers.rate, cfg.messages).until(cfg.producers.produce_for),
            produced_all: false,
            planned_publish: 0,
            publish_held: false,
            held_since: 0,
            next_id: 0,
            active_faults: vec![false; cfg.faults.len()],
            autoscaler: cfg.autoscale.as_ref().map(Autoscaler::new),
            retry: Backoff::from_policy(&cfg.retry.policy, cfg.retry.jitter),
            budget: shared_budget.map(RetryBudget::new),
            breaker: shared_breaker.map(Breaker::new),
            kill_switch: cfg.kill_switch.as_ref().map(KillSwitch::new),
            redelivery: Backoff::intervals(
                cfg.redelivery.intervals.iter().map(|d| d.ns()).collect(),
                cfg.redelivery.jitter,
            ),
            rng: Streams::new(seed),
            rec,
            pacer,
            stop_at,
            events: 0,
            queue_len_sum: 0,
            heap_len_sum: 0,
        }
    }

    /// Runs until every message has an outcome, nothing is left to happen, or the duration limit.
    pub fn run(mut self, progress: &mut dyn FnMut(super::Progress)) -> std::io::Result<Finished> {
        if self.broker.real().is_some() {
            return self.run_real(progress);
        }
        self.start();
        let mut by_limit = false;
        let mut next_paced_report = 0;
        let limits = &self.cfg.limits;
        let (max_events, stall_after) = (limits.max_events(self.cfg.messages), limits.stalled_events());
        let (mut limit, mut signal) = (None, None);
        let (mut instant, mut at_instant, mut steps) = (0, 0u64, 0u64);
        loop {
            if self.produced_all && self.rec.open_messages() == 0 {
                break;
            }
            let ev_t = self.q.peek_time();
            let wake_t = self.broker.next_wake();
            let next = match (ev_t, wake_t) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > self.stop_at {
                self.advance(self.stop_at)?;
                match self.cfg.duration {
                    Some(_) => by_limit = true,
                    None => limit = Some(LimitHit::ScenarioTime { max: self.cfg.limits.max_scenario_time() }),
                }
                break;
            }
            self.advance(next)?;
            if wake_t.is_some_and(|w| w <= next) {
                self.broker.wake(next, &mut self.out);
            } else if let Some((_, ev)) = self.q.pop() {
                self.events += 1;
                self.queue_len_sum += self.q.len() as u64 + 1;
                self.heap_len_sum += self.q.heap_len() as u64;
                self.handle(ev);
                if self.events % super::PROGRESS_EVERY == 0 {
                    progress(self.progress());
                }
            }
            self.settle();
            // The broker takes publishes again (a delivery made room in a blocking queue, a confirm came back): the
            // waiting publish goes.
            if self.publish_held && !self.broker.publish_blocked() {
                self.publish_now();
                self.settle();
            }
            if self.pacer.is_some() && self.now >= next_paced_report {
                progress(self.progress());
                next_paced_report = self.now.saturating_add(crate::time::NS_PER_SEC);
            }
            // The guards that make every run end: scenario time must move on, events are bounded, signals stop.
            if self.now == instant {
                at_instant += 1;
                if at_instant >= stall_after {
                    limit = Some(LimitHit::Stalled { events: stall_after, at_ns: self.now });
                    break;
                }
            } else {
                (instant, at_instant) = (self.now, 0);
            }
            if self.events >= max_events {
                limit = Some(LimitHit::Events { max: max_events });
                break;
            }
            steps += 1;
            if self.pacer.is_some() || steps % SIGNAL_EVERY == 0 {
                signal = super::interrupt::received();
                if signal.is_some() {
                    break;
                }
            }
        }
        progress(self.progress());
        self.record_resilience();
        self.end_held_publish();
        let gauges = self.gauges();
        let per_event = |sum: u64| sum as f64 / self.events.max(1) as f64;
        let (mean_queue_len, mean_heap_len) = (per_event(self.queue_len_sum), per_event(self.heap_len_sum));
        let ended =
            Ended { at: self.now, by_limit, limit, signal, events: self.events, mean_queue_len, mean_heap_len, gauges };
        Ok(Finished { ended, rec: self.rec, depths: self.broker.depths(), downstream: self.downstream, real: None })
    }

    pub(super) fn progress(&self) -> super::Progress {
        let done = self.rec.produced_count() - self.rec.open_messages();
        super::Progress { done, total: self.cfg.messages, now: self.now }
    }

    pub(super) fn advance(&mut self, t: Nanos) -> std::io::Result<()> {
        if let Some(p) = &mut self.pacer {
            p.wait_until(t);
        }
        if self.rec.needs_flush(t) {
            let g = self.gauges();
            self.rec.flush(t, &g)?;
        }
        self.now = t;
        Ok(())
    }

    pub fn gauges(&self) -> Gauges {
        let d = self.broker.depths();
        Gauges {
            ready: d.ready,
            unacked: d.unacked,
            delayed: d.delayed,
            dead: d.dead,
            in_flight: self.consumers.iter().map(|c| c.busy as u64).sum(),
            in_system: self.downstream.as_ref().map_or(0, |d| d.in_system()),
            // A kill switch that has stopped consumption leaves no replica consuming.
            consumers: d.external_consumers.unwrap_or_else(|| {
                if self.kill_switch.as_ref().is_some_and(|k| k.is_stopped()) {
                    0
                } else {
                    self.consumers.iter().filter(|c| c.is_consuming()).count() as u64
                }
            }),
            capacity: self.downstream.as_ref().map_or(0.0, |d| d.capacity_now()),
            breakers_open: self
                .breaker
                .iter()
                .chain(self.consumers.iter().filter_map(|c| c.breaker.as_ref()))
                .filter(|b| b.state != super::breaker::State::Closed)
                .count() as u64,
        }
    }

    pub(super) fn start(&mut self) {
        for i in 0..self.consumers.len() {
            self.consumer_up(i as u32);
        }
        // Network and broker faults act on the real broker's side (its proxy, its fault thread), not here.
        for (i, f) in self.cfg.faults.iter().enumerate().filter(|(_, f)| f.is_engine()) {
            self.q.push(f.at().ns(), Ev::FaultStart { index: i as u32 });
            if let (Some(end), false) = (f.end(), matches!(f, Fault::ConsumerCrash { .. })) {
                self.q.push(end.ns(), Ev::FaultEnd { index: i as u32 });
            }
        }
        if let Some(a) = &self.autoscaler {
            self.q.push(a.polling_interval(), Ev::AutoscalePoll);
        }
        self.schedule_next_publish();
        self.settle();
    }

    pub(super) fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Publish => self.publish(),
            Ev::LocalDone { consumer, slot, token } => self.on_local_done(consumer, slot, token),
            Ev::RetryDue { consumer, slot, token } => self.on_retry_due(consumer, slot, token),
            Ev::CallTimeout { consumer, slot, token } => self.on_call_timeout(consumer, slot, token),
            Ev::CallRefused { consumer, slot, token } => self.on_call_refused(consumer, slot, token),
            Ev::ServerDone { req, token } => {
                if let Some(d) = &mut self.downstream {
                    d.on_done(self.now, req, token, &mut self.rng.downstream, &mut self.q, &mut self.notices);
                }
            }
            Ev::CrashCheck { generation } => {
                if let Some(d) = &mut self.downstream {
                    d.on_crash_check(self.now, generation, &mut self.q, &mut self.notices);
                }
            }
            Ev::Restarted { generation } => {
                if let Some(d) = &mut self.downstream {
                    d.on_restarted(generation);
                }
            }
            Ev::FaultStart { index } => self.fault(index as usize, true),
            Ev::FaultEnd { index } => self.fault(index as usize, false),
            Ev::ConsumerUp { consumer, generation } => {
                if self.consumers.get(consumer as usize).is_some_and(|c| c.generation == generation) {
                    self.consumer_up(consumer);
                }
            }
            Ev::AutoscalePoll => self.autoscale_poll(),
            Ev::KillSwitchRestart => self.kill_switch_restart(),
        }
    }

    /// Processes broker events and downstream notices until neither has anything left.
    pub(super) fn settle(&mut self) {
        loop {
            if !self.out.is_empty() {
                std::mem::swap(&mut self.out, &mut self.scratch);
                let mut batch = std::mem::take(&mut self.scratch);
                for ev in batch.drain(..) {
                    self.on_broker_event(ev);
                }
                self.scratch = batch;
            } else if !self.notices.is_empty() {
                std::mem::swap(&mut self.notices, &mut self.notice_scratch);
                let mut batch = std::mem::take(&mut self.notice_scratch);
                for n in batch.drain(..) {
                    match n {
                        Notice::Answer { caller, result } => self.on_answer(caller, result),
                        Notice::SideEffect { msg } => self.rec.side_effect(msg),
                        Notice::Crashed => {}
                    }
                }
                self.notice_scratch = batch;
            } else {
                break;
            }
        }
    }

    fn on_broker_event(&mut self, ev: BrokerEvent) {
        match ev {
            BrokerEvent::Delivered(d) => self.deliver(d),
            BrokerEvent::DeadLettered { env, reason } => self.rec.dead_lettered(self.now, &env, reason),
            BrokerEvent::Expired { env } => self.rec.expired(self.now, &env),
            BrokerEvent::PublishRefused { env } => self.rec.refused(env.id),
            BrokerEvent::LockExpired { .. } => self.rec.peek_lock().expired += 1,
        }
    }

    fn schedule_next_publish(&mut self) {
        match self.arrivals.next(&mut self.rng.arrivals) {
            // A producer behind its schedule (held back by the broker) publishes the next one at once, but its
            // intended time stays the plan's: the lag counts in `latency_ms` (no coordinated omission).
            Some(t) => {
                self.planned_publish = t;
                self.q.push(t.max(self.now), Ev::Publish);
            }
            None => self.produced_all = true,
        }
    }

    /// The producer's next message is due. A broker that pushes back (a real one out of credit, a full embedded
    /// queue under overflow = block) holds it until it can take it.
    fn publish(&mut self) {
        if self.broker.publish_blocked() || self.broker.real().is_some_and(|r| !r.can_publish()) {
            if !self.publish_held {
                self.publish_held = true;
                self.held_since = self.now;
                self.rec.producer_held();
            }
            return;
        }
        self.publish_now();
    }

    /// The run ends with a publish still held: the producer was blocked until the end.
    pub(super) fn end_held_publish(&mut self) {
        if self.publish_held {
            self.rec.producer_blocked(self.now.saturating_sub(self.held_since));
            self.held_since = self.now;
        }
    }

    /// Publishes the due message (its intended time is the planned one, however late it goes out).
    pub(super) fn publish_now(&mut self) {
        if std::mem::take(&mut self.publish_held) {
            self.rec.producer_blocked(self.now.saturating_sub(self.held_since));
        }
        self.rec.publish_lag(self.now.saturating_sub(self.planned_publish));
        let p = &self.cfg.producers;
        let size = match p.size {
            crate::scenario::SizeDist::Fixed { bytes } => bytes,
            crate::scenario::SizeDist::Uniform { min_bytes, max_bytes } => {
                if max_bytes > min_bytes {
                    self.rng.payload.random_range(min_bytes..=max_bytes)
                } else {
                    min_bytes
                }
            }
        };
        let poison = p.poison_fraction > 0.0 && self.rng.payload.random::<f64>() < p.poison_fraction;
        let env = Envelope {
            id: self.next_id,
            intended: self.planned_publish,
            published: self.now,
            size: size.min(u32::MAX as u64) as u32,
            poison,
            redeliveries: 0,
        };
        self.next_id += 1;
        self.rec.produced();
        self.rec.published(self.now, env.id);
        self.broker.publish(self.now, env, &mut self.out);
        self.schedule_next_publish();
    }

    fn fault(&mut self, index: usize, starting: bool) {
        let Some(f) = self.cfg.faults.get(index) else { return };
        if let Fault::ConsumerCrash { consumer, restart, .. } = f {
            let targets: Vec<u32> = match consumer {
                Some(c) => vec![*c],
                None => (0..self.consumers.len() as u32).collect(),
            };
            for c in targets {
                self.crash_consumer(c, restart.map(|r| r.ns()));
            }
            return;
        }
        self.active_faults[index] = starting;
        self.apply_downstream_faults();
    }

    /// Recomputes the downstream's state from the faults active now (later faults win).
    fn apply_downstream_faults(&mut self) {
        let Some(d) = &mut self.downstream else { return };
        let mut outage = None;
        let mut errors = d.base_errors().clone();
        let mut factor = 1.0;
        for (f, _) in self.cfg.faults.iter().zip(&self.active_faults).filter(|(_, a)| **a) {
            match f {
                Fault::Outage { mode, refuse_after, .. } => outage = Some((*mode, refuse_after.ns())),
                Fault::ErrorSpike { transient, timeout, validation, .. } => {
                    errors = crate::scenario::ErrorRates {
                        transient: *transient,
                        timeout: *timeout,
                        validation: *validation,
                    }
                }
                Fault::LatencySpike { factor: k, .. } => factor *= k,
                // Crashes act once; the other kinds never reach the engine (see `start`).
                _ => {}
            }
        }
        d.errors = errors;
        d.factor = factor;
        d.set_outage(self.now, outage, &mut self.rng.downstream, &mut self.q, &mut self.notices);
    }
}
