//! A message on the wire: the envelope travels in headers (id, intended and actual publish time in nanoseconds,
//! since AMQP's `timestamp` is whole seconds), the body has the scenario's size; reading back a dead letter's reason
//! from our own header or RabbitMQ's `x-death`.

use crate::broker::{DeadLetterReason, Envelope};
use crate::time::Nanos;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

pub const H_RUN: &str = "x-loadtest-run";
pub const H_ID: &str = "x-loadtest-id";
pub const H_INTENDED: &str = "x-loadtest-intended-ns";
pub const H_PUBLISHED: &str = "x-loadtest-published-ns";
pub const H_POISON: &str = "x-loadtest-poison";
/// MassTransit's name for the delayed-redelivery count.
pub const H_REDELIVERIES: &str = "MT-Redelivery-Count";
/// Why our consumer moved the message to `_error` / `_skipped` (MassTransit-style fault headers come with it).
pub const H_REASON: &str = "x-loadtest-reason";

/// Everything about a publish but its body.
pub fn properties(
    run: &str,
    env: &Envelope,
    published: Nanos,
    persistent: bool,
    reason: Option<DeadLetterReason>,
) -> BasicProperties {
    let mut h = FieldTable::default();
    h.insert(H_RUN.into(), long_string(run));
    h.insert(H_ID.into(), AMQPValue::LongLongInt(env.id as i64));
    h.insert(H_INTENDED.into(), AMQPValue::LongLongInt(env.intended as i64));
    h.insert(H_PUBLISHED.into(), AMQPValue::LongLongInt(published as i64));
    h.insert(H_POISON.into(), AMQPValue::Boolean(env.poison));
    h.insert(H_REDELIVERIES.into(), AMQPValue::LongInt(env.redeliveries as i32));
    if let Some(r) = reason {
        h.insert(H_REASON.into(), long_string(r.as_str()));
        h.insert("MT-Reason".into(), long_string("fault"));
        h.insert("MT-Fault-Message".into(), long_string(fault_message(r)));
    }
    let epoch_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    BasicProperties::default()
        .with_headers(h)
        .with_message_id(ShortString::from(env.id.to_string()))
        .with_content_type("application/octet-stream".into())
        .with_delivery_mode(if persistent { 2 } else { 1 })
        .with_timestamp(epoch_s)
}

fn fault_message(r: DeadLetterReason) -> &'static str {
    match r {
        DeadLetterReason::RetriesExhausted => "retries and redeliveries exhausted",
        DeadLetterReason::NotRetried => "failure kind not retried",
        DeadLetterReason::Deserialization => "message could not be deserialized",
        DeadLetterReason::DeliveryLimit => "delivery limit reached",
        DeadLetterReason::Rejected => "rejected",
        DeadLetterReason::MaxLength => "queue full",
    }
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Any integer header as i64 (brokers and clients re-encode widths freely).
fn int(v: &AMQPValue) -> Option<i64> {
    Some(match v {
        AMQPValue::ShortShortInt(x) => *x as i64,
        AMQPValue::ShortShortUInt(x) => *x as i64,
        AMQPValue::ShortInt(x) => *x as i64,
        AMQPValue::ShortUInt(x) => *x as i64,
        AMQPValue::LongInt(x) => *x as i64,
        AMQPValue::LongUInt(x) => *x as i64,
        AMQPValue::LongLongInt(x) => *x,
        AMQPValue::Timestamp(x) => *x as i64,
        _ => return None,
    })
}

fn text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn header<'a>(props: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    props.headers().as_ref()?.inner().get(key)
}

/// The envelope of a message this run published; `None` for anything else (another run's, or a stranger's).
pub fn envelope(props: &BasicProperties, body_len: usize, run: &str) -> Option<Envelope> {
    if header(props, H_RUN).and_then(text).as_deref() != Some(run) {
        return None;
    }
    let id = header(props, H_ID).and_then(int)?;
    let intended = header(props, H_INTENDED).and_then(int)?;
    let published = header(props, H_PUBLISHED).and_then(int).unwrap_or(intended);
    Some(Envelope {
        id: id.max(0) as u64,
        intended: intended.max(0) as u64,
        published: published.max(0) as u64,
        size: body_len.min(u32::MAX as usize) as u32,
        poison: header(props, H_POISON).and_then(AMQPValue::as_bool).unwrap_or(false),
        redeliveries: header(props, H_REDELIVERIES).and_then(int).unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
    })
}

/// Deliveries of this message since it was published, this one included: quorum queues count in
/// `x-delivery-count` (absent on the first delivery); classic queues only say `redelivered`.
pub fn delivery_count(props: &BasicProperties, redelivered: bool) -> u32 {
    match header(props, "x-delivery-count").and_then(int) {
        Some(n) => (n.max(0) as u32).saturating_add(1),
        None if redelivered => 2,
        None => 1,
    }
}

/// What a message found in a dead-letter queue means for the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadOutcome {
    Dead(DeadLetterReason),
    /// TTL ran out in the work queue (x-death reason `expired`).
    Expired,
}

/// Why a message is in `_error` / `_skipped`: our consumer's own header, else RabbitMQ's `x-death` entry for the
/// work queue (its delay queues' `expired` entries are the redelivery path, not a death).
pub fn dead_outcome(props: &BasicProperties, work_queue: &str) -> Option<DeadOutcome> {
    if let Some(r) = header(props, H_REASON).and_then(text) {
        return DeadLetterReason::ALL.iter().find(|k| k.as_str() == r).map(|k| DeadOutcome::Dead(*k));
    }
    let AMQPValue::FieldArray(deaths) = header(props, "x-death")? else { return None };
    for d in deaths.as_slice() {
        let AMQPValue::FieldTable(t) = d else { continue };
        let field = |k: &str| t.inner().get(k).and_then(text);
        if field("queue").as_deref() != Some(work_queue) {
            continue;
        }
        return match field("reason").as_deref() {
            Some("rejected") => Some(DeadOutcome::Dead(DeadLetterReason::Rejected)),
            Some("expired") => Some(DeadOutcome::Expired),
            Some("maxlen") => Some(DeadOutcome::Dead(DeadLetterReason::MaxLength)),
            Some("delivery_limit") => Some(DeadOutcome::Dead(DeadLetterReason::DeliveryLimit)),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    //! Protocol tests of our own encoding (no broker): what we write, we read back.
    use super::*;

    fn env() -> Envelope {
        Envelope { id: 42, intended: 1_500, published: 2_500, size: 512, poison: true, redeliveries: 2 }
    }

    #[test]
    fn envelope_round_trips_through_headers_and_ignores_other_runs() {
        let p = properties("run-a", &env(), 3_000, true, None);
        let back = envelope(&p, 512, "run-a").unwrap();
        assert_eq!(back, Envelope { published: 3_000, ..env() });
        assert_eq!(envelope(&p, 512, "run-b"), None);
        assert_eq!(*p.delivery_mode(), Some(2));
        assert_eq!(delivery_count(&p, false), 1);
        assert_eq!(delivery_count(&p, true), 2);
    }

    #[test]
    fn dead_letter_reasons_from_our_header_or_x_death() {
        let p = properties("r", &env(), 0, true, Some(DeadLetterReason::RetriesExhausted));
        assert_eq!(dead_outcome(&p, "q"), Some(DeadOutcome::Dead(DeadLetterReason::RetriesExhausted)));
        let death = |queue: &str, reason: &str| {
            let mut t = FieldTable::default();
            t.insert("queue".into(), long_string(queue));
            t.insert("reason".into(), long_string(reason));
            AMQPValue::FieldTable(t)
        };
        let mut h = FieldTable::default();
        let deaths = vec![death("q", "delivery_limit"), death("q_delay_60000ms", "expired")];
        h.insert("x-death".into(), AMQPValue::FieldArray(deaths.into()));
        let p = BasicProperties::default().with_headers(h);
        assert_eq!(dead_outcome(&p, "q"), Some(DeadOutcome::Dead(DeadLetterReason::DeliveryLimit)));
        assert_eq!(dead_outcome(&p, "other"), None);
    }
}
