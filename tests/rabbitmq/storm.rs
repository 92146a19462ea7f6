//! The retry storm on RabbitMQ, compressed 60x (the 5-minute outage plays in 5 s): the same qualitative result as
//! on the embedded broker. The two runs go one after the other, with the broker to themselves: at x60 the storm
//! lives on millisecond timing, and two runs at once on two cores (or the other tests meanwhile) smear it out
//! (4-8 crashes instead of 40-55 in some runs).

use crate::support::*;
use tempfile::TempDir;

#[test]
fn the_storm_emerges_without_jitter_and_full_jitter_calms_it() {
    let Some(_broker) = rabbit_alone() else { return };
    let tmp = TempDir::new().unwrap();
    let (a, b) = (tmp.path().join("no-jitter"), tmp.path().join("jitter"));
    let (ida, idb) = (run_id("storm"), run_id("storm-jitter"));
    let spawn = |scenario: &str, out: &std::path::Path, id: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("loadtest"))
            .args(["run", scenario, "--broker", URL, "--time-scale", "60", "--run-id", id, "--out"])
            .arg(out)
            .env_remove("LOADTEST_AMQP_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map(|child| wait_or_kill(child, std::time::Duration::from_secs(600), scenario))
    };
    let ra = spawn("scenarios/retry-storm.toml", &a, &ida).unwrap();
    let rb = spawn("scenarios/retry-storm-jitter.toml", &b, &idb).unwrap();
    assert!(ra.status.success(), "{}", text(&ra));
    assert!(rb.status.success(), "{}", text(&rb));
    let (storm, calm) = (summary(&a), summary(&b));
    for s in [&storm, &calm] {
        assert_accounted(s);
        assert_eq!(u(&s["messages"]["lost"]), 0);
        assert_eq!(u(&s["messages"]["published"]), 10_000);
        assert_eq!(s["real_broker"]["ended_by"], "completed");
    }
    let crashes = |s: &serde_json::Value| u(&s["downstream"]["crashes"]);
    let after = |s: &serde_json::Value| u(&s["failure_episodes_after_faults"]);
    // Without jitter: the service keeps crashing after the outage, in separate failure episodes (embedded: 104, 104).
    assert!(crashes(&storm) >= 10, "no storm: {} crashes", crashes(&storm));
    assert!(after(&storm) >= 5, "no storm: {} failure episodes after the outage", after(&storm));
    // Full jitter: fewer crashes and fewer episodes after the outage (embedded: 10 and 1).
    assert!(crashes(&calm) < crashes(&storm), "jitter {} vs no jitter {} crashes", crashes(&calm), crashes(&storm));
    assert!(after(&calm) < after(&storm), "jitter {} vs no jitter {} episodes", after(&calm), after(&storm));
    assert_no_queues_of(&ida, "/");
    assert_no_queues_of(&idb, "/");
}
