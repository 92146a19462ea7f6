//! What the gate reads: a run folder, or a repeat folder (`run-1..N/` plus a `summary.json` of medians), and
//! every metric's value in it, plain from summary.json or windowed from the per-second data.

use super::metric::{self, Metric};
use super::window::{Series, Window};
use crate::report;
use std::path::{Path, PathBuf};

/// A window-derived value: the worst window (or the median of each repeat's worst) and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub value: Option<f64>,
    /// For windowed values: the start of the reported window, in scenario seconds (of the median repeat).
    pub window_start_s: Option<u64>,
}

/// Which window counts as the worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worst {
    Highest,
    Lowest,
}

pub struct Source {
    pub dir: PathBuf,
    pub summary: report::summary::Summary,
    flat: Vec<(String, serde_json::Value)>,
    /// The run folders: the folder itself, or its repeats.
    runs: Vec<PathBuf>,
    series: Vec<Series>,
}

impl Source {
    /// Opens a run or repeat folder; the error names the folder and what is missing.
    pub fn open(dir: &Path) -> Result<Source, String> {
        if !dir.is_dir() {
            return Err(format!(
                "{} is not a run folder; pass the folder `loadtest run --out DIR` wrote (it holds summary.json)",
                dir.display()
            ));
        }
        let summary = report::read_summary(dir)?;
        let runs = match &summary.repeats {
            Some(r) => r.runs.iter().map(|name| dir.join(name)).collect(),
            None => vec![dir.to_path_buf()],
        };
        let mut series = Vec::new();
        for run in &runs {
            let own = if runs.len() == 1 { None } else { Some(report::read_summary(run)?) };
            series.push(Series::new(own.as_ref().unwrap_or(&summary)));
        }
        let flat = report::flat::flatten(&summary);
        Ok(Source { dir: dir.to_path_buf(), summary, flat, runs, series })
    }

    /// How many runs the folder's values stand for (1, or the repeat count whose medians they are).
    pub fn repeats(&self) -> usize {
        self.runs.len()
    }

    /// A plain metric from summary.json (the medians, for a repeat folder); `subscriptions.<name>.<metric>` is
    /// that metric of one subscription's summary.
    pub fn plain(&self, m: &Metric) -> Result<Option<f64>, String> {
        let file = self.dir.join(report::SUMMARY);
        let Some((sub, name)) = metric::in_subscription(&m.name) else {
            return plain_of(&self.summary, &self.flat, &m.name, &m.name, &file);
        };
        let Some(s) = self.summary.subscriptions.get(sub) else {
            let has: Vec<&str> = self.summary.subscriptions.keys().map(String::as_str).collect();
            return Err(if has.is_empty() {
                format!(
                    "{} has no subscriptions: `{}` needs a run of a scenario with [[subscriptions]]",
                    file.display(),
                    m.name
                )
            } else {
                format!("{} has no subscription `{sub}`; its subscriptions are {}", file.display(), has.join(", "))
            });
        };
        // The folder's flattened summary holds the subscription's fields under `subscriptions.<name>.`.
        plain_of(s, &self.flat, &m.name, name, &file)
    }

    /// The summary has no field `name` (it was written before the field existed).
    pub fn lacks(&self, name: &str) -> bool {
        metric::read(&self.flat, name).is_none()
    }

    /// All windows of a windowed metric in each run.
    pub fn windows(&mut self, m: &Metric, w: u64) -> Result<Vec<Vec<Window>>, String> {
        let source = m.window.ok_or_else(|| format!("`{}` cannot be windowed", m.name))?;
        let mut out = Vec::new();
        for (run, series) in self.runs.iter().zip(&mut self.series) {
            out.push(series.windows(run, source, w)?);
        }
        Ok(out)
    }

    /// The worst window of each run, and (for several runs) the median of those.
    pub fn worst_window(&mut self, m: &Metric, w: u64, worst: Worst) -> Result<Value, String> {
        let per_run: Vec<Option<Window>> = self.windows(m, w)?.into_iter().map(|ws| pick(&ws, worst)).collect();
        let mut found: Vec<Window> = per_run.into_iter().flatten().collect();
        if found.is_empty() {
            return Ok(Value { value: None, window_start_s: None });
        }
        found.sort_by(|a, b| a.value.total_cmp(&b.value));
        let mid = found[(found.len() - 1) / 2];
        Ok(Value { value: Some(mid.value), window_start_s: Some(mid.start_s) })
    }
}

/// The highest (or lowest) window; the earliest of equals.
pub fn pick(windows: &[Window], worst: Worst) -> Option<Window> {
    let mut best: Option<Window> = None;
    for w in windows {
        let better = match (best, worst) {
            (None, _) => true,
            (Some(b), Worst::Highest) => w.value > b.value,
            (Some(b), Worst::Lowest) => w.value < b.value,
        };
        if better {
            best = Some(*w);
        }
    }
    best
}

/// The field `key` of `flat`, the metric `name` of `summary` (the same, or `key` is `subscriptions.<s>.<name>` and
/// `summary` that subscription's), with the rules of what does not apply; `file` is named in the error of a field
/// that should be there.
fn plain_of(
    summary: &report::summary::Summary,
    flat: &[(String, serde_json::Value)],
    key: &str,
    name: &str,
    file: &Path,
) -> Result<Option<f64>, String> {
    // The Service Bus section exists only under Service Bus semantics: elsewhere its metrics do not apply.
    if name.starts_with("servicebus.") && summary.servicebus.is_none() {
        return Ok(None);
    }
    let read = metric::read(flat, key);
    // A metric newer than the summary (a baseline written before it existed) does not apply to it.
    if metric::is_newer(name) && read.is_none() {
        return Ok(None);
    }
    // A percentile of an empty distribution is 0 in summary.json but measured nothing: no value to judge.
    if metric::empty_distribution(name, summary).is_some() {
        return Ok(None);
    }
    // A field written only when its feature is configured (`[retry.budget]`, ...) does not apply without it.
    if read.is_none() && metric::OPTIONAL.contains(&name) {
        return Ok(None);
    }
    read.ok_or_else(|| format!("{} has no `{key}`; was it written by another version of loadtest?", file.display()))
}
