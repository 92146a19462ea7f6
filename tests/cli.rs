//! The command line as a user meets it: runs, report folders, determinism, and every kind of bad input
//! (exit 2, a message naming the key, line and fix, nothing run, no panic).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION");
    c
}

fn write(dir: &TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn run_writes_the_report_folder_and_prints_the_summary() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    loadtest()
        .args(["run", "scenarios/retry-storm.toml", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("seed 42"))
        .stdout(predicate::str::contains("dead-lettered 5850"))
        .stdout(predicate::str::contains(format!("report: {}", out.display())));
    for f in ["summary.json", "timeseries.csv", "latency.hgrm", "scenario.toml", "run.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 42);
    assert_eq!(summary["messages"]["published"], 10_000);
    assert_eq!(summary["schema_version"], 1);
    // The resolved scenario reruns to the same result.
    let again = tmp.path().join("again");
    loadtest().args(["run"]).arg(out.join("scenario.toml")).arg("--out").arg(&again).assert().success();
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), std::fs::read(again.join("summary.json")).unwrap());
    // The CSV has a header and a row per second of scenario time except idle ones (nothing counted, gauges as in
    // the row before): 1,287 of the storm's 4,600 seconds. Read back, every second is there.
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert_eq!(summary["duration_s"], 4599.779);
    assert_eq!(csv.lines().count(), 1 + 1287);
    let rows = loadtest::record::series::read_csv(&out.join("timeseries.csv")).unwrap();
    assert_eq!(rows.len(), 4600);
    assert!(rows.iter().enumerate().all(|(i, r)| r.time_s == i as u64));
}

#[test]
fn same_seed_same_summary_byte_for_byte_and_another_seed_differs() {
    let tmp = TempDir::new().unwrap();
    let run = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        loadtest()
            .args(["run", "scenarios/retry-storm-jitter.toml", "-q", "--seed", seed, "--out"])
            .arg(&out)
            .assert()
            .success();
        std::fs::read(out.join("summary.json")).unwrap()
    };
    let a = run("a", "7");
    let b = run("b", "7");
    let c = run("c", "8");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn default_report_folder_is_under_reports_scenario_name() {
    let tmp = TempDir::new().unwrap();
    let out = loadtest()
        .args(["run", "scenarios/steady-state.toml", "-q", "--reports"])
        .arg(tmp.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let dir = String::from_utf8(out).unwrap().trim().to_string();
    assert!(dir.starts_with(&tmp.path().join("steady-state").display().to_string()), "{dir}");
    assert!(dir.ends_with("-s7"), "{dir}");
    assert!(Path::new(&dir).join("summary.json").is_file());
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    // The scenarios, not the schema beside them.
    let files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    loadtest().arg("validate").args(&files).assert().success();
}

/// Runs `args`, expecting exit 2 with every `needles` in stderr, no panic, and no report folder.
fn rejects(args: &[&str], needles: &[&str]) {
    let tmp = TempDir::new().unwrap();
    let reports = tmp.path().join("reports");
    let mut cmd = loadtest();
    cmd.args(args);
    if args[0] == "run" {
        cmd.arg("--reports").arg(&reports);
    }
    let assert = cmd.assert().code(2);
    let err = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!reports.exists(), "nothing may run: {}", reports.display());
}

#[test]
fn bad_scenarios_exit_2_naming_key_line_and_fix() {
    let tmp = TempDir::new().unwrap();
    let p = |name: &str, text: &str| write(&tmp, name, text).display().to_string();
    let malformed = p("malformed.toml", "messages = 10\n[consumers\ncount = 2\n");
    rejects(&["run", &malformed], &["line 2", "invalid TOML"]);
    let unknown = p("unknown.toml", "messages = 10\n[consumer]\ncount = 2\n");
    rejects(&["run", &unknown], &["line 2", "unknown key `consumer`", "did you mean `consumers`"]);
    let wrong_type = p("type.toml", "messages = \"many\"\n");
    rejects(&["run", &wrong_type], &["line 1", "messages"]);
    let negative = p("negative.toml", "[producers]\nrate = { shape = \"poisson\", per_second = -5 }\n");
    rejects(&["run", &negative], &["line 2", "per_second", "greater than 0"]);
    let jitter = p("jitter.toml", "[retry]\njitter = \"ful\"\n");
    rejects(&["run", &jitter], &["line 2", "\"full\"", "\"decorrelated\""]);
    let impossible = p("prefetch.toml", "[consumers]\nconcurrency = 16\nprefetch = 8\n");
    rejects(&["run", &impossible], &["line 3", "prefetch (8) is below concurrency (16)", "raise prefetch"]);
    let many = p("many.toml", "messages = -3\n[consumer]\n[retry]\njitter = \"ful\"\n[queue]\noverflow = \"drop\"\n");
    rejects(&["run", &many], &["4 problems", "line 1", "line 2", "line 4", "line 6"]);
}

#[test]
fn missing_file_bad_set_and_unwritable_output_exit_2() {
    rejects(&["run", "scenarios/does-not-exist.toml"], &["does-not-exist.toml", "No such file"]);
    rejects(&["run", "scenarios/retry-storm.toml", "--set", "consumers.count=-1"], &["--set consumers.count"]);
    rejects(&["run", "scenarios/retry-storm.toml", "--set", "nonsense"], &["nonsense", "key.path=value"]);
    let tmp = TempDir::new().unwrap();
    let file = write(&tmp, "not-a-dir", "x");
    let out = file.join("report");
    rejects(
        &["run", "scenarios/retry-storm.toml", "--out", &out.display().to_string()],
        &["cannot write the report folder"],
    );
    rejects(&["validate", "scenarios/retry-storm.toml", "scenarios/nope.toml"], &["nope.toml", "1 of 2"]);
}

#[test]
fn usage_errors_exit_2() {
    loadtest().args(["run"]).assert().code(2);
    loadtest().args(["frobnicate"]).assert().code(2);
    loadtest().args(["run", "scenarios/retry-storm.toml", "--seed", "minus-one"]).assert().code(2);
}

#[test]
fn bad_broker_flags_exit_2_before_anything_runs_and_never_show_a_password() {
    let s = "scenarios/steady-state.toml";
    rejects(
        &["run", s, "--broker", "kafka"],
        &["--broker takes an AMQP URL", "`rabbitmq`", "`servicebus`", "`embedded`"],
    );
    rejects(&["run", s, "--broker", "servicebus"], &["needs a connection string", "LOADTEST_SERVICEBUS_CONNECTION"]);
    rejects(&["run", s, "--broker", "amqp://me:hunter2@host:99999/"], &["--broker: "]);
    rejects(&["run", s, "--broker", "rabbitmq", "--run-id", "no spaces!"], &["--run-id"]);
    rejects(&["run", s, "--broker", "rabbitmq", "--time-scale", "0"], &["time_scale", "greater than 0"]);
    // Classic queues do not count deliveries: the file is refused before anything connects.
    let bounded = "scenarios/poison-message-bounded.toml";
    rejects(&["run", bounded, "--broker", "rabbitmq"], &["queue.max_delivery_count needs a quorum queue"]);
    // Produce-only needs a pinned queue; a reused queue needs a real broker.
    rejects(&["run", s, "--broker", "rabbitmq", "--set", "consumers.count=0"], &["queue.reuse = true"]);
    rejects(&["run", s, "--reuse-queue"], &["existing queue of a real broker"]);
    let out = loadtest().args(["run", s, "--broker", "amqp://me:hunter2@host:99999/"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
    let env = loadtest()
        .args(["run", s, "--broker", "rabbitmq", "--out", "/nonexistent/never"])
        .env("LOADTEST_AMQP_URL", "http://me:hunter2@host/")
        .output()
        .unwrap();
    assert_eq!(env.status.code(), Some(2));
    let err = String::from_utf8_lossy(&env.stderr);
    assert!(err.contains("$LOADTEST_AMQP_URL") && !err.contains("hunter2"), "{err}");
}

#[test]
fn dlq_inspect_and_a_dry_run_replay_work_on_a_report_folder_without_a_broker() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("storm");
    loadtest().args(["run", "scenarios/retry-storm.toml", "-q", "--out"]).arg(&out).assert().success();
    let run = out.display().to_string();
    let o = loadtest().args(["dlq", "inspect", "--run", &run, "--json", "--limit", "100000"]).output().unwrap();
    assert!(o.status.success());
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 5850, "every dead letter of summary.json");
    assert!(rows.iter().all(|r| r["reason"] == "retries_exhausted" && r["queue"] == "order-processing_error"));
    let table = loadtest().args(["dlq", "inspect", "--run", &run]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.contains("5850 dead letter(s) recorded") && table.contains("retries_exhausted"), "{table}");
    let dry = loadtest()
        .args(["dlq", "replay", "--run", &run, "--dry-run", "--filter", "reason=retries_exhausted", "--limit", "5"])
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert!(String::from_utf8_lossy(&dry.stdout).contains("dry run: 5 of 5850 recorded dead letters selected"));
    rejects(&["dlq", "replay", "--run", &run, "--to", "x"], &["add --dry-run"]);
    rejects(&["dlq", "inspect", "--run", "scenarios"], &["dead_letters.csv"]);
    rejects(&["dlq", "replay", "--run", &run, "--dry-run", "--filter", "colour=red"], &["unknown key `colour`"]);
}

#[test]
fn broker_faults_run_no_command_without_allow_commands() {
    // Refused before anything connects: no broker is needed to check it, and none is reached.
    for scenario in ["scenarios/broker-restart.toml", "scenarios/memory-alarm.toml"] {
        rejects(
            &["run", scenario, "--broker", "amqp://guest:guest@127.0.0.1:1/%2f"],
            &["run broker admin commands", "--allow-commands", "rabbitmqctl", "whole broker"],
        );
    }
}

#[test]
fn oversized_inputs_and_seeds_a_scenario_file_cannot_hold_exit_2() {
    // A device read without a limit would fill memory; the loader stops after 4 MiB.
    rejects(&["validate", "/dev/zero"], &["/dev/zero", "larger than 4 MiB"]);
    rejects(&["run", "/dev/zero"], &["larger than 4 MiB"]);
    // TOML integers are i64: a larger seed would leave a scenario.toml that does not read back.
    rejects(&["run", "scenarios/steady-state.toml", "--seed", "9223372036854775808"], &["0..=9223372036854775807"]);
    rejects(
        &["run", "scenarios/steady-state.toml", "--repeat", "3", "--seed", "9223372036854775806"],
        &["--repeat 3 from seed 9223372036854775806", "use a smaller seed"],
    );
}
