//! Broker faults run by the harness itself (`--allow-commands`): a restart of a quorum queue's broker loses no
//! confirmed message; a memory alarm blocks the publishers and the watermark is put back, also when the run is
//! interrupted in the middle of it. Each test holds the broker alone (they change all of it) and puts it back
//! even when it fails.

use crate::support::*;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn probe(name: &str, queue_type: &str, fault: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 7\nmessages = 3000\n[broker]\nkind = \"rabbitmq\"\n[queue]\nname = \"{name}\"\n\
         type = \"{queue_type}\"\n[producers]\nrate = {{ shape = \"constant\", per_second = 200 }}\n[consumers]\n\
         count = 2\nconcurrency = 8\nprefetch = 16\nservice_time = {{ dist = \"fixed\", value = \"1ms\" }}\n\
         [[faults]]\n{fault}"
    )
}

fn watermark() -> String {
    let o = ctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Puts the broker back as the test found it, whatever happened in between: the app running, the watermark.
struct Restore {
    watermark: String,
}

impl Restore {
    fn take() -> Restore {
        Restore { watermark: watermark() }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = ctl(&["start_app"]);
        let w = &self.watermark;
        match w.strip_prefix("{absolute,").and_then(|r| r.strip_suffix('}')) {
            Some(n) => drop(ctl(&["set_vm_memory_high_watermark", "absolute", n])),
            None => drop(ctl(&["set_vm_memory_high_watermark", w])),
        }
    }
}

fn running() -> bool {
    std::net::TcpStream::connect_timeout(&"127.0.0.1:5672".parse().unwrap(), Duration::from_secs(3)).is_ok()
        && ctl(&["list_queues", "-q", "name"]).status.success()
}

#[test]
fn a_broker_restart_loses_no_confirmed_message_on_a_quorum_queue() {
    let Some(_broker) = rabbit_alone() else { return };
    let restore = Restore::take();
    let tmp = TempDir::new().unwrap();
    let fault = "kind = \"broker-restart\"\nat = \"4s\"\nduration = \"3s\"\n";
    let scn = scenario(&tmp, "restart", &probe("restart-fault", "quorum", fault));
    let out = tmp.path().join("out");
    let id = run_id("restart");
    let (s, all) = run_ok(&scn, &out, &["--run-id", &id, "--allow-commands"]);
    assert!(all.contains("broker faults will run (--allow-commands)") && all.contains("rabbitmqctl stop_app"), "{all}");
    let r = &s["real_broker"];
    assert_eq!(u(&r["ledger"]["lost"]), 0, "confirmed and never delivered: {}", r["ledger"]);
    assert_eq!(u(&s["messages"]["lost"]), 0);
    assert!(u(&r["publishing"]["confirmed"]) >= 3000, "every message confirmed (a republished one maybe twice)");
    assert_eq!(u(&s["messages"]["completed"]), 3000, "every confirmed message was delivered and completed\n{all}");
    let fault = &r["faults"][0];
    assert_eq!(fault["kind"], "broker-restart");
    assert_eq!(fault["restored"], true, "{fault}");
    assert_eq!(fault["commands"].as_array().unwrap().len(), 2, "stop_app, start_app: {fault}");
    assert!(fault["commands"].as_array().unwrap().iter().all(|c| c["ok"] == true), "{fault}");
    // The unconfirmed ones are reported, not counted lost: how many were open at the fault, and republished.
    assert!(fault["unconfirmed_at_start"].is_u64() && r["publishing"]["republished"].is_u64(), "{fault}");
    assert!(r["outages"].as_array().unwrap().len() >= 2, "both connections were lost and rebuilt: {}", r["outages"]);
    assert!(running(), "the broker runs again after the test");
    assert_no_queues_of(&id, "/");
    drop(restore);
}

#[test]
fn a_memory_alarm_blocks_the_publishers_and_the_watermark_is_restored() {
    let Some(_broker) = rabbit_alone() else { return };
    let restore = Restore::take();
    let before = restore.watermark.clone();
    let tmp = TempDir::new().unwrap();
    let fault = "kind = \"memory-alarm\"\nat = \"4s\"\nduration = \"4s\"\n";
    let scn = scenario(&tmp, "alarm", &probe("alarm-fault", "classic", fault));
    let out = tmp.path().join("out");
    let id = run_id("alarm");
    let (s, all) = run_ok(&scn, &out, &["--run-id", &id, "--allow-commands"]);
    assert_eq!(u(&s["messages"]["completed"]), 3000, "the run recovered after the alarm\n{all}");
    let r = &s["real_broker"];
    let blocked = r["publishing"]["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 1, "one blocked interval: {blocked:?}");
    let d = blocked[0]["duration_s"].as_f64().expect("the block ended");
    assert!(d >= 3.0, "blocked about as long as the alarm lasted (4 s): {d} s");
    let fault = &r["faults"][0];
    assert_eq!(fault["restored"], true, "{fault}");
    assert!(fault["cost"]["blocked_s"].as_f64().unwrap() >= 3.0, "{fault}");
    assert!(u(&fault["cost"]["seconds_without_completions"]) >= 2, "the stall shows: {fault}");
    assert_eq!(watermark(), before, "the watermark is as the test found it");
    assert!(all.contains("outage       connection.blocked (publishing)"), "{all}");
    assert_no_queues_of(&id, "/");
    drop(restore);
}

#[test]
fn an_interrupted_run_puts_the_watermark_back() {
    let Some(_broker) = rabbit_alone() else { return };
    let restore = Restore::take();
    let before = restore.watermark.clone();
    let tmp = TempDir::new().unwrap();
    let fault = "kind = \"memory-alarm\"\nat = \"2s\"\nduration = \"10m\"\n";
    let scn = scenario(&tmp, "alarm-int", &probe("alarm-interrupted", "classic", fault));
    let out = tmp.path().join("out");
    let id = run_id("alarmint");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loadtest"))
        .arg("run")
        .arg(&scn)
        .args(["--run-id", &id, "--allow-commands", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while watermark() == before {
        assert!(start.elapsed() < Duration::from_secs(60), "the alarm never started");
        std::thread::sleep(Duration::from_millis(300));
    }
    // SAFETY: kill(2) on our own child, which has not been reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = wait_or_kill(child, Duration::from_secs(120), "loadtest run");
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert_eq!(watermark(), before, "the watermark is back after Ctrl-C");
    let s = summary(&out);
    let fault = &s["real_broker"]["faults"][0];
    assert_eq!(fault["undone_at_run_end"], true, "{fault}");
    assert_eq!(fault["restored"], true, "{fault}");
    assert_no_queues_of(&id, "/");
    drop(restore);
}

#[test]
fn a_connection_kill_fault_closes_only_this_runs_connections_and_the_run_reconnects() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let scn = scenario(&tmp, "kill", &probe("kill-fault", "classic", "kind = \"connection-kill\"\nat = \"4s\"\n"));
    let out = tmp.path().join("out");
    let id = run_id("killf");
    let (s, all) = run_ok(&scn, &out, &["--run-id", &id, "--allow-commands"]);
    assert_eq!(u(&s["messages"]["lost"]), 0, "{all}");
    assert_eq!(u(&s["messages"]["completed"]), 3000, "{all}");
    let fault = &s["real_broker"]["faults"][0];
    let closes = fault["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["command"].as_str().unwrap().contains("close_connection"));
    assert_eq!(closes.count(), 2, "the run's publishing and consuming connections, no one else's: {fault}");
    assert!(fault["error"].is_null(), "{fault}");
    assert_eq!(u(&fault["cost"]["connections_lost"]), 2, "{fault}");
    assert_no_queues_of(&id, "/");
}

#[test]
fn a_queue_delete_fault_ends_the_run_with_exit_3_and_a_complete_report() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let scn = scenario(&tmp, "qdel", &probe("qdel-fault", "classic", "kind = \"queue-delete\"\nat = \"3s\"\n"));
    let out = tmp.path().join("out");
    let id = run_id("qdelf");
    let o = run(&scn, &out, &["--run-id", &id, "--allow-commands"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    let s = summary(&out);
    let fault = &s["real_broker"]["faults"][0];
    assert_eq!(fault["kind"], "queue-delete");
    assert_eq!(fault["commands"][0]["ok"], true, "{fault}");
    assert!(s["real_broker"]["ended_by"].as_str().unwrap().starts_with("failed: "), "{all}");
    assert!(out.join("index.html").is_file(), "a complete report");
    assert_no_queues_of(&id, "/");
}
