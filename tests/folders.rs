//! Report folders as a user meets them: two runs into one `--out`, re-runs that replace a report whole, folders
//! that are not reports, stale gate outputs, summaries of another schema version, damaged report files,
//! unwritable outputs, a full disk on stdout, and gate.md / gate.xml with hostile scenario names.

use std::io::{BufRead, BufReader};
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

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_second_run_into_the_same_folder_is_refused_while_the_first_writes_it() {
    let tmp = TempDir::new().unwrap();
    let paced = tmp.path().join("paced.toml");
    std::fs::write(
        &paced,
        "messages = 100000\n[broker]\nclock = \"real\"\ntime_scale = 1.0\n\
         [producers]\nrate = { shape = \"constant\", per_second = 50 }\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut first = loadtest()
        .args(["run", "--seed", "3"])
        .arg(&paced)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(first.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("running") {
        line.clear();
    }
    assert!(line.contains("running"), "the first run did not start");
    // The first run holds the folder from before its start-up line until its report is in place.
    let err = expect(loadtest().arg("run").arg(scenario(&tmp, "second", "")).arg("-q").arg("--out").arg(&out), 2);
    assert!(err.contains("another run") && err.contains("is writing to") && err.contains("out"), "{err}");
    assert!(!out.exists(), "the first run's report is not in place before it is complete");
    // SAFETY: kill(2) on the child's pid, which is still ours (not yet waited for).
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(130), "{rest}");
    // The interrupted run's report is in place, whole, and nothing else is left beside it.
    assert_eq!(summary(&out)["stopped_by"]["cause"], "SIGINT");
    for f in ["timeseries.csv", "latency.hlog", "latency.hgrm", "index.html", "scenario.toml"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let beside: Vec<String> = files(tmp.path()).into_iter().filter(|f| f.starts_with(".out")).collect();
    assert!(beside.is_empty(), "left beside the report: {beside:?}");
    // Now the folder is free: a run replaces the interrupted report.
    run(&scenario(&tmp, "second", ""), &out);
    assert_eq!(summary(&out)["scenario"]["name"], "second");
    assert!(summary(&out).get("stopped_by").is_none());
}

#[test]
fn a_rerun_replaces_a_report_whole_and_a_folder_that_is_not_a_report_is_refused() {
    let tmp = TempDir::new().unwrap();
    let s = scenario(&tmp, "steady", "\"latency_ms.p99\" = \"< 1\"\n");
    let out = tmp.path().join("out");
    // An earlier run with a failing gate, and a file that is no longer written.
    expect(loadtest().arg("run").arg(&s).arg("-q").arg("--gate").arg("--out").arg(&out), 1);
    assert!(out.join("gate.md").is_file() && out.join("gate.xml").is_file());
    std::fs::write(out.join("old-extra.txt"), "from an older version").unwrap();
    run(&s, &out);
    let now = files(&out);
    for stale in ["gate.md", "gate.xml", "old-extra.txt"] {
        assert!(!now.contains(&stale.to_string()), "{stale} survived the re-run: {now:?}");
    }
    assert!(now.contains(&"summary.json".to_string()));
    // An empty folder is taken; so is a symbolic link to a report (the report goes where it points).
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    run(&s, &empty);
    assert!(empty.join("summary.json").is_file());
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&empty, &link).unwrap();
    run(&s, &link);
    assert!(link.is_symlink() && empty.join("summary.json").is_file());
    // A folder of someone's own files is never replaced.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let err = expect(loadtest().arg("run").arg(&s).arg("-q").arg("--out").arg(&mine), 2);
    assert!(err.contains("not a report folder") && err.contains("mine"), "{err}");
    assert_eq!(files(&mine), ["notes.txt"]);
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep me");
    // Nor is a file, nor a repeat's folder of someone's files.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = expect(loadtest().arg("run").arg(&s).arg("-q").arg("--out").arg(&file), 2);
    assert!(err.contains("not a folder"), "{err}");
    let err = expect(loadtest().arg("run").arg(&s).args(["-q", "--repeat", "2", "--out"]).arg(&mine), 2);
    assert!(err.contains("not a report folder"), "{err}");
    assert_eq!(files(&mine), ["notes.txt"]);
    let left: Vec<String> = files(tmp.path()).into_iter().filter(|f| f.starts_with('.')).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_repeat_goes_through_the_stage_too() {
    let tmp = TempDir::new().unwrap();
    let s = scenario(&tmp, "steady", "\"messages.lost\" = \"== 0\"\n");
    let out = tmp.path().join("rep");
    run(&s, &out);
    std::fs::write(out.join("gate.md"), "### ❌ loadtest gate failed: 1 of 1 check failed\n").unwrap();
    let o = loadtest().arg("run").arg(&s).args(["-q", "--repeat", "3", "--out"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // Quiet prints the one folder, where it ends up.
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), out.display().to_string());
    assert_eq!(files(&out), ["run-1", "run-2", "run-3", "scenario.toml", "summary.json"]);
    assert_eq!(summary(&out)["repeats"]["count"], 3);
    assert_eq!(files(tmp.path()).iter().filter(|f| f.starts_with('.')).count(), 0);
    // A run that a limit stops ends the repeat, and its report is kept with the medians of the runs so far.
    let looping = tmp.path().join("loop.toml");
    std::fs::write(
        &looping,
        "messages = 1\n[producers]\npoison_fraction = 1.0\n[consumers]\nservice_time = \"0s\"\n\
         on_failure = \"requeue\"\n[limits]\nmax_events = 50000\n",
    )
    .unwrap();
    let err = expect(loadtest().arg("run").arg(&looping).args(["-q", "--repeat", "3", "--out"]).arg(&out), 3);
    assert!(err.contains("limits.max_events") && err.contains("stopped after 1 of 3 runs"), "{err}");
    assert_eq!(files(&out), ["run-1", "scenario.toml", "summary.json"]);
    let s = summary(&out);
    assert_eq!((&s["repeats"]["count"], &s["stopped_by"]["cause"]), (&1.into(), &"limits.max_events".into()));
    assert_eq!(summary(&out.join("run-1"))["stopped_by"]["cause"], "limits.max_events");
}

#[test]
fn gate_removes_its_own_stale_outputs_when_it_writes_none() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    run(&scenario(&tmp, "steady", "\"latency_ms.p99\" = \"< 1\"\n"), &out);
    expect(loadtest().arg("gate").arg(&out), 1);
    assert!(out.join("gate.md").is_file() && out.join("gate.xml").is_file());
    // This gate stops at bad input: the failing verdict of the earlier one must not be read as its own.
    let err = expect(loadtest().arg("gate").arg(&out).args(["--baseline", "no-such-baseline"]), 2);
    assert!(err.contains("no-such-baseline"), "{err}");
    assert!(!out.join("gate.md").exists() && !out.join("gate.xml").exists(), "{:?}", files(&out));
    // A gate.md that loadtest did not write is someone's file: left alone.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("gate.md"), "# my notes on the gate\n").unwrap();
    expect(loadtest().arg("gate").arg(&out).args(["--baseline", "no-such-baseline", "--out"]).arg(&other), 2);
    assert_eq!(std::fs::read_to_string(other.join("gate.md")).unwrap(), "# my notes on the gate\n");
}

#[test]
fn a_summary_of_another_schema_version_is_refused_by_every_reader() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    run(&scenario(&tmp, "steady", "\"messages.lost\" = \"== 0\"\n"), &out);
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path).unwrap().replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
    std::fs::write(&path, text).unwrap();
    let good = tmp.path().join("good");
    run(&scenario(&tmp, "steady", "\"messages.lost\" = \"== 0\"\n"), &good);
    let before = snapshot(&out);
    let (o, g) = (out.display().to_string(), good.display().to_string());
    let root = tmp.path().join("baselines").display().to_string();
    let commands: [&[&str]; 5] = [
        &["report", &o],
        &["gate", &o],
        &["gate", &g, "--baseline", &o],
        &["compare", &g, &o],
        &["baseline", "save", &o, "x", "--root", &root],
    ];
    for args in commands {
        let err = expect(loadtest().args(args), 2);
        let named = err.contains(&path.display().to_string());
        assert!(named && err.contains("schema_version 2") && err.contains("schema_version 1"), "{args:?}: {err}");
    }
    assert_eq!(snapshot(&out), before, "nothing was written");
}

#[test]
fn damaged_report_files_are_exit_2_naming_the_file_and_leave_the_outputs_alone() {
    let tmp = TempDir::new().unwrap();
    let good = tmp.path().join("good");
    let windowed = "\"latency_ms.p99[10s]\" = \"< 100000\"\n\"messages.dead_lettered[10s]\" = \"< 1\"\n";
    run(&scenario(&tmp, "steady", windowed), &good);
    let hlog = std::fs::read_to_string(good.join("latency.hlog")).unwrap();
    let intervals = |l: &&str| l.starts_with(|c: char| c.is_ascii_digit());
    let header_only_hlog: String = hlog.lines().filter(|l| !intervals(l)).map(|l| format!("{l}\n")).collect();
    assert!(hlog.lines().filter(intervals).count() > 0 && header_only_hlog.contains("StartTimestamp"));
    let csv = std::fs::read_to_string(good.join("timeseries.csv")).unwrap();
    let header = format!("{}\n", csv.lines().next().unwrap());
    let cases: [(&str, &str, &str, &str); 5] = [
        ("report", "timeseries.csv", "", "empty"),
        ("report", "timeseries.csv", &header, "no rows, but summary.json says 2000 messages completed"),
        ("report", "latency.hgrm", "", "empty"),
        ("gate", "latency.hlog", "", "empty"),
        ("gate", "latency.hlog", &header_only_hlog, "no latency intervals, but summary.json says 2000"),
    ];
    for (i, (command, file, text, problem)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        copy_dir(&good, &dir);
        if command == "gate" {
            expect(loadtest().arg("gate").arg(&dir), 0); // an earlier, good gate.md
        }
        std::fs::write(dir.join(file), text).unwrap();
        let before = snapshot(&dir);
        let err = expect(loadtest().arg(command).arg(&dir), 2);
        assert!(err.contains(&dir.join(file).display().to_string()), "{file}: {err}");
        assert!(err.contains("damaged") && err.contains(problem), "{file}: {err}");
        if command == "report" {
            assert_eq!(snapshot(&dir), before, "{file}: the charts were left as they were");
        }
    }
}

#[test]
fn report_and_gate_on_an_unwritable_folder_exit_2_before_writing() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    run(&scenario(&tmp, "steady", "\"messages.lost\" = \"== 0\"\n"), &out);
    // Tests run as root, so permissions stop nothing: a path through a file does.
    std::fs::rename(out.join("charts"), tmp.path().join("charts-away")).unwrap();
    std::fs::write(out.join("charts"), "a file where the charts go").unwrap();
    let before = snapshot(&out);
    let err = expect(loadtest().arg("report").arg(&out), 2);
    assert!(err.contains("charts") && err.contains("not a folder") && err.contains("nothing was written"), "{err}");
    assert_eq!(snapshot(&out), before);
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = expect(loadtest().arg("gate").arg(&out).arg("--out").arg(file.join("gate")), 2);
    assert!(err.contains("cannot write gate.md and gate.xml"), "{err}");
    let err = expect(loadtest().arg("gate").arg(&out).args(["--out", "/proc/loadtest-gate"]), 2);
    assert!(err.contains("/proc/loadtest-gate"), "{err}");
    std::fs::create_dir(out.join("gate.md")).unwrap();
    let err = expect(loadtest().arg("gate").arg(&out), 2);
    assert!(err.contains("gate.md: it is a folder"), "{err}");
    assert!(!out.join("gate.xml").exists(), "nothing was written");
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

#[test]
fn gate_md_and_gate_xml_escape_hostile_scenario_names_and_paths() {
    let tmp = TempDir::new().unwrap();
    let evil = "<img src=x onerror=alert(1)>";
    let s = scenario(&tmp, evil, "\"latency_ms.p99\" = \"< 1\"\n");
    let out = tmp.path().join(evil);
    run(&s, &out);
    let base = tmp.path().join("base");
    expect(loadtest().arg("run").arg(&s).args(["-q", "--set", "consumers.count=5", "--out"]).arg(&base), 0);
    let err = expect(loadtest().arg("gate").arg(&out).arg("--baseline").arg(&base), 1);
    assert!(err.contains("gate failed"), "{err}");
    let md = std::fs::read_to_string(out.join("gate.md")).unwrap();
    assert!(md.contains("different configuration"), "the note names both scenarios: {md}");
    assert!(!md.contains("<img") && md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
    let xml = std::fs::read_to_string(out.join("gate.xml")).unwrap();
    assert!(!xml.contains("<img"), "{xml}");
    // Well-formed, and the names read back as they were.
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut values = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                for a in e.attributes() {
                    let a = a.unwrap();
                    values.push(a.normalized_value(quick_xml::XmlVersion::Explicit1_0).unwrap().into_owned());
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert!(values.iter().any(|v| v.contains(&format!("{evil} "))), "{values:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
