//! A bare lapin publish/consume loop against RabbitMQ: the reference that `loadtest`'s own broker path is measured against.
//!
//! One publisher channel with publisher confirms, pipelined behind a window of `window` outstanding confirms; `consumers`
//! consumers on one separate connection, one channel each with `basic.qos(prefetch)`, acking every delivery without
//! awaiting the ack. Every message carries its stamp (nanoseconds since the run's start `Instant`, little endian) in
//! its first 8 bytes; consumers record `arrival - stamp` in microseconds into an HDR histogram. Each call runs on its
//! own 2-worker tokio runtime and its own durable queue, which it deletes at the end, also when the run fails.

use anyhow::{anyhow, bail, ensure, Context as _};
use futures_util::{FutureExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

/// What one run measured. Latencies are end to end (stamp to consumer), from the HDR histogram.
#[derive(Clone, Debug)]
pub struct BareResult {
    pub messages: u64,
    /// From the first publish (or the first intended send time) to the last delivery.
    pub wall_s: f64,
    pub msgs_per_s: f64,
    /// Process CPU (user + system, all threads) over the run, per message.
    pub cpu_us_per_msg: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl std::fmt::Display for BareResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>7} msgs in {:>6.2} s  {:>7.0} msg/s  {:>6.1} us/msg cpu  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.messages, self.wall_s, self.msgs_per_s, self.cpu_us_per_msg, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

/// Max rate: publish `messages` x `size` B persistent messages as fast as a confirm window of `window` allows
/// (one publisher channel, confirms pipelined, never awaiting each confirm before the next publish),
/// while `consumers` consumers (one channel each, basic.qos(prefetch)) consume and ack pipelined.
/// Latency is stamped at the actual publish, so at this rate it is mostly queueing behind the window.
pub fn max_rate(
    url: &str,
    queue_type: &str,
    messages: u64,
    size: usize,
    window: usize,
    consumers: u32,
    prefetch: u16,
) -> anyhow::Result<BareResult> {
    run(&Spec { url, queue_type, rate: None, messages, size, window, consumers, prefetch })
}

/// Open loop at a steady `rate` msg/s: send times are fixed in advance (message `i` is due `i / rate` s after the
/// start) and latency is measured from the intended time, so a stalled publisher cannot hide latency. Same consumer
/// setup as [`max_rate`]. The schedule is kept by a plain thread: tokio's timers tick in whole milliseconds, which
/// would add ~0.5-1 ms of lateness to every message of the reference.
#[allow(clippy::too_many_arguments)] // the bench's agreed signature
pub fn steady(
    url: &str,
    queue_type: &str,
    rate: f64,
    messages: u64,
    size: usize,
    window: usize,
    consumers: u32,
    prefetch: u16,
) -> anyhow::Result<BareResult> {
    ensure!(rate.is_finite() && rate > 0.0, "rate must be a positive number of msg/s, not {rate}");
    run(&Spec { url, queue_type, rate: Some(rate), messages, size, window, consumers, prefetch })
}

/// Opens and closes one AMQP connection to `url`, failing if that does not finish `within`.
pub fn probe(url: &str, within: Duration) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let connection = tokio::time::timeout(within, connect(url, "bare-bench-probe"))
            .await
            .map_err(|_| anyhow!("no AMQP connection within {within:?}"))??;
        connection.close(200, "OK".into()).await?;
        Ok(())
    })
}

/// No delivery for this long means the run is stuck (lost messages, a dead consumer): fail instead of hanging.
const STALL: Duration = Duration::from_secs(15);

struct Spec<'a> {
    url: &'a str,
    queue_type: &'a str,
    /// `None`: as fast as the window allows; `Some(r)`: open loop at r msg/s.
    rate: Option<f64>,
    messages: u64,
    size: usize,
    window: usize,
    consumers: u32,
    prefetch: u16,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    Connection::connect(url, ConnectionProperties::default().with_connection_name(name.into())).await
}

/// Declares a fresh queue, measures on it, and deletes it whatever the measurement's outcome.
fn run(spec: &Spec<'_>) -> anyhow::Result<BareResult> {
    ensure!(matches!(spec.queue_type, "classic" | "quorum"), "queue type {:?}: classic or quorum", spec.queue_type);
    ensure!(spec.size >= 8, "messages carry an 8-byte timestamp: size must be at least 8, not {}", spec.size);
    ensure!(spec.messages > 0 && spec.window > 0 && spec.consumers > 0, "messages, window and consumers must be > 0");
    runtime()?.block_on(async {
        let admin = connect(spec.url, "bare-bench-admin").await.context("connecting to RabbitMQ")?;
        let channel = admin.create_channel().await?;
        let queue = format!(
            "bare-bench-{}-{}",
            std::process::id(),
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
        );
        let mut arguments = FieldTable::default();
        // A ShortString value here makes the broker reset the connection: it must be a LongString.
        arguments.insert("x-queue-type".into(), AMQPValue::LongString(spec.queue_type.into()));
        let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        channel.queue_declare(queue.as_str().into(), options, arguments).await.context("declaring the queue")?;
        let result = measure(spec, &queue).await;
        let deleted = delete_queue(&channel, spec.url, &queue).await;
        let _ = admin.close(200, "OK".into()).await;
        let result = result?;
        deleted?;
        Ok(result)
    })
}

/// Deletes `queue` on `channel`, or on a fresh connection if that channel no longer works.
async fn delete_queue(channel: &Channel, url: &str, queue: &str) -> anyhow::Result<()> {
    if channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await.is_ok() {
        return Ok(());
    }
    let connection = connect(url, "bare-bench-cleanup").await?;
    connection.create_channel().await?.queue_delete(queue.into(), QueueDeleteOptions::default()).await?;
    let _ = connection.close(200, "OK".into()).await;
    Ok(())
}

/// Counts deliveries and signals when the last one arrived.
struct Progress {
    target: u64,
    arrived: AtomicU64,
    done: Notify,
}

impl Progress {
    fn arrive(&self) {
        if self.arrived.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.done.notify_one();
        }
    }
}

fn nanos_since(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass; an all-zero rusage is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

async fn measure(spec: &Spec<'_>, queue: &str) -> anyhow::Result<BareResult> {
    let publisher = connect(spec.url, "bare-bench-publisher").await?;
    let publish_channel = publisher.create_channel().await?;
    publish_channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let consuming = connect(spec.url, "bare-bench-consumers").await?;
    let mut subscribed = Vec::new();
    for i in 0..spec.consumers {
        let channel = consuming.create_channel().await?;
        channel.basic_qos(spec.prefetch, BasicQosOptions::default()).await?;
        let tag = format!("bare-bench-{i}");
        let consumer = channel
            .basic_consume(queue.into(), tag.into(), BasicConsumeOptions::default(), FieldTable::default())
            .await?;
        subscribed.push((channel, consumer));
    }

    // Everything is set up: the clock starts now, so the first intended send time is not already in the past.
    let t0 = Instant::now();
    let progress = Arc::new(Progress { target: spec.messages, arrived: AtomicU64::new(0), done: Notify::new() });
    let (stop, stopped) = watch::channel(());
    let mut consumers = JoinSet::new();
    for (channel, consumer) in subscribed {
        consumers.spawn(consume(channel, consumer, t0, progress.clone(), stopped.clone()));
    }
    let cpu0 = cpu_time();
    let schedule = spec.rate.map(|rate| pace(t0, rate, spec.messages));
    let mut publishing = JoinSet::new();
    publishing.spawn(publish(publish_channel, queue.to_owned(), spec.messages, spec.size, spec.window, t0, schedule));

    let mut last_seen = 0;
    loop {
        tokio::select! {
            _ = progress.done.notified() => break,
            Some(joined) = publishing.join_next() => joined??,
            Some(joined) = consumers.join_next() => {
                joined??;
                bail!("a consumer ended before all messages arrived");
            }
            _ = tokio::time::sleep(STALL) => {
                let arrived = progress.arrived.load(Ordering::Relaxed);
                ensure!(arrived > last_seen, "stalled: {arrived} of {} messages arrived", spec.messages);
                last_seen = arrived;
            }
        }
    }
    let wall = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);

    drop(stop);
    let mut latency = histogram();
    while let Some(joined) = consumers.join_next().await {
        latency.add(joined??).map_err(|e| anyhow!("merging histograms: {e:?}"))?;
    }
    while let Some(joined) = publishing.join_next().await {
        joined??;
    }
    ensure!(latency.len() == spec.messages, "{} deliveries for {} messages", latency.len(), spec.messages);
    let _ = consuming.close(200, "OK".into()).await;
    let _ = publisher.close(200, "OK".into()).await;

    let n = spec.messages as f64;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(BareResult {
        messages: spec.messages,
        wall_s: wall.as_secs_f64(),
        msgs_per_s: n / wall.as_secs_f64(),
        cpu_us_per_msg: cpu.as_secs_f64() * 1e6 / n,
        p50_ms: ms(latency.value_at_quantile(0.50)),
        p99_ms: ms(latency.value_at_quantile(0.99)),
        max_ms: ms(latency.max()),
    })
}

/// Microseconds, 1 us to 1 hour at 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_max(3_600_000_000, 3).expect("valid histogram bounds")
}

/// Starts a thread that sends each message's intended send time (ns since `t0`) when it falls due.
fn pace(t0: Instant, rate: f64, messages: u64) -> mpsc::UnboundedReceiver<u64> {
    let (due_tx, due_rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for i in 0..messages {
            let due = Duration::from_secs_f64(i as f64 / rate);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
            if due_tx.send(u64::try_from(due.as_nanos()).unwrap_or(u64::MAX)).is_err() {
                return; // the publisher gave up
            }
        }
    });
    due_rx
}

/// Publishes on one channel with up to `window` publishes outstanding, each a future that writes its frames and then
/// awaits its confirm; many are polled at once, so lapin batches their frames (awaiting each publish's write before
/// the next one, then handing its confirm to a collector, measured 10-25% slower here).
async fn publish(
    channel: Channel,
    queue: String,
    messages: u64,
    size: usize,
    window: usize,
    t0: Instant,
    mut schedule: Option<mpsc::UnboundedReceiver<u64>>,
) -> anyhow::Result<()> {
    let properties = BasicProperties::default().with_delivery_mode(2); // persistent
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let (mut sent, mut acked) = (0u64, 0u64);
    while acked < messages {
        if sent < messages && in_flight.len() < window {
            let due = match schedule.as_mut() {
                Some(schedule) => {
                    // Paced: take the next due time if it is there, else wait for it or for a confirm.
                    tokio::select! {
                        biased;
                        due = schedule.recv() => Some(due.context("the pacing thread ended early")?),
                        Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                            let done: lapin::Result<lapin::Confirmation> = done;
                            ensure!(done?.is_ack(), "the broker nacked a publish");
                            acked += 1;
                            continue;
                        }
                    }
                }
                None => None,
            };
            let stamp = due.unwrap_or_else(|| nanos_since(t0));
            let mut body = vec![0u8; size];
            body[..8].copy_from_slice(&stamp.to_le_bytes());
            let (ch, q, props) = (channel.clone(), queue.clone(), properties.clone());
            in_flight.push(async move {
                let opts = BasicPublishOptions::default();
                ch.basic_publish("".into(), q.as_str().into(), opts, &body, props).await?.await
            });
            sent += 1;
            continue;
        }
        match in_flight.next().await {
            Some(done) => {
                ensure!(done?.is_ack(), "the broker nacked a publish");
                acked += 1;
            }
            None => break,
        }
    }
    ensure!(acked == messages, "{acked} of {messages} publishes confirmed");
    Ok(())
}

/// Records each delivery's latency and acks it without awaiting the ack: the first poll of `ack` hands the frame to
/// lapin's I/O loop, so `now_or_never` sends it and drops the (pending) outcome. Runs until `stop` fires.
async fn consume(
    _channel: Channel,
    mut consumer: Consumer,
    t0: Instant,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<()>,
) -> anyhow::Result<Histogram<u64>> {
    let mut latency = histogram();
    loop {
        let delivery = tokio::select! {
            biased;
            delivery = consumer.next() => delivery,
            _ = stop.changed() => return Ok(latency),
        };
        // An ended consumer stream must not be polled again: it would hang.
        let delivery = delivery.context("the consumer was cancelled")??;
        let now = nanos_since(t0);
        let stamp: [u8; 8] = delivery.data.get(..8).and_then(|b| b.try_into().ok()).context("short message body")?;
        latency.saturating_record(now.saturating_sub(u64::from_le_bytes(stamp)) / 1000);
        match delivery.ack(BasicAckOptions::default()).now_or_never() {
            None | Some(Ok(true)) => {}
            Some(Ok(false)) => bail!("stale acker: delivery {} could not be acked", delivery.delivery_tag),
            Some(Err(e)) => return Err(e.into()),
        }
        progress.arrive();
    }
}
