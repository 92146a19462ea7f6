//! The tasks that read the broker: receivers that hold up to `prefetch` peek-locks per engine consumer (each lock is
//! one long-polling `POST .../messages/head`), the reader of `<queue>/$DeadLetterQueue` (the broker's own dead
//! letters, removed once recorded), and the depth poller (the management GET, at most once a second).

use super::bridge::{Ctx, Incoming, Lock, Settle};
use super::http::{get_entity, scrub, EntityError};
use super::message;
use super::send::settle_lock;
use azure_core::headers::Headers;
use azure_messaging_servicebus::service_bus::{PeekLockResponse, QueueClient};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A receive's long poll: the broker answers 204 after this long with nothing to deliver.
pub const POLL: Duration = Duration::from_secs(1);

/// What one peek-lock gave.
enum Got {
    Message(Box<PeekLockResponse>),
    Empty,
    /// Retry after a pause.
    Failed(String),
    /// The run cannot go on.
    Fatal(String),
}

async fn peek_lock(ctx: &Ctx, client: &QueueClient, entity: &str) -> Got {
    match client.peek_lock_message2(Some(POLL)).await {
        Err(e) => Got::Failed(scrub(&ctx.conn, &e)),
        Ok(r) => match u16::from(*r.status()) {
            201 | 200 if r.broker_properties().is_some() => Got::Message(Box::new(r)),
            201 | 200 => Got::Failed("a delivery without BrokerProperties".into()),
            204 => Got::Empty,
            s @ (401 | 403) => Got::Fatal(format!(
                "{} refused a receive from {entity} ({s}): the key lacks the Listen right, or was revoked",
                ctx.conn.place()
            )),
            404 => Got::Fatal(format!("the queue {entity} does not exist any more on {}", ctx.conn.place())),
            s => Got::Failed(format!("HTTP {s}")),
        },
    }
}

/// A header of the response (names are lower-case), without the quotes string properties come in.
pub fn header(r: &PeekLockResponse, name: &str) -> Option<String> {
    let h: Headers = r.custom_properties().ok()?;
    h.get_optional_str(&azure_core::headers::HeaderName::from(name.to_string()))
        .map(|v| message::unquoted(v).to_string())
}

/// The lock the broker granted, on our clock: `LockedUntilUtc` minus the response's `Date` (both whole seconds),
/// from now.
fn lock_of(r: PeekLockResponse, received: Instant) -> Lock {
    let until_utc = r.broker_properties().map(|p| p.locked_until_utc);
    let date = header(&r, "date")
        .and_then(|d| time::OffsetDateTime::parse(&d, &time::format_description::well_known::Rfc2822).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    let period = until_utc.map_or(Duration::ZERO, |u| Duration::try_from(u - date).unwrap_or(Duration::ZERO));
    Lock {
        msg: r,
        until: Mutex::new(received + period),
        period,
        lost: AtomicBool::new(false),
        done: AtomicBool::new(false),
    }
}

/// One receiver of an engine consumer: takes a slot (`slots` has `prefetch` of them), peek-locks a message and hands
/// it to the engine with the slot, until `stop` (the consumer was paused or closed). `gen` tells this opening of the
/// consumer from later ones.
pub async fn receiver(ctx: Arc<Ctx>, consumer: u32, gen: u32, stop: Arc<AtomicBool>, slots: Arc<Semaphore>) {
    let mut pause = Duration::from_millis(50);
    while !stop.load(Ordering::Acquire) {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
        };
        if stop.load(Ordering::Acquire) {
            return;
        }
        match peek_lock(&ctx, &ctx.work, &ctx.names.work).await {
            Got::Message(r) => {
                pause = Duration::from_millis(50);
                let received = Instant::now();
                let count = r.broker_properties().map_or(1, |p| p.delivery_count.max(1) as u32);
                let Some(env) = message::parse(&ctx.run, &r.body()) else {
                    // Someone else's: leave it locked; the broker makes it available again when the lock runs out.
                    ctx.emit(Incoming::Foreign);
                    continue;
                };
                let lock = Arc::new(lock_of(*r, received));
                ctx.emit(Incoming::Delivery { consumer, gen, env, count, lock, permit, received });
            }
            Got::Empty => {}
            Got::Failed(why) => {
                ctx.failed_receive(why);
                drop(permit);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Got::Fatal(why) => {
                ctx.fatal(why);
                return;
            }
        }
    }
}

/// Reads the broker's dead letters of this run off `<queue>/$DeadLetterQueue` until the end of the run.
pub async fn dead_letters(ctx: Arc<Ctx>) {
    let mut pause = Duration::from_millis(50);
    while !ctx.shared.stop.load(Ordering::Acquire) {
        match peek_lock(&ctx, &ctx.dlq, &ctx.names.dlq).await {
            Got::Message(r) => {
                pause = Duration::from_millis(50);
                let Some(env) = message::parse(&ctx.run, &r.body()) else { continue };
                let ours = header(&r, message::P_REASON);
                let broker = header(&r, &message::P_DEAD_LETTER_REASON.to_ascii_lowercase());
                let reason = message::reason(ours.as_deref(), broker.as_deref());
                let lock = lock_of(*r, Instant::now());
                settle_lock(&ctx, &lock, Settle::Complete).await;
                ctx.emit(Incoming::Dead { env, reason });
            }
            Got::Empty => {}
            Got::Failed(why) | Got::Fatal(why) => {
                ctx.failed_receive(why);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Polls the queue's counts every `every` (at least a second apart) until the end of the run.
pub async fn depths(ctx: Arc<Ctx>, every: Duration) {
    let every = every.max(Duration::from_secs(1));
    let mut misses = 0;
    while !ctx.shared.stop.load(Ordering::Acquire) {
        match get_entity(&ctx.http, &ctx.conn, &ctx.names.work).await {
            Ok(e) => {
                misses = 0;
                ctx.shared.active.store(e.active, Ordering::Release);
                ctx.shared.dead.store(e.dead, Ordering::Release);
                ctx.shared.scheduled.store(e.scheduled, Ordering::Release);
                ctx.shared.polls.fetch_add(1, Ordering::AcqRel);
            }
            Err(EntityError::Missing) if misses >= 1 => {
                ctx.fatal(format!("the queue {} was deleted on {}", ctx.names.work, ctx.conn.place()));
                return;
            }
            Err(EntityError::Missing) => misses += 1,
            Err(_) => {}
        }
        tokio::time::sleep(every).await;
    }
}

/// The end's sweep: peek-locks what is left of this run in the work queue, reports the ids and removes those
/// messages (others' are left alone). Returns the ids, and whether the queue answered empty before `limit`.
pub async fn sweep(ctx: Arc<Ctx>, limit: Duration) -> (Vec<u64>, bool) {
    let until = Instant::now() + limit;
    let mut ids = Vec::new();
    let mut empties = 0;
    while Instant::now() < until {
        match peek_lock(&ctx, &ctx.work, &ctx.names.work).await {
            Got::Message(r) => {
                empties = 0;
                if let Some(env) = message::parse(&ctx.run, &r.body()) {
                    ids.push(env.id);
                    let lock = lock_of(*r, Instant::now());
                    settle_lock(&ctx, &lock, Settle::Complete).await;
                }
            }
            Got::Empty => {
                empties += 1;
                if empties >= 2 {
                    return (ids, true);
                }
            }
            Got::Failed(_) | Got::Fatal(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    (ids, false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_parse_as_rfc_2822() {
        // The `Date` header and `LockedUntilUtc` both come as `Wed, 02 Dec 2026 05:10:00 GMT`.
        let rfc = &time::format_description::well_known::Rfc2822;
        let t = time::OffsetDateTime::parse("Wed, 02 Dec 2026 05:10:00 GMT", rfc).unwrap();
        assert_eq!(t.unix_timestamp(), 1_796_188_200);
    }
}
