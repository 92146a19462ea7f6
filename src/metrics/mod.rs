//! The run's live metrics in the Prometheus / OpenMetrics text format (prometheus-client): fed one closed second at
//! a time (the time-series row), served by `--metrics-listen` while the run goes (`serve`), and written with their
//! final values to every report folder as `metrics.prom`.

pub mod serve;

use crate::record::series::Row;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The report folder's file of final values.
pub const FILE: &str = "metrics.prom";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Quantile {
    quantile: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The metric handles; `registry` encodes them. Counters are totals over the run so far; gauges are the value at
/// the end of the latest closed second.
pub struct Metrics {
    registry: Arc<Registry>,
    published: Counter,
    completed: Counter,
    dead_lettered: Counter,
    expired: Counter,
    attempts: Family<Kind, Counter>,
    failures: Family<Kind, Counter>,
    calls: Counter,
    calls_failed: Counter,
    queue: Family<State, Gauge>,
    dlq: Gauge,
    in_flight: Gauge,
    consumers: Gauge,
    capacity: FloatGauge,
    in_system: Gauge,
    scenario_time: Gauge,
    latency: Family<Quantile, FloatGauge>,
}

impl Metrics {
    /// Metrics labelled with the scenario's name and, when there is one, the run id.
    pub fn new(scenario: &str, run_id: Option<&str>) -> Metrics {
        let mut labels: Vec<(Cow<'static, str>, Cow<'static, str>)> =
            vec![("scenario".into(), scenario.to_string().into())];
        if let Some(id) = run_id {
            labels.push(("run_id".into(), id.to_string().into()));
        }
        let mut r = Registry::with_labels(labels.into_iter());
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            published: Counter::default(),
            completed: Counter::default(),
            dead_lettered: Counter::default(),
            expired: Counter::default(),
            attempts: Family::default(),
            failures: Family::default(),
            calls: Counter::default(),
            calls_failed: Counter::default(),
            queue: Family::default(),
            dlq: Gauge::default(),
            in_flight: Gauge::default(),
            consumers: Gauge::default(),
            capacity: FloatGauge::default(),
            in_system: Gauge::default(),
            scenario_time: Gauge::default(),
            latency: Family::default(),
        };
        r.register("loadtest_messages_published", "Messages the broker accepted", m.published.clone());
        r.register("loadtest_messages_completed", "Messages handled and acknowledged", m.completed.clone());
        r.register(
            "loadtest_messages_dead_lettered",
            "Messages that reached a dead-letter queue",
            m.dead_lettered.clone(),
        );
        r.register("loadtest_messages_expired", "Messages whose time to live ran out", m.expired.clone());
        r.register(
            "loadtest_handler_attempts",
            "Handler attempts: kind first (a delivery's first try), retry (an in-memory retry), redelivery",
            m.attempts.clone(),
        );
        r.register("loadtest_handler_failures", "Failed handler attempts by failure kind", m.failures.clone());
        r.register(
            "loadtest_downstream_calls",
            "Calls that reached the downstream (refused ones included)",
            m.calls.clone(),
        );
        r.register(
            "loadtest_downstream_calls_failed",
            "Downstream calls that failed for overload or unavailability",
            m.calls_failed.clone(),
        );
        r.register(
            "loadtest_queue_messages",
            "Messages in the work queue by state: ready, unacked, delayed",
            m.queue.clone(),
        );
        r.register("loadtest_dead_letter_queue_messages", "Messages in the dead-letter queues", m.dlq.clone());
        r.register("loadtest_in_flight_messages", "Messages a handler is working on", m.in_flight.clone());
        r.register("loadtest_consumers", "Consumers running", m.consumers.clone());
        r.register(
            "loadtest_downstream_capacity_requests_per_second",
            "Downstream capacity (0 while it is down)",
            m.capacity.clone(),
        );
        r.register(
            "loadtest_downstream_in_system_requests",
            "Requests in the downstream (in service and waiting)",
            m.in_system.clone(),
        );
        r.register_with_unit(
            "loadtest_scenario_time",
            "Scenario time closed so far",
            Unit::Seconds,
            m.scenario_time.clone(),
        );
        r.register_with_unit(
            "loadtest_latency",
            "End-to-end latency (from intended publish time) of the messages completed in the latest second that \
             completed any, by quantile",
            Unit::Seconds,
            m.latency.clone(),
        );
        Metrics { registry: Arc::new(r), ..m }
    }

    /// The registry, for a server to encode while the run updates the values.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// One closed second.
    pub fn observe(&self, row: &Row) {
        self.published.inc_by(row.published);
        self.completed.inc_by(row.completed);
        self.dead_lettered.inc_by(row.dead_lettered);
        self.expired.inc_by(row.expired);
        let retries = row.attempts_retry1 + row.attempts_retry2 + row.attempts_retry3 + row.attempts_retry4plus;
        for (kind, n) in [("first", row.attempts_first), ("retry", retries), ("redelivery", row.attempts_redelivery)] {
            self.attempts.get_or_create(&Kind { kind }).inc_by(n);
        }
        let mut failed = vec![
            ("transient", row.failed_transient),
            ("timeout", row.failed_timeout),
            ("validation", row.failed_validation),
            ("poison", row.failed_poison),
            ("circuit_open", row.failed_circuit_open),
        ];
        if let Some(n) = row.failed_throttled {
            failed.push(("throttled", n));
        }
        for (kind, n) in failed {
            self.failures.get_or_create(&Kind { kind }).inc_by(n);
        }
        self.calls.inc_by(row.offered);
        self.calls_failed.inc_by(row.calls_failed);
        for (state, n) in [("ready", row.ready), ("unacked", row.unacked), ("delayed", row.delayed)] {
            self.queue.get_or_create(&State { state }).set(gauge(n));
        }
        self.dlq.set(gauge(row.dlq));
        self.in_flight.set(gauge(row.in_flight));
        self.consumers.set(gauge(row.consumers));
        self.capacity.set(row.capacity);
        self.in_system.set(gauge(row.in_system));
        self.scenario_time.set(gauge(row.time_s + 1));
        for (quantile, v) in [("0.5", row.latency_p50_ms), ("0.99", row.latency_p99_ms), ("1", row.latency_max_ms)] {
            if let Some(ms) = v {
                self.latency.get_or_create(&Quantile { quantile }).set(ms / 1000.0);
            }
        }
    }

    /// The text exposition (OpenMetrics, ending in `# EOF`).
    pub fn encode(&self) -> String {
        encode(&self.registry)
    }
}

/// `registry` in the text exposition format, each family's samples sorted (a family's own order follows a hash
/// map), so that the same values always give the same bytes.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail; an encoder error would leave the text cut short, never panic.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    let mut out = String::with_capacity(text.len());
    let mut samples: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            samples.sort_unstable();
            samples.drain(..).for_each(|s| {
                out.push_str(s);
                out.push('\n');
            });
            out.push_str(line);
            out.push('\n');
        } else {
            samples.push(line);
        }
    }
    samples.sort_unstable();
    samples.into_iter().for_each(|s| {
        out.push_str(s);
        out.push('\n');
    });
    out
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `metrics.prom` for a report folder: every second of `rows` fed through the live metrics, so the file holds the
/// values a scrape at the end of the run would have shown.
pub fn final_values<'a>(scenario: &str, run_id: Option<&str>, rows: impl IntoIterator<Item = &'a Row>) -> String {
    let m = Metrics::new(scenario, run_id);
    for r in rows {
        m.observe(r);
    }
    m.encode()
}

/// The exporter that writes `metrics.prom` (with the charts, so `loadtest report` writes it again too).
pub struct MetricsFile;

impl crate::export::Exporter for MetricsFile {
    fn name(&self) -> &str {
        FILE
    }
    fn render(
        &self,
        run: &crate::export::RunData,
    ) -> Result<Vec<(std::path::PathBuf, Vec<u8>)>, crate::export::ChartError> {
        let run_id = run.summary.real_broker.as_ref().map(|r| r.run_id.as_str());
        // Streamed from the folder's time series (as `RunData` read it), not held whole.
        let m = Metrics::new(&run.summary.scenario.name, run_id);
        let csv = run.dir.join(crate::report::TIMESERIES);
        crate::report::check::timeseries_each(&csv, run.summary.messages.completed, |r| m.observe(&r))
            .map_err(|e| crate::export::ChartError(format!("{}: {e}", csv.display())))?;
        let text = m.encode();
        Ok(vec![(FILE.into(), text.into_bytes())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_gauges_hold_the_last_second() {
        let rows = [
            Row { time_s: 0, published: 10, completed: 4, ready: 6, latency_p99_ms: Some(250.0), ..Row::default() },
            Row { time_s: 1, published: 5, completed: 7, ready: 4, ..Row::default() },
        ];
        let text = final_values("steady", Some("abc"), &rows);
        assert!(text.contains("loadtest_messages_published_total{scenario=\"steady\",run_id=\"abc\"} 15\n"), "{text}");
        assert!(text.contains("loadtest_messages_completed_total{scenario=\"steady\",run_id=\"abc\"} 11\n"));
        assert!(text.contains("loadtest_queue_messages{scenario=\"steady\",run_id=\"abc\",state=\"ready\"} 4\n"));
        assert!(text.contains("loadtest_latency_seconds{scenario=\"steady\",run_id=\"abc\",quantile=\"0.99\"} 0.25\n"));
        assert!(text.contains("loadtest_scenario_time_seconds{scenario=\"steady\",run_id=\"abc\"} 2\n"));
        assert!(text.ends_with("# EOF\n"));
    }
}
