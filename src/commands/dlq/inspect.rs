//! `loadtest dlq inspect`: a dead-letter queue (read without consuming) or a run's recorded dead letters, grouped
//! by reason, then message by message; `--json` gives one JSON object per message.

use crate::cli::DlqInspectArgs;
use crate::dlq::{by_reason, record, render};
use crate::exit::Failure;
use std::fmt::Write;

pub fn inspect(a: &DlqInspectArgs) -> Result<(), Failure> {
    if let Some(dir) = &a.run {
        return run_folder(dir, a.limit, a.json);
    }
    let queue = a.queue.as_deref().unwrap_or_default();
    let client = super::client(&a.broker, "inspect")?;
    let (depth, letters) = client.peek(queue, a.limit).map_err(super::failure)?;
    client.close();
    super::print(&if a.json { render::ndjson(&letters) } else { render::table(queue, Some(depth), &letters) })
}

/// A report folder's `dead_letters.csv`: times are scenario seconds.
fn run_folder(dir: &std::path::Path, limit: usize, json: bool) -> Result<(), Failure> {
    let rows = record::read(dir).map_err(Failure::input)?;
    if json {
        let mut out = String::new();
        for (row, _) in rows.iter().take(limit) {
            out.push_str(&serde_json::to_string(row).unwrap_or_default());
            out.push('\n');
        }
        return super::print(&out);
    }
    let mut out = format!("{}: {} dead letter(s) recorded (times are scenario seconds)\n", dir.display(), rows.len());
    let letters: Vec<_> = rows.iter().map(|(_, d)| d.clone()).collect();
    let _ = writeln!(out, "\n{:<24} {:>7}  {:>10}  {:>10}  queue", "reason", "count", "first (s)", "last (s)");
    for (reason, r) in by_reason(&letters) {
        let times: Vec<f64> = rows.iter().filter(|(row, _)| row.reason == reason).map(|(row, _)| row.time_s).collect();
        let first = times.iter().copied().fold(f64::INFINITY, f64::min);
        let last = times.iter().copied().fold(0.0, f64::max);
        let queues: Vec<&str> =
            rows.iter().filter(|(row, _)| row.reason == reason).map(|(row, _)| row.queue.as_str()).collect();
        let queue = queues.first().copied().unwrap_or("-");
        let _ = writeln!(out, "{:<24} {:>7}  {first:>10.1}  {last:>10.1}  {queue}", reason, r.count);
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:<20} {:>10} {:>12} {:>12}  poison",
        "id", "reason", "time (s)", "intended (s)", "redeliveries"
    );
    for (row, _) in rows.iter().take(limit) {
        let _ = writeln!(
            out,
            "{:<10} {:<20} {:>10.3} {:>12.3} {:>12}  {}",
            row.id, row.reason, row.time_s, row.intended_s, row.redeliveries, row.poison
        );
    }
    if rows.len() > limit {
        let _ = writeln!(out, "... {} more (--limit)", rows.len() - limit);
    }
    super::print(&out)
}
