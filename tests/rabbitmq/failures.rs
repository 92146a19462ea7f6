//! What a user sees when the broker cannot be used: unreachable, wrong password, no such vhost, a host that never
//! answers, a queue to reuse that does not exist. Exit 3 with one line naming host, port and vhost; never the
//! password; no report folder left behind. And a run in a vhost of its own leaves the default vhost untouched.

use crate::support::*;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Runs a short scenario against `url` and expects exit 3 with `needle` in the message.
fn refused(url: &str, needle: &str, extra: &[&str]) -> Duration {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let start = Instant::now();
    let o = run(
        "scenarios/steady-state.toml".as_ref(),
        &out,
        &[&["--broker", url, "--set", "messages=10"], extra].concat(),
    );
    let took = start.elapsed();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{url}: {all}");
    assert!(all.contains(needle), "{url}: expected `{needle}` in: {all}");
    assert!(all.contains("cannot connect to RabbitMQ at "), "{all}");
    assert!(!all.contains("hunter2"), "the password leaked: {all}");
    assert!(!out.exists(), "a report folder was left behind for a run that never started");
    assert_eq!(all.lines().filter(|l| l.starts_with("error:")).count(), 1, "one line: {all}");
    took
}

#[test]
fn unreachable_wrong_password_and_missing_vhost_exit_3_naming_the_broker() {
    let Some(_broker) = rabbit() else { return };
    refused("amqp://guest:hunter2@127.0.0.1:1/%2f", "127.0.0.1:1 (vhost \"/\"): connection refused", &[]);
    refused("amqp://guest:hunter2@127.0.0.1:5672/%2f", "ACCESS_REFUSED", &[]);
    refused("amqp://guest:guest@127.0.0.1:5672/no-such-vhost-here", "vhost \"no-such-vhost-here\" does not exist", &[]);
    refused("amqp://guest:hunter2@no-such-host.invalid:5672/", "cannot resolve the host", &[]);
}

#[test]
fn a_host_that_never_answers_fails_after_the_connect_timeout_not_never() {
    let Some(_broker) = rabbit() else { return };
    // A listener on loopback that accepts and then says nothing (a black hole).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("amqp://guest:hunter2@127.0.0.1:{port}/%2f");
    let took = refused(&url, "no answer", &["--set", "broker.connect_timeout=\"1s\""]);
    // A hang guard, not a speed assertion: the run must end by itself, long before the command's 600 s kill.
    assert!(took < Duration::from_secs(60), "took {took:?}");
    drop(silent);
}

#[test]
fn reusing_a_queue_that_does_not_exist_is_named() {
    let Some(_broker) = rabbit() else { return };
    let name = format!("lt-missing-{}", std::process::id());
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let args = ["--broker", URL, "--reuse-queue", "--set", &format!("queue.name=\"{name}\""), "--set", "messages=5"];
    let o = run("scenarios/steady-state.toml".as_ref(), &out, &args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains(&format!("the queue {name} does not exist")), "{}", text(&o));
    assert!(!queues("/").contains(&name), "loadtest must not create a queue it was told to reuse");
}

#[test]
fn a_run_in_its_own_vhost_leaves_the_default_vhost_untouched() {
    // Alone: it counts the default vhost's queues before and after, which parallel runs would change.
    let Some(_broker) = rabbit_alone() else { return };
    let vhost = Vhost::create(&format!("lt-vhost-{}", std::process::id()));
    let before: Vec<String> = queues("/");
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let id = run_id("vhost");
    let url = format!("amqp://guest:guest@127.0.0.1:5672/{}", vhost.0);
    let o = run(
        "scenarios/steady-state.toml".as_ref(),
        &out,
        &["--broker", &url, "--run-id", &id, "--set", "messages=300", "--time-scale", "10"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["real_broker"]["vhost"], vhost.0.as_str());
    assert_eq!(u(&s["messages"]["completed"]), 300);
    assert_accounted(&s);
    let after: Vec<String> = queues("/");
    assert!(after.iter().all(|q| !q.contains(&id)), "the default vhost got queues of the run: {after:?}");
    assert_eq!(
        before.iter().filter(|q| q.contains("order-processing")).count(),
        after.iter().filter(|q| q.contains("order-processing")).count()
    );
    assert_no_queues_of(&id, &vhost.0);
}

#[test]
fn the_password_never_reaches_the_report() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let id = run_id("secret");
    // guest's password is "guest": give it in the URL through the environment, and look for it in every file.
    let o = loadtest()
        .args([
            "run",
            "scenarios/steady-state.toml",
            "--broker",
            "rabbitmq",
            "--run-id",
            &id,
            "--set",
            "messages=50",
            "--out",
        ])
        .arg(&out)
        .env("LOADTEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("URL from LOADTEST_AMQP_URL"), "{}", text(&o));
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let content = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(!content.contains("guest:guest"), "{} carries the password", path.display());
        }
    }
    let toml = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    assert!(toml.contains("amqp://guest:****@127.0.0.1:5672/%2f"), "{toml}");
}

#[test]
fn a_kept_topology_is_never_taken_over_by_a_second_run_with_the_same_run_id() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let id = run_id("rerun");
    let work = format!("order-processing-{id}");
    let _guard = TopologyGuard(work.clone());
    // The first run stops at its duration with messages still in the queue, and keeps its topology.
    let first = tmp.path().join("first");
    let args = [
        "--broker",
        URL,
        "--run-id",
        &id,
        "--keep-topology",
        "--set",
        "duration=\"2s\"",
        "--set",
        "consumers.count=1",
        "--set",
        "consumers.concurrency=1",
        "--set",
        "consumers.prefetch=1",
        "--set",
        "consumers.service_time=\"50ms\"",
    ];
    let o = run("scenarios/steady-state.toml".as_ref(), &first, &args);
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&first);
    assert!(u(&s["messages"]["in_flight_at_end"]) > 0, "{}", s["messages"]);
    assert!(queues("/").contains(&work), "kept");
    // The second run with the same id refuses to mix its messages with the first run's.
    let second = tmp.path().join("second");
    let o = run(
        "scenarios/steady-state.toml".as_ref(),
        &second,
        &["--broker", URL, "--run-id", &id, "--set", "messages=10"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains(&format!("the queue {work} already holds")), "{}", text(&o));
    assert!(queues("/").contains(&work), "the earlier run's queue is left alone");
}
