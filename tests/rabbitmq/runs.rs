//! Scenarios on RabbitMQ against the same scenarios on the embedded broker: counts that must agree, poison
//! messages bounded by the quorum delivery limit, delayed redelivery through TTL queues, reject-publish, and a
//! `[limits]` bound that stops a real run, and the kill switch stopping and resuming real consumers.

use crate::support::*;
use tempfile::TempDir;

#[test]
fn steady_state_completes_every_message_with_the_embedded_brokers_counts() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (real, embedded) = (tmp.path().join("real"), tmp.path().join("embedded"));
    let id = run_id("steady");
    let o =
        run("scenarios/steady-state.toml".as_ref(), &real, &["--broker", URL, "--time-scale", "5", "--run-id", &id]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run("scenarios/steady-state.toml".as_ref(), &embedded, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let (r, e) = (summary(&real), summary(&embedded));
    assert_eq!(u(&r["messages"]["published"]), 10_000);
    assert_eq!(u(&r["messages"]["completed"]), 10_000);
    for key in ["published", "completed", "dead_lettered", "expired", "lost", "duplicates", "in_flight_at_end"] {
        assert_eq!(r["messages"][key], e["messages"][key], "messages.{key}: real vs embedded");
    }
    assert_accounted(&r);
    let rb = &r["real_broker"];
    assert_eq!(rb["ended_by"], "completed");
    assert_eq!(u(&rb["publishing"]["confirmed"]), 10_000);
    assert_eq!(rb["server"].as_str().unwrap().split(' ').next(), Some("RabbitMQ"));
    assert_eq!(u(&rb["consuming"]["deliveries"]), 10_000, "one delivery per message: nothing redelivered");
    assert!(u(&rb["handoff_us"]["count"]) == 10_000);
    assert_no_queues_of(&id, "/");
}

#[test]
fn poison_messages_hit_the_quorum_delivery_limit_and_the_naive_loop_is_bounded_by_the_duration() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    // Bounded: max_delivery_count = 5 on a quorum queue (x-delivery-limit = 4), as on the embedded broker.
    let sets = ["--set", "messages=2000", "--set", "queue.type=quorum"];
    let (real, embedded) = (tmp.path().join("real"), tmp.path().join("embedded"));
    let id = run_id("poison");
    let mut args = vec!["--broker", URL, "--time-scale", "10", "--run-id", &id];
    args.extend(sets);
    let o = run("scenarios/poison-message-bounded.toml".as_ref(), &real, &args);
    assert!(o.status.success(), "{}", text(&o));
    let o = run("scenarios/poison-message-bounded.toml".as_ref(), &embedded, &sets);
    assert!(o.status.success(), "{}", text(&o));
    let (r, e) = (summary(&real), summary(&embedded));
    let poison = u(&e["messages"]["dead_lettered"]["by_reason"]["delivery_limit"]);
    assert!(poison > 0, "the seed makes some poison messages");
    assert_eq!(r["messages"]["dead_lettered"], e["messages"]["dead_lettered"]);
    assert_eq!(r["messages"]["completed"], e["messages"]["completed"]);
    assert_eq!(r["attempts"]["total"], e["attempts"]["total"], "5 deliveries per poison message, 1 for the rest");
    assert_accounted(&r);
    assert_no_queues_of(&id, "/");

    // Naive: no limit on a classic queue; the poison message loops until the run's duration stops it.
    let naive = tmp.path().join("naive");
    let id = run_id("poison-naive");
    let args =
        ["--broker", URL, "--time-scale", "20", "--run-id", &id, "--set", "messages=400", "--set", "duration=2m"];
    let o = run("scenarios/poison-message.toml".as_ref(), &naive, &args);
    assert!(o.status.success(), "{}", text(&o));
    let n = summary(&naive);
    assert_eq!(n["stopped_by_duration_limit"], true);
    assert_eq!(n["real_broker"]["ended_by"], "duration limit");
    let attempts = u(&n["attempts"]["total"]);
    assert!(attempts > 2 * 400, "the loop's attempts climb far beyond the messages: {attempts}");
    assert!(u(&n["messages"]["in_flight_at_end"]) > 0, "the loop blocks the queue");
    assert_accounted(&n);
    assert_eq!(u(&n["messages"]["lost"]), 0);
    assert_no_queues_of(&id, "/");
}

#[test]
fn delayed_redeliveries_come_back_on_time_through_ttl_queues() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    // Every call fails, nothing is retried in memory: each message is redelivered after 1, 5 and 30 minutes
    // (0.6 s, 3 s, 18 s at time scale 100), then moved to the error queue.
    let s = scenario(
        &tmp,
        "delays",
        r#"name = "delays"
seed = 1
messages = 20
[producers]
rate = { shape = "constant", per_second = 2 }
[consumers]
count = 1
concurrency = 4
[downstream]
errors = { transient = 1.0 }
[redelivery]
intervals = ["1m", "5m", "30m"]
"#,
    );
    let out = tmp.path().join("out");
    let id = run_id("delay");
    // A drain timeout far shorter than the 18 s wait: a delayed copy not yet back keeps the run going.
    let args = ["--broker", URL, "--time-scale", "100", "--run-id", &id, "--set", "broker.drain_timeout=\"1s\""];
    let o = run(&s, &out, &args);
    assert!(o.status.success(), "{}", text(&o));
    let r = summary(&out);
    assert_eq!(r["real_broker"]["ended_by"], "completed");
    assert_eq!(u(&r["messages"]["dead_lettered"]["by_reason"]["retries_exhausted"]), 20);
    assert_eq!(u(&r["attempts"]["redeliveries"]), 60);
    assert_accounted(&r);
    let delays = r["real_broker"]["delays"].as_array().unwrap();
    let ttls: Vec<u64> = delays.iter().map(|d| u(&d["ttl_ms"])).collect();
    assert_eq!(ttls, [600, 3000, 18_000]);
    // Measured here: 2-4 ms late. The stated tolerance: every message back within 250 ms of its due time.
    for d in delays {
        assert_eq!(u(&d["returned"]), 20, "{d}");
        let late = d["late_ms"]["max"].as_f64().unwrap();
        assert!(late <= 250.0, "{} came back up to {late} ms late", d["queue"]);
    }
    assert_no_queues_of(&id, "/");
}

#[test]
fn reject_publish_refuses_what_does_not_fit_and_loses_nothing() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    // 2,000 messages at once into a queue of 100, one slow consumer: most publishes are refused (nack).
    let text_for = |t: &str| {
        format!(
            r#"name = "overflow"
seed = 5
messages = 2000
[queue]
type = "{t}"
max_length = 100
overflow = "reject-publish"
[producers]
rate = {{ shape = "burst", size = 2000, every = "1h" }}
[consumers]
count = 1
concurrency = 1
prefetch = 1
service_time = "2ms"
"#
        )
    };
    for queue_type in ["classic", "quorum"] {
        let s = scenario(&tmp, queue_type, &text_for(queue_type));
        let out = tmp.path().join(queue_type);
        let id = run_id("overflow");
        let o = run(&s, &out, &["--broker", URL, "--run-id", &id]);
        assert!(o.status.success(), "{queue_type}: {}", text(&o));
        let r = summary(&out);
        let refused = u(&r["messages"]["rejected_at_publish"]);
        assert!(refused > 0, "{queue_type}: a full queue refuses publishes");
        assert_eq!(refused, u(&r["real_broker"]["publishing"]["nacked"]), "{queue_type}: every nack counted");
        assert_eq!(u(&r["messages"]["lost"]), 0, "{queue_type}");
        assert_eq!(u(&r["messages"]["completed"]), u(&r["messages"]["published"]), "{queue_type}: what got in is done");
        assert_accounted(&r);
        if queue_type == "classic" {
            // Classic queues admit exactly up to the limit (the consumer's prefetched one is not counted).
            assert!(u(&r["messages"]["published"]) >= 100, "{r}");
        }
        assert_no_queues_of(&id, "/");
    }
}

#[test]
fn ttl_expiry_drop_head_and_confirms_off_are_each_accounted_for() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    // 60 messages at once onto one slow consumer: those that wait longer than 1 s expire (x-death `expired`), and
    // with a drop-head limit of 5 the oldest ready ones are dead-lettered (`maxlen`).
    let base = |queue: &str, producers: &str| {
        format!(
            "name = \"limits\"\nseed = 9\nmessages = 60\n[queue]\n{queue}\n[producers]\nrate = {{ shape = \"burst\", \
             size = 60, every = \"1h\" }}\n{producers}\n[consumers]\ncount = 1\nconcurrency = 1\nprefetch = 1\n\
             service_time = \"100ms\"\n"
        )
    };
    let cases = [
        ("ttl", base("message_ttl = \"1s\"", ""), "expired"),
        ("maxlen", base("max_length = 5\noverflow = \"drop-head\"", ""), "maxlen"),
        ("no-confirms", base("", "confirm_window = 0"), "none"),
    ];
    for (name, toml, what) in cases {
        let s = scenario(&tmp, name, &toml);
        let out = tmp.path().join(name);
        let id = run_id(name);
        let o = run(&s, &out, &["--broker", URL, "--run-id", &id]);
        assert!(o.status.success(), "{name}: {}", text(&o));
        let r = summary(&out);
        assert_accounted(&r);
        assert_eq!(u(&r["messages"]["lost"]), 0, "{name}");
        let m = &r["messages"];
        match what {
            "expired" => assert!(u(&m["expired"]) > 0 && u(&m["completed"]) > 0, "{name}: {m}"),
            "maxlen" => assert!(u(&m["dead_lettered"]["by_reason"]["maxlen"]) > 0, "{name}: {m}"),
            _ => {
                assert_eq!(r["real_broker"]["publishing"]["confirms"], false);
                assert_eq!(u(&r["real_broker"]["publishing"]["confirmed"]), 0);
                assert_eq!(u(&m["completed"]), 60);
                assert!(text(&o).contains("confirms OFF"), "{}", text(&o));
            }
        }
        assert_eq!(u(&m["completed"]) + u(&m["expired"]) + u(&m["dead_lettered"]["total"]), 60, "{name}: {m}");
        assert_no_queues_of(&id, "/");
    }
}

#[test]
fn a_limits_bound_stops_a_real_run_with_exit_3_a_complete_report_and_every_message_accounted_for() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("real");
    let id = run_id("limits");
    let args = ["--broker", URL, "--time-scale", "5", "--run-id", &id, "--set", "limits.max_events=2000", "-v"];
    let o = run("scenarios/steady-state.toml".as_ref(), &out, &args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // -v logs the broker and the topology (the URL's password is never in a log line).
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("RabbitMQ answered") && err.contains("version=3."), "{err}");
    assert!(err.contains("topology declared") && err.contains(&id), "{err}");
    assert!(!err.contains("guest:guest"), "{err}");
    assert!(text(&o).contains("stopped at limits.max_events = 2000"), "{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["stopped_by"]["cause"], "limits.max_events");
    assert_eq!(s["real_broker"]["ended_by"], "limit: limits.max_events");
    let published = u(&s["messages"]["published"]);
    assert!(published > 0 && published < 10_000, "stopped part way: {published} published");
    assert_accounted(&s);
    assert_no_queues_of(&id, "/");
}

#[test]
fn the_kill_switch_stops_and_resumes_real_consumers_as_on_the_embedded_broker() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    // The breaker starter (30% errors for 2 minutes) with MassTransit's kill switch at its defaults.
    let starter = std::fs::read_to_string("templates/breaker.toml").unwrap() + "\n[kill_switch]\n";
    let file = tmp.path().join("kill-switch.toml");
    std::fs::write(&file, starter).unwrap();
    let (real, embedded) = (tmp.path().join("real"), tmp.path().join("embedded"));
    let id = run_id("killswitch");
    let (r, _) = run_ok(&file, &real, &["--broker", URL, "--time-scale", "20", "--run-id", &id]);
    let o = run(&file, &embedded, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let e = summary(&embedded);
    assert_eq!(u(&e["consumers"]["kill_switch_trips"]), 2, "seed 1 on the embedded broker");
    assert_eq!(r["consumers"]["kill_switch_trips"], e["consumers"]["kill_switch_trips"]);
    assert_eq!(r["consumers"]["kill_switch_stopped_s"], e["consumers"]["kill_switch_stopped_s"], "2 x 1 min");
    assert_eq!(u(&r["messages"]["published"]), 20_000);
    assert_eq!(u(&r["messages"]["lost"]), 0);
    // Stopped consumers keep the messages in the queue: most complete, as on the embedded broker (19,147).
    let (rc, ec) = (u(&r["messages"]["completed"]) as f64, u(&e["messages"]["completed"]) as f64);
    assert!((rc - ec).abs() / ec < 0.03, "completed: real {rc} vs embedded {ec}");
    assert_no_queues_of(&id, "/");
}
