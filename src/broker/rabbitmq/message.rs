//! A message on the wire: the envelope (run, id, intended and actual publish time in nanoseconds, since AMQP's
//! `timestamp` is whole seconds; the poison flag; the redelivery count) travels in the first bytes of the body,
//! which has the scenario's size. Headers are kept for the rare paths (a move to `_error`, a redelivered copy):
//! six headers on every message were measured here to cost a classic queue a quarter of its throughput.
//! Reading back a dead letter's reason comes from our own header or RabbitMQ's `x-death`.

use crate::broker::{DeadLetterReason, Envelope};
use crate::time::Nanos;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

/// MassTransit's name for the delayed-redelivery count (set on redelivered copies).
pub const H_REDELIVERIES: &str = "MT-Redelivery-Count";
/// Why our consumer moved the message to `_error` / `_skipped` (MassTransit-style fault headers come with it).
pub const H_REASON: &str = "x-loadtest-reason";

/// The body's envelope: magic, run hash, id, intended, published, redeliveries, flags.
pub const ENVELOPE_BYTES: usize = 4 + 8 + 8 + 8 + 8 + 4 + 1;
const MAGIC: &[u8; 4] = b"LT1\0";

/// A run's stamp as the 64 bits the body carries (FNV-1a).
pub fn run_hash(stamp: &str) -> u64 {
    stamp.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Everything about a publish but its body.
pub fn properties(env: &Envelope, persistent: bool, reason: Option<DeadLetterReason>) -> BasicProperties {
    let mut p = BasicProperties::default()
        .with_message_id(ShortString::from(env.id.to_string()))
        .with_delivery_mode(if persistent { 2 } else { 1 });
    if reason.is_some() || env.redeliveries > 0 {
        let mut h = FieldTable::default();
        if env.redeliveries > 0 {
            h.insert(H_REDELIVERIES.into(), AMQPValue::LongInt(env.redeliveries.min(i32::MAX as u32) as i32));
        }
        if let Some(r) = reason {
            h.insert(H_REASON.into(), long_string(r.as_str()));
            h.insert("MT-Reason".into(), long_string("fault"));
            h.insert("MT-Fault-Message".into(), long_string(fault_message(r)));
            // When it died, for `loadtest dlq` (the broker stamps x-death only on its own dead letters).
            let epoch_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            p = p.with_timestamp(epoch_s);
        }
        p = p.with_headers(h);
    }
    p
}

/// Writes the body: the envelope, then filler up to the scenario's size (at least the envelope's bytes).
pub fn body(run: u64, env: &Envelope, published: Nanos, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&run.to_le_bytes());
    out.extend_from_slice(&env.id.to_le_bytes());
    out.extend_from_slice(&env.intended.to_le_bytes());
    out.extend_from_slice(&published.to_le_bytes());
    out.extend_from_slice(&env.redeliveries.to_le_bytes());
    out.push(env.poison as u8);
    let size = (env.size as usize).max(ENVELOPE_BYTES);
    out.resize(size, b'x');
}

fn fault_message(r: DeadLetterReason) -> &'static str {
    match r {
        DeadLetterReason::RetriesExhausted => "retries and redeliveries exhausted",
        DeadLetterReason::NotRetried => "failure kind not retried",
        DeadLetterReason::Deserialization => "message could not be deserialized",
        DeadLetterReason::DeliveryLimit => "delivery limit reached",
        DeadLetterReason::Rejected => "rejected",
        DeadLetterReason::MaxLength => "queue full",
        DeadLetterReason::TtlExpired => "time to live expired",
    }
}

pub fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Any integer header as i64 (brokers and clients re-encode widths freely).
pub fn int(v: &AMQPValue) -> Option<i64> {
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

pub fn text(v: &AMQPValue) -> Option<String> {
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
pub fn envelope(body: &[u8], run: u64) -> Option<Envelope> {
    any_envelope(body).filter(|(r, _)| *r == run).map(|(_, env)| env)
}

/// The envelope of a message any loadtest run published, with that run's hash.
pub fn any_envelope(body: &[u8]) -> Option<(u64, Envelope)> {
    if body.len() < ENVELOPE_BYTES || &body[..4] != MAGIC {
        return None;
    }
    let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().unwrap_or([0; 8]));
    Some((
        u64_at(4),
        Envelope {
            id: u64_at(12),
            intended: u64_at(20),
            published: u64_at(28),
            redeliveries: u32::from_le_bytes(body[36..40].try_into().unwrap_or([0; 4])),
            poison: body[40] & 1 == 1,
            size: body.len().min(u32::MAX as usize) as u32,
        },
    ))
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
    fn envelope_round_trips_through_the_body_and_ignores_other_runs() {
        let run = run_hash("q-1234abcd.5678");
        let mut b = Vec::new();
        body(run, &env(), 3_000, &mut b);
        assert_eq!(b.len(), 512);
        assert_eq!(envelope(&b, run), Some(Envelope { published: 3_000, ..env() }));
        assert_eq!(envelope(&b, run_hash("q-1234abcd.other")), None, "another process with the same run id");
        assert_eq!(envelope(b"hello", run), None);
        assert_eq!(envelope(&b[..ENVELOPE_BYTES - 1], run), None);
        // A message smaller than the envelope grows to it.
        body(run, &Envelope { size: 10, ..env() }, 0, &mut b);
        assert_eq!(b.len(), ENVELOPE_BYTES);
        let p = properties(&env(), true, None);
        assert_eq!(*p.delivery_mode(), Some(2));
        assert_eq!(delivery_count(&p, false), 1);
        assert_eq!(delivery_count(&p, true), 2);
        assert!(properties(&Envelope { redeliveries: 0, ..env() }, true, None).headers().is_none(), "no headers");
    }

    #[test]
    fn dead_letter_reasons_from_our_header_or_x_death() {
        let p = properties(&env(), true, Some(DeadLetterReason::RetriesExhausted));
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
