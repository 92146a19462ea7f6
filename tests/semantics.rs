//! Broker and consumer semantics through whole runs: exact counts on fixed seeds.

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

#[test]
fn the_poison_loop_blocks_the_queue_until_the_duration_limit() {
    let scn = load_file(Path::new("scenarios/poison-message.toml"), &[]).unwrap();
    let s = simulate(&scn, 3).unwrap();
    assert!(s.stopped_by_duration_limit);
    assert_eq!(s.duration_s, 600.0);
    assert_eq!(s.messages.dead_lettered.total, 0);
    assert_eq!(s.messages.completed, 137, "everything before the first poison message");
    assert_eq!(s.messages.in_flight_at_end, 10_000 - 137, "stuck behind it");
    assert!(s.attempts.redeliveries > 100_000, "the loop: {}", s.attempts.redeliveries);
}

#[test]
fn max_delivery_count_bounds_the_poison_loop_into_the_dead_letter_queue() {
    let scn = load_file(Path::new("scenarios/poison-message-bounded.toml"), &[]).unwrap();
    let s = simulate(&scn, 3).unwrap();
    assert!(!s.stopped_by_duration_limit);
    assert_eq!(reason(&s, "delivery_limit"), 10);
    assert_eq!(s.messages.completed, 9_990);
    // each poison message was delivered exactly 5 times: 1 first attempt + 4 redeliveries
    assert_eq!(s.attempts.redeliveries, 10 * 4);
    assert_eq!(s.attempts.failed.get("poison"), Some(&50));
}

#[test]
fn masstransit_style_consumers_skip_poison_to_the_skipped_queue() {
    let s = run(r#"
        seed = 3
        messages = 10000
        [queue]
        name = "orders"
        [producers]
        poison_fraction = 0.0005
        [retry]
        policy = { kind = "immediate", limit = 3 }
    "#);
    assert_eq!(reason(&s, "deserialization"), 10, "{s:?}");
    assert_eq!(s.messages.dead_lettered.by_queue.get("orders_skipped"), Some(&10));
    assert_eq!(s.attempts.retries, 0, "deserialization failures are not retried");
}

#[test]
fn a_consumer_crash_returns_unacked_messages_with_their_delivery_count_raised() {
    let s = run(r#"
        seed = 5
        messages = 2000
        [producers]
        rate = { shape = "constant", per_second = 100 }
        [consumers]
        count = 2
        concurrency = 10
        prefetch = 20
        service_time = "10ms"
        [downstream]
        servers = 5
        service_time = "100ms"
        [[faults]]
        kind = "consumer-crash"
        at = "5s"
        consumer = 0
        restart = "10s"
    "#);
    assert_eq!(s.messages.completed, 2000);
    assert_eq!(s.messages.lost, 0);
    // the crashed consumer's 20 unacked messages were delivered again
    assert_eq!(s.attempts.redeliveries, 20);
    // the ones whose downstream call was already in progress were charged twice
    assert!(s.messages.duplicates > 0 && s.messages.duplicates <= 10, "{}", s.messages.duplicates);
}

#[test]
fn timeouts_on_a_server_that_keeps_working_charge_twice() {
    let base = r#"
        seed = 9
        messages = 500
        [producers]
        rate = { shape = "constant", per_second = 20 }
        [consumers]
        count = 1
        concurrency = 8
        [downstream]
        servers = 1
        service_time = "60ms"
        timeout = "100ms"
        [retry]
        policy = { kind = "intervals", intervals = ["1s", "2s", "4s"] }
    "#;
    let keep = run(&base.replace("[retry]", "on_timeout = \"keep-working\"\n[retry]"));
    let cancel = run(&base.replace("[retry]", "on_timeout = \"cancel\"\n[retry]"));
    assert!(keep.messages.duplicates > 0, "{:?}", keep.messages);
    assert!(keep.attempts.failed.get("timeout").copied().unwrap_or(0) > 0);
    assert!(cancel.messages.duplicates < keep.messages.duplicates, "{:?} vs {:?}", cancel.messages, keep.messages);
}

#[test]
fn ttl_expires_messages_nobody_takes_in_time() {
    let s = run(r#"
        seed = 1
        messages = 1000
        [queue]
        message_ttl = "5s"
        [producers]
        rate = { shape = "constant", per_second = 100 }
        [consumers]
        service_time = "20ms"
    "#);
    // one consumer serves 50/s while 100/s arrive for 10 s: messages older than 5 s expire
    assert!(s.messages.expired > 0);
    assert_eq!(s.messages.completed + s.messages.expired, 1000);
    assert!(s.latency_ms.max <= 5_020.0, "no completed message waited past its TTL: {}", s.latency_ms.max);
}

#[test]
fn max_length_drops_the_head_or_refuses_publishes() {
    let base = r#"
        seed = 1
        messages = 1000
        [queue]
        max_length = 100
        [producers]
        rate = { shape = "burst", size = 1000, every = "1h" }
        [consumers]
        service_time = "10ms"
    "#;
    let drop = run(base);
    assert_eq!(reason(&drop, "maxlen"), 899, "1000 at once into 100 ready slots; 1 was delivered at once");
    assert_eq!(drop.messages.completed, 101);
    let refuse = run(&base.replace("max_length = 100", "max_length = 100\noverflow = \"reject-publish\""));
    assert_eq!(refuse.messages.rejected_at_publish, 899);
    assert_eq!(refuse.messages.published, 101);
    assert_eq!(refuse.messages.completed, 101);
}

#[test]
fn validation_errors_are_not_retried_and_go_to_the_error_queue() {
    let s = run(r#"
        seed = 4
        messages = 2000
        [queue]
        name = "orders"
        [downstream]
        servers = 10
        errors = { validation = 0.01 }
        [retry]
        policy = { kind = "immediate", limit = 5 }
        ignore = ["validation"]
    "#);
    let v = reason(&s, "not_retried");
    assert!(v > 5 && v < 40, "{v}");
    assert_eq!(s.attempts.retries, 0);
    assert_eq!(s.messages.dead_lettered.by_queue.get("orders_error"), Some(&v));
}

#[test]
fn the_circuit_breaker_sheds_calls_during_an_outage() {
    let base = r#"
        seed = 2
        messages = 3000
        [producers]
        rate = { shape = "constant", per_second = 50 }
        [consumers]
        count = 2
        concurrency = 4
        [downstream]
        servers = 10
        [[faults]]
        kind = "outage"
        at = "10s"
        duration = "20s"
        [retry]
        policy = { kind = "intervals", intervals = ["200ms", "200ms", "200ms"] }
        [redelivery]
        intervals = ["1m"]
    "#;
    let without = run(base);
    let with = run(&format!(
        "{base}\n[circuit_breaker]\nfailure_ratio = 0.5\nminimum_throughput = 10\nsampling = \"5s\"\nbreak = \"5s\"\n"
    ));
    assert!(with.downstream.circuit_breaker_opened > 0);
    assert!(with.attempts.failed.get("circuit-open").copied().unwrap_or(0) > 0);
    assert!(with.attempts.downstream_calls < without.attempts.downstream_calls);
    assert_eq!(with.messages.lost, 0);
}

#[test]
fn the_autoscaler_adds_replicas_when_the_queue_grows() {
    let s = run(r#"
        seed = 6
        messages = 20000
        [producers]
        rate = { shape = "constant", per_second = 200 }
        [consumers]
        count = 1
        concurrency = 4
        service_time = "50ms"
        [autoscale]
        min_replicas = 1
        max_replicas = 8
        messages_per_replica = 200
        polling_interval = "15s"
        startup_delay = "10s"
    "#);
    assert_eq!(s.consumers.min, 1);
    assert_eq!(s.consumers.peak, 8);
    assert_eq!(s.messages.completed, 20000);
}

#[test]
fn a_real_clock_paces_the_same_engine_to_the_same_result() {
    let sets =
        |clock: &str| vec!["messages=300".to_string(), format!("broker.clock={clock}"), "broker.time_scale=100".into()];
    let virt = load_file(Path::new("scenarios/steady-state.toml"), &sets("virtual")).unwrap();
    let real = load_file(Path::new("scenarios/steady-state.toml"), &sets("real")).unwrap();
    let (a, mut b) = (simulate(&virt, 7).unwrap(), simulate(&real, 7).unwrap());
    assert_eq!(b.clock, "real");
    b.clock = a.clock.clone();
    b.scenario.hash = a.scenario.hash.clone();
    assert_eq!(a, b, "the clock paces the loop; it must not change what happens");
}

#[test]
fn error_and_latency_spikes_act_only_inside_their_windows() {
    let base = r#"
        seed = 8
        messages = 3000
        [producers]
        rate = { shape = "constant", per_second = 50 }
        [consumers]
        count = 2
        concurrency = 8
        [downstream]
        servers = 4
        service_time = "20ms"
        timeout = "1s"
    "#;
    let calm = run(base);
    assert_eq!(calm.attempts.downstream_calls_failed, 0);
    let spiky = run(&format!(
        "{base}\n[[faults]]\nkind = \"error-spike\"\nat = \"10s\"\nduration = \"10s\"\ntransient = 0.5\n\
         [[faults]]\nkind = \"latency-spike\"\nat = \"30s\"\nduration = \"10s\"\nfactor = 10.0\n"
    ));
    // half the calls of 10 s at 50/s fail; without retries they go to the error queue
    let failed = spiky.attempts.failed.get("transient").copied().unwrap_or(0);
    assert!((200..300).contains(&failed), "{failed}");
    assert_eq!(spiky.messages.dead_lettered.total, failed);
    let eps = &spiky.episodes.failures;
    assert_eq!(eps.len(), 1);
    // calls made before 20 s fail when their work ends, a few ms later
    assert!(eps[0].start_s >= 10 && eps[0].end_s <= 21, "{eps:?}");
    // 10x service time: 4 servers x 200 ms = 20/s against 50/s offered, so latency climbs during the spike
    assert!(spiky.latency_ms.max > 10.0 * calm.latency_ms.max, "{} vs {}", spiky.latency_ms.max, calm.latency_ms.max);
}

#[test]
fn extreme_values_end_cleanly_with_every_message_accounted_for() {
    let cases = [
        "messages = 1",
        "messages = 5\n[producers]\nrate = { shape = \"constant\", per_second = 0.000000001 }",
        "messages = 3\n[consumers]\nservice_time = \"100000h\"",
        "messages = 50\n[producers]\nrate = { shape = \"burst\", size = 50, every = \"1ms\" }\n[consumers]\nservice_time = \"0s\"",
        "messages = 20\n[downstream]\nservice_time = \"500000h\"\ntimeout = \"400000h\"\n[retry]\npolicy = { kind = \"exponential\", limit = 60, base = \"1h\", cap = \"100000h\" }",
        "messages = 20\n[queue]\nmax_length = 1\nmessage_ttl = \"1ns\"\n[producers]\nrate = { shape = \"burst\", size = 20, every = \"1s\" }",
        "messages = 100\n[consumers]\ncount = 3\nconcurrency = 2\n[[faults]]\nkind = \"consumer-crash\"\nat = \"0s\"",
    ];
    for case in cases {
        let s = run(&format!("seed = 1\n{case}"));
        let m = &s.messages;
        assert_eq!(
            m.published,
            m.completed + m.dead_lettered.total + m.expired + m.lost + m.in_flight_at_end,
            "{case}"
        );
        assert_eq!(m.lost, 0, "{case}");
    }
}
