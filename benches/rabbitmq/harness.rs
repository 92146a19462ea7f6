//! `loadtest` itself on RabbitMQ, measured the way `bare.rs` measures the bare lapin loop: the same settings (100 B
//! persistent messages, 1,000 confirms outstanding, 4 consumers with prefetch 50), the whole engine in between
//! (handler slots, the recorder with every message's latency, the ledger), through the library API.

use super::bare::BareResult;
use loadtest::broker::rabbitmq::{connect, Options};
use loadtest::record::series::SeriesWriter;
use std::time::Instant;

fn scenario(url: &str, queue_type: &str, rate: f64, messages: u64, consumers: u32, prefetch: u16) -> String {
    format!(
        r#"name = "bench"
seed = 1
messages = {messages}
[broker]
kind = "rabbitmq"
url = "{url}"
[queue]
name = "loadtest-bench"
type = "{queue_type}"
[producers]
rate = {{ shape = "constant", per_second = {rate} }}
size = 100
persistent = true
confirm_window = 1000
[consumers]
count = {consumers}
concurrency = {prefetch}
prefetch = {prefetch}
service_time = "0s"
"#
    )
}

fn cpu_s() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// One loadtest run; `raw` reports latency from the actual publish (max rate) instead of the intended time.
pub fn run(url: &str, queue_type: &str, rate: f64, messages: u64, raw: bool) -> anyhow::Result<BareResult> {
    let text = scenario(url, queue_type, rate, messages, 4, 50);
    let scn = loadtest::scenario::load_str(&text, "bench", &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cpu = cpu_s();
    let wall = Instant::now();
    let broker = connect(&scn, &Options::default()).map_err(|e| anyhow::anyhow!(e))?;
    let outcome = loadtest::sim::run_on(&scn, 1, SeriesWriter::discard(), Box::new(broker), &mut |_| {})?;
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_s() - cpu);
    let r = &outcome.recorded;
    anyhow::ensure!(r.completed == messages, "completed {} of {messages}", r.completed);
    let h = if raw { &r.latency_raw } else { &r.latency };
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    // From the clock's start to the last completion: the same span the bare loop times.
    let span = r.last_outcome.unwrap_or(outcome.end) as f64 / 1e9;
    Ok(BareResult {
        messages,
        wall_s: span.min(wall),
        msgs_per_s: messages as f64 / span,
        cpu_us_per_msg: cpu * 1e6 / messages as f64,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: h.max() as f64 / 1000.0,
    })
}
