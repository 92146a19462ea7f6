//! Unit tests of the embedded broker's queue semantics.

use super::*;
use crate::scenario::{Overflow, QueueCfg};
use crate::time::Dur;

fn cfg() -> QueueCfg {
    QueueCfg {
        name: "q".into(),
        max_delivery_count: None,
        message_ttl: None,
        max_length: None,
        overflow: Overflow::DropHead,
        queue_type: Default::default(),
        reuse: false,
        lock_duration: None,
        max_auto_lock_renewal: None,
        dead_lettering_on_message_expiration: false,
    }
}

fn env(id: u64) -> Envelope {
    Envelope { id, intended: 0, published: 0, size: 1, poison: false, redeliveries: 0 }
}

fn deliveries(out: &[BrokerEvent]) -> Vec<(u32, u64, u32)> {
    out.iter()
        .filter_map(|e| match e {
            BrokerEvent::Delivered(d) => Some((d.consumer, d.env.id, d.delivery_count)),
            _ => None,
        })
        .collect()
}

fn tag_of(out: &[BrokerEvent], id: u64) -> u64 {
    out.iter()
        .rev()
        .find_map(|e| match e {
            BrokerEvent::Delivered(d) if d.env.id == id => Some(d.tag),
            _ => None,
        })
        .unwrap()
}

#[test]
fn prefetch_bounds_unacked_and_round_robin_spreads() {
    let mut b = EmbeddedBroker::new(&cfg(), None);
    let mut out = Vec::new();
    b.open_consumer(0, 0, 2, &mut out);
    b.open_consumer(0, 1, 2, &mut out);
    for id in 0..6 {
        b.publish(0, env(id), &mut out);
    }
    assert_eq!(deliveries(&out), vec![(0, 0, 1), (1, 1, 1), (0, 2, 1), (1, 3, 1)]);
    assert_eq!(b.depths(), Depths { ready: 2, unacked: 4, delayed: 0, dead: 0, external_consumers: None });
    let t = tag_of(&out, 1);
    out.clear();
    b.ack(1, 1, t, &mut out);
    assert_eq!(deliveries(&out), vec![(1, 4, 1)], "an ack frees one prefetch slot");
    // an ack from the wrong consumer is ignored
    let t0 = 1; // tag of message 0, held by consumer 0
    out.clear();
    b.ack(1, 1, t0, &mut out);
    assert!(out.is_empty());
    assert_eq!(b.depths().unacked, 4);
}

#[test]
fn requeue_goes_to_the_head_and_counts_deliveries_until_the_limit() {
    let mut b = EmbeddedBroker::new(&QueueCfg { max_delivery_count: Some(3), ..cfg() }, None);
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.publish(0, env(7), &mut out);
    b.publish(0, env(8), &mut out);
    for expected_count in 1..=3 {
        let d = deliveries(&out);
        assert_eq!(d.last(), Some(&(0, 7, expected_count)), "poison message 7 is redelivered first");
        let t = tag_of(&out, 7);
        out.clear();
        b.nack(1, 0, t, true, &mut out);
    }
    assert!(out.contains(&BrokerEvent::DeadLettered { env: env(7), reason: DeadLetterReason::DeliveryLimit }));
    assert_eq!(deliveries(&out), vec![(0, 8, 1)], "the message behind it finally gets through");
    assert_eq!(b.depths().dead, 1);
}

#[test]
fn nack_without_requeue_dead_letters_as_rejected() {
    let mut b = EmbeddedBroker::new(&cfg(), None);
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.publish(0, env(1), &mut out);
    let t = tag_of(&out, 1);
    out.clear();
    b.nack(0, 0, t, false, &mut out);
    assert_eq!(out, vec![BrokerEvent::DeadLettered { env: env(1), reason: DeadLetterReason::Rejected }]);
    assert_eq!(b.depths(), Depths { ready: 0, unacked: 0, delayed: 0, dead: 1, external_consumers: None });
}

#[test]
fn delayed_messages_wait_until_due_in_due_order() {
    let mut b = EmbeddedBroker::new(&cfg(), None);
    let mut out = Vec::new();
    b.publish_delayed(0, env(1), 300, &mut out);
    b.publish_delayed(0, env(2), 100, &mut out);
    b.publish_delayed(0, env(3), 100, &mut out);
    assert_eq!(b.next_wake(), Some(100));
    assert_eq!(b.depths().delayed, 3);
    b.open_consumer(0, 0, 10, &mut out);
    assert!(deliveries(&out).is_empty());
    b.wake(100, &mut out);
    assert_eq!(deliveries(&out), vec![(0, 2, 1), (0, 3, 1)]);
    assert_eq!(b.next_wake(), Some(300));
    b.wake(300, &mut out);
    assert_eq!(deliveries(&out).len(), 3);
    assert_eq!(b.next_wake(), None);
}

#[test]
fn ttl_expires_waiting_messages_at_the_head() {
    let mut b = EmbeddedBroker::new(&QueueCfg { message_ttl: Some(Dur(50)), ..cfg() }, None);
    let mut out = Vec::new();
    b.publish(0, env(1), &mut out);
    b.publish(20, env(2), &mut out);
    assert_eq!(b.next_wake(), Some(50));
    b.wake(50, &mut out);
    assert_eq!(out, vec![BrokerEvent::Expired { env: env(1) }]);
    out.clear();
    b.open_consumer(60, 0, 1, &mut out);
    assert_eq!(deliveries(&out), vec![(0, 2, 1)], "message 2 is still within its TTL");
}

#[test]
fn max_length_drops_the_head_or_refuses_the_publish() {
    let mut b = EmbeddedBroker::new(&QueueCfg { max_length: Some(2), ..cfg() }, None);
    let mut out = Vec::new();
    for id in 0..3 {
        b.publish(0, env(id), &mut out);
    }
    assert_eq!(out, vec![BrokerEvent::DeadLettered { env: env(0), reason: DeadLetterReason::MaxLength }]);
    assert_eq!(b.depths().ready, 2);

    let mut b =
        EmbeddedBroker::new(&QueueCfg { max_length: Some(2), overflow: Overflow::RejectPublish, ..cfg() }, None);
    out.clear();
    for id in 0..3 {
        b.publish(0, env(id), &mut out);
    }
    assert_eq!(out, vec![BrokerEvent::PublishRefused { env: env(2) }]);
    assert_eq!(b.depths().ready, 2);
}

#[test]
fn a_full_queue_with_overflow_block_blocks_the_publisher_and_drops_nothing() {
    let mut b = EmbeddedBroker::new(&QueueCfg { max_length: Some(2), overflow: Overflow::Block, ..cfg() }, None);
    let mut out = Vec::new();
    assert!(!b.publish_blocked());
    b.publish(0, env(0), &mut out);
    assert!(!b.publish_blocked());
    b.publish(0, env(1), &mut out);
    assert!(b.publish_blocked(), "two ready messages fill a queue of max_length 2");
    // A delayed message falling due is the broker's own move: let in over the bound, nothing dropped.
    b.publish_delayed(0, env(2), 10, &mut out);
    b.wake(10, &mut out);
    assert_eq!(b.depths().ready, 3);
    assert!(out.is_empty(), "nothing refused or dead-lettered: {out:?}");
    // A consumer takes one: still full (3 - 1 = 2); it takes another and the publisher may go on.
    b.open_consumer(10, 0, 1, &mut out);
    assert!(b.publish_blocked());
    let tag = match out.as_slice() {
        [BrokerEvent::Delivered(d)] => d.tag,
        other => panic!("one delivery expected: {other:?}"),
    };
    b.ack(11, 0, tag, &mut out);
    assert!(!b.publish_blocked());
    assert!(!EmbeddedBroker::new(&QueueCfg { overflow: Overflow::Block, ..cfg() }, None).publish_blocked());
}

#[test]
fn closing_a_consumer_returns_its_unacked_messages_in_order() {
    let mut b = EmbeddedBroker::new(&cfg(), None);
    let mut out = Vec::new();
    b.open_consumer(0, 0, 3, &mut out);
    for id in 0..5 {
        b.publish(0, env(id), &mut out);
    }
    out.clear();
    b.close_consumer(1, 0, &mut out);
    assert_eq!(b.depths(), Depths { ready: 5, unacked: 0, delayed: 0, dead: 0, external_consumers: None });
    b.open_consumer(2, 1, 5, &mut out);
    assert_eq!(deliveries(&out), vec![(1, 0, 2), (1, 1, 2), (1, 2, 2), (1, 3, 1), (1, 4, 1)]);
}

#[test]
fn a_paused_consumer_gets_nothing_new_but_can_ack() {
    let mut b = EmbeddedBroker::new(&cfg(), None);
    let mut out = Vec::new();
    b.open_consumer(0, 0, 1, &mut out);
    b.publish(0, env(1), &mut out);
    b.publish(0, env(2), &mut out);
    b.pause_consumer(0, 0);
    let t = tag_of(&out, 1);
    out.clear();
    b.ack(1, 0, t, &mut out);
    assert!(out.is_empty());
    assert_eq!(b.depths(), Depths { ready: 1, unacked: 0, delayed: 0, dead: 0, external_consumers: None });
}

#[test]
fn a_queued_message_takes_48_bytes_and_keeps_its_envelope() {
    assert_eq!(std::mem::size_of::<Queued>(), 48);
    let env = Envelope { id: 7, intended: 1, published: 2, size: 512, poison: true, redeliveries: 3 };
    assert_eq!(Queued::new(env, 9).env(), env);
}

#[cfg(test)]
#[path = "tests_lock.rs"]
mod peek_lock;
