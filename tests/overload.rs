//! Client-side overload controls through whole runs, exact counts on fixed seeds: retry budgets (gRPC's token
//! bucket, the SRE book's ratio) on the retry storm.

use loadtest::report::{simulate, summary::Summary};
use loadtest::scenario::load_file;
use std::path::Path;

fn storm(sets: &[&str]) -> Summary {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let scn = load_file(Path::new("scenarios/retry-storm.toml"), &sets).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scn, 42).expect("the run completes")
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
