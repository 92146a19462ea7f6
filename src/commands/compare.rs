//! `loadtest compare RUN_DIR RUN_DIR... [--out DIR]`: prints the comparison table; with `--out`, also writes
//! comparison.md, comparison.json, the overlay charts (SVG and PNG), comparison.html and the per-run charts it
//! links (runs/<label>/<chart>.svg, on the runs' shared axes).

use crate::cli::CompareArgs;
use crate::compare::{self, html, overlay, table};
use crate::exit::Failure;
use crate::export::{write_file, RunData};

pub fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let mut runs = args
        .runs
        .iter()
        .map(|dir| RunData::load(dir).map_err(|e| Failure::input(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // Every run's charts are drawn on the axes that fit them all (the overlays span the longest run anyway).
    crate::export::shared::Shared::share(&mut runs);
    let c = compare::compare(&runs);
    crate::out!("{}", table::terminal(&c));
    let Some(out) = &args.out else { return Ok(()) };
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
