//! Results that must not mislead (issue 8): the per-second files add up to summary.json, faults the run never
//! reached are named, an empty run says so, idle seconds cost nothing on disk, recovery is not driven by noise.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// What one `loadtest run` left: its folder, summary.json, and what it printed.
struct Ran {
    dir: PathBuf,
    summary: Value,
    stdout: String,
    stderr: String,
}

fn loadtest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loadtest"));
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION");
    c
}

/// Runs the scenario `text` (written to `name.toml`) into `tmp/name` with `extra` arguments, expecting success.
fn run_with(tmp: &TempDir, name: &str, text: &str, extra: &[&str]) -> Ran {
    let file = tmp.path().join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let dir = tmp.path().join(name);
    let out = loadtest().arg("run").arg(&file).arg("--out").arg(&dir).args(extra).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "{name}: {stdout}\n{stderr}");
    let summary = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    Ran { dir, summary, stdout, stderr }
}

fn run(tmp: &TempDir, name: &str, text: &str) -> Ran {
    run_with(tmp, name, text, &[])
}

/// `timeseries.csv` as written: the header and the rows, each a map from column to text.
fn csv(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(String::from)).collect()).collect()
}

/// A counter column summed over the CSV's rows.
fn column_sum(dir: &Path, column: &str) -> u64 {
    csv(dir).iter().map(|r| r[column].parse::<u64>().unwrap()).sum()
}

/// Completions in `latency.hlog`, over all its intervals.
fn hlog_count(dir: &Path) -> u64 {
    let mut n = 0;
    loadtest::record::hlog::for_each_interval(&dir.join("latency.hlog"), |_, h| n += h.len()).unwrap();
    n
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// 100 messages published at once, 10 handled at a time for `service` each: the run ends at 10 x `service`.
fn batches(service: &str) -> String {
    format!(
        "name = \"batches\"\nseed = 1\nmessages = 100\n[producers]\nrate = {{ shape = \"burst\", size = 100, every = \
         \"1h\" }}\n[consumers]\ncount = 1\nconcurrency = 10\nprefetch = 10\nservice_time = \"{service}\"\n"
    )
}

#[test]
fn the_per_second_files_add_up_to_the_summary_whether_the_run_ends_on_a_whole_second_or_not() {
    let tmp = TempDir::new().unwrap();
    // Ends at exactly 10.000 s with 10 completions at that instant; and at 12.5 s. Seconds 0..=10 and 0..=12 are
    // read back; the second file leaves out the idle seconds 4 and 9 (nothing starts or completes in them).
    for (service, duration, written, seconds) in [("1s", 10.0, 11, 11), ("1250ms", 12.5, 11, 13)] {
        let r = run(&tmp, &format!("batches-{service}"), &batches(service));
        let s = &r.summary;
        assert_eq!(s["duration_s"], duration, "{service}");
        assert_eq!(u(&s["messages"]["completed"]), 100, "{service}");
        assert_eq!(csv(&r.dir).len(), written, "{service}");
        let back = loadtest::record::series::read_csv(&r.dir.join("timeseries.csv")).unwrap();
        assert_eq!(back.len(), seconds, "{service}");
        for (column, total) in [
            ("published", &s["messages"]["published"]),
            ("completed", &s["messages"]["completed"]),
            ("dead_lettered", &s["messages"]["dead_lettered"]["total"]),
            ("attempts_first", &s["attempts"]["first"]),
            ("succeeded", &s["attempts"]["total"]),
        ] {
            assert_eq!(column_sum(&r.dir, column), u(total), "{service}: {column}");
        }
        assert_eq!(hlog_count(&r.dir), 100, "{service}: latency.hlog");
        assert_eq!(u(&s["latency_ms"]["count"]), 100, "{service}");
    }
}

/// 10 messages/s for 10 s through a downstream; `faults` appended as written.
fn with_faults(faults: &str) -> String {
    format!(
        "name = \"faults\"\nseed = 1\nmessages = 100\nduration = \"10s\"\n[producers]\nrate = {{ shape = \"constant\", \
         per_second = 10 }}\n[consumers]\ncount = 1\nservice_time = \"10ms\"\n[downstream]\nservers = 2\nservice_time = \
         \"20ms\"\n[retry]\npolicy = {{ kind = \"intervals\", intervals = [\"1s\", \"1s\"] }}\n{faults}"
    )
}

const OUTAGE_2S: &str = "[[faults]]\nkind = \"outage\"\nat = \"2s\"\nduration = \"1s\"\n";
const OUTAGE_1000H: &str = "[[faults]]\nkind = \"outage\"\nat = \"1000h\"\nduration = \"5m\"\n";

#[test]
fn a_fault_the_run_never_reached_is_named_and_left_out_of_the_recovery() {
    let tmp = TempDir::new().unwrap();
    let r = run(&tmp, "late", &with_faults(&format!("{OUTAGE_2S}{OUTAGE_1000H}")));
    let s = &r.summary;
    // Recovery from the outage that happened (2-3 s), not "never after 3600300 s".
    assert_eq!((s["faults_end_s"].as_f64(), s["recovery_s"].as_f64()), (Some(3.0), Some(0.0)));
    assert_eq!(s["faults_not_reached"], serde_json::json!([{ "index": 1, "kind": "outage", "at_s": 3600000.0 }]));
    assert_eq!(s["duration_s"], 9.93);
    let warning = "faults[1] (outage at 3600000 s) never happened: the run ended at 9.93 s, before it was due";
    assert!(r.stdout.contains(&format!("  WARNING      {warning}")), "{}", r.stdout);
    assert!(r.stdout.contains("  recovery     0.0 s after the last fault ended at 3.0 s"), "{}", r.stdout);
    let html = std::fs::read_to_string(r.dir.join("index.html")).unwrap();
    assert!(html.contains(&format!("<li><b>Warning:</b> {warning}")), "index.html names it");
    let quiet = run_with(&tmp, "late-quiet", &with_faults(&format!("{OUTAGE_2S}{OUTAGE_1000H}")), &["-q"]);
    assert!(quiet.stderr.contains(&format!("warning: {warning}")), "{}", quiet.stderr);
    // Every fault reached: no such key, so summaries of such runs are as they were.
    let r = run(&tmp, "on-time", &with_faults(OUTAGE_2S));
    assert!(r.summary.get("faults_not_reached").is_none(), "{}", r.summary);
    assert!(!r.stdout.contains("WARNING"), "{}", r.stdout);

    // Only the late fault: nothing to recover from, and the gate says so (null still fails `<`, exit 1).
    let r = run(&tmp, "only-late", &with_faults(&format!("{OUTAGE_1000H}[thresholds]\n\"recovery_s\" = \"< 600\"\n")));
    assert_eq!((&r.summary["faults_end_s"], &r.summary["recovery_s"]), (&Value::Null, &Value::Null));
    assert!(!r.stdout.contains("  recovery "), "no recovery line without a fault that happened: {}", r.stdout);
    let gate = loadtest().arg("gate").arg(&r.dir).output().unwrap();
    let out = String::from_utf8_lossy(&gate.stdout);
    assert_eq!(gate.status.code(), Some(1), "{out}");
    assert!(
        out.contains("null: no fault that ends happened (faults[0] at 3600000 s due after the run ended at 9.93 s)"),
        "{out}"
    );

    // `validate` warns about a fault at or after the duration stop, and still accepts the file.
    let file = tmp.path().join("late.toml");
    let v = loadtest().arg("validate").arg(&file).output().unwrap();
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success(), "{out}");
    assert!(
        out.contains(
            "  warning: faults[1] (outage) starts at 1000h, at or after the `duration` stop at 10s: the run ends first"
        ),
        "{out}"
    );
}

#[test]
fn a_fault_cut_short_by_the_run_s_end_happened_but_has_no_recovery() {
    let tmp = TempDir::new().unwrap();
    let r = run(&tmp, "cut", &with_faults("[[faults]]\nkind = \"outage\"\nat = \"8s\"\nduration = \"5m\"\n"));
    let s = &r.summary;
    assert_eq!((s["faults_end_s"].as_f64(), &s["recovery_s"]), (Some(308.0), &Value::Null));
    assert!(s.get("faults_not_reached").is_none());
    assert!(
        r.stdout.contains("  recovery     - (the last fault, due to end at 308.0 s, was still on when the run ended)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_run_that_publishes_or_completes_nothing_says_so_and_shows_no_latency() {
    let tmp = TempDir::new().unwrap();
    let empty = "name = \"empty\"\nseed = 1\nmessages = 1000\nduration = \"10s\"\n[producers]\nrate = { shape = \
                 \"poisson\", per_second = 1e-9 }\n[thresholds]\n\"latency_ms.p99\" = \"< 100\"\n";
    let r = run(&tmp, "empty", empty);
    let s = &r.summary;
    assert_eq!((u(&s["messages"]["produced"]), u(&s["messages"]["published"])), (0, 0));
    let note = "nothing was published (0 of 1000 messages): none was due before the run ended at 10 s; no latency \
                was measured";
    assert_eq!(s["notes"], serde_json::json!([note]));
    // summary.json keeps its numbers (no nulls where there were none): the count says nothing was measured.
    let zeros =
        serde_json::json!({ "count": 0, "mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0 });
    assert_eq!(s["latency_ms"], zeros);
    assert!(r.stdout.contains(&format!("  WARNING      {note}")), "{}", r.stdout);
    assert!(r.stdout.contains("  latency      p50 -  p90 -  p99 -  max -  (no message completed"), "{}", r.stdout);
    let html = std::fs::read_to_string(r.dir.join("index.html")).unwrap();
    assert!(html.contains("<div class=\"v \">-</div><div class=\"k\">p99 latency"), "key figure is -");
    // The readers still read the folder; a latency threshold fails, saying why.
    let gate = loadtest().arg("gate").arg(&r.dir).output().unwrap();
    let out = String::from_utf8_lossy(&gate.stdout);
    assert_eq!(gate.status.code(), Some(1), "{out}");
    assert!(
        out.contains("latency_ms.p99  null < 100            FAIL  null: no message completed, so there is no latency")
    );
    let cmp = loadtest().arg("compare").arg(&r.dir).arg(&r.dir).arg("--out").arg(tmp.path().join("cmp")).output();
    assert!(cmp.unwrap().status.success());
    assert!(loadtest().arg("report").arg(&r.dir).output().unwrap().status.success());

    // Published, and every message dead-lettered (validation errors are not retried): nothing completed.
    let none = "name = \"none\"\nseed = 1\nmessages = 5\n[downstream]\nerrors = { validation = 1.0 }\n";
    let r = run(&tmp, "none-completed", none);
    let s = &r.summary;
    assert_eq!((u(&s["messages"]["published"]), u(&s["messages"]["dead_lettered"]["total"])), (5, 5));
    let note = "no message completed (0 of 5 published); no latency was measured";
    assert_eq!(s["notes"], serde_json::json!([note]));
    assert!(r.stdout.contains(&format!("  WARNING      {note}")), "{}", r.stdout);
    assert!(r.stdout.contains("  latency      p50 -  p90 -"), "{}", r.stdout);
    // A run that completes something has no notes key.
    let r = run(&tmp, "some", "name = \"some\"\nseed = 1\nmessages = 5\n");
    assert!(r.summary.get("notes").is_none(), "{}", r.summary);
}

#[test]
fn idle_seconds_cost_next_to_nothing_on_disk() {
    let tmp = TempDir::new().unwrap();
    // A million hours at 1e-9 messages/s: 6 messages in 3.6e9 s of scenario time.
    let huge = "name = \"idle\"\nseed = 1\nmessages = 1000\nduration = \"1000000h\"\n[producers]\nrate = { shape = \
                \"poisson\", per_second = 1e-9 }\n";
    let r = run(&tmp, "idle", huge);
    assert_eq!((u(&r.summary["messages"]["completed"]), r.summary["duration_s"].as_f64()), (6, Some(3.6e9)));
    // The first second, each second with a completion, and the last: 8 rows, the file under 1 kB.
    let rows = csv(&r.dir);
    let times: Vec<&str> = rows.iter().map(|r| r["time_s"].as_str()).collect();
    assert_eq!(
        times,
        ["0", "225198268", "1543535839", "1719178099", "1894496108", "2232056433", "3490791747", "3599999999"]
    );
    assert_eq!(column_sum(&r.dir, "completed"), 6);
    assert_eq!(hlog_count(&r.dir), 6);
    assert!(std::fs::metadata(r.dir.join("timeseries.csv")).unwrap().len() < 1000);
    // Read back, a run this long keeps each gap as its first and last second.
    let back = loadtest::record::series::read_csv(&r.dir.join("timeseries.csv")).unwrap();
    assert_eq!(back.len(), 8 + 2 * 7);
    assert_eq!(loadtest::record::series::seconds(&back), 3_600_000_000);
    // The readers: charts and the page render, report re-renders, compare and gate read it.
    assert!(r.dir.join("charts/backlog.svg").is_file() && r.dir.join("index.html").is_file());
    assert!(loadtest().arg("report").arg(&r.dir).output().unwrap().status.success());
    let cmp = loadtest().arg("compare").arg(&r.dir).arg(&r.dir).arg("--out").arg(tmp.path().join("cmp")).output();
    assert!(cmp.unwrap().status.success());
}

#[test]
fn windowed_gate_figures_are_the_same_from_a_file_with_idle_seconds_left_out() {
    // Batches of 10 every 10 s, each done 1 s later: seconds 2-9, 12-19, 22-29 are idle and left out. The run ends
    // at 31.000 s: 32 seconds, 28 windows of 5 s, of which the 2 + 5 + 5 + 1 around the completions at 1, 11, 21
    // and 31 s hold 10; 30 windows of 3 s, of which all but the 1 + 3 + 3 + 2 around the publishes at 0, 10, 20
    // and 30 s hold none.
    let tmp = TempDir::new().unwrap();
    let text = "name = \"gaps\"\nseed = 1\nmessages = 40\n[producers]\nrate = { shape = \"burst\", size = 10, every = \
                \"10s\" }\n[consumers]\ncount = 1\nconcurrency = 10\nprefetch = 10\nservice_time = \"1s\"\n[thresholds]\n\
                \"messages.completed[5s]\" = \"< 10\"\n\"messages.published[3s]\" = \"> 0\"\n";
    let r = run(&tmp, "gaps", text);
    let times: Vec<String> = csv(&r.dir).iter().map(|r| r["time_s"].clone()).collect();
    assert_eq!(times, ["0", "1", "10", "11", "20", "21", "30", "31"]);
    let gate = loadtest().arg("gate").arg(&r.dir).output().unwrap();
    let out = String::from_utf8_lossy(&gate.stdout);
    assert_eq!(gate.status.code(), Some(1), "{out}");
    assert!(out.contains("breached in 13 of 28 windows, first from 0 s"), "{out}");
    assert!(out.contains("worst 3 s window 1 s to 4 s; breached in 21 of 30 windows, first from 1 s"), "{out}");
}

#[test]
fn recovery_is_not_driven_by_noise_near_saturation() {
    let tmp = TempDir::new().unwrap();
    // The retry storm at 97 messages/s against 100/s of capacity, 50,000 messages, and an outage of 1 ms: 10 calls
    // fail, nothing is dead-lettered. The backlog wanders above its pre-fault maximum (44) for the rest of the run
    // by itself, so "back to the pre-fault level for good" said 472 s; the band (up to 44 + 22) says at once.
    let storm = std::fs::read_to_string("scenarios/retry-storm.toml").unwrap();
    let text = storm
        .replace("per_second = 33.3", "per_second = 97")
        .replace("messages = 10_000", "messages = 50_000")
        .replace("duration = \"5m\"", "duration = \"1ms\"");
    let r = run(&tmp, "one-ms", &text);
    let s = &r.summary;
    assert_eq!((u(&s["attempts"]["downstream_calls_failed"]), u(&s["messages"]["dead_lettered"]["total"])), (10, 0));
    assert_eq!((u(&s["queue"]["pre_fault_backlog"]), u(&s["queue"]["peak_unacked"])), (44, 106));
    assert_eq!((s["faults_end_s"].as_f64(), s["recovery_s"].as_f64()), (Some(30.001), Some(0.0)));
    // The shipped storms still take a long time: their backlog (delayed redeliveries included) is back in the band
    // only as the last messages finish.
    for (name, recovery, duration) in [("retry-storm", 4269.0, 4599.779), ("retry-storm-jitter", 2160.0, 2492.37)] {
        let r = run(&tmp, name, &std::fs::read_to_string(format!("scenarios/{name}.toml")).unwrap());
        assert_eq!(
            (r.summary["recovery_s"].as_f64(), r.summary["duration_s"].as_f64()),
            (Some(recovery), Some(duration))
        );
    }
}
