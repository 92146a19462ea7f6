//! Builds a checked `Scenario` from a node tree: defaults, types, ranges, cross-field rules; all errors at once.

use super::limits::*;
use super::node::{self, Node, NodeValue};
use super::reader::{join, Errs, TableReader, NOT_NEGATIVE, POSITIVE};
use super::*;
use std::fmt;
use std::path::Path;

/// One problem in a scenario file or a `--set` flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// Where the problem is, e.g. `retry.jitter` or `faults[1].at`.
    pub path: String,
    /// 1-based line in the file; `None` for `--set` values and for missing keys of a table without a line.
    pub line: Option<usize>,
    /// The value came from a `--set` flag.
    pub from_set: bool,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from_set {
            write!(f, "--set {}: {}", self.path, self.message)
        } else if let Some(line) = self.line {
            write!(f, "line {line}: {}", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Every problem found while loading one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioErrors {
    /// The file path, or `<string>`.
    pub source: String,
    pub errors: Vec<ScenarioError>,
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, source) = (self.errors.len(), &self.source);
        write!(f, "error: {source} has {n} problem{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// Loads a scenario from TOML text; `name` defaults to "scenario". `sets` are `--set key.path=value` overrides.
pub fn load_str(text: &str, source: &str, sets: &[String]) -> Result<Scenario, ScenarioErrors> {
    load(text, source, "scenario", sets)
}

/// Loads a scenario file; `name` defaults to the file stem.
pub fn load_file(path: &Path, sets: &[String]) -> Result<Scenario, ScenarioErrors> {
    let source = path.display().to_string();
    let fail = |message: String| ScenarioErrors {
        errors: vec![ScenarioError { path: String::new(), line: None, from_set: false, message }],
        source: source.clone(),
    };
    let text = read_limited(path).map_err(|e| fail(format!("cannot read {source}: {e}")))?;
    let stem = path.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    load(&text, &source, &stem, sets)
}

/// Largest scenario file read: a real one is a few KB; a device or a runaway generator must not fill memory.
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;

/// Reads at most `MAX_SCENARIO_BYTES` (devices such as /dev/zero and pipes included) as UTF-8; text that is not
/// UTF-8 is refused with the line and byte offset of its first bad byte.
fn read_limited(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        let m = format!("it is larger than {} MiB; a scenario file is a few KB of TOML", MAX_SCENARIO_BYTES >> 20);
        return Err(Error::new(ErrorKind::InvalidData, m));
    }
    String::from_utf8(bytes).map_err(|e| {
        let (offset, bytes) = (e.utf8_error().valid_up_to(), e.as_bytes());
        let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        let column = offset - bytes[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let m = format!(
            "it is not UTF-8 text: line {line} has the invalid byte 0x{:02x} at byte offset {offset} (byte {} of the \
             line); save the file as UTF-8",
            bytes[offset],
            column + 1
        );
        Error::new(ErrorKind::InvalidData, m)
    })
}

fn load(text: &str, source: &str, default_name: &str, sets: &[String]) -> Result<Scenario, ScenarioErrors> {
    let fail = |errors| ScenarioErrors { source: source.to_string(), errors };
    let mut tree = node::parse(text).map_err(|e| fail(vec![with_key_range(text, e, default_name)]))?;
    let errs = Errs::default();
    for flag in sets {
        if let Err(e) = node::apply_set(&mut tree, flag) {
            errs.push(e);
        }
    }
    let scenario = scenario(&errs, &tree, default_name);
    let mut errors = errs.into_vec();
    if errors.is_empty() {
        return Ok(scenario);
    }
    errors.sort_by_key(|e| (e.from_set, e.line.is_none(), e.line));
    Err(fail(errors))
}

/// An integer beyond TOML's range: adds the range its key takes, found by loading the file with that integer as 0.
fn with_key_range(text: &str, mut e: ScenarioError, default_name: &str) -> ScenarioError {
    let Some((path, patched)) = node::overflowed(text) else {
        return e;
    };
    let Ok(tree) = node::parse(&patched) else {
        return e;
    };
    let errs = Errs::default();
    scenario(&errs, &tree, default_name);
    if let (Some((min, max)), Some(head)) = (errs.int_range(&path), e.message.strip_suffix(node::OVERFLOW_FIX)) {
        e.message = format!("{head}, and `{path}` takes {min}..={max}{}", node::OVERFLOW_FIX);
    }
    e
}

fn section<'a>(r: &mut TableReader<'a>, key: &'static str) -> TableReader<'a> {
    r.table(key).unwrap_or_else(|| TableReader::empty(r.errs, &r.child(key)))
}

fn scenario(errs: &Errs, tree: &Node, default_name: &str) -> Scenario {
    let mut r = TableReader::new(errs, tree, "");
    let name = r.str("name").unwrap_or_else(|| default_name.to_string());
    let description = r.str("description").unwrap_or_default();
    let seed = r.u64("seed", 0);
    let messages_given = r.has("messages");
    let messages = r.u64("messages", 1).unwrap_or(10_000);
    let duration = r.dur_pos("duration");
    let broker = broker::broker(section(&mut r, "broker"));
    let mut queue = broker::queue(section(&mut r, "queue"));
    broker::servicebus_defaults(&broker, &mut queue);
    let producers = producers(section(&mut r, "producers"));
    // Production bounded by time only: `messages` becomes a cap that the window does not reach.
    let messages = match producers.produce_for {
        Some(window) if !messages_given => crate::sim::arrivals::cap_for(&producers.rate, window),
        _ => messages,
    };
    let consumers = consumers(section(&mut r, "consumers"));
    let downstream = r.table("downstream").map(downstream);
    let retry = retry(section(&mut r, "retry"));
    let redelivery = redelivery(section(&mut r, "redelivery"));
    let circuit_breaker = r.table("circuit_breaker").map(resilience::breaker);
    let kill_switch = r.table("kill_switch").map(resilience::kill_switch);
    let autoscale = r.table("autoscale").map(autoscale);
    let report = report(section(&mut r, "report"));
    let limits = r.table("limits").map(limits).unwrap_or_default();
    let count = errs.clean(&["consumers.count"]).then_some(consumers.count);
    let has_downstream = r.has("downstream"); // if it is malformed, that is the error to report
    let real = broker.kind != BrokerKind::Embedded;
    let faults = r.with("faults", |e, n, p| faults::faults(e, n, p, count, has_downstream, real)).unwrap_or_default();
    let thresholds = r.with("thresholds", thresholds).unwrap_or_default();
    r.get("subscriptions"); // read below, once the top level is checked
    r.finish();

    // Cross-section rules, checked only when the fields involved are valid themselves.
    if let Some(a) = &autoscale {
        if errs.clean(&["consumers.count", "autoscale"])
            && !(a.min_replicas..=a.max_replicas).contains(&consumers.count)
        {
            let message = format!(
                "consumers.count = {} is the initial replica count and must lie within autoscale's \
                 [min_replicas, max_replicas] = [{}, {}]; set consumers.count between them",
                consumers.count, a.min_replicas, a.max_replicas
            );
            errs.at("consumers.count", tree.get_path(&["consumers", "count"]), tree.get("autoscale"), message);
        }
    }

    // Every handler slot is allocated when its consumer starts: bound them all at the pool's largest.
    let largest = autoscale.as_ref().map_or(consumers.count, |a| a.max_replicas.max(consumers.count));
    let slots = u64::from(largest) * u64::from(consumers.concurrency);
    if slots > MAX_HANDLER_SLOTS && errs.clean(&["consumers", "autoscale"]) {
        let who = if largest == consumers.count { "consumers.count" } else { "autoscale.max_replicas" };
        let message = format!(
            "{who} ({largest}) x consumers.concurrency ({}) = {slots} handler slots, above the {MAX_HANDLER_SLOTS} \
             this harness allocates; lower one of them",
            consumers.concurrency
        );
        errs.at("consumers.concurrency", tree.get_path(&["consumers", "concurrency"]), tree.get("consumers"), message);
    }

    // A call that hangs ends only by the caller's timeout: without one, the message would wait forever.
    if let Some(d) = downstream.as_ref().filter(|d| d.timeout.is_none()) {
        for (i, f) in faults.iter().enumerate() {
            let hangs = match f {
                Fault::Outage { mode, .. } => *mode == OutageMode::Hang,
                Fault::ErrorSpike { timeout, .. } => *timeout > 0.0,
                _ => false,
            };
            if hangs && errs.clean(&["downstream.timeout"]) {
                let message = format!(
                    "faults[{i}] makes calls to `{}` hang, and only the caller's timeout ends a hanging call; \
                     set downstream.timeout (e.g. \"2s\")",
                    d.name
                );
                let item = match tree.get("faults").map(|f| &f.value) {
                    Some(NodeValue::Array(v)) => v.get(i),
                    _ => None,
                };
                errs.at(&format!("faults[{i}]"), item, tree.get("downstream"), message);
            }
        }
    }

    broker::real_broker_rules(errs, tree, &broker, &queue, &consumers, duration, &faults);
    ordering::rules(errs, tree, &producers, &consumers);
    let subscriptions = subscriptions::checked(errs, tree, &broker, &queue);

    Scenario {
        name,
        description,
        seed,
        messages,
        duration,
        broker,
        queue,
        producers,
        consumers,
        downstream,
        retry,
        redelivery,
        circuit_breaker,
        kill_switch,
        autoscale,
        report,
        limits,
        faults,
        thresholds,
        subscriptions,
    }
}

fn producers(mut r: TableReader) -> ProducerCfg {
    let count = r.u32_in("count", 1, MAX_PRODUCERS).unwrap_or(1);
    let rate = r.with("rate", rate).unwrap_or(RateShape::Constant { per_second: 100.0 });
    let size = r.with("size", size).unwrap_or(SizeDist::Fixed { bytes: 512 });
    let poison_fraction = r.fraction("poison_fraction").unwrap_or(0.0);
    let persistent = r.bool("persistent").unwrap_or(true);
    let confirm_window = r.u32("confirm_window", 0).unwrap_or(DEFAULT_CONFIRM_WINDOW);
    let produce_for = r.dur_pos("for");
    let (keys, key_distribution) = ordering::keys(&mut r);
    r.finish();
    ProducerCfg { count, rate, size, poison_fraction, persistent, confirm_window, produce_for, keys, key_distribution }
}

fn rate(errs: &Errs, node: &Node, path: &str) -> Option<RateShape> {
    if let NodeValue::Str(text) = &node.value {
        return match super::units::parse_rate(text) {
            Ok(per_second) => Some(RateShape::Constant { per_second }),
            Err(why) => {
                errs.bad_value(path, node, &why);
                None
            }
        };
    }
    let mut t = errs.table(node, path, "a table like { shape = \"constant\", per_second = 100 }")?;
    let rate = match t.tag("shape", &["constant", "poisson", "ramp", "steps", "burst"])? {
        shape @ ("constant" | "poisson") => {
            t.require("per_second", "100");
            let per_second = t.f64_where("per_second", |v| v > 0.0, POSITIVE).unwrap_or(1.0);
            match shape {
                "constant" => RateShape::Constant { per_second },
                _ => RateShape::Poisson { per_second },
            }
        }
        "ramp" => {
            t.require("from", "0");
            t.require("to", "500");
            t.require("over", "\"5m\"");
            let from = t.f64_where("from", |v| v >= 0.0, NOT_NEGATIVE);
            let to = t.f64_where("to", |v| v >= 0.0, NOT_NEGATIVE);
            if from == Some(0.0) && to == Some(0.0) {
                t.error("to", format!("{path}: a ramp from 0 to 0 sends nothing; set `to` (or `from`) above 0"));
            }
            let (from, to) = (from.unwrap_or(0.0), to.unwrap_or(1.0));
            let over = t.dur_pos("over").unwrap_or(Dur(1));
            RateShape::Ramp { from, to, over, poisson: t.bool("poisson").unwrap_or(false) }
        }
        "steps" => {
            t.require("steps", "[{ per_second = 100, for = \"1m\" }]");
            let steps = t.with("steps", steps).unwrap_or_default();
            RateShape::Steps { steps, poisson: t.bool("poisson").unwrap_or(false) }
        }
        _ => {
            t.require("size", "100");
            t.require("every", "\"1m\"");
            let size = t.u64("size", 1).unwrap_or(1);
            RateShape::Burst { size, every: t.timer("every").unwrap_or(MIN_TIMER) }
        }
    };
    t.finish();
    Some(rate)
}

fn steps(errs: &Errs, node: &Node, path: &str) -> Option<Vec<Step>> {
    let items = errs.array(node, path)?;
    let example = "a table like { per_second = 100, for = \"1m\" }";
    if items.is_empty() {
        errs.bad_value(path, node, &format!("needs at least one step, {example}"));
    }
    let mut steps = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(mut t) = errs.table(item, &format!("{path}[{i}]"), example) else {
            continue;
        };
        t.require("per_second", "100");
        t.require("for", "\"1m\"");
        let per_second = t.f64_where("per_second", |v| v >= 0.0, NOT_NEGATIVE).unwrap_or(0.0);
        steps.push(Step { per_second, hold: t.dur_pos("for").unwrap_or(Dur(1)) });
        t.finish();
    }
    if errs.clean(&[path]) && steps.iter().all(|s| s.per_second == 0.0) && !steps.is_empty() {
        errs.bad_value(path, node, "every step has per_second = 0, so nothing is sent; give one step a rate");
    }
    Some(steps)
}

fn size(errs: &Errs, node: &Node, path: &str) -> Option<SizeDist> {
    if let NodeValue::Int(_) | NodeValue::Str(_) = node.value {
        return errs.bytes(node, path, MAX_MESSAGE_BYTES).map(|bytes| SizeDist::Fixed { bytes });
    }
    let forms = "{ bytes = 512 } or { min_bytes = 256, max_bytes = 4096 }";
    let mut t = errs.table(node, path, &format!("a size in bytes like 512, or a table like {forms}"))?;
    let size = if t.has("bytes") || !(t.has("min_bytes") || t.has("max_bytes")) {
        if node.entries().is_some_and(|e| e.is_empty()) {
            errs.bad_value(path, node, &format!("write {forms}"));
        }
        let bytes = t.bytes("bytes", MAX_MESSAGE_BYTES).map(|bytes| SizeDist::Fixed { bytes });
        t.get("min_bytes"); // absent here; makes the key known for suggestions
        t.get("max_bytes");
        bytes
    } else {
        t.require("min_bytes", "256");
        t.require("max_bytes", "4096");
        match (t.bytes("min_bytes", MAX_MESSAGE_BYTES), t.bytes("max_bytes", MAX_MESSAGE_BYTES)) {
            (Some(min), Some(max)) if min > max => {
                t.error("max_bytes", format!("{path}: max_bytes ({max}) is below min_bytes ({min}); raise max_bytes"));
                None
            }
            (Some(min_bytes), Some(max_bytes)) => Some(SizeDist::Uniform { min_bytes, max_bytes }),
            _ => None,
        }
    };
    t.finish();
    size
}

fn consumers(mut r: TableReader) -> ConsumerCfg {
    // count 0: produce-only, against a real broker (see broker::real_broker_rules)
    let count = r.u32_in("count", 0, MAX_CONSUMERS).unwrap_or(1);
    let concurrency = r.u32_in("concurrency", 1, MAX_CONCURRENCY);
    let prefetch = r.u32_in("prefetch", 1, MAX_PREFETCH);
    if let (Some(c), Some(p)) = (concurrency, prefetch) {
        if p < c {
            let why = "a consumer cannot work on more messages than it holds";
            r.error(
                "prefetch",
                format!("prefetch ({p}) is below concurrency ({c}): {why}; raise prefetch to at least {c}"),
            );
        }
    }
    let concurrency = concurrency.unwrap_or(1);
    let prefetch = prefetch.unwrap_or(concurrency);
    let service_time = r.dist("service_time").unwrap_or(Dist::fixed(Dur::from_millis(1)));
    let on_failure = r.choice("on_failure", &[OnFailure::ErrorQueue, OnFailure::Requeue, OnFailure::Reject]);
    let on_failure = on_failure.unwrap_or(OnFailure::ErrorQueue);
    let ordering = r.choice("ordering", &[KeyOrdering::Competing, KeyOrdering::Keyed]).unwrap_or_default();
    r.finish();
    ConsumerCfg { count, concurrency, prefetch, service_time, on_failure, ordering }
}

/// The `transient`, `timeout` and `validation` fractions of `t`, which must add up to at most 1.
fn error_rates(t: &mut TableReader) -> ErrorRates {
    let transient = t.fraction("transient").unwrap_or(0.0);
    let timeout = t.fraction("timeout").unwrap_or(0.0);
    let validation = t.fraction("validation").unwrap_or(0.0);
    let sum = transient + timeout + validation;
    if sum > 1.0 + 1e-9 {
        let what = "transient + timeout + validation";
        let m = format!("{}: {what} = {sum}, but they are fractions of all calls and must add up to at most 1", t.path);
        t.errs.at(&t.path, Some(t.node), None, m);
    }
    ErrorRates { transient, timeout, validation }
}

fn downstream(mut r: TableReader) -> DownstreamCfg {
    let name = r.str("name").unwrap_or_else(|| "downstream".to_string());
    let servers = r.u32_in("servers", 1, MAX_SERVERS).unwrap_or(1);
    let service_time = r.dist("service_time").unwrap_or(Dist::fixed(Dur::from_millis(10)));
    if service_time.mean_ns() < 1.0 && r.errs.clean(&["downstream.service_time"]) {
        let why = "a service that takes no time has no capacity limit, and every figure measured against its capacity \
                   would be infinite";
        let fix = "give it a service time (e.g. \"1ms\") or remove [downstream] if the consumer calls nothing";
        r.error("service_time", format!("downstream.service_time has a mean of 0: {why}; {fix}"));
    }
    let timeout = r.dur_pos("timeout");
    let on_timeout = r.choice("on_timeout", &[OnTimeout::KeepWorking, OnTimeout::Cancel]);
    let on_timeout = on_timeout.unwrap_or(OnTimeout::KeepWorking);
    let queue_limit = r.u64("queue_limit", 0);
    let errors = r.table("errors").map_or_else(ErrorRates::default, |mut t| {
        let rates = error_rates(&mut t);
        t.finish();
        rates
    });
    if errors.timeout > 0.0 && timeout.is_none() && r.errs.clean(&["downstream.timeout"]) {
        let rate = node::render_float(errors.timeout);
        let why = "a call can only time out if the caller has a timeout";
        let m =
            format!("downstream.errors.timeout = {rate} needs downstream.timeout: {why}; set e.g. timeout = \"2s\"");
        let at = r.peek("errors").and_then(|e| e.get("timeout"));
        r.errs.at("downstream.errors.timeout", at, Some(r.node), format!("{m} in [downstream]"));
    }
    let crash = r.table("crash").map(|mut t| {
        t.require("when_in_system_above", "200");
        let when_in_system_above = t.u64("when_in_system_above", 1).unwrap_or(1);
        let after = t.dur("after").unwrap_or(Dur::ZERO);
        let restart = t.dur_pos("restart").unwrap_or(Dur::from_secs(30));
        t.finish();
        CrashCfg { when_in_system_above, after, restart }
    });
    let throttle = r.table("throttle").map(overload::throttle);
    r.finish();
    DownstreamCfg { name, servers, service_time, timeout, on_timeout, queue_limit, errors, crash, throttle }
}

const JITTERS: [Jitter; 5] = [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated, Jitter::Proportional];

fn retry(mut r: TableReader) -> RetryCfg {
    let policy = r.with("policy", retry_policy).unwrap_or(RetryPolicy::None);
    let jitter = r.choice("jitter", &JITTERS).unwrap_or(Jitter::None);
    let mut kinds = |key| r.with(key, failure_kinds).unwrap_or_default();
    let (handle, ignore) = (kinds("handle"), kinds("ignore"));
    if let Some(both) = handle.iter().find(|k| ignore.contains(k)) {
        let m = format!("`{}` is in both retry.handle and retry.ignore; remove it from one of them", both.as_str());
        r.error("ignore", m);
    }
    let budget = r.table("budget").and_then(overload::budget);
    r.finish();
    RetryCfg { policy, jitter, filter: KindFilter { handle, ignore }, budget }
}

fn failure_kinds(errs: &Errs, node: &Node, path: &str) -> Option<Vec<FailureKind>> {
    let NodeValue::Array(items) = &node.value else {
        return errs.wrong_type(node, path, "an array like [\"transient\", \"timeout\"]");
    };
    let each = |(i, n): (usize, &Node)| errs.choice(n, &format!("{path}[{i}]"), &FailureKind::ALL);
    let kinds: Vec<Option<FailureKind>> = items.iter().enumerate().map(each).collect(); // every element checked
    kinds.into_iter().collect()
}

fn retry_policy(errs: &Errs, node: &Node, path: &str) -> Option<RetryPolicy> {
    let expected = "\"none\" or a table like { kind = \"exponential\", limit = 5, base = \"200ms\" }";
    match &node.value {
        NodeValue::Str(s) if s == "none" => return Some(RetryPolicy::None),
        NodeValue::Str(_) => return errs.wrong_type(node, path, expected),
        _ => {}
    }
    let mut t = errs.table(node, path, expected)?;
    let kind = t.tag("kind", &["none", "immediate", "intervals", "incremental", "exponential"])?;
    let mut limit = || {
        t.require("limit", "5");
        t.u32_in("limit", 1, MAX_RETRY_LIMIT).unwrap_or(1)
    };
    let policy = match kind {
        "none" => RetryPolicy::None,
        "immediate" => RetryPolicy::Immediate { limit: limit() },
        "intervals" => {
            t.require("intervals", "[\"1s\", \"5s\", \"30s\"]");
            let intervals = t.durs("intervals", Dur::ZERO, NOT_NEGATIVE).unwrap_or_default();
            if let Some(n) = t.peek("intervals").filter(|_| intervals.is_empty() && t.errs.clean(&[path])) {
                t.errs.bad_value(&t.child("intervals"), n, "needs at least one interval, e.g. [\"1s\", \"5s\"]");
            }
            RetryPolicy::Intervals { intervals }
        }
        "incremental" => {
            let limit = limit();
            t.require("initial", "\"1s\"");
            t.require("step", "\"1s\"");
            let (initial, step) = (t.dur("initial").unwrap_or_default(), t.dur("step").unwrap_or_default());
            RetryPolicy::Incremental { limit, initial, step }
        }
        _ => {
            let limit = limit();
            t.require("base", "\"200ms\"");
            let base = t.dur_pos("base").unwrap_or(Dur(1));
            let cap = t.dur("cap").unwrap_or(Dur::from_secs(300));
            if cap < base && t.errs.clean(&[path]) {
                let default = if t.has("cap") { "" } else { ", the default" };
                t.error(
                    "cap",
                    format!("{path}: cap ({cap}{default}) is below base ({base}); set cap to at least {base}"),
                );
            }
            RetryPolicy::Exponential { limit, base, cap }
        }
    };
    t.finish();
    Some(policy)
}

fn redelivery(mut r: TableReader) -> RedeliveryCfg {
    let intervals = r.durs("intervals", MIN_TIMER, super::reader::TIMER_FLOOR).unwrap_or_default();
    let jitter = r.choice("jitter", &JITTERS).unwrap_or(Jitter::None);
    r.finish();
    RedeliveryCfg { intervals, jitter }
}

fn autoscale(mut r: TableReader) -> AutoscaleCfg {
    let min_replicas = r.u32_in("min_replicas", 0, MAX_CONSUMERS).unwrap_or(1);
    let max_replicas = r.u32_in("max_replicas", 1, MAX_CONSUMERS).unwrap_or(10);
    if max_replicas < min_replicas && r.errs.clean(&["autoscale.min_replicas", "autoscale.max_replicas"]) {
        let m = format!("max_replicas ({max_replicas}) is below min_replicas ({min_replicas}); raise max_replicas");
        r.error("max_replicas", m);
    }
    let cfg = AutoscaleCfg {
        min_replicas,
        max_replicas,
        messages_per_replica: r.u64("messages_per_replica", 1).unwrap_or(100),
        polling_interval: r.timer("polling_interval").unwrap_or(Dur::from_secs(30)),
        cooldown: r.dur("cooldown").unwrap_or(Dur::from_secs(300)),
        scale_down_stabilization: r.dur("scale_down_stabilization").unwrap_or(Dur::from_secs(300)),
        startup_delay: r.dur("startup_delay").unwrap_or(Dur::from_secs(20)),
        count_unacked: r.bool("count_unacked").unwrap_or(false),
    };
    r.finish();
    cfg
}

fn limits(mut r: TableReader) -> Limits {
    let max_events = r.u64_in("max_events", 1, i64::MAX as u64);
    let stalled_events = r.u64_in("stalled_events", 1_000, i64::MAX as u64);
    let max_scenario_time = r.dur("max_scenario_time");
    r.check("max_scenario_time", max_scenario_time.is_none_or(|d| d >= Dur::from_secs(1)), "must be at least 1s");
    r.finish();
    Limits { max_events, stalled_events, max_scenario_time: max_scenario_time.filter(|d| *d >= Dur::from_secs(1)) }
}

fn report(mut r: TableReader) -> ReportCfg {
    let episode_gap = r.dur("episode_gap").unwrap_or(Dur::from_secs(10));
    r.finish();
    ReportCfg { episode_gap }
}

/// `"metric" = "expression"` (or a list of expressions) in file order, each parsed by the gate's one parser.
/// Dotted keys written unquoted (nested tables) are joined back.
fn thresholds(errs: &Errs, node: &Node, path: &str) -> Option<Thresholds> {
    use crate::gate::threshold;
    fn walk(errs: &Errs, node: &Node, path: &str, prefix: &str, out: &mut Vec<threshold::Threshold>) {
        for e in node.entries().unwrap_or(&[]) {
            let key = if prefix.is_empty() { e.key.clone() } else { format!("{prefix}.{}", e.key) };
            let at = join(path, &key);
            let exprs: Vec<&Node> = match &e.node.value {
                NodeValue::Table(_) => {
                    walk(errs, &e.node, path, &key, out);
                    continue;
                }
                NodeValue::Array(items) if items.is_empty() => {
                    let m = "an empty list checks nothing; remove the key or add an expression like \"< 2000\"";
                    errs.bad_value(&at, &e.node, m);
                    continue;
                }
                NodeValue::Array(items) => items.iter().collect(),
                _ => vec![&e.node],
            };
            let expected = "a string expression like \"< 2000\" (or a list of them)";
            let texts: Vec<&str> = exprs
                .iter()
                .filter_map(|n| match &n.value {
                    NodeValue::Str(s) => Some(s.as_str()),
                    _ => errs.wrong_type(n, &at, expected),
                })
                .collect();
            if texts.len() != exprs.len() {
                continue;
            }
            let k6 = texts.iter().find_map(|t| threshold::k6_form(&key, t));
            if let Some(problem) = k6.map_or_else(|| threshold::parse_key(&key).err(), Some) {
                errs.bad_value(&at, &e.node, &problem);
                continue;
            }
            for (text, n) in texts.iter().zip(&exprs) {
                match threshold::parse(&key, text) {
                    Ok(t) => out.push(t),
                    Err(problem) => errs.bad_value(&at, n, &problem),
                }
            }
        }
    }
    errs.table(node, path, "a table like { \"latency_ms.p99\" = \"< 2000\" }")?;
    let mut out = Vec::new();
    walk(errs, node, path, "", &mut out);
    Some(Thresholds(out))
}

/// Only the `[thresholds]` of a scenario file (`loadtest gate` reads them from a run's resolved `scenario.toml`,
/// without depending on the rest of the schema).
pub fn load_thresholds(path: &Path) -> Result<Thresholds, ScenarioErrors> {
    let source = path.display().to_string();
    let fail = |errors| ScenarioErrors { source: source.clone(), errors };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(vec![ScenarioError {
            path: String::new(),
            line: None,
            from_set: false,
            message: format!("cannot read {source}: {e}"),
        }])
    })?;
    let tree = node::parse(&text).map_err(|e| fail(vec![e]))?;
    let errs = Errs::default();
    let found = tree.get("thresholds").and_then(|n| thresholds(&errs, n, "thresholds")).unwrap_or_default();
    let errors = errs.into_vec();
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(fail(errors))
    }
}

mod broker;
mod faults;
mod ordering;
mod overload;
mod resilience;
mod subscriptions;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;
