//! The bridge between the engine's synchronous loop and the lapin tasks: what the tasks tell the engine (one std
//! channel, which the loop waits on with a deadline: ~30 us hand-off, no 1 ms timer granularity) and the few
//! counters both sides read without a message.

use crate::broker::{DeadLetterReason, Envelope};
use crate::time::Nanos;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every broker operation a task awaits (declare, channel open, consume, cancel, close) ends within this: a
/// half-dead connection must fail the operation, not hang the run. Publishes are not bounded by it: a blocked
/// connection may hold them as long as the broker's alarm lasts.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// `f`, or a timeout error after `OP_TIMEOUT`.
pub async fn bounded<T>(f: impl Future<Output = lapin::Result<T>>) -> lapin::Result<T> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => {
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the broker did not answer within 10 s").into())
        }
    }
}

/// A delivery to acknowledge once something else is safe (a delayed or dead-lettered copy confirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckToken {
    pub consumer: u32,
    /// The engine's tag of the delivery (channel generation and delivery tag).
    pub tag: u64,
}

/// What a dead-letter queue tells about a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dead {
    Letter(DeadLetterReason),
    Expired,
}

/// From the tasks to the engine's loop.
pub enum Incoming {
    Delivery {
        consumer: u32,
        gen: u32,
        delivery_tag: u64,
        env: Envelope,
        count: u32,
        redelivered: bool,
        /// When the delivery task got it from lapin (for the hand-off latency).
        received: Instant,
    },
    /// A message of someone else on our queue (a reused queue): returned to the queue.
    Foreign {
        consumer: u32,
        gen: u32,
    },
    /// Read from `<queue>_error` / `<queue>_skipped` (kept there unacked, so the queue still holds it).
    Dead {
        env: Envelope,
        what: Dead,
        redelivered: bool,
    },
    /// The broker refused a publish to the work queue.
    Nacked {
        env: Envelope,
    },
    /// The copy that replaces a delivery is confirmed: ack the delivery now.
    AckNow(AckToken),
    /// The copy could not be placed: return the delivery to the queue instead (nothing is lost).
    RequeueNow(AckToken),
    /// A consumer channel is open and about to consume (`seq` is the engine's request it answers).
    ConsumerReady {
        consumer: u32,
        seq: u32,
        gen: u32,
        channel: lapin::Channel,
    },
    /// A consumer's delivery stream ended; `error` is `None` when the broker cancelled it (queue deleted).
    ConsumerEnded {
        consumer: u32,
        gen: u32,
        error: Option<String>,
    },
    /// The publisher has room again (the loop holds a publish).
    Wake,
    Fatal(String),
}

/// Counters shared by the engine thread and the tasks.
#[derive(Default)]
pub struct Shared {
    /// Publishes the engine handed to the publisher task.
    pub submitted: AtomicU64,
    /// Publishes with a final outcome (confirmed, refused, or sent without confirms).
    pub settled: AtomicU64,
    /// The engine holds a publish until `submitted - settled` drops below the limit.
    pub waiting: AtomicBool,
    /// `connection.blocked` is in force on the publishing connection.
    pub blocked: AtomicBool,
    /// Ready messages in the work queue (passive declare), and how many polls have answered.
    pub ready: AtomicU64,
    pub polls: AtomicU64,
    /// Consumers the broker reports on the work queue.
    pub consumers: AtomicU64,
    /// Messages in the delay queues (passive declare).
    pub delayed: AtomicU64,
    /// Delay queues declared so far (the publisher declares them as delays appear).
    pub delay_queues: Mutex<Vec<String>>,
}

impl Shared {
    pub fn in_flight(&self) -> u64 {
        self.submitted.load(Ordering::Acquire).saturating_sub(self.settled.load(Ordering::Acquire))
    }
}

/// Scenario-time intervals (blocked connection, outages) as the tasks record them.
#[derive(Clone, Debug, Default)]
pub struct Intervals {
    pub what: String,
    pub spans: Vec<(Nanos, Option<Nanos>)>,
}

impl Intervals {
    pub fn named(what: &str) -> Intervals {
        Intervals { what: what.to_string(), spans: Vec::new() }
    }
    pub fn open(&mut self, at: Nanos) {
        if !self.spans.last().is_some_and(|(_, end)| end.is_none()) {
            self.spans.push((at, None));
        }
    }
    pub fn close(&mut self, at: Nanos) {
        if let Some((_, end @ None)) = self.spans.last_mut() {
            *end = Some(at);
        }
    }
}

/// A connection's next event (blocked, unblocked, error); never, while there is no connection.
pub async fn next_event(
    events: &mut Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = lapin::Event> + Send>>>,
) -> Option<lapin::Event> {
    use futures_util::StreamExt;
    match events {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}
