//! Unit tests of Service Bus peek-lock on the embedded broker: lock expiry, lost settles, renewal, MaxDeliveryCount,
//! expired messages dead-lettered or not.

use super::*;
use crate::scenario::PeekLock;

const LOCK: Nanos = 1_000;

fn sb(renew_for: Nanos, dead_letter_expired: bool) -> Option<PeekLock> {
    Some(PeekLock { lock: LOCK, renew_for, dead_letter_expired })
}

fn wake_at(b: &mut EmbeddedBroker, t: Nanos, out: &mut Vec<BrokerEvent>) {
    assert_eq!(b.next_wake(), Some(t), "the broker wakes when the lock runs out");
    b.wake(t, out);
}

#[test]
fn an_expired_lock_redelivers_while_the_first_consumer_still_holds_the_message() {
    let mut b = EmbeddedBroker::new(&cfg(), sb(0, false));
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.open_consumer(0, 1, 1, &mut out);
    b.publish(0, env(7), &mut out);
    assert_eq!(deliveries(&out), vec![(0, 7, 1)]);
    let first = tag_of(&out, 7);
    assert!(b.holds_lock(0, first));
    out.clear();
    wake_at(&mut b, LOCK, &mut out);
    assert!(matches!(out[0], BrokerEvent::LockExpired { consumer: 0, delivery_count: 1, .. }));
    assert_eq!(deliveries(&out), vec![(1, 7, 2)], "to the other consumer, DeliveryCount + 1");
    let second = tag_of(&out, 7);
    assert!(!b.holds_lock(0, first), "the first consumer's lock is gone");
    assert!(b.holds_lock(1, second));
    // Consumer 0 still holds its stale copy: its prefetch slot stays taken, but the broker no longer counts it.
    assert_eq!(b.depths().unacked, 1);
    b.publish(LOCK, env(8), &mut out);
    assert_eq!(b.depths().ready, 1, "consumer 0 has no free slot while it holds the stale copy");
    out.clear();
    b.release(LOCK + 1, 0, first, &mut out);
    assert_eq!(deliveries(&out), vec![(0, 8, 1)], "dropping the stale copy frees the slot");
}

#[test]
fn settles_on_a_lost_lock_change_nothing_at_the_broker() {
    let mut b = EmbeddedBroker::new(&cfg(), sb(0, false));
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.publish(0, env(1), &mut out);
    let tag = tag_of(&out, 1);
    out.clear();
    wake_at(&mut b, LOCK, &mut out);
    // The message is back in the queue, but the consumer's only slot still holds the stale copy.
    assert_eq!(deliveries(&out), vec![]);
    assert_eq!(b.depths().ready, 1);
    out.clear();
    b.dead_letter(LOCK + 1, 0, tag, DeadLetterReason::RetriesExhausted, &mut out);
    assert_eq!(b.depths().dead, 0, "a dead-letter on a lost lock fails");
    assert_eq!(deliveries(&out), vec![(0, 1, 2)], "the slot is free again and the message comes back");
}

#[test]
fn max_delivery_count_counts_expired_locks() {
    let mut b = EmbeddedBroker::new(&QueueCfg { max_delivery_count: Some(3), ..cfg() }, sb(0, false));
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.publish(0, env(5), &mut out);
    let mut now = 0;
    for delivery in 1..=3 {
        let tag = tag_of(&out, 5);
        now += LOCK;
        out.clear();
        wake_at(&mut b, now, &mut out);
        b.release(now, 0, tag, &mut out);
        if delivery < 3 {
            assert_eq!(deliveries(&out), vec![(0, 5, delivery + 1)]);
        }
    }
    let dead: Vec<_> = out.iter().filter(|e| matches!(e, BrokerEvent::DeadLettered { .. })).collect();
    assert!(
        matches!(dead[..], [BrokerEvent::DeadLettered { reason: DeadLetterReason::DeliveryLimit, .. }]),
        "MaxDeliveryCountExceeded after 3 deliveries: {out:?}"
    );
    assert_eq!(b.depths(), Depths { ready: 0, unacked: 0, delayed: 0, dead: 1, external_consumers: None });
}

#[test]
fn prefetched_locks_tick_in_the_buffer_and_renewal_covers_only_started_handlers() {
    let mut b = EmbeddedBroker::new(&cfg(), sb(10 * LOCK, false));
    let mut out = Vec::new();
    b.open_consumer(0, 0, 2, &mut out);
    b.publish(0, env(1), &mut out);
    b.publish(0, env(2), &mut out);
    let (t1, t2) = (tag_of(&out, 1), tag_of(&out, 2));
    b.handler_started(LOCK / 2, 0, t1); // message 2 waits in the buffer
    out.clear();
    wake_at(&mut b, LOCK, &mut out);
    assert!(b.holds_lock(0, t1), "renewed: its handler started");
    assert!(!b.holds_lock(0, t2), "expired in the prefetch buffer");
    b.handler_started(LOCK + 1, 0, t2);
    assert!(!b.holds_lock(0, t2), "a lost lock is not renewed");
    out.clear();
    wake_at(&mut b, LOCK / 2 + 10 * LOCK, &mut out);
    assert!(!b.holds_lock(0, t1), "renewal ends max_auto_lock_renewal after the handler started");
}

#[test]
fn expired_messages_vanish_or_are_dead_lettered_per_the_flag() {
    for (flag, dead) in [(false, 0), (true, 1)] {
        let q = QueueCfg { message_ttl: Some(Dur(50)), ..cfg() };
        let mut b = EmbeddedBroker::new(&q, sb(0, flag));
        let mut out = Vec::new();
        b.publish(0, env(1), &mut out);
        b.wake(50, &mut out);
        assert_eq!(b.depths().dead, dead);
        let expired = out.iter().any(|e| matches!(e, BrokerEvent::Expired { .. }));
        let ttl =
            out.iter().any(|e| matches!(e, BrokerEvent::DeadLettered { reason: DeadLetterReason::TtlExpired, .. }));
        assert_eq!((expired, ttl), (!flag, flag));
    }
}

#[test]
fn rabbitmq_semantics_hold_a_delivery_until_it_is_settled() {
    let mut b = EmbeddedBroker::new(&cfg(), None);
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.publish(0, env(1), &mut out);
    let tag = tag_of(&out, 1);
    b.handler_started(0, 0, tag);
    assert_eq!(b.next_wake(), None, "no lock to run out");
    assert!(b.holds_lock(0, tag));
}
