//! `loadtest validate --plan`: what a scenario would run, from the file alone, and the warnings for likely mistakes
//! (a `duration` stop before production or a fault ends), checked against what the run then does.

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL");
    c
}

#[test]
fn the_plan_of_the_retry_storm() {
    loadtest()
        .args(["validate", "--plan", "scenarios/retry-storm.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains("production   10000 messages, the last expected at about 5m (mean 33.30/s)"))
        .stdout(predicate::str::contains("utilisation  33% of the smaller capacity (100/s)"))
        .stdout(predicate::str::contains("faults       #1 outage at 30s to 5m30s"))
        .stdout(predicate::str::contains("at most 24 per message (6 x 4)"))
        .stdout(predicate::str::contains("warning").not());
}

#[test]
fn a_duration_stop_before_production_ends_is_warned_and_the_run_agrees() {
    let o = loadtest()
        .args(["validate", "scenarios/retry-storm.toml", "--set", "duration=\"50s\""])
        .assert()
        .success()
        .stdout(predicate::str::contains("warning: `duration` = 50s stops the run before production ends"))
        .stdout(predicate::str::contains("fault #1 (outage) is cut by the `duration` stop at 50s"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(o).unwrap();
    let predicted: f64 = text.split("only about ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("run");
    loadtest()
        .args(["run", "scenarios/retry-storm.toml", "-q", "--set", "duration=\"50s\"", "--out"])
        .arg(&out)
        .assert()
        .success();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let published = s["messages"]["published"].as_f64().unwrap();
    assert_eq!(published, 1631.0, "seed 42");
    assert!((published - predicted).abs() / predicted < 0.05, "predicted {predicted}, published {published}");
}
