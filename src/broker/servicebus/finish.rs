//! The end of a run on Service Bus: stop receiving, let outstanding sends finish, give back what consumers hold,
//! reconcile every message id (finished, still in the queue, scheduled, dead-lettered, lost, never accepted) and
//! say what happened. This run's messages left in the work queue are counted and removed; the entities stay.

use super::bridge::Incoming;
use super::{receive, ServiceBus, State};
use crate::broker::real::{Consuming, DelayStats, EndReason, Publishing, RealReport, Reconciliation};
use crate::broker::Broker;
use crate::record::ledger::BitSet;
use crate::report::summary::percentiles;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the end waits for outstanding sends (and the completes that follow them).
const SEND_WAIT: Duration = Duration::from_secs(10);
/// How long it listens for dead letters still on their way.
const LATE_WAIT: Duration = Duration::from_millis(1500);
/// How long the sweep of the work queue may take.
const SWEEP_LIMIT: Duration = Duration::from_secs(30);

pub fn finish(b: &mut ServiceBus, ended: &EndReason, produced: u64, finished: &dyn Fn(u64) -> bool) -> RealReport {
    // No new deliveries; what arrives from here is given back.
    for c in &b.consumers {
        c.stop.store(true, Ordering::Release);
    }
    let mut in_dlq = BitSet::default();
    let mut scratch = Vec::new();
    let mut take = |b: &mut ServiceBus, m: Incoming, scratch: &mut Vec<_>| match m {
        Incoming::Dead { env, .. } => {
            in_dlq.set(env.id);
        }
        m @ Incoming::Delivery { .. } => {
            // A consumer closed below: given back.
            b.incoming(m, scratch);
        }
        m => b.incoming(m, scratch),
    };
    let until = Instant::now() + SEND_WAIT;
    while b.ctx.shared.in_flight() > 0 && Instant::now() < until {
        if let Ok(m) = b.rx.recv_timeout(Duration::from_millis(20)) {
            take(b, m, &mut scratch);
        }
    }
    let unsent = b.ctx.shared.in_flight();
    let now = b.clock.now();
    for c in 0..b.consumers.len() as u32 {
        if b.consumers[c as usize].state != State::Closed {
            b.close_consumer(now, c, &mut scratch);
        }
    }
    let until = Instant::now() + LATE_WAIT;
    while let Ok(m) = b.rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        take(b, m, &mut scratch);
    }
    // Dead letters the engine did not see in time are in a queue at the end: held, not lost.
    for e in &scratch {
        if let crate::broker::BrokerEvent::DeadLettered { env, .. } = e {
            in_dlq.set(env.id);
        }
    }

    let open: Vec<u64> = (0..produced).filter(|&id| !finished(id) && !b.refused.get(id)).collect();
    let mut ledger = Reconciliation { method: "by id".into(), ..Default::default() };
    let mut swept = 0;
    if !open.is_empty() {
        let ctx = Arc::clone(&b.ctx);
        let (ids, complete) = b.rt.block_on(receive::sweep(ctx, SWEEP_LIMIT));
        swept = ids.len();
        let mut held = BitSet::default();
        for id in ids {
            held.set(id);
        }
        let mut scheduled = BitSet::default();
        for (id, _) in b.due_of.keys() {
            scheduled.set(*id);
        }
        for &id in &open {
            if held.get(id) || in_dlq.get(id) || b.dead_seen.get(id) || scheduled.get(id) {
                ledger.held_at_end += 1;
            } else if b.confirmed.get(id) {
                ledger.lost += 1;
                if ledger.lost_ids.len() < 20 {
                    ledger.lost_ids.push(id);
                }
            } else {
                ledger.unconfirmed_unseen += 1;
            }
        }
        if !complete {
            ledger.method =
                "by id (the sweep of the queue ran out of time: messages not read back count as lost)".into();
        }
    }
    b.ctx.shared.stop.store(true, Ordering::Release);

    let names = &b.info.names;
    let entity = &b.info.entity;
    let scale = b.time_scale;
    let time_scale_note = if scale == 1.0 {
        "time scale 1: scenario time is wall-clock time".to_string()
    } else {
        format!(
            "time scale {scale}: scenario time runs {scale}x the wall clock, so the broker's own latency (an HTTP \
             round trip per operation) shows multiplied by {scale}"
        )
    };
    let s = &b.ctx.shared;
    let depth_sources = vec![
        format!(
            "ready: ActiveMessageCount of {} from the management GET every {} ms (wall clock), less the locks held",
            names.work,
            b.info.poll_every.as_millis()
        ),
        "unacked: the harness's books (peek-locks handed to consumers and not yet settled)".to_string(),
        "delayed: the harness's books (scheduled copies not yet due; the REST API schedules to whole seconds)".into(),
        format!("dlq: copies sent to {} / {}, and dead letters read off {}", names.error, names.skipped, names.dlq),
        format!(
            "lock renewals {} (failed {}), completes or abandons that found the lock lost {} (as stale_acks), \
             receive errors retried {}{}",
            s.renewals.load(Ordering::Acquire),
            s.renewals_failed.load(Ordering::Acquire),
            b.counts.lost_locks,
            s.receive_errors.load(Ordering::Acquire),
            s.last_receive_error
                .lock()
                .map(|e| if e.is_empty() { String::new() } else { format!(" (latest: {e})") })
                .unwrap_or_default()
        ),
    ];
    let mut ended_by = ended.describe();
    ended_by
        .push_str(&format!("; entities are not deleted ({swept} of this run's messages removed from {}", names.work));
    ended_by.push_str(if b.due_of.is_empty() { ")" } else { "; scheduled copies not yet due stay scheduled)" });
    let mut description =
        format!("queue, MaxDeliveryCount {}", entity.max_delivery_count.map_or("?".into(), |m| m.to_string()));
    if let Some(l) = &entity.lock_duration {
        description.push_str(&format!(", LockDuration {l}"));
    }
    let c = &b.counts;
    let conn = &b.info.conn;
    RealReport {
        kind: "servicebus".into(),
        url: conn.to_string(),
        host: conn.place(),
        port: conn.emulator.unwrap_or(443),
        vhost: String::new(),
        tls: conn.emulator.is_none(),
        server: "Azure Service Bus, REST API (azure_messaging_servicebus 0.21)".into(),
        queue_type: description,
        run_id: b.info.run_id.clone(),
        topology: vec![names.work.clone(), names.error.clone(), names.skipped.clone(), names.dlq.clone()],
        topology_kept: true,
        ended_by,
        time_scale_note,
        depth_sources,
        publishing: Publishing {
            confirms: true,
            confirm_window: b.window,
            persistent: true,
            confirmed: c.confirmed,
            nacked: c.refused_publishes,
            republished: 0,
            unconfirmed_at_end: unsent,
            lag_ms: Default::default(),
            blocked: Vec::new(),
        },
        consuming: Consuming {
            deliveries: c.deliveries,
            redelivered: c.redelivered,
            stale_acks: c.lost_locks,
            requeued_by_outages: 0,
            duplicate_dead_letters: c.duplicate_dead_letters,
            foreign: c.foreign,
        },
        outages: Vec::new(),
        ledger,
        handoff_us: percentiles(&b.handoff),
        delays: b
            .lateness
            .iter()
            .map(|(ms, h)| DelayStats {
                queue: format!("{} (scheduled {ms} ms)", names.work),
                ttl_ms: *ms,
                returned: h.len(),
                late_ms: percentiles(h),
            })
            .collect(),
        produce_only: None,
        proxy: None,
        faults: Vec::new(),
    }
}
