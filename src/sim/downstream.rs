//! The downstream dependency (the "payment service"): servers with a service-time distribution, its own FIFO of
//! waiting requests, error rates, outages (refused, hanging or stalled calls), and overload behaviour (timed-out work keeps costing capacity unless
//! cancelled; optionally it crashes when overloaded for a while and refuses calls until it has restarted).
//!
//! Without this model no retry storm can emerge: it is what turns synchronized retries into renewed overload.

use super::events::{Ev, EventQueue};
use crate::dist::{Dist, Sampler};
use crate::scenario::{CrashCfg, DownstreamCfg, ErrorRates, FailureKind, OnTimeout, OutageMode};
use crate::time::Nanos;
use rand::{Rng, RngExt};
use std::collections::VecDeque;

/// Who is waiting for a call: the consumer slot (with its token, to recognise stale answers) and the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub consumer: u32,
    pub slot: u32,
    pub token: u32,
    pub msg: u64,
}

pub type CallResult = Result<(), FailureKind>;

/// What `call` did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// Refused (down, or its queue is full): the call fails `after` ns from now (0: at once; a refusing outage's
    /// `refuse_after`, a connect delay).
    Refused { after: Nanos },
    /// Accepted; the answer comes later (or never: the caller's timeout decides). `req` identifies it for `abandon`.
    Pending { req: Option<u32> },
}

/// Something the downstream tells the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    Answer {
        caller: Caller,
        result: CallResult,
    },
    /// The server finished work successfully: the side effect happened, whether or not anyone still listens.
    SideEffect {
        msg: u64,
    },
    Crashed,
}

#[derive(Clone, Copy, Debug)]
struct Req {
    caller: Caller,
    outcome: CallResult,
    abandoned: bool,
    in_service: bool,
    /// Removed from the waiting line (cancelled) without being served.
    cancelled: bool,
    token: u32,
    /// When its server finishes it (in service only).
    done_at: Nanos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Up,
    /// Crashed; back when the restart with this generation completes.
    Restarting {
        generation: u32,
    },
}

pub struct Downstream {
    servers: u32,
    service_time: Dist,
    draw: Sampler,
    on_timeout: OnTimeout,
    queue_limit: Option<u64>,
    crash: Option<CrashCfg>,
    base_errors: ErrorRates,
    /// Effective error rates and service-time factor (faults change them).
    pub errors: ErrorRates,
    pub factor: f64,
    outage: Option<OutageMode>,
    /// How long a refused call takes to fail during a refusing outage.
    refuse_after: Nanos,
    /// When the stall in force began.
    stalled_since: Option<Nanos>,
    /// Requests whose service a stall froze: (request, work left when the stall began).
    frozen: Vec<(u32, Nanos)>,
    health: Health,
    busy: u32,
    waiting: VecDeque<u32>,
    reqs: Vec<Option<Req>>,
    free: Vec<u32>,
    next_token: u32,
    /// Requests in service plus waiting (abandoned ones included while they still cost capacity).
    in_system: u64,
    overloaded_since: Option<Nanos>,
    check_generation: u32,
    restart_generation: u32,
    pub crashes: u64,
    pub peak_in_system: u64,
}

impl Downstream {
    pub fn new(cfg: &DownstreamCfg) -> Downstream {
        Downstream {
            servers: cfg.servers,
            service_time: cfg.service_time.clone(),
            draw: cfg.service_time.sampler(),
            on_timeout: cfg.on_timeout,
            queue_limit: cfg.queue_limit,
            crash: cfg.crash.clone(),
            base_errors: cfg.errors.clone(),
            errors: cfg.errors.clone(),
            factor: 1.0,
            outage: None,
            refuse_after: 0,
            stalled_since: None,
            frozen: Vec::new(),
            health: Health::Up,
            busy: 0,
            waiting: VecDeque::new(),
            reqs: Vec::new(),
            free: Vec::new(),
            next_token: 0,
            in_system: 0,
            overloaded_since: None,
            check_generation: 0,
            restart_generation: 0,
            crashes: 0,
            peak_in_system: 0,
        }
    }

    pub fn in_system(&self) -> u64 {
        self.in_system
    }

    pub fn is_up(&self) -> bool {
        self.health == Health::Up && self.outage.is_none()
    }

    pub fn base_errors(&self) -> &ErrorRates {
        &self.base_errors
    }

    /// A call arrives. `rng` decides its outcome and service time.
    pub fn call<R: Rng + ?Sized>(
        &mut self,
        now: Nanos,
        caller: Caller,
        rng: &mut R,
        q: &mut EventQueue,
        notices: &mut Vec<Notice>,
    ) -> Call {
        let stalled = self.outage == Some(OutageMode::Stall);
        match self.outage {
            Some(OutageMode::Hang) => return Call::Pending { req: None },
            Some(OutageMode::Refuse) => return Call::Refused { after: self.refuse_after },
            _ if self.health != Health::Up => return Call::Refused { after: 0 },
            _ => {}
        }
        let full = self.busy >= self.servers || stalled;
        if self.queue_limit.is_some_and(|limit| full && self.live_waiting() >= limit) {
            return Call::Refused { after: 0 };
        }
        let u: f64 = rng.random();
        let e = &self.errors;
        let outcome = if u < e.timeout {
            // The request is swallowed: no answer, no work; only the caller's timeout ends it.
            return Call::Pending { req: None };
        } else if u < e.timeout + e.validation {
            Err(FailureKind::Validation)
        } else if u < e.timeout + e.validation + e.transient {
            Err(FailureKind::Transient)
        } else {
            Ok(())
        };
        self.next_token = self.next_token.wrapping_add(1);
        let token = self.next_token;
        let req = Req { caller, outcome, abandoned: false, in_service: false, cancelled: false, token, done_at: 0 };
        let id = match self.free.pop() {
            Some(i) => {
                self.reqs[i as usize] = Some(req);
                i
            }
            None => {
                self.reqs.push(Some(req));
                (self.reqs.len() - 1) as u32
            }
        };
        self.in_system += 1;
        self.peak_in_system = self.peak_in_system.max(self.in_system);
        if full {
            self.waiting.push_back(id);
        } else {
            self.start(now, id, rng, q);
        }
        self.check_overload(now, q, notices);
        Call::Pending { req: Some(id) }
    }

    fn live_waiting(&self) -> u64 {
        self.in_system.saturating_sub(self.busy as u64)
    }

    fn start<R: Rng + ?Sized>(&mut self, now: Nanos, id: u32, rng: &mut R, q: &mut EventQueue) {
        let Some(r) = self.reqs.get_mut(id as usize).and_then(|r| r.as_mut()) else { return };
        r.in_service = true;
        let token = r.token;
        self.busy += 1;
        let work = self.draw.sample(rng, self.factor).max(1);
        r.done_at = now.saturating_add(work);
        q.push(r.done_at, Ev::ServerDone { req: id, token });
    }

    /// A server finished request `req` (stale completions of requests lost in a crash are ignored).
    pub fn on_done<R: Rng + ?Sized>(
        &mut self,
        now: Nanos,
        req: u32,
        token: u32,
        rng: &mut R,
        q: &mut EventQueue,
        notices: &mut Vec<Notice>,
    ) {
        match self.reqs.get(req as usize) {
            Some(Some(r)) if r.token == token && r.in_service => {}
            _ => return,
        }
        let Some(r) = self.reqs[req as usize].take() else { return };
        self.free.push(req);
        self.busy = self.busy.saturating_sub(1);
        self.in_system = self.in_system.saturating_sub(1);
        if r.outcome.is_ok() {
            notices.push(Notice::SideEffect { msg: r.caller.msg });
        }
        if !r.abandoned {
            notices.push(Notice::Answer { caller: r.caller, result: r.outcome });
        }
        self.fill(now, rng, q);
        self.check_overload(now, q, notices);
    }

    /// Free servers take the next waiting requests (cancelled ones are dropped on the way).
    fn fill<R: Rng + ?Sized>(&mut self, now: Nanos, rng: &mut R, q: &mut EventQueue) {
        while self.busy < self.servers {
            let Some(next) = self.waiting.pop_front() else { break };
            let Some(n) = self.reqs.get(next as usize).and_then(|r| r.as_ref()) else { continue };
            if n.cancelled {
                self.reqs[next as usize] = None;
                self.free.push(next);
                continue;
            }
            self.start(now, next, rng, q);
        }
    }

    /// The caller gave up on `req` (its timeout). With `cancel`, waiting work is dropped; otherwise it still runs.
    pub fn abandon(
        &mut self,
        now: Nanos,
        req: Option<u32>,
        caller: Caller,
        q: &mut EventQueue,
        notices: &mut Vec<Notice>,
    ) {
        let Some(id) = req else { return };
        let Some(r) = self.reqs.get_mut(id as usize).and_then(|r| r.as_mut()) else { return };
        if r.caller != caller {
            return;
        }
        r.abandoned = true;
        if self.on_timeout == OnTimeout::Cancel && !r.in_service && !r.cancelled {
            r.cancelled = true;
            self.in_system = self.in_system.saturating_sub(1);
            self.check_overload(now, q, notices);
        }
    }

    fn check_overload(&mut self, now: Nanos, q: &mut EventQueue, notices: &mut Vec<Notice>) {
        let Some(crash) = &self.crash else { return };
        if self.in_system > crash.when_in_system_above {
            if self.overloaded_since.is_none() {
                self.overloaded_since = Some(now);
                if crash.after.ns() == 0 {
                    self.crash_now(now, q, notices);
                } else {
                    self.check_generation += 1;
                    q.push(now.saturating_add(crash.after.ns()), Ev::CrashCheck { generation: self.check_generation });
                }
            }
        } else if self.overloaded_since.is_some() {
            self.overloaded_since = None;
            self.check_generation += 1;
        }
    }

    pub fn on_crash_check(&mut self, now: Nanos, generation: u32, q: &mut EventQueue, notices: &mut Vec<Notice>) {
        if generation == self.check_generation && self.overloaded_since.is_some() && self.health == Health::Up {
            self.crash_now(now, q, notices);
        }
    }

    fn crash_now(&mut self, now: Nanos, q: &mut EventQueue, notices: &mut Vec<Notice>) {
        let Some(restart) = self.crash.as_ref().map(|c| c.restart.ns()) else { return };
        self.crashes += 1;
        self.fail_everything(notices);
        notices.push(Notice::Crashed);
        self.restart_generation += 1;
        self.health = Health::Restarting { generation: self.restart_generation };
        q.push(now.saturating_add(restart), Ev::Restarted { generation: self.restart_generation });
    }

    pub fn on_restarted(&mut self, generation: u32) {
        if self.health == (Health::Restarting { generation }) {
            self.health = Health::Up;
        }
    }

    /// Every request in the system fails at the same instant (connection reset); queued work is lost.
    fn fail_everything(&mut self, notices: &mut Vec<Notice>) {
        for slot in self.reqs.iter_mut() {
            if let Some(r) = slot.take() {
                if !r.abandoned {
                    notices.push(Notice::Answer { caller: r.caller, result: Err(FailureKind::Transient) });
                }
            }
        }
        self.free = (0..self.reqs.len() as u32).rev().collect();
        self.waiting.clear();
        self.frozen.clear();
        self.busy = 0;
        self.in_system = 0;
        self.overloaded_since = None;
        self.check_generation += 1;
    }

    /// The outage in force now (`None`: none), with a refusing outage's delay. Refusing or hanging resets the calls
    /// in progress; a stall freezes them, and when it ends the servers work through everything it queued.
    pub fn set_outage<R: Rng + ?Sized>(
        &mut self,
        now: Nanos,
        outage: Option<(OutageMode, Nanos)>,
        rng: &mut R,
        q: &mut EventQueue,
        notices: &mut Vec<Notice>,
    ) {
        let mode = outage.map(|(m, _)| m);
        self.refuse_after = outage.map_or(0, |(_, after)| after);
        match mode {
            Some(OutageMode::Refuse | OutageMode::Hang) => {
                if matches!(self.outage, None | Some(OutageMode::Stall)) {
                    self.fail_everything(notices);
                }
                self.stalled_since = None;
            }
            Some(OutageMode::Stall) if self.stalled_since.is_none() => {
                self.stalled_since = Some(now);
                // Work in service stops where it is: its completions go stale (a new token) until the stall ends.
                for (id, slot) in self.reqs.iter_mut().enumerate() {
                    if let Some(r) = slot.as_mut().filter(|r| r.in_service) {
                        self.next_token = self.next_token.wrapping_add(1);
                        r.token = self.next_token;
                        self.frozen.push((id as u32, r.done_at.saturating_sub(now)));
                    }
                }
            }
            Some(OutageMode::Stall) => {}
            None => {
                if self.stalled_since.take().is_some() {
                    for (id, left) in std::mem::take(&mut self.frozen) {
                        let Some(r) = self.reqs.get_mut(id as usize).and_then(|r| r.as_mut()) else { continue };
                        r.done_at = now.saturating_add(left);
                        q.push(r.done_at, Ev::ServerDone { req: id, token: r.token });
                    }
                    self.fill(now, rng, q);
                }
            }
        }
        self.outage = mode;
    }

    /// Capacity right now in requests per second (0 while down).
    pub fn capacity_now(&self) -> f64 {
        if !self.is_up() {
            return 0.0;
        }
        let mean = self.service_time.mean_ns() * self.factor;
        if mean <= 0.0 {
            f64::INFINITY
        } else {
            self.servers as f64 * 1e9 / mean
        }
    }
}

#[cfg(test)]
mod tests;
