//! The report folder of one run: `summary.json` (the contract), `timeseries.csv` (streamed during the run),
//! `latency.hgrm`, `latency.hlog` (per-second latency histograms, streamed), the resolved `scenario.toml`, and
//! `run.json` (wall-clock facts that vary between runs).

pub mod check;
pub mod fault_cost;
pub mod flat;
pub mod hgrm;
pub mod metrics;
pub mod pubsub;
pub mod repeats;
pub mod stage;
pub mod summary;
pub mod table;

use crate::scenario::Scenario;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use summary::Summary;

pub const SUMMARY: &str = "summary.json";
pub const TIMESERIES: &str = "timeseries.csv";
pub const HGRM: &str = "latency.hgrm";
pub const HLOG: &str = "latency.hlog";
pub const SCENARIO: &str = "scenario.toml";
pub const RUN_META: &str = "run.json";
/// Folder of a pub/sub report (`[[subscriptions]]`) that holds one report folder per subscription.
pub const SUBSCRIPTIONS: &str = "subscriptions";

/// Identifies a configuration: sha256 of the resolved scenario without its seed (runs of one configuration
/// under different seeds share it) and without its thresholds (they judge a run; they do not change it).
pub fn scenario_hash(scn: &Scenario) -> String {
    let mut copy = scn.clone();
    copy.seed = None;
    copy.thresholds = Default::default();
    let digest = Sha256::digest(copy.to_toml().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `reports/<scenario>/<UTC time>-s<seed>`, made unique with a suffix if a run already used it.
pub fn default_run_dir(root: &Path, scenario: &str, seed: u64) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = stamp.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let base = root.join(sanitize(scenario));
    let mut dir = base.join(format!("{stamp}-s{seed}"));
    let mut n = 2;
    while dir.exists() {
        dir = base.join(format!("{stamp}-s{seed}-{n}"));
        n += 1;
    }
    dir
}

fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') {
        format!("scenario{s}")
    } else {
        s
    }
}

/// Creates the folder (and checks it is writable) before anything runs.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Checks, leaving nothing behind, that `files` (relative to `dir`) can be written: `dir` is a folder that takes a
/// new file, each file's folder is one too (or does not exist yet), and no file is a folder or read-only.
pub fn check_writable(dir: &Path, files: &[PathBuf]) -> Result<(), String> {
    let mut folders = vec![dir.to_path_buf()];
    for f in files {
        let path = dir.join(f);
        if let Some(parent) = path.parent().filter(|p| !folders.iter().any(|f| f == p)) {
            folders.push(parent.to_path_buf());
        }
    }
    for folder in &folders {
        match std::fs::metadata(folder) {
            Ok(m) if m.is_dir() => {
                let probe = folder.join(format!(".write-test-{}", std::process::id()));
                std::fs::write(&probe, b"").map_err(|e| format!("cannot write to {}: {e}", folder.display()))?;
                drop(std::fs::remove_file(&probe));
            }
            Ok(_) => return Err(format!("cannot write into {}: it is a file, not a folder", folder.display())),
            // Made when written, inside a folder checked here.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && folder != dir => {}
            Err(e) => return Err(format!("cannot write to {}: {e}", folder.display())),
        }
    }
    for f in files {
        let path = dir.join(f);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => return Err(format!("cannot write {}: it is a folder", path.display())),
            Ok(_) => {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// Writes everything but the time series (which the recorder streamed already).
pub fn write_files(
    dir: &Path,
    scn_toml: &str,
    summary: &Summary,
    latency: &hdrhistogram::Histogram<u64>,
    meta: &serde_json::Value,
) -> std::io::Result<()> {
    std::fs::write(dir.join(SCENARIO), scn_toml)?;
    std::fs::write(dir.join(SUMMARY), summary.to_json())?;
    std::fs::write(dir.join(HGRM), hgrm::percentile_distribution(latency))?;
    let mut m = serde_json::to_string_pretty(meta).unwrap_or_default();
    m.push('\n');
    std::fs::write(dir.join(RUN_META), m)
}

/// Reads a run's `summary.json`, naming the file in the error.
pub fn read_summary(run_dir: &Path) -> Result<Summary, String> {
    let path = run_dir.join(SUMMARY);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_summary(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of a `summary.json`, refusing one of another schema version: its fields may mean other things.
/// The error does not name the file: callers put it in front.
pub fn parse_summary(text: &str) -> Result<Summary, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not a loadtest summary: {e}"))?;
    match value.get("schema_version") {
        Some(v) if v.as_u64() == Some(summary::SCHEMA_VERSION as u64) => {}
        None => return Err("not a loadtest summary: it has no schema_version".into()),
        Some(found) => {
            return Err(format!(
                "schema_version {found}, but this loadtest reads schema_version {} only; re-run the scenario \
                 (its scenario.toml is beside it) with this version, or read it with the loadtest that wrote it",
                summary::SCHEMA_VERSION
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("not a loadtest summary: {e}"))
}

/// Runs a scenario without writing anything and returns its summary (tests, benchmarks, `compare` of variants).
pub fn simulate(scn: &Scenario, seed: u64) -> Result<Summary, crate::sim::RunError> {
    let outcome = crate::sim::run(scn, seed, crate::record::series::SeriesWriter::discard())?;
    Ok(Summary::build(scn, &scenario_hash(scn), seed, &outcome))
}
