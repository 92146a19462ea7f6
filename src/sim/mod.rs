//! Running a scenario: builds the broker, recorder and engine, runs the loop, returns what was measured.

pub mod arrivals;
pub mod autoscale;
pub mod breaker;
pub mod budget;
pub mod clock;
pub mod consumer;
pub mod downstream;
pub mod engine;
pub mod events;
pub mod interrupt;
mod keyed;
pub mod killswitch;
mod real_loop;
pub mod retry;
pub mod rng;
pub mod throttle;
pub mod window;

use crate::broker::embedded::EmbeddedBroker;
use crate::broker::{Broker, Depths};
use crate::record::episodes::Recovery;
use crate::record::series::SeriesWriter;
use crate::record::Recorded;
use crate::scenario::{BrokerKind, ClockKind, Scenario};
use crate::time::{Nanos, NS_PER_SEC};

/// What the run measured and how it ended.
pub struct Outcome {
    pub recorded: Recorded,
    /// Scenario time at which the run ended.
    pub end: Nanos,
    pub stopped_by_limit: bool,
    /// A `[limits]` bound stopped the run before every message had an outcome.
    pub limit: Option<crate::scenario::limits::LimitHit>,
    /// A signal stopped a virtual-time run (SIGINT, SIGTERM, SIGHUP); the report is complete up to then.
    pub signal: Option<i32>,
    pub events: u64,
    /// Mean events pending when the engine took one (all, and those in its heap); 0 on a real broker.
    pub mean_queue_len: f64,
    pub mean_heap_len: f64,
    /// What the broker still held at the end.
    pub depths: Depths,
    pub downstream_crashes: u64,
    pub downstream_peak_in_system: u64,
    /// A real broker's report and reconciliation; `None` on the embedded broker.
    pub real: Option<crate::broker::real::RealReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("broker kind `{0:?}` is not available in this build")]
    UnsupportedBroker(BrokerKind),
    #[error("writing the time series failed: {0}")]
    Io(#[from] std::io::Error),
}

/// How far a run has got, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Messages that have an outcome (or were refused at publish).
    pub done: u64,
    /// Messages the scenario sends.
    pub total: u64,
    /// Scenario time.
    pub now: Nanos,
}

/// Handled events between two progress reports (a virtual-time run handles millions per second).
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// Runs `cfg` with `seed`, streaming the per-second series into `series`.
pub fn run(cfg: &Scenario, seed: u64, series: SeriesWriter) -> Result<Outcome, RunError> {
    run_with_progress(cfg, seed, series, &mut |_| {})
}

/// `run`, reporting progress every `PROGRESS_EVERY` events (and every scenario second under a real clock) and
/// once at the end. The callback only observes: the run is the same with or without it.
pub fn run_with_progress(
    cfg: &Scenario,
    seed: u64,
    series: SeriesWriter,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, RunError> {
    let broker: Box<dyn Broker> = match cfg.broker.kind {
        BrokerKind::Embedded => Box::new(
            EmbeddedBroker::new(&cfg.queue, cfg.peek_lock())
                .with_confirms(cfg.broker.confirm_latency.ns(), cfg.producers.confirm_window),
        ),
        other => return Err(RunError::UnsupportedBroker(other)),
    };
    run_on(cfg, seed, series, broker, progress)
}

/// `run_with_progress` on a broker the caller built (a real broker connects before the run starts).
pub fn run_on(
    cfg: &Scenario,
    seed: u64,
    series: SeriesWriter,
    broker: Box<dyn Broker + '_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, RunError> {
    let is_real = cfg.broker.kind != BrokerKind::Embedded;
    let pacer = (cfg.broker.clock == ClockKind::Real && !is_real).then(|| clock::Pacer::new(cfg.broker.time_scale));
    let nominal = cfg.downstream.as_ref().map_or(0.0, |d| d.capacity_per_s());
    let recovery = Recovery::new(cfg.faults.iter().map(|f| (f.at().ns(), f.end().map(|e| e.ns()))).collect());
    let gap = cfg.report.episode_gap.ns().div_ceil(NS_PER_SEC);
    let mut rec = crate::record::Recorder::new(series, nominal, gap, recovery);
    if cfg.downstream.as_ref().is_some_and(|d| d.throttle.is_some()) {
        rec = rec.with_throttled_column();
    }
    if cfg.circuit_breaker.is_some() {
        rec = rec.with_breaker_column();
    }
    if let Some(keys) = cfg.producers.keys {
        rec = rec.with_ordering(crate::scenario::keys::KeyMap::new(keys, cfg.producers.key_distribution, seed));
    }
    let stop_at = cfg.duration.unwrap_or(cfg.limits.max_scenario_time()).ns();
    let engine = engine::Engine::new(cfg, seed, broker, rec, pacer, stop_at);
    let engine::Finished { ended, rec, depths, downstream, real } = engine.run(progress)?;
    let recorded = rec.finish(ended.at, &ended.gauges)?;
    Ok(Outcome {
        recorded,
        end: ended.at,
        stopped_by_limit: ended.by_limit,
        limit: ended.limit,
        signal: ended.signal,
        events: ended.events,
        mean_queue_len: ended.mean_queue_len,
        mean_heap_len: ended.mean_heap_len,
        depths,
        downstream_crashes: downstream.as_ref().map_or(0, |d| d.crashes),
        downstream_peak_in_system: downstream.as_ref().map_or(0, |d| d.peak_in_system),
        real,
    })
}
