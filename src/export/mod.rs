//! Exporters: each turns one finished run (`RunData`, read back from the report folder) into files of that folder,
//! as bytes (hyperfine's `export/` shape). One file per exporter; adding a chart or a format is one file plus one
//! line in `charts()` or `render()` (which draws each SVG once, for its file and for the page).

pub mod chart;
pub mod data;
pub mod explore;
mod glyphs;
pub mod html;
pub mod latency;
pub mod latency_axis;
pub mod latency_dist;
pub mod pubsub;
pub mod shared;
pub mod svg_font;
pub mod thin;

mod backlog;
mod bands;
mod retry_storm;
mod throughput;

pub use chart::{Chart, ChartError};
pub use data::{BadReport, RunData};

use std::path::{Path, PathBuf};

/// Folder of the report folder that holds the chart files.
pub const CHARTS_DIR: &str = "charts";
pub const INDEX_HTML: &str = "index.html";

/// One output format.
pub trait Exporter {
    fn name(&self) -> &str;
    /// Files to write, relative to the report folder.
    fn render(&self, run: &RunData) -> Result<Vec<(PathBuf, Vec<u8>)>, ChartError>;
}

/// The per-run charts, in the order the HTML page shows them.
pub fn charts() -> Vec<&'static dyn Chart<RunData>> {
    vec![
        &retry_storm::RetryStorm,
        &throughput::Throughput,
        &latency::LatencyOverTime,
        &latency_dist::LatencyDistribution,
        &backlog::Backlog,
    ]
}

/// Writes each chart as `charts/<name>.svg` or `charts/<name>.png`.
pub struct ChartFiles {
    png: bool,
}

impl ChartFiles {
    pub fn svg() -> ChartFiles {
        ChartFiles { png: false }
    }
    pub fn png() -> ChartFiles {
        ChartFiles { png: true }
    }
}

impl Exporter for ChartFiles {
    fn name(&self) -> &str {
        if self.png {
            "png charts"
        } else {
            "svg charts"
        }
    }
    fn render(&self, run: &RunData) -> Result<Vec<(PathBuf, Vec<u8>)>, ChartError> {
        let mut files = Vec::new();
        for c in charts() {
            let (ext, bytes) = if self.png { ("png", c.png(run)?) } else { ("svg", c.svg(run)?.into_bytes()) };
            files.push((Path::new(CHARTS_DIR).join(format!("{}.{ext}", c.name())), bytes));
        }
        Ok(files)
    }
}

/// The PNG files of the charts whose place in `charts()` is `chosen`: the two shares `render` draws in parallel.
fn png_files(run: &RunData, chosen: impl Fn(usize) -> bool) -> Result<Vec<(PathBuf, Vec<u8>)>, ChartError> {
    let mut files = Vec::new();
    for (_, c) in charts().into_iter().enumerate().filter(|(i, _)| chosen(*i)) {
        let t = std::time::Instant::now();
        files.push((Path::new(CHARTS_DIR).join(format!("{}.png", c.name())), c.png(run)?));
        tracing::debug!(chart = c.name(), ms = t.elapsed().as_secs_f64() * 1e3, "png drawn");
    }
    Ok(files)
}

/// Why rendering a report folder failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    BadReport(#[from] BadReport),
    #[error("{exporter}: {error}")]
    Render { exporter: String, error: ChartError },
    /// Found before anything was written.
    #[error("{0}")]
    Unwritable(String),
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: std::io::Error },
}

/// Renders every exporter's files for `run` into `dir`; returns the paths written. Each chart's SVG is drawn once,
/// for its file and for the page. Everything is rendered, and checked writable, before the first file is written: a
/// failure leaves the folder's earlier files as they were.
///
/// Without `pngs` the charts are written as SVG only, and PNG copies an earlier rendering left are removed, so that
/// the folder holds one rendering and the page links only what is there.
pub fn render(run: &RunData, dir: &Path, pngs: bool) -> Result<Vec<PathBuf>, ExportError> {
    fn failed(exporter: &'static str) -> impl Fn(ChartError) -> ExportError {
        move |error| ExportError::Render { exporter: exporter.to_string(), error }
    }
    // Rasterizing and compressing the PNGs is most of the report's cost: all but the first (the retry storm, the
    // costliest) are drawn on a second thread while this one draws the first, the SVGs and the page (measured on
    // the 10k storm: 17.6 ms there, 19 ms here).
    let (files, odd_pngs) = std::thread::scope(|s| {
        let odd = s.spawn(|| if pngs { png_files(run, |i| i > 0) } else { Ok(Vec::new()) });
        let rest = || -> Result<Vec<(PathBuf, Vec<u8>)>, ExportError> {
            let t = std::time::Instant::now();
            let svgs = charts()
                .iter()
                .map(|c| c.svg(run))
                .collect::<Result<Vec<String>, _>>()
                .map_err(failed("svg charts"))?;
            let mut files: Vec<(PathBuf, Vec<u8>)> = charts()
                .iter()
                .zip(&svgs)
                .map(|(c, svg)| (Path::new(CHARTS_DIR).join(format!("{}.svg", c.name())), svg.as_bytes().to_vec()))
                .collect();
            tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "svgs drawn");
            if pngs {
                files.extend(png_files(run, |i| i == 0).map_err(failed("png charts"))?);
            }
            let t = std::time::Instant::now();
            files.push((
                PathBuf::from(INDEX_HTML),
                html::index_with(run, &svgs, pngs).map_err(failed("html"))?.into_bytes(),
            ));
            tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "page built");
            files.extend(crate::metrics::MetricsFile.render(run).map_err(failed("metrics"))?);
            Ok(files)
        };
        let files = rest();
        // A panic while drawing is a defect; it is reported as a render error rather than aborting the run.
        let odd = odd.join().unwrap_or_else(|_| Err(ChartError("a PNG chart's drawing panicked".to_string())));
        (files, odd)
    });
    let mut files = files?;
    files.extend(odd_pngs.map_err(failed("png charts"))?);
    let t = std::time::Instant::now();
    let paths: Vec<PathBuf> = files.iter().map(|(rel, _)| rel.clone()).collect();
    crate::report::check_writable(dir, &paths).map_err(ExportError::Unwritable)?;
    let mut written = Vec::new();
    for (rel, bytes) in files {
        written.push(write_file(&dir.join(rel), &bytes)?);
    }
    if !pngs {
        for c in charts() {
            let stale = dir.join(CHARTS_DIR).join(format!("{}.png", c.name()));
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ExportError::Write { path: stale, error: e });
                }
                _ => {}
            }
        }
    }
    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "report files written");
    Ok(written)
}

/// Writes one file, creating its folder.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<PathBuf, ExportError> {
    let fail = |error| ExportError::Write { path: path.to_path_buf(), error };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, bytes).map_err(fail)?;
    Ok(path.to_path_buf())
}

/// Reads the report folder `dir` back and renders its charts and HTML page into it.
pub fn render_dir(dir: &Path, pngs: bool) -> Result<Vec<PathBuf>, ExportError> {
    let t = std::time::Instant::now();
    let run = RunData::load(dir)?;
    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "report folder read back");
    render(&run, dir, pngs)
}
