//! How `inspect` shows dead letters: a terminal table grouped by reason, then one line per message; or NDJSON.

use super::{by_reason, DeadLetter};
use std::fmt::Write;

/// Unix seconds as `2026-12-01T21:25:16Z`.
pub fn time(t: Option<u64>) -> String {
    match t {
        Some(t) => {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t)).to_string()
        }
        None => "-".to_string(),
    }
}

/// The terminal view: the queue's depth, a table of reasons, and the messages read.
pub fn table(queue: &str, depth: Option<u64>, letters: &[DeadLetter]) -> String {
    let mut out = String::new();
    let shown = letters.len();
    match depth {
        Some(d) => {
            let _ = writeln!(out, "{queue}: {d} message(s); {shown} read (returned to the queue unchanged)");
        }
        None => {
            let _ = writeln!(out, "{queue}: {shown} dead letter(s)");
        }
    }
    if letters.is_empty() {
        return out;
    }
    let _ =
        writeln!(out, "\n{:<24} {:>7}  {:<20}  {:<20}  source queues", "reason", "count", "first died", "last died");
    for (reason, r) in by_reason(letters) {
        let _ = writeln!(
            out,
            "{:<24} {:>7}  {:<20}  {:<20}  {}",
            reason,
            r.count,
            time(r.first_died_at),
            time(r.last_died_at),
            r.source_queues.join(", ")
        );
    }
    let _ = writeln!(out, "\n{:<12} {:<22} {:<20} {:>7} {:>8}  body", "id", "reason", "died", "replays", "bytes");
    for d in letters {
        let deaths: Vec<String> =
            d.deaths.iter().map(|x| format!("{} x{} in {}", x.reason, x.count, x.queue)).collect();
        let _ = writeln!(
            out,
            "{:<12} {:<22} {:<20} {:>7} {:>8}  {}{}",
            d.id.as_deref().unwrap_or("-"),
            d.reason,
            time(d.died_at),
            d.replay_count,
            d.body_bytes,
            d.body_preview.chars().take(72).collect::<String>(),
            if deaths.is_empty() { String::new() } else { format!("  [x-death: {}]", deaths.join("; ")) }
        );
    }
    out
}

/// One JSON object per message, one per line.
pub fn ndjson(letters: &[DeadLetter]) -> String {
    let mut out = String::new();
    for d in letters {
        out.push_str(&serde_json::to_string(d).unwrap_or_default());
        out.push('\n');
    }
    out
}
