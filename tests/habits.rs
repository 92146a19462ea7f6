//! Users coming from RabbitMQ PerfTest and k6: their flags and threshold forms get a line saying what to write
//! here, and the PerfTest-style shorthands (`--messages`, `--rate`, `--consumers`, `--prefetch`, `--size`) act
//! exactly as the `--set` flags they stand for.

use predicates::prelude::*;
use tempfile::TempDir;

mod common;
use common::loadtest;

#[test]
fn perftest_and_k6_flags_exit_2_with_what_to_write_here() {
    loadtest()
        .args(["run", "scenarios/steady-state.toml", "-x", "2", "-y", "4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected argument '-x'"))
        .stderr(predicate::str::contains(
            "hint: `-x` looks like PerfTest's producer count; here write --set producers.count=N",
        ))
        .stderr(predicate::str::contains("hint: `-y` looks like PerfTest's consumer count; here write --consumers N"));
    loadtest()
        .args(["run", "scenarios/steady-state.toml", "--vus", "10", "--duration", "30s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hint: `--vus` looks like k6's virtual users"))
        .stderr(predicate::str::contains(
            "hint: `--duration` looks like k6's duration; here write --set producers.for=",
        ));
}

#[test]
fn the_shorthands_are_the_set_flags_they_stand_for() {
    let tmp = TempDir::new().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let short = ["--messages", "300", "--rate", "50", "--consumers", "2", "--prefetch", "32", "--size", "1000"];
    loadtest().args(["run", "scenarios/steady-state.toml", "-q", "--out"]).arg(&a).args(short).assert().success();
    let long = [
        "--set",
        "messages=300",
        "--set",
        "producers.rate.per_second=50.0",
        "--set",
        "consumers.count=2",
        "--set",
        "consumers.prefetch=32",
        "--set",
        "producers.size={ bytes = 1000 }",
    ];
    loadtest().args(["run", "scenarios/steady-state.toml", "-q", "--out"]).arg(&b).args(long).assert().success();
    let read = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read(&a, "scenario.toml"), read(&b, "scenario.toml"), "the same resolved scenario");
    let s: serde_json::Value = serde_json::from_str(&read(&a, "summary.json")).unwrap();
    assert_eq!(s["messages"]["published"], 300);
    assert_eq!(s["messages"]["completed"], 300);
    let scenario = read(&a, "scenario.toml");
    for line in ["count = 2", "prefetch = 32", "per_second = 50.0", "bytes = 1000"] {
        assert!(scenario.contains(line), "{line} in\n{scenario}");
    }
    // --set wins over a shorthand: here its 0 is what validation refuses.
    loadtest()
        .args(["validate", "scenarios/steady-state.toml", "--consumers", "2", "--set", "consumers.count=0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("consumers.count = 0 (produce-only)"));
}

#[test]
fn a_k6_threshold_names_its_line_and_the_form_to_write() {
    let tmp = TempDir::new().unwrap();
    let base = std::fs::read_to_string("scenarios/steady-state.toml").unwrap();
    let cut = base.find("[thresholds]").unwrap_or(base.len());
    let file = tmp.path().join("k6.toml");
    std::fs::write(&file, format!("{}[thresholds]\nhttp_req_duration = \"p(99)<2000\"\n", &base[..cut])).unwrap();
    loadtest()
        .arg("validate")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is k6's threshold form"))
        .stderr(predicate::str::contains("\"latency_ms.p99\" = \"<2000\""));
}
