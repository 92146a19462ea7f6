//! `loadtest validate --plan`: what a scenario would run, from the file alone, and the warnings for likely mistakes
//! (a `duration` stop before production or a fault ends), checked against what the run then does.

use predicates::prelude::*;
use tempfile::TempDir;

mod common;
use common::loadtest;

#[test]
fn the_plan_of_the_retry_storm() {
    loadtest()
        .args(["validate", "--plan", "scenarios/retry-storm.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains("production   10000 messages, the last expected at about 5m (mean 33.30/s)"))
        .stdout(predicate::str::contains("utilisation  33% of the smaller capacity (100/s)"))
        .stdout(predicate::str::contains("faults       faults[0] outage at 30s to 5m30s"))
        .stdout(predicate::str::contains("at most 24 per message (6 x 4)"))
        .stdout(predicate::str::contains("warning").not());
}

#[test]
fn the_autoscale_line_sizes_the_pool_for_the_peak_step_not_the_mean() {
    // 80/s, then 400/s for a minute: at about 147/s per replica the peak needs 3 replicas (the mean would need 1).
    loadtest()
        .args(["validate", "--plan", "templates/autoscale.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains("the load needs about 3 replica(s) of 10 at its peak of 400/s (147/s each)"));
}

#[test]
fn a_duration_stop_before_production_ends_is_warned_and_the_run_agrees() {
    let o = loadtest()
        .args(["validate", "scenarios/retry-storm.toml", "--set", "duration=\"50s\""])
        .assert()
        .success()
        .stdout(predicate::str::contains("warning: `duration` = 50s stops the run before production ends"))
        .stdout(predicate::str::contains("faults[0] (outage) is cut by the `duration` stop at 50s"))
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

fn scenario(dir: &TempDir, body: &str) -> std::path::PathBuf {
    let file = dir.path().join("s.toml");
    std::fs::write(&file, format!("name = \"window\"\nseed = 5\n{body}")).unwrap();
    file
}

fn run_summary(file: &std::path::Path, out: &std::path::Path) -> serde_json::Value {
    loadtest().arg("run").arg(file).arg("-q").arg("--out").arg(out).assert().success();
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn producers_for_produces_for_that_long_with_units_for_rates_and_sizes() {
    let tmp = TempDir::new().unwrap();
    // Evenly spaced: 100/s for 10 s is exactly 1,000 messages (at 0, 10 ms, ..., 9.99 s), of 1 KiB each.
    let file = scenario(&tmp, "[producers]\nrate = \"100/s\"\nfor = \"10s\"\nsize = \"1KiB\"\n");
    loadtest()
        .args(["validate", "--plan"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("production   for 10s (`producers.for`): about 1000 messages, at most 1000"));
    let s = run_summary(&file, &tmp.path().join("even"));
    assert_eq!(s["messages"]["published"], 1000);
    assert_eq!(s["messages"]["completed"], 1000);
    let resolved = std::fs::read_to_string(tmp.path().join("even/scenario.toml")).unwrap();
    assert!(resolved.contains("for = \"10s\"") && resolved.contains("bytes = 1024"), "{resolved}");
    // Poisson for 10 s: the seed's count, under the cap that `messages` defaults to.
    let file = scenario(&tmp, "[producers]\nrate = { shape = \"poisson\", per_second = 100 }\nfor = \"10s\"\n");
    let s = run_summary(&file, &tmp.path().join("poisson"));
    assert_eq!(s["messages"]["published"], 1000, "seed 5 (seeds 6, 7, 8 give 995, 1020, 1030)");
    let resolved = std::fs::read_to_string(tmp.path().join("poisson/scenario.toml")).unwrap();
    assert!(resolved.contains("messages = 1260\n"), "the cap: 1,000 + 8 x sqrt(1,000) + 8\n{resolved}");
    assert!(s["duration_s"].as_f64().unwrap() < 11.0, "{}", s["duration_s"]);
    // `messages` still caps it.
    let file = scenario(&tmp, "messages = 300\n[producers]\nrate = \"100/s\"\nfor = \"10s\"\n");
    assert_eq!(run_summary(&file, &tmp.path().join("capped"))["messages"]["published"], 300);
}

#[test]
fn the_k6_duration_pitfall_names_both_keys_and_bad_units_name_the_forms() {
    let tmp = TempDir::new().unwrap();
    let file = scenario(&tmp, "duration = \"50s\"\n[producers]\nrate = \"100/s\"\nfor = \"10m\"\n");
    loadtest().arg("validate").arg(&file).assert().success().stdout(predicate::str::contains(
        "`duration` = 50s stops the run before production ends at about 10m (`producers.for` = 10m)",
    ));
    let file = scenario(&tmp, "[producers]\nrate = \"100 per second\"\nsize = \"1 KiBi\"\n");
    loadtest()
        .arg("validate")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 4: `producers.rate = \"100 per second\"`: write a rate like \"200/s\""))
        .stderr(predicate::str::contains("line 5: `producers.size = \"1 KiBi\"`: write a size in bytes like 512"));
}
