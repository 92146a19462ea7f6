//! Circuit breaker parity (issue 9, item 1), run through the binary on the shipped breaker starter (30% errors for
//! 2 minutes, 20,000 messages, seed 1): one breaker per consumer or one for the service, MassTransit's spelling of
//! the same breaker, and MassTransit's kill switch, with the exact counts each gives.

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const STARTER: &str = include_str!("../templates/breaker.toml");

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL");
    c
}

/// The starter with its `[circuit_breaker]` table replaced by `breaker` and `extra` appended.
fn variant(breaker: &str, extra: &str) -> String {
    let (start, end) = (STARTER.find("[circuit_breaker]").unwrap(), STARTER.find("[thresholds]").unwrap());
    format!("{}{breaker}\n{}{extra}", &STARTER[..start], &STARTER[end..])
}

/// Runs the scenario text with `--set` overrides; the summary.json and the terminal summary.
fn run(text: &str, sets: &[&str]) -> (Value, String) {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("breaker.toml");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("run");
    let mut cmd = loadtest();
    cmd.arg("run").arg(&file).arg("--out").arg(&out);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let done = cmd.assert().success();
    let stdout = String::from_utf8(done.get_output().stdout.clone()).unwrap();
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (summary, stdout)
}

/// (completed, dead-lettered, breaker openings, breaker time open in s, kill-switch trips, time stopped in s).
fn figures(s: &Value) -> (u64, u64, u64, Option<f64>, Option<u64>, Option<f64>) {
    let m = &s["messages"];
    assert_eq!(
        (m["published"].as_u64(), m["lost"].as_u64(), &m["accounted"]),
        (Some(20_000), Some(0), &Value::Bool(true))
    );
    let d = &s["downstream"];
    let c = &s["consumers"];
    (
        m["completed"].as_u64().unwrap(),
        m["dead_lettered"]["total"].as_u64().unwrap(),
        d["circuit_breaker_opened"].as_u64().unwrap(),
        d["circuit_breaker_open_s"].as_f64(),
        c["kill_switch_trips"].as_u64(),
        c["kill_switch_stopped_s"].as_f64(),
    )
}

#[test]
fn one_breaker_per_consumer_against_one_for_the_service_and_none() {
    let (s, out) = run(STARTER, &[]);
    assert_eq!(figures(&s), (11_943, 8_057, 76, Some(382.591), None, None));
    assert!(
        out.contains("  breaker      opened 76 time(s), open or half-open 382.6 s (summed over the breakers)"),
        "{out}"
    );
    assert!(!out.contains("kill switch"), "{out}");
    // one shared breaker opens less often, but for everyone at once: more messages spend their retries on it
    let (s, _) = run(STARTER, &["circuit_breaker.scope=service"]);
    assert_eq!(figures(&s), (10_229, 9_771, 22, Some(110.572), None, None));
    // no breaker: the retries outlast the errors; summary.json has no breaker time then
    let (s, _) = run(STARTER, &["circuit_breaker=null"]);
    assert_eq!(figures(&s), (19_906, 94, 0, None, None, None));
    assert!(s["downstream"].get("circuit_breaker_open_s").is_none());
    assert!(s["consumers"].get("kill_switch_trips").is_none());
}

#[test]
fn masstransits_spelling_is_the_same_breaker() {
    let mt = "[circuit_breaker]\ntrip_threshold = 10\nactive_threshold = 100\ntracking_period = \"30s\"\n\
              reset_interval = \"5s\"\n";
    let (polly, _) = run(STARTER, &[]);
    let (s, _) = run(&variant(mt, ""), &[]);
    assert_eq!(s["scenario"]["hash"], polly["scenario"]["hash"], "the same resolved scenario");
    assert_eq!(figures(&s), (11_943, 8_057, 76, Some(382.591), None, None));
    // MassTransit's docs example (1 min, 15%, 10, 5 min): a long reset interval fails the retries for minutes
    let docs = "[circuit_breaker]\ntracking_period = \"1m\"\ntrip_threshold = 15\nactive_threshold = 10\n\
                reset_interval = \"5m\"\n";
    let (s, _) = run(&variant(docs, ""), &[]);
    assert_eq!(figures(&s), (5_232, 14_768, 4, Some(660.774), None, None));
}

#[test]
fn mixing_the_two_spellings_of_one_setting_is_refused_naming_both_keys() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("mixed.toml");
    std::fs::write(&file, variant("[circuit_breaker]\nfailure_ratio = 0.1\ntrip_threshold = 10\n", "")).unwrap();
    let done = loadtest().arg("validate").arg(&file).assert().code(2);
    let err = String::from_utf8(done.get_output().stderr.clone()).unwrap();
    // the two keys sit on the two lines after the starter's `[circuit_breaker]` header
    let header = STARTER[..STARTER.find("[circuit_breaker]").unwrap()].lines().count() + 1;
    let expected = format!(
        "line {}: `circuit_breaker.trip_threshold` is MassTransit's name for `circuit_breaker.failure_ratio` \
         (line {}), which is also set: one setting written twice; keep one of them",
        header + 2,
        header + 1
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn the_kill_switch_keeps_the_messages_in_the_queue_while_the_errors_last() {
    let breaker = &STARTER[STARTER.find("[circuit_breaker]").unwrap()..STARTER.find("[thresholds]").unwrap()];
    let with_kill_switch = variant(breaker, "\n[kill_switch]\n");
    // MassTransit's defaults: 10 messages, 15%, 1 min. The breakers fail the retries at once, the kill switch sees
    // the faults and stops consuming for a minute, twice: 120 s, the length of the error spike
    let (s, out) = run(&with_kill_switch, &[]);
    assert_eq!(figures(&s), (19_147, 853, 13, Some(457.265), Some(2), Some(120.0)));
    assert!(out.contains("  kill switch  tripped 2 time(s), consumers stopped 120.0 s"), "{out}");
    let (s, _) = run(&with_kill_switch, &["circuit_breaker.scope=service"]);
    assert_eq!(figures(&s), (19_185, 815, 3, Some(128.677), Some(2), Some(120.0)));
    // restarting after 1 s instead of a minute: the consumers come back into the spike (some while still finishing
    // a delivery, which resume once idle), trip again and again, and the breakers burn the retries in between
    let (s, _) = run(&with_kill_switch, &["kill_switch.restart_timeout=1s"]);
    assert_eq!(figures(&s), (14_156, 5_844, 83, Some(420.297), Some(70), Some(70.0)));
    // without breakers the retries absorb the errors: under 15% of the messages fail, the switch never trips
    let (s, _) = run(&with_kill_switch, &["circuit_breaker=null"]);
    assert_eq!(figures(&s), (19_906, 94, 0, None, Some(0), Some(0.0)));
}
