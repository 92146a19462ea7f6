//! Downstream outages through whole runs, exact counts on a fixed seed: a stall (the service queues calls, serves
//! none, then works through all of them) against a hang, and a refusing outage whose refusals take `refuse_after`.

use loadtest::report::{simulate, summary::Summary};
use loadtest::scenario::load_str;

/// 200 messages at 20/s into a service of 25 calls/s (1 server, 40 ms); a 3-second outage at 2 s; one immediate
/// retry; the caller gives up after 2 s, and the service keeps working on what it was given.
const SCENARIO: &str = r#"
seed = 1
messages = 200
[producers]
rate = { shape = "constant", per_second = 20 }
[consumers]
concurrency = 100
prefetch = 100
service_time = "1ms"
[downstream]
servers = 1
service_time = "40ms"
timeout = "2s"
[retry]
policy = { kind = "immediate", limit = 1 }
[[faults]]
kind = "outage"
at = "2s"
duration = "3s"
"#;

fn run(sets: &[&str]) -> Summary {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let scn = load_str(SCENARIO, "outages", &sets).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scn, 1).unwrap()
}

#[test]
fn after_a_stall_the_service_works_through_calls_whose_callers_gave_up_and_a_hang_leaves_none() {
    let hang = run(&["faults.0.mode=\"hang\""]);
    let stall = run(&["faults.0.mode=\"stall\""]);
    let figures = |s: &Summary| {
        let m = &s.messages;
        (m.completed, m.dead_lettered.total, m.duplicates, s.downstream.peak_in_system, s.attempts.failed["timeout"])
    };
    // a hang swallows its calls: they time out, the retries after it succeed, the service does no extra work
    assert_eq!(figures(&hang), (180, 20, 0, 32, 80));
    // a stall keeps every call: 157 in the service at its peak; after the window it serves them, abandoned or
    // not (91 side effects of messages whose callers had given up and retried), and the new calls wait behind
    // that work until they time out too: capacity spent on the dead keeps the living from being served
    assert_eq!(figures(&stall), (40, 160, 91, 157, 320));
    assert_eq!((hang.last_failure_s, stall.last_failure_s), (Some(6.952), Some(13.952)));
    // at 10 messages/s the service has room to catch up: it serves the stalled calls and recovers
    let calm = run(&["faults.0.mode=\"stall\"", "producers.rate={ shape = \"constant\", per_second = 10 }"]);
    assert_eq!(figures(&calm), (200, 0, 18, 42, 18));
}

#[test]
fn refuse_after_delays_every_refusal_by_the_connect_delay() {
    let now = run(&["downstream.timeout=null"]);
    let later = run(&["downstream.timeout=null", "faults.0.refuse_after=\"1500ms\""]);
    // an attempt takes at most 41 ms (1 ms of local work, a 40 ms call) when refusals come at once; 1.5 s more later
    assert_eq!((now.attempt_latency_ms.max, later.attempt_latency_ms.max), (41.023, 1501.183));
    // the last call refused in the window (at 4.952 s) fails 1.5 s later
    assert_eq!((now.last_failure_s, later.last_failure_s), (Some(4.952), Some(6.452)));
    // two refused attempts (first and retry) before the error queue: 2 ms against 3 s
    assert_eq!((now.time_to_dead_letter_ms.max, later.time_to_dead_letter_ms.max), (2.0, 3002.367));
    assert_eq!((now.attempts.failed["transient"], later.attempts.failed["transient"]), (120, 90));
    assert_eq!((now.messages.dead_lettered.total, later.messages.dead_lettered.total), (60, 30));
    // a caller's timeout shorter than the delay ends the call first: a timeout, not a refusal
    let timed_out = run(&["faults.0.refuse_after=\"3s\""]);
    assert_eq!(timed_out.attempts.failed.get("transient"), None);
    assert_eq!(timed_out.attempts.failed["timeout"], 80);
}
