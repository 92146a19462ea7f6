//! `dead_letters.csv` in a run's report folder: one row per message that reached a dead-letter queue (time, id,
//! reason, queue), streamed as the run goes, so that `loadtest dlq inspect --run DIR` can study a run's dead letters
//! without a broker (the embedded broker's included).

use super::DeadLetter;
use serde::{Deserialize, Serialize};
use std::io::BufWriter;
use std::path::Path;

pub const FILE: &str = "dead_letters.csv";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Scenario seconds at which it reached the dead-letter queue.
    pub time_s: f64,
    pub id: u64,
    pub reason: String,
    pub queue: String,
    /// Scenario seconds at which it was meant to be published.
    pub intended_s: f64,
    pub redeliveries: u32,
    pub poison: bool,
}

/// Streams rows to the file (or nowhere, for runs that keep no folder).
pub struct Writer {
    csv: csv::Writer<BufWriter<std::fs::File>>,
    error_queue: String,
    skipped_queue: String,
}

impl Writer {
    pub fn create(path: &Path, error_queue: String, skipped_queue: String) -> std::io::Result<Writer> {
        let f = std::fs::File::create(path)?;
        let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(BufWriter::new(f));
        // The header goes out even if nothing is ever dead-lettered: an empty file still says "none".
        csv.write_record(["time_s", "id", "reason", "queue", "intended_s", "redeliveries", "poison"])
            .map_err(std::io::Error::other)?;
        Ok(Writer { csv, error_queue, skipped_queue })
    }

    pub fn write(&mut self, now_ns: u64, env: &crate::broker::Envelope, reason: crate::broker::DeadLetterReason) {
        let secs = |ns: u64| crate::report::summary::round(ns as f64 / 1e9, 3);
        let queue = if reason.skipped() { &self.skipped_queue } else { &self.error_queue };
        let row = Row {
            time_s: secs(now_ns),
            id: env.id,
            reason: reason.as_str().to_string(),
            queue: queue.clone(),
            intended_s: secs(env.intended),
            redeliveries: env.redeliveries,
            poison: env.poison,
        };
        let _ = self.csv.serialize(row);
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.csv.flush()
    }
}

/// The dead letters a report folder recorded, as `inspect` shows them. Their times are scenario time.
pub fn read(dir: &Path) -> Result<Vec<(Row, DeadLetter)>, String> {
    let path = dir.join(FILE);
    let mut reader = csv::Reader::from_path(&path).map_err(|e| match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("{} has no {FILE} (runs record it since this version); run the scenario again", dir.display())
        }
        _ => format!("cannot read {}: {e}", path.display()),
    })?;
    let mut out = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let row = row.map_err(|e| format!("{} line {}: {e}", path.display(), i + 2))?;
        let source = row.queue.trim_end_matches("_error").trim_end_matches("_skipped").to_string();
        let d = DeadLetter {
            id: Some(row.id.to_string()),
            reason: row.reason.clone(),
            source_queue: Some(source),
            identity: format!("run:{}", row.id),
            ..DeadLetter::default()
        };
        out.push((row, d));
    }
    Ok(out)
}
