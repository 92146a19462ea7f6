//! `loadtest compare RUN_DIR RUN_DIR... [--out DIR]`: prints the comparison table; with `--out`, also writes
//! comparison.md, comparison.json, the overlay charts (SVG and PNG), comparison.html and the per-run charts it
//! links (runs/<label>/<chart>.svg, on the runs' shared axes). Runs of `[[subscriptions]]` are compared
//! subscription by subscription, into `subscriptions/<name>/` of the output folder.

use crate::cli::CompareArgs;
use crate::compare::{self, html, overlay, table};
use crate::exit::Failure;
use crate::export::{write_file, RunData};
use std::path::{Path, PathBuf};

pub fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let pubsub: Vec<bool> = args.runs.iter().map(|d| crate::export::pubsub::is_pubsub(d)).collect();
    if !pubsub.contains(&true) {
        return compare_dirs(&args.runs, args.out.as_deref());
    }
    if pubsub.contains(&false) {
        return Err(Failure::input(
            "some of these folders are runs of [[subscriptions]] and some are not; compare pub/sub runs with each \
             other, or pass a subscription's folder (DIR/subscriptions/<name>)",
        ));
    }
    // Runs of [[subscriptions]]: each subscription compared across the runs, into `<out>/subscriptions/<name>/`.
    let names = |d: &Path| -> Result<Vec<String>, Failure> {
        let s = crate::report::read_summary(d).map_err(Failure::input)?;
        Ok(s.subscriptions.into_keys().collect())
    };
    let first = names(&args.runs[0])?;
    for d in &args.runs[1..] {
        if names(d)? != first {
            return Err(Failure::input(format!(
                "{} and {} have different subscriptions ({} vs {}); compare their subscriptions' folders one by one",
                args.runs[0].display(),
                d.display(),
                first.join(", "),
                names(d)?.join(", ")
            )));
        }
    }
    for (k, name) in first.iter().enumerate() {
        let part = Path::new(crate::report::SUBSCRIPTIONS).join(name);
        let dirs: Vec<PathBuf> = args.runs.iter().map(|d| d.join(&part)).collect();
        crate::outln!("{}subscription {name}", if k == 0 { "" } else { "\n" });
        compare_dirs(&dirs, args.out.as_ref().map(|o| o.join(&part)).as_deref())?;
    }
    Ok(())
}

/// Compares report folders of single runs (or of one subscription each).
fn compare_dirs(dirs: &[PathBuf], out: Option<&Path>) -> Result<(), Failure> {
    let mut runs = dirs
        .iter()
        .map(|dir| RunData::load(dir).map_err(|e| Failure::input(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // Every run's charts are drawn on the axes that fit them all (the overlays span the longest run anyway).
    crate::export::shared::Shared::share(&mut runs);
    let c = compare::compare(&runs);
    crate::out!("{}", table::terminal(&c));
    let Some(out) = out else { return Ok(()) };
    let fail = |e: crate::export::ExportError| Failure::input(e.to_string());
    let draw = |e: crate::export::ChartError| Failure::runtime(format!("rendering the comparison: {e}"));
    let mut files = vec![
        ("comparison.md".to_string(), table::markdown(&c).into_bytes()),
        ("comparison.json".to_string(), table::json(&c).into_bytes()),
    ];
    let mut overlays = Vec::new();
    for chart in overlay::charts() {
        let svg = chart.svg(&runs).map_err(draw)?;
        files.push((format!("{}.svg", chart.name()), svg.clone().into_bytes()));
        files.push((format!("{}.png", chart.name()), chart.png(&runs).map_err(draw)?));
        overlays.push(svg);
    }
    let (page, per_run) = html::render(&c, &runs, &overlays).map_err(draw)?;
    files.push(("comparison.html".to_string(), page.into_bytes()));
    files.extend(per_run.into_iter().map(|(name, svg)| (name, svg.into_bytes())));
    for (name, bytes) in files {
        write_file(&out.join(name), &bytes).map_err(fail)?;
    }
    crate::outln!("\ncomparison: {}", out.join("comparison.html").display());
    Ok(())
}
