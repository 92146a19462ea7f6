//! The dead-letter tools against the real broker: inspect what a run left in its `_error` / `_skipped` queues,
//! replay it back (once each; a dry run moves nothing; a replay cut off mid-way and rerun leaves every message in
//! exactly one queue), watch with a threshold, and serve it over HTTP (Prometheus `/metrics`, `/dlq/{queue}`).

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::Duration;
use tempfile::TempDir;

/// A run that leaves dead letters behind (kept): every call fails and nothing is retried, so each message goes to
/// `<queue>_error` (`retries_exhausted`); a share are poison and go to `_skipped` (`deserialization`).
fn leave_dead_letters(tmp: &TempDir, tag: &str, messages: u32) -> (String, Value) {
    let s = scenario(
        tmp,
        tag,
        &format!(
            "name = \"{tag}\"\nseed = 11\nmessages = {messages}\n[producers]\nrate = {{ shape = \"constant\", \
             per_second = 500 }}\npoison_fraction = 0.1\n[consumers]\ncount = 1\nconcurrency = 8\n[downstream]\n\
             errors = {{ transient = 1.0 }}\n"
        ),
    );
    let id = run_id(tag);
    let out = tmp.path().join(format!("{tag}-run"));
    let o = run(&s, &out, &["--broker", URL, "--run-id", &id, "--keep-topology"]);
    assert!(o.status.success(), "{}", text(&o));
    (format!("loadtest-{id}"), summary(&out))
}

fn dlq(args: &[&str]) -> std::process::Output {
    loadtest().arg("dlq").args(args).output().unwrap()
}

fn ndjson(o: &std::process::Output) -> Vec<Value> {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ids(letters: &[Value]) -> Vec<String> {
    letters.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
}

fn depth(queue: &str) -> u64 {
    let o = dlq(&["inspect", "--queue", queue, "--limit", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    let first = String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().to_string();
    first.split(": ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).expect("a depth")
}

#[test]
fn inspect_shows_a_runs_dead_letters_by_reason_with_the_summarys_counts() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (work, s) = leave_dead_letters(&tmp, "dlqinspect", 200);
    let _guard = TopologyGuard(work.clone());
    let by_reason = &s["messages"]["dead_lettered"]["by_reason"];
    let errors = ndjson(&dlq(&["inspect", "--queue", &format!("{work}_error"), "--json", "--limit", "1000"]));
    let skipped = ndjson(&dlq(&["inspect", "--queue", &format!("{work}_skipped"), "--json", "--limit", "1000"]));
    assert_eq!(errors.len() as u64, u(&by_reason["retries_exhausted"]));
    assert_eq!(skipped.len() as u64, u(&by_reason["deserialization"]));
    assert!(errors.iter().all(|l| l["reason"] == "retries_exhausted" && l["fault"]["MT-Reason"] == "fault"));
    assert!(skipped.iter().all(|l| l["reason"] == "deserialization"));
    let all: BTreeSet<String> = ids(&errors).into_iter().chain(ids(&skipped)).collect();
    assert_eq!(all.len(), 200, "every message once");
    // Reading consumed nothing.
    assert_eq!(depth(&format!("{work}_error")), errors.len() as u64);
    let table = text(&dlq(&["inspect", "--queue", &format!("{work}_error"), "--limit", "3"]));
    assert!(table.contains("retries_exhausted") && table.contains("[loadtest message"), "{table}");

    // The quorum delivery limit: the poison messages of poison-message-bounded.toml, reason `delivery_limit`.
    let id = run_id("dlqpoison");
    let out = tmp.path().join("poison");
    let args = [
        "--broker",
        URL,
        "--run-id",
        &id,
        "--keep-topology",
        "--time-scale",
        "20",
        "--set",
        "queue.type=quorum",
        "--set",
        "messages=4000",
    ];
    let o = run("scenarios/poison-message-bounded.toml".as_ref(), &out, &args);
    assert!(o.status.success(), "{}", text(&o));
    let work = format!("order-processing-{id}");
    let _guard = TopologyGuard(work.clone());
    let poison = ndjson(&dlq(&["inspect", "--queue", &format!("{work}_error"), "--json"]));
    let expected = u(&summary(&out)["messages"]["dead_lettered"]["by_reason"]["delivery_limit"]);
    assert!(expected > 0);
    assert_eq!(poison.len() as u64, expected);
    assert!(poison.iter().all(|l| l["reason"] == "delivery_limit" && l["deaths"][0]["queue"] == work.as_str()));
}

#[test]
fn replay_moves_every_message_once_and_a_dry_run_moves_nothing() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (work, _) = leave_dead_letters(&tmp, "dlqreplay", 100);
    let _guard = TopologyGuard(work.clone());
    let error = format!("{work}_error");
    let before = ids(&ndjson(&dlq(&["inspect", "--queue", &error, "--json", "--limit", "1000"])));
    let o = dlq(&["replay", "--from", &error, "--to", &work, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("dry run: {} would be replayed", before.len())), "{}", text(&o));
    assert_eq!(depth(&error), before.len() as u64, "a dry run moves nothing");
    assert_eq!(depth(&work), 0);
    let o = dlq(&["replay", "--from", &error, "--to", &work, "--json"]);
    let report: Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(u(&report["replayed"]), before.len() as u64, "{}", text(&o));
    assert_eq!(depth(&error), 0);
    let moved = ndjson(&dlq(&["inspect", "--queue", &work, "--json", "--limit", "1000"]));
    let mut got = ids(&moved);
    got.sort();
    let mut want = before.clone();
    want.sort();
    assert_eq!(got, want, "each arrived once");
    assert!(moved.iter().all(|m| m["replay_count"] == 1 && m["headers"]["x-replayed-from"] == error.as_str()));
    // The loop guard: replayed once, refused with --max-replays 1.
    let o = dlq(&["replay", "--from", &work, "--to", &error, "--max-replays", "1"]);
    assert!(text(&o).contains(&format!("{} replayed 1 times already", before.len())), "{}", text(&o));
}

#[test]
fn a_replay_cut_off_mid_way_and_rerun_leaves_every_message_in_exactly_one_queue() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (work, _) = leave_dead_letters(&tmp, "dlqkill", 120);
    let _guard = TopologyGuard(work.clone());
    let error = format!("{work}_error");
    let before: BTreeSet<String> =
        ids(&ndjson(&dlq(&["inspect", "--queue", &error, "--json", "--limit", "1000"]))).into_iter().collect();
    let journal = tmp.path().join("journal");
    let j = journal.display().to_string();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loadtest"))
        .args(["dlq", "replay", "--from", &error, "--to", &work, "--rate", "8/s", "--journal", &j])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its own connections only (named `loadtest dlq replay ...`), once it is under way.
    let pids = wait_for_connections("loadtest dlq replay", 2, Duration::from_secs(20));
    assert_eq!(pids.len(), 2, "the replay's two connections");
    for pid in &pids {
        let _ = ctl(&["close_connection", pid, "loadtest test: replay interrupted"]);
    }
    let o = wait_or_kill(child, Duration::from_secs(120), "dlq replay");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("rerun with the same --journal"), "{}", text(&o));
    let o = dlq(&["replay", "--from", &error, "--to", &work, "--journal", &j]);
    assert!(o.status.success(), "{}", text(&o));
    let left = ids(&ndjson(&dlq(&["inspect", "--queue", &error, "--json", "--limit", "1000"])));
    let moved = ids(&ndjson(&dlq(&["inspect", "--queue", &work, "--json", "--limit", "1000"])));
    let mut seen: Vec<String> = left.iter().chain(&moved).cloned().collect();
    seen.sort();
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique, before, "none lost");
    assert_eq!(seen.len(), unique.len(), "none duplicated");
    assert!(left.is_empty(), "the rerun finished the job: {left:?}");
}

#[test]
fn watch_alerts_exactly_above_the_threshold() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (work, _) = leave_dead_letters(&tmp, "dlqwatch", 30);
    let _guard = TopologyGuard(work.clone());
    let error = format!("{work}_error");
    let n = depth(&error);
    assert!(n > 0);
    let at = |threshold: u64| {
        dlq(&[
            "watch",
            "--queue",
            &error,
            "--alert-above",
            &threshold.to_string(),
            "--interval",
            "200ms",
            "--count",
            "2",
            "--exit-on-alert",
        ])
    };
    let o = at(n);
    assert!(o.status.success(), "depth {n} is not above {n}: {}", text(&o));
    let o = at(n - 1);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("ALERT depth {n} > {}", n - 1)), "{}", text(&o));
    let o = dlq(&["watch", "--queue", "no-such-queue-here", "--count", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// A GET or POST over plain HTTP/1.1; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

#[test]
fn serve_answers_with_prometheus_metrics_and_the_queues_messages() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (work, s) = leave_dead_letters(&tmp, "dlqserve", 40);
    let _guard = TopologyGuard(work.clone());
    let error = format!("{work}_error");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loadtest"))
        .args(["dlq", "serve", "--listen", "127.0.0.1:0", "--queue", &error])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let port: u16 =
        line.split("127.0.0.1:").nth(1).and_then(|r| r.split(' ').next()).and_then(|p| p.parse().ok()).expect(&line);
    let (code, body) = http(port, "GET", "/healthz", "");
    assert_eq!((code, body.trim()), (200, "ok"));
    let (code, body) = http(port, "GET", "/metrics", "");
    assert_eq!(code, 200);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, reason: Option<&str>| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && reason.is_none_or(|r| s.labels.get("reason") == Some(r)))
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    let dead = u(&s["messages"]["dead_lettered"]["by_reason"]["retries_exhausted"]) as f64;
    assert_eq!(value("loadtest_dlq_messages", None), Some(dead), "{body}");
    assert_eq!(value("loadtest_dlq_messages_by_reason", Some("retries_exhausted")), Some(dead));
    assert_eq!(value("loadtest_dlq_up", None), Some(1.0));
    assert!(value("loadtest_dlq_oldest_message_age_seconds", None).is_some_and(|a| a >= 0.0));
    // /dlq/{queue} holds what inspect --json prints.
    let (code, body) = http(port, "GET", &format!("/dlq/{error}?limit=1000"), "");
    assert_eq!(code, 200);
    let page: Value = serde_json::from_str(&body).unwrap();
    let inspected = ndjson(&dlq(&["inspect", "--queue", &error, "--json", "--limit", "1000"]));
    assert_eq!(page["messages"].as_array().unwrap(), &inspected);
    assert_eq!(u(&page["depth"]) as f64, dead);
    let (code, _) = http(port, "GET", "/dlq/no-such-queue-here", "");
    assert_eq!(code, 404);
    // Read-only without --allow-replay.
    let (code, body) = http(port, "POST", &format!("/dlq/{error}/replay"), &format!("{{\"to\": \"{work}\"}}"));
    assert_eq!(code, 403, "{body}");
    assert_eq!(depth(&error) as f64, dead, "nothing moved");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bad_input_is_named_exits_2_and_moves_nothing() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let (work, _) = leave_dead_letters(&tmp, "dlqbad", 10);
    let _guard = TopologyGuard(work.clone());
    let error = format!("{work}_error");
    let n = depth(&error);
    let cases: [(&[&str], &str); 6] = [
        (&["inspect", "--queue", "no-such-queue-here"], "there is no queue no-such-queue-here"),
        (&["replay", "--from", "no-such-queue-here", "--to", &work], "there is no queue no-such-queue-here"),
        (&["replay", "--from", &error, "--to", &work, "--filter", "colour=red"], "unknown key `colour`"),
        (&["replay", "--from", &error, "--to", &work, "--rate", "0/s"], "greater than 0"),
        (&["replay", "--from", &error, "--to", &work, "--older-than", "soon"], "--older-than"),
        (&["serve", "--listen", "0.0.0.0:9187"], "--allow-non-local"),
    ];
    for (args, needle) in cases {
        let o = dlq(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
    assert_eq!(depth(&error), n, "nothing moved");
}
