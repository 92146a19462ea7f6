//! A local stand-in for the Service Bus REST API, for protocol tests only (it is not Service Bus, and passing
//! against it verifies nothing about the real service): an axum server on 127.0.0.1 that implements the calls
//! the backend makes, with their semantics: SAS-checked requests (a wrong key gets 401), send with MessageId,
//! ScheduledEnqueueTimeUtc and TimeToLive, peek-lock with a long poll, complete / abandon / renew on the lock URL,
//! lock expiry, DeliveryCount, MaxDeliveryCount and TTL to `<queue>/$DeadLetterQueue`, and the management GET
//! with CountDetails (an empty feed for an unknown entity).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub struct Config {
    pub key_name: String,
    pub key: String,
    pub queues: Vec<String>,
    pub lock: Duration,
    pub max_delivery_count: u32,
    pub dead_letter_on_expiration: bool,
}

impl Config {
    pub fn new(key: &str, queues: &[&str]) -> Config {
        Config {
            key_name: "RootManageSharedAccessKey".into(),
            key: key.into(),
            queues: queues.iter().map(|q| q.to_string()).collect(),
            lock: Duration::from_secs(60),
            max_delivery_count: 10,
            dead_letter_on_expiration: false,
        }
    }
}

#[derive(Clone, Debug)]
struct Msg {
    seq: i64,
    body: Bytes,
    message_id: String,
    delivery_count: u32,
    enqueued: SystemTime,
    ttl: Option<f64>,
    expires: Option<Instant>,
    due: Option<SystemTime>,
    props: Vec<(String, String)>,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Msg>,
    scheduled: Vec<Msg>,
    /// By sequence number: the message, its lock token, and until when it is locked.
    locked: BTreeMap<i64, (Msg, String, Instant)>,
}

/// What the stand-in counted, for the tests.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub sends: u64,
    pub scheduled_sends: u64,
    pub deliveries: u64,
    pub completes: u64,
    pub abandons: u64,
    pub renewals: u64,
    pub lock_expiries: u64,
    pub lost_lock_settles: u64,
    pub dead_lettered: u64,
    pub unauthorized: u64,
    pub management_gets: u64,
    /// The highest DeliveryCount a work queue delivered with (receives from a DLQ count too, but not here).
    pub max_delivery_count_seen: u32,
}

struct Inner {
    cfg: Config,
    queues: HashMap<String, Queue>,
    next_seq: i64,
    next_lock: u64,
    stats: Stats,
}

type Shared = Arc<(Mutex<Inner>, tokio::sync::Notify)>;

pub struct StandIn {
    pub addr: SocketAddr,
    shared: Shared,
    _thread: std::thread::JoinHandle<()>,
}

impl StandIn {
    pub fn start(cfg: Config) -> StandIn {
        let mut queues = HashMap::new();
        for q in &cfg.queues {
            queues.insert(q.clone(), Queue::default());
            queues.insert(format!("{q}/$DeadLetterQueue"), Queue::default());
        }
        let inner = Inner { cfg, queues, next_seq: 1, next_lock: 1, stats: Stats::default() };
        let shared: Shared = Arc::new((Mutex::new(inner), tokio::sync::Notify::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let s = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(s);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        StandIn { addr, shared, _thread: thread }
    }

    /// The emulator-form connection string that points the backend here.
    pub fn connection_string(&self, key: &str) -> String {
        let name = self.shared.0.lock().unwrap().cfg.key_name.clone();
        format!(
            "Endpoint=sb://127.0.0.1:{};SharedAccessKeyName={name};SharedAccessKey={key};UseDevelopmentEmulator=true",
            self.addr.port()
        )
    }

    pub fn stats(&self) -> Stats {
        self.shared.0.lock().unwrap().stats.clone()
    }

    /// Messages in an entity: (ready, locked, scheduled).
    pub fn counts(&self, entity: &str) -> (usize, usize, usize) {
        let g = self.shared.0.lock().unwrap();
        g.queues.get(entity).map_or((0, 0, 0), |q| (q.ready.len(), q.locked.len(), q.scheduled.len()))
    }

    /// The custom properties of the messages in an entity (ready ones), for checks on `_error` copies.
    pub fn props(&self, entity: &str) -> Vec<Vec<(String, String)>> {
        let g = self.shared.0.lock().unwrap();
        g.queues.get(entity).map_or(Vec::new(), |q| q.ready.iter().map(|m| m.props.clone()).collect())
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(data).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Checks the SAS token: the policy name, the expiry, the signature under the key, and that the token's resource
/// covers the request's path. Returns the host the client signed for (the namespace), for Location headers.
fn check_sas(cfg: &Config, headers: &HeaderMap, path: &str) -> Result<String, &'static str> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let token = auth.strip_prefix("SharedAccessSignature ").ok_or("not a SAS token")?;
    let parts: HashMap<&str, &str> = token.split('&').filter_map(|p| p.split_once('=')).collect();
    let (sr, sig, se, skn) = match (parts.get("sr"), parts.get("sig"), parts.get("se"), parts.get("skn")) {
        (Some(a), Some(b), Some(c), Some(d)) => (*a, *b, *c, *d),
        _ => return Err("incomplete SAS token"),
    };
    if skn != cfg.key_name {
        return Err("unknown policy");
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    if se.parse::<u64>().map_or(true, |e| e < now) {
        return Err("expired token");
    }
    let want = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(cfg.key.as_bytes(), format!("{sr}\n{se}").as_bytes()));
    if decode(sig) != want {
        return Err("bad signature");
    }
    let resource = decode(sr);
    let rest = resource.strip_prefix("https://").ok_or("resource not https")?;
    let (host, rpath) = rest.split_once('/').unwrap_or((rest, ""));
    if !host.ends_with(".servicebus.windows.net") {
        return Err("resource not a namespace");
    }
    let rpath = rpath.split('?').next().unwrap_or("");
    let rpath = decode(rpath);
    if !path.trim_start_matches('/').starts_with(rpath.trim_end_matches('/')) {
        return Err("token for another resource");
    }
    Ok(host.to_string())
}

fn rfc2822(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    t.format(&time::format_description::well_known::Rfc2822).unwrap()
}

impl Inner {
    /// Scheduled messages come due, locks run out, time to live runs out.
    fn tick(&mut self) {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let max = self.cfg.max_delivery_count;
        let names: Vec<String> = self.queues.keys().cloned().collect();
        for name in names {
            let mut to_dlq = Vec::new();
            let q = self.queues.get_mut(&name).unwrap();
            let (due, later): (Vec<Msg>, Vec<Msg>) =
                q.scheduled.drain(..).partition(|m| m.due.is_some_and(|d| d <= wall));
            q.scheduled = later;
            q.ready.extend(due);
            let expired: Vec<i64> =
                q.locked.iter().filter(|(_, (_, _, until))| *until <= now).map(|(s, _)| *s).collect();
            for seq in expired {
                let (m, _, _) = q.locked.remove(&seq).unwrap();
                self.stats.lock_expiries += 1;
                if m.delivery_count >= max && !name.ends_with("$DeadLetterQueue") {
                    to_dlq.push((m, "MaxDeliveryCountExceeded"));
                } else {
                    q.ready.push_front(m);
                }
            }
            let mut keep = VecDeque::new();
            for m in q.ready.drain(..) {
                if m.expires.is_some_and(|e| e <= now) {
                    if self.cfg.dead_letter_on_expiration && !name.ends_with("$DeadLetterQueue") {
                        to_dlq.push((m, "TTLExpiredException"));
                    }
                } else {
                    keep.push_back(m);
                }
            }
            q.ready = keep;
            for (m, why) in to_dlq {
                self.dead_letter(&name, m, why);
            }
        }
    }

    fn dead_letter(&mut self, queue: &str, mut m: Msg, why: &str) {
        self.stats.dead_lettered += 1;
        m.props.retain(|(k, _)| k != "deadletterreason");
        m.props.push(("deadletterreason".into(), format!("\"{why}\"")));
        m.expires = None;
        if let Some(d) = self.queues.get_mut(&format!("{queue}/$DeadLetterQueue")) {
            d.ready.push_back(m);
        }
    }

    /// Locks the next ready message of `queue`.
    fn lock_next(&mut self, queue: &str, host: &str) -> Option<Response> {
        self.tick();
        let lock = self.cfg.lock;
        let lock_id = self.next_lock;
        let q = self.queues.get_mut(queue)?;
        let mut m = q.ready.pop_front()?;
        self.next_lock += 1;
        m.delivery_count += 1;
        self.stats.deliveries += 1;
        if !queue.ends_with("$DeadLetterQueue") {
            self.stats.max_delivery_count_seen = self.stats.max_delivery_count_seen.max(m.delivery_count);
        }
        let token = format!("{lock_id:08x}-0000-4000-8000-{:012x}", m.seq);
        let until = SystemTime::now() + lock;
        q.locked.insert(m.seq, (m.clone(), token.clone(), Instant::now() + lock));
        let props = serde_json::json!({
            "DeliveryCount": m.delivery_count,
            "EnqueuedSequenceNumber": m.seq,
            "EnqueuedTimeUtc": rfc2822(m.enqueued),
            "LockToken": token,
            "LockedUntilUtc": rfc2822(until),
            "MessageId": m.message_id,
            "SequenceNumber": m.seq,
            "State": "Active",
            "TimeToLive": m.ttl.unwrap_or(922337203685.0),
        });
        let mut h = HeaderMap::new();
        h.insert("brokerproperties", HeaderValue::from_str(&props.to_string()).unwrap());
        let loc = format!("https://{host}/{queue}/messages/{}/{token}", m.seq);
        h.insert("location", HeaderValue::from_str(&loc).unwrap());
        h.insert("content-type", HeaderValue::from_static("application/json"));
        for (k, v) in &m.props {
            if let (Ok(k), Ok(v)) = (axum::http::HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                h.insert(k, v);
            }
        }
        Some((StatusCode::CREATED, h, m.body.clone()).into_response())
    }

    fn entry(&self, name: &str) -> Option<String> {
        let q = self.queues.get(name)?;
        let dlq = self.queues.get(&format!("{name}/$DeadLetterQueue")).map_or(0, |d| d.ready.len() + d.locked.len());
        let lock = self.cfg.lock.as_secs().max(1);
        Some(format!(
            r#"<entry xmlns="http://www.w3.org/2005/Atom"><title type="text">{name}</title><content type="application/xml"><QueueDescription xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><LockDuration>PT{lock}S</LockDuration><RequiresSession>false</RequiresSession><DeadLetteringOnMessageExpiration>{}</DeadLetteringOnMessageExpiration><MaxDeliveryCount>{}</MaxDeliveryCount><MessageCount>{}</MessageCount><CountDetails xmlns:d2p1="http://schemas.microsoft.com/netservices/2011/06/servicebus"><d2p1:ActiveMessageCount>{}</d2p1:ActiveMessageCount><d2p1:DeadLetterMessageCount>{dlq}</d2p1:DeadLetterMessageCount><d2p1:ScheduledMessageCount>{}</d2p1:ScheduledMessageCount></CountDetails></QueueDescription></content></entry>"#,
            self.cfg.dead_letter_on_expiration,
            self.cfg.max_delivery_count,
            q.ready.len() + q.locked.len() + q.scheduled.len() + dlq,
            q.ready.len() + q.locked.len(),
            q.scheduled.len()
        ))
    }
}

const EMPTY_FEED: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Publicly Listed Services</title><subtitle type="text">This is the list of publicly-listed services currently available.</subtitle></feed>"#;

/// The custom properties of a send: every header that is not HTTP's own or the broker properties.
fn custom(headers: &HeaderMap) -> Vec<(String, String)> {
    const STANDARD: [&str; 9] = [
        "authorization",
        "content-type",
        "content-length",
        "brokerproperties",
        "host",
        "accept",
        "user-agent",
        "accept-encoding",
        "x-ms-client-request-id",
    ];
    headers
        .iter()
        .filter(|(k, _)| !STANDARD.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

async fn handle(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = decode(uri.path());
    let query = uri.query().unwrap_or("");
    let host = {
        let mut g = s.0.lock().unwrap();
        match check_sas(&g.cfg, &headers, &path) {
            Ok(h) => h,
            Err(why) => {
                g.stats.unauthorized += 1;
                return (StatusCode::UNAUTHORIZED, format!("<Error><Code>401</Code><Detail>{why}</Detail></Error>"))
                    .into_response();
            }
        }
    };
    let p = path.trim_start_matches('/');
    let (entity, op) = match p.find("/messages") {
        Some(i) => (&p[..i], &p[i + "/messages".len()..]),
        None => (p, ""),
    };
    let entity = entity.to_string();
    if method == Method::GET && op.is_empty() {
        let mut g = s.0.lock().unwrap();
        g.stats.management_gets += 1;
        g.tick();
        return match g.entry(&entity) {
            Some(e) => (StatusCode::OK, [("content-type", "application/atom+xml")], e).into_response(),
            None => (StatusCode::OK, [("content-type", "application/atom+xml")], EMPTY_FEED).into_response(),
        };
    }
    if !s.0.lock().unwrap().queues.contains_key(&entity) {
        return (StatusCode::NOT_FOUND, "<Error><Code>404</Code><Detail>entity not found</Detail></Error>")
            .into_response();
    }
    match (method.clone(), op) {
        (Method::POST, "") => {
            let props: serde_json::Value = headers
                .get("brokerproperties")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default();
            let due = props["ScheduledEnqueueTimeUtc"].as_str().map(|d| {
                let t = time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822).unwrap();
                SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp().max(0) as u64)
            });
            let ttl = props["TimeToLive"].as_f64();
            let mut g = s.0.lock().unwrap();
            let seq = g.next_seq;
            g.next_seq += 1;
            g.stats.sends += 1;
            g.stats.scheduled_sends += due.is_some() as u64;
            let m = Msg {
                seq,
                body,
                message_id: props["MessageId"].as_str().map_or_else(|| seq.to_string(), str::to_string),
                delivery_count: 0,
                enqueued: SystemTime::now(),
                ttl,
                expires: ttl.map(|t| Instant::now() + Duration::from_secs_f64(t)),
                due,
                props: custom(&headers),
            };
            let q = g.queues.get_mut(&entity).unwrap();
            if due.is_some() {
                q.scheduled.push(m);
            } else {
                q.ready.push_back(m);
            }
            drop(g);
            s.1.notify_waiters();
            StatusCode::CREATED.into_response()
        }
        (Method::POST, "/head") => {
            let secs = query.split('&').find_map(|kv| kv.strip_prefix("timeout=")).and_then(|v| v.parse().ok());
            let until = Instant::now() + Duration::from_secs(secs.unwrap_or(60));
            loop {
                let notified = s.1.notified();
                if let Some(r) = s.0.lock().unwrap().lock_next(&entity, &host) {
                    return r;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return StatusCode::NO_CONTENT.into_response();
                }
                let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await;
            }
        }
        (m, lock) if lock.starts_with('/') && lock.len() > 1 && lock != "/head" => {
            let mut it = lock.trim_start_matches('/').split('/');
            let seq: i64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(-1);
            let token = it.next().unwrap_or("").to_string();
            let mut guard = s.0.lock().unwrap();
            let g = &mut *guard;
            g.tick();
            let lock_period = g.cfg.lock;
            let max = g.cfg.max_delivery_count;
            let q = g.queues.get_mut(&entity).unwrap();
            let held = q.locked.get(&seq).is_some_and(|(_, t, _)| *t == token);
            if !held {
                g.stats.lost_lock_settles += 1;
                return (StatusCode::NOT_FOUND, "<Error><Code>404</Code><Detail>MessageLockLost</Detail></Error>")
                    .into_response();
            }
            match m {
                Method::DELETE => {
                    q.locked.remove(&seq);
                    g.stats.completes += 1;
                }
                Method::PUT => {
                    let (msg, _, _) = q.locked.remove(&seq).unwrap();
                    g.stats.abandons += 1;
                    if msg.delivery_count >= max && !entity.ends_with("$DeadLetterQueue") {
                        g.dead_letter(&entity, msg, "MaxDeliveryCountExceeded");
                    } else {
                        q.ready.push_front(msg);
                        drop(guard);
                        s.1.notify_waiters();
                    }
                }
                Method::POST => {
                    if let Some(l) = q.locked.get_mut(&seq) {
                        l.2 = Instant::now() + lock_period;
                    }
                    g.stats.renewals += 1;
                }
                _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
            }
            StatusCode::OK.into_response()
        }
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}
