//! `loadtest gate`, `baseline save`, `run --gate` and `run --repeat` as a CI user meets them: exit 0 when a run
//! meets its thresholds and baseline, 1 naming what broke and by how much, 2 for bad input naming the key.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn loadtest() -> Command {
    Command::cargo_bin("loadtest").unwrap()
}

/// steady-state.toml (fast: ~51 s of scenario time) with `thresholds` in place of its own.
fn steady_with(dir: &TempDir, thresholds: &str) -> PathBuf {
    let text = std::fs::read_to_string("scenarios/steady-state.toml").unwrap();
    let body = &text[..text.find("[thresholds]").unwrap()];
    let path = dir.path().join("steady.toml");
    std::fs::write(&path, format!("{body}[thresholds]\n{thresholds}")).unwrap();
    path
}

fn run(scenario: &Path, out: &Path) {
    loadtest().arg("run").arg(scenario).arg("-q").arg("--out").arg(out).assert().success();
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

#[test]
fn a_run_that_meets_its_thresholds_passes_and_writes_its_reports() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("steady");
    run(Path::new("scenarios/steady-state.toml"), &out);
    let a = loadtest().arg("gate").arg(&out).assert().code(0);
    let text = stdout(&a);
    assert!(text.contains("PASSED: all 4 checks passed"), "{text}");
    assert!(text.contains("threshold messages.dead_lettered"), "{text}");
    assert!(std::fs::read_to_string(out.join("gate.md")).unwrap().starts_with("### ✅ loadtest gate passed"));
    assert!(out.join("gate.xml").is_file());
    assert!(out.join("latency.hlog").is_file());
}

#[test]
fn each_kind_of_broken_threshold_fails_with_exit_1_and_is_named() {
    let tmp = TempDir::new().unwrap();
    // Every one of these fails on the steady state: plain, object total, windowed latency, windowed counters.
    let broken = [
        ("\"latency_ms.p99\"", "\"< 10\"", "latency_ms.p99 = 88.383, threshold < 10: 78.383 over the limit (+783.8%)"),
        ("\"messages.completed\"", "\"> 10000\"", "messages.completed = 10000, threshold > 10000: at the limit"),
        ("\"messages.dead_lettered\"", "\"!= 0\"", "messages.dead_lettered = 0, threshold != 0"),
        ("\"latency_ms.p99[5s]\"", "\"< 60\"", "latency_ms.p99[5s] = "),
        ("\"attempts.retries[10s]\"", "\"< 1\"", "attempts.retries[10s] = "),
        ("\"messages.completed[10s]\"", "\">= 1990\"", "messages.completed[10s] = "),
    ];
    let text: String = broken.iter().map(|(k, v, _)| format!("{k} = {v}\n")).collect();
    let scenario = steady_with(&tmp, &format!("{text}\"messages.lost\" = [\"== 0\", \"<= 0\"]\n"));
    let out = tmp.path().join("run");
    run(&scenario, &out);
    let a = loadtest().arg("gate").arg(&out).assert().code(1);
    let printed = stdout(&a);
    assert!(printed.contains(&format!("FAILED: {} of {} checks failed", broken.len(), broken.len() + 2)), "{printed}");
    for (_, _, message) in broken {
        assert!(printed.contains(&format!("  - {message}")), "missing `{message}` in\n{printed}");
    }
    // Windowed failures say where the worst window is and how many windows broke.
    assert!(printed.contains("breached in"), "{printed}");
    a.stderr(predicate::str::contains("error: gate failed: 6 of 8 checks"));
}

#[test]
fn a_late_collapse_is_not_diluted_by_a_good_start() {
    // The jitter storm's p99 over the whole run is well under its worst 10 s window's.
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("jitter");
    run(Path::new("scenarios/retry-storm-jitter.toml"), &out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let p99 = summary["latency_ms"]["p99"].as_f64().unwrap();
    let mut src = loadtest::gate::source::Source::open(&out).unwrap();
    let m = loadtest::gate::metric::find("latency_ms.p99").unwrap();
    let windows = src.windows(&m, 60).unwrap().remove(0);
    let worst = windows.iter().map(|w| w.value).fold(0.0, f64::max);
    let best = windows.iter().map(|w| w.value).fold(f64::MAX, f64::min);
    assert!(best < p99 / 10.0 && worst > best * 10.0, "best {best}, whole run {p99}, worst {worst}");
}

#[test]
fn one_window_over_the_whole_run_is_the_summary() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    run(Path::new("scenarios/retry-storm.toml"), &out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let mut src = loadtest::gate::source::Source::open(&out).unwrap();
    for (stat, w) in
        [("count", 100_000), ("mean", 100_000), ("p50", 5000), ("p99", 5000), ("p999", 9999), ("max", 5000)]
    {
        let m = loadtest::gate::metric::find(&format!("latency_ms.{stat}")).unwrap();
        let windows = src.windows(&m, w).unwrap().remove(0);
        assert_eq!(windows.len(), 1, "a run shorter than the window is one window");
        assert_eq!(windows[0].value, summary["latency_ms"][stat].as_f64().unwrap(), "latency_ms.{stat}");
    }
    // Counters summed over the whole run are the summary's totals.
    for (name, total) in
        [("attempts.total", &summary["attempts"]["total"]), ("messages.completed", &summary["messages"]["completed"])]
    {
        let m = loadtest::gate::metric::find(name).unwrap();
        let windows = src.windows(&m, 100_000).unwrap().remove(0);
        assert_eq!(windows[0].value, total.as_f64().unwrap(), "{name}");
    }
}

#[test]
fn no_jitter_against_the_jitter_baseline_fails_and_a_run_against_itself_passes() {
    let tmp = TempDir::new().unwrap();
    let (jitter, storm) = (tmp.path().join("jitter"), tmp.path().join("storm"));
    run(Path::new("scenarios/retry-storm-jitter.toml"), &jitter);
    run(Path::new("scenarios/retry-storm.toml"), &storm);
    let root = tmp.path().join("baselines");
    loadtest()
        .args(["baseline", "save"])
        .arg(&jitter)
        .arg("retry-storm-jitter")
        .arg("--root")
        .arg(&root)
        .assert()
        .success()
        .stdout(predicate::str::contains("latency.hlog, run.json, scenario.toml, summary.json"));
    let baseline = root.join("retry-storm-jitter");
    assert!(!baseline.join("timeseries.csv").exists(), "the big CSV stays out unless asked for");
    let a = loadtest().arg("gate").arg(&storm).arg("--baseline").arg(&baseline).assert().code(1);
    let printed = stdout(&a);
    for regressed in [
        "latency_ms.p99 = 4177526.783, baseline 2428502.015 (max +0): +72.0% (worse",
        "messages.dead_lettered = 5850, baseline 0 (max +0): +5850 (worse",
        "amplification = 17.5029, baseline 7.335 (max +0): +138.6% (worse",
        "downstream.crashes = 104, baseline 10 (max +0): +940.0% (worse",
    ] {
        assert!(printed.contains(regressed), "missing `{regressed}` in\n{printed}");
    }
    assert!(printed.contains("note: the baseline ran a different configuration"), "{printed}");
    // A generous tolerance lets one metric through; the others still fail.
    let a = loadtest()
        .arg("gate")
        .arg(&storm)
        .arg("--baseline")
        .arg(&baseline)
        .args(["--max-regression", "latency_ms.p99=100%"])
        .assert()
        .code(1);
    assert!(stdout(&a).lines().any(|l| l.contains("regression latency_ms.p99") && l.contains(" pass ")));
    // The same run against itself passes, exactly.
    loadtest()
        .arg("gate")
        .arg(&jitter)
        .arg("--baseline")
        .arg(&baseline)
        .arg("--exact")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("PASSED: all 17 checks passed"));
    // --exact notices any change, even an improvement: jitter against the no-jitter storm.
    loadtest().arg("gate").arg(&jitter).arg("--baseline").arg(&storm).arg("--exact").assert().code(1);
    // Without --exact, improvements pass: jitter is better than no jitter on all but two default metrics, and
    // tolerances for those two let it through, with a note to update the baseline.
    loadtest()
        .arg("gate")
        .arg(&jitter)
        .arg("--baseline")
        .arg(&storm)
        .args(["--max-regression", "latency_ms.p50=75%", "--max-regression", "messages.duplicates=4"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("note: improved: latency_ms.p99, latency_ms.max, messages.completed"));
}

#[test]
fn run_gate_in_one_step() {
    let tmp = TempDir::new().unwrap();
    let scenario = steady_with(&tmp, "\"latency_ms.p99\" = \"< 10\"\n");
    let out = tmp.path().join("run");
    loadtest()
        .arg("run")
        .arg(&scenario)
        .arg("--gate")
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAILED: 1 of 1 check failed"));
    assert!(out.join("summary.json").is_file() && out.join("gate.xml").is_file());
}

#[test]
fn junit_xml_is_well_formed_and_counts_tests_and_failures() {
    use quick_xml::events::Event;
    let tmp = TempDir::new().unwrap();
    let scenario = steady_with(&tmp, "\"latency_ms.p99\" = [\"< 10\", \"< 100000\"]\n\"amplification\" = \"< 1.0\"\n");
    let out = tmp.path().join("run");
    run(&scenario, &out);
    loadtest().arg("gate").arg(&out).arg("--baseline").arg(&out).assert().code(1);
    let xml = std::fs::read_to_string(out.join("gate.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases, mut failures) = (Vec::new(), 0, 0);
    let mut totals = None;
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> String {
        let a = e.try_get_attribute(name).unwrap().unwrap_or_else(|| panic!("no {name}"));
        a.normalized_value(quick_xml::XmlVersion::Explicit1_0).unwrap().into_owned()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testsuites" => totals = Some((attr(&e, "tests"), attr(&e, "failures"))),
                b"testsuite" => suites.push((attr(&e, "tests"), attr(&e, "failures"))),
                b"testcase" => cases += 1,
                b"failure" => {
                    failures += 1;
                    assert!(!attr(&e, "message").is_empty());
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    // 3 thresholds (2 fail) + the 15 default regressions against itself (all pass).
    assert_eq!((cases, failures), (18, 2), "{xml}");
    assert_eq!(totals, Some(("18".to_string(), "2".to_string())));
    assert_eq!(suites, [("3".to_string(), "2".to_string()), ("15".to_string(), "0".to_string())]);
}

#[test]
fn repeat_records_n_runs_with_successive_seeds_and_their_medians() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("rep");
    loadtest()
        .args(["run", "scenarios/steady-state.toml", "--repeat", "3", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("seeds 7..9 (virtual time is deterministic"))
        .stdout(predicate::str::contains("medians of 3 runs (run-1, run-2, run-3)"));
    let read =
        |p: PathBuf| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let runs: Vec<serde_json::Value> = (1..=3).map(|k| read(out.join(format!("run-{k}/summary.json")))).collect();
    assert_eq!(runs.iter().map(|s| s["seed"].as_u64().unwrap()).collect::<Vec<_>>(), [7, 8, 9]);
    let medians = read(out.join("summary.json"));
    assert_eq!(medians["repeats"]["count"], 3);
    assert_eq!(medians["repeats"]["statistic"], "median");
    assert_eq!(medians["repeats"]["runs"], serde_json::json!(["run-1", "run-2", "run-3"]));
    for path in [["latency_ms", "p99"], ["attempts", "total"]] {
        let mut v: Vec<f64> = runs.iter().map(|s| s[path[0]][path[1]].as_f64().unwrap()).collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(medians[path[0]][path[1]].as_f64().unwrap(), v[1], "{path:?}");
    }
    assert_ne!(runs[0]["latency_ms"], runs[1]["latency_ms"], "different seeds, different runs");
    // The gate takes the repeat folder, says it compares medians, and so does a baseline made from it.
    let root = tmp.path().join("baselines");
    loadtest().args(["baseline", "save"]).arg(&out).arg("steady").arg("--root").arg(&root).assert().success();
    assert!(root.join("steady/run-3/latency.hlog").is_file());
    loadtest()
        .arg("gate")
        .arg(&out)
        .arg("--baseline")
        .arg(root.join("steady"))
        .args(["--max-regression", "latency_ms.p99[5s]=0%"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "values are medians: run the medians of 3 runs, baseline the medians of 3 runs",
        ))
        .stdout(predicate::str::contains("thresholds apply to the medians of 3 runs"));
}

#[test]
fn bad_thresholds_and_unknown_metrics_exit_2_naming_the_key_from_validate_run_and_gate() {
    let tmp = TempDir::new().unwrap();
    let bad = steady_with(
        &tmp,
        "\"latency_ms.p98\" = \"< 5\"\n\"messages.lost\" = \"=< 0\"\n\"recovery_s[10s]\" = \"< 5\"\n",
    );
    let line = |n: usize| format!("line {}", std::fs::read_to_string(&bad).unwrap().lines().count() - 3 + n);
    for cmd in ["validate", "run"] {
        let out = tmp.path().join(format!("never-{cmd}"));
        loadtest()
            .arg(cmd)
            .arg(&bad)
            .args(if cmd == "run" { vec!["--out".into(), out.display().to_string()] } else { vec![] })
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{}: `thresholds.\"latency_ms.p98\" = \"< 5\"`: unknown metric `latency_ms.p98`; \
                 did you mean `latency_ms.p99`?",
                line(1)
            )))
            .stderr(predicate::str::contains("latency_ms.{count,mean,p50,p90,p99,p999,max}"))
            .stderr(predicate::str::contains(format!(
                "{}: `thresholds.\"messages.lost\" = \"=< 0\"`: \"=< 0\" has no comparison operator",
                line(2)
            )))
            .stderr(predicate::str::contains(format!(
                "{}: `thresholds.\"recovery_s[10s]\" = \"< 5\"`: `recovery_s` cannot be windowed",
                line(3)
            )));
        assert!(!out.join("summary.json").exists(), "nothing ran");
    }
    // gate: a run folder whose scenario.toml was edited by hand, a missing run, a bad flag, nothing to check.
    let out = tmp.path().join("ok");
    run(Path::new("scenarios/steady-state.toml"), &out);
    let scenario = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    std::fs::write(out.join("scenario.toml"), scenario.replace("\"latency_ms.p99\"", "\"p99\"")).unwrap();
    loadtest().arg("gate").arg(&out).assert().code(2).stderr(predicate::str::contains(
        "`thresholds.p99 = \"< 1000\"`: unknown metric `p99`; did you mean `latency_ms.p99`?",
    ));
    std::fs::write(out.join("scenario.toml"), &scenario).unwrap();
    loadtest()
        .arg("gate")
        .arg(tmp.path().join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a run folder"));
    loadtest()
        .arg("gate")
        .arg(&out)
        .arg("--baseline")
        .arg(&out)
        .args(["--max-regression", "latency_ms.p98=5%"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--max-regression latency_ms.p98=5%: unknown metric `latency_ms.p98`; did you mean `latency_ms.p99`?",
        ));
    loadtest()
        .arg("gate")
        .arg(&out)
        .arg("--baseline")
        .arg("no-such-baseline")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--baseline no-such-baseline: no such folder"));
    let none = steady_with(&tmp, "");
    let plain = tmp.path().join("plain");
    run(&none, &plain);
    loadtest().arg("gate").arg(&plain).assert().code(2).stderr(predicate::str::contains("nothing to check"));
}

#[test]
fn the_run_page_shows_the_gate_verdict_and_drops_a_stale_one() {
    let tmp = TempDir::new().unwrap();
    let scenario = steady_with(&tmp, "\"latency_ms.p99\" = \"< 10\"\n\"messages.lost\" = \"== 0\"\n");
    let out = tmp.path().join("run");
    run(&scenario, &out);
    let page = || std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!page().contains("id=\"gate\""), "an ungated run's page has no verdict");
    loadtest().arg("gate").arg(&out).assert().code(1);
    let html = page();
    assert!(html.contains("Gate failed: 1 of 2 checks failed"), "the verdict is on the page");
    assert!(html.contains("<li>latency_ms.p99 = 88.383, threshold &lt; 10: 78.383 over the limit"), "the failed check");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gate.json")).unwrap()).unwrap();
    assert_eq!(json["checks"].as_array().unwrap().len(), 2);
    // `report` draws the same page again from the folder.
    loadtest().arg("report").arg(&out).assert().success();
    assert_eq!(page(), html);
    // A gate that cannot run removes its earlier verdict, from the folder and from the page.
    loadtest().arg("gate").arg(&out).args(["--baseline", "no-such-baseline"]).assert().code(2);
    assert!(!out.join("gate.json").exists());
    assert!(!page().contains("id=\"gate\""), "no stale verdict on the page");
}
