//! `loadtest run SCENARIO`: load and check the scenario, stage the report folder, run, write the report, and move
//! it into place (see `report::stage`).

use crate::cli::RunArgs;
use crate::exit::{Code, Failure};
use crate::record::series::SeriesWriter;
use crate::report::{self, stage::Stage, summary::Summary};
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};
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

/// What a finished run left behind. `lock` keeps other runs out of `dir` until it is dropped.
pub struct Finished {
    pub dir: PathBuf,
    pub summary: Summary,
    pub lock: report::stage::Lock,
}

/// A checked scenario, ready to run.
pub struct Prepared {
    pub(super) scn: Scenario,
    pub(super) sets: Vec<String>,
    pub(super) seed: u64,
    pub(super) url_from: &'static str,
    /// The report folder the user asked for (or the default one).
    pub dir: PathBuf,
}

/// A run whose report is written.
pub struct Done {
    pub summary: Summary,
    pub(super) wall_s: f64,
    /// The run ended early (a signal, a `[limits]` bound, a real broker's failure): its report is written all the
    /// same, and this is the exit code and message to end with.
    pub early: Option<Failure>,
    /// A scenario with `[[subscriptions]]`: their names in the scenario's order (empty otherwise).
    pub(super) subscriptions: Vec<String>,
}

/// One run into its own report folder.
pub fn run(args: &RunArgs) -> Result<Finished, Failure> {
    let prep = prepare(args)?;
    let stage = Stage::begin(&prep.dir)?;
    let dir = stage.dir().to_path_buf();
    let done = execute(args, prep, stage.path(), &dir)?;
    let lock = stage.commit()?;
    if args.out.is_none() {
        super::runs::mark_latest(&dir);
    }
    if args.quiet || args.json || streams_to_stdout(args) {
        for w in done.summary.warnings() {
            crate::errln!("warning: {w}");
        }
    }
    if args.quiet {
        crate::outln!("{}", dir.display());
    } else if !args.json && !streams_to_stdout(args) {
        if done.subscriptions.is_empty() {
            crate::out!("{}", report::table::render(&done.summary));
        } else {
            crate::out!("{}", super::pubsub::table(&done.summary, &done.subscriptions));
        }
        crate::outln!("  wall time    {:.3} s", done.wall_s);
        crate::outln!("report: {}", dir.display());
    }
    let emitted = emit(args, &dir);
    match done.early {
        Some(f) => Err(f),
        None => emitted.map(|()| Finished { dir, summary: done.summary, lock }),
    }
}

/// `--output ndjson[=PATH]`: where the per-second stream goes (stdout, or a file), checked before anything runs.
fn ndjson_sink(args: &RunArgs) -> Result<Option<Box<dyn std::io::Write>>, Failure> {
    let Some(spec) = args.output.as_deref() else { return Ok(None) };
    match spec.split_once('=') {
        None if spec == "ndjson" => {
            if args.json || args.quiet {
                return Err(Failure::input("--output ndjson streams on stdout: it cannot go with --json or -q there; write it to a file with --output ndjson=PATH"));
            }
            Ok(Some(Box::new(std::io::LineWriter::new(std::io::stdout()))))
        }
        Some(("ndjson", path)) if !path.is_empty() => {
            let f = std::fs::File::create(path).map_err(|e| Failure::input(format!("--output ndjson={path}: {e}")))?;
            Ok(Some(Box::new(std::io::BufWriter::new(f))))
        }
        _ => Err(Failure::input(format!("--output {spec}: write --output ndjson (stdout) or --output ndjson=PATH"))),
    }
}

/// Whether the per-second stream has stdout, so the table is not printed there.
fn streams_to_stdout(args: &RunArgs) -> bool {
    args.output.as_deref() == Some("ndjson")
}

/// `--json` and `--summary-export`: the folder's summary.json itself, so both are byte for byte the file.
pub fn emit(args: &RunArgs, dir: &Path) -> Result<(), Failure> {
    if !args.json && args.summary_export.is_none() {
        return Ok(());
    }
    let file = dir.join(report::SUMMARY);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Failure::runtime(format!("reading {} back failed: {e}", file.display())))?;
    if let Some(path) = &args.summary_export {
        // Written aside and renamed: a reader never sees half a file.
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            path.file_name().map_or("summary".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
            drop(std::fs::remove_file(&tmp));
            Failure::input(format!("--summary-export {}: {e}", path.display()))
        })?;
    }
    if args.json {
        crate::out!("{text}");
    }
    Ok(())
}

/// Loads and checks the scenario and says where its report goes; nothing is written yet.
pub fn prepare(args: &RunArgs) -> Result<Prepared, Failure> {
    let mut sets = args.scenario_args.all_sets();
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
    Ok(Prepared { scn, sets, seed, url_from, dir })
}

/// Runs `prep` and writes its report into `into`; messages name `shown`, where the report will be. An error means
/// there is no report (the caller removes the folder); a run that ended early returns its report with `early`.
pub fn execute(args: &RunArgs, prep: Prepared, into: &Path, shown: &Path) -> Result<Done, Failure> {
    if !prep.scn.subscriptions.is_empty() {
        return super::pubsub::execute(args, prep, into, shown);
    }
    let Prepared { scn, sets, seed, url_from, .. } = prep;
    let listen = args.metrics_listen.as_deref().map(crate::metrics::serve::bind).transpose()?;
    report::prepare_dir(into).map_err(|e| {
        Failure::input(format!("cannot write the report folder {}: {e}; pass --out DIR", shown.display()))
    })?;
    let (error_queue, skipped_queue) = (scn.queue.error_queue(), scn.queue.skipped_queue());
    let series = SeriesWriter::to_file(&into.join(report::TIMESERIES))
        .and_then(|s| s.with_latency_log(&into.join(report::HLOG)))
        .and_then(|s| s.with_dead_letters(&into.join(crate::dlq::record::FILE), error_queue, skipped_queue))
        .map_err(|e| Failure::input(format!("cannot write the report files in {}: {e}", shown.display())))?;
    let series = match ndjson_sink(args)? {
        Some(w) => series.with_ndjson(w),
        None => series,
    };
    let real_clock = scn.broker.kind != crate::scenario::BrokerKind::Embedded
        || scn.broker.clock == crate::scenario::ClockKind::Real;
    let live = crate::live::wanted(args.live, args.no_live, args.quiet, real_clock);
    let series = if live { series.with_watcher(crate::live::printer()) } else { series };
    let mut server = None;
    let series = match listen {
        Some(bound) => {
            let metrics = crate::metrics::Metrics::new(&scn.name, args.broker.run_id.as_deref());
            let addr = bound.addr;
            server = Some(bound.serve(metrics.registry())?);
            if !args.quiet {
                crate::errln!("metrics: http://{addr}/metrics");
            }
            series.with_watcher(Box::new(move |row| metrics.observe(row)))
        }
        None => series,
    };
    let broker = super::target::connect(&scn, &args.broker)?;
    if !args.quiet {
        crate::errln!("running {} (seed {seed}, {} messages, {}) ...", scn.name, scn.messages, on(&scn, url_from));
    }
    let wall = Instant::now();
    tracing::info!(scenario = %scn.name, seed, messages = scn.messages, broker = ?scn.broker.kind, dir = %shown.display(), "run starting");
    let mut bar = crate::progress::Bar::new(!live && crate::progress::wanted(args.quiet), scn.messages);
    let outcome = crate::sim::run_on(&scn, seed, series, broker, &mut |p| bar.update(p));
    bar.finish();
    let outcome = outcome.map_err(|e| Failure::runtime(e.to_string()))?;
    let wall_s = wall.elapsed().as_secs_f64();
    tracing::info!(
        published = outcome.recorded.published,
        completed = outcome.recorded.completed,
        scenario_s = outcome.end as f64 / 1e9,
        wall_s,
        "run finished"
    );
    let hash = report::scenario_hash(&scn);
    let mut summary = Summary::build(&scn, &hash, seed, &outcome);
    if let Some(real) = summary.real_broker.as_mut() {
        report::fault_cost::fill(into, real).map_err(|e| Failure::runtime(format!("costing the faults: {e}")))?;
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
    let t = Instant::now();
    report::write_files(into, &scn.to_toml(), &summary, &outcome.recorded.latency, &meta)
        .map_err(|e| Failure::runtime(format!("writing the report to {} failed: {e}", shown.display())))?;
    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "summary and latency files written");
    let t = Instant::now();
    crate::export::render_dir(into, !args.no_png)
        .map_err(|e| Failure::runtime(format!("rendering charts and HTML: {e}")))?;
    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "charts, page and metrics.prom rendered");
    if let Some(server) = server {
        server.stop();
    }
    let early = match &summary.real_broker {
        Some(real) => ended_badly(real, shown),
        None => None,
    };
    let early = early.or_else(|| stopped_early(&summary, shown));
    Ok(Done { summary, wall_s, early, subscriptions: Vec::new() })
}

/// Where the run goes, for the start-up line.
pub(super) fn on(scn: &Scenario, url_from: &str) -> String {
    match scn.broker.kind {
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
    }
}

/// A run on a real broker that failed or was interrupted still wrote its report; its exit code says so.
fn ended_badly(real: &crate::broker::real::RealReport, dir: &Path) -> Option<Failure> {
    let at = dir.display();
    if let Some(why) = real.ended_by.strip_prefix("failed: ") {
        return Some(Failure::runtime(format!("the run failed: {why} (report written to {at})")));
    }
    if real.ended_by.starts_with("interrupted") {
        let code = signal_code(&real.ended_by);
        return Some(Failure { code, message: format!("{} (report written to {at})", real.ended_by) });
    }
    None
}

/// A run that a `[limits]` bound (exit 3) or a signal (128 + signal) stopped still wrote its complete report.
fn stopped_early(summary: &Summary, dir: &Path) -> Option<Failure> {
    let stop = summary.stopped_by.as_ref()?;
    let code = if stop.cause.starts_with("limits.") { Code::Runtime } else { signal_code(&stop.cause) };
    Some(Failure { code, message: format!("{} (report written to {})", stop.message, dir.display()) })
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
