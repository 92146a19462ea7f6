//! The run's topology on RabbitMQ, every name suffixed with the run id: the work queue (classic or quorum, with
//! `x-delivery-limit`, `x-max-length`/`x-overflow`, `x-message-ttl`), `<queue>_error` and `<queue>_skipped`, a
//! dead-letter exchange that routes broker dead letters into `<queue>_error`, and one TTL delay queue per
//! redelivery delay that dead-letters back into the work queue (RabbitMQ 3.10 has no delayed-message plugin, and
//! per-message TTL on one shared queue would hold short delays behind long ones).

use super::bridge::bounded;
use crate::scenario::{Overflow, QueueCfg, QueueType};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};
use std::collections::BTreeSet;

/// The names a run uses.
#[derive(Clone, Debug)]
pub struct Names {
    pub run_id: String,
    /// What the run's messages carry in their run header: the run id and a nonce of this process, so that messages
    /// left by an earlier run with the same `--run-id` (a kept topology) are never taken for this run's.
    pub stamp: String,
    pub work: String,
    pub error: String,
    pub skipped: String,
    pub dlx: String,
    /// Prefix of the delay queues: `<prefix><ms>ms`.
    delay_prefix: String,
    /// The work queue is the user's (`queue.reuse`): used as it is, never declared with our arguments or deleted.
    pub reused: bool,
}

impl Names {
    pub fn new(q: &QueueCfg, run_id: &str, nonce: &str) -> Names {
        let own = format!("{}-{run_id}", q.name);
        let work = if q.reuse { q.name.clone() } else { own.clone() };
        Names {
            run_id: run_id.to_string(),
            stamp: format!("{run_id}.{nonce}"),
            error: format!("{work}_error"),
            skipped: format!("{work}_skipped"),
            dlx: format!("{own}.dlx"),
            delay_prefix: format!("{own}_delay_"),
            work,
            reused: q.reuse,
        }
    }

    /// The delay queue for a redelivery delay of `wall_ms` milliseconds of wall-clock time.
    pub fn delay(&self, wall_ms: u64) -> String {
        format!("{}{wall_ms}ms", self.delay_prefix)
    }
}

fn text(s: &str) -> AMQPValue {
    // Queue-argument strings must be long strings: a short string makes RabbitMQ reset the connection.
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

fn int(v: u64) -> AMQPValue {
    AMQPValue::LongLongInt(v.min(i64::MAX as u64) as i64)
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() }
}

/// The work queue's arguments. `time_scale` turns scenario time into the broker's wall-clock milliseconds.
pub fn work_queue_args(q: &QueueCfg, names: &Names, time_scale: f64) -> FieldTable {
    let mut a = FieldTable::default();
    a.insert("x-queue-type".into(), text(q.queue_type.as_str()));
    a.insert("x-dead-letter-exchange".into(), text(&names.dlx));
    a.insert("x-dead-letter-routing-key".into(), text(&names.error));
    if let (Some(n), QueueType::Quorum) = (q.max_delivery_count, q.queue_type) {
        // Quorum queues dead-letter once a message has been returned `x-delivery-limit` times, i.e. on what would
        // be delivery number limit + 2: the limit is max_delivery_count - 1.
        a.insert("x-delivery-limit".into(), int(n.saturating_sub(1) as u64));
    }
    if let Some(max) = q.max_length {
        a.insert("x-max-length".into(), int(max));
        let overflow = match q.overflow {
            Overflow::DropHead => "drop-head",
            // Refused at validation for a real broker (RabbitMQ has no blocking overflow); the nearest if it came.
            Overflow::RejectPublish | Overflow::Block => "reject-publish",
        };
        a.insert("x-overflow".into(), text(overflow));
    }
    if let Some(ttl) = q.message_ttl {
        a.insert("x-message-ttl".into(), int(wall_ms(ttl.ns(), time_scale).max(1)));
    }
    a
}

/// Scenario nanoseconds as wall-clock milliseconds at `time_scale`, rounded.
pub fn wall_ms(ns: u64, time_scale: f64) -> u64 {
    (ns as f64 / 1e6 / time_scale).round().max(0.0) as u64
}

/// Declares what the run needs (idempotent: a reconnect declares it again). Returns the names declared and the
/// messages the work queue already held. Produce-only runs (`dead_letters` false) leave the dead-letter queues to
/// the user's service.
pub async fn declare(
    ch: &Channel,
    q: &QueueCfg,
    names: &Names,
    time_scale: f64,
    dead_letters: bool,
) -> lapin::Result<(Vec<String>, u32)> {
    let mut made = Vec::new();
    let held;
    if names.reused {
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        held = ch.queue_declare(names.work.as_str().into(), passive, FieldTable::default()).await?.message_count();
    } else {
        ch.exchange_declare(
            names.dlx.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() },
            FieldTable::default(),
        )
        .await?;
        made.push(names.dlx.clone());
        let args = work_queue_args(q, names, time_scale);
        held = ch.queue_declare(names.work.as_str().into(), durable(), args).await?.message_count();
        made.push(names.work.clone());
    }
    for dlq in [&names.error, &names.skipped].into_iter().filter(|_| dead_letters || !names.reused) {
        ch.queue_declare(dlq.as_str().into(), durable(), FieldTable::default()).await?;
        if !names.reused {
            made.push(dlq.clone());
        }
    }
    if !names.reused {
        let bind = QueueBindOptions::default();
        let (e, k) = (names.dlx.as_str(), names.error.as_str());
        ch.queue_bind(k.into(), e.into(), k.into(), bind, FieldTable::default()).await?;
    }
    Ok((made, held))
}

/// Declares the delay queue for `wall_ms`: messages wait there for its TTL, then dead-letter into the work queue.
pub async fn declare_delay(ch: &Channel, names: &Names, wall_ms: u64) -> lapin::Result<String> {
    let name = names.delay(wall_ms);
    let mut a = FieldTable::default();
    a.insert("x-queue-type".into(), text("classic"));
    a.insert("x-message-ttl".into(), int(wall_ms));
    a.insert("x-dead-letter-exchange".into(), text(""));
    a.insert("x-dead-letter-routing-key".into(), text(&names.work));
    ch.queue_declare(name.as_str().into(), durable(), a).await?;
    Ok(name)
}

/// Deletes queues and exchanges by name (the exchange first, so nothing routes into a half-deleted topology).
/// Missing ones are fine; returns the names that could not be deleted, with why.
pub async fn delete(conn: &lapin::Connection, names: &Names, made: &BTreeSet<String>) -> Vec<String> {
    let mut failed = Vec::new();
    for name in made {
        let ch = match bounded(conn.create_channel()).await {
            Ok(ch) => ch,
            Err(e) => {
                failed.push(format!("{name}: {e}"));
                continue;
            }
        };
        let result = if *name == names.dlx {
            bounded(ch.exchange_delete(name.as_str().into(), Default::default())).await
        } else {
            bounded(ch.queue_delete(name.as_str().into(), QueueDeleteOptions::default())).await.map(|_| ())
        };
        match result {
            Ok(()) => {
                let _ = bounded(ch.close(200, "bye".into())).await;
            }
            // 404: already gone (deleted by a test, or by a fault); the channel is closed by the broker.
            Err(e) if is_not_found(&e) => {}
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    failed
}

pub fn is_not_found(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(amqp) if amqp.get_id() == 404)
}
