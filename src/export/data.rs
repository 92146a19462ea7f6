//! `RunData`: one finished run as the exporters and `compare` see it, read back from its report folder
//! (summary.json, timeseries.csv, latency.hgrm, scenario.toml), never from the engine.

use crate::record::series::Row;
use crate::report::{self, check, hgrm, summary::Summary};
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};

/// Everything the charts and pages are drawn from.
#[derive(Clone, Debug)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    /// One row per second of scenario time.
    pub rows: Vec<Row>,
    /// The end-to-end latency percentile distribution.
    pub latency: Vec<hgrm::Point>,
    pub scenario: Scenario,
    /// `scenario.toml` as written (the resolved configuration), its `[broker]` masked even if an older or
    /// hand-edited file was not.
    pub scenario_toml: String,
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
        let csv_path = dir.join(report::TIMESERIES);
        read(&csv_path)?;
        let rows = check::timeseries(&csv_path, summary.messages.completed).map_err(|e| bad(&csv_path, e))?;
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
        Ok(RunData { dir: dir.to_path_buf(), summary, rows, latency, scenario, scenario_toml })
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

/// Intervals (in scenario seconds) in which the downstream had no capacity (a row's gauges hold until the next row).
pub fn down_intervals(rows: &[Row]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.capacity <= 0.0) {
        let (t, until) = (r.time_s as f64, rows.get(i + 1).map_or(r.time_s + 1, |n| n.time_s) as f64);
        match out.last_mut() {
            Some(last) if last.1 == t => last.1 = until,
            _ => out.push((t, until)),
        }
    }
    out
}
