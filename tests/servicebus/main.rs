//! Service Bus backend tests. Most are protocol tests against a local stand-in (`standin.rs`): they check that
//! the backend speaks the REST API the way it is documented (SAS, peek-lock, lock URLs, scheduled sends, the
//! management GET) and that a run reconciles, but they are NOT verification against Azure Service Bus. The
//! end-to-end tests in `e2e.rs` run only against a real namespace (`LOADTEST_SERVICEBUS_CONNECTION`), and say
//! that they are skipped otherwise, also under CI (there is no namespace there). `compose.rs` checks the
//! emulator's optional compose profile.

mod compose;
mod e2e;
mod standin;

use assert_cmd::Command;
use serde_json::Value;
use standin::{Config, StandIn};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A made-up key (base64, like real ones): it must appear in no output and no report file.
const KEY: &str = "U3RhbmRJbktleS1ub3QtYS1yZWFsLWtleS0wMTIzNDU2Nzg5YWJjZGVm+/0=";

pub fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_AMQP_URL").env_remove("LOADTEST_SERVICEBUS_CONNECTION").timeout(Duration::from_secs(300));
    c
}

fn scenario(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run(conn: &str, scenario: &Path, out: &Path, args: &[&str]) -> Output {
    loadtest()
        .env("LOADTEST_SERVICEBUS_CONNECTION", conn)
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(["--broker", "servicebus"])
        .args(args)
        .output()
        .unwrap()
}

fn summary(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_json::from_str(&text).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// published = completed + dead-lettered + expired + lost + in flight, and nothing lost.
fn assert_reconciled(s: &Value) {
    let m = &s["messages"];
    let outcomes = u(&m["completed"]) + u(&m["dead_lettered"]["total"]) + u(&m["expired"]);
    assert_eq!(u(&m["published"]), outcomes + u(&m["lost"]) + u(&m["in_flight_at_end"]), "conservation broken: {m}");
    assert_eq!(m["accounted"], true, "{m}");
    assert_eq!(u(&m["lost"]), 0, "{m}");
    assert_eq!(u(&s["real_broker"]["ledger"]["lost"]), 0, "{}", s["real_broker"]["ledger"]);
}

/// The key (and its base64 form) appears in no file of the report folder and not in the output.
fn assert_no_key(dir: &Path, output: &str) {
    let forms = [KEY.to_string(), base64_of(KEY)];
    for f in &forms {
        assert!(!output.contains(f.as_str()), "the key shows in the output:\n{output}");
    }
    if !dir.exists() {
        return;
    }
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for f in &forms {
            assert!(!text.contains(f.as_str()), "the key shows in {}", entry.display());
        }
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn queues(q: &str) -> Vec<String> {
    vec![q.to_string(), format!("{q}_error"), format!("{q}_skipped")]
}

fn standin(q: &str, tune: impl FnOnce(&mut Config)) -> StandIn {
    let names = queues(q);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut cfg = Config::new(KEY, &refs);
    tune(&mut cfg);
    StandIn::start(cfg)
}

const STEADY: &str = r#"name = "sb-steady"
seed = 5
messages = 600
[queue]
name = "orders"
[producers]
rate = { shape = "constant", per_second = 300 }
size = { bytes = 512 }
[consumers]
count = 2
concurrency = 8
prefetch = 8
service_time = "2ms"
"#;

#[test]
fn protocol_standin_a_run_completes_and_reconciles_with_no_key_anywhere() {
    let sb = standin("orders", |_| {});
    let tmp = TempDir::new().unwrap();
    let s = scenario(&tmp, "steady", STEADY);
    let out = tmp.path().join("out");
    let started = Instant::now();
    let o = run(&sb.connection_string(KEY), &s, &out, &[]);
    let wall = started.elapsed();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let r = summary(&out);
    assert_reconciled(&r);
    assert_eq!(u(&r["messages"]["completed"]), 600, "{}", r["messages"]);
    let real = &r["real_broker"];
    assert_eq!(real["kind"], "servicebus");
    assert_eq!(real["ended_by"].as_str().unwrap().split(';').next(), Some("completed"), "{}", real["ended_by"]);
    assert!(real["ended_by"].as_str().unwrap().contains("entities are not deleted"));
    assert!(real["url"].as_str().unwrap().contains("SharedAccessKey=****"), "{}", real["url"]);
    assert_eq!(u(&real["consuming"]["deliveries"]), 600);
    let st = sb.stats();
    assert_eq!((st.sends, st.completes), (600, 600), "{st:?}");
    assert_eq!(st.unauthorized, 0, "{st:?}");
    assert!(st.management_gets >= 3, "{st:?}");
    assert_eq!(sb.counts("orders"), (0, 0, 0));
    assert!(all.contains("Azure Service Bus at 127.0.0.1"), "{all}");
    assert_no_key(&out, &all);
    eprintln!("protocol run against the stand-in: 600 messages in {:.2} s wall", wall.as_secs_f64());
}

#[test]
fn protocol_standin_dead_letters_go_to_error_skipped_and_the_broker_dlq() {
    // Poison messages are requeued by a naive handler: the stand-in dead-letters them after MaxDeliveryCount
    // deliveries (reason MaxDeliveryCountExceeded, read back from orders/$DeadLetterQueue); failing calls that are
    // not retried are moved to orders_error by the consumer (a copy with the reason, then complete).
    let sb = standin("pois", |c| c.max_delivery_count = 3);
    let tmp = TempDir::new().unwrap();
    let s = scenario(
        &tmp,
        "poison",
        r#"name = "sb-poison"
seed = 3
messages = 200
[queue]
name = "pois"
max_delivery_count = 3
[producers]
rate = { shape = "constant", per_second = 200 }
poison_fraction = 0.05
[consumers]
count = 1
concurrency = 4
prefetch = 4
service_time = "1ms"
on_failure = "requeue"
[retry]
policy = "none"
"#,
    );
    let out = tmp.path().join("out");
    let o = run(&sb.connection_string(KEY), &s, &out, &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let r = summary(&out);
    assert_reconciled(&r);
    let dead = &r["messages"]["dead_lettered"];
    assert!(u(&dead["total"]) > 0, "{dead}");
    assert_eq!(u(&dead["total"]), u(&dead["by_reason"]["delivery_limit"]), "{dead}");
    assert_eq!(sb.stats().max_delivery_count_seen, 3);
    assert_eq!(sb.counts("pois/$DeadLetterQueue").0, 0, "the run's dead letters are read off the DLQ");
    assert_no_key(&out, &all);

    // Validation failures are not retried: moved to `_error` by the consumer with the reason as a property.
    let sb = standin("val", |_| {});
    let s = scenario(
        &tmp,
        "validation",
        r#"name = "sb-validation"
seed = 4
messages = 50
[queue]
name = "val"
[producers]
rate = { shape = "constant", per_second = 100 }
[consumers]
count = 1
concurrency = 4
[downstream]
errors = { validation = 1.0 }
"#,
    );
    let out = tmp.path().join("out2");
    let o = run(&sb.connection_string(KEY), &s, &out, &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let r = summary(&out);
    assert_reconciled(&r);
    assert_eq!(u(&r["messages"]["dead_lettered"]["total"]), 50, "{}", r["messages"]);
    assert_eq!(sb.counts("val_error").0, 50);
    // The reason the summary gives is the one each copy carries.
    let by_reason = r["messages"]["dead_lettered"]["by_reason"].as_object().unwrap();
    let (reason, _) = by_reason.iter().find(|(_, n)| u(n) == 50).expect("one reason for all 50");
    let props = sb.props("val_error");
    let carries =
        |p: &Vec<(String, String)>| p.iter().any(|(k, v)| k == "x-loadtest-reason" && v.contains(reason.as_str()));
    assert!(props.iter().all(carries), "{reason}: {props:?}");
    assert_eq!(sb.counts("val"), (0, 0, 0));
}

#[test]
fn protocol_standin_delayed_redelivery_is_a_scheduled_send() {
    // Every call fails; each message is redelivered after 1 minute (1 s at time scale 60), then moved to `_error`.
    let sb = standin("later", |_| {});
    let tmp = TempDir::new().unwrap();
    let s = scenario(
        &tmp,
        "delays",
        r#"name = "sb-delays"
seed = 1
messages = 20
[queue]
name = "later"
[producers]
rate = { shape = "constant", per_second = 20 }
[consumers]
count = 1
concurrency = 4
[downstream]
errors = { transient = 1.0 }
[redelivery]
intervals = ["1m"]
"#,
    );
    let out = tmp.path().join("out");
    let o = run(&sb.connection_string(KEY), &s, &out, &["--time-scale", "60", "--set", "broker.drain_timeout=\"1s\""]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let r = summary(&out);
    assert_reconciled(&r);
    assert_eq!(u(&r["messages"]["dead_lettered"]["by_reason"]["retries_exhausted"]), 20, "{}", r["messages"]);
    assert_eq!(u(&r["attempts"]["redeliveries"]), 20);
    assert_eq!(sb.stats().scheduled_sends, 20);
    let delays = r["real_broker"]["delays"].as_array().unwrap();
    assert_eq!(delays.iter().map(|d| u(&d["returned"])).sum::<u64>(), 20, "{delays:?}");
    // Whole seconds on the wire, rounded up: never early, at most a second and a poll late.
    for d in delays {
        assert!(d["late_ms"]["max"].as_f64().unwrap() <= 2500.0, "{d}");
    }
}

#[test]
fn protocol_standin_a_handler_slower_than_the_lock_sees_the_message_again() {
    // The stand-in locks for 1 s; the handler takes 2.5 s (25 min at time scale 600; lock renewal, where the
    // handler starts, stops after 5 min of scenario time = 0.5 s). The lock runs out, the engine's consumer sees
    // it lost (`holds_lock`) and releases the delivery instead of completing it, and the message comes back with DeliveryCount 2 while the run still has the other two to do; at MaxDeliveryCount 2 the second lost
    // lock dead-letters it.
    let sb = standin("slow", |c| {
        c.lock = Duration::from_secs(1);
        c.max_delivery_count = 2;
    });
    let tmp = TempDir::new().unwrap();
    let s = scenario(
        &tmp,
        "slow",
        r#"name = "sb-slow"
seed = 2
messages = 4
[queue]
name = "slow"
[producers]
rate = { shape = "constant", per_second = 600 }
[consumers]
count = 1
concurrency = 2
prefetch = 2
service_time = "25m"
"#,
    );
    let out = tmp.path().join("out");
    let o = run(&sb.connection_string(KEY), &s, &out, &["--time-scale", "600", "--set", "broker.drain_timeout=\"4s\""]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let r = summary(&out);
    let real = &r["real_broker"];
    let st = sb.stats();
    assert!(st.lock_expiries >= 2, "{st:?}");
    assert_eq!(st.max_delivery_count_seen, 2, "{st:?}");
    assert!(u(&real["consuming"]["redelivered"]) >= 2, "{}", real["consuming"]);
    assert!(u(&real["consuming"]["stale_acks"]) >= 2, "{}", real["consuming"]);
    assert_eq!(u(&r["messages"]["lost"]), 0, "{}", r["messages"]);
    // The same peek-lock counters as on the embedded broker with Service Bus semantics.
    let p = &r["servicebus"];
    assert!(u(&p["settles_failed_lock_lost"]) >= 2, "{p}");
    assert_eq!(u(&p["locks_expired"]), u(&p["settles_failed_lock_lost"]), "{p}");
    assert!(u(&p["completed_after_lock_lost"]) >= 2, "the handler's work succeeded each time: {p}");
    eprintln!("lock loss: consuming {} ledger {}", real["consuming"], real["ledger"]);
}

#[test]
fn protocol_standin_a_missing_queue_fails_fast_with_the_az_commands_and_no_key() {
    // Only the work queue exists: `_error` and `_skipped` are missing.
    let names = ["orders".to_string()];
    let sb = StandIn::start(Config::new(KEY, &[names[0].as_str()]));
    let tmp = TempDir::new().unwrap();
    let s = scenario(&tmp, "steady", STEADY);
    let out = tmp.path().join("out");
    let started = Instant::now();
    let o = run(&sb.connection_string(KEY), &s, &out, &[]);
    let took = started.elapsed();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("has no queue orders_error, orders_skipped"), "{all}");
    assert!(all.contains("az servicebus queue create") && all.contains("--name orders_error"), "{all}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!out.exists(), "no half-written report folder");
    assert_no_key(&out, &all);
    eprintln!("missing entity reported in {:.0} ms", took.as_secs_f64() * 1000.0);
}

#[test]
fn protocol_standin_a_wrong_key_or_no_namespace_fails_with_exit_3_and_no_key() {
    let sb = standin("orders", |_| {});
    let tmp = TempDir::new().unwrap();
    let s = scenario(&tmp, "steady", STEADY);
    let out = tmp.path().join("out");
    let wrong = "V3JvbmdLZXktbm90LXRoZS1yaWdodC1vbmUtYXQtYWxsLTAxMjM0NTY3ODk=";
    let o = run(&sb.connection_string(wrong), &s, &out, &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("refused the key of policy RootManageSharedAccessKey (401)"), "{all}");
    assert!(!all.contains(wrong) && !all.contains(&base64_of(wrong)), "{all}");
    assert!(sb.stats().unauthorized >= 1);

    // Nothing listens: the namespace is unreachable.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conn = format!(
        "Endpoint=sb://127.0.0.1:{port};SharedAccessKeyName=k;SharedAccessKey={KEY};UseDevelopmentEmulator=true"
    );
    let started = Instant::now();
    let o = run(&conn, &s, &out, &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains(&format!("cannot reach the Service Bus namespace 127.0.0.1:{port}")), "{all}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_no_key(&out, &all);

    // A malformed connection string is an input error (exit 2) that names the part, not the key.
    let bad = format!("Endpoint=https://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey={KEY}");
    let o = run(&bad, &s, &out, &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(all.contains("sb://"), "{all}");
    assert_no_key(&out, &all);
}

#[test]
fn protocol_standin_a_connection_string_in_the_scenario_stays_out_of_the_report() {
    let sb = standin("orders", |_| {});
    let tmp = TempDir::new().unwrap();
    let text_ = STEADY.replace("messages = 600", "messages = 50").replace(
        "[queue]",
        &format!("[broker]\nkind = \"servicebus\"\nurl = \"{}\"\n[queue]", sb.connection_string(KEY)),
    );
    let s = scenario(&tmp, "inline", &text_);
    let out = tmp.path().join("out");
    let o = loadtest().arg("run").arg(&s).arg("--out").arg(&out).output().unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert_reconciled(&summary(&out));
    let resolved = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(resolved.contains("SharedAccessKey=****"), "{resolved}");
    assert_no_key(&out, &all);
}

/// Not a test: a figure. Run with `cargo test --test servicebus -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn protocol_standin_throughput_figure() {
    let sb = standin("orders", |_| {});
    let tmp = TempDir::new().unwrap();
    let text_ = STEADY
        .replace("messages = 600", "messages = 6000")
        .replace("per_second = 300", "per_second = 3000")
        .replace("count = 2", "count = 4")
        .replace("prefetch = 8", "prefetch = 16")
        .replace("concurrency = 8", "concurrency = 16");
    let s = scenario(&tmp, "fast", &text_);
    let out = tmp.path().join("out");
    let o = run(&sb.connection_string(KEY), &s, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = summary(&out);
    assert_reconciled(&r);
    eprintln!("throughput against the stand-in: {} /s over {} s", r["throughput_per_s"], r["duration_s"]);
    eprintln!("latency: {}", r["latency_ms"]);
    eprintln!("producer lag / handoff: {} {}", r["real_broker"]["publishing"], r["real_broker"]["handoff_us"]);
}
