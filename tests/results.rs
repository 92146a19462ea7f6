//! Results that must not mislead (issue 8): the per-second files add up to summary.json, faults the run never
//! reached are named, an empty run says so, idle seconds cost nothing on disk, recovery is not driven by noise.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// What one `loadtest run` left: its folder and summary.json.
struct Ran {
    dir: PathBuf,
    summary: Value,
}

fn loadtest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loadtest"));
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION");
    c
}

/// Runs the scenario `text` (written to `name.toml`) into `tmp/name`, expecting success.
fn run(tmp: &TempDir, name: &str, text: &str) -> Ran {
    let file = tmp.path().join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let dir = tmp.path().join(name);
    let out = loadtest().arg("run").arg(&file).arg("--out").arg(&dir).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "{name}: {stdout}\n{stderr}");
    let summary = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    Ran { dir, summary }
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
    // Ends at exactly 10.000 s with 10 completions at that instant; and at 12.5 s.
    for (service, duration, rows) in [("1s", 10.0, 11), ("1250ms", 12.5, 13)] {
        let r = run(&tmp, &format!("batches-{service}"), &batches(service));
        let s = &r.summary;
        assert_eq!(s["duration_s"], duration, "{service}");
        assert_eq!(u(&s["messages"]["completed"]), 100, "{service}");
        assert_eq!(csv(&r.dir).len(), rows, "{service}: rows 0..={}", rows - 1);
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
