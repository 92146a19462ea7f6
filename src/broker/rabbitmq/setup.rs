//! Getting a run onto RabbitMQ before its clock starts: the URL and TLS files, a probe that names an unreachable
//! broker within the connect timeout, two named connections (publishing, consuming), the run's topology, and the
//! lapin tasks on a small tokio runtime.

use super::bridge::{bounded, Shared};
use super::connect::{Endpoint, ServerInfo};
use super::topology::{self, Names};
use super::{consume, faults, publisher, Consumer, Counts, RabbitBroker};
use crate::amqp_url::{AmqpUrl, DEFAULT_URL};
use crate::broker::real::RealClock;
use crate::record::ledger::BitSet;
use crate::scenario::{Jitter, Scenario};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How the command line shapes a run on RabbitMQ.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Leave the run's queues in place at the end (to inspect them, or to replay dead letters).
    pub keep_topology: bool,
    /// Name the run (queue suffix, connection names) instead of a random id.
    pub run_id: Option<String>,
    /// Broker faults may run their commands (`--allow-commands`).
    pub allow_commands: bool,
    /// The `rabbitmqctl` to run them with (`--rabbitmqctl`); found on the PATH otherwise.
    pub rabbitmqctl: Option<std::path::PathBuf>,
}

/// What the run knows about where it runs.
pub struct Info {
    pub endpoint: Endpoint,
    pub server: ServerInfo,
    pub names: Names,
    /// Queues and exchanges this run created (deleted at the end unless kept).
    pub made: BTreeSet<String>,
    pub keep: bool,
    pub queue_type: &'static str,
    pub persistent: bool,
    pub poll_every: Duration,
}

/// A connection that cannot be restored for this long ends the run (a broker restart takes ~13 s here).
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// A fresh run id: 8 hex digits from the clock and the process id.
pub fn fresh_run_id() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mixed = crate::sim::rng::splitmix64(t ^ ((std::process::id() as u64) << 40));
    format!("{:08x}", mixed as u32)
}

/// Connects, declares the run's topology and starts the lapin tasks. The error is one line naming host, port and
/// vhost (never the password), for exit code 3.
pub fn connect(scn: &Scenario, opts: &Options) -> Result<RabbitBroker, String> {
    let text = scn.broker.url.as_deref().unwrap_or(DEFAULT_URL);
    let url = AmqpUrl::parse(text).map_err(|e| format!("broker.url: {e}"))?;
    let timeout = Duration::from_nanos(scn.broker.connect_timeout.ns());
    let mut endpoint = Endpoint { url, tls: scn.broker.tls.clone(), timeout, via: None };
    let server = endpoint.probe()?;
    let (place, tls) = (endpoint.url.place(), endpoint.tls.is_some());
    tracing::info!(broker = %place, product = %server.product, version = %server.version, tls, "RabbitMQ answered");
    let ctl = faults::Ctl::find(opts.rabbitmqctl.as_deref());
    if scn.command_faults().next().is_some() {
        if !opts.allow_commands {
            return Err("the scenario has broker faults that run commands, and --allow-commands was not given".into());
        }
        faults::check(&ctl)?;
    }
    let run_id = opts.run_id.clone().unwrap_or_else(fresh_run_id);
    let names = Names::new(&scn.queue, &run_id, &fresh_run_id());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("loadtest-amqp")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the AMQP client's runtime: {e}"))?;
    let scale = scn.broker.time_scale;
    let name = |role: &str| format!("loadtest {run_id} {role} ({})", scn.name);
    let produce_only = scn.consumers.count == 0 && scn.autoscale.is_none();
    let schedule = crate::proxy::Schedule::new(proxy_schedule(scn));
    let proxy = match scn.uses_proxy() {
        true => {
            let upstream = (endpoint.url.host.clone(), endpoint.url.port);
            let p = rt.block_on(crate::proxy::Proxy::start(upstream, Arc::clone(&schedule), scn.seed.unwrap_or(0)));
            let p = p.map_err(|e| format!("cannot start the fault proxy on 127.0.0.1: {e}"))?;
            endpoint.via = Some(p.addr());
            Some(p)
        }
        false => None,
    };
    let (pub_conn, con_conn, made, delays) = rt.block_on(async {
        let pub_conn = endpoint.open(&name("publish")).await?;
        let con_conn = endpoint.open(&name("consume")).await?;
        let mut made = BTreeSet::new();
        let mut delays = Vec::new();
        let mut leftover = 0;
        let result: lapin::Result<()> = bounded(async {
            let ch = pub_conn.create_channel().await?;
            let (declared, held) = topology::declare(&ch, &scn.queue, &names, scale, !produce_only).await?;
            made.extend(declared);
            if held > 0 && !names.reused {
                leftover = held;
                return Ok(());
            }
            // Delay queues of the configured redelivery intervals up front (jittered delays get theirs on demand).
            if scn.redelivery.jitter == Jitter::None {
                for d in &scn.redelivery.intervals {
                    let ms = topology::wall_ms(d.ns(), scale);
                    delays.push(topology::declare_delay(&ch, &names, ms).await?);
                    made.insert(names.delay(ms));
                }
            }
            let _ = ch.close(200, "declared".into()).await;
            Ok(())
        })
        .await;
        if result.is_err() || leftover > 0 {
            // A work queue that holds messages already is an earlier run's (same --run-id, kept): leave it alone.
            let ours = if leftover > 0 { BTreeSet::new() } else { made.clone() };
            let failed = topology::delete(&pub_conn, &names, &ours).await;
            let _ = bounded(pub_conn.close(200, "setup failed".into())).await;
            let _ = bounded(con_conn.close(200, "setup failed".into())).await;
            let mut why = match &result {
                Err(e) => declare_error(e, &names),
                Ok(()) => format!(
                    "the queue {} already holds {leftover} messages (an earlier run with the same --run-id kept \
                     its topology?); delete it or pick another --run-id",
                    names.work
                ),
            };
            if !failed.is_empty() {
                why.push_str(&format!("; could not remove {}", failed.join(", ")));
            }
            return Err(endpoint.failure(why));
        }
        Ok((pub_conn, con_conn, made, delays))
    })?;
    let clock = RealClock::start(scale);
    schedule.set_origin(clock.origin());
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared::default());
    let target =
        faults::Target { run_id: run_id.clone(), vhost: endpoint.url.vhost.clone(), queue: names.work.clone() };
    let driver = faults::Driver::start(&scn.faults, ctl, target, clock, Arc::clone(&shared));
    if let Ok(mut q) = shared.delay_queues.lock() {
        q.extend(delays.iter().cloned());
    }
    let window = scn.producers.confirm_window;
    let poll_every = Duration::from_secs_f64((1.0 / scale).clamp(0.05, 1.0));
    let (pub_tx, pub_rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let ps = publisher::Settings {
        endpoint: endpoint.clone(),
        connection_name: name("publish"),
        names: names.clone(),
        window,
        persistent: scn.producers.persistent,
        clock,
        give_up_after: GIVE_UP_AFTER,
        declared: delays.iter().cloned().collect(),
    };
    rt.spawn(publisher::run(ps, pub_conn, pub_rx, stop_rx, tx.clone(), Arc::clone(&shared)));
    let (con_tx, con_rx) = tokio::sync::mpsc::unbounded_channel();
    let cs = consume::Settings {
        endpoint: endpoint.clone(),
        connection_name: name("consume"),
        names: names.clone(),
        queue: scn.queue.clone(),
        time_scale: scale,
        clock,
        read_dead_letters: !produce_only,
        poll_every,
        give_up_after: GIVE_UP_AFTER,
    };
    rt.spawn(consume::run(cs, con_conn, con_rx, tx, Arc::clone(&shared)));
    let exact_delays = scn.redelivery.intervals.iter().map(|d| topology::wall_ms(d.ns(), scale)).collect();
    tracing::info!(run_id = %run_id, queue = %names.work, topology = ?made, "topology declared");
    let info = Info {
        endpoint,
        server,
        names,
        made,
        keep: opts.keep_topology,
        queue_type: scn.queue.queue_type.as_str(),
        persistent: scn.producers.persistent,
        poll_every,
    };
    Ok(RabbitBroker {
        rt,
        clock,
        rx,
        publish: pub_tx,
        stop_publisher: Some(stop_tx),
        consume: con_tx,
        shared,
        window,
        time_scale: scale,
        exact_delays,
        consumers: Vec::<Consumer>::new(),
        unacked: HashMap::new(),
        delayed: BinaryHeap::new(),
        due_of: HashMap::new(),
        lateness: Default::default(),
        dead_seen: BitSet::default(),
        dead: 0,
        refused: BitSet::default(),
        counts: Counts::default(),
        handoff: crate::record::new_histogram(),
        fatal: None,
        produce_only,
        settled_at: None,
        drained_at: None,
        last_publish: 0,
        info,
        proxy: proxy.map(|p| (p, schedule)),
        faults: driver,
        fault_plan: scn.faults.clone(),
    })
}

/// Why declaring the topology failed, in the user's terms.
fn declare_error(e: &lapin::Error, names: &Names) -> String {
    if let lapin::ErrorKind::ProtocolError(amqp) = e.kind() {
        let msg = amqp.get_message().as_str();
        return match amqp.get_id() {
            404 if names.reused => format!(
                "queue.reuse: the queue {} does not exist; create it (or start the service that declares it), or \
                 drop queue.reuse to let loadtest create a queue for the run",
                names.work
            ),
            406 => format!(
                "declaring the run's queues failed: {msg} (PRECONDITION_FAILED: a queue of that name exists with \
                 other arguments)"
            ),
            403 => {
                format!("declaring the run's queues failed: {msg} (ACCESS_REFUSED: the user may not configure them)")
            }
            code => format!("declaring the run's queues failed: {msg} ({code})"),
        };
    }
    format!("declaring the run's queues failed: {e}")
}

/// The scenario's network faults as the proxy's timeline, on the wall clock: windows, delays and rates divided by
/// the time scale (a rate in KB/s of scenario time is `rate x scale` KB/s of wall time).
fn proxy_schedule(scn: &Scenario) -> Vec<crate::proxy::Scheduled> {
    use crate::proxy::{Direction, Scheduled, ToxicKind};
    use crate::scenario::{Fault, Stream, Toxic};
    let scale = scn.broker.time_scale;
    let wall = |d: crate::time::Dur| Duration::from_secs_f64(d.ns() as f64 / 1e9 / scale);
    let mut out = Vec::new();
    for (i, f) in scn.faults.iter().enumerate() {
        let Fault::Network { at, duration, toxic, stream, toxicity } = f else { continue };
        let kind = match *toxic {
            Toxic::Latency { latency, jitter } => ToxicKind::Latency { latency: wall(latency), jitter: wall(jitter) },
            Toxic::Bandwidth { rate } => {
                ToxicKind::Bandwidth { rate_bytes_per_s: ((rate as f64) * 1000.0 * scale).clamp(1.0, 1e15) as u64 }
            }
            Toxic::SlowClose { delay } => ToxicKind::SlowClose { delay: wall(delay) },
            Toxic::Timeout { timeout } => ToxicKind::Timeout { timeout: wall(timeout) },
            Toxic::ResetPeer { timeout } => ToxicKind::ResetPeer { timeout: wall(timeout) },
            Toxic::Slicer { average_size, size_variation, delay } => ToxicKind::Slicer {
                average_size: average_size as usize,
                size_variation: size_variation as usize,
                delay: wall(delay),
            },
            Toxic::LimitData { bytes } => ToxicKind::LimitData { bytes },
            Toxic::PacketLoss { probability, rto } => ToxicKind::Drop { probability, rto: wall(rto) },
        };
        let directions: &[Direction] = match stream {
            Stream::Upstream => &[Direction::Upstream],
            Stream::Downstream => &[Direction::Downstream],
            Stream::Both => &[Direction::Upstream, Direction::Downstream],
        };
        for &direction in directions {
            out.push(Scheduled {
                kind: kind.clone(),
                start: wall(*at),
                end: wall(crate::time::Dur(at.0.saturating_add(duration.0))),
                direction,
                toxicity: *toxicity,
                name: format!("faults[{i}]"),
            });
        }
    }
    out
}
