//! A message on the wire: the REST API carries a UTF-8 body, so the envelope (run, id, intended and published
//! times in nanoseconds, redeliveries, poison flag) travels as one line of JSON, padded to the scenario's size.
//! Why the consumer moved a message to `_error` / `_skipped` travels as a custom property.

use crate::broker::{DeadLetterReason, Envelope};
use crate::time::Nanos;
use serde::{Deserialize, Serialize};

/// The custom property naming why our consumer moved the message (MassTransit-style `MT-Reason` comes with it).
pub const P_REASON: &str = "x-loadtest-reason";
/// The property Service Bus sets on its own dead letters.
pub const P_DEAD_LETTER_REASON: &str = "DeadLetterReason";

#[derive(Serialize, Deserialize)]
struct Body<'a> {
    lt: u32,
    run: String,
    id: u64,
    intended: Nanos,
    published: Nanos,
    #[serde(default)]
    redeliveries: u32,
    #[serde(default)]
    poison: bool,
    #[serde(default, borrow)]
    pad: &'a str,
}

/// A run's stamp as the bodies carry it (FNV-1a, hex).
pub fn run_hash(stamp: &str) -> String {
    let h = stamp.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016x}")
}

/// The body: the envelope as JSON, padded with `x` up to the scenario's size.
pub fn body(run: &str, env: &Envelope, published: Nanos) -> String {
    let b = Body {
        lt: 1,
        run: run.to_string(),
        id: env.id,
        intended: env.intended,
        published,
        redeliveries: env.redeliveries,
        poison: env.poison,
        pad: "",
    };
    let bare = serde_json::to_string(&b).unwrap_or_default();
    let want = env.size as usize;
    if bare.len() >= want {
        return bare;
    }
    let pad = "x".repeat(want - bare.len());
    serde_json::to_string(&Body { pad: &pad, ..b }).unwrap_or(bare)
}

/// The envelope of a body this run wrote; `None` for anything else (another run's, or someone else's message).
pub fn parse(run: &str, body: &str) -> Option<Envelope> {
    let b: Body = serde_json::from_str(body).ok()?;
    if b.lt != 1 || b.run != run {
        return None;
    }
    let size = body.len().min(u32::MAX as usize) as u32;
    Some(Envelope {
        id: b.id,
        intended: b.intended,
        published: b.published,
        size,
        poison: b.poison,
        redeliveries: b.redeliveries,
    })
}

/// A custom property's value as sent: the REST API reads quoted values as strings.
pub fn quoted(v: &str) -> String {
    format!("\"{v}\"")
}

/// A custom property's value as received, without the quotes the REST API may put around strings.
pub fn unquoted(v: &str) -> &str {
    v.trim().trim_matches('"')
}

/// Our reason (an `x-loadtest-reason` value) or Service Bus's (`DeadLetterReason`) as the engine's.
pub fn reason(ours: Option<&str>, broker: Option<&str>) -> DeadLetterReason {
    if let Some(r) = ours.map(unquoted).and_then(|r| DeadLetterReason::ALL.into_iter().find(|d| d.as_str() == r)) {
        return r;
    }
    match broker.map(unquoted) {
        Some("TTLExpiredException") => DeadLetterReason::TtlExpired,
        // MaxDeliveryCountExceeded, and whatever else the broker decided.
        _ => DeadLetterReason::DeliveryLimit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_round_trips_at_the_scenario_size() {
        let env = Envelope { id: 42, intended: 7, published: 9, size: 512, poison: true, redeliveries: 2 };
        let run = run_hash("run-1");
        let b = body(&run, &env, 11);
        assert_eq!(b.len(), 512);
        let back = parse(&run, &b).unwrap();
        assert_eq!((back.id, back.intended, back.published, back.poison, back.redeliveries), (42, 7, 11, true, 2));
        assert_eq!(parse(&run_hash("other"), &b), None);
        assert_eq!(parse(&run, "hello"), None);
        let small = Envelope { size: 1, ..env };
        assert!(parse(&run, &body(&run, &small, 1)).is_some());
    }

    #[test]
    fn reasons_map_both_ways() {
        assert_eq!(reason(Some("\"retries_exhausted\""), None), DeadLetterReason::RetriesExhausted);
        assert_eq!(reason(None, Some("MaxDeliveryCountExceeded")), DeadLetterReason::DeliveryLimit);
        assert_eq!(reason(None, Some("\"TTLExpiredException\"")), DeadLetterReason::TtlExpired);
    }
}
