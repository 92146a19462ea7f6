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
        match (&s.stopped_by, s.stopped_by_duration_limit) {
            (Some(stop), _) => format!(" (stopped early: {})", stop.cause),
            (None, true) => " (stopped by the duration limit)".to_string(),
            (None, false) => String::new(),
        }
    );
    if let Some(stop) = &s.stopped_by {
        let _ = writeln!(out, "  STOPPED      {}", stop.message);
    }
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
    let refused = s.attempts.budget_rejected.map_or(String::new(), |n| format!(", {n} refused by the retry budget"));
    let _ = writeln!(
        out,
        "  attempts     {}  ({:.2} per message; retries {}{refused}, redeliveries {})",
        s.attempts.total, s.amplification, s.attempts.retries, s.attempts.redeliveries
    );
    let l = &s.latency_ms;
    if l.count == 0 {
        let _ = writeln!(out, "  latency      p50 -  p90 -  p99 -  max -  (no message completed: nothing to measure)");
    } else {
        let _ = writeln!(
            out,
            "  latency      p50 {}  p90 {}  p99 {}  max {}  (end to end, from intended publish time)",
            human_ms(l.p50),
            human_ms(l.p90),
            human_ms(l.p99),
            human_ms(l.max)
        );
    }
    if let Some(w) = s.queue_wait_ms.as_ref().filter(|w| w.count > 0) {
        let _ = writeln!(
            out,
            "  queue wait   p50 {}  p99 {}  max {}  P(wait > 1 ms) {:.1}%  (publish to first handler start)",
            human_ms(w.p50),
            human_ms(w.p99),
            human_ms(w.max),
            s.p_wait.unwrap_or(0.0) * 100.0
        );
    }
    if let Some(p) = &s.producer {
        let raw = &s.latency_raw_ms;
        let _ = writeln!(
            out,
            "  producer     blocked {:.1} s by the broker ({} time(s)), at most {} behind schedule; latency from \
             actual publish p50 {} p99 {}",
            p.blocked_s,
            p.blocks,
            human_ms(p.max_lag_ms),
            human_ms(raw.p50),
            human_ms(raw.p99)
        );
    }
    let _ = writeln!(out, "  throughput   {:.1} completed/s", s.throughput_per_s);
    if let Some(r) = &s.real_broker {
        real(&mut out, r);
    }
    if d.capacity_per_s > 0.0 {
        let throttled = d.throttled.map_or(String::new(), |n| format!("  throttled {n} (rejected locally)"));
        let _ = writeln!(
            out,
            "  downstream   capacity {:.0}/s  peak offered {}/s ({:.2}x)  crashes {}  overload waves {}{throttled}",
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
    if let Some(open) = d.circuit_breaker_open_s {
        let _ = writeln!(
            out,
            "  breaker      opened {} time(s), open or half-open {open:.1} s (summed over the breakers)",
            d.circuit_breaker_opened
        );
    }
    if let (Some(trips), Some(stopped)) = (s.consumers.kill_switch_trips, s.consumers.kill_switch_stopped_s) {
        let _ = writeln!(out, "  kill switch  tripped {trips} time(s), consumers stopped {stopped:.1} s");
    }
    let c = &s.consumers;
    if let (Some(ups), Some(downs)) = (c.scale_ups, c.scale_downs) {
        let _ = writeln!(
            out,
            "  autoscale    replicas {}..{}  scaled up {ups} time(s), down {downs} time(s)",
            c.min, c.peak
        );
    }
    match s.faults_end_s {
        Some(end) if end > s.duration_s => {
            let _ = writeln!(
                out,
                "  recovery     - (the last fault, due to end at {end:.1} s, was still on when the run ended)"
            );
        }
        Some(end) => {
            let _ = writeln!(
                out,
                "  recovery     {} after the last fault ended at {end:.1} s",
                s.recovery_s
                    .map_or("never (backlog not back within its pre-fault band)".to_string(), |r| format!("{r:.1} s"))
            );
        }
        None => {}
    }
    if let Some(o) = &s.ordering {
        ordering(&mut out, o);
    }
    if let Some(p) = &s.servicebus {
        let dlq: u64 = p.dead_lettered_by_servicebus_reason.values().sum();
        let _ = writeln!(
            out,
            "  peek-lock    lock {}  {} lock(s) ran out ({} in the prefetch buffer)  {} settle(s) failed, lock lost \
             ({} after the work was done)  {dlq} to {}",
            human_ms(p.lock_duration_s * 1000.0),
            p.locks_expired,
            p.locks_expired_in_buffer,
            p.settles_failed_lock_lost,
            p.completed_after_lock_lost,
            p.dead_letter_queue
        );
    }
    for w in s.warnings() {
        let _ = writeln!(out, "  WARNING      {w}");
    }
    if !m.accounted || m.lost > 0 {
        let _ = writeln!(out, "  WARNING      {} message(s) lost: published != outcomes + in flight", m.lost);
    }
    out
}

/// The line keyed messages add: the keys, the mode, violations, the per-key lag and (keyed) the wait for a key.
fn ordering(out: &mut String, o: &super::summary::OrderingStats) {
    let dist = o.zipf_exponent.map_or(o.distribution.clone(), |e| format!("{} {e}", o.distribution));
    let wait = o.key_wait_ms.as_ref().filter(|w| w.count > 0).map_or(String::new(), |w| {
        format!("  wait for the key p50 {} p99 {} max {}", human_ms(w.p50), human_ms(w.p99), human_ms(w.max))
    });
    let _ = writeln!(
        out,
        "  ordering     {} keys ({dist}), {} consumers: {} violation(s) on {} key(s)  peak key backlog {} (key {}){wait}",
        o.keys, o.mode, o.violations, o.keys_out_of_order, o.peak_key_backlog, o.peak_key_backlog_key
    );
}

/// The lines a run on a real broker adds: where it ran, publishing, the bridge, outages, how it ended.
fn real(out: &mut String, r: &crate::broker::real::RealReport) {
    let kept = if r.topology_kept { "kept" } else { "deleted at the end" };
    let tls = if r.tls { ", TLS" } else { "" };
    let queue = r.topology.first().map_or("", String::as_str);
    let _ = writeln!(
        out,
        "  broker       {} at {}{tls}; {} queue {queue} ({kept}); run id {}",
        r.server, r.url, r.queue_type, r.run_id
    );
    let p = &r.publishing;
    let confirms = if p.confirms {
        format!("confirmed {} (window {})  nacked {}", p.confirmed, p.confirm_window, p.nacked)
    } else {
        "confirms OFF (producers.confirm_window = 0): nothing proves the broker took a message".to_string()
    };
    let _ = writeln!(
        out,
        "  publishing   {confirms}  republished {}  unconfirmed at end {}  producer lag p50 {} p99 {}",
        p.republished,
        p.unconfirmed_at_end,
        human_ms(p.lag_ms.p50),
        human_ms(p.lag_ms.p99)
    );
    let h = &r.handoff_us;
    let _ = writeln!(
        out,
        "  consuming    {} deliveries, {} redelivered, {} finished again (at-least-once); delivery to loop p50 {:.0} us \
         p99 {:.0} us",
        r.consuming.deliveries, r.consuming.redelivered, r.ledger.finished_again, h.p50, h.p99
    );
    for o in r.outages.iter().chain(&r.publishing.blocked) {
        let how_long = o.duration_s.map_or("until the end".to_string(), |d| format!("for {d:.2} s"));
        let _ = writeln!(out, "  outage       {} at {:.1} s {how_long}", o.what, o.start_s);
    }
    for f in &r.faults {
        let _ = writeln!(out, "  fault        faults[{}] {} {}", f.index, f.kind, f.when());
        if f.cost.is_some() {
            let _ = writeln!(out, "               {}", f.cost_line());
        }
        if let Some(e) = &f.error {
            let _ = writeln!(out, "               FAILED: {e}");
        }
        if !f.restored {
            let _ =
                writeln!(out, "               WARNING: the broker was NOT put back as it was found; see summary.json");
        }
    }
    let l = &r.ledger;
    if l.unconfirmed_unseen + l.held_at_end + l.consumed_elsewhere > 0 || !l.lost_ids.is_empty() {
        let _ = writeln!(
            out,
            "  ledger       {}: held at the end {}, lost {} {:?}, publish outcome unknown and never seen {}{}",
            l.method,
            l.held_at_end,
            l.lost,
            l.lost_ids,
            l.unconfirmed_unseen,
            if l.consumed_elsewhere > 0 {
                format!(", taken by other consumers {}", l.consumed_elsewhere)
            } else {
                String::new()
            }
        );
    }
    if let Some(po) = &r.produce_only {
        let drained =
            po.drain_s.map_or("never drained".to_string(), |d| format!("drained {d:.1} s after the last publish"));
        let _ = writeln!(
            out,
            "  your queue   published {:.1}/s  peak backlog {}  {drained}  consumers on it {}..{}",
            po.published_per_s, po.peak_backlog, po.consumers_min, po.consumers_max
        );
    }
    if r.time_scale_note.starts_with("time scale 1:") {
        let _ = writeln!(out, "  ended        {}", r.ended_by);
    } else {
        let _ = writeln!(out, "  ended        {}; {}", r.ended_by, r.time_scale_note);
    }
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
