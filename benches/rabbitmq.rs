//! RabbitMQ throughput and latency benchmark: the bare lapin loop against `loadtest` on the same settings,
//! alternating run by run (`cargo bench --bench rabbitmq -- [--messages N] [--steady-messages N] [--rounds R]
//! [--only bare]`): max rate on a classic and a quorum queue, then a steady 2,000 msg/s; one line per run, then the
//! medians and loadtest's share of the bare loop. Needs a RabbitMQ on `--url` (default guest@127.0.0.1:5672); skips,
//! exiting 0, when none answers within 3 s.

#[path = "rabbitmq/bare.rs"]
mod bare;
#[path = "rabbitmq/harness.rs"]
mod harness;

use std::process::ExitCode;
use std::time::Duration;

/// 100 B persistent messages, 1,000 confirms outstanding, 4 consumers with prefetch 50.
const SIZE: usize = 100;
const WINDOW: usize = 1000;
const CONSUMERS: u32 = 4;
const PREFETCH: u16 = 50;
const STEADY_RATE: f64 = 2000.0;

struct Args {
    url: String,
    messages: u64,
    steady_messages: u64,
    only: Option<String>,
    rounds: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
        messages: 100_000,
        steady_messages: 20_000,
        only: None,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        let count = |v: String| v.parse::<u64>().map_err(|e| format!("{arg} {v}: {e}"));
        match arg.as_str() {
            "--bench" => {} // cargo bench passes it to every bench binary
            "--url" => args.url = value()?,
            "--messages" => args.messages = count(value()?)?,
            "--steady-messages" => args.steady_messages = count(value()?)?,
            "--only" => args.only = Some(value()?),
            "--rounds" => args.rounds = count(value()?)?.clamp(1, 100) as u32,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    match args.only.as_deref() {
        None | Some("bare") => Ok(args),
        Some(other) => Err(format!("--only {other:?}: the benchmarks are: bare")),
    }
}

fn median(mut v: Vec<bare::BareResult>, key: impl Fn(&bare::BareResult) -> f64) -> Option<bare::BareResult> {
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let mid = v.len().checked_sub(1)? / 2;
    Some(v.swap_remove(mid))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rabbitmq bench: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = bare::probe(&args.url, Duration::from_secs(3)) {
        println!("rabbitmq bench skipped: no RabbitMQ at {}: {e:#}", args.url);
        return ExitCode::SUCCESS;
    }
    let (url, n, steady_n) = (args.url.as_str(), args.messages, args.steady_messages);
    let with_loadtest = args.only.is_none();
    type Run<'a> = (&'a str, &'a str, Box<dyn Fn() -> anyhow::Result<bare::BareResult> + 'a>);
    let mut runs: Vec<Run> = Vec::new();
    for (case, queue_type) in [("max rate, classic", "classic"), ("max rate, quorum", "quorum")] {
        runs.push((
            case,
            "bare",
            Box::new(move || bare::max_rate(url, queue_type, n, SIZE, WINDOW, CONSUMERS, PREFETCH)),
        ));
        if with_loadtest {
            runs.push((case, "loadtest", Box::new(move || harness::run(url, queue_type, 10_000_000.0, n, true))));
        }
    }
    let steady = "steady 2000/s, classic";
    runs.push((
        steady,
        "bare",
        Box::new(move || bare::steady(url, "classic", STEADY_RATE, steady_n, SIZE, WINDOW, CONSUMERS, PREFETCH)),
    ));
    if with_loadtest {
        runs.push((steady, "loadtest", Box::new(move || harness::run(url, "classic", STEADY_RATE, steady_n, false))));
    }
    // Alternate the two, round after round, so that the machine's drift hits both alike; report medians.
    let mut results: std::collections::BTreeMap<(&str, &str), Vec<bare::BareResult>> = Default::default();
    let mut failed = false;
    for round in 1..=args.rounds {
        for (case, who, run) in &runs {
            match run() {
                Ok(result) => {
                    println!("round {round}  {who:<8} {case:<24} {result}");
                    results.entry((case, who)).or_default().push(result);
                }
                Err(e) => {
                    println!("round {round}  {who:<8} {case:<24} FAILED: {e:#}");
                    failed = true;
                }
            }
        }
    }
    println!("\nmedians over {} rounds (loadtest / bare):", args.rounds);
    let cases: Vec<&str> = runs.iter().map(|(c, _, _)| *c).fold(Vec::new(), |mut v, c| {
        if !v.contains(&c) {
            v.push(c);
        }
        v
    });
    for case in cases {
        let get = |who: &str| results.get(&(case, who)).cloned().unwrap_or_default();
        let (b, l) = (get("bare"), get("loadtest"));
        let tput = |v: &Vec<bare::BareResult>| median(v.clone(), |r| r.msgs_per_s);
        let p99 = |v: &Vec<bare::BareResult>| median(v.clone(), |r| r.p99_ms);
        let cpu = |v: &Vec<bare::BareResult>| median(v.clone(), |r| r.cpu_us_per_msg);
        if let (Some(bt), Some(bp), Some(bc)) = (tput(&b), p99(&b), cpu(&b)) {
            print!(
                "  {case:<24} bare {:>7.0} msg/s p99 {:>7.2} ms cpu {:>5.1} us/msg",
                bt.msgs_per_s, bp.p99_ms, bc.cpu_us_per_msg
            );
            if let (Some(lt), Some(lp), Some(lc)) = (tput(&l), p99(&l), cpu(&l)) {
                print!(
                    "  | loadtest {:>7.0} msg/s ({:.0}%) p99 {:>7.2} ms ({:.2}x) cpu {:>5.1} us/msg",
                    lt.msgs_per_s,
                    100.0 * lt.msgs_per_s / bt.msgs_per_s,
                    lp.p99_ms,
                    lp.p99_ms / bp.p99_ms,
                    lc.cpu_us_per_msg
                );
            }
            println!();
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
