//! What writing `latency.hlog` costs a run: the retry storm (10,000 messages, ~4,600 s of scenario time) recorded
//! with and without the interval log, interleaved so machine noise hits both alike. `cargo bench --bench hlog`.

use loadtest::record::series::SeriesWriter;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let file = args.first().map_or("scenarios/retry-storm.toml", String::as_str);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let path = std::path::Path::new(file);
    let scn = loadtest::scenario::load_file(path, &[]).expect("the shipped scenario loads");
    let dir = tempfile::TempDir::new().expect("temp dir");
    let run = |hlog: bool| -> Duration {
        let series = SeriesWriter::to_file(&dir.path().join("timeseries.csv")).expect("csv");
        let series =
            if hlog { series.with_latency_log(&dir.path().join("latency.hlog")).expect("hlog") } else { series };
        let t = Instant::now();
        loadtest::sim::run(&scn, scn.seed.unwrap_or(1), series).expect("runs");
        t.elapsed()
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        without.push(run(false));
        with.push(run(true));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut without), median(&mut with));
    let intervals = std::fs::read_to_string(dir.path().join("latency.hlog"))
        .map_or(0, |t| t.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count());
    println!("{file}, {rounds} rounds, median wall time per run:");
    println!("  csv only          {:8.2} ms", a.as_secs_f64() * 1e3);
    println!("  csv + latency.hlog {:7.2} ms  ({intervals} intervals)", b.as_secs_f64() * 1e3);
    println!(
        "  cost              {:+8.2} ms ({:+.1}%)",
        (b.as_secs_f64() - a.as_secs_f64()) * 1e3,
        (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0
    );
}
