//! The retry storm emerges from the model: without jitter it echoes and dead-letters; with full jitter, on the
//! same seeds, it does not. Asserted from the summaries of the shipped scenarios.

use loadtest::report::{simulate, summary::Summary};
use loadtest::scenario::load_file;
use std::path::Path;

fn run(file: &str, seed: u64, sets: &[&str]) -> Summary {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let scn = load_file(Path::new(file), &sets).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scn, seed).expect("the run completes")
}

const SEEDS: [u64; 4] = [42, 1, 2, 3];

#[test]
fn without_jitter_the_storm_echoes_and_dead_letters_on_every_seed() {
    for seed in SEEDS {
        let s = run("scenarios/retry-storm.toml", seed, &[]);
        let outage_end = s.faults_end_s.unwrap();
        assert_eq!(outage_end, 330.0);
        assert!(
            s.failure_episodes_after_faults >= 2,
            "seed {seed}: {} episodes after the outage",
            s.failure_episodes_after_faults
        );
        assert!(
            s.downstream.crashes >= 2,
            "seed {seed}: the service came back and went down again, {} crashes",
            s.downstream.crashes
        );
        assert!(s.messages.dead_lettered.total > 0, "seed {seed}: messages end in the DLQ");
        assert_eq!(s.messages.dead_lettered.by_reason.get("retries_exhausted"), Some(&s.messages.dead_lettered.total));
        assert!(s.last_failure_s.unwrap() > outage_end + 1800.0, "seed {seed}: the 30-minute redelivery echoes");
        assert_eq!(s.messages.lost, 0);
    }
}

#[test]
fn full_jitter_beats_no_jitter_on_the_same_seeds() {
    for seed in SEEDS {
        let none = run("scenarios/retry-storm.toml", seed, &[]);
        let full = run("scenarios/retry-storm-jitter.toml", seed, &[]);
        let why = format!("seed {seed}: none {none:?}\nfull {full:?}");
        assert!(full.failure_episodes < none.failure_episodes, "fewer failure episodes; {why}");
        assert!(full.downstream.peak_offered_ratio < none.downstream.peak_offered_ratio, "lower peak; {why}");
        assert!(full.last_failure_s.unwrap() < none.last_failure_s.unwrap(), "earlier last failure; {why}");
        assert!(full.messages.dead_lettered.total < none.messages.dead_lettered.total, "fewer dead-lettered; {why}");
        assert!(full.downstream.crashes < none.downstream.crashes, "fewer crashes; {why}");
    }
}

#[test]
fn the_same_mean_control_still_storms_so_the_spreading_is_what_helps() {
    for seed in SEEDS {
        let full = run("scenarios/retry-storm-jitter.toml", seed, &[]);
        let same_mean = run("scenarios/retry-storm-same-mean.toml", seed, &[]);
        assert!(same_mean.downstream.crashes > 2 * full.downstream.crashes, "seed {seed}");
        assert!(same_mean.messages.dead_lettered.total > full.messages.dead_lettered.total, "seed {seed}");
    }
}

#[test]
fn seed_42_gives_these_exact_counts() {
    let s = run("scenarios/retry-storm.toml", 42, &[]);
    let m = &s.messages;
    assert_eq!(
        (m.published, m.completed, m.dead_lettered.total, m.expired, m.in_flight_at_end),
        (10_000, 4150, 5850, 0, 0)
    );
    assert_eq!((s.downstream.crashes, s.failure_episodes, s.attempts.total), (104, 105, 175_029));
    let j = run("scenarios/retry-storm-jitter.toml", 42, &[]);
    assert_eq!((j.messages.completed, j.messages.dead_lettered.total, j.downstream.crashes), (10_000, 0, 10));
}

#[test]
fn too_little_consumer_concurrency_cannot_overload_the_service() {
    // 4 x 8 = 32 calls in flight at most: the backlog drains at capacity and nothing crashes, jitter or not.
    for file in ["scenarios/retry-storm.toml", "scenarios/retry-storm-jitter.toml"] {
        let s = run(file, 42, &["consumers.concurrency=8", "consumers.prefetch=8"]);
        assert_eq!(s.downstream.crashes, 0, "{file}");
        assert_eq!(s.messages.dead_lettered.total, 0, "{file}");
        assert!(s.downstream.peak_in_system <= 32, "{file}: {}", s.downstream.peak_in_system);
    }
}

#[test]
fn every_shipped_scenario_accounts_for_every_message() {
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let scn = load_file(&f, &[]).unwrap_or_else(|e| panic!("{e}"));
        if scn.broker.kind != loadtest::scenario::BrokerKind::Embedded {
            continue; // a real-broker scenario (drain-my-consumers.toml): tests/rabbitmq runs it
        }
        let s = simulate(&scn, scn.seed.unwrap_or(1)).unwrap();
        let m = &s.messages;
        assert_eq!(
            m.published,
            m.completed + m.dead_lettered.total + m.expired + m.lost + m.in_flight_at_end,
            "{}: {m:?}",
            f.display()
        );
        assert_eq!(m.lost, 0, "{}", f.display());
        assert!(m.accounted, "{}", f.display());
        assert_eq!(m.produced, m.published + m.rejected_at_publish, "{}", f.display());
    }
}

#[test]
fn decorrelated_jitter_honours_the_policy_cap() {
    // Before, decorrelated jitter capped at the largest scheduled delay (16 s here): caps 60 s and 10 m gave one
    // identical run (9 crashes, 44,292 attempts). Now each cap gives its own exact result.
    let figures = |cap: &str| {
        let cap = format!("retry.policy.cap={cap}");
        let s = run("scenarios/retry-storm.toml", 42, &["retry.jitter=decorrelated", &cap]);
        (s.messages.completed, s.messages.dead_lettered.total, s.downstream.crashes, s.attempts.total)
    };
    let (short, mid, long) = (figures("4s"), figures("60s"), figures("10m"));
    assert_eq!(short, (10_000, 0, 18, 97_058));
    assert_eq!(mid, (10_000, 0, 6, 35_183));
    assert_eq!(long, (10_000, 0, 5, 33_387));
}
