//! `loadtest run` of a scenario with `[[subscriptions]]`: each subscription runs the same producers' messages
//! (same seed, same arrivals) on a queue of its own into `subscriptions/<name>/`, a complete report folder; the
//! folder's own `summary.json` then holds the run as a whole and every subscription's summary
//! (`report::pubsub`), and its `index.html` puts the subscriptions side by side (`export::pubsub`).

use super::run::{Done, Prepared};
use crate::cli::RunArgs;
use crate::exit::Failure;
use crate::report;
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
    if !args.quiet {
        crate::errln!(
            "running {} (seed {}, {} messages, {n} subscriptions on the embedded broker) ...",
            scn.name,
            prep.seed,
            scn.messages
        );
    }
    // Each subscription's run is quiet: this command speaks for the whole.
    let one = RunArgs { quiet: true, live: false, no_live: true, json: false, summary_export: None, ..args.clone() };
    let mut subs = Vec::new();
    let mut early = None;
    for (k, sub) in scn.subscriptions.iter().enumerate() {
        let part = Path::new(report::SUBSCRIPTIONS).join(&sub.name);
        if !args.quiet {
            crate::errln!("  subscription {} of {n}: {} (queue {}) ...", k + 1, sub.name, sub.queue.name);
        }
        let p = Prepared { scn: scn.for_subscription(sub), dir: shown.join(&part), sets: prep.sets.clone(), ..prep };
        let done = super::run::execute(&one, p, &into.join(&part), &shown.join(&part))?;
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
    let page = crate::export::pubsub::page(into, &summary, scn)
        .map_err(|e| Failure::runtime(format!("rendering the subscriptions' page: {e}")))?;
    write(crate::export::INDEX_HTML, &page)?;
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
