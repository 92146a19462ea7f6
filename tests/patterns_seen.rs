//! What the resilience patterns did is visible (issue 9, item 8): the breaker starter's time series carries the
//! breakers open each second, its charts draw the calls that reached the service apart from the handler attempts and
//! a strip where a breaker was open, and the terminal and the key figures give the openings; the autoscale starter
//! reports its replicas and scale events. Runs of a scenario without those patterns show none of it.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL");
    c
}

/// Runs `scenario` into `out` (with `--set` overrides); the summary.json and the terminal summary.
fn run(scenario: &str, out: &Path, sets: &[&str]) -> (Value, String) {
    let mut cmd = loadtest();
    cmd.arg("run").arg(scenario).arg("--out").arg(out).arg("--no-png");
    for s in sets {
        cmd.args(["--set", s]);
    }
    let done = cmd.assert().success();
    let stdout = String::from_utf8(done.get_output().stdout.clone()).unwrap();
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (summary, stdout)
}

/// The `breakers_open` column of timeseries.csv, if it has one: (seconds with a breaker open, largest count).
fn breaker_column(dir: &Path) -> Option<(u64, u64)> {
    let mut r = csv::Reader::from_path(dir.join("timeseries.csv")).unwrap();
    let at = r.headers().unwrap().iter().position(|h| h == "breakers_open")?;
    let (mut seconds, mut peak) = (0, 0);
    for rec in r.records() {
        let n: u64 = rec.unwrap()[at].parse().unwrap();
        seconds += u64::from(n > 0);
        peak = peak.max(n);
    }
    Some((seconds, peak))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn a_breaker_shows_as_a_column_a_strip_a_calls_line_and_key_figures() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("breaker");
    let (s, out) = run("templates/breaker.toml", &dir, &[]);
    assert_eq!(s["downstream"]["circuit_breaker_opened"], 76);
    // 8 consumers with a breaker each: at most 8 open at once, open in the seconds of the 2-minute error spike only
    let (seconds, peak) = breaker_column(&dir).expect("a breakers_open column");
    assert!((1..=8).contains(&peak), "peak {peak}");
    assert!(seconds > 0 && seconds < 200, "{seconds} seconds with a breaker open");
    let storm = read(&dir, "charts/retry-storm.svg");
    assert!(storm.contains("calls that reached the service"), "the calls line is in the legend");
    assert!(storm.contains("circuit breaker open (strip at the top)"));
    assert!(read(&dir, "charts/backlog.svg").contains("circuit breaker open (strip at the top)"));
    let page = read(&dir, "index.html");
    assert!(page.contains("circuit breaker openings</div>") && page.contains(">76</div>"), "key figure");
    assert!(page.contains("Teal strip along the top"));
    assert!(page.contains("\"breaker\":[["), "the interactive charts get the breaker's seconds");
    assert!(out.contains("  breaker      opened 76 time(s)"), "{out}");

    // the same scenario without a breaker: no column, no strip, no calls line, no card
    let none = tmp.path().join("none");
    let (s, _) = run("templates/breaker.toml", &none, &["circuit_breaker=null"]);
    assert_eq!(s["downstream"]["circuit_breaker_opened"], 0);
    assert_eq!(breaker_column(&none), None);
    let storm = read(&none, "charts/retry-storm.svg");
    assert!(!storm.contains("calls that reached the service") && !storm.contains("circuit breaker open"));
    let page = read(&none, "index.html");
    assert!(!page.contains("circuit breaker openings") && !page.contains("\"breaker\":"));
}

#[test]
fn the_autoscaler_reports_its_replicas_and_scale_events() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("autoscale");
    // long enough after the burst (514 s) for the 300-s scale-down stabilisation to pass
    let (s, out) = run("templates/autoscale.toml", &dir, &["messages=60000"]);
    let c = &s["consumers"];
    let (min, peak) = (c["min"].as_u64().unwrap(), c["peak"].as_u64().unwrap());
    let (ups, downs) = (c["scale_ups"].as_u64().unwrap(), c["scale_downs"].as_u64().unwrap());
    // the 5x burst: one poll sees the backlog and scales 1 replica to the maximum at once (the HPA goes straight to
    // the target), one scales back down once the window has passed
    assert_eq!((min, peak, ups, downs), (1, 10, 1, 1));
    let line = format!("  autoscale    replicas {min}..{peak}  scaled up {ups} time(s), down {downs} time(s)");
    assert!(out.contains(&line), "{out}");
    let page = read(&dir, "index.html");
    assert!(page.contains(&format!("{min} – {peak}</div><div class=\"k\">replicas min – peak")), "key figure");
    assert!(page.contains(&format!("{ups} / {downs}</div><div class=\"k\">scale events (up / down)")));

    // the retry storm has no autoscaler: no scale keys, no line
    let storm = tmp.path().join("storm");
    let (s, out) = run("scenarios/retry-storm.toml", &storm, &[]);
    assert!(s["consumers"].get("scale_ups").is_none());
    assert!(!out.contains("autoscale"), "{out}");
    assert_eq!(breaker_column(&storm), None);
}
