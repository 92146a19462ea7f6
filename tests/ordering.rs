//! Ordering (issue 9, item 5), through the binary on the shipped `scenarios/ordering.toml` (20,000 events over 100
//! Zipf keys at 800/s, 4 consumers x 8 handlers, seed 3): competing consumers complete keys out of order, keyed
//! consumers never do, and the hot key costs them throughput and latency; the exact counts each gives.

mod common;

use common::loadtest;
use serde_json::Value;
use tempfile::TempDir;

const SCENARIO: &str = include_str!("../scenarios/ordering.toml");

/// Runs the scenario text with `--set` overrides; the summary.json and the terminal summary.
fn run(text: &str, sets: &[&str]) -> (Value, String) {
    let (summary, stdout, _) = run_with_page(text, sets);
    (summary, stdout)
}

/// `run`, with the report's index.html.
fn run_with_page(text: &str, sets: &[&str]) -> (Value, String, String) {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("ordering.toml");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("run");
    let mut cmd = loadtest();
    cmd.arg("run").arg(&file).arg("--no-png").arg("--out").arg(&out);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let done = cmd.assert().success();
    let stdout = String::from_utf8(done.get_output().stdout.clone()).unwrap();
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (summary, stdout, std::fs::read_to_string(out.join("index.html")).unwrap())
}

/// (completed, violations, keys out of order, peak key backlog, throughput/s, p99 latency ms).
fn figures(s: &Value) -> (u64, u64, u64, u64, f64, f64) {
    let m = &s["messages"];
    assert_eq!((m["lost"].as_u64(), &m["accounted"]), (Some(0), &Value::Bool(true)));
    let o = &s["ordering"];
    (
        m["completed"].as_u64().unwrap(),
        o["violations"].as_u64().unwrap(),
        o["keys_out_of_order"].as_u64().unwrap(),
        o["peak_key_backlog"].as_u64().unwrap(),
        s["throughput_per_s"].as_f64().unwrap(),
        s["latency_ms"]["p99"].as_f64().unwrap(),
    )
}

#[test]
fn competing_consumers_reorder_keys_and_keyed_consumers_do_not_at_a_throughput_cost() {
    let (s, out) = run(SCENARIO, &[]);
    assert_eq!(figures(&s), (20_000, 2_104, 44, 8, 793.305, 24.815));
    let o = &s["ordering"];
    assert_eq!(
        (&o["keys"], &o["distribution"], &o["zipf_exponent"], &o["mode"]),
        (&Value::from(100), &Value::from("zipf"), &Value::from(1.1), &Value::from("competing"))
    );
    assert!(o.get("key_wait_ms").is_none(), "{o}");
    assert!(out.contains("  ordering     100 keys (zipf 1.1), competing consumers: "), "{out}");
    // one event of a key at a time: no violation, but the hot key (23% of the events) queues behind itself and its
    // waiting events fill the prefetch buffers: the pool's throughput drops, the latency and the key's lag grow
    let (k, out) = run(SCENARIO, &["consumers.ordering=keyed"]);
    assert_eq!(figures(&k), (20_000, 0, 0, 710, 675.105, 4_231.167));
    assert_eq!(k["ordering"]["peak_key_backlog_key"], 0);
    assert_eq!(k["ordering"]["key_wait_ms"]["p99"], 440.575);
    assert!(out.contains("  ordering     100 keys (zipf 1.1), keyed consumers: 0 violation(s) on 0 key(s)"), "{out}");
    // a colder key distribution: the keyed pool keeps up, order costs only some latency
    let (k, _) = run(SCENARIO, &["consumers.ordering=keyed", "producers.key_distribution.zipf=0.8"]);
    assert_eq!(figures(&k), (20_000, 0, 0, 11, 793.305, 38.687));
}

#[test]
fn one_consumer_with_one_handler_never_reorders_even_when_competing() {
    let (s, _) = run(
        SCENARIO,
        &["consumers.count=1", "consumers.concurrency=1", "consumers.prefetch=1", "producers.rate=100/s"],
    );
    assert_eq!(figures(&s).1, 0);
}

#[test]
fn keyed_consumers_keep_order_through_in_memory_retries_but_not_through_delayed_redelivery() {
    let faulty =
        format!("{SCENARIO}\n[downstream]\nservers = 64\nservice_time = \"1ms\"\nerrors = {{ transient = 0.05 }}\n");
    // retried in memory, a message keeps its key: still in order
    let (s, _) = run(&faulty, &["consumers.ordering=keyed", "retry.policy={ kind = \"immediate\", limit = 5 }"]);
    assert_eq!(figures(&s), (20_000, 0, 0, 1_491, 549.028, 10_821.631));
    assert_eq!(s["attempts"]["retries"], 1_123);
    // handed to delayed redelivery it lets the key go, and comes back behind later events of its key
    let (s, _) = run(&faulty, &["consumers.ordering=keyed", "redelivery.intervals=[\"1s\"]"]);
    assert_eq!(figures(&s), (19_951, 1_012, 93, 1_432, 544.039, 15_409.151));
    assert_eq!(s["attempts"]["redeliveries"], 1_071);
    // competing consumers reorder more: the redeliveries and the handlers running side by side
    let (s, _) = run(&faulty, &["redelivery.intervals=[\"1s\"]"]);
    assert_eq!(figures(&s), (19_954, 2_867, 85, 22, 763.264, 1_018.879));
}

#[test]
fn without_keys_the_summary_has_no_ordering_object() {
    let (s, out, page) = run_with_page(SCENARIO, &["producers.keys=null", "producers.key_distribution=null"]);
    assert!(s.get("ordering").is_none(), "{s}");
    assert!(!out.contains("  ordering     "), "{out}");
    assert!(!page.contains("ordering violations"));
    // with keys, the page's key figures show the violations and the per-key lag
    let (_, _, page) = run_with_page(SCENARIO, &[]);
    assert!(page.contains("<div class=\"v bad\">2,104</div><div class=\"k\">ordering violations (100 keys, competing consumers)</div>"), "{page}");
    assert!(page.contains("<div class=\"v \">8</div><div class=\"k\">peak key backlog (per-key lag)</div>"));
}

fn validate(text: &str) -> String {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let done = loadtest().arg("validate").arg(&file).assert().code(2);
    String::from_utf8(done.get_output().stderr.clone()).unwrap()
}

#[test]
fn a_key_count_of_0_or_keyed_consumers_without_keys_are_refused_with_the_line_and_the_fix() {
    let line = SCENARIO.lines().position(|l| l.starts_with("keys = ")).unwrap() + 1;
    let err = validate(&SCENARIO.replace("keys = 100 ", "keys = 0   "));
    let expected = format!(
        "line {line}: `producers.keys = 0`: 0 keys leaves the messages no key to carry; set the number of partition / \
         session keys (at least 1, e.g. 100), or remove producers.keys for messages without keys"
    );
    assert!(err.contains(&expected), "{err}");
    let keyless: String = SCENARIO.lines().filter(|l| !l.starts_with("key")).map(|l| format!("{l}\n")).collect();
    let err = validate(&keyless.replace("ordering = \"competing\"", "ordering = \"keyed\""));
    let line = keyless.lines().position(|l| l.starts_with("ordering = ")).unwrap() + 1;
    assert!(
        err.contains(&format!("line {line}: consumers.ordering = \"keyed\" handles one message of a key at a time")),
        "{err}"
    );
}
