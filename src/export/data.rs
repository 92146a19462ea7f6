//! `RunData`: one finished run as the exporters and `compare` see it, read back from its report folder
//! (summary.json, timeseries.csv, latency.hgrm, scenario.toml), never from the engine.

use super::thin::Series;
use crate::record::series::Row;
use crate::report::{self, check, hgrm, summary::Summary};
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};

/// Everything the charts and pages are drawn from.
#[derive(Clone, Debug)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    /// The per-second rows thinned for drawing (idle seconds the file leaves out put back).
    pub series: Series,
    /// The seconds after the last fault ended, every one on its own (the retry-storm chart's zoom panel).
    pub zoom: Option<Series>,
    /// The page's interactive charts, fed from the same pass over the file.
    pub explore: super::explore::Builder,
    /// Seconds of scenario time the rows cover.
    pub seconds: u64,
    /// The end-to-end latency percentile distribution.
    pub latency: Vec<hgrm::Point>,
    pub scenario: Scenario,
    /// `scenario.toml` as written (the resolved configuration), its `[broker]` masked even if an older or
    /// hand-edited file was not.
    pub scenario_toml: String,
    /// The axes `compare` draws every run's charts on (`Shared::share`); `None` for a run drawn alone.
    pub shared: Option<super::shared::Shared>,
}

/// A report folder, or a file in it, that is missing or cannot be read. The message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct BadReport {
    pub path: PathBuf,
    pub problem: String,
}

fn bad(path: &Path, problem: impl Into<String>) -> BadReport {
    BadReport { path: path.to_path_buf(), problem: problem.into() }
}

fn read(path: &Path) -> Result<String, BadReport> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            bad(path, "missing: is this a loadtest report folder? (`loadtest run` writes one)")
        }
        _ => bad(path, format!("cannot read: {e}")),
    })
}

impl RunData {
    /// Reads a report folder.
    pub fn load(dir: &Path) -> Result<RunData, BadReport> {
        if !dir.is_dir() {
            return Err(bad(dir, "no such report folder (`loadtest run SCENARIO --out DIR` writes one)"));
        }
        let summary_path = dir.join(report::SUMMARY);
        let summary: Summary = report::parse_summary(&read(&summary_path)?).map_err(|e| bad(&summary_path, e))?;
        if !summary.subscriptions.is_empty() {
            let folders: Vec<String> = summary.subscriptions.keys().map(|n| format!("subscriptions/{n}")).collect();
            return Err(bad(
                dir,
                format!(
                    "a report of [[subscriptions]]: each subscription has a report folder of its own ({}); pass one \
                     of those",
                    folders.join(", ")
                ),
            ));
        }
        let csv_path = dir.join(report::TIMESERIES);
        let (series, zoom, explore, seconds) = thin_rows(&csv_path, &summary)?;
        let hgrm_path = dir.join(report::HGRM);
        let hgrm_text = read(&hgrm_path)?;
        let latency = hgrm::parse(&hgrm_text).map_err(|e| bad(&hgrm_path, e))?;
        check::hgrm(&hgrm_text, latency.len(), summary.messages.completed).map_err(|e| bad(&hgrm_path, e))?;
        let scn_path = dir.join(report::SCENARIO);
        let scenario_toml = crate::secret::mask_scenario_toml(&read(&scn_path)?);
        let scenario =
            crate::scenario::load_str(&scenario_toml, &scn_path.display().to_string(), &[]).map_err(|e| {
                let problems: Vec<String> = e.errors.iter().map(|p| p.to_string()).collect();
                bad(&scn_path, format!("not a valid scenario: {}", problems.join("; ")))
            })?;
        Ok(RunData {
            dir: dir.to_path_buf(),
            summary,
            series,
            zoom,
            explore,
            seconds,
            latency,
            scenario,
            scenario_toml,
            shared: None,
        })
    }

    /// A short label for legends: the scenario name, with the seed when `with_seed`.
    pub fn label(&self, with_seed: bool) -> String {
        if with_seed {
            format!("{} (seed {})", self.summary.scenario.name, self.summary.seed)
        } else {
            self.summary.scenario.name.clone()
        }
    }
}

/// Streams `timeseries.csv` into the drawn series: the whole run thinned, the zoom window's seconds on their own,
/// the interactive charts' data. A gap between two rows is idle seconds: no counts, the gauges of the row before.
fn thin_rows(
    path: &Path,
    summary: &Summary,
) -> Result<(Series, Option<Series>, super::explore::Builder, u64), BadReport> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(match e.kind() {
            std::io::ErrorKind::NotFound => {
                bad(path, "missing: is this a loadtest report folder? (`loadtest run` writes one)")
            }
            _ => bad(path, format!("cannot read: {e}")),
        });
    }
    let expected = if summary.duration_s.is_finite() { summary.duration_s.max(1.0).ceil() as u64 } else { 1 };
    let mut whole = Series::whole(expected);
    let mut explore = super::explore::Builder::new(expected);
    let mut zoom = summary.faults_end_s.filter(|e| e.is_finite()).map(|end| {
        let (from, to) = super::retry_storm::zoom_candidate(end);
        Series::window(from, to)
    });
    let mut prev: Option<Row> = None;
    check::timeseries_each(path, summary.messages.completed, |row| {
        explore.push(&row);
        let mut add = |from: u64, to: u64, r: &Row| {
            whole.add(from, to, r);
            if let Some(z) = &mut zoom {
                z.add(from, to, r);
            }
        };
        if let Some(p) = &prev {
            let idle_from = p.time_s.saturating_add(1);
            if row.time_s > idle_from {
                add(idle_from, row.time_s, &p.idle_after(idle_from));
            }
        }
        add(row.time_s, row.time_s.saturating_add(1), &row);
        prev = Some(row);
    })
    .map_err(|e| bad(path, e))?;
    let seconds = whole.end_s;
    Ok((whole, zoom, explore, seconds))
}
