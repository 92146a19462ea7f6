//! `loadtest run` of a scenario with `[[subscriptions]]`: each subscription runs the same producers' messages
//! (same seed, same arrivals) on a queue of its own into `subscriptions/<name>/`, a complete report folder (on a
//! real broker all at once, each with its own connection and its own copy of the stream); the
//! folder's own `summary.json` then holds the run as a whole and every subscription's summary
//! (`report::pubsub`), and its `index.html` puts the subscriptions side by side (`export::pubsub`).

use super::run::{Done, Prepared};
use crate::cli::RunArgs;
use crate::exit::Failure;
use crate::report;
use crate::scenario::BrokerKind;
use std::path::Path;
use std::time::Instant;

/// Runs every subscription of `prep` into `into/subscriptions/<name>/` and writes the whole run's files.
pub fn execute(args: &RunArgs, prep: Prepared, into: &Path, shown: &Path) -> Result<Done, Failure> {
    if args.output.is_some() || args.metrics_listen.is_some() {
        return Err(Failure::input(
            "--output ndjson and --metrics-listen stream the seconds of one queue; a scenario with \
             [[subscriptions]] writes each subscription's timeseries.csv into subscriptions/<name>/ instead",
        ));
    }
    report::prepare_dir(into).map_err(|e| {
        Failure::input(format!("cannot write the report folder {}: {e}; pass --out DIR", shown.display()))
    })?;
    let wall = Instant::now();
    let (scn, n) = (&prep.scn, prep.scn.subscriptions.len());
    let real = scn.broker.kind != BrokerKind::Embedded;
    if !args.quiet {
        let how = if real { "at the same time, each on its own queue and connection" } else { "one after another" };
        crate::errln!(
            "running {} (seed {}, {} messages, {n} subscriptions {how}, {}) ...",
            scn.name,
            prep.seed,
            scn.messages,
            super::run::on(scn, prep.url_from)
        );
    }
    // Each subscription's run is quiet: this command speaks for the whole. On a real broker they share one run id,
    // so that every queue of the run carries it (`<queue>.<subscription>-<run id>`).
    let mut broker = args.broker.clone();
    if real && broker.run_id.is_none() {
        broker.run_id = Some(crate::broker::rabbitmq::fresh_run_id());
    }
    let one =
        RunArgs { quiet: true, live: false, no_live: true, json: false, summary_export: None, broker, ..args.clone() };
    let parts: Vec<(std::path::PathBuf, Prepared)> = scn
        .subscriptions
        .iter()
        .map(|sub| {
            let part = Path::new(report::SUBSCRIPTIONS).join(&sub.name);
            let p =
                Prepared { scn: scn.for_subscription(sub), dir: shown.join(&part), sets: prep.sets.clone(), ..prep };
            (part, p)
        })
        .collect();
    let run_one =
        |(part, p): (std::path::PathBuf, Prepared)| super::run::execute(&one, p, &into.join(&part), &shown.join(&part));
    let results: Vec<Result<Done, Failure>> = if real {
        // On a real broker the subscriptions consume at the same time, as the services of a fanout do: one thread
        // each (the Ctrl-C handler is installed once, before them).
        crate::sim::interrupt::install()
            .map_err(|e| Failure::runtime(format!("cannot install the Ctrl-C handler: {e}")))?;
        std::thread::scope(|s| {
            let handles: Vec<_> = parts.into_iter().map(|part| s.spawn(move || run_one(part))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Failure::runtime("a subscription's run panicked"))))
                .collect()
        })
    } else {
        let mut out = Vec::new();
        for (k, part) in parts.into_iter().enumerate() {
            if !args.quiet {
                let sub = &scn.subscriptions[k];
                crate::errln!("  subscription {} of {n}: {} (queue {}) ...", k + 1, sub.name, sub.queue.name);
            }
            let done = run_one(part);
            let failed = done.is_err();
            out.push(done);
            if failed {
                break;
            }
        }
        out
    };
    let mut subs = Vec::new();
    let mut early = None;
    for (sub, done) in scn.subscriptions.iter().zip(results) {
        let done = done?;
        early = early.or(done.early);
        subs.push((sub.name.clone(), done.summary));
    }
    let hash = report::scenario_hash(scn);
    let summary = report::pubsub::total(subs, &scn.name, &hash).map_err(Failure::runtime)?;
    let wall_s = wall.elapsed().as_secs_f64();
    let meta = serde_json::json!({
        "loadtest_version": env!("CARGO_PKG_VERSION"),
        "started_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "wall_time_s": (wall_s * 1000.0).round() / 1000.0,
        "scenario_file": args.scenario.display().to_string(),
        "overrides": prep.sets.iter().map(|s| crate::secret::mask_set(s)).collect::<Vec<_>>(),
        "subscriptions": scn.subscriptions.iter().map(|s| format!("{}/{}", report::SUBSCRIPTIONS, s.name)).collect::<Vec<_>>(),
    });
    let write = |file: &str, text: &str| {
        std::fs::write(into.join(file), text)
            .map_err(|e| Failure::runtime(format!("writing {} failed: {e}", shown.join(file).display())))
    };
    write(report::SCENARIO, &scn.to_toml())?;
    write(report::SUMMARY, &summary.to_json())?;
    let mut m = serde_json::to_string_pretty(&meta).unwrap_or_default();
    m.push('\n');
    write(report::RUN_META, &m)?;
    crate::export::pubsub::write(into, &summary, scn)
        .map_err(|e| Failure::runtime(format!("rendering the subscriptions' page: {e}")))?;
    let subscriptions = scn.subscriptions.iter().map(|s| s.name.clone()).collect();
    Ok(Done { summary, wall_s, early, subscriptions })
}

/// The terminal's table of a pub/sub run: each subscription's, in the scenario's order, then the totals.
pub fn table(summary: &report::summary::Summary, order: &[String]) -> String {
    let mut out = String::new();
    for name in order {
        let Some(s) = summary.subscriptions.get(name) else { continue };
        out.push_str(&format!("subscription {name}\n"));
        out.push_str(&report::table::render(s));
    }
    let m = &summary.messages;
    out.push_str(&format!(
        "all {} subscriptions: {} completed, {} dead-lettered, {} lost, {} duplicates; worst p99 {}\n",
        summary.subscriptions.len(),
        m.completed,
        m.dead_lettered.total,
        m.lost,
        m.duplicates,
        report::table::human_ms(summary.latency_ms.p99)
    ));
    out
}
