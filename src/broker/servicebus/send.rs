//! The tasks that change the broker: sends (messages, scheduled copies for delayed redelivery, copies to `_error`
//! / `_skipped`), completes and abandons, and lock renewals. Each is one HTTP request (a few on retry); its outcome
//! comes back to the engine as an event.

use super::bridge::{Ctx, Incoming, Lock, Original, Settle, Target};
use super::http::{scrub, status_of};
use super::message;
use crate::broker::Envelope;
use azure_messaging_servicebus::service_bus::{SendMessageOptions, SettableBrokerProperties};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Attempts of one send before the run fails (transport errors, 5xx, 429), with backoff in between.
const SEND_ATTEMPTS: u32 = 5;

/// One send: the envelope to `target`, scheduled at `at` (wall clock) when given; `original` is completed once the
/// broker took the copy (abandoned if it never does).
pub struct Send {
    pub env: Envelope,
    pub target: Target,
    pub at: Option<SystemTime>,
    pub original: Option<Original>,
}

fn options(ctx: &Ctx, s: &Send) -> SendMessageOptions {
    let mut props = SettableBrokerProperties {
        message_id: Some(format!("{}-{}-{}", ctx.run, s.env.id, s.env.redeliveries)),
        time_to_live: ctx.ttl,
        ..Default::default()
    };
    if let Some(at) = s.at {
        // The REST API takes whole seconds (RFC 2822): round up, so that a copy is never early.
        let secs = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() + (d.subsec_nanos() > 0) as u64);
        props.scheduled_enqueue_time_utc = time::OffsetDateTime::from_unix_timestamp(secs as i64).ok();
    }
    let mut custom = HashMap::new();
    if let Target::Dead(reason) = s.target {
        custom.insert(message::P_REASON.to_string(), message::quoted(reason.as_str()));
        custom.insert("MT-Reason".to_string(), message::quoted("fault"));
        // Copies to the error queues keep no time to live: they are kept for inspection.
        props.time_to_live = None;
    }
    SendMessageOptions {
        content_type: Some("application/json".into()),
        broker_properties: Some(props),
        custom_properties: (!custom.is_empty()).then_some(custom),
    }
}

/// Sends, retrying what may succeed later; then settles the original and reports.
pub async fn send(ctx: Arc<Ctx>, s: Send) {
    let permit = ctx.send_slots.clone().acquire_owned().await;
    let body = message::body(&ctx.run, &s.env, s.env.published);
    let client = match s.target {
        Target::Work => &ctx.work,
        Target::Dead(r) if r.skipped() => &ctx.skipped,
        Target::Dead(_) => &ctx.error,
    };
    let (mut ok, mut refused) = (false, false);
    let mut last = String::new();
    for attempt in 0..SEND_ATTEMPTS {
        match client.send_message(&body, Some(options(&ctx, &s))).await {
            Ok(()) => {
                ok = true;
                break;
            }
            Err(e) => {
                let status = status_of(&e);
                last = scrub(&ctx.conn, &e);
                match status {
                    Some(401 | 403) => {
                        ctx.fatal(format!(
                            "{} refused a send to {} ({}): the key lacks the Send right, or was revoked",
                            ctx.conn.place(),
                            entity(&ctx, s.target),
                            status.unwrap_or(0)
                        ));
                        break;
                    }
                    Some(404) => {
                        ctx.fatal(format!(
                            "the queue {} does not exist any more on {}",
                            entity(&ctx, s.target),
                            ctx.conn.place()
                        ));
                        break;
                    }
                    Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
                        refused = true;
                        break;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await,
                }
            }
        }
    }
    drop(permit);
    if !ok && !refused && s.original.is_none() {
        ctx.fatal(format!("sending to {} failed {SEND_ATTEMPTS} times: {last}", entity(&ctx, s.target)));
    }
    let original = match s.original {
        Some(o) => {
            let what = if ok { Settle::Complete } else { Settle::Abandon };
            let done = settle_lock(&ctx, &o.lock, what).await;
            drop(o.permit);
            Some((o.consumer, o.tag, done))
        }
        None => None,
    };
    ctx.shared.settled.fetch_add(1, Ordering::AcqRel);
    ctx.emit(Incoming::Sent { env: s.env, target: s.target, ok, refused, original });
    if ctx.shared.waiting.swap(false, Ordering::AcqRel) {
        ctx.emit(Incoming::Wake);
    }
}

fn entity(ctx: &Ctx, t: Target) -> &str {
    match t {
        Target::Work => &ctx.names.work,
        Target::Dead(r) if r.skipped() => &ctx.names.skipped,
        Target::Dead(_) => &ctx.names.error,
    }
}

/// Completes (DELETE on the lock URL) or abandons (PUT) a delivery; false when the lock was lost or the request
/// failed (the broker then makes the message available again when the lock runs out).
pub async fn settle_lock(ctx: &Ctx, lock: &Lock, what: Settle) -> bool {
    lock.done.store(true, Ordering::Release);
    let r = match what {
        Settle::Complete => lock.msg.delete_message().await.map(|_| ()),
        Settle::Abandon => lock.msg.unlock_message().await,
    };
    match r {
        Ok(()) => true,
        Err(e) => {
            if matches!(status_of(&e), Some(401 | 403)) {
                ctx.fatal(format!(
                    "{} refused a complete or abandon: the key lacks the Listen right",
                    ctx.conn.place()
                ));
            }
            lock.lost.store(true, Ordering::Release);
            false
        }
    }
}

/// A complete or abandon of a delivery the engine settled, reported back.
pub async fn settle(ctx: Arc<Ctx>, o: Original, what: Settle) {
    let ok = settle_lock(&ctx, &o.lock, what).await;
    drop(o.permit);
    ctx.emit(Incoming::Settled { ok });
}

/// Renews a delivery's lock every half lock period while its handler runs, for at most `cap` (wall clock: the
/// processor's `max_auto_lock_renewal`); stops when the delivery is settled or a renewal fails (the lock is lost).
pub async fn renew(ctx: Arc<Ctx>, lock: Arc<Lock>, cap: Duration) {
    let start = Instant::now();
    let every = (lock.period / 2).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        if lock.done.load(Ordering::Acquire) || lock.lost.load(Ordering::Acquire) || start.elapsed() >= cap {
            return;
        }
        match lock.msg.renew_message_lock().await {
            Ok(()) => {
                ctx.shared.renewals.fetch_add(1, Ordering::AcqRel);
                if let Ok(mut u) = lock.until.lock() {
                    *u = Instant::now() + lock.period;
                }
            }
            Err(_) => {
                ctx.shared.renewals_failed.fetch_add(1, Ordering::AcqRel);
                lock.lost.store(true, Ordering::Release);
                return;
            }
        }
    }
}
