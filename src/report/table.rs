//! The short summary printed after a run.

use super::summary::Summary;
use std::fmt::Write;

/// A latency in milliseconds as a person reads it: "12.3 ms", "4.56 s", "3m 47s", "1h 12m".
pub fn human_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0).round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |x| format!("{x:.1} s"))
}

pub fn render(s: &Summary) -> String {
    let m = &s.messages;
    let d = &s.downstream;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  seed {}  {}/{}  {:.1} s scenario time{}",
        s.scenario.name,
        s.seed,
        s.broker,
        s.clock,
        s.duration_s,
        if s.stopped_by_duration_limit { " (stopped by the duration limit)" } else { "" }
    );
    let reasons: Vec<String> = m.dead_lettered.by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let reasons = if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) };
    let _ = writeln!(
        out,
        "  messages     published {}  completed {}  dead-lettered {}{}  expired {}  in flight {}  lost {}  duplicates {}",
        m.published,
        m.completed,
        m.dead_lettered.total,
        reasons,
        m.expired,
        m.in_flight_at_end,
        m.lost,
        m.duplicates
    );
    if m.rejected_at_publish > 0 {
        let _ = writeln!(out, "  refused      {} publishes refused by a full queue", m.rejected_at_publish);
    }
    let _ = writeln!(
        out,
        "  attempts     {}  ({:.2} per message; retries {}, redeliveries {})",
        s.attempts.total, s.amplification, s.attempts.retries, s.attempts.redeliveries
    );
    let l = &s.latency_ms;
    let _ = writeln!(
        out,
        "  latency      p50 {}  p90 {}  p99 {}  max {}  (end to end, from intended publish time)",
        human_ms(l.p50),
        human_ms(l.p90),
        human_ms(l.p99),
        human_ms(l.max)
    );
    let _ = writeln!(out, "  throughput   {:.1} completed/s", s.throughput_per_s);
    if d.capacity_per_s > 0.0 {
        let _ = writeln!(
            out,
            "  downstream   capacity {:.0}/s  peak offered {}/s ({:.2}x)  crashes {}  overload waves {}",
            d.capacity_per_s, d.peak_offered_per_s, d.peak_offered_ratio, d.crashes, s.overload_waves
        );
        let after = if s.faults_end_s.is_some() {
            format!(" ({} after the faults)", s.failure_episodes_after_faults)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  failures     {} episode(s){after}, {} failed calls  last failed call at {}",
            s.failure_episodes,
            s.attempts.downstream_calls_failed,
            opt_s(s.last_failure_s)
        );
    }
    if let Some(end) = s.faults_end_s {
        let _ = writeln!(
            out,
            "  recovery     {} after the last fault ended at {end:.1} s",
            s.recovery_s.map_or("never (backlog still above its pre-fault level)".to_string(), |r| format!("{r:.1} s"))
        );
    }
    if !m.accounted || m.lost > 0 {
        let _ = writeln!(out, "  WARNING      {} message(s) lost: published != outcomes + in flight", m.lost);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human_ms;

    #[test]
    fn latencies_read_in_the_unit_that_fits() {
        assert_eq!(human_ms(12.34), "12.3 ms");
        assert_eq!(human_ms(4560.0), "4.56 s");
        assert_eq!(human_ms(226_885.6), "3m 47s");
        assert_eq!(human_ms(4_320_133.1), "1h 12m");
    }
}
