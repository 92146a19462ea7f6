//! Speed and memory benchmarks (`cargo bench --bench speed`): the figures quoted in the README.
//!
//! - the 10,000-message retry storm in virtual time, engine only and as a whole `loadtest run`;
//! - steady state at 100,000 and 1,000,000 messages: wall time and peak memory (memory must not grow with the
//!   message count: histograms and a streamed CSV, not a list of samples).

use loadtest::report::simulate;
use loadtest::scenario::load_file;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the release binary and returns (wall seconds, peak RSS MiB) from its run.json.
fn run_binary(args: &[&str]) -> (f64, f64) {
    let out = tempfile::TempDir::new().unwrap();
    let t = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("run")
        .args(args)
        .arg("-q")
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(status.success());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("run.json")).unwrap()).unwrap();
    (wall, meta["peak_rss_mb"].as_f64().unwrap_or(f64::NAN))
}

fn main() {
    let storm = load_file(Path::new("scenarios/retry-storm.toml"), &[]).unwrap();
    let times: Vec<f64> = (0..10)
        .map(|_| {
            let t = Instant::now();
            simulate(&storm, 42).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    println!("retry-storm, 10,000 messages, engine only:       median {:.3} s (10 runs)", median(times));

    let runs: Vec<(f64, f64)> = (0..5).map(|_| run_binary(&["scenarios/retry-storm.toml"])).collect();
    let wall = median(runs.iter().map(|r| r.0).collect());
    println!("retry-storm, 10,000 messages, `loadtest run`:    median {wall:.3} s (5 runs, report folder included)");

    for n in ["100000", "1000000"] {
        let set = format!("messages={n}");
        let (wall, rss) = run_binary(&["scenarios/steady-state.toml", "--set", &set]);
        println!("steady-state, {n:>9} messages, `loadtest run`: {wall:.2} s, peak RSS {rss:.1} MiB");
    }
}
