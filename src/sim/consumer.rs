//! The consumer pool: handler slots, in-memory retry (the message stays unacked and its slot busy), delayed
//! redelivery, the final failure path (error queue, requeue or reject), consumer crashes and restarts.
//!
//! This is the one implementation of consumer logic; it only talks to the `Broker` trait and the downstream.

use super::breaker::Breaker;
use super::budget::RetryBudget;
use super::downstream::{Call, CallResult, Caller};
use super::engine::Engine;
use super::events::Ev;
use super::throttle::Throttle;
use crate::broker::{DeadLetterReason, Delivery};
use crate::record::AttemptClass;
use crate::scenario::{BudgetScope, FailureKind, OnFailure, Scenario};
use crate::time::Nanos;
use rand::RngExt;
use std::collections::VecDeque;

/// Handler attempts take at least this long, so that a requeue loop always advances time.
const MIN_ATTEMPT_NS: Nanos = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Running,
    /// Scaled up or restarting; consumes once its start-up delay is over.
    Starting,
    /// Scaled down: takes nothing new, finishes what it is working on.
    Draining,
    Down,
}

#[derive(Debug)]
struct Job {
    d: Delivery,
    /// In-memory attempt number, 1-based.
    attempt: u32,
    prev_delay: Nanos,
    started: Nanos,
    call: Option<(Option<u32>, Caller)>,
}

#[derive(Debug, Default)]
struct Slot {
    token: u32,
    job: Option<Job>,
}

pub struct Consumer {
    pub life: Life,
    /// Bumped on every crash and restart; events of an older generation are stale.
    pub generation: u32,
    /// Deliveries free to start (keyed consumption: the first of their key; the others wait in `keyed`).
    pub(super) buffer: VecDeque<Delivery>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    pub busy: u32,
    /// The kill switch's restart came while this consumer still held deliveries: it resumes once it holds none
    /// (so that no backend reopens a channel with messages on it).
    pub resume_when_idle: bool,
    /// The consumer's own circuit breaker (`scope = "consumer"`; a service-wide one is the engine's).
    pub breaker: Option<Breaker>,
    /// The consumer's own retry budget (`scope = "consumer"`; a service-wide one is the engine's).
    pub budget: Option<RetryBudget>,
    /// Adaptive throttling of this instance's downstream calls (`[downstream.throttle]`).
    pub throttle: Option<Throttle>,
}

impl Consumer {
    pub fn new(cfg: &Scenario) -> Consumer {
        let concurrency = cfg.consumers.concurrency;
        let own_budget = cfg.retry.budget.as_ref().filter(|b| b.scope == BudgetScope::Consumer);
        let own_breaker = cfg.circuit_breaker.as_ref().filter(|b| b.scope == BudgetScope::Consumer);
        Consumer {
            life: Life::Down,
            generation: 0,
            buffer: VecDeque::new(),
            slots: (0..concurrency).map(|_| Slot::default()).collect(),
            free: (0..concurrency).rev().collect(),
            busy: 0,
            resume_when_idle: false,
            breaker: own_breaker.map(Breaker::new),
            budget: own_budget.map(RetryBudget::new),
            throttle: cfg.downstream.as_ref().and_then(|d| d.throttle.as_ref()).map(Throttle::new),
        }
    }

    pub fn is_consuming(&self) -> bool {
        matches!(self.life, Life::Running | Life::Draining)
    }

    /// Counts toward the replicas the autoscaler manages.
    pub fn is_replica(&self) -> bool {
        matches!(self.life, Life::Running | Life::Starting)
    }

    fn job(&mut self, slot: u32, token: u32) -> Option<&mut Job> {
        let s = self.slots.get_mut(slot as usize)?;
        if s.token != token {
            return None;
        }
        s.job.as_mut()
    }

    /// A handler of this consumer is working on the delivery `tag`.
    pub(super) fn is_running(&self, tag: u64) -> bool {
        self.slots.iter().any(|s| s.job.as_ref().is_some_and(|j| j.d.tag == tag))
    }

    fn bump(&mut self, slot: u32) -> u32 {
        let s = &mut self.slots[slot as usize];
        s.token = s.token.wrapping_add(1);
        s.token
    }
}

impl Engine<'_> {
    pub(super) fn consumer_up(&mut self, c: u32) {
        let prefetch = self.cfg.consumers.prefetch;
        let con = &mut self.consumers[c as usize];
        con.life = Life::Running;
        // While the kill switch holds the consumers stopped, a consumer that comes up waits for the restart.
        if !self.kill_switch_stopped() {
            self.broker.open_consumer(self.now, c, prefetch, &mut self.out);
        }
    }

    /// The consumer dies: in-memory work is lost, unacked messages go back to the queue.
    pub(super) fn crash_consumer(&mut self, c: u32, restart: Option<Nanos>) {
        let Some(con) = self.consumers.get_mut(c as usize) else { return };
        if con.life == Life::Down {
            return;
        }
        con.generation += 1;
        con.life = Life::Down;
        con.buffer.clear();
        self.keyed_forget(c, true); // the broker takes back every unacked delivery: waiting ones are dropped too
        let con = &mut self.consumers[c as usize];
        for s in 0..con.slots.len() as u32 {
            con.bump(s);
            con.slots[s as usize].job = None;
        }
        con.free = (0..con.slots.len() as u32).rev().collect();
        con.busy = 0;
        con.resume_when_idle = false;
        let generation = con.generation;
        self.broker.close_consumer(self.now, c, &mut self.out);
        if let Some(r) = restart {
            self.q.push(self.now.saturating_add(r), Ev::ConsumerUp { consumer: c, generation });
        }
    }

    pub(super) fn deliver(&mut self, d: Delivery) {
        if self.kill_switch_stopped() {
            // sent before the consumer stopped: back to the queue, as the client cancelling consumption does
            return self.broker.nack(self.now, d.consumer, d.tag, true, &mut self.out);
        }
        if d.consumer as usize >= self.consumers.len() {
            return;
        }
        if self.keyed_arrived(&d) {
            self.consumers[d.consumer as usize].buffer.push_back(d);
        }
        self.pump(d.consumer);
    }

    /// Starts buffered deliveries while the consumer has free slots (keyed consumption: the buffer holds only the
    /// deliveries free to start).
    pub(super) fn pump(&mut self, c: u32) {
        if self.kill_switch_stopped() {
            return;
        }
        loop {
            let con = &mut self.consumers[c as usize];
            if con.life != Life::Running {
                return;
            }
            let Some(&slot) = con.free.last() else { return };
            let Some(d) = con.buffer.pop_front() else { return };
            self.keyed_start(&d);
            let con = &mut self.consumers[c as usize];
            con.free.pop();
            con.busy += 1;
            con.slots[slot as usize].job = Some(Job { d, attempt: 1, prev_delay: 0, started: 0, call: None });
            // Peek-lock: the handler runs even if the lock ran out in the prefetch buffer (the client cannot
            // know); the processor starts renewing a lock it still holds.
            if !self.broker.holds_lock(c, d.tag) {
                self.rec.peek_lock().expired_in_buffer += 1;
            }
            self.broker.handler_started(self.now, c, d.tag);
            self.start_attempt(c, slot);
        }
    }

    fn start_attempt(&mut self, c: u32, slot: u32) {
        let now = self.now;
        let con = &mut self.consumers[c as usize];
        let token = con.bump(slot);
        let Some(job) = con.slots[slot as usize].job.as_mut() else { return };
        job.started = now;
        job.call = None;
        let class = if job.attempt > 1 {
            AttemptClass::Retry(job.attempt - 1)
        } else if job.d.delivery_count > 1 || job.d.env.redeliveries > 0 {
            AttemptClass::Redelivery
        } else {
            AttemptClass::First
        };
        self.rec.attempt(class);
        if class == AttemptClass::First {
            self.rec.queue_wait(now.saturating_sub(job.d.env.published));
        }
        if !matches!(class, AttemptClass::Retry(_)) {
            if let Some(b) = self.budget(c) {
                b.first_attempt(now);
            }
        }
        let work = self.handler_time.sample(&mut self.rng.handler, 1.0).max(MIN_ATTEMPT_NS);
        self.q.push(now.saturating_add(work), Ev::LocalDone { consumer: c, slot, token });
    }

    pub(super) fn on_local_done(&mut self, c: u32, slot: u32, token: u32) {
        let now = self.now;
        let Some(job) = self.consumers[c as usize].job(slot, token) else { return };
        if job.d.env.poison {
            return self.finish_attempt(c, slot, Err(FailureKind::Poison));
        }
        let msg = job.d.env.id;
        if self.downstream.is_none() {
            self.rec.side_effect(msg);
            return self.finish_attempt(c, slot, Ok(()));
        }
        if self.throttled(c) {
            return self.finish_attempt(c, slot, Err(FailureKind::Throttled));
        }
        if let Some(b) = self.breaker(c) {
            if !b.allow(now) {
                return self.finish_attempt(c, slot, Err(FailureKind::CircuitOpen));
            }
        }
        let caller = Caller { consumer: c, slot, token, msg };
        self.rec.call_offered();
        let Some(down) = &mut self.downstream else { return };
        match down.call(now, caller, &mut self.rng.downstream, &mut self.q, &mut self.notices) {
            Call::Refused { after: 0 } => self.on_call_refused(c, slot, token),
            call => {
                let req = match call {
                    Call::Pending { req } => req,
                    Call::Refused { after } => {
                        // The refusal comes after a connect delay, unless the caller's timeout ends the call first.
                        self.q.push(now.saturating_add(after), Ev::CallRefused { consumer: c, slot, token });
                        None
                    }
                };
                if let Some(job) = self.consumers[c as usize].job(slot, token) {
                    job.call = Some((req, caller));
                }
                if let Some(t) = self.cfg.downstream.as_ref().and_then(|d| d.timeout) {
                    self.q.push_in_order(now.saturating_add(t.ns()), Ev::CallTimeout { consumer: c, slot, token });
                }
            }
        }
    }

    /// The downstream refused a call (at once, or after a refusing outage's `refuse_after`).
    pub(super) fn on_call_refused(&mut self, c: u32, slot: u32, token: u32) {
        if self.consumers[c as usize].job(slot, token).is_none() {
            return;
        }
        self.throttle_outcome(c, false);
        self.rec.call_failed(self.now);
        self.breaker_record(c, false);
        self.finish_attempt(c, slot, Err(FailureKind::Transient));
    }

    /// The downstream answered a call.
    pub(super) fn on_answer(&mut self, caller: Caller, result: CallResult) {
        if result == Err(FailureKind::Transient) {
            self.rec.call_failed(self.now);
        }
        let Some(con) = self.consumers.get_mut(caller.consumer as usize) else { return };
        if con.job(caller.slot, caller.token).is_none() {
            return;
        }
        // The service answered: it accepted the call, unless the answer is a failure of overload or unavailability.
        self.throttle_outcome(caller.consumer, matches!(result, Ok(()) | Err(FailureKind::Validation)));
        self.breaker_record(caller.consumer, result.is_ok());
        self.finish_attempt(caller.consumer, caller.slot, result);
    }

    pub(super) fn on_call_timeout(&mut self, c: u32, slot: u32, token: u32) {
        let Some(job) = self.consumers[c as usize].job(slot, token) else { return };
        let call = job.call;
        if let (Some(d), Some((req, caller))) = (&mut self.downstream, call) {
            d.abandon(self.now, req, caller, &mut self.q, &mut self.notices);
        }
        self.throttle_outcome(c, false);
        self.rec.call_failed(self.now);
        self.breaker_record(c, false);
        self.finish_attempt(c, slot, Err(FailureKind::Timeout));
    }

    /// Adaptive throttling rejects the call consumer `c` is about to make (a draw from the throttle's own stream,
    /// only when the probability is above 0); a rejection is a request the backend did not accept.
    fn throttled(&mut self, c: u32) -> bool {
        let now = self.now;
        let Some(t) = &mut self.consumers[c as usize].throttle else { return false };
        let p = t.probability(now);
        if p <= 0.0 || self.rng.throttle.random::<f64>() >= p {
            return false;
        }
        t.outcome(now, false);
        true
    }

    fn throttle_outcome(&mut self, c: u32, accepted: bool) {
        let now = self.now;
        if let Some(t) = &mut self.consumers[c as usize].throttle {
            t.outcome(now, accepted);
        }
    }

    /// The circuit breaker consumer `c`'s calls go through: the service's, else the consumer's own.
    fn breaker(&mut self, c: u32) -> Option<&mut Breaker> {
        match &mut self.breaker {
            Some(b) => Some(b),
            None => self.consumers[c as usize].breaker.as_mut(),
        }
    }

    fn breaker_record(&mut self, c: u32, success: bool) {
        let now = self.now;
        if let Some(b) = self.breaker(c) {
            if b.record(now, success) {
                self.rec.breaker_opened();
            }
        }
    }

    /// An attempt ended: ack, retry in memory, schedule a redelivery, or give up.
    fn finish_attempt(&mut self, c: u32, slot: u32, result: CallResult) {
        let now = self.now;
        let con = &mut self.consumers[c as usize];
        let token = con.bump(slot);
        let Some(job) = con.slots[slot as usize].job.as_ref() else { return };
        let (d, attempt) = (job.d, job.attempt);
        self.rec.attempt_done(now - job.started, result);
        if let (Ok(()), Some(b)) = (result, self.budget(c)) {
            b.success();
        }
        let kind = match result {
            Ok(()) if !self.broker.holds_lock(c, d.tag) => {
                // The complete fails (MessageLockLost): the side effect stays, the broker delivers it again.
                let p = self.rec.peek_lock();
                p.settle_failed += 1;
                p.completed_unsettled += 1;
                self.broker.release(now, c, d.tag, &mut self.out);
                return self.free_slot(c, slot);
            }
            Ok(()) => {
                self.rec.completed(now, &d.env);
                self.broker.ack(now, c, d.tag, &mut self.out);
                self.kill_switch_outcome(true);
                return self.free_slot(c, slot);
            }
            Err(kind) => kind,
        };
        let on_failure = self.cfg.consumers.on_failure;
        if kind == FailureKind::Poison && on_failure == OnFailure::ErrorQueue {
            if self.settle_fails(c, slot, d.tag) {
                return;
            }
            self.broker.dead_letter(now, c, d.tag, DeadLetterReason::Deserialization, &mut self.out);
            self.kill_switch_outcome(false);
            return self.free_slot(c, slot);
        }
        let retryable = self.cfg.retry.filter.retries(kind);
        if let (true, Some(b)) = (retryable, self.budget(c)) {
            b.failure();
        }
        if retryable && attempt <= self.retry.limit() && self.budget_allows_retry(c) {
            let Some(job) = self.consumers[c as usize].slots[slot as usize].job.as_mut() else { return };
            let delay = self.retry.next(job.attempt, job.prev_delay, &mut self.rng.retry);
            job.prev_delay = delay;
            job.attempt += 1;
            self.q.push(now.saturating_add(delay), Ev::RetryDue { consumer: c, slot, token });
            return;
        }
        if self.settle_fails(c, slot, d.tag) {
            return;
        }
        // the handler gave up on this delivery: a fault the kill switch sees
        self.kill_switch_outcome(false);
        if retryable && d.env.redeliveries < self.redelivery.limit() {
            let stage = d.env.redeliveries + 1;
            let delay = self.redelivery.next(stage, 0, &mut self.rng.redelivery);
            let mut env = d.env;
            env.redeliveries = stage;
            self.broker.redeliver_later(now, c, d.tag, env, now.saturating_add(delay), &mut self.out);
            return self.free_slot(c, slot);
        }
        match on_failure {
            OnFailure::ErrorQueue => {
                let reason = if retryable { DeadLetterReason::RetriesExhausted } else { DeadLetterReason::NotRetried };
                self.broker.dead_letter(now, c, d.tag, reason, &mut self.out);
            }
            OnFailure::Requeue => self.broker.nack(now, c, d.tag, true, &mut self.out),
            OnFailure::Reject => self.broker.nack(now, c, d.tag, false, &mut self.out),
        }
        self.free_slot(c, slot);
    }

    /// The retry budget that pays for consumer `c`'s retries: the service's, else the consumer's own.
    fn budget(&mut self, c: u32) -> Option<&mut RetryBudget> {
        match &mut self.budget {
            Some(b) => Some(b),
            None => self.consumers[c as usize].budget.as_mut(),
        }
    }

    /// Whether the budget (if any) lets a retry the policy wants go ahead. A refused retry is counted and takes
    /// the path of an exhausted retry policy.
    fn budget_allows_retry(&mut self, c: u32) -> bool {
        let now = self.now;
        let Some(b) = self.budget(c) else { return true };
        if b.try_retry(now) {
            return true;
        }
        self.rec.budget_rejected();
        false
    }

    /// Peek-lock: a handler that gives up after its lock ran out cannot redeliver, dead-letter or abandon the
    /// message (MessageLockLost); it drops its stale copy. Returns whether that happened.
    fn settle_fails(&mut self, c: u32, slot: u32, tag: u64) -> bool {
        if self.broker.holds_lock(c, tag) {
            return false;
        }
        self.rec.peek_lock().settle_failed += 1;
        self.broker.release(self.now, c, tag, &mut self.out);
        self.free_slot(c, slot);
        true
    }

    pub(super) fn on_retry_due(&mut self, c: u32, slot: u32, token: u32) {
        if self.consumers[c as usize].job(slot, token).is_some() {
            self.start_attempt(c, slot);
        }
    }

    fn free_slot(&mut self, c: u32, slot: u32) {
        let con = &mut self.consumers[c as usize];
        con.bump(slot);
        let job = con.slots[slot as usize].job.take();
        con.free.push(slot);
        con.busy -= 1;
        if let Some(job) = job.filter(|_| self.keyed.is_some()) {
            self.keyed_done(&job.d);
        }
        let con = &mut self.consumers[c as usize];
        if con.resume_when_idle && con.busy == 0 {
            con.resume_when_idle = false;
            if con.life == Life::Running {
                let prefetch = self.cfg.consumers.prefetch;
                return self.broker.open_consumer(self.now, c, prefetch, &mut self.out);
            }
        }
        if con.life == Life::Draining && con.busy == 0 {
            con.life = Life::Down;
            con.generation += 1;
            self.broker.close_consumer(self.now, c, &mut self.out);
            return;
        }
        self.pump(c);
    }

    /// Scale-down: stop taking messages, hand back the prefetched ones, finish the ones in progress.
    pub(super) fn drain_consumer(&mut self, c: u32) {
        let now = self.now;
        let con = &mut self.consumers[c as usize];
        match con.life {
            Life::Starting => {
                con.life = Life::Down;
                con.generation += 1;
                return;
            }
            Life::Running => {}
            Life::Draining | Life::Down => return,
        }
        con.life = Life::Draining;
        self.stop_consuming(c);
        if self.consumers[c as usize].busy == 0 {
            let con = &mut self.consumers[c as usize];
            con.life = Life::Down;
            con.generation += 1;
            self.broker.close_consumer(now, c, &mut self.out);
        }
    }

    /// No new deliveries to consumer `c`; its prefetched ones go back to the queue, the ones in progress go on
    /// (scale-down, the kill switch).
    pub(super) fn stop_consuming(&mut self, c: u32) {
        let now = self.now;
        self.broker.pause_consumer(now, c);
        let mut buffered: Vec<Delivery> = self.consumers[c as usize].buffer.drain(..).collect();
        if self.keyed.is_some() {
            // the ones waiting for their key too, all in delivery order
            buffered.extend(self.keyed_forget(c, false));
            buffered.sort_by_key(|d| d.tag);
        }
        for d in buffered.iter().rev() {
            self.broker.nack(now, c, d.tag, true, &mut self.out);
        }
    }
}
