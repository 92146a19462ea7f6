//! `loadtest run --live`: PerfTest-style progress, one line per scenario second on stderr as each second closes
//! (time, published/s, completed/s, failed/s, ready/unacked/delayed/dlq, p50/p99 of that second).

use crate::record::series::Row;

/// Whether to print the live lines: `--live` forces them, `--no-live` turns them off; by default they are on for
/// a real-broker run whose stderr is a terminal (a virtual-time run is over before a line could be read).
pub fn wanted(live: bool, no_live: bool, quiet: bool, real_broker: bool) -> bool {
    use std::io::IsTerminal;
    if live || no_live {
        return live;
    }
    real_broker && !quiet && std::io::stderr().is_terminal()
}

/// One second as a line, e.g. `time: 12 s, published: 200 msg/s, completed: 198 msg/s, failed: 3 msg/s, ready: 5,
/// unacked: 10, delayed: 0, dlq: 0, p50/p99: 12.0/40.1 ms`.
pub fn line(row: &Row) -> String {
    format!(
        "time: {} s, published: {} msg/s, completed: {} msg/s, failed: {} msg/s, ready: {}, unacked: {}, \
         delayed: {}, dlq: {}, p50/p99: {}/{} ms",
        row.time_s,
        row.published,
        row.completed,
        row.failed(),
        row.ready,
        row.unacked,
        row.delayed,
        row.dlq,
        ms(row.latency_p50_ms),
        ms(row.latency_p99_ms),
    )
}

/// A latency in milliseconds with three significant figures at most; `-` for a second without completions.
fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The watcher for `SeriesWriter::with_watcher`: prints each second's line on stderr.
pub fn printer() -> crate::record::series::Watcher {
    Box::new(|row| crate::errln!("{}", line(row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_every_column() {
        let row = Row {
            time_s: 12,
            published: 200,
            completed: 198,
            failed_transient: 2,
            failed_timeout: 1,
            ready: 5,
            unacked: 10,
            dlq: 4,
            latency_p50_ms: Some(12.0),
            latency_p99_ms: Some(140.4),
            ..Row::default()
        };
        assert_eq!(
            line(&row),
            "time: 12 s, published: 200 msg/s, completed: 198 msg/s, failed: 3 msg/s, ready: 5, unacked: 10, \
             delayed: 0, dlq: 4, p50/p99: 12.0/140 ms"
        );
        assert!(line(&Row::default()).ends_with("p50/p99: -/- ms"));
        assert!(!wanted(false, true, false, true) && wanted(true, false, true, false));
    }
}
