//! Getting a run onto Service Bus before its clock starts: the connection string, the entity checks (the queue and
//! its `_error` / `_skipped` queues must exist: a missing one, a refused key or an unreachable namespace fails
//! within the connect timeout, naming the namespace and entity and never the key), the clients, and the tasks.

use super::bridge::{Ctx, Names, Shared};
use super::conn::ConnString;
use super::http::{self, EntityError};
use super::{Counts, ServiceBus};
use crate::broker::real::RealClock;
use crate::record::ledger::BitSet;
use crate::scenario::Scenario;
use azure_messaging_servicebus::service_bus::QueueClient;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Sends in flight at once (HTTP requests).
const SEND_CONCURRENCY: usize = 64;

/// What the run knows about where it runs.
pub struct Info {
    pub conn: ConnString,
    pub names: Names,
    /// The work queue as the management GET described it at the start.
    pub entity: http::Entity,
    pub run_id: String,
    pub poll_every: Duration,
}

/// A fresh run id: 8 hex digits from the clock and the process id.
fn fresh_id() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("{:08x}", crate::sim::rng::splitmix64(t ^ ((std::process::id() as u64) << 40)) as u32)
}

/// The connection string of the scenario (`broker.url`, filled in from `$LOADTEST_SERVICEBUS_CONNECTION`).
pub fn conn_of(scn: &Scenario) -> Result<ConnString, String> {
    let text =
        scn.broker.url.as_deref().ok_or_else(|| {
            format!("Service Bus needs a connection string: set ${} or [broker] url", super::CONN_ENV)
        })?;
    ConnString::parse(text)
}

/// The commands that create what is missing.
fn az_hint(conn: &ConnString, missing: &[String], max_delivery_count: u32) -> String {
    let mut s = String::from("create them with:");
    for q in missing {
        s.push_str(&format!(
            "\n  az servicebus queue create --resource-group <group> --namespace-name {} --name {q} \
             --max-delivery-count {max_delivery_count} --lock-duration PT1M",
            conn.namespace
        ));
    }
    s
}

/// Checks the entities, builds the clients and starts the tasks. The error is one line (plus the commands to
/// create what is missing), for exit code 3.
pub fn connect(scn: &Scenario, run_id: Option<String>) -> Result<ServiceBus, String> {
    let conn = conn_of(scn)?;
    if let Some(e) = conn.entity_path.as_deref().filter(|e| *e != scn.queue.name) {
        return Err(format!(
            "the connection string's EntityPath names the queue {e}, but queue.name is {}; make them agree",
            scn.queue.name
        ));
    }
    let names = Names::new(&scn.queue.name);
    let place = conn.place();
    let timeout = Duration::from_nanos(scn.broker.connect_timeout.ns()).max(Duration::from_millis(100));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("loadtest-servicebus")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Service Bus client's runtime: {e}"))?;
    let client = http::Client::new(&conn, timeout, super::receive::POLL + Duration::from_secs(30))?;
    let client = client.shared();
    let checks = rt.block_on(async {
        let get = |q: String| {
            let (client, conn) = (Arc::clone(&client), conn.clone());
            async move { (q.clone(), http::get_entity(&client, &conn, &q).await) }
        };
        let all = async {
            let (w, e, s) = tokio::join!(get(names.work.clone()), get(names.error.clone()), get(names.skipped.clone()));
            vec![w, e, s]
        };
        tokio::time::timeout(timeout + Duration::from_secs(1), all).await
    });
    let Ok(checks) = checks else {
        return Err(format!("the Service Bus namespace {place} did not answer within {timeout:?}"));
    };
    let mut missing = Vec::new();
    let mut work = None;
    for (q, r) in checks {
        match r {
            Ok(e) if q == names.work => work = Some(e),
            Ok(_) => {}
            Err(EntityError::Missing) => missing.push(q),
            Err(EntityError::NotAQueue) => return Err(format!("{q} on {place} is not a queue (a topic?)")),
            Err(EntityError::Refused(s)) => {
                return Err(format!(
                    "the Service Bus namespace {place} refused the key of policy {} ({s}): the key is wrong or \
                     revoked, or the policy lacks the Manage right that reading the queue's description needs",
                    conn.key_name
                ))
            }
            Err(EntityError::Status(s)) => {
                return Err(format!("the Service Bus namespace {place} answered HTTP {s} for the queue {q}"))
            }
            Err(EntityError::Unreachable(why)) => {
                return Err(format!("cannot reach the Service Bus namespace {place}: {why}"))
            }
        }
    }
    if !missing.is_empty() {
        let mdc = scn.queue.max_delivery_count.unwrap_or(10);
        return Err(format!(
            "the Service Bus namespace {place} has no queue {} (loadtest does not create entities); {}",
            missing.join(", "),
            az_hint(&conn, &missing, mdc)
        ));
    }
    let entity = work.unwrap_or_default();
    if entity.requires_session {
        return Err(format!(
            "the queue {} on {place} requires sessions, which the REST client cannot receive from; use a queue \
             without sessions",
            names.work
        ));
    }
    let ns = conn.namespace.clone();
    let queue_client = |q: &str| {
        QueueClient::new(Arc::clone(&client), ns.clone(), q, conn.key_name.clone(), conn.key.clone())
            .map_err(|e| format!("cannot make the queue client for {q}: {}", http::scrub(&conn, &e)))
    };
    let scale = scn.broker.time_scale;
    let clock = RealClock::start(scale);
    let (tx, rx) = std::sync::mpsc::channel();
    let run_id = run_id.unwrap_or_else(fresh_id);
    // The bodies' stamp tells this run's messages from an earlier run's with the same id.
    let run = super::message::run_hash(&format!("{run_id} {}", fresh_id()));
    let ttl = scn.queue.message_ttl.map(|d| clock.wall(d.ns()));
    let ctx = Arc::new(Ctx {
        work: queue_client(&names.work)?,
        error: queue_client(&names.error)?,
        skipped: queue_client(&names.skipped)?,
        dlq: queue_client(&names.dlq)?,
        conn: conn.clone(),
        http: client,
        names: names.clone(),
        run,
        ttl,
        tx,
        shared: Shared::default(),
        send_slots: Arc::new(tokio::sync::Semaphore::new(SEND_CONCURRENCY)),
    });
    ctx.shared.active.store(entity.active, std::sync::atomic::Ordering::Release);
    let poll_every = Duration::from_secs(1);
    rt.spawn(super::receive::dead_letters(Arc::clone(&ctx)));
    rt.spawn(super::receive::depths(Arc::clone(&ctx), poll_every));
    // `queue.max_auto_lock_renewal` (5 min by default; Service Bus semantics are the default of this kind).
    let renew_for = scn.peek_lock().map_or(crate::scenario::DEFAULT_MAX_AUTO_LOCK_RENEWAL.ns(), |p| p.renew_for);
    let renew_cap = clock.wall(renew_for);
    Ok(ServiceBus {
        rt,
        clock,
        rx,
        ctx,
        window: scn.producers.confirm_window,
        time_scale: scale,
        renew_cap,
        consumers: Vec::new(),
        held: HashMap::new(),
        delayed: BinaryHeap::new(),
        due_of: HashMap::new(),
        lateness: Default::default(),
        confirmed: BitSet::default(),
        dead_seen: BitSet::default(),
        dead: 0,
        refused: BitSet::default(),
        counts: Counts::default(),
        handoff: crate::record::new_histogram(),
        fatal: None,
        info: Info { conn, names, entity, run_id, poll_every },
    })
}
