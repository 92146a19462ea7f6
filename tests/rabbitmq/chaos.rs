//! A broker that misbehaves under a running test: its connections closed by the broker (only this run's, found by
//! connection name), its queue deleted, and the user's Ctrl-C or SIGTERM. The run reconnects or stops, writes a
//! complete report, and accounts for every message.

use crate::support::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

fn spawn(args: &[&str], out: &std::path::Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("loadtest"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out)
        .env_remove("LOADTEST_AMQP_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (Option<i32>, String) {
    let o = wait_or_kill(child, Duration::from_secs(300), "loadtest run");
    (o.status.code(), text(&o))
}

#[test]
fn killed_connections_are_rebuilt_and_every_message_is_accounted_for() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let id = run_id("kill");
    let child =
        spawn(&["scenarios/steady-state.toml", "--broker", URL, "--run-id", &id, "--set", "messages=3000"], &out);
    let pids = wait_for_connections(&id, 2, Duration::from_secs(20));
    assert_eq!(pids.len(), 2, "the run's publishing and consuming connections");
    std::thread::sleep(Duration::from_secs(3));
    for pid in &pids {
        let o = ctl(&["close_connection", pid, "loadtest test: connection kill"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (code, all) = finish(child);
    assert_eq!(code, Some(0), "{all}");
    let s = summary(&out);
    assert_accounted(&s);
    assert_eq!(u(&s["messages"]["lost"]), 0, "{all}");
    assert_eq!(u(&s["messages"]["completed"]), 3000, "at-least-once: every message completed");
    let outages = s["real_broker"]["outages"].as_array().unwrap();
    let what: Vec<&str> = outages.iter().map(|o| o["what"].as_str().unwrap()).collect();
    assert!(what.contains(&"publishing connection lost") && what.contains(&"consuming connection lost"), "{outages:?}");
    for o in outages {
        let d = o["duration_s"].as_f64().expect("every outage ended: the run reconnected");
        assert!(d > 0.0, "{o}");
    }
    assert!(all.contains("outage       publishing connection lost at"), "{all}");
    assert_no_queues_of(&id, "/");
}

#[test]
fn a_queue_deleted_under_the_run_ends_it_with_exit_3_and_a_complete_report() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let id = run_id("qdel");
    let child = spawn(&["scenarios/steady-state.toml", "--broker", URL, "--run-id", &id], &out);
    assert_eq!(wait_for_connections(&id, 2, Duration::from_secs(20)).len(), 2);
    std::thread::sleep(Duration::from_secs(2));
    let o = ctl(&["delete_queue", &format!("order-processing-{id}")]);
    assert!(o.status.success(), "{}", text(&o));
    let (code, all) = finish(child);
    assert_eq!(code, Some(3), "{all}");
    assert!(all.contains("cancelled consumer") || all.contains("deleted"), "{all}");
    let s = summary(&out);
    assert!(s["real_broker"]["ended_by"].as_str().unwrap().starts_with("failed: "), "{}", s["real_broker"]["ended_by"]);
    assert!(out.join("index.html").is_file() && out.join("timeseries.csv").is_file(), "a complete report");
    assert!(u(&s["messages"]["published"]) < 10_000);
    assert_no_queues_of(&id, "/");
}

#[test]
fn ctrl_c_and_sigterm_stop_cleanly_with_the_report_marked_interrupted() {
    let Some(_broker) = rabbit() else { return };
    for (signal, code, name) in [(libc::SIGINT, 130, "SIGINT"), (libc::SIGTERM, 143, "SIGTERM")] {
        let tmp = TempDir::new().unwrap();
        let out = tmp.path().join("out");
        let id = run_id("signal");
        let child = spawn(&["scenarios/steady-state.toml", "--broker", URL, "--run-id", &id], &out);
        assert_eq!(wait_for_connections(&id, 2, Duration::from_secs(20)).len(), 2);
        std::thread::sleep(Duration::from_secs(2));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        let (exit, all) = finish(child);
        assert_eq!(exit, Some(code), "{name}: {all}");
        let s = summary(&out);
        assert_eq!(s["real_broker"]["ended_by"], format!("interrupted ({name})"));
        assert_accounted(&s);
        assert_eq!(u(&s["messages"]["lost"]), 0, "{name}");
        assert!(u(&s["messages"]["produced"]) < 10_000, "it stopped publishing");
        assert_no_queues_of(&id, "/");
    }
}
