//! Passwords and tokens stay out of everything loadtest writes or prints: each form a broker value can carry a
//! secret in (a URL's userinfo with or without a scheme, a user-only token, a Service Bus key or signature) is run
//! on the embedded broker, compared and stored as a baseline, and every file and every line of output is searched.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const SECRET: &str = "s3cr3t";

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL");
    c
}

/// Runs `cmd`, expecting exit `code`; returns stdout and stderr, which must not hold the secret.
fn output(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains(SECRET), "the output shows the secret:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

/// Every file below `dir`, which must not hold the secret; returns how many there were.
fn assert_clean(dir: &Path) -> usize {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files += assert_clean(&path);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        assert!(!found, "{} holds the secret", path.display());
        files += 1;
    }
    files
}

/// `(url, how the resolved scenario records it, given by --set rather than in the file)`.
const FORMS: [(&str, &str, bool); 5] = [
    ("user:s3cr3t@host:5672", "user:****@host:5672", false),
    ("amqp://s3cr3t@host/", "amqp://****@host/", false),
    ("amqp://u:s3cr3t@h/", "amqp://u:****@h/", true),
    (
        "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t",
        "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=****",
        true,
    ),
    (
        "Endpoint=sb://n/;SharedAccessSignature=SharedAccessSignature sr=n&sig=s3cr3t&se=1",
        "Endpoint=sb://n/;SharedAccessSignature=****",
        false,
    ),
];

fn run_each_form(tmp: &TempDir) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for (i, (url, masked, by_set)) in FORMS.iter().enumerate() {
        let file = tmp.path().join(format!("form{i}.toml"));
        let broker = if *by_set { String::new() } else { format!("[broker]\nurl = \"{url}\"\n") };
        std::fs::write(&file, format!("messages = 20\nseed = 1\n{broker}")).unwrap();
        let out = tmp.path().join(format!("run{i}"));
        let mut cmd = loadtest();
        cmd.arg("run").arg(&file).arg("--out").arg(&out);
        if *by_set {
            cmd.arg("--set").arg(format!("broker.url={url}"));
        }
        output(&mut cmd, 0);
        let toml = std::fs::read_to_string(out.join("scenario.toml")).unwrap();
        assert!(toml.contains(&format!("url = \"{masked}\"")), "form {i}: {toml}");
        assert!(assert_clean(&out) >= 6, "form {i}: the report folder is all there");
        dirs.push(out);
    }
    dirs
}

#[test]
fn every_secret_form_is_masked_in_runs_comparisons_and_baselines() {
    let tmp = TempDir::new().unwrap();
    let dirs = run_each_form(&tmp);
    let cmp = tmp.path().join("cmp");
    let printed = output(loadtest().arg("compare").args(&dirs).arg("--out").arg(&cmp), 0);
    assert!(printed.contains("broker.url: \"user:****@host:5672\" vs \"amqp://****@host/\""), "{printed}");
    assert!(assert_clean(&cmp) >= 4);
    let md = std::fs::read_to_string(cmp.join("comparison.md")).unwrap();
    assert!(md.contains("SharedAccessSignature=****"), "the comparison names the masked difference: {md}");
    let root = tmp.path().join("baselines");
    for (i, dir) in dirs.iter().enumerate() {
        output(loadtest().args(["baseline", "save"]).arg(dir).arg(format!("b{i}")).arg("--root").arg(&root), 0);
    }
    assert!(assert_clean(&root) >= 3 * FORMS.len());
}

#[test]
fn a_report_folder_written_before_masking_is_masked_when_rendered_compared_and_stored() {
    let tmp = TempDir::new().unwrap();
    let old = tmp.path().join("old");
    output(loadtest().args(["run", "scenarios/steady-state.toml", "-q", "--set", "messages=20", "--out"]).arg(&old), 0);
    // As an older loadtest (or a hand edit) may have left it.
    let scenario = old.join("scenario.toml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    let text = text.replacen("[broker]\n", "[broker]\nurl = \"amqp://s3cr3t@host/\"\n", 1);
    assert!(text.contains(SECRET));
    std::fs::write(&scenario, text).unwrap();
    output(loadtest().arg("report").arg(&old), 0);
    let cmp = tmp.path().join("cmp");
    output(loadtest().arg("compare").arg(&old).arg(&old).arg("--out").arg(&cmp), 0);
    std::fs::remove_file(&scenario).unwrap(); // the planted file itself is the only one allowed to hold it
    assert!(assert_clean(&old) >= 5);
    assert!(assert_clean(&cmp) >= 4);
    let html = std::fs::read_to_string(old.join("index.html")).unwrap();
    assert!(html.contains("amqp://****@host/"), "the page shows the resolved scenario, masked");
}

#[test]
fn a_baseline_of_an_old_folder_is_masked() {
    let tmp = TempDir::new().unwrap();
    let old = tmp.path().join("old");
    output(loadtest().args(["run", "scenarios/steady-state.toml", "-q", "--set", "messages=20", "--out"]).arg(&old), 0);
    let scenario = old.join("scenario.toml");
    let text =
        std::fs::read_to_string(&scenario).unwrap().replacen("[broker]\n", "[broker]\nurl = \"u:s3cr3t@h\"\n", 1);
    std::fs::write(&scenario, text).unwrap();
    let root = tmp.path().join("baselines");
    output(loadtest().args(["baseline", "save"]).arg(&old).arg("old").arg("--root").arg(&root), 0);
    assert!(assert_clean(&root) >= 3);
    let stored = std::fs::read_to_string(root.join("old").join("scenario.toml")).unwrap();
    assert!(stored.contains("url = \"u:****@h\""), "{stored}");
}

#[test]
fn errors_about_broker_values_never_show_them_and_exit_2() {
    let tmp = TempDir::new().unwrap();
    let url = format!("amqp://u:{SECRET}@h");
    let files = [
        (format!("[broker]\nurl = [\"{url}\"]\n"), "broker.url must be a string"),
        (format!("[broker]\nkind = \"{url}\"\n"), "`broker.kind`: expected one of"),
        (format!("[broker]\ntls = \"{url}\"\n"), "got a string of 17 characters"),
        (format!("[broker]\nconnect_timeout = \"{url}\"\n"), "`broker.connect_timeout`: is not a duration"),
        (format!("broker = \"{url}\"\n"), "`broker`: expected a table"),
        (format!("[broker]\nkind = \"rabbitmq\"\nurl = \"u:{SECRET}@h:5672\"\n"), "line 3: broker.url: "),
        (format!("[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://u:{SECRET}@h:99999/\"\n"), "line 3: broker.url: "),
        (
            format!("[broker]\nkind = \"servicebus\"\nclock = \"real\"\nurl = \"Endpoint=sb://u:{SECRET}@h/;SharedAccessKeyName=k;SharedAccessKey=x\"\n"),
            "line 4: broker.url: the Endpoint's port",
        ),
    ];
    for (i, (text, needle)) in files.iter().enumerate() {
        let file = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let printed = output(loadtest().arg("validate").arg(&file), 2);
        assert!(printed.contains(needle), "{text}: {printed}");
        let printed = output(loadtest().arg("run").arg(&file).arg("--reports").arg(tmp.path().join("r")), 2);
        assert!(printed.contains(needle), "{text}: {printed}");
    }
    for flag in [format!("broker.url:{url}"), format!("broker.url:{SECRET}"), format!("broker..url={url}")] {
        let printed = output(loadtest().args(["run", "scenarios/steady-state.toml", "--set", &flag]), 2);
        assert!(printed.contains("--set broker."), "{printed}");
    }
    assert!(!tmp.path().join("r").exists(), "nothing ran");
}

#[test]
fn a_token_user_is_not_shown_when_the_broker_cannot_be_reached() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("x");
    let printed = output(
        loadtest()
            .args(["run", "scenarios/steady-state.toml", "--broker", "amqp://s3cr3t@127.0.0.1:1/", "--out"])
            .arg(&out),
        3,
    );
    assert!(printed.contains("cannot connect to RabbitMQ at 127.0.0.1:1"), "{printed}");
    assert!(!out.exists(), "no report folder is left behind");
}
