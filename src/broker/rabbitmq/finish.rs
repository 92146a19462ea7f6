//! The end of a run on RabbitMQ: stop consuming (what consumers held goes back to the queue), let outstanding
//! confirms arrive, reconcile every message id (finished, held in a queue, lost, never accepted), remove the run's
//! topology unless asked to keep it, and write what happened into the report.

use super::bridge::{Incoming, Intervals};
use super::{consume, RabbitBroker, State};
use crate::broker::real::{
    Consuming, DelayStats, EndReason, Interval, ProduceOnly, ProxyReport, Publishing, RealReport, Reconciliation,
};
use crate::broker::Broker;
use crate::record::ledger::BitSet;
use crate::report::summary::{percentiles, round};
use crate::time::Nanos;
use std::time::{Duration, Instant};

/// How long the end waits for outstanding publisher confirms.
const CONFIRM_WAIT: Duration = Duration::from_secs(5);
/// How long it listens for dead letters still on their way.
const LATE_WAIT: Duration = Duration::from_millis(300);

pub fn finish(b: &mut RabbitBroker, ended: &EndReason, produced: u64, finished: &dyn Fn(u64) -> bool) -> RealReport {
    // Stop publishing first: copies that replace deliveries (delayed redeliveries, moves to `_error`) get their
    // confirms, and the deliveries they replace are acked, before the consumers close and hand back what they hold.
    // Put the broker back first (the reconciliation below must reach it), and let no toxic act any more.
    if let Some((_, schedule)) = &b.proxy {
        schedule.disarm();
    }
    let mut fault_runs = b.faults.as_mut().map(|d| d.finish()).unwrap_or_default();
    let (reply, answer) = tokio::sync::oneshot::channel();
    if let Some(stop) = b.stop_publisher.take() {
        let _ = stop.send((CONFIRM_WAIT, reply));
    }
    let pubr = b.rt.block_on(async { tokio::time::timeout(CONFIRM_WAIT * 2, answer).await.ok()?.ok() });

    // What is still on its way: acks for confirmed copies are sent; dead letters are in a queue at the end (held,
    // not lost); deliveries are left to go back to the queue when the consumers close.
    let mut in_dlq = BitSet::default();
    let mut scratch = Vec::new();
    let until = Instant::now() + LATE_WAIT;
    while let Ok(m) = b.rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        match m {
            Incoming::Dead { env, .. } => {
                in_dlq.set(env.id);
            }
            m @ (Incoming::AckNow(_) | Incoming::RequeueNow(_)) => b.incoming(m, &mut scratch),
            _ => {}
        }
    }
    let now = b.clock.now();
    for c in 0..b.consumers.len() as u32 {
        if b.consumers[c as usize].state != State::Closed {
            b.close_consumer(now, c, &mut scratch);
        }
    }

    let confirms = b.window > 0;
    let empty = BitSet::default();
    let confirmed = pubr.as_ref().map_or(&empty, |p| &p.confirmed);
    let open: Vec<u64> = (0..produced).filter(|&id| !finished(id) && !b.refused.get(id)).collect();
    // Reading messages back (and returning them) raises quorum delivery counts: never on a kept quorum queue, and
    // never on a reused queue (it is the user's).
    let by_id = !b.info.names.reused && (!b.info.keep || b.info.queue_type == "classic");
    let mut ledger = Reconciliation { method: "by id".into(), ..Default::default() };
    if !open.is_empty() {
        // Never read a user's queue (produce-only): count it.
        let sweep = sweep(b, by_id && !b.produce_only);
        let mut held = BitSet::default();
        for id in &sweep.ids {
            held.set(*id);
        }
        if !sweep.counted_all {
            // Nothing can be told lost without asking the broker: count the open messages as held, and say so.
            ledger.method = "unknown (the broker could not be asked at the end: open messages counted as held)".into();
            ledger.held_at_end = open.len() as u64;
        } else if b.produce_only {
            ledger.method = "by count (produce-only: the queue is the user's, so it is not read back)".into();
            ledger.held_at_end = sweep.counted.min(open.len() as u64);
            ledger.consumed_elsewhere = open.len() as u64 - ledger.held_at_end;
        } else if by_id && sweep.read_all {
            for &id in &open {
                if held.get(id) || in_dlq.get(id) || b.dead_seen.get(id) {
                    ledger.held_at_end += 1;
                } else if confirmed.get(id) || !confirms {
                    ledger.lost += 1;
                    if ledger.lost_ids.len() < 20 {
                        ledger.lost_ids.push(id);
                    }
                } else {
                    ledger.unconfirmed_unseen += 1;
                }
            }
            if !confirms {
                ledger.method = "by id (confirms off: a message never seen again counts as lost)".into();
            }
        } else {
            ledger.method = if by_id {
                "by count (not every message could be read back in time)".into()
            } else {
                "by count (queue depths: a kept quorum queue or a reused queue is not read back)".into()
            };
            ledger.held_at_end = sweep.counted.min(open.len() as u64);
            ledger.lost = open.len() as u64 - ledger.held_at_end;
        }
    }

    let (reply, answer) = tokio::sync::oneshot::channel();
    let _ = b.consume.send(consume::Command::Finish(reply));
    let conr = b.rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), answer).await.ok()?.ok() });

    let mut topology: Vec<String> = vec![b.info.names.work.clone()];
    topology.extend(b.info.made.iter().filter(|n| **n != b.info.names.work).cloned());
    if let Some(p) = &pubr {
        topology.extend(p.delay_queues.iter().filter(|q| !b.info.made.contains(*q)).cloned());
    }
    let kept = b.info.keep || b.info.names.reused;
    let mut to_delete = b.info.made.clone();
    to_delete.extend(b.shared.delay_queues.lock().map(|q| q.clone()).unwrap_or_default());
    let mut cleanup_failed = Vec::new();
    if !b.info.keep {
        cleanup_failed = b.rt.block_on(async {
            match b.info.endpoint.open(&format!("loadtest {} cleanup", b.info.names.run_id)).await {
                Ok(conn) => {
                    let failed = super::topology::delete(&conn, &b.info.names, &to_delete).await;
                    let _ = super::bridge::bounded(conn.close(200, "cleaned up".into())).await;
                    failed
                }
                Err(e) => vec![e],
            }
        });
    }

    let secs = |ns: Nanos| round(ns as f64 / 1e9, 3);
    let intervals = |i: &Intervals| -> Vec<Interval> {
        i.spans
            .iter()
            .map(|(s, e)| Interval { what: i.what.clone(), start_s: secs(*s), duration_s: e.map(|e| secs(e - s)) })
            .collect()
    };
    let mut outages = pubr.as_ref().map(|p| intervals(&p.outages)).unwrap_or_default();
    outages.extend(conr.as_ref().map(|c| intervals(&c.outages)).unwrap_or_default());
    outages.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let scale = b.time_scale;
    let time_scale_note = if scale == 1.0 {
        "time scale 1: scenario time is wall-clock time".to_string()
    } else {
        format!(
            "time scale {scale}: scenario time runs {scale}x the wall clock, so the broker's own latency shows \
             multiplied by {scale} (1 ms on the broker reads as {scale} ms of scenario time)"
        )
    };
    let poll_ms = b.info.poll_every.as_millis();
    let mut depth_sources = vec![
        format!("ready: passive queue.declare on {} every {poll_ms} ms (wall clock)", b.info.names.work),
        "unacked: the harness's books (deliveries handed to consumers and not yet acked)".to_string(),
        "delayed: the harness's books (redeliveries not yet due); the delay queues are also polled".to_string(),
        format!("dlq: messages read back from {} and {}", b.info.names.error, b.info.names.skipped),
    ];
    if b.produce_only {
        depth_sources.push("consumers: the queue's consumer count from the same passive declare".into());
    }
    let mut ended_by = ended.describe();
    if !cleanup_failed.is_empty() {
        ended_by.push_str(&format!("; could not remove {}", cleanup_failed.join(", ")));
    }
    let server = format!("{} {}", b.info.server.product, b.info.server.version).trim().to_string();
    let proxy = b.proxy.take().map(|(p, _)| {
        let stats = p.stats();
        p.shutdown();
        fault_runs.extend(super::faults::network_runs(&b.fault_plan, &stats.per_toxic, b.clock.now()));
        ProxyReport {
            listen: p.addr().to_string(),
            upstream: b.info.endpoint.url.place(),
            connections: stats.connections,
            bytes_upstream: stats.bytes_upstream,
            bytes_downstream: stats.bytes_downstream,
        }
    });
    fault_runs.sort_by_key(|f| f.index);
    let c = &b.counts;
    RealReport {
        kind: "rabbitmq".into(),
        url: b.info.endpoint.url.to_string(),
        host: b.info.endpoint.url.host.clone(),
        port: b.info.endpoint.url.port,
        vhost: b.info.endpoint.url.vhost.clone(),
        tls: b.info.endpoint.url.tls,
        server: if server.is_empty() { "unknown".into() } else { server },
        queue_type: b.info.queue_type.into(),
        run_id: b.info.names.run_id.clone(),
        topology,
        topology_kept: kept,
        ended_by,
        time_scale_note,
        depth_sources,
        publishing: Publishing {
            confirms,
            confirm_window: b.window,
            persistent: b.info.persistent,
            confirmed: pubr.as_ref().map_or(0, |p| p.confirmed_count),
            nacked: pubr.as_ref().map_or(0, |p| p.nacked),
            republished: pubr.as_ref().map_or(0, |p| p.republished),
            unconfirmed_at_end: pubr.as_ref().map_or(0, |p| p.unconfirmed_at_end),
            lag_ms: pubr.as_ref().map(|p| percentiles(&p.lag)).unwrap_or_default(),
            blocked: pubr.as_ref().map(|p| intervals(&p.blocked)).unwrap_or_default(),
        },
        consuming: Consuming {
            deliveries: c.deliveries,
            redelivered: c.redelivered,
            stale_acks: c.stale_acks,
            requeued_by_outages: c.requeued_by_outages,
            duplicate_dead_letters: c.duplicate_dead_letters,
            foreign: c.foreign,
        },
        outages,
        ledger,
        handoff_us: percentiles(&b.handoff),
        delays: b
            .lateness
            .iter()
            .map(|(ms, h)| DelayStats {
                queue: b.info.names.delay(*ms),
                ttl_ms: *ms,
                returned: h.len(),
                late_ms: percentiles(h),
            })
            .collect(),
        produce_only: b.produce_only.then(|| ProduceOnly {
            published_per_s: {
                let n = b.shared.submitted.load(std::sync::atomic::Ordering::Acquire) as f64;
                if b.last_publish > 0 {
                    round(n / (b.last_publish as f64 / 1e9), 3)
                } else {
                    0.0
                }
            },
            peak_backlog: conr.as_ref().map_or(0, |c| c.peak_ready),
            drain_s: b.drained_at.map(|d| secs(d.saturating_sub(b.last_publish))),
            drained_at_s: b.drained_at.map(secs),
            consumers_min: conr.as_ref().map_or(0, |c| c.consumers_min),
            consumers_max: conr.as_ref().map_or(0, |c| c.consumers_max),
            consumers_source: "passive queue.declare consumer_count".into(),
        }),
        proxy,
        faults: fault_runs,
    }
}

fn sweep(b: &mut RabbitBroker, read: bool) -> consume::Sweep {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let _ = b.consume.send(consume::Command::Sweep { read, reply });
    b.rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), answer).await.ok()?.ok() }).unwrap_or_default()
}
