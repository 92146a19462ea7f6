//! Every run ends: values no real system needs are validation errors (exit 2, nothing run), a run that passes a
//! `[limits]` bound stops with exit 3 and a complete report that says why, and a signal stops a virtual-time run
//! with its report written (exit 128 + signal).

use assert_cmd::Command;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
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

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Runs `scenario` into `out` and returns (exit code, stderr).
fn run(scenario: &Path, out: &Path) -> (i32, String) {
    let o = loadtest().args(["run", "-q", "--seed", "1"]).arg(scenario).arg("--out").arg(out).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The report folder is complete and readable by the other commands.
fn assert_complete(out: &Path) {
    for f in ["summary.json", "timeseries.csv", "latency.hgrm", "scenario.toml", "run.json", "index.html"] {
        assert!(out.join(f).is_file(), "{f} missing in {}", out.display());
    }
    loadtest().arg("report").arg(out).assert().success();
}

#[test]
fn values_no_real_system_needs_are_errors_naming_the_key_and_the_range() {
    let tmp = TempDir::new().unwrap();
    let cases: &[(&str, &str)] = &[
        ("[retry]\npolicy = { kind = \"immediate\", limit = 4294967295 }\n", "`retry.policy.limit = 4294967295`: must be at most 10000"),
        ("[consumers]\ncount = 4294967295\n", "`consumers.count = 4294967295`: must be at most 10000"),
        ("[consumers]\nconcurrency = 20000\nprefetch = 20000\n", "`consumers.concurrency = 20000`: must be at most 10000"),
        ("[consumers]\nprefetch = 70000\n", "`consumers.prefetch = 70000`: must be at most 65535"),
        ("[consumers]\ncount = 1000\nconcurrency = 2000\nprefetch = 2000\n", "= 2000000 handler slots, above the 1000000"),
        ("[autoscale]\npolling_interval = \"1ns\"\n", "`autoscale.polling_interval = \"1ns\"`: must be at least 1us"),
        ("[redelivery]\nintervals = [\"1s\", \"10ns\"]\n", "`redelivery.intervals[1] = \"10ns\"`: must be at least 1us"),
        ("[circuit_breaker]\nbreak = \"999ns\"\n", "`circuit_breaker.break = \"999ns\"`: must be at least 1us"),
        ("[producers]\nrate = { shape = \"burst\", size = 10, every = \"1ns\" }\n", "must be at least 1us"),
        ("[producers]\nsize = 1099511627776\n", "`producers.size = 1099511627776`: must be at most 536870912"),
        ("[downstream]\nservice_time = \"0s\"\n", "downstream.service_time has a mean of 0"),
        ("[downstream]\nservice_time = \"0.000001ns\"\n", "downstream.service_time has a mean of 0"),
        (
            "[downstream]\nservice_time = { dist = \"uniform\", min = \"0s\", max = \"0s\" }\n",
            "downstream.service_time has a mean of 0",
        ),
        (
            "[downstream]\nservice_time = \"10ms\"\n[[faults]]\nkind = \"latency-spike\"\nat = \"0s\"\nduration = \"1h\"\nfactor = 1e-320\n",
            "must lie within [1e-6, 1e6]",
        ),
        ("[limits]\nstalled_events = 10\n", "`limits.stalled_events = 10`: must be at least 1000"),
        ("[limits]\nmax_scenario_time = \"1ms\"\n", "must be at least 1s"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = write(&tmp, &format!("bad{i}.toml"), text);
        let out = tmp.path().join(format!("out{i}"));
        let o = loadtest().arg("run").arg(&file).arg("--out").arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(expected), "{text}: expected `{expected}` in:\n{err}");
        assert!(!out.exists(), "{text}: nothing may run, but {} was written", out.display());
    }
}

#[test]
fn a_retry_loop_stops_at_the_event_limit_with_a_complete_report() {
    let tmp = TempDir::new().unwrap();
    // One message that always fails, requeued at once by a consumer that takes no time: it never ends by itself.
    let text = "messages = 1\n[producers]\npoison_fraction = 1.0\n[consumers]\nservice_time = \"0s\"\n\
                on_failure = \"requeue\"\n[limits]\nmax_events = 50000\n";
    let file = write(&tmp, "loop.toml", text);
    let out = tmp.path().join("loop");
    let (code, err) = run(&file, &out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("stopped at limits.max_events = 50000"), "{err}");
    assert_complete(&out);
    let s = summary(&out);
    assert_eq!(s["stopped_by"]["cause"], "limits.max_events");
    assert_eq!(s["messages"]["published"], 1);
    assert_eq!(s["messages"]["in_flight_at_end"], 1);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["events"], 50000);
    // The default bound ends the same loop, too (10,000,000 + 1,000 per message).
    let file = write(&tmp, "loop-default.toml", &text.replace("[limits]\nmax_events = 50000\n", ""));
    let out = tmp.path().join("loop-default");
    let (code, err) = run(&file, &out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("stopped at limits.max_events = 10001000"), "{err}");
}

#[test]
fn scenario_time_that_stands_still_is_a_stall() {
    let tmp = TempDir::new().unwrap();
    // 5,000 messages published at t = 0 in one burst: with the bound at its floor of 1,000 events at one
    // instant, the run counts as stalled at t = 0 (the default, 20,000,000, lets such a burst through).
    let text = "messages = 5000\n[producers]\nrate = { shape = \"burst\", size = 5000, every = \"1h\" }\n\
                [limits]\nstalled_events = 1000\n";
    let file = write(&tmp, "stall.toml", text);
    let out = tmp.path().join("stall");
    let (code, err) = run(&file, &out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("scenario time stood still at 0 s for that many events"), "{err}");
    assert_complete(&out);
    assert_eq!(summary(&out)["stopped_by"]["cause"], "limits.stalled_events");
    // Without the low bound the burst runs to the end.
    let file = write(&tmp, "burst.toml", &text.replace("[limits]\nstalled_events = 1000\n", ""));
    let (code, err) = run(&file, &tmp.path().join("burst"));
    assert_eq!(code, 0, "{err}");
    assert!(summary(&tmp.path().join("burst")).get("stopped_by").is_none());
}

#[test]
fn a_run_without_duration_stops_at_max_scenario_time_with_exit_3() {
    let tmp = TempDir::new().unwrap();
    let text = "messages = 100\n[producers]\nrate = { shape = \"constant\", per_second = 1 }\n\
                [limits]\nmax_scenario_time = \"10s\"\n";
    let file = write(&tmp, "slow.toml", text);
    let out = tmp.path().join("slow");
    let (code, err) = run(&file, &out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("limits.max_scenario_time = 10s"), "{err}");
    let s = summary(&out);
    assert_eq!(s["stopped_by"]["cause"], "limits.max_scenario_time");
    assert_eq!(s["duration_s"], 10.0);
    assert_eq!(s["messages"]["published"], 11, "one per second from t = 0 to t = 10 s");
    // A `duration` is a stop on purpose: exit 0, no `stopped_by`.
    let text = text
        .replace("[limits]\nmax_scenario_time = \"10s\"\n", "")
        .replace("messages = 100\n", "messages = 100\nduration = \"10s\"\n");
    let file = write(&tmp, "dur.toml", &text);
    let (code, err) = run(&file, &tmp.path().join("dur"));
    assert_eq!(code, 0, "{err}");
    let s = summary(&tmp.path().join("dur"));
    assert_eq!(s["stopped_by_duration_limit"], true);
    assert!(s.get("stopped_by").is_none());
}

/// Starts a paced run on the embedded broker, waits until it runs, sends `sig` and returns (exit code, folder).
fn interrupt_with(sig: i32, tmp: &TempDir, name: &str) -> (Option<i32>, std::path::PathBuf) {
    let text = "messages = 100000\n[broker]\nclock = \"real\"\ntime_scale = 1.0\n\
                [producers]\nrate = { shape = \"constant\", per_second = 50 }\n";
    let file = write(tmp, &format!("{name}.toml"), text);
    let out = tmp.path().join(name);
    let bin = assert_cmd::cargo::cargo_bin("loadtest");
    let mut child = std::process::Command::new(bin)
        .args(["run", "--seed", "3"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .env_remove("LOADTEST_SERVICEBUS_CONNECTION")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("running") {
        line.clear();
    }
    assert!(line.contains("running"), "the run did not start");
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SAFETY: kill(2) on the child's pid, which is still ours (not yet waited for).
    unsafe { libc::kill(child.id() as i32, sig) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    (child.wait().unwrap().code(), out)
}

#[test]
fn a_signal_stops_a_virtual_time_run_with_its_report_written() {
    let tmp = TempDir::new().unwrap();
    for (sig, code, name) in
        [(libc::SIGINT, 130, "SIGINT"), (libc::SIGTERM, 143, "SIGTERM"), (libc::SIGHUP, 129, "SIGHUP")]
    {
        let (got, out) = interrupt_with(sig, &tmp, &name.to_lowercase());
        assert_eq!(got, Some(code), "{name}");
        assert_complete(&out);
        let s = summary(&out);
        assert_eq!(s["stopped_by"]["cause"], name);
        let published = s["messages"]["published"].as_u64().unwrap();
        assert!(published > 0 && published < 100_000, "{name}: published {published}");
        // The series ends on a whole row: every line has the header's number of fields.
        let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
        let fields = csv.lines().next().unwrap().split(',').count();
        assert!(csv.ends_with('\n'));
        assert!(csv.lines().all(|l| l.split(',').count() == fields), "{name}: a row was cut");
    }
}
