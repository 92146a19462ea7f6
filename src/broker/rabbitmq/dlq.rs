//! Dead-letter queues on RabbitMQ, for `loadtest dlq`. Reading never consumes: messages are taken with `basic.get`
//! unacked and the channel is closed afterwards, which puts every one back where it was (the management API's
//! `ack_requeue_true` does the same, but needs the plugin). Replay is at-least-once and never lossy: publish to the
//! target with a confirm, and only then ack the dead-letter copy; a journal makes a rerun after a crash skip what
//! was already moved.

use super::bridge::bounded;
use super::connect::Endpoint;
use super::message::{any_envelope, int, long_string, text, H_REASON};
use crate::dlq::{DeadLetter, Death, Filter};
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why a dead-letter operation could not be done.
#[derive(Debug)]
pub enum DlqError {
    /// The queue does not exist (an input error: exit 2).
    NoQueue(String),
    /// The broker failed or went away (exit 3).
    Broker(String),
}

impl std::fmt::Display for DlqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DlqError::NoQueue(q) => write!(f, "there is no queue {q} on the broker (check the name and the vhost)"),
            DlqError::Broker(why) => f.write_str(why),
        }
    }
}

fn broker(e: lapin::Error) -> DlqError {
    DlqError::Broker(e.to_string())
}

/// Reads and moves dead letters over two connections (reading, publishing): a blocked publishing connection
/// cannot hold up the reads and acks.
pub struct Client {
    pub rt: tokio::runtime::Runtime,
    pub endpoint: Endpoint,
    pub read: Connection,
    pub publish: Connection,
}

impl Client {
    /// Probes the broker and opens the connections, named `loadtest dlq <role> ...`.
    pub fn connect(endpoint: Endpoint, role: &str) -> Result<Client, String> {
        endpoint.probe()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the AMQP client's runtime: {e}"))?;
        let (read, publish) = rt.block_on(async {
            let read = endpoint.open(&format!("loadtest dlq {role} read")).await?;
            let publish = endpoint.open(&format!("loadtest dlq {role} publish")).await?;
            Ok::<_, String>((read, publish))
        })?;
        Ok(Client { rt, endpoint, read, publish })
    }

    pub fn depth(&self, queue: &str) -> Result<u64, DlqError> {
        self.rt.block_on(depth(&self.read, queue))
    }

    pub fn peek(&self, queue: &str, limit: usize) -> Result<(u64, Vec<DeadLetter>), DlqError> {
        self.rt.block_on(peek(&self.read, queue, limit))
    }

    pub fn replay(&self, opts: &ReplayOpts, each: &mut (dyn FnMut(&DeadLetter, Action) + Send)) -> Replayed {
        self.rt.block_on(replay(&self.read, &self.publish, opts, each))
    }

    pub fn close(self) {
        self.rt.block_on(async {
            let _ = bounded(self.read.close(200, "done".into())).await;
            let _ = bounded(self.publish.close(200, "done".into())).await;
        });
    }
}

/// Messages ready in `queue` (passive declare).
pub async fn depth(conn: &Connection, queue: &str) -> Result<u64, DlqError> {
    let ch = bounded(conn.create_channel()).await.map_err(broker)?;
    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    match bounded(ch.queue_declare(queue.into(), passive, FieldTable::default())).await {
        Ok(q) => {
            let _ = bounded(ch.close(200, "counted".into())).await;
            Ok(q.message_count() as u64)
        }
        Err(e) if super::topology::is_not_found(&e) => Err(DlqError::NoQueue(queue.to_string())),
        Err(e) => Err(broker(e)),
    }
}

/// The first `limit` messages of `queue`, read without consuming, and the queue's depth.
pub async fn peek(conn: &Connection, queue: &str, limit: usize) -> Result<(u64, Vec<DeadLetter>), DlqError> {
    let total = depth(conn, queue).await?;
    let ch = bounded(conn.create_channel()).await.map_err(broker)?;
    let mut out = Vec::new();
    while out.len() < limit {
        match bounded(ch.basic_get(queue.into(), BasicGetOptions { no_ack: false })).await.map_err(broker)? {
            Some(m) => out.push(dead_letter(&m.delivery.properties, &m.delivery.data)),
            None => break,
        }
    }
    // Closing with everything unacked returns the messages to the queue, in their order.
    let _ = bounded(ch.close(200, "inspected".into())).await;
    Ok((total, out))
}

/// The age of the queue's oldest message (by its death time), read without consuming; `None` if empty or unknown.
pub async fn oldest(conn: &Connection, queue: &str, now: u64) -> Result<Option<u64>, DlqError> {
    let (_, first) = peek(conn, queue, 1).await?;
    Ok(first.first().and_then(|d| d.died_at).map(|t| now.saturating_sub(t)))
}

/// A dead letter as AMQP delivered it.
pub fn dead_letter(props: &BasicProperties, body: &[u8]) -> DeadLetter {
    let empty = FieldTable::default();
    let h = props.headers().as_ref().unwrap_or(&empty).inner();
    let get_text = |k: &str| h.get(k).and_then(text);
    let deaths = match h.get("x-death") {
        Some(AMQPValue::FieldArray(a)) => a.as_slice().iter().filter_map(death).collect(),
        _ => Vec::new(),
    };
    let newest: Option<&Death> = deaths.first();
    let fault: BTreeMap<String, String> = h
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("MT-"))
        .map(|(k, v)| (k.as_str().to_string(), json(v).as_str().map_or_else(|| json(v).to_string(), str::to_string)))
        .collect();
    let reason = get_text(H_REASON)
        .or_else(|| newest.map(|d| d.reason.clone()))
        .or_else(|| get_text("MT-Fault-ExceptionType"))
        .or_else(|| get_text("MT-Reason"))
        .unwrap_or_else(|| "unknown".to_string());
    let source_queue = newest
        .map(|d| d.queue.clone())
        .or_else(|| get_text("x-first-death-queue"))
        .or_else(|| get_text("MT-Fault-InputAddress"));
    let died_at = newest.and_then(|d| d.time).or(*props.timestamp());
    let envelope = any_envelope(body);
    let message_id = props.message_id().as_ref().map(|m| m.as_str().to_string());
    let (id, identity) = match (&envelope, &message_id) {
        (Some((run, env)), _) => (Some(env.id.to_string()), format!("lt:{run:016x}:{}", env.id)),
        (None, Some(m)) => (Some(m.clone()), format!("mid:{m}")),
        (None, None) => {
            let mut sha = Sha256::new();
            sha.update(format!("{:?}", props.headers()).as_bytes());
            sha.update(body);
            let hex: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
            (None, format!("sha:{hex}"))
        }
    };
    DeadLetter {
        id,
        reason,
        source_queue,
        died_at,
        deaths,
        replay_count: h.get("x-replay-count").and_then(int).unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
        fault,
        headers: h.iter().map(|(k, v)| (k.as_str().to_string(), json(v))).collect(),
        body_bytes: body.len(),
        body_preview: match &envelope {
            // loadtest's own messages: the envelope in words, then what follows it.
            Some((run, env)) => format!(
                "[loadtest message {} of run {run:016x}: intended {:.3} s, published {:.3} s, {} redeliveries{}] {}",
                env.id,
                env.intended as f64 / 1e9,
                env.published as f64 / 1e9,
                env.redeliveries,
                if env.poison { ", poison" } else { "" },
                crate::dlq::preview(&body[super::message::ENVELOPE_BYTES.min(body.len())..])
            ),
            None => crate::dlq::preview(body),
        },
        identity,
    }
}

fn death(v: &AMQPValue) -> Option<Death> {
    let AMQPValue::FieldTable(t) = v else { return None };
    let t = t.inner();
    let routing_keys = match t.get("routing-keys") {
        Some(AMQPValue::FieldArray(a)) => a.as_slice().iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    Some(Death {
        reason: t.get("reason").and_then(text).unwrap_or_default(),
        queue: t.get("queue").and_then(text).unwrap_or_default(),
        count: t.get("count").and_then(int).unwrap_or(0).max(0) as u64,
        time: t.get("time").and_then(int).map(|s| s.max(0) as u64),
        exchange: t.get("exchange").and_then(text).unwrap_or_default(),
        routing_keys,
    })
}

/// A header value as JSON (binary-safe: byte arrays as hex).
fn json(v: &AMQPValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        AMQPValue::Boolean(b) => J::Bool(*b),
        AMQPValue::Float(f) => serde_json::json!(f),
        AMQPValue::Double(f) => serde_json::json!(f),
        AMQPValue::DecimalValue(d) => J::String(format!("{d:?}")),
        AMQPValue::LongString(_) | AMQPValue::ShortString(_) => J::String(text(v).unwrap_or_default()),
        AMQPValue::FieldArray(a) => J::Array(a.as_slice().iter().map(json).collect()),
        AMQPValue::FieldTable(t) => {
            J::Object(t.inner().iter().map(|(k, v)| (k.as_str().to_string(), json(v))).collect())
        }
        AMQPValue::ByteArray(b) => J::String(b.as_slice().iter().map(|x| format!("{x:02x}")).collect()),
        AMQPValue::Void => J::Null,
        other => int(other).map_or(J::Null, |i| serde_json::json!(i)),
    }
}

/// What `replay` does.
#[derive(Clone, Debug, Default)]
pub struct ReplayOpts {
    pub from: String,
    pub to: String,
    pub filter: Filter,
    /// Messages to replay at most.
    pub limit: Option<u64>,
    /// Messages per second at most.
    pub rate: Option<f64>,
    pub dry_run: bool,
    /// Refuse messages replayed this many times already (the loop guard).
    pub max_replays: u32,
    /// Identities of messages already moved: read at the start, appended to after each confirm.
    pub journal: Option<PathBuf>,
}

/// What happened to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Replayed,
    WouldReplay,
    SkippedFilter,
    SkippedGuard,
    /// In the journal: moved by an earlier run whose ack was lost; only the dead-letter copy is acked now.
    AlreadyReplayed,
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    pub examined: u64,
    pub replayed: u64,
    pub would_replay: u64,
    pub skipped_by_filter: u64,
    pub skipped_by_guard: u64,
    pub already_replayed: u64,
    pub failed: u64,
}

/// The report, and the error that stopped the replay early, if any.
pub type Replayed = (ReplayReport, Option<DlqError>);

pub async fn replay(
    read: &Connection,
    publish: &Connection,
    o: &ReplayOpts,
    each: &mut (dyn FnMut(&DeadLetter, Action) + Send),
) -> Replayed {
    let mut r = ReplayReport::default();
    let fail = |r: ReplayReport, e: DlqError| (r, Some(e));
    for q in [&o.from, &o.to] {
        if let Err(e) = depth(read, q).await {
            return fail(r, e);
        }
    }
    let mut done: HashSet<String> = HashSet::new();
    let mut journal = None;
    if let Some(path) = &o.journal {
        if let Ok(text) = std::fs::read_to_string(path) {
            done.extend(text.lines().map(str::to_string));
        }
        match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => journal = Some(f),
            Err(e) => return fail(r, DlqError::Broker(format!("cannot write the journal {}: {e}", path.display()))),
        }
    }
    let (get, out) = match (bounded(read.create_channel()).await, bounded(publish.create_channel()).await) {
        (Ok(g), Ok(p)) => (g, p),
        (Err(e), _) | (_, Err(e)) => return fail(r, broker(e)),
    };
    if let Err(e) = bounded(out.confirm_select(ConfirmSelectOptions::default())).await {
        return fail(r, broker(e));
    }
    let started = Instant::now();
    let now = crate::dlq::unix_now();
    let mut error = None;
    while o.limit.is_none_or(|l| r.replayed + r.would_replay < l) {
        let m = match bounded(get.basic_get(o.from.as_str().into(), BasicGetOptions { no_ack: false })).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                error = Some(broker(e));
                break;
            }
        };
        r.examined += 1;
        let tag = m.delivery.delivery_tag;
        let d = dead_letter(&m.delivery.properties, &m.delivery.data);
        let action = if done.contains(&d.identity) {
            Action::AlreadyReplayed
        } else if !o.filter.matches(&d, now) {
            Action::SkippedFilter
        } else if d.replay_count >= o.max_replays {
            Action::SkippedGuard
        } else if o.dry_run {
            Action::WouldReplay
        } else {
            Action::Replayed
        };
        let action = match action {
            Action::Replayed => {
                if let Some(rate) = o.rate {
                    let due = started + Duration::from_secs_f64(r.replayed as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                match copy(&out, &o.to, &o.from, &m.delivery.properties, &m.delivery.data, d.replay_count).await {
                    Ok(true) => {
                        // Journal first, then ack: a crash between the two leaves the message in both queues, and
                        // the journal tells a rerun to ack the dead-letter copy without publishing it again.
                        if let Some(f) = &mut journal {
                            let _ = writeln!(f, "{}", d.identity).and_then(|_| f.flush());
                        }
                        match bounded(get.basic_ack(tag, BasicAckOptions::default())).await {
                            Ok(()) => Action::Replayed,
                            Err(e) => {
                                error = Some(broker(e));
                                Action::Replayed
                            }
                        }
                    }
                    Ok(false) => Action::Failed,
                    Err(e) => {
                        error = Some(broker(e));
                        Action::Failed
                    }
                }
            }
            Action::AlreadyReplayed => match bounded(get.basic_ack(tag, BasicAckOptions::default())).await {
                Ok(()) => Action::AlreadyReplayed,
                Err(e) => {
                    error = Some(broker(e));
                    Action::Failed
                }
            },
            other => other, // left unacked: back in the queue when the channel closes
        };
        match action {
            Action::Replayed => r.replayed += 1,
            Action::WouldReplay => r.would_replay += 1,
            Action::SkippedFilter => r.skipped_by_filter += 1,
            Action::SkippedGuard => r.skipped_by_guard += 1,
            Action::AlreadyReplayed => r.already_replayed += 1,
            Action::Failed => r.failed += 1,
        }
        each(&d, action);
        if error.is_some() {
            break;
        }
    }
    let _ = bounded(get.close(200, "replayed".into())).await;
    let _ = bounded(out.close(200, "replayed".into())).await;
    (r, error)
}

/// Publishes the copy (with `x-replayed-from` and a raised `x-replay-count`) and waits for its confirm: true if the
/// broker took it into a queue.
async fn copy(
    ch: &lapin::Channel,
    to: &str,
    from: &str,
    props: &BasicProperties,
    body: &[u8],
    n: u32,
) -> lapin::Result<bool> {
    let mut headers = props.headers().clone().unwrap_or_default();
    headers.insert("x-replayed-from".into(), long_string(from));
    headers.insert("x-replay-count".into(), AMQPValue::LongInt(n.saturating_add(1).min(i32::MAX as u32) as i32));
    let props = props.clone().with_headers(headers);
    let opts = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
    let confirm = bounded(ch.basic_publish("".into(), to.into(), opts, body, props)).await?;
    let confirmation = bounded(confirm).await?;
    Ok(match confirmation {
        lapin::Confirmation::Ack(returned) => returned.is_none(),
        _ => false,
    })
}
