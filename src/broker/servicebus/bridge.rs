//! What the Service Bus tasks share with the engine's thread: the clients, the counters both sides read, a held
//! delivery's lock, and the events the tasks send back on one std channel (which the loop waits on with a deadline).

use super::conn::ConnString;
use crate::broker::{DeadLetterReason, Envelope};
use azure_core::HttpClient;
use azure_messaging_servicebus::service_bus::{PeekLockResponse, QueueClient};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The entities a run uses (they exist before it starts and stay after it).
#[derive(Clone, Debug)]
pub struct Names {
    pub work: String,
    pub error: String,
    pub skipped: String,
    /// `<queue>/$DeadLetterQueue`, where the broker puts its own dead letters.
    pub dlq: String,
}

impl Names {
    pub fn new(queue: &str) -> Names {
        Names {
            work: queue.to_string(),
            error: format!("{queue}_error"),
            skipped: format!("{queue}_skipped"),
            dlq: format!("{queue}/$DeadLetterQueue"),
        }
    }
}

/// Everything a task needs, shared.
pub struct Ctx {
    pub conn: ConnString,
    pub http: Arc<dyn HttpClient>,
    pub names: Names,
    pub work: QueueClient,
    pub error: QueueClient,
    pub skipped: QueueClient,
    pub dlq: QueueClient,
    /// This run's stamp in every body (messages of other runs are left alone).
    pub run: String,
    /// The messages' time to live on the wall clock (`queue.message_ttl` over the time scale).
    pub ttl: Option<Duration>,
    pub tx: Sender<Incoming>,
    pub shared: Shared,
    /// Sends at once (each is one HTTP request).
    pub send_slots: Arc<Semaphore>,
}

impl Ctx {
    pub fn emit(&self, m: Incoming) {
        let _ = self.tx.send(m);
    }
    pub fn fatal(&self, why: String) {
        self.emit(Incoming::Fatal(why));
    }
    pub fn failed_receive(&self, why: String) {
        self.shared.receive_errors.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut last) = self.shared.last_receive_error.lock() {
            *last = why;
        }
    }
}

/// Counters both sides read without a message.
#[derive(Default)]
pub struct Shared {
    /// Publishes (copies too) handed to send tasks, and those with an outcome.
    pub submitted: AtomicU64,
    pub settled: AtomicU64,
    /// The engine holds a publish until the in-flight count drops.
    pub waiting: AtomicBool,
    /// The queue's counts from the management GET, and how many polls answered.
    pub active: AtomicU64,
    pub dead: AtomicU64,
    pub scheduled: AtomicU64,
    pub polls: AtomicU64,
    /// Receives that failed (transport or status), retried, and the latest failure.
    pub receive_errors: AtomicU64,
    pub last_receive_error: Mutex<String>,
    /// Lock renewals that succeeded, and ones that failed (the lock was lost).
    pub renewals: AtomicU64,
    pub renewals_failed: AtomicU64,
    /// Ends the dead-letter reader and the depth poller.
    pub stop: AtomicBool,
}

impl Shared {
    pub fn in_flight(&self) -> u64 {
        self.submitted.load(Ordering::Acquire).saturating_sub(self.settled.load(Ordering::Acquire))
    }
}

/// A delivery's peek-lock: the lock URL (inside the response), until when it holds (wall clock, from
/// `LockedUntilUtc` against the response's `Date`), and whether it was lost.
pub struct Lock {
    pub msg: PeekLockResponse,
    pub until: Mutex<Instant>,
    /// The lock period the broker granted.
    pub period: Duration,
    pub lost: AtomicBool,
    /// Settled (completed, abandoned, moved): renewals stop.
    pub done: AtomicBool,
}

impl Lock {
    pub fn holds(&self) -> bool {
        !self.lost.load(Ordering::Acquire) && self.until.lock().is_ok_and(|u| *u > Instant::now())
    }
}

/// What a settle did to a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    Complete,
    Abandon,
}

/// Where a send goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Work,
    /// `<queue>_error` or `<queue>_skipped` (by the reason), with the reason as a custom property.
    Dead(DeadLetterReason),
}

/// A delivery that a copy replaces: completed once the copy is sent, abandoned if it cannot be.
pub struct Original {
    pub consumer: u32,
    pub tag: u64,
    pub lock: Arc<Lock>,
    pub permit: Option<OwnedSemaphorePermit>,
}

/// From the tasks to the engine's loop.
pub enum Incoming {
    Delivery {
        consumer: u32,
        gen: u32,
        env: Envelope,
        count: u32,
        lock: Arc<Lock>,
        permit: OwnedSemaphorePermit,
        received: Instant,
    },
    /// A message this run did not publish: left locked, untouched (the broker makes it available again later).
    Foreign,
    /// Read from `<queue>/$DeadLetterQueue` (and removed from it).
    Dead {
        env: Envelope,
        reason: DeadLetterReason,
    },
    /// A send has its outcome. `ok`: the broker took it; `refused`: it said no for good (4xx).
    Sent {
        env: Envelope,
        target: Target,
        ok: bool,
        refused: bool,
        original: Option<(u32, u64, bool)>,
    },
    /// A complete or abandon has its outcome; `ok = false`: the lock was lost (404/410) or the request failed.
    Settled {
        ok: bool,
    },
    /// The publish window has room again.
    Wake,
    Fatal(String),
}
