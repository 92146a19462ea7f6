//! Network faults between the harness and the real broker, through the harness's own fault proxy: a latency toxic
//! shows in the end-to-end latency for its window and only then; a reset-peer toxic breaks every connection and the
//! run reconnects and accounts for every message.

use crate::support::*;
use tempfile::TempDir;

/// 3,000 messages at 200/s with fixed 1 ms work: a flat latency line for a toxic to stand out against.
fn probe(name: &str, fault: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 7\nmessages = 3000\n[broker]\nkind = \"rabbitmq\"\n[queue]\nname = \"{name}\"\n\
         [producers]\nrate = {{ shape = \"constant\", per_second = 200 }}\n[consumers]\ncount = 2\nconcurrency = 8\n\
         prefetch = 16\nservice_time = {{ dist = \"fixed\", value = \"1ms\" }}\n[[faults]]\n{fault}"
    )
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_50ms_latency_toxic_raises_p50_by_about_50ms_scaled_and_only_in_its_window() {
    // Alone: a latency measured while the other tests load both cores and the broker says little.
    let Some(_broker) = rabbit_alone() else { return };
    let tmp = TempDir::new().unwrap();
    let fault = "kind = \"network\"\ntoxic = \"latency\"\nat = \"5s\"\nduration = \"5s\"\nlatency = \"50ms\"\n";
    let scn = scenario(&tmp, "latency", &probe("latency-toxic", fault));
    let out = tmp.path().join("out");
    let id = run_id("lat");
    // At time scale 2 the proxy holds each chunk 25 ms of wall time: 50 ms of scenario time.
    let (s, all) = run_ok(&scn, &out, &["--run-id", &id, "--time-scale", "2"]);
    assert_eq!(u(&s["messages"]["completed"]), 3000, "{all}");
    let r = &s["real_broker"];
    assert!(u(&r["proxy"]["connections"]) >= 2, "publishing and consuming went through the proxy: {}", r["proxy"]);
    let fault = &r["faults"][0];
    assert_eq!(fault["kind"], "latency toxic");
    assert!(u(&fault["toxic"]["chunks_delayed"]) > 100, "{fault}");
    // Per-second medians away from the edges: before (2-4 s, after the start-up), inside (6-9 s), after (12-14 s).
    let rows = loadtest::record::series::read_csv(&out.join("timeseries.csv")).unwrap();
    let p50: std::collections::BTreeMap<u64, f64> =
        rows.iter().filter_map(|r| Some((r.time_s, r.latency_p50_ms?))).collect();
    let median = |from: u64, to: u64| {
        let mut v: Vec<f64> = p50.range(from..=to).map(|(_, v)| *v).collect();
        assert!(!v.is_empty(), "seconds {from}-{to} measured: {p50:?}");
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (before, inside, after) = (median(2, 4), median(6, 9), median(12, 14));
    // One hop (deliveries, broker to harness: the downstream stream) is delayed: +50 ms, a little more for a
    // chunk that waits behind another; never the 100 ms of two hops.
    for (what, base) in [("before", before), ("after", after)] {
        let raised = inside - base;
        assert!((40.0..90.0).contains(&raised), "p50 {base} ms {what}, {inside} ms in the window: +{raised} ms\n{all}");
    }
    let cost = &fault["cost"];
    assert!(f(&cost["latency_ms"]["p50"]) > f(&cost["latency_before_ms"]["p50"]), "the cost shows it: {cost}");
    assert!(all.contains("fault        faults[0] latency toxic 5.0-10.0 s"), "{all}");
    assert_no_queues_of(&id, "/");
}

#[test]
fn reset_peer_mid_run_reconnects_and_every_message_is_accounted_for() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let fault = "kind = \"network\"\ntoxic = \"reset-peer\"\nat = \"4s\"\nduration = \"2s\"\nstream = \"both\"\n";
    let scn = scenario(&tmp, "reset", &probe("reset-toxic", fault));
    let out = tmp.path().join("out");
    let id = run_id("reset");
    let (s, all) = run_ok(&scn, &out, &["--run-id", &id]);
    assert_eq!(u(&s["messages"]["lost"]), 0, "{all}");
    assert_eq!(u(&s["messages"]["completed"]), 3000, "at-least-once: every message completed\n{all}");
    let r = &s["real_broker"];
    let fault = &r["faults"][0];
    assert!(u(&fault["toxic"]["connections_reset"]) >= 2, "both connections were reset: {fault}");
    let outages = r["outages"].as_array().unwrap();
    let what: Vec<&str> = outages.iter().map(|o| o["what"].as_str().unwrap()).collect();
    assert!(what.contains(&"publishing connection lost") && what.contains(&"consuming connection lost"), "{what:?}");
    for o in outages {
        let start = f(&o["start_s"]);
        let d = f(&o["duration_s"]);
        assert!((3.9..6.5).contains(&start), "an outage began with the toxic's window: {o}");
        assert!(start + d >= 5.9, "no connection came back while the toxic reset them: {o}");
    }
    assert!(u(&fault["cost"]["connections_lost"]) >= 2, "{fault}");
    assert_no_queues_of(&id, "/");
}
