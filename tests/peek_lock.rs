//! Service Bus semantics on the embedded broker (peek-lock), through whole runs: exact counts on fixed seeds.

use loadtest::report::{simulate, summary::Summary};
use loadtest::scenario::{load_file, load_str};
use std::path::Path;

fn run(toml: &str) -> Summary {
    let scn = load_str(toml, "test", &[]).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scn, scn.seed.unwrap_or(1)).unwrap()
}

fn reason(s: &Summary, r: &str) -> u64 {
    s.messages.dead_lettered.by_reason.get(r).copied().unwrap_or(0)
}

/// One message, two consumers, a handler (90 s) longer than the lock (60 s).
fn slow_handler(renewal: &str) -> String {
    format!(
        r#"
        seed = 1
        messages = 1
        [broker]
        semantics = "servicebus"
        [queue]
        name = "orders"
        lock_duration = "60s"
        max_auto_lock_renewal = "{renewal}"
        [consumers]
        count = 2
        concurrency = 1
        prefetch = 1
        service_time = {{ dist = "fixed", value = "90s" }}
    "#
    )
}

#[test]
fn a_lock_shorter_than_the_handler_redelivers_while_the_first_attempt_runs() {
    let s = run(&slow_handler("0s"));
    let p = s.servicebus.as_ref().expect("a servicebus section");
    // Every delivery's lock runs out 60 s into its 90-s handler: the message goes to the other consumer with
    // DeliveryCount + 1 while the first is still working, each handler's work succeeds and its complete fails, and
    // the 10th expiry dead-letters it.
    assert_eq!(p.locks_expired, 10);
    assert_eq!(reason(&s, "delivery_limit"), 1);
    assert_eq!(p.dead_lettered_by_servicebus_reason.get("MaxDeliveryCountExceeded"), Some(&1));
    assert_eq!(s.messages.dead_lettered.by_queue.get("orders/$DeadLetterQueue"), Some(&1));
    assert_eq!(s.messages.completed, 0, "no complete ever succeeded");
    assert_eq!(s.attempts.total, 10, "one handler run per delivery");
    assert_eq!(s.attempts.redeliveries, 9);
    // The run ends when the 10th lock runs out (600 s): 9 handlers had finished by then, the 10th still works.
    assert_eq!(s.duration_s, 600.0);
    assert_eq!(p.completed_after_lock_lost, 9);
    assert_eq!(s.messages.duplicates, 8, "the work was done 9 times");
    assert_eq!(p.dead_lettered_after_side_effect, 1);
    assert!(s.messages.accounted);
}

#[test]
fn automatic_lock_renewal_covers_the_handler() {
    let s = run(&slow_handler("5m"));
    let p = s.servicebus.as_ref().unwrap();
    assert_eq!((p.locks_expired, p.settles_failed_lock_lost), (0, 0));
    assert_eq!((s.messages.completed, s.messages.duplicates, s.attempts.total), (1, 0, 1));
}

fn prefetch(n: u32) -> String {
    format!(
        r#"
        seed = 1
        messages = 10
        [broker]
        semantics = "servicebus"
        [queue]
        lock_duration = "30s"
        [producers]
        rate = {{ shape = "burst", size = 10, every = "1h" }}
        [consumers]
        count = 1
        concurrency = 1
        prefetch = {n}
        service_time = {{ dist = "fixed", value = "10s" }}
    "#
    )
}

#[test]
fn prefetched_locks_run_out_in_the_buffer_behind_a_slow_handler() {
    let s = run(&prefetch(10));
    let p = s.servicebus.as_ref().unwrap();
    // 10 messages prefetched, 10 s each, one at a time: from the 4th on they wait more than the 30-s lock in the
    // buffer (renewal starts only with the handler). Each stale copy still costs 10 s of handler time, and its
    // message, back in the queue, is prefetched again behind the next stale copies: the cascade ends only at
    // MaxDeliveryCount.
    assert_eq!((p.locks_expired, p.locks_expired_in_buffer, p.completed_after_lock_lost), (65, 65, 65));
    assert_eq!((s.messages.completed, reason(&s, "delivery_limit")), (4, 6));
    assert_eq!(s.messages.duplicates, 59);
    assert!(s.messages.accounted);

    let one = run(&prefetch(1));
    let p = one.servicebus.as_ref().unwrap();
    assert_eq!((p.locks_expired, one.messages.completed, one.messages.duplicates), (0, 10, 0));
    assert_eq!(one.duration_s, 100.0);
}

#[test]
fn expired_messages_vanish_unless_the_queue_dead_letters_them() {
    let base = r#"
        seed = 2
        messages = 200
        [broker]
        semantics = "servicebus"
        [queue]
        message_ttl = "5s"
        [producers]
        rate = { shape = "constant", per_second = 20 }
        [consumers]
        count = 1
        concurrency = 1
        prefetch = 1
        service_time = { dist = "fixed", value = "100ms" }
    "#;
    let vanish = run(base);
    let dead =
        run(&base.replace("message_ttl = \"5s\"", "message_ttl = \"5s\"\ndead_lettering_on_message_expiration = true"));
    // 20 messages/s into a consumer that takes 10/s: a message that waits more than 5 s expires.
    assert_eq!((vanish.messages.expired, reason(&vanish, "ttl_expired")), (50, 0));
    assert_eq!((dead.messages.expired, reason(&dead, "ttl_expired")), (0, 50));
    let p = dead.servicebus.as_ref().unwrap();
    assert_eq!(p.dead_lettered_by_servicebus_reason.get("TTLExpiredException"), Some(&50));
    assert_eq!(dead.messages.completed, vanish.messages.completed);
}

#[test]
fn the_shipped_lock_expiry_scenario_dead_letters_on_service_bus_and_not_on_rabbitmq() {
    let path = Path::new("scenarios/servicebus-lock-expiry.toml");
    let sb = load_file(path, &[]).unwrap();
    let s = simulate(&sb, 7).unwrap();
    let p = s.servicebus.as_ref().unwrap();
    assert_eq!(reason(&s, "delivery_limit"), 64);
    assert_eq!(s.messages.duplicates, 128);
    assert_eq!((p.locks_expired, p.locks_expired_in_buffer), (832, 768));
    assert_eq!(s.messages.completed, 10_000 - 64);
    assert!(s.messages.accounted);

    let rabbit = load_file(path, &["broker.semantics=rabbitmq".to_string()]).unwrap();
    let r = simulate(&rabbit, 7).unwrap();
    assert!(r.servicebus.is_none());
    assert_eq!((r.messages.completed, r.messages.dead_lettered.total, r.messages.duplicates), (10_000, 0, 0));
}
