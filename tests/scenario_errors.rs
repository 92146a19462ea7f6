//! Scenario errors as a user meets them on the command line: exit 2, nothing run, and a message that names the key,
//! its line and the fix (duplicate keys, integers beyond TOML, files that are not UTF-8, keys too long to show,
//! faults of an unknown kind), and `--set KEY=null` removing a key.

use assert_cmd::Command;
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION");
    c
}

/// `loadtest run FILE [--set ...]` on `contents`, expecting exit 2 and no report folder; returns stderr.
fn rejected(contents: &[u8], sets: &[&str]) -> String {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, contents).unwrap();
    let reports = tmp.path().join("reports");
    let mut cmd = loadtest();
    cmd.arg("run").arg(&file).arg("--reports").arg(&reports);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.assert().code(2).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "{err}");
    assert!(!reports.exists(), "nothing may run");
    err
}

#[test]
fn a_duplicate_key_names_its_path_both_lines_and_the_fix() {
    let err = rejected(b"messages = 5\n[consumers]\ncount = 2\nconcurrency = 4\ncount = 3\n", &[]);
    assert!(
        err.contains("line 5: duplicate key `consumers.count`: set on line 3 and again on line 5; remove one of them"),
        "{err}"
    );
}

#[test]
fn an_integer_beyond_toml_names_its_key_and_both_ranges() {
    let err = rejected(b"[consumers]\ncount = 99999999999999999999\n", &[]);
    assert!(
        err.contains(
            "line 2: `consumers.count`: the integer is out of range: TOML integers are \
             -9223372036854775808..=9223372036854775807 (-2^63..2^63-1), and `consumers.count` takes 0..=10000; \
             write a number in that range"
        ),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_utf8_gives_the_line_and_byte_offset() {
    let err = rejected(b"messages = 5\n\n# caf\xc3 au lait\n", &[]);
    assert!(err.contains("it is not UTF-8 text: line 3 has the invalid byte 0xc3 at byte offset 19"), "{err}");
    assert!(err.contains("save the file as UTF-8"), "{err}");
}

#[test]
fn a_huge_unknown_key_is_cut() {
    let key = "q".repeat(50_000);
    let err = rejected(format!("{key} = 1\n").as_bytes(), &[&format!("consumers.{key}=2")]);
    let cut = format!("{}...", "q".repeat(60));
    assert!(err.contains(&format!("line 1: unknown key `{cut}` in the top level")), "{err}");
    assert!(err.contains(&format!("--set consumers.{cut}: unknown key `{cut}` in [consumers]")), "{err}");
    assert!(err.len() < 1_000, "{} bytes of error", err.len());
}

#[test]
fn an_unknown_fault_kind_still_reports_the_faults_other_problems() {
    let err = rejected(b"[[faults]]\nkind = \"outages\"\nat = \"soon\"\nduration = 30\n", &[]);
    assert!(err.contains("has 3 problems"), "{err}");
    assert!(err.contains("line 2: `faults[0].kind = \"outages\"`: expected one of \"outage\""), "{err}");
    assert!(err.contains("line 3: `faults[0].at = \"soon\"`: `soon` is not a duration"), "{err}");
    assert!(
        err.contains("line 4: `faults[0].duration = 30`: expected a duration string like \"30s\", got 30"),
        "{err}"
    );
}

const DOWNSTREAM: &str = "messages = 20\nseed = 3\n[downstream]\ntimeout = \"2s\"\n\
                          [[faults]]\nkind = \"outage\"\nat = \"1s\"\nduration = \"1s\"\n";

#[test]
fn set_null_removes_an_optional_key_and_the_run_records_it_gone() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, DOWNSTREAM).unwrap();
    let out = tmp.path().join("run");
    let mut cmd = loadtest();
    cmd.arg("run").arg(&file).args(["-q", "--set", "downstream.timeout=null", "--out"]).arg(&out);
    cmd.assert().success();
    let resolved = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
    let downstream = resolved.split("[downstream]").nth(1).and_then(|d| d.split("\n[").next()).expect("[downstream]");
    assert!(downstream.contains("\nservers = ") && !downstream.contains("\ntimeout = "), "{downstream}");
    let meta = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(meta.contains("\"downstream.timeout=null\""), "{meta}");
}

#[test]
fn set_null_on_a_required_key_is_the_usual_missing_key_error() {
    let err = rejected(DOWNSTREAM.as_bytes(), &["faults.0.at=null"]);
    assert!(
        err.contains("line 5: faults[0] (kind = \"outage\") is missing the required key `at`; add e.g. at = \"1m\""),
        "{err}"
    );
}

#[test]
fn the_help_of_set_tells_how_to_remove_a_key() {
    let out = loadtest().args(["run", "--help"]).assert().success().get_output().stdout.clone();
    let help = String::from_utf8_lossy(&out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("`--set KEY=null` removes the key"), "{help}");
}
