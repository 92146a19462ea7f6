//! `[[subscriptions]]` (issue 9, topics and subscriptions): one event stream, several services. Virtual time,
//! exact by seed: every subscription gets the same messages, a failing one builds its own backlog and dead letters
//! and leaves the others' figures byte for byte as they were, the top level sums counts and takes the worst of the
//! rest, the gate addresses a subscription by name, and bad configurations are refused with their line.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL");
    c
}

fn run_file(scenario: &Path, out: &Path, extra: &[&str]) {
    loadtest()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(["--no-png", "--quiet"])
        .args(extra)
        .assert()
        .success();
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn u(v: &Value, path: &str) -> u64 {
    let x = path.split('.').fold(v, |v, k| &v[k]);
    x.as_u64().unwrap_or_else(|| panic!("{path}: {x}"))
}

fn f(v: &Value, path: &str) -> f64 {
    let x = path.split('.').fold(v, |v, k| &v[k]);
    x.as_f64().unwrap_or_else(|| panic!("{path}: {x}"))
}

/// pub-sub.toml with its shipping outage removed: the same scenario where every subscriber is healthy.
fn without_shipping_outage(tmp: &TempDir) -> PathBuf {
    let text = std::fs::read_to_string("scenarios/pub-sub.toml").unwrap();
    let fault = "[[subscriptions.faults]]\nkind = \"outage\"\nat = \"30s\"\nduration = \"5m\"\n";
    assert!(text.contains(fault), "pub-sub.toml's shipping outage moved; update this test");
    let path = tmp.path().join("pub-sub.toml");
    std::fs::write(&path, text.replace(fault, "")).unwrap();
    path
}

#[test]
fn every_subscription_gets_every_message_and_only_shipping_dead_letters() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("run");
    run_file(Path::new("scenarios/pub-sub.toml"), &dir, &[]);
    let top = json(&dir.join("summary.json"));
    let subs = top["subscriptions"].as_object().unwrap();
    assert_eq!(subs.keys().collect::<Vec<_>>(), ["analytics", "payment", "shipping"]);
    for name in ["payment", "shipping", "analytics"] {
        let own = json(&dir.join("subscriptions").join(name).join("summary.json"));
        assert_eq!(own, top["subscriptions"][name], "{name}: its folder's summary is the one embedded");
        assert_eq!(u(&own, "messages.published"), 10_000, "{name} got every message");
        assert_eq!(own["messages"]["accounted"], true, "{name}");
        assert_eq!(u(&own, "messages.lost"), 0, "{name}");
        for file in ["timeseries.csv", "index.html", "scenario.toml", "charts/backlog.svg", "charts/retry-storm.svg"] {
            assert!(dir.join("subscriptions").join(name).join(file).is_file(), "{name}/{file}");
        }
    }
    let sub = |name: &str| &top["subscriptions"][name];
    // The healthy subscriber and the slow one dead-letter nothing; shipping's outage outlasts its retries.
    assert_eq!(u(sub("payment"), "messages.dead_lettered.total"), 0);
    assert_eq!(u(sub("analytics"), "messages.dead_lettered.total"), 0);
    assert_eq!(u(sub("shipping"), "messages.dead_lettered.total"), SHIPPING_DEAD);
    assert_eq!(u(sub("shipping"), "messages.completed"), 10_000 - SHIPPING_DEAD);
    assert!(u(sub("shipping"), "attempts.retries") > 10 * u(sub("payment"), "attempts.retries"));
    // analytics lags (about 33/s of service for 50/s of orders): a backlog of thousands, then it drains.
    assert!(u(sub("analytics"), "queue.peak_ready") > 2_000, "{}", sub("analytics")["queue"]);
    assert!(u(sub("payment"), "queue.peak_ready") < 100, "{}", sub("payment")["queue"]);
    // The top level: counts summed, the rest the worst subscription's.
    assert_eq!(u(&top, "messages.published"), 30_000);
    assert_eq!(u(&top, "messages.completed"), 30_000 - SHIPPING_DEAD);
    assert_eq!(u(&top, "messages.dead_lettered.total"), SHIPPING_DEAD);
    let attempts: u64 = ["payment", "shipping", "analytics"].iter().map(|n| u(sub(n), "attempts.total")).sum();
    assert_eq!(u(&top, "attempts.total"), attempts);
    let worst_p99 =
        ["payment", "shipping", "analytics"].iter().map(|n| f(sub(n), "latency_ms.p99")).fold(0.0, f64::max);
    assert_eq!(f(&top, "latency_ms.p99"), worst_p99);
    let lowest =
        ["payment", "shipping", "analytics"].iter().map(|n| f(sub(n), "throughput_per_s")).fold(f64::MAX, f64::min);
    assert_eq!(f(&top, "throughput_per_s"), lowest);
    assert_eq!(top["messages"]["accounted"], true);
    // Recovery: shipping's, the one subscription with a fault (the others have nothing to recover from).
    assert_eq!(f(sub("shipping"), "recovery_s"), SHIPPING_RECOVERY_S);
    assert_eq!(f(&top, "recovery_s"), SHIPPING_RECOVERY_S);
    assert!(sub("payment")["recovery_s"].is_null());
    // The page shows each subscription's figures and charts.
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for needle in
        ["id=\"subscriptions\"", "shipping-api", "subscriptions/shipping/index.html", "id=\"sub-shipping-backlog\""]
    {
        assert!(page.contains(needle), "index.html lacks {needle}");
    }
}

/// Dead letters of pub-sub.toml's shipping subscription (seed 7).
const SHIPPING_DEAD: u64 = 1_087;
/// Seconds from the end of shipping's outage until its backlog is back within its pre-fault band (seed 7).
const SHIPPING_RECOVERY_S: f64 = 59.0;

#[test]
fn a_failing_subscription_does_not_change_another_subscriptions_figures() {
    let tmp = TempDir::new().unwrap();
    let (with, without) = (tmp.path().join("with"), tmp.path().join("without"));
    run_file(Path::new("scenarios/pub-sub.toml"), &with, &[]);
    run_file(&without_shipping_outage(&tmp), &without, &[]);
    let read = |d: &Path, name: &str| std::fs::read(d.join("subscriptions").join(name).join("summary.json")).unwrap();
    for name in ["payment", "analytics"] {
        assert_eq!(read(&with, name), read(&without, name), "{name}'s summary.json moved with shipping's outage");
        let series = |d: &Path| std::fs::read(d.join("subscriptions").join(name).join("timeseries.csv")).unwrap();
        assert_eq!(series(&with), series(&without), "{name}'s timeseries.csv moved with shipping's outage");
    }
    let dead = |d: &Path| u(&json(&d.join("subscriptions/shipping/summary.json")), "messages.dead_lettered.total");
    assert_eq!((dead(&with), dead(&without)), (SHIPPING_DEAD, 0));
}

#[test]
fn set_addresses_a_subscription_by_name() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("run");
    let sets = ["--set", "subscriptions.analytics=null", "--set", "subscriptions.shipping.faults=[]"];
    run_file(Path::new("scenarios/pub-sub.toml"), &dir, &sets);
    let top = json(&dir.join("summary.json"));
    let names: Vec<&String> = top["subscriptions"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["payment", "shipping"], "analytics removed");
    assert_eq!(u(&top["subscriptions"]["shipping"], "messages.dead_lettered.total"), 0, "shipping without its outage");
    // A name the file does not have is an error that says how to address the array.
    let out = loadtest()
        .args(["validate", "scenarios/pub-sub.toml", "--set", "subscriptions.billing.consumers.count=2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("address its elements by index"));
}

#[test]
fn a_subscription_folder_reruns_alone_with_the_same_figures() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("run");
    run_file(Path::new("scenarios/pub-sub.toml"), &dir, &[]);
    let folder = dir.join("subscriptions/shipping");
    let again = tmp.path().join("again");
    run_file(&folder.join("scenario.toml"), &again, &[]);
    assert_eq!(
        std::fs::read_to_string(again.join("summary.json")).unwrap(),
        std::fs::read_to_string(folder.join("summary.json")).unwrap()
    );
    let scn = std::fs::read_to_string(folder.join("scenario.toml")).unwrap();
    assert!(scn.contains("name = \"pub-sub.shipping\"") && scn.contains("name = \"orders.shipping\""), "{scn}");
    assert!(!scn.contains("[[subscriptions]]"), "{scn}");
}

#[test]
fn broker_commands_of_a_subscription_need_allow_commands() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("s.toml");
    let body = "messages = 10\n[broker]\nkind = \"rabbitmq\"\n[[subscriptions]]\nname = \"a\"\n[[subscriptions]]\n\
                name = \"b\"\n[[subscriptions.faults]]\nkind = \"memory-alarm\"\nat = \"1s\"\nduration = \"5s\"\n";
    std::fs::write(&path, body).unwrap();
    let out = loadtest().arg("run").arg(&path).arg("--out").arg(tmp.path().join("r")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory-alarm") && err.contains("--allow-commands"), "{err}");
    assert!(!tmp.path().join("r").exists());
}

#[test]
fn the_gate_addresses_a_subscription_by_name() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("run");
    run_file(Path::new("scenarios/pub-sub.toml"), &dir, &[]);
    // The file's own thresholds (one on the top level, one on payment) hold.
    loadtest().arg("gate").arg(&dir).assert().success();
    // A threshold on shipping's dead letters fails and is named; the same on payment passes.
    let scn = dir.join("scenario.toml");
    let text = std::fs::read_to_string(&scn).unwrap();
    let gated = |threshold: &str| {
        let body = &text[..text.find("[thresholds]").unwrap()];
        std::fs::write(&scn, format!("{body}[thresholds]\n{threshold}\n")).unwrap();
        loadtest().arg("gate").arg(&dir).output().unwrap()
    };
    let out = gated("\"subscriptions.shipping.messages.dead_lettered\" = \"== 0\"");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text_out = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text_out.contains("subscriptions.shipping.messages.dead_lettered"), "{text_out}");
    let out = gated("\"subscriptions.payment.messages.dead_lettered\" = \"== 0\"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // A subscription the run does not have: exit 2, naming the ones it has.
    let out = gated("\"subscriptions.billing.latency_ms.p99\" = \"< 100\"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no subscription `billing`") && err.contains("analytics, payment, shipping"), "{err}");
}

#[test]
fn report_renders_a_pub_sub_folder_again_and_compare_goes_subscription_by_subscription() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("run");
    run_file(Path::new("scenarios/pub-sub.toml"), &dir, &[]);
    let page = dir.join("index.html");
    let chart = dir.join("subscriptions/shipping/charts/backlog.svg");
    let before = (std::fs::read(&page).unwrap(), std::fs::read(&chart).unwrap());
    std::fs::remove_file(&page).unwrap();
    std::fs::remove_file(&chart).unwrap();
    loadtest().arg("report").arg(&dir).arg("--no-png").assert().success();
    assert_eq!((std::fs::read(&page).unwrap(), std::fs::read(&chart).unwrap()), before, "drawn again, the same");
    // compare takes two subscriptions' folders; a pub/sub folder beside a plain one is refused, naming the way.
    let out = loadtest().arg("compare").arg(&dir).arg(dir.join("subscriptions/payment")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("some of these folders are runs of [[subscriptions]]"), "{err}");
    let cmp = tmp.path().join("cmp");
    loadtest()
        .arg("compare")
        .arg(dir.join("subscriptions/payment"))
        .arg(dir.join("subscriptions/shipping"))
        .arg("--out")
        .arg(&cmp)
        .assert()
        .success();
    // Two pub/sub runs: compared subscription by subscription.
    let calm = tmp.path().join("calm");
    run_file(&without_shipping_outage(&tmp), &calm, &[]);
    let both = tmp.path().join("both");
    let out = loadtest().arg("compare").arg(&dir).arg(&calm).arg("--out").arg(&both).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    for name in ["analytics", "payment", "shipping"] {
        assert!(table.contains(&format!("subscription {name}")), "{table}");
        assert!(both.join("subscriptions").join(name).join("comparison.html").is_file(), "{name}");
    }
    loadtest()
        .arg("compare")
        .arg(dir.join("subscriptions/payment"))
        .arg(calm.join("subscriptions/payment"))
        .assert()
        .success();
}

/// A scenario of `body` written to a file; the `loadtest validate` output and exit code.
fn validate(body: &str) -> (Option<i32>, String) {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("s.toml");
    std::fs::write(&path, body).unwrap();
    let out = loadtest().arg("run").arg(&path).arg("--out").arg(tmp.path().join("r")).output().unwrap();
    assert!(!tmp.path().join("r").exists(), "nothing runs on a bad scenario");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_subscriptions_are_refused_with_their_line_and_fix() {
    let head = "messages = 10\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "[[subscriptions]]\nname = \"a\"\n[[subscriptions]]\nname = \"a\"\n",
            &["line 5:", "subscriptions[0] and subscriptions[1] are both named `a`", "a name of its own"],
        ),
        (
            "[[subscriptions]]\nname = \"a\"\nconsumer = { count = 2 }\n",
            &["line 4:", "unknown key `consumer`", "did you mean `consumers`?"],
        ),
        (
            "[[subscriptions]]\nname = \"a\"\n[subscriptions.consumers]\ncount = 0\n",
            &["line 5:", "subscriptions[0] (`a`):", "consumers.count"],
        ),
        ("[[subscriptions]]\nname = \"a b\"\n", &["line 3:", "letters, digits"]),
        ("[[subscriptions]]\nseed = 1\n", &["missing the required key `name`", "unknown key `seed`"]),
        ("subscriptions = []\n", &["line 2:", "at least one subscription"]),
        (
            "[broker]\nkind = \"servicebus\"\nurl = \"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0\"\n[[subscriptions]]\nname = \"a\"\n",
            &["on Service Bus (broker.kind = \"servicebus\") it is not built yet"],
        ),
        (
            "[broker]\nkind = \"rabbitmq\"\n[[faults]]\nkind = \"broker-restart\"\nat = \"5s\"\nduration = \"10s\"\n[[subscriptions]]\nname = \"a\"\n\
             [[subscriptions]]\nname = \"b\"\n",
            &["subscriptions a, b each have a memory-alarm or broker-restart fault", "give it to one subscription only"],
        ),
        (
            "[queue]\nmax_length = 5\noverflow = \"block\"\n[[subscriptions]]\nname = \"a\"\n",
            &["line 4:", "would hold the producers back for every subscription"],
        ),
    ];
    for (body, wanted) in cases {
        let (code, err) = validate(&format!("{head}{body}"));
        assert_eq!(code, Some(2), "{body}\n{err}");
        // Each problem once: a subscription's unknown key is not reported again by the checks of its merged tree.
        let problems = err.lines().filter(|l| l.starts_with("  ")).count();
        let expected = if wanted.iter().any(|w| w.contains("required key `name`")) { 2 } else { 1 };
        assert_eq!(problems, expected, "{body}: {err}");
        for w in *wanted {
            assert!(err.contains(w), "{body}: wanted {w:?} in\n{err}");
        }
    }
}
