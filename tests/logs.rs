//! Logs on stderr: off by default, `-v` gives the run's start and end as text, `--log-format json` one JSON object
//! per line; stdout stays the report's.

use assert_cmd::Command;
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL").env_remove("RUST_LOG");
    c
}

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
