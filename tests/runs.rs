//! `reports/<scenario>/latest` follows the newest run into the default location, and `loadtest runs` lists the
//! runs with their key figures.

use predicates::prelude::*;
use tempfile::TempDir;

mod common;
use common::loadtest;

#[test]
fn latest_follows_the_newest_run_and_runs_lists_them() {
    let tmp = TempDir::new().unwrap();
    let reports = tmp.path().join("reports");
    let mut dirs = Vec::new();
    for seed in ["1", "2"] {
        let o = loadtest()
            .args(["run", "scenarios/steady-state.toml", "-q", "--messages", "200", "--seed", seed, "--reports"])
            .arg(&reports)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        dirs.push(std::path::PathBuf::from(String::from_utf8(o).unwrap().trim()));
    }
    let latest = reports.join("steady-state/latest");
    assert_eq!(std::fs::read_link(&latest).unwrap(), dirs[1].file_name().unwrap(), "a relative link");
    assert!(latest.join("summary.json").is_file());
    // A run with --out elsewhere leaves the link alone.
    loadtest()
        .args(["run", "scenarios/steady-state.toml", "-q", "--messages", "100", "--out"])
        .arg(tmp.path().join("elsewhere"))
        .assert()
        .success();
    assert_eq!(std::fs::read_link(&latest).unwrap(), dirs[1].file_name().unwrap());
    let o = loadtest().args(["runs", "--reports"]).arg(&reports).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(o).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("published 200  completed 200  dead-lettered 0  lost 0") && !lines[0].contains("latest"));
    assert!(lines[1].ends_with("(latest)"), "{text}");
    loadtest().args(["runs", "steady-state", "--reports"]).arg(&reports).assert().success();
    loadtest()
        .args(["runs", "nope", "--reports"])
        .arg(&reports)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no runs of that scenario"));
}
