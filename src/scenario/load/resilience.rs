//! `[circuit_breaker]` (Polly v8's keys or MassTransit's, never both for one setting, and its `scope`) and
//! `[kill_switch]` (MassTransit's kill switch), with their reference libraries' defaults.

use super::super::reader::TableReader;
use super::super::*;

/// One setting of the breaker: the Polly v8 key and the MassTransit key that mean it.
struct Spelling {
    polly: &'static str,
    masstransit: &'static str,
}

const SETTINGS: [Spelling; 4] = [
    Spelling { polly: "failure_ratio", masstransit: "trip_threshold" },
    Spelling { polly: "minimum_throughput", masstransit: "active_threshold" },
    Spelling { polly: "sampling", masstransit: "tracking_period" },
    Spelling { polly: "break", masstransit: "reset_interval" },
];

pub(super) fn breaker(mut r: TableReader) -> BreakerCfg {
    for s in &SETTINGS {
        if r.has(s.polly) && r.has(s.masstransit) {
            let at = r.peek(s.polly).and_then(|n| n.line).map_or(String::new(), |l| format!(" (line {l})"));
            let m = format!(
                "`{}` is MassTransit's name for `{}`{at}, which is also set: one setting written twice; keep one of \
                 them",
                r.child(s.masstransit),
                r.child(s.polly)
            );
            r.error(s.masstransit, m);
        }
    }
    let ratio = r.f64_where("failure_ratio", |v| v > 0.0 && v <= 1.0, "must be greater than 0 and at most 1");
    let percent = r.f64_where(
        "trip_threshold",
        |v| v > 0.0 && v <= 100.0,
        "is a percentage (MassTransit's TripThreshold): must be greater than 0 and at most 100",
    );
    let failure_ratio = ratio.or(percent.map(|p| p / 100.0)).unwrap_or(0.1);
    let minimum_throughput = r.u32("minimum_throughput", 1).or(r.u32("active_threshold", 1)).unwrap_or(100);
    let sampling = r.timer("sampling").or(r.timer("tracking_period")).unwrap_or(Dur::from_secs(30));
    let break_for = r.timer("break").or(r.timer("reset_interval")).unwrap_or(Dur::from_secs(5));
    let scope = r.choice("scope", &[BudgetScope::Consumer, BudgetScope::Service]).unwrap_or(BudgetScope::Consumer);
    r.finish();
    BreakerCfg { failure_ratio, minimum_throughput, sampling, break_for, scope }
}

pub(super) fn kill_switch(mut r: TableReader) -> KillSwitchCfg {
    let activation_threshold = r.u32("activation_threshold", 1).unwrap_or(DEFAULT_KILL_ACTIVATION);
    let trip = r.f64_where(
        "trip_threshold",
        |v| v > 0.0 && v <= 1.0,
        "is a fraction of the messages handled (MassTransit's 0.15 is 15%): must be greater than 0 and at most 1",
    );
    let tracking_period = r.timer("tracking_period").unwrap_or(DEFAULT_KILL_TRACKING);
    let restart_timeout = r.timer("restart_timeout").unwrap_or(DEFAULT_KILL_RESTART);
    r.finish();
    KillSwitchCfg {
        activation_threshold,
        trip_threshold: trip.unwrap_or(DEFAULT_KILL_TRIP),
        tracking_period,
        restart_timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{load, problems};
    use super::*;

    #[test]
    fn masstransits_spelling_maps_onto_pollys_and_scope_reads_back() {
        let polly = load(
            "[circuit_breaker]\nfailure_ratio = 0.15\nminimum_throughput = 10\nsampling = \"1m\"\nbreak = \"5m\"\n",
            &[],
        );
        // MassTransit's docs example: TrackingPeriod 1 min, TripThreshold 15 (%), ActiveThreshold 10, ResetInterval 5 min
        let text = "[circuit_breaker]\ntracking_period = \"1m\"\ntrip_threshold = 15\nactive_threshold = 10\n\
                    reset_interval = \"5m\"\n";
        let mt = load(text, &[]).expect("loads");
        assert_eq!(Some(mt.clone()), polly.ok());
        assert_eq!(mt.to_toml(), load(&mt.to_toml(), &[]).unwrap().to_toml());
        assert!(!mt.to_toml().contains("scope"), "the default scope is not written: older hashes stay");
        let s = load("[circuit_breaker]\nscope = \"service\"\n", &[]).expect("loads");
        assert_eq!(s.circuit_breaker.as_ref().map(|b| b.scope), Some(BudgetScope::Service));
        let toml = s.to_toml();
        assert!(toml.contains("break = \"5s\"\nscope = \"service\"\n"), "{toml}");
        assert_eq!(load(&toml, &[]).expect("the resolved scenario loads back"), s);
    }

    #[test]
    fn the_kill_switch_takes_masstransits_defaults_and_reads_back() {
        let s = load("[kill_switch]\n", &[]).expect("loads");
        let want = KillSwitchCfg {
            activation_threshold: 10,
            trip_threshold: 0.15,
            tracking_period: Dur::from_secs(60),
            restart_timeout: Dur::from_secs(60),
        };
        assert_eq!(s.kill_switch, Some(want));
        let toml = s.to_toml();
        assert!(
            toml.contains(
                "[kill_switch]\nactivation_threshold = 10\ntrip_threshold = 0.15\ntracking_period = \"1m\"\n\
                 restart_timeout = \"1m\""
            ),
            "{toml}"
        );
        assert_eq!(load(&toml, &[]).expect("the resolved scenario loads back"), s);
        assert!(!load("", &[]).unwrap().to_toml().contains("kill_switch"));
    }

    #[test]
    fn mixed_spellings_and_bad_values_name_the_keys_the_line_and_the_fix() {
        let text = "[circuit_breaker]\nfailure_ratio = 0.1\ntrip_threshold = 10\nsampling = \"30s\"\n\
                    tracking_period = \"30s\"\nscope = \"global\"\n";
        assert_eq!(
            problems(text, &[]),
            [
                "line 3: `circuit_breaker.trip_threshold` is MassTransit's name for `circuit_breaker.failure_ratio` \
                 (line 2), which is also set: one setting written twice; keep one of them",
                "line 5: `circuit_breaker.tracking_period` is MassTransit's name for `circuit_breaker.sampling` \
                 (line 4), which is also set: one setting written twice; keep one of them",
                "line 6: `circuit_breaker.scope = \"global\"`: expected one of \"consumer\", \"service\"",
            ]
        );
        let text = "[circuit_breaker]\ntrip_threshold = 150\n[kill_switch]\ntrip_threshold = 15\nrestart = \"1m\"\n";
        assert_eq!(
            problems(text, &[]),
            [
                "line 2: `circuit_breaker.trip_threshold = 150`: is a percentage (MassTransit's TripThreshold): must \
                 be greater than 0 and at most 100, got 150",
                "line 4: `kill_switch.trip_threshold = 15`: is a fraction of the messages handled (MassTransit's 0.15 \
                 is 15%): must be greater than 0 and at most 1, got 15",
                "line 5: unknown key `restart` in [kill_switch]; did you mean `restart_timeout`?",
            ]
        );
    }
}
