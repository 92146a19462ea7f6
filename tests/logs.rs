//! Machine-readable output: logs on stderr (off by default, `-v` text, `--log-format json` one JSON object per line),
//! `--json` (summary.json on stdout), `--summary-export PATH` and `--output ndjson` (one object per second).

use tempfile::TempDir;

mod common;
use common::loadtest;

fn stderr_of(args: &[&str], out: &std::path::Path) -> String {
    let o = loadtest().args(args).arg("--out").arg(out).assert().success().get_output().clone();
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), out.display().to_string(), "-q: stdout is the path");
    String::from_utf8(o.stderr).unwrap()
}

#[test]
fn verbose_logs_the_run_as_text_or_json_lines_and_nothing_by_default() {
    let tmp = TempDir::new().unwrap();
    let quiet = stderr_of(&["run", "scenarios/steady-state.toml", "-q"], &tmp.path().join("a"));
    assert_eq!(quiet, "", "no log without -v");
    let text = stderr_of(&["-v", "run", "scenarios/steady-state.toml", "-q"], &tmp.path().join("b"));
    assert!(text.contains("INFO") && text.contains("run starting"), "{text}");
    assert!(
        text.contains("run finished") && text.contains("published=10000") && text.contains("completed=10000"),
        "{text}"
    );
    let json =
        stderr_of(&["run", "scenarios/steady-state.toml", "-q", "-v", "--log-format", "json"], &tmp.path().join("c"));
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[0]["message"], "run starting");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["seed"], 7);
    assert_eq!(lines[1]["message"], "run finished");
    assert_eq!(lines[1]["completed"], 10000);
}

#[test]
fn json_prints_summary_json_itself_and_summary_export_writes_it_even_for_a_run_stopped_early() {
    let tmp = TempDir::new().unwrap();
    let (out, export) = (tmp.path().join("run"), tmp.path().join("export.json"));
    let o = loadtest()
        .args(["run", "scenarios/steady-state.toml", "--json", "--summary-export"])
        .arg(&export)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .clone();
    let file = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), file, "--json prints summary.json byte for byte");
    assert_eq!(std::fs::read_to_string(&export).unwrap(), file);
    let parsed: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(parsed["messages"]["completed"], 10000);
    // A run a [limits] bound stops (exit 3) still exports its summary; --json with --quiet is refused.
    let stopped = tmp.path().join("stopped.json");
    loadtest()
        .args(["run", "scenarios/steady-state.toml", "-q", "--set", "limits.max_events=5000", "--summary-export"])
        .arg(&stopped)
        .arg("--out")
        .arg(tmp.path().join("limited"))
        .assert()
        .code(3);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stopped).unwrap()).unwrap();
    assert_eq!(s["stopped_by"]["cause"], "limits.max_events");
    loadtest().args(["run", "scenarios/steady-state.toml", "--json", "-q"]).assert().code(2);
    // --repeat: the medians' summary.json.
    let rep = tmp.path().join("rep");
    let o = loadtest()
        .args(["run", "scenarios/steady-state.toml", "--repeat", "2", "--json", "--out"])
        .arg(&rep)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), std::fs::read_to_string(rep.join("summary.json")).unwrap());
}

#[test]
fn output_ndjson_streams_one_object_per_scenario_second_idle_ones_included() {
    let tmp = TempDir::new().unwrap();
    let o = loadtest()
        .args(["run", "scenarios/steady-state.toml", "--output", "ndjson", "--out"])
        .arg(tmp.path().join("a"))
        .assert()
        .success()
        .get_output()
        .clone();
    let rows: Vec<serde_json::Value> =
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("a/summary.json")).unwrap()).unwrap();
    let seconds = s["duration_s"].as_f64().unwrap().ceil() as usize;
    assert_eq!(rows.len(), seconds, "one line per scenario second, nothing else on stdout");
    assert!(rows.iter().enumerate().all(|(i, r)| r["time_s"] == i as u64));
    assert_eq!(rows.iter().map(|r| r["completed"].as_u64().unwrap()).sum::<u64>(), 10_000);
    // The retry storm to a file: the CSV leaves idle seconds out (1,287 rows), the stream has all 4,600.
    let path = tmp.path().join("storm.ndjson");
    loadtest()
        .args(["run", "scenarios/retry-storm.toml", "-q", "--output"])
        .arg(format!("ndjson={}", path.display()))
        .arg("--out")
        .arg(tmp.path().join("storm"))
        .assert()
        .success();
    let lines = std::fs::read_to_string(&path).unwrap();
    assert_eq!(lines.lines().count(), 4600);
    let csv = std::fs::read_to_string(tmp.path().join("storm/timeseries.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 1287);
    loadtest().args(["run", "scenarios/steady-state.toml", "--output", "csv"]).assert().code(2);
}
