//! Damaged report files: a `timeseries.csv`, `latency.hgrm` or `latency.hlog` that is empty, or that holds no data
//! while `summary.json` says messages completed (a run writes a row for every second and a latency sample for every
//! completion). `report` and `gate` read through these checks before they write anything, so a damaged folder is
//! exit 2 naming the file and what is wrong, and its earlier outputs stay as they were. Errors say what is wrong;
//! the caller names the file.

use crate::record::series::Row;
use std::path::Path;

fn damaged(what: impl std::fmt::Display) -> String {
    format!("damaged: {what}; run the scenario again (its scenario.toml reproduces the run)")
}

fn completed_but(completed: u64, what: &str) -> String {
    format!("{what}, but summary.json says {completed} messages completed")
}

/// Reads `timeseries.csv`: a header and, if any message completed (`completed`, from summary.json), a row.
pub fn timeseries(path: &Path, completed: u64) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    timeseries_each(path, completed, |r| rows.push(r))?;
    Ok(rows)
}

/// `timeseries` streamed: hands each row of the file to `each` as it is read (nothing is held), and returns how many
/// there were. The checks are the same.
pub fn timeseries_each(path: &Path, completed: u64, mut each: impl FnMut(Row)) -> Result<u64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    if !has_text(&mut reader).map_err(|e| format!("cannot read: {e}"))? {
        return Err(damaged("it is empty (a run writes a header and one row per second)"));
    }
    let mut n = 0u64;
    for row in csv::Reader::from_reader(reader).deserialize() {
        each(row.map_err(|e| format!("not a loadtest time series: {e}"))?);
        n += 1;
    }
    if n == 0 && completed > 0 {
        return Err(damaged(completed_but(completed, "it has a header and no rows")));
    }
    Ok(n)
}

/// Whether anything but whitespace is left in `r`; consumes only the leading whitespace.
fn has_text(r: &mut impl std::io::BufRead) -> std::io::Result<bool> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let done = blank < buf.len();
        r.consume(blank);
        if done {
            return Ok(true);
        }
    }
}

/// Checks `latency.hgrm` as read (`text`) and parsed (`points`): never empty (a run writes its footer even without
/// samples), and with percentiles if any message completed.
pub fn hgrm(text: &str, points: usize, completed: u64) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(damaged("it is empty (a run writes the distribution and its footer)"));
    }
    if points == 0 && completed > 0 {
        return Err(damaged(completed_but(completed, "it holds no percentiles")));
    }
    Ok(())
}

/// Checks `latency.hlog` once read: `intervals` found in it; never empty (a run writes its header), and with
/// intervals if any message completed.
pub fn hlog(path: &Path, intervals: usize, completed: u64) -> Result<(), String> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(damaged("it is empty (a run writes a header and one interval per second with completions)"));
    }
    if intervals == 0 && completed > 0 {
        return Err(damaged(completed_but(completed, "it holds no latency intervals")));
    }
    Ok(())
}
