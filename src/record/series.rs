//! The per-second time series: one row per second of scenario time, streamed to `timeseries.csv` as each second
//! closes (and each second's latency histogram to `latency.hlog`), so memory does not grow with the length of the run.
//! An idle second (nothing counted, every gauge as in the row before) is left out of the file, so disk follows the
//! work done, not scenario time; `read_csv` puts such seconds back.

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
    /// Circuit breakers open or half-open at the end of the second (of one per consumer, or the service's one); the
    /// column exists only when `[circuit_breaker]` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakers_open: Option<u64>,
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
    /// Second `time_s` if nothing happened in it after `self`: the same gauges, no counts, no latency.
    pub fn idle_after(&self, time_s: u64) -> Row {
        Row {
            time_s,
            ready: self.ready,
            unacked: self.unacked,
            delayed: self.delayed,
            dlq: self.dlq,
            capacity: self.capacity,
            in_system: self.in_system,
            in_flight: self.in_flight,
            consumers: self.consumers,
            failed_throttled: self.failed_throttled.map(|_| 0),
            breakers_open: self.breakers_open,
            ..Row::default()
        }
    }
}

/// Seconds of scenario time that `rows` (as `read_csv` gives them) cover.
pub fn seconds(rows: &[Row]) -> u64 {
    rows.last().map_or(0, |r| r.time_s + 1)
}

/// A callback shown each closed second (`SeriesWriter::with_watcher`).
pub type Watcher = Box<dyn FnMut(&Row)>;

/// Streams rows to CSV (or nowhere, for benchmarks and tests that only need the summary), and optionally each
/// second's latency histogram to an interval log.
pub struct SeriesWriter {
    csv: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    hlog: Option<super::hlog::HlogWriter>,
    dead: Option<crate::dlq::record::Writer>,
    /// Rows written (idle seconds left out).
    pub rows: u64,
    /// Seconds closed so far.
    pub closed: u64,
    /// The last second closed, and whether it was left out (then the file must still end with it).
    last: Option<(Row, bool)>,
    /// `--output ndjson`: every second as one JSON object per line, idle ones included, as each closes.
    ndjson: Option<Box<dyn std::io::Write>>,
    /// Callbacks that see every second as `ndjson` does (`--live`, `--metrics-listen`); they only observe.
    watchers: Vec<Watcher>,
}

impl SeriesWriter {
    pub fn to_file(path: &std::path::Path) -> std::io::Result<SeriesWriter> {
        let f = std::fs::File::create(path)?;
        let csv = Some(csv::Writer::from_writer(std::io::BufWriter::new(f)));
        Ok(SeriesWriter {
            csv,
            hlog: None,
            dead: None,
            rows: 0,
            closed: 0,
            last: None,
            ndjson: None,
            watchers: Vec::new(),
        })
    }
    pub fn discard() -> SeriesWriter {
        SeriesWriter {
            csv: None,
            hlog: None,
            dead: None,
            rows: 0,
            closed: 0,
            last: None,
            ndjson: None,
            watchers: Vec::new(),
        }
    }
    /// Also streams every second to `w` as one JSON object per line (the CSV's columns; a line-buffered `w` shows
    /// each as it closes). Idle
    /// seconds are written too, one per second up to `DENSE_UP_TO_S` of scenario time, then as `read_csv` gives
    /// them (each idle stretch as its first and last second).
    pub fn with_ndjson(mut self, w: Box<dyn std::io::Write>) -> SeriesWriter {
        self.ndjson = Some(w);
        self
    }
    /// Also shows every second to `f`, as `with_ndjson` streams it (idle seconds included), as each closes.
    pub fn with_watcher(mut self, f: Watcher) -> SeriesWriter {
        self.watchers.push(f);
        self
    }
    fn stream(&mut self, row: &Row) -> std::io::Result<()> {
        for f in &mut self.watchers {
            f(row);
        }
        if let Some(w) = &mut self.ndjson {
            serde_json::to_writer(&mut *w, row).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
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
    /// One closed second: written, unless it is idle (nothing counted, gauges as in the second before).
    pub fn write(&mut self, row: Row) -> std::io::Result<()> {
        self.closed += 1;
        let idle = self.last.as_ref().is_some_and(|(prev, _)| row == prev.idle_after(row.time_s));
        if !idle {
            self.put(&row)?;
        }
        self.stream(&row)?;
        self.last = Some((row, idle));
        Ok(())
    }
    /// The seconds after the last one closed up to and including `to_s`, all idle.
    pub fn idle_until(&mut self, to_s: u64) -> std::io::Result<()> {
        let Some((prev, _)) = self.last.take() else { return Ok(()) };
        self.closed += to_s - prev.time_s;
        if self.ndjson.is_some() || !self.watchers.is_empty() {
            let from = prev.time_s + 1;
            if to_s < DENSE_UP_TO_S {
                for t in from..=to_s {
                    self.stream(&prev.idle_after(t))?;
                }
            } else {
                self.stream(&prev.idle_after(from))?;
                if to_s > from {
                    self.stream(&prev.idle_after(to_s))?;
                }
            }
        }
        self.last = Some((prev.idle_after(to_s), true));
        Ok(())
    }
    fn put(&mut self, row: &Row) -> std::io::Result<()> {
        self.rows += 1;
        if let Some(w) = &mut self.csv {
            w.serialize(row).map_err(std::io::Error::other)?;
        }
        Ok(())
    }
    /// Ends the file with the run's last second, idle or not, so that readers know where the run ended.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some((row, true)) = self.last.take() {
            self.put(&row)?;
        }
        if let Some(w) = &mut self.csv {
            w.flush()?;
        }
        if let Some(w) = &mut self.hlog {
            w.flush()?;
        }
        if let Some(w) = &mut self.dead {
            w.flush()?;
        }
        if let Some(w) = &mut self.ndjson {
            w.flush()?;
        }
        Ok(())
    }
}

/// Runs up to this many seconds of scenario time are read back one row per second.
pub const DENSE_UP_TO_S: u64 = 1_000_000;

/// Reads a `timeseries.csv` back (charts, `loadtest report`, the gate's windows, fault costs), putting back the
/// idle seconds the file leaves out: one row per second for runs up to `DENSE_UP_TO_S` seconds; in a longer run
/// each gap becomes its first and last second, so memory follows the file. Either way a row's gauges hold until
/// the next row, and seconds without a row counted nothing.
pub fn read_csv(path: &std::path::Path) -> Result<Vec<Row>, csv::Error> {
    let stored: Vec<Row> = csv::Reader::from_path(path)?.deserialize().collect::<Result<_, _>>()?;
    Ok(fill_gaps(stored))
}

/// The rows of a file with its idle seconds put back (see `read_csv`).
pub fn fill_gaps(stored: Vec<Row>) -> Vec<Row> {
    let dense = seconds(&stored) <= DENSE_UP_TO_S;
    let mut out: Vec<Row> = Vec::with_capacity(if dense { seconds(&stored) as usize } else { stored.len() * 3 });
    for row in stored {
        if let Some(prev) = out.last().cloned() {
            let (from, to) = (prev.time_s + 1, row.time_s); // the gap: seconds from..to
            if dense {
                out.extend((from..to).map(|t| prev.idle_after(t)));
            } else if to > from {
                out.push(prev.idle_after(from));
                if to - 1 > from {
                    out.push(prev.idle_after(to - 1));
                }
            }
        }
        out.push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_s: u64, completed: u64, ready: u64) -> Row {
        Row { time_s, completed, ready, ..Row::default() }
    }

    /// What `write`/`idle_until` put in the file, read back raw and through `read_csv`.
    fn written(f: impl FnOnce(&mut SeriesWriter)) -> (Vec<Row>, Vec<Row>) {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("timeseries.csv");
        let mut w = SeriesWriter::to_file(&path).unwrap();
        f(&mut w);
        w.finish().unwrap();
        let raw = csv::Reader::from_path(&path).unwrap().deserialize().collect::<Result<_, _>>().unwrap();
        (raw, read_csv(&path).unwrap())
    }

    #[test]
    fn idle_seconds_are_left_out_and_read_back_as_repeats() {
        let every = [row(0, 0, 0), row(1, 5, 2), row(2, 0, 2), row(3, 0, 2), row(4, 1, 2), row(5, 0, 0), row(6, 0, 0)];
        let (raw, back) = written(|w| every.iter().for_each(|r| w.write(r.clone()).unwrap()));
        // 2 and 3 repeat 1's gauges with nothing counted; 6 repeats 5 but ends the run, so it is written.
        assert_eq!(raw.iter().map(|r| r.time_s).collect::<Vec<_>>(), [0, 1, 4, 5, 6]);
        assert_eq!(back, every);
        // A stretch closed at once (`idle_until`), ending the run: its last second is written.
        let (raw, back) = written(|w| {
            w.write(row(0, 3, 1)).unwrap();
            w.idle_until(9).unwrap();
        });
        assert_eq!(raw, [row(0, 3, 1), row(9, 0, 1)]);
        assert_eq!(back.len(), 10);
        assert_eq!(back[5], row(5, 0, 1));
    }

    #[test]
    fn a_long_run_reads_back_each_gap_as_its_first_and_last_second() {
        let far = DENSE_UP_TO_S + 10;
        let back = fill_gaps(vec![row(0, 1, 4), row(far, 2, 0)]);
        assert_eq!(back, [row(0, 1, 4), row(1, 0, 4), row(far - 1, 0, 4), row(far, 2, 0)]);
        assert_eq!(seconds(&back), far + 1);
    }
}
