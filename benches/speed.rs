//! Speed and memory benchmarks (`cargo bench --bench speed`): the figures of the README's benchmark table.
//!
//! For steady state (10,000 / 1,000,000 / 10,000,000 messages) and the retry storm (10,000 / 1,000,000):
//! - the engine alone, in process, with no report: wall time, events per second, nanoseconds per message;
//! - the event-queue floor, measured in the same run: a std `BinaryHeap` push+pop of an entry of the engine's
//!   event size at the engine's mean number of pending events, times the events the engine handled per message;
//! - the whole `loadtest run` of the release binary (report folder included): wall time, and peak RSS of the
//!   whole process (`wait4`) and of the simulation before the report (run.json's `peak_rss_mb`).
//!
//! `cargo bench --bench speed -- --quick` leaves out the 10,000,000-message steady state and the 1,000,000 storm.

use loadtest::record::series::SeriesWriter;
use loadtest::scenario::load_file;
use loadtest::sim::events::Ev;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// An entry of the engine's event heap: due time, insertion order, event (the same size and ordering).
struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Nanoseconds per push+pop on a std `BinaryHeap` holding `len` entries: each step takes the earliest event and
/// schedules one a random delay after it, as a discrete-event loop does (median of 5 rounds).
fn heap_floor_ns(len: usize) -> f64 {
    let len = len.max(1);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut heap = BinaryHeap::with_capacity(len + 1);
    let mut seq = 0;
    for _ in 0..len {
        seq += 1;
        heap.push(Entry { at: rand() % 1_000_000_000, seq, ev: Ev::Publish });
    }
    let steps = 4_000_000;
    let rounds: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..steps {
                let e = heap.pop().expect("never empty");
                seq += 1;
                let ev = Ev::LocalDone { consumer: e.seq as u32, slot: 1, token: 2 };
                heap.push(Entry { at: e.at + rand() % 1_000_000_000, seq, ev });
                black_box(&e.ev);
            }
            t.elapsed().as_nanos() as f64 / steps as f64
        })
        .collect();
    median(rounds)
}

/// Runs the release binary and returns (wall seconds, peak RSS MiB of the simulation from its run.json, peak RSS
/// MiB of the whole process, rendering included, from `wait4`).
#[allow(clippy::zombie_processes)] // the child is reaped by `wait4`, which also gives its peak RSS
fn run_binary(args: &[&str]) -> (f64, f64, f64) {
    let out = tempfile::TempDir::new().unwrap();
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("run")
        .args(args)
        .arg("-q")
        .arg("--out")
        .arg(out.path().join("run"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child; `status` and `usage` are valid for writes.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = t.elapsed().as_secs_f64();
    assert!(pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "loadtest run failed");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("run/run.json")).unwrap()).unwrap();
    let sim = meta["peak_rss_mb"].as_f64().unwrap_or(f64::NAN);
    (wall, sim, usage.ru_maxrss as f64 / 1024.0)
}

struct Case {
    name: &'static str,
    file: &'static str,
    messages: u64,
    /// Engine runs (the median is taken) and whole runs.
    rounds: usize,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let cases = [
        Case { name: "steady state", file: "scenarios/steady-state.toml", messages: 10_000, rounds: 9 },
        Case { name: "steady state", file: "scenarios/steady-state.toml", messages: 1_000_000, rounds: 3 },
        Case { name: "steady state", file: "scenarios/steady-state.toml", messages: 10_000_000, rounds: 1 },
        Case { name: "retry storm", file: "scenarios/retry-storm.toml", messages: 10_000, rounds: 9 },
        Case { name: "retry storm", file: "scenarios/retry-storm.toml", messages: 1_000_000, rounds: 1 },
    ];
    println!("event size {} bytes (heap entry {} bytes)", std::mem::size_of::<Ev>(), std::mem::size_of::<Entry>());
    let mut rows = Vec::new();
    for c in cases.iter().filter(|c| !quick || c.messages <= 1_000_000 && c.rounds > 1) {
        let set = format!("messages={}", c.messages);
        let scn = load_file(Path::new(c.file), std::slice::from_ref(&set)).expect("the shipped scenario loads");
        let seed = scn.seed.unwrap_or(1);
        let mut outcome = None;
        let engine: Vec<f64> = (0..c.rounds)
            .map(|_| {
                let t = Instant::now();
                let o = loadtest::sim::run(&scn, seed, SeriesWriter::discard()).expect("runs");
                let s = t.elapsed().as_secs_f64();
                outcome = Some(o);
                s
            })
            .collect();
        let o = outcome.expect("at least one round");
        let engine = median(engine);
        let per_msg = o.events as f64 / c.messages as f64;
        let op = heap_floor_ns(o.mean_queue_len.round() as usize);
        let floor = op * per_msg;
        let ns_msg = engine * 1e9 / c.messages as f64;
        let whole: Vec<(f64, f64, f64)> = (0..c.rounds.min(5)).map(|_| run_binary(&[c.file, "--set", &set])).collect();
        let wall = median(whole.iter().map(|r| r.0).collect());
        let sim_rss = whole.iter().map(|r| r.1).fold(f64::NAN, f64::max);
        let rss = whole.iter().map(|r| r.2).fold(f64::NAN, f64::max);
        println!(
            "{} {}: engine {engine:.3} s, {} events ({per_msg:.2}/msg, {:.2} M/s), {ns_msg:.0} ns/msg; \
             floor {op:.1} ns per push+pop at {:.0} pending ({:.1} in the heap) = {floor:.0} ns/msg ({:.2}x); \
             whole run {wall:.3} s ({:.2}x engine), peak RSS {rss:.1} MiB (simulation {sim_rss:.1} MiB)",
            c.name,
            c.messages,
            o.events,
            o.events as f64 / engine / 1e6,
            o.mean_queue_len,
            o.mean_heap_len,
            ns_msg / floor,
            wall / engine,
        );
        rows.push(format!(
            "| {} | {} | {:.2} M | {ns_msg:.0} ns / {floor:.0} ns ({:.2}x) | {wall:.2} s / {engine:.2} s ({:.2}x) | {rss:.1} MiB | {sim_rss:.1} MiB |",
            c.name,
            thousands(c.messages),
            o.events as f64 / engine / 1e6,
            ns_msg / floor,
            wall / engine,
        ));
    }
    println!();
    println!(
        "| workload | messages | engine events/s | per message: engine / floor | whole run / engine | peak RSS | \
         of which the simulation |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
