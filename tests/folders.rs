//! Report folders and the output of commands as a user meets them: here, a full disk on stdout and a closed pipe.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loadtest"));
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION");
    c
}

/// Runs `cmd`, expects exit `code`, and returns its stderr (never a panic).
fn expect(cmd: &mut Command, code: i32) -> String {
    let o: Output = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "stdout:\n{}\nstderr:\n{err}", String::from_utf8_lossy(&o.stdout));
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A small steady-state run (2000 messages, all complete) with the given `[thresholds]`.
fn scenario(tmp: &TempDir, name: &str, thresholds: &str) -> PathBuf {
    let text = std::fs::read_to_string("scenarios/steady-state.toml").unwrap();
    let body = &text[..text.find("[thresholds]").unwrap()];
    let body = body.replacen("name = \"steady-state\"", &format!("name = {name:?}"), 1).replacen("10_000", "2000", 1);
    let path = tmp.path().join(format!("s{}.toml", thresholds.len()));
    std::fs::write(&path, format!("{body}[thresholds]\n{thresholds}")).unwrap();
    path
}

fn run(scenario: &Path, out: &Path) {
    expect(loadtest().arg("run").arg(scenario).arg("-q").arg("--out").arg(out), 0);
}

#[test]
fn a_full_disk_on_stdout_is_one_line_and_exit_3_and_a_closed_pipe_is_quiet() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    run(&scenario(&tmp, "steady", "\"messages.lost\" = \"== 0\"\n"), &out);
    let s = scenario(&tmp, "steady", "");
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    let o = out.display().to_string();
    let runs = tmp.path().join("full-run").display().to_string();
    let commands: [Vec<&str>; 4] = [
        vec!["run", s.to_str().unwrap(), "-q", "--out", &runs],
        vec!["run", s.to_str().unwrap(), "--out", &runs],
        vec!["validate", "scenarios/steady-state.toml"],
        vec!["report", &o],
    ];
    for args in &commands {
        let err = expect(loadtest().args(args).stdout(full()), 3);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {err}");
        assert!(errors[0].starts_with("error: cannot write to standard output: "), "{args:?}: {err}");
        if args.contains(&"-q") || args[0] != "run" {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
    // A reader that went away is not an error worth a word.
    let mut child = loadtest().arg("report").arg(&out).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    assert!(done.stderr.is_empty(), "{}", String::from_utf8_lossy(&done.stderr));
}
