//! `--metrics-listen` and `--live`: /metrics parses as Prometheus text while a paced run goes, the report folder's
//! metrics.prom holds summary.json's counts, a taken port is exit 2 before anything runs, and `--live` prints one
//! line per scenario second.

mod common;

use common::loadtest;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;
use tempfile::TempDir;

/// A plain HTTP/1.1 GET; the status line and the body.
fn get(addr: &str, path: &str) -> std::io::Result<(String, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.lines().next().unwrap_or("").to_string(), body.to_string()))
}

fn scrape(body: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("a Prometheus text exposition")
}

/// The value of the sample `name` whose labels include `labels`.
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// The final values in `dir/metrics.prom` equal summary.json's counts.
fn check_final(dir: &Path) {
    let s = summary(dir);
    let m = scrape(&std::fs::read_to_string(dir.join("metrics.prom")).unwrap());
    let name = s["scenario"]["name"].as_str().unwrap();
    let l = [("scenario", name)];
    for (metric, field) in [
        ("loadtest_messages_published_total", &s["messages"]["published"]),
        ("loadtest_messages_completed_total", &s["messages"]["completed"]),
        ("loadtest_messages_dead_lettered_total", &s["messages"]["dead_lettered"]["total"]),
        ("loadtest_messages_expired_total", &s["messages"]["expired"]),
        ("loadtest_downstream_calls_total", &s["attempts"]["downstream_calls"]),
        ("loadtest_downstream_calls_failed_total", &s["attempts"]["downstream_calls_failed"]),
    ] {
        assert_eq!(value(&m, metric, &l), field.as_f64().unwrap(), "{metric}");
    }
    let attempts: f64 = ["first", "retry", "redelivery"]
        .iter()
        .map(|k| value(&m, "loadtest_handler_attempts_total", &[("kind", k)]))
        .sum();
    assert_eq!(attempts, s["attempts"]["total"].as_f64().unwrap());
    assert_eq!(
        value(&m, "loadtest_handler_attempts_total", &[("kind", "retry")]),
        s["attempts"]["retries"].as_f64().unwrap()
    );
}

#[test]
fn metrics_are_served_while_a_paced_run_goes_and_metrics_prom_holds_the_final_counts() {
    let tmp = TempDir::new().unwrap();
    let paced = tmp.path().join("paced.toml");
    // 100 messages at 50/s on the real clock: two wall seconds of publishing.
    std::fs::write(
        &paced,
        "name = \"paced\"\nmessages = 100\n[broker]\nclock = \"real\"\ntime_scale = 1.0\n\
         [producers]\nrate = { shape = \"constant\", per_second = 50 }\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_loadtest"));
    run.env_remove("LOADTEST_AMQP_URL").env_remove("RUST_LOG");
    let mut child = run
        .args(["run", "--seed", "5", "--metrics-listen", "127.0.0.1:0", "--run-id", "r42", "--out"])
        .arg(&out)
        .arg(&paced)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.starts_with("metrics: ") {
        line.clear();
    }
    let addr = line.trim().strip_prefix("metrics: http://").and_then(|a| a.strip_suffix("/metrics")).expect(&line);
    let addr = addr.to_string();
    let (status, body) = get(&addr, "/healthz").unwrap();
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok\n");
    // Poll until a second has closed; the run is still publishing then (fewer than its 100 messages).
    let mut during = None;
    for _ in 0..200 {
        let (status, body) = get(&addr, "/metrics").unwrap();
        assert!(status.contains("200"), "{status}");
        let m = scrape(&body);
        let published = value(&m, "loadtest_messages_published_total", &[("scenario", "paced"), ("run_id", "r42")]);
        if published > 0.0 {
            during = Some((published, m));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (published, m) = during.expect("no second closed");
    assert!(published < 100.0, "the scrape came after the run published everything: {published}");
    assert!(value(&m, "loadtest_scenario_time_seconds", &[]) >= 1.0);
    for name in ["loadtest_queue_messages", "loadtest_consumers", "loadtest_handler_failures_total"] {
        assert!(m.samples.iter().any(|s| s.metric == name), "{name} missing");
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{rest}");
    assert_eq!(summary(&out)["messages"]["published"], 100);
    check_final(&out);
    // The server ended with the run.
    assert!(get(&addr, "/metrics").is_err());
}

#[test]
fn metrics_prom_matches_the_summary_of_a_storm_and_is_written_again_by_report() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    let o = loadtest().args(["run", "scenarios/retry-storm.toml", "-q", "--out"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    check_final(&out);
    let first = std::fs::read(out.join("metrics.prom")).unwrap();
    std::fs::remove_file(out.join("metrics.prom")).unwrap();
    let o = loadtest().arg("report").arg(&out).arg("-q").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("metrics.prom")).unwrap(), first);
}

#[test]
fn a_metrics_address_that_cannot_be_bound_is_exit_2_before_anything_runs() {
    let tmp = TempDir::new().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tmp.path().join("out");
    for (spec, says) in [(addr.as_str(), "cannot listen there"), ("localhost", "write ADDRESS:PORT")] {
        let o = loadtest()
            .args(["run", "scenarios/steady-state.toml", "--metrics-listen", spec, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("--metrics-listen") && err.contains(says), "{err}");
        assert!(!err.contains("running"), "{err}");
        assert!(!out.exists(), "a report folder was written");
    }
}

#[test]
fn live_prints_one_line_per_scenario_second_with_its_columns() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let o = loadtest().args(["run", "scenarios/retry-storm.toml", "--live", "--out"]).arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("time: ")).collect();
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let last: u64 = csv.lines().last().unwrap().split(',').next().unwrap().parse().unwrap();
    assert_eq!(lines.len() as u64, last + 1);
    assert_eq!(lines.len(), LIVE_SECONDS);
    let s = summary(&out);
    let mut published = 0;
    let mut completed = 0;
    for (i, l) in lines.iter().enumerate() {
        let fields: Vec<(&str, &str)> = l.split(", ").map(|f| f.split_once(": ").unwrap()).collect();
        let keys: Vec<&str> = fields.iter().map(|f| f.0).collect();
        assert_eq!(
            keys,
            ["time", "published", "completed", "failed", "ready", "unacked", "delayed", "dlq", "p50/p99"],
            "{l}"
        );
        assert_eq!(fields[0].1, format!("{i} s"));
        let n = |k: usize| fields[k].1.trim_end_matches(" msg/s").parse::<u64>().unwrap();
        published += n(1);
        completed += n(2);
    }
    assert_eq!(published, s["messages"]["published"].as_u64().unwrap());
    assert_eq!(completed, s["messages"]["completed"].as_u64().unwrap());
    // Off by default in virtual time; --no-live keeps it off.
    let o = loadtest()
        .args(["run", "scenarios/steady-state.toml", "--no-live", "--out"])
        .arg(tmp.path().join("b"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stderr).contains("time: 0 s"));
}

/// Seconds of scenario time the retry storm covers (seed 42 in the file; deterministic).
const LIVE_SECONDS: usize = 4600;
