//! Client-side overload controls through whole runs, exact counts on fixed seeds: retry budgets (gRPC's token
//! bucket, the SRE book's ratio) and adaptive throttling on the retry storm.

use loadtest::report::{simulate, summary::Summary};
use loadtest::scenario::load_file;
use std::path::Path;

fn run(file: &str, seed: u64, sets: &[&str]) -> Summary {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let scn = load_file(Path::new(file), &sets).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scn, seed).expect("the run completes")
}

fn storm(sets: &[&str]) -> Summary {
    run("scenarios/retry-storm.toml", 42, sets)
}

fn reason(s: &Summary, r: &str) -> u64 {
    s.messages.dead_lettered.by_reason.get(r).copied().unwrap_or(0)
}

#[test]
fn a_grpc_retry_budget_starves_the_storm_of_its_retries() {
    let none = storm(&[]);
    assert_eq!((none.attempts.total, none.attempts.retries, none.downstream.crashes), (175_029, 143_149, 104));
    assert_eq!(none.attempts.budget_rejected, None, "no budget, no field");
    let s = storm(&["retry.budget={ kind = \"grpc\" }"]);
    // 4 consumers, each with its own bucket of 10 tokens: 4 retries each while the service is out, then none
    // until successes refill them; every refused retry is redelivered as an exhausted policy's would be
    let a = &s.attempts;
    assert_eq!(
        (a.total, a.first, a.retries, a.budget_rejected, a.redeliveries),
        (27_050, 10_000, 16, Some(17_034), 17_034)
    );
    assert_eq!((s.messages.completed, s.messages.dead_lettered.total, s.downstream.crashes), (10_000, 0, 0));
    assert_eq!(s.overload_waves, 0);
    // one bucket for the whole service: 4 retries in all
    let s = storm(&["retry.budget={ kind = \"grpc\", scope = \"service\" }"]);
    assert_eq!((s.attempts.total, s.attempts.retries, s.attempts.budget_rejected), (27_039, 4, Some(17_035)));
}

#[test]
fn a_refused_retry_takes_the_failure_path_of_an_exhausted_policy() {
    // no redelivery: a refused retry goes straight to the error queue, as retries_exhausted
    let s = storm(&["retry.budget={ kind = \"ratio\", scope = \"service\" }", "redelivery.intervals=[]"]);
    let a = &s.attempts;
    assert_eq!((a.total, a.retries, a.budget_rejected, a.redeliveries), (10_898, 898, Some(9_014), 0));
    assert_eq!((s.messages.completed, reason(&s, "retries_exhausted")), (986, 9_014));
    assert_eq!(s.downstream.crashes, 0);
    // the same without a budget: five times the attempts, and the service crashes 21 times
    let none = storm(&["redelivery.intervals=[]"]);
    assert_eq!((none.attempts.total, none.messages.completed, none.downstream.crashes), (48_544, 2_619, 21));
    // the ratio budget per consumer: at most 10% of its first attempts in the last 10 s are retried
    let s = storm(&["retry.budget={ kind = \"ratio\" }"]);
    assert_eq!((s.attempts.total, s.attempts.retries, s.attempts.budget_rejected), (28_699, 1_664, Some(17_035)));
}

#[test]
fn adaptive_throttling_rejects_calls_locally_and_the_service_never_sees_them() {
    let s = storm(&["downstream.throttle={}"]);
    let (a, d) = (&s.attempts, &s.downstream);
    assert_eq!((a.total, a.retries, a.redeliveries), (52_612, 36_110, 6_502));
    assert_eq!(d.throttled, Some(39_349));
    assert_eq!(a.failed.get("throttled"), Some(&39_349), "a failure kind of its own, retried like a transient one");
    // a throttled call is not made: every attempt either called the service or was throttled
    assert_eq!((a.downstream_calls, a.downstream_calls_failed), (13_263, 3_263));
    assert_eq!(a.total, a.downstream_calls + 39_349);
    // without it the storm offers 175,029 calls and crashes the service 104 times
    assert_eq!((d.crashes, d.peak_in_system, d.peak_offered_per_s), (0, 83, 125));
    assert_eq!((s.messages.completed, s.messages.dead_lettered.total), (10_000, 0));
    // the draws come from the run's seed: another seed, other figures; the same seed, the same run
    let other = run("scenarios/retry-storm.toml", 1, &["downstream.throttle={}"]);
    assert_eq!((other.attempts.total, other.downstream.throttled), (52_322, Some(38_974)));
    assert_eq!(run("scenarios/retry-storm.toml", 1, &["downstream.throttle={}"]), other);
    // K = 1.1 throttles harder
    let hard = storm(&["downstream.throttle={ k = 1.1 }"]);
    assert_eq!((hard.attempts.downstream_calls, hard.downstream.throttled), (12_006, Some(124_837)));
    let none = storm(&[]);
    assert_eq!((none.attempts.downstream_calls, none.downstream.throttled), (175_029, None));
}

#[test]
fn a_throttle_on_a_healthy_service_rejects_nothing_and_changes_nothing() {
    let file = "scenarios/steady-state.toml";
    let (without, with) = (run(file, 7, &[]), run(file, 7, &["downstream.throttle={}"]));
    assert_eq!(with.downstream.throttled, Some(0));
    assert_eq!(with.attempts, without.attempts);
    assert_eq!(with.messages, without.messages);
    assert_eq!(with.latency_ms, without.latency_ms);
}

#[test]
fn the_series_has_a_throttled_column_only_when_throttling_is_configured() {
    use loadtest::record::series::{read_csv, SeriesWriter};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sums = Vec::new();
    for sets in [vec![], vec!["downstream.throttle={}".to_string()]] {
        let scn = load_file(Path::new("scenarios/retry-storm.toml"), &sets).unwrap();
        let path = dir.path().join(format!("{}.csv", sets.len()));
        loadtest::sim::run(&scn, 42, SeriesWriter::to_file(&path).unwrap()).expect("runs");
        let header = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().to_string();
        let rows = read_csv(&path).unwrap();
        let throttled: Option<u64> = rows.iter().map(|r| r.failed_throttled).sum();
        sums.push((header.ends_with(",failed_throttled"), throttled));
    }
    assert_eq!(sums, [(false, None), (true, Some(39_349))]);
}
