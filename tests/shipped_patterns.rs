//! The shipped pattern scenarios show what their comments say (issue 9), exact by seed: the circuit breaker and
//! kill switch on the retry storm, the SRE book's retry budget, a metastable collapse after a stall, and KEDA's
//! autoscaler blind to unacked messages.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use tempfile::TempDir;

fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_SERVICEBUS_CONNECTION").env_remove("LOADTEST_AMQP_URL");
    c
}

/// A run of `scenarios/<name>.toml` with `--set` overrides: its summary.json and its folder.
struct Run {
    s: Value,
    dir: std::path::PathBuf,
    _tmp: TempDir,
}

fn run(name: &str, sets: &[&str]) -> Run {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("run");
    let mut cmd = loadtest();
    cmd.arg("run").arg(format!("scenarios/{name}.toml")).arg("--out").arg(&dir).args(["--no-png", "--quiet"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.assert().success();
    let s = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    Run { s, dir, _tmp: tmp }
}

impl Run {
    fn u(&self, path: &str) -> u64 {
        let v = path.split('.').fold(&self.s, |v, k| &v[k]);
        v.as_u64().unwrap_or_else(|| panic!("{path}: {v}"))
    }
    /// (completed, dead-lettered, lost, downstream crashes).
    fn outcome(&self) -> (u64, u64, u64, u64) {
        assert_eq!(self.s["messages"]["accounted"], true);
        (
            self.u("messages.completed"),
            self.u("messages.dead_lettered.total"),
            self.u("messages.lost"),
            self.u("downstream.crashes"),
        )
    }
    /// Sums of timeseries.csv columns over the seconds `from..to`.
    fn sums(&self, from: u64, to: u64, columns: &[&str]) -> Vec<u64> {
        sums(&self.dir, from, to, columns)
    }
}

fn sums(dir: &Path, from: u64, to: u64, columns: &[&str]) -> Vec<u64> {
    let mut r = csv::Reader::from_path(dir.join("timeseries.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let at: Vec<usize> = columns.iter().map(|c| h.iter().position(|x| x == *c).unwrap()).collect();
    let mut out = vec![0; columns.len()];
    for rec in r.records() {
        let rec = rec.unwrap();
        let t: u64 = rec[0].parse().unwrap();
        if (from..to).contains(&t) {
            for (o, i) in out.iter_mut().zip(&at) {
                *o += rec[*i].parse::<u64>().unwrap();
            }
        }
    }
    out
}

#[test]
fn the_breaker_spares_the_storm_and_a_kill_switch_restarting_into_it_does_not() {
    let storm = run("retry-storm", &[]);
    assert_eq!(storm.outcome(), (4_150, 5_850, 0, 104));
    // the breaker alone: calls stop reaching the service while it is down; every message completes
    let breaker = run("circuit-breaker", &["kill_switch=null"]);
    assert_eq!(breaker.outcome(), (10_000, 0, 0, 8));
    assert_eq!(breaker.u("downstream.circuit_breaker_opened"), 36);
    assert_eq!(breaker.u("attempts.downstream_calls"), 11_784);
    assert!(breaker.u("attempts.total") > 5 * breaker.u("attempts.downstream_calls"), "fast failures make no call");
    // with the kill switch as shipped: each restart puts 256 calls at once into a service that falls over above 200
    let both = run("circuit-breaker", &[]);
    assert_eq!(both.outcome(), (3_143, 6_857, 0, 30));
    assert_eq!((both.u("downstream.circuit_breaker_opened"), both.u("consumers.kill_switch_trips")), (124, 124));
    // while the switch has stopped them no replica consumes: the backlog chart's lower panel drops to 0
    assert_eq!((both.u("consumers.min"), both.u("consumers.peak")), (0, 4));
    assert_eq!((breaker.u("consumers.min"), breaker.u("consumers.peak")), (4, 4));
}

#[test]
fn a_ten_percent_retry_budget_holds_retries_to_a_tenth_of_first_attempts_through_the_outage() {
    let b = run("retry-budget", &[]);
    assert_eq!(b.outcome(), (10_000, 0, 0, 0));
    assert_eq!((b.u("attempts.total"), b.u("attempts.budget_rejected")), (28_699, 17_035));
    // the 5-minute outage (30 s .. 330 s): deliveries' first attempts (redeliveries included) against retries
    let columns = ["attempts_first", "attempts_redelivery", "attempts_retry1", "attempts_retry2", "attempts_retry3"];
    let s = b.sums(30, 330, &[&columns[..], &["attempts_retry4plus"]].concat());
    let (first, retries) = (s[0] + s[1], s[2..].iter().sum::<u64>());
    assert_eq!((first, retries), (17_034, 1_664));
    assert!(retries * 10 <= first, "{retries} retries for {first} first attempts");
    // without delayed redelivery each message is tried about 1.1 times: the refused retries go to the error queue
    let no_redelivery = run("retry-budget", &["redelivery.intervals=[]"]);
    assert_eq!(no_redelivery.outcome(), (986, 9_014, 0, 0));
    assert_eq!(no_redelivery.u("attempts.total"), 10_872);
}

#[test]
fn a_stall_leaves_the_service_collapsed_at_high_load_and_not_at_low_load_or_without_the_retry() {
    // goodput, calls offered and messages published over 100 s .. 140 s, long after the 5-s stall at 30 s
    let late = |r: &Run| {
        let s = r.sums(100, 140, &["succeeded", "offered", "published"]);
        (s[0], s[1], s[2])
    };
    let high = run("metastable", &[]);
    assert_eq!(high.outcome(), (2_317, 9_683, 0, 0));
    let (good, offered, published) = late(&high);
    assert_eq!((good, offered, published), (0, 6_310, 3_163));
    assert!(offered > 19 * published / 10, "the retry doubles the load on a service that serves nothing");
    assert_eq!(high.u("messages.duplicates"), 5_874, "work done for callers that had given up");

    let low = run("metastable", &["producers.rate={ shape = \"poisson\", per_second = 30 }"]);
    let (good, offered, published) = late(&low);
    assert_eq!(low.outcome(), (11_729, 271, 0, 0));
    assert_eq!((good, offered, published), (1_187, 1_185, 1_185));

    // dropping abandoned work is not enough while the retry doubles the load: still far below the load
    let cancel = run("metastable", &["downstream.on_timeout=cancel"]);
    let (good, _, published) = late(&cancel);
    assert_eq!((good, published), (672, 3_163));
    // without the retry the sustaining effect is gone: the service catches up
    let no_retry = run("metastable", &["retry.policy=\"none\""]);
    let (good, _, published) = late(&no_retry);
    assert_eq!((good, published), (3_162, 3_163));
}

#[test]
fn keda_counting_ready_messages_only_scales_out_less_than_the_backlog_needs() {
    let ready_only = run("autoscale", &[]);
    let with_unacked = run("autoscale", &["autoscale.count_unacked=true"]);
    let figures = |r: &Run| {
        (r.u("consumers.min"), r.u("consumers.peak"), r.u("consumers.scale_ups"), r.u("consumers.scale_downs"))
    };
    assert_eq!(figures(&ready_only), (1, 9, 2, 0));
    assert_eq!(figures(&with_unacked), (1, 13, 2, 0));
    let p50 = |r: &Run| r.s["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50(&ready_only) > 3.0 * p50(&with_unacked), "{} vs {}", p50(&ready_only), p50(&with_unacked));
    // scaling never runs ahead of the first poll (30 s) and its replicas' start-up (20 s)
    let consumers_before = sums(&ready_only.dir, 0, 50, &["consumers"])[0];
    assert_eq!(consumers_before, 50, "one replica for the first 50 seconds");
}
