//! `loadtest run SCENARIO`: load and check the scenario, prepare the report folder, run, write the report.

use crate::cli::RunArgs;
use crate::exit::{Code, Failure};
use crate::record::series::SeriesWriter;
use crate::report::{self, summary::Summary};
use std::path::PathBuf;
use std::time::Instant;

/// A seed for runs whose scenario names none: different every run, always printed and recorded.
pub fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    crate::sim::rng::splitmix64(t ^ (std::process::id() as u64) << 32) % 1_000_000
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB; null elsewhere.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

/// What a finished run left behind.
pub struct Finished {
    pub dir: PathBuf,
    pub summary: Summary,
}

pub fn run(args: &RunArgs) -> Result<Finished, Failure> {
    let mut sets = args.scenario_args.sets.clone();
    sets.extend(super::target::overrides(&args.broker)?);
    let mut scn = crate::scenario::load_file(&args.scenario, &sets).map_err(|e| Failure::input(e.to_string()))?;
    let url_from = super::target::resolve_url(&mut scn)?;
    if !args.quiet {
        for key in scn.inert_keys() {
            crate::errln!(
                "note: {key} applies to broker.semantics = \"servicebus\" only; RabbitMQ semantics ignore it"
            );
        }
    }
    super::target::allow_commands(&scn, &args.broker, args.quiet)?;
    let seed = args.seed.or(scn.seed).unwrap_or_else(fresh_seed);
    scn.seed = Some(seed);
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => report::default_run_dir(&args.reports, &scn.name, seed),
    };
    let existed = dir.exists();
    report::prepare_dir(&dir).map_err(|e| {
        Failure::input(format!("cannot write the report folder {}: {e}; pass --out DIR", dir.display()))
    })?;
    let (error_queue, skipped_queue) = (scn.queue.error_queue(), scn.queue.skipped_queue());
    let series = SeriesWriter::to_file(&dir.join(report::TIMESERIES))
        .and_then(|s| s.with_latency_log(&dir.join(report::HLOG)))
        .and_then(|s| s.with_dead_letters(&dir.join(crate::dlq::record::FILE), error_queue, skipped_queue))
        .map_err(|e| Failure::input(format!("cannot write the report files in {}: {e}", dir.display())))?;
    let broker = super::target::connect(&scn, &args.broker).inspect_err(|_| {
        // Nothing ran: leave no half-written report folder behind.
        drop(std::fs::remove_file(dir.join(report::TIMESERIES)));
        drop(std::fs::remove_file(dir.join(report::HLOG)));
        drop(std::fs::remove_file(dir.join(crate::dlq::record::FILE)));
        if !existed {
            drop(std::fs::remove_dir(&dir));
        }
    })?;
    if !args.quiet {
        let on = match scn.broker.kind {
            crate::scenario::BrokerKind::Embedded if scn.peek_lock().is_some() => {
                "Embedded broker, Service Bus semantics".to_string()
            }
            crate::scenario::BrokerKind::Embedded => format!("{:?} broker", scn.broker.kind),
            crate::scenario::BrokerKind::Servicebus => {
                let conn = scn.broker.url.as_deref().and_then(|u| crate::broker::servicebus::ConnString::parse(u).ok());
                let at = conn.map_or_else(String::new, |c| format!("{}, queue {}", c.place(), scn.queue.name));
                format!(
                    "Azure Service Bus at {at} (connection string from {url_from}), time scale {}",
                    scn.broker.time_scale
                )
            }
            _ => {
                let url = scn.broker.url.as_deref().and_then(|u| crate::amqp_url::AmqpUrl::parse(u).ok());
                let url = url.map_or_else(String::new, |u| u.to_string());
                format!("RabbitMQ at {url} (URL from {url_from}), time scale {}", scn.broker.time_scale)
            }
        };
        crate::errln!("running {} (seed {seed}, {} messages, {on}) ...", scn.name, scn.messages);
    }
    let wall = Instant::now();
    let mut bar = crate::progress::Bar::new(crate::progress::wanted(args.quiet), scn.messages);
    let outcome = crate::sim::run_on(&scn, seed, series, broker, &mut |p| bar.update(p));
    bar.finish();
    let outcome = outcome.map_err(|e| Failure::runtime(e.to_string()))?;
    let wall_s = wall.elapsed().as_secs_f64();
    let hash = report::scenario_hash(&scn);
    let mut summary = Summary::build(&scn, &hash, seed, &outcome);
    if let Some(real) = summary.real_broker.as_mut() {
        report::fault_cost::fill(&dir, real).map_err(|e| Failure::runtime(format!("costing the faults: {e}")))?;
    }
    let meta = serde_json::json!({
        "loadtest_version": env!("CARGO_PKG_VERSION"),
        "started_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "wall_time_s": (wall_s * 1000.0).round() / 1000.0,
        "events": outcome.events,
        "peak_rss_mb": peak_rss_mb(),
        "scenario_file": args.scenario.display().to_string(),
        "overrides": sets.iter().map(|s| crate::secret::mask_set(s)).collect::<Vec<_>>(),
    });
    report::write_files(&dir, &scn.to_toml(), &summary, &outcome.recorded.latency, &meta)
        .map_err(|e| Failure::runtime(format!("writing the report to {} failed: {e}", dir.display())))?;
    crate::export::render_dir(&dir).map_err(|e| Failure::runtime(format!("rendering charts and HTML: {e}")))?;
    if args.quiet {
        crate::outln!("{}", dir.display());
    } else {
        crate::out!("{}", report::table::render(&summary));
        crate::outln!("  wall time    {wall_s:.3} s");
        crate::outln!("report: {}", dir.display());
    }
    if let Some(real) = &summary.real_broker {
        ended_badly(real, &dir)?;
    }
    stopped_early(&summary, &dir)?;
    Ok(Finished { dir, summary })
}

/// A run on a real broker that failed or was interrupted still wrote its report; its exit code says so.
fn ended_badly(real: &crate::broker::real::RealReport, dir: &std::path::Path) -> Result<(), Failure> {
    let at = dir.display();
    if let Some(why) = real.ended_by.strip_prefix("failed: ") {
        return Err(Failure::runtime(format!("the run failed: {why} (report written to {at})")));
    }
    if real.ended_by.starts_with("interrupted") {
        let code = signal_code(&real.ended_by);
        return Err(Failure { code, message: format!("{} (report written to {at})", real.ended_by) });
    }
    Ok(())
}

/// A run that a `[limits]` bound (exit 3) or a signal (128 + signal) stopped still wrote its complete report.
fn stopped_early(summary: &Summary, dir: &std::path::Path) -> Result<(), Failure> {
    let Some(stop) = &summary.stopped_by else { return Ok(()) };
    let code = if stop.cause.starts_with("limits.") { Code::Runtime } else { signal_code(&stop.cause) };
    Err(Failure { code, message: format!("{} (report written to {})", stop.message, dir.display()) })
}

fn signal_code(what: &str) -> Code {
    if what.contains("SIGTERM") {
        Code::Sigterm
    } else if what.contains("SIGHUP") {
        Code::Sighup
    } else {
        Code::Sigint
    }
}
