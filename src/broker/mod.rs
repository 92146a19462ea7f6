//! The broker seam: the one small trait the engine talks to, whatever broker runs underneath.
//!
//! The engine publishes, acks, nacks and dead-letters through `Broker`; the broker answers with `BrokerEvent`s
//! (deliveries to consumers, dead-lettered or expired messages, refused publishes) pushed into an output vector.
//! The embedded broker answers at once; a real broker (`real::RealBroker`) answers later, on the wall clock, and the
//! engine waits for its events.

pub mod embedded;
pub mod rabbitmq;
pub mod real;
pub mod servicebus;

use crate::time::Nanos;

/// What travels through the broker: the message's identity and the stamps needed to measure it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Message number, 0-based, unique per run.
    pub id: u64,
    /// When the producer meant to publish it (open-loop latency starts here).
    pub intended: Nanos,
    /// When it was actually published.
    pub published: Nanos,
    pub size: u32,
    /// Cannot be deserialized.
    pub poison: bool,
    /// Delayed redeliveries so far (MassTransit's redelivery count header).
    pub redeliveries: u32,
}

/// Why a message ended in a dead-letter queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeadLetterReason {
    /// The consumer gave up after its retries and redeliveries (MassTransit fault).
    RetriesExhausted,
    /// The failure kind is not retried (e.g. validation).
    NotRetried,
    /// The message could not be deserialized (to `<queue>_skipped`).
    Deserialization,
    /// Broker: delivered `max_delivery_count` times (RabbitMQ `delivery_limit`, Service Bus MaxDeliveryCountExceeded).
    DeliveryLimit,
    /// Broker: nack without requeue.
    Rejected,
    /// Broker: dropped from the head of a full queue (`x-max-length`, overflow drop-head).
    MaxLength,
    /// Broker: the message's time to live ran out and the queue dead-letters expired messages (Service Bus
    /// `dead_lettering_on_message_expiration`, reason `TTLExpiredException`).
    TtlExpired,
}

impl DeadLetterReason {
    pub const ALL: [DeadLetterReason; 7] = [
        DeadLetterReason::RetriesExhausted,
        DeadLetterReason::NotRetried,
        DeadLetterReason::Deserialization,
        DeadLetterReason::DeliveryLimit,
        DeadLetterReason::Rejected,
        DeadLetterReason::MaxLength,
        DeadLetterReason::TtlExpired,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::RetriesExhausted => "retries_exhausted",
            DeadLetterReason::NotRetried => "not_retried",
            DeadLetterReason::Deserialization => "deserialization",
            DeadLetterReason::DeliveryLimit => "delivery_limit",
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::MaxLength => "maxlen",
            DeadLetterReason::TtlExpired => "ttl_expired",
        }
    }
    /// The `DeadLetterReason` Service Bus itself writes, for the reasons its broker decides; `None` for the ones a
    /// consumer decides (MassTransit moves those to `<queue>_error` / `<queue>_skipped`).
    pub fn servicebus_name(self) -> Option<&'static str> {
        match self {
            DeadLetterReason::DeliveryLimit => Some("MaxDeliveryCountExceeded"),
            DeadLetterReason::TtlExpired => Some("TTLExpiredException"),
            _ => None,
        }
    }
    /// `<queue>_skipped` for undeserializable messages, `<queue>_error` for everything else.
    pub fn skipped(self) -> bool {
        self == DeadLetterReason::Deserialization
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub consumer: u32,
    pub tag: u64,
    pub env: Envelope,
    /// Deliveries of this message since it was last published, this one included (1 = first delivery).
    pub delivery_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerEvent {
    Delivered(Delivery),
    DeadLettered {
        env: Envelope,
        reason: DeadLetterReason,
    },
    /// Message TTL ran out while it waited (RabbitMQ dead-letters it with reason `expired`).
    Expired {
        env: Envelope,
    },
    /// The queue was full and overflow is reject-publish: the publisher got a nack.
    PublishRefused {
        env: Envelope,
    },
    /// Peek-lock (Service Bus): a delivery's lock ran out while `consumer` still held it; the broker took the
    /// message back (to be delivered again, or dead-lettered at `max_delivery_count`). `delivery_count` is 0 when
    /// the broker does not tell (the Service Bus REST backend learns of it only when the handler ends).
    LockExpired {
        consumer: u32,
        env: Envelope,
        delivery_count: u32,
    },
}

/// Messages the broker holds, by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Depths {
    pub ready: u64,
    pub unacked: u64,
    pub delayed: u64,
    /// Messages in the dead-letter queues (`_error` and `_skipped`).
    pub dead: u64,
    /// Consumers a real broker reports on the queue (the user's own, in produce-only mode); `None`: the engine's count.
    pub external_consumers: Option<u64>,
}

impl Depths {
    /// Messages published and not yet finished: what is still owed to someone.
    pub fn held(&self) -> u64 {
        self.ready + self.unacked + self.delayed
    }
}

/// A broker as the engine sees it. Every call may push events into `out`.
pub trait Broker {
    fn publish(&mut self, now: Nanos, env: Envelope, out: &mut Vec<BrokerEvent>);
    /// Publish to become ready at `due` (scheduled message / TTL+DLX delay queue).
    fn publish_delayed(&mut self, now: Nanos, env: Envelope, due: Nanos, out: &mut Vec<BrokerEvent>);
    /// Delayed redelivery of a delivery (MassTransit `UseDelayedRedelivery`): `env` (its redelivery count raised)
    /// becomes ready at `due`, and the delivery `tag` is acked. A real broker acks only once the delayed copy is
    /// confirmed, so that a failure in between cannot lose the message.
    #[allow(clippy::too_many_arguments)]
    fn redeliver_later(
        &mut self,
        now: Nanos,
        consumer: u32,
        tag: u64,
        env: Envelope,
        due: Nanos,
        out: &mut Vec<BrokerEvent>,
    ) {
        self.publish_delayed(now, env, due, out);
        self.ack(now, consumer, tag, out);
    }
    fn ack(&mut self, now: Nanos, consumer: u32, tag: u64, out: &mut Vec<BrokerEvent>);
    /// nack; `requeue = false` dead-letters the message with reason `rejected`.
    fn nack(&mut self, now: Nanos, consumer: u32, tag: u64, requeue: bool, out: &mut Vec<BrokerEvent>);
    /// The consumer moves a delivery to a dead-letter queue itself (MassTransit `_error` / `_skipped`) and acks it.
    fn dead_letter(
        &mut self,
        now: Nanos,
        consumer: u32,
        tag: u64,
        reason: DeadLetterReason,
        out: &mut Vec<BrokerEvent>,
    );
    /// Start (or resume) delivering to a consumer with this prefetch.
    fn open_consumer(&mut self, now: Nanos, consumer: u32, prefetch: u32, out: &mut Vec<BrokerEvent>);
    /// Stop delivering to a consumer; its unacked messages return to the queue (delivery counts kept).
    fn close_consumer(&mut self, now: Nanos, consumer: u32, out: &mut Vec<BrokerEvent>);
    /// Stop new deliveries to a consumer but let it keep (and ack) what it holds.
    fn pause_consumer(&mut self, now: Nanos, consumer: u32);
    /// Peek-lock (Service Bus): whether the consumer still holds the delivery's lock. A handler that ends after its
    /// lock ran out cannot settle the message (complete, abandon and dead-letter fail with MessageLockLost), and the
    /// broker has already made it available again. RabbitMQ holds a delivery until the channel closes: always true.
    fn holds_lock(&self, _consumer: u32, _tag: u64) -> bool {
        true
    }
    /// The consumer's handler starts on a delivery: where the Service Bus processor starts renewing its lock
    /// (`max_auto_lock_renewal`). A delivery waiting in the prefetch buffer is not renewed.
    fn handler_started(&mut self, _now: Nanos, _consumer: u32, _tag: u64) {}
    /// Settles a delivery whose lock was lost: the client drops its copy (and its prefetch slot); the broker already
    /// took the message back, so nothing else happens.
    fn release(&mut self, now: Nanos, consumer: u32, tag: u64, out: &mut Vec<BrokerEvent>) {
        self.ack(now, consumer, tag, out);
    }
    /// The queue is full and its overflow is `block`: a publish now would wait for room (the engine holds the
    /// producer's next message back and publishes it once this turns false). Only the embedded broker blocks.
    fn publish_blocked(&self) -> bool {
        false
    }
    /// The broker's next internal deadline (a delayed message becoming ready, a TTL running out).
    fn next_wake(&self) -> Option<Nanos>;
    /// Act on deadlines up to `now`.
    fn wake(&mut self, now: Nanos, out: &mut Vec<BrokerEvent>);
    fn depths(&self) -> Depths;
    /// A broker that runs on the wall clock and answers asynchronously; `None` for the embedded broker.
    fn real(&mut self) -> Option<&mut dyn real::RealBroker> {
        None
    }
}
