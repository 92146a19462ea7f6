//! A bounded property test of the scenario loader and the engine (run in CI): mutants of every shipped scenario
//! (values swapped for extremes, lines dropped or doubled, keys renamed) either load or are refused with errors,
//! never a panic; every accepted one runs to an end under a small event budget and gives a summary without nulls
//! where numbers belong. A sample of them goes through the command line, which must exit 0, 2 or 3 and leave a
//! folder that `loadtest report` reads.

use loadtest::record::series::SeriesWriter;
use loadtest::scenario::{load_str, BrokerKind};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Mutants per shipped scenario in the library pass, and through the command line.
const MUTANTS: usize = 100;
const CLI_MUTANTS: usize = 5;

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "1e-320",
    "1e308",
    "4294967295",
    "9223372036854775807",
    "0.5",
    "\"0s\"",
    "\"1ns\"",
    "\"1000000h\"",
    "\"\"",
    "[]",
    "{}",
    "true",
    "\"none\"",
    "nan",
    "inf",
    "\"x\"",
    "\"999999999d\"",
];

fn mutate(text: &str, rng: &mut StdRng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..rng.random_range(1..=3) {
        if lines.is_empty() {
            break;
        }
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..10) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => lines[i] = lines[i].replacen(|c: char| c.is_ascii_lowercase(), "z", 1),
            _ => {
                if let Some(eq) = lines[i].find(" = ") {
                    let v = EXTREMES[rng.random_range(0..EXTREMES.len())];
                    lines[i] = format!("{} = {v}", &lines[i][..eq]);
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

fn shipped() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir("scenarios")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// Small bounds so that every accepted mutant ends quickly, whatever it asks for.
const BUDGET: &[&str] = &["limits.max_events=20000", "limits.max_scenario_time=\"2h\""];

#[test]
fn mutated_scenarios_load_or_are_refused_and_every_accepted_one_runs_to_an_end() {
    let sets: Vec<String> = BUDGET.iter().map(|s| s.to_string()).collect();
    let mut rng = StdRng::seed_from_u64(8);
    let (mut accepted, mut refused, mut ran) = (0, 0, 0);
    for (path, text) in shipped() {
        for _ in 0..MUTANTS {
            let mutant = mutate(&text, &mut rng);
            let loaded = std::panic::catch_unwind(|| load_str(&mutant, &path, &sets));
            let Ok(result) = loaded else { panic!("the loader panicked on a mutant of {path}:\n{mutant}") };
            let scn = match result {
                Ok(s) => s,
                Err(e) => {
                    assert!(!e.errors.is_empty(), "refused without a reason:\n{mutant}");
                    refused += 1;
                    continue;
                }
            };
            accepted += 1;
            if scn.broker.kind != BrokerKind::Embedded {
                continue; // a real broker: its runs are the RabbitMQ tests' business
            }
            let outcome = std::panic::catch_unwind(|| loadtest::sim::run(&scn, 1, SeriesWriter::discard()));
            let Ok(Ok(outcome)) = outcome else { panic!("a run of this mutant of {path} failed:\n{mutant}") };
            let summary = loadtest::report::summary::Summary::build(&scn, "sha256:x", 1, &outcome);
            let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
            assert!(json["downstream"]["capacity_per_s"].is_number(), "capacity is not a number:\n{mutant}");
            assert!(outcome.events <= 20_000 + 1, "the event budget was passed:\n{mutant}");
            ran += 1;
        }
    }
    // The mutants cover both sides: a mutator that only breaks files (or never does) tests nothing.
    assert!(refused > 100 && accepted > 100 && ran > 50, "accepted {accepted}, refused {refused}, ran {ran}");
}

#[test]
fn mutants_through_the_command_line_exit_0_2_or_3_with_a_readable_folder() {
    let tmp = tempfile::TempDir::new().unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let mut n = 0;
    for (path, text) in shipped() {
        for _ in 0..CLI_MUTANTS {
            n += 1;
            let file = tmp.path().join(format!("m{n}.toml"));
            let mutant = mutate(&text, &mut rng);
            std::fs::write(&file, &mutant).unwrap();
            let out = tmp.path().join(format!("out{n}"));
            let mut cmd = assert_cmd::Command::cargo_bin("loadtest").unwrap();
            cmd.env_remove("LOADTEST_SERVICEBUS_CONNECTION").args(["run", "-q", "--seed", "1", "--broker", "embedded"]);
            for s in BUDGET {
                cmd.args(["--set", s]);
            }
            let o = cmd.arg(&file).arg("--out").arg(&out).output().unwrap();
            let code = o.status.code();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(matches!(code, Some(0 | 2 | 3)), "mutant of {path}: exit {code:?}\n{err}\n{mutant}");
            if code == Some(2) {
                assert!(!out.join("summary.json").exists(), "exit 2 but a report was written: {err}");
            } else if out.join("summary.json").exists() {
                let r = assert_cmd::Command::cargo_bin("loadtest").unwrap().arg("report").arg(&out).output().unwrap();
                assert!(r.status.success(), "mutant of {path}: report failed: {}", String::from_utf8_lossy(&r.stderr));
            }
        }
    }
    assert!(n >= 15, "only {n} mutants ran through the command line");
}
