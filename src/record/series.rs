//! The per-second time series: one row per second of scenario time, streamed to `timeseries.csv` as each second
//! closes (and each second's latency histogram to `latency.hlog`), so memory does not grow with the length of the run.

use serde::{Deserialize, Serialize};

/// Counters are totals within the second; gauges (ready .. consumers) are the value at the end of the second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Start of the second, in scenario seconds.
    pub time_s: u64,
    pub published: u64,
    /// Handler attempts: first delivery's first try.
    pub attempts_first: u64,
    pub attempts_retry1: u64,
    pub attempts_retry2: u64,
    pub attempts_retry3: u64,
    /// In-memory retries number 4 and above.
    pub attempts_retry4plus: u64,
    /// First attempt of a redelivered message (delayed redelivery or broker requeue).
    pub attempts_redelivery: u64,
    pub succeeded: u64,
    pub failed_transient: u64,
    pub failed_timeout: u64,
    pub failed_validation: u64,
    pub failed_poison: u64,
    pub failed_circuit_open: u64,
    pub completed: u64,
    pub dead_lettered: u64,
    pub expired: u64,
    pub ready: u64,
    pub unacked: u64,
    pub delayed: u64,
    pub dlq: u64,
    /// Calls that reached the downstream (refused ones included).
    pub offered: u64,
    /// Calls that failed at the downstream for overload or unavailability (transient errors, refusals, resets, timeouts).
    pub calls_failed: u64,
    /// Downstream capacity at the end of the second, requests/s (0 while it is down).
    pub capacity: f64,
    /// Requests in the downstream (in service + waiting).
    pub in_system: u64,
    /// Messages a handler is working on (attempts, retry waits and calls).
    pub in_flight: u64,
    pub consumers: u64,
    /// End-to-end latency of messages completed in this second (from intended publish time); empty if none.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    /// Calls adaptive throttling rejected locally; the column exists only when `[downstream.throttle]` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_throttled: Option<u64>,
}

impl Row {
    pub fn attempts(&self) -> u64 {
        self.attempts_first
            + self.attempts_retry1
            + self.attempts_retry2
            + self.attempts_retry3
            + self.attempts_retry4plus
            + self.attempts_redelivery
    }
    pub fn failed(&self) -> u64 {
        self.failed_transient
            + self.failed_timeout
            + self.failed_validation
            + self.failed_poison
            + self.failed_circuit_open
            + self.failed_throttled.unwrap_or(0)
    }
    pub fn backlog(&self) -> u64 {
        self.ready + self.unacked + self.delayed
    }
}

/// Streams rows to CSV (or nowhere, for benchmarks and tests that only need the summary), and optionally each
/// second's latency histogram to an interval log.
pub struct SeriesWriter {
    csv: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    hlog: Option<super::hlog::HlogWriter>,
    dead: Option<crate::dlq::record::Writer>,
    pub rows: u64,
}

impl SeriesWriter {
    pub fn to_file(path: &std::path::Path) -> std::io::Result<SeriesWriter> {
        let f = std::fs::File::create(path)?;
        let csv = Some(csv::Writer::from_writer(std::io::BufWriter::new(f)));
        Ok(SeriesWriter { csv, hlog: None, dead: None, rows: 0 })
    }
    pub fn discard() -> SeriesWriter {
        SeriesWriter { csv: None, hlog: None, dead: None, rows: 0 }
    }
    /// Also streams every dead letter (time, id, reason, queue) to `path` (`dead_letters.csv`).
    pub fn with_dead_letters(
        mut self,
        path: &std::path::Path,
        error: String,
        skipped: String,
    ) -> std::io::Result<Self> {
        self.dead = Some(crate::dlq::record::Writer::create(path, error, skipped)?);
        Ok(self)
    }
    /// One message reached a dead-letter queue.
    pub fn dead_letter(&mut self, now: u64, env: &crate::broker::Envelope, reason: crate::broker::DeadLetterReason) {
        if let Some(w) = &mut self.dead {
            w.write(now, env, reason);
        }
    }
    /// Also streams one latency histogram per second with completions to the interval log at `path`.
    pub fn with_latency_log(mut self, path: &std::path::Path) -> std::io::Result<SeriesWriter> {
        self.hlog = Some(super::hlog::HlogWriter::create(path)?);
        Ok(self)
    }
    /// One completion's latency (microseconds) in the current second, for the interval log.
    #[inline]
    pub fn latency(&mut self, us: u64) {
        if let Some(w) = &mut self.hlog {
            w.record(us);
        }
    }
    /// Ends second `sec` of the interval log (an interval only if it had completions).
    pub fn close_latency_second(&mut self, sec: u64) -> std::io::Result<()> {
        match &mut self.hlog {
            Some(w) => w.close_second(sec),
            None => Ok(()),
        }
    }
    pub fn write(&mut self, row: &Row) -> std::io::Result<()> {
        self.rows += 1;
        if let Some(w) = &mut self.csv {
            w.serialize(row).map_err(std::io::Error::other)?;
        }
        Ok(())
    }
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(w) = &mut self.csv {
            w.flush()?;
        }
        if let Some(w) = &mut self.hlog {
            w.flush()?;
        }
        if let Some(w) = &mut self.dead {
            w.flush()?;
        }
        Ok(())
    }
}

/// Reads a `timeseries.csv` back (charts and `loadtest report` render from it).
pub fn read_csv(path: &std::path::Path) -> Result<Vec<Row>, csv::Error> {
    csv::Reader::from_path(path)?.deserialize().collect()
}
