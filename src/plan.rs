//! `loadtest validate --plan`: what a scenario would run, worked out from the file alone (nothing is simulated):
//! the arrival rate over time, capacity and utilisation, the most in flight, the fault timeline, the retry and
//! redelivery schedule with jitter ranges, and warnings for likely mistakes.

use crate::scenario::{Fault, Jitter, RateShape, RetryPolicy, Scenario};
use crate::sim::arrivals::{planned_by, planned_end};
use crate::sim::retry::Backoff;
use crate::time::Dur;
use std::fmt::Write;

/// The plan as text lines, and the warnings apart (the caller prints them as `warning:` lines).
pub struct Plan {
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
}

pub fn plan(s: &Scenario) -> Plan {
    let mut p = Plan { lines: Vec::new(), warnings: Vec::new() };
    arrivals(s, &mut p);
    if s.subscriptions.is_empty() {
        consumer_side(s, &mut p);
        return p;
    }
    // `[[subscriptions]]`: the producers once, then each subscription's consumer side, its warnings named.
    for sub in &s.subscriptions {
        let one = s.for_subscription(sub);
        let mut q = Plan { lines: Vec::new(), warnings: Vec::new() };
        consumer_side(&one, &mut q);
        p.lines.push(format!("subscription {} (queue {})", sub.name, sub.queue.name));
        p.lines.extend(q.lines.into_iter().map(|l| format!("  {l}")));
        p.warnings.extend(q.warnings.into_iter().map(|w| format!("subscription {}: {w}", sub.name)));
    }
    p
}

/// What the queue's consumers do with the arrivals: capacity, faults, retries and the mistakes to warn of.
fn consumer_side(s: &Scenario, p: &mut Plan) {
    capacity(s, p);
    faults(s, p);
    retries(s, p);
    mistakes(s, p);
}

fn secs(t: f64) -> String {
    if t.is_infinite() {
        "never".into()
    } else {
        // whole seconds from 10 s on, milliseconds below: a plan, not a measurement
        let t = if t >= 10.0 { t.round() } else { (t * 1e3).round() / 1e3 };
        Dur::from_secs_f64(t.max(0.0)).to_string()
    }
}

/// A point in scenario time: as a duration, in hours from a day on (not humantime's months and days).
fn when(d: Dur) -> String {
    let h = d.secs_f64() / 3600.0;
    if h >= 24.0 {
        format!("{}h", (h * 10.0).round() / 10.0)
    } else {
        d.to_string()
    }
}

fn rate(r: f64) -> String {
    if r >= 100.0 || r == r.trunc() {
        format!("{r:.0}/s")
    } else {
        format!("{r:.2}/s")
    }
}

/// When production ends: the last planned message, or the end of `producers.for`, whichever comes first.
fn production_end(s: &Scenario) -> Option<f64> {
    let end = planned_end(&s.producers.rate, s.messages);
    match (end, s.producers.produce_for) {
        (Some(e), Some(w)) => Some(e.min(w.secs_f64())),
        (None, Some(w)) => Some(w.secs_f64()),
        (e, None) => e,
    }
}

/// The mean arrival rate while production runs, messages per second.
fn mean_rate(s: &Scenario) -> f64 {
    if let Some(w) = s.producers.produce_for {
        return planned_by(&s.producers.rate, s.messages, w.secs_f64()) / w.secs_f64().max(1e-9);
    }
    match planned_end(&s.producers.rate, s.messages) {
        Some(end) if end > 0.0 => s.messages as f64 / end,
        _ => match &s.producers.rate {
            RateShape::Constant { per_second } | RateShape::Poisson { per_second } => *per_second,
            RateShape::Ramp { to, .. } => *to,
            RateShape::Steps { steps, .. } => steps.first().map_or(0.0, |st| st.per_second),
            RateShape::Burst { size, every } => *size as f64 / every.secs_f64().max(1e-9),
        },
    }
}

/// The highest arrival rate of the shape (a ramp's larger end, the largest step; a burst at its mean), messages per
/// second: what an autoscaler must keep up with.
fn peak_rate(s: &Scenario) -> f64 {
    match &s.producers.rate {
        RateShape::Constant { per_second } | RateShape::Poisson { per_second } => *per_second,
        RateShape::Ramp { from, to, .. } => from.max(*to),
        RateShape::Steps { steps, .. } => steps.iter().map(|st| st.per_second).fold(0.0, f64::max),
        RateShape::Burst { .. } => mean_rate(s),
    }
}

fn arrivals(s: &Scenario, p: &mut Plan) {
    let pieces = match &s.producers.rate {
        RateShape::Constant { per_second } => format!("{} evenly spaced", rate(*per_second)),
        RateShape::Poisson { per_second } => format!("{} Poisson", rate(*per_second)),
        RateShape::Ramp { from, to, over, poisson } => {
            format!("{} rising to {} over {over}, then {}{}", rate(*from), rate(*to), rate(*to), poisson_tag(*poisson))
        }
        RateShape::Steps { steps, poisson } => {
            let mut t = 0.0;
            let mut parts = Vec::new();
            for (i, st) in steps.iter().enumerate() {
                let until = if i + 1 == steps.len() {
                    "on".to_string()
                } else {
                    format!("to {}", secs(t + st.hold.secs_f64()))
                };
                parts.push(format!("{} from {} {until}", rate(st.per_second), secs(t)));
                t += st.hold.secs_f64();
            }
            format!("{}{}", parts.join(", "), poisson_tag(*poisson))
        }
        RateShape::Burst { size, every } => format!("bursts of {size} every {every}"),
    };
    p.lines.push(format!("arrivals     {pieces}; {} producer(s)", s.producers.count));
    if let Some(window) = s.producers.produce_for {
        let expected = planned_by(&s.producers.rate, s.messages, window.secs_f64());
        p.lines.push(format!(
            "production   for {window} (`producers.for`): about {expected:.0} messages, at most {} (`messages`)",
            s.messages
        ));
        return;
    }
    let end = planned_end(&s.producers.rate, s.messages);
    let poisson = s.producers.rate.is_poisson();
    p.lines.push(match end {
        Some(end) => format!(
            "production   {} messages, the last {} {} (mean {})",
            s.messages,
            if poisson { "expected at about" } else { "at" },
            secs(end),
            rate(mean_rate(s))
        ),
        None => format!("production   {} messages, but the rate reaches zero first: not all are ever sent", s.messages),
    });
}

fn poisson_tag(poisson: bool) -> &'static str {
    if poisson {
        " (Poisson)"
    } else {
        " (evenly spaced)"
    }
}

/// Handler slots, prefetch and the capacities of the consumer pool and the downstream service.
fn capacity(s: &Scenario, p: &mut Plan) {
    let c = &s.consumers;
    let replicas_max = s.autoscale.as_ref().map_or(c.count, |a| a.max_replicas.max(c.count));
    let slots = c.count as u64 * c.concurrency as u64;
    let downstream_mean = s.downstream.as_ref().map_or(0.0, |d| d.service_time.mean_ns());
    let per_attempt = (c.service_time.mean_ns() + downstream_mean) / 1e9;
    let pool = if per_attempt > 0.0 { slots as f64 / per_attempt } else { f64::INFINITY };
    let mut line = format!(
        "consumers    {} x {} handler slots = {slots}, prefetch {} each ({} unacked at most){}",
        c.count,
        c.concurrency,
        c.prefetch,
        c.count as u64 * c.prefetch as u64,
        if replicas_max > c.count {
            format!(
                "; up to {} x {} = {} with the autoscaler",
                replicas_max,
                c.concurrency,
                replicas_max as u64 * c.concurrency as u64
            )
        } else {
            String::new()
        }
    );
    if pool.is_finite() {
        let _ = write!(line, "; about {} first attempts at {:.1} ms each", rate(pool), per_attempt * 1e3);
    }
    p.lines.push(line);
    let mut effective = pool;
    if let Some(d) = &s.downstream {
        let cap = d.capacity_per_s();
        effective = effective.min(cap);
        let timeout = d.timeout.map_or("no timeout".to_string(), |t| format!("timeout {t}"));
        let crash = d.crash.as_ref().map_or(String::new(), |cr| {
            format!("; crashes above {} in the system (restart {})", cr.when_in_system_above, cr.restart)
        });
        p.lines.push(format!(
            "downstream   {}: {} servers x {:.1} ms mean = {} capacity; {timeout}{crash}",
            d.name,
            d.servers,
            d.service_time.mean_ns() / 1e6,
            rate(cap)
        ));
    }
    let offered = mean_rate(s);
    if replicas_max > c.count && per_attempt > 0.0 {
        // The autoscaler can add replicas: what the largest pool serves, and how many replicas the load needs.
        let per_replica = c.concurrency as f64 / per_attempt;
        let largest = (per_replica * replicas_max as f64)
            .min(s.downstream.as_ref().map_or(f64::INFINITY, |d| d.capacity_per_s()));
        let peak = peak_rate(s);
        let needed = (peak / per_replica).ceil() as u64;
        p.lines.push(format!(
            "autoscale    the load needs about {needed} replica(s) of {} at its peak of {} ({} each); the largest pool serves {}",
            replicas_max,
            rate(peak),
            rate(per_replica),
            rate(largest)
        ));
        effective = largest;
    }
    if effective.is_finite() && effective > 0.0 {
        let rho = offered / effective;
        p.lines.push(format!(
            "utilisation  {:.0}% of the smaller capacity ({}) at the mean arrival rate, before retries",
            rho * 100.0,
            rate(effective)
        ));
        if rho >= 1.0 {
            p.warnings.push(format!(
                "the arrival rate ({}) is at or above capacity ({}) with no fault at all: the backlog grows by \
                 about {} for as long as production runs",
                rate(offered),
                rate(effective),
                rate(offered - effective)
            ));
        }
    }
}

fn faults(s: &Scenario, p: &mut Plan) {
    if s.faults.is_empty() {
        p.lines.push("faults       none".into());
        return;
    }
    for (i, f) in s.faults.iter().enumerate() {
        let end = f.end().map_or("never ends".to_string(), |e| format!("to {}", when(e)));
        let head = if i == 0 { "faults      " } else { "            " };
        p.lines.push(format!("{head} faults[{i}] {} at {} {end}", f.label(), when(f.at())));
    }
}

fn retries(s: &Scenario, p: &mut Plan) {
    let r = &s.retry;
    let backoff = Backoff::from_policy(&r.policy, r.jitter);
    let n = backoff.limit();
    if n == 0 {
        p.lines.push("retry        none in memory".into());
    } else {
        let shown: Vec<String> = (1..=n.min(8)).map(|k| jittered(backoff.delay(k), r.jitter, &r.policy)).collect();
        let more = if n > 8 { format!(", ... ({n} in all)") } else { String::new() };
        let total: u64 = (1..=n).map(|k| backoff.delay(k)).fold(0u64, u64::saturating_add);
        p.lines.push(format!(
            "retry        {n} in memory, jitter {}: {}{more}; {} of waiting before jitter, the message unacked",
            jitter_name(r.jitter),
            shown.join(", "),
            Dur(total)
        ));
    }
    let d = &s.redelivery;
    if d.intervals.is_empty() {
        p.lines.push("redelivery   none".into());
    } else {
        let shown: Vec<String> = d.intervals.iter().map(|i| jittered(i.ns(), d.jitter, &RetryPolicy::None)).collect();
        p.lines.push(format!("redelivery   {}, jitter {}", shown.join(", "), jitter_name(d.jitter)));
    }
    if let Some(b) = &r.budget {
        use crate::scenario::{BudgetRule, BudgetScope};
        let scope = if b.scope == BudgetScope::Service { "shared by all consumers" } else { "per consumer" };
        p.lines.push(match &b.rule {
            BudgetRule::Grpc { max_tokens, token_ratio } => format!(
                "budget       gRPC retry throttling {scope}: {max_tokens} tokens, a failure costs 1, a success adds \
                 {token_ratio}; no retry at or below {}",
                *max_tokens as f64 / 2.0
            ),
            BudgetRule::Ratio { ratio, window } => {
                format!("budget       retries at most {:.0}% of first attempts over {window}, {scope}", ratio * 100.0)
            }
        });
    }
    if let Some(t) = s.downstream.as_ref().and_then(|d| d.throttle.as_ref()) {
        p.lines.push(format!(
            "throttle     each consumer rejects locally with probability max(0, (requests - {} x accepts) / \
             (requests + 1)) over {}",
            t.k, t.window
        ));
    }
    let per_message = (n as u64 + 1).saturating_mul(d.intervals.len() as u64 + 1);
    p.lines.push(format!("attempts     at most {per_message} per message ({} x {})", n + 1, d.intervals.len() + 1));
}

fn jitter_name(j: Jitter) -> &'static str {
    match j {
        Jitter::None => "none",
        Jitter::Full => "full",
        Jitter::Equal => "equal",
        Jitter::Decorrelated => "decorrelated",
        Jitter::Proportional => "proportional",
    }
}

/// A delay with the range its jitter draws from.
fn jittered(d: u64, j: Jitter, policy: &RetryPolicy) -> String {
    let (lo, hi) = match j {
        Jitter::None => return Dur(d).to_string(),
        Jitter::Full => (0, d),
        Jitter::Equal => (d / 2, d),
        Jitter::Proportional => (d / 4 * 3, d.saturating_add(d / 4)),
        Jitter::Decorrelated => {
            let cap = match policy {
                RetryPolicy::Exponential { cap, .. } => cap.to_string(),
                _ => "cap".to_string(),
            };
            return format!("{}..min({cap}, 3 x previous)", Dur(d));
        }
    };
    format!("{}..{}", Dur(lo), Dur(hi))
}

/// Likely mistakes: a stop before production or the faults end, an autoscaler minimum below the initial pool, a
/// breaker that the arrival rate alone can never trip.
fn mistakes(s: &Scenario, p: &mut Plan) {
    if let Some(stop) = s.duration {
        let stop_s = stop.secs_f64();
        if let Some(end) = production_end(s) {
            if end > stop_s {
                let sent = planned_by(&s.producers.rate, s.messages, stop_s);
                let bound = match s.producers.produce_for {
                    Some(w) => format!("`producers.for` = {w}"),
                    None => format!("`messages` = {} at {}", s.messages, rate(mean_rate(s))),
                };
                p.warnings.push(format!(
                    "`duration` = {stop} stops the run before production ends at about {} ({bound}): only about \
                     {sent:.0} messages are sent. `duration` is a hard stop in scenario time, not a production \
                     window; to produce for a time use `producers.for`",
                    secs(end),
                ));
            }
        }
        for (i, f) in s.faults.iter().enumerate() {
            if f.at() >= stop {
                p.warnings.push(format!(
                    "faults[{i}] ({}) starts at {}, at or after the `duration` stop at {}: the run ends first, so \
                     it never happens",
                    f.label(),
                    when(f.at()),
                    when(stop)
                ));
            } else if f.end().is_some_and(|e| e > stop) {
                p.warnings.push(format!(
                    "faults[{i}] ({}) is cut by the `duration` stop at {stop} before it ends: recovery cannot be seen",
                    f.label()
                ));
            }
        }
    }
    if let Some(a) = &s.autoscale {
        if a.min_replicas < s.consumers.count {
            p.warnings.push(format!(
                "autoscale.min_replicas = {} is below consumers.count = {} (the initial pool): the autoscaler may \
                 scale in to {} after scale_down_stabilization = {}",
                a.min_replicas, s.consumers.count, a.min_replicas, a.scale_down_stabilization
            ));
        }
    }
    if let Some(b) = &s.circuit_breaker {
        let (breakers, whose) = match b.scope {
            crate::scenario::BudgetScope::Consumer => (s.consumers.count.max(1), "each consumer's breaker"),
            crate::scenario::BudgetScope::Service => (1, "the service's breaker"),
        };
        let per_breaker = mean_rate(s) / breakers as f64 * b.sampling.secs_f64();
        if per_breaker < b.minimum_throughput as f64 {
            p.warnings.push(format!(
                "{whose} sees about {per_breaker:.0} first attempts per sampling window ({}) at the mean arrival \
                 rate, below minimum_throughput = {}: only retries can make it trip",
                b.sampling, b.minimum_throughput
            ));
        }
    }
    if s.queue.max_length.is_none() && s.queue.overflow != crate::scenario::Overflow::DropHead {
        let name = if s.queue.overflow == crate::scenario::Overflow::Block { "block" } else { "reject-publish" };
        p.warnings.push(format!(
            "queue.overflow = \"{name}\" acts only on a full queue, and without queue.max_length the queue is never \
             full: set queue.max_length"
        ));
    }
    if s.faults
        .iter()
        .any(|f| matches!(f, Fault::Outage { .. } | Fault::ErrorSpike { .. } | Fault::LatencySpike { .. }))
        && s.downstream.is_none()
    {
        p.warnings.push("a downstream fault with no [downstream]: it has nothing to act on".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(text: &str) -> Plan {
        plan(&crate::scenario::load_str(text, "test.toml", &[]).unwrap())
    }

    #[test]
    fn subscriptions_are_planned_one_by_one_under_one_arrival_plan() {
        let p = plan_of(
            "messages = 100\n[producers]\nrate = \"50/s\"\n[[subscriptions]]\nname = \"fast\"\n[[subscriptions]]\n\
             name = \"slow\"\n[subscriptions.consumers]\nservice_time = \"100ms\"\n",
        );
        assert_eq!(p.lines.iter().filter(|l| l.starts_with("arrivals")).count(), 1, "{:?}", p.lines);
        let at = |head: &str| p.lines.iter().position(|l| l == head).unwrap_or_else(|| panic!("{head}: {:?}", p.lines));
        assert!(at("subscription fast (queue loadtest.fast)") < at("subscription slow (queue loadtest.slow)"));
        assert!(p.lines.iter().any(|l| l.starts_with("  consumers    1 x 1 handler slots")), "{:?}", p.lines);
        // Only the slow one (10/s for 50/s) is warned of, and by name.
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(
            p.warnings[0].starts_with("subscription slow: the arrival rate (50.51/s) is at or above capacity (10/s)")
        );
    }

    #[test]
    fn the_retry_storm_plan_has_its_figures() {
        let p = plan_of(&std::fs::read_to_string("scenarios/retry-storm.toml").unwrap());
        let all = p.lines.join("\n");
        assert!(all.contains("33.30/s Poisson; 1 producer(s)"), "{all}");
        assert!(all.contains("10000 messages, the last expected at about 5m (mean 33.30/s)"), "{all}");
        assert!(all.contains("payment-service: 10 servers x 100.0 ms mean = 100/s capacity; timeout 2s"), "{all}");
        assert!(all.contains("retry        5 in memory, jitter none: 1s, 2s, 4s, 8s, 16s; 31s of waiting"), "{all}");
        assert!(all.contains("redelivery   1m, 5m, 30m, jitter none"), "{all}");
        assert!(all.contains("at most 24 per message (6 x 4)"), "{all}");
        assert!(all.contains("faults[0] outage at 30s to 5m30s"), "{all}");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn an_overflow_without_a_max_length_is_warned() {
        let base = std::fs::read_to_string("scenarios/steady-state.toml").unwrap();
        for (overflow, warned) in [("block", true), ("reject-publish", true), ("drop-head", false)] {
            let text = base.replace("[queue]", &format!("[queue]\noverflow = \"{overflow}\""));
            let p = plan_of(&text);
            let hit = p.warnings.iter().any(|w| w.contains("without queue.max_length the queue is never full"));
            assert_eq!(hit, warned, "{overflow}: {:?}", p.warnings);
            let bounded = plan_of(&text.replace("[queue]", "[queue]\nmax_length = 10"));
            assert!(!bounded.warnings.iter().any(|w| w.contains("max_length")), "{:?}", bounded.warnings);
        }
    }

    #[test]
    fn a_stop_before_production_or_a_fault_ends_is_warned_with_both_keys() {
        let base = std::fs::read_to_string("scenarios/retry-storm.toml").unwrap();
        let text = base.replace("messages = 10_000", "messages = 10_000\nduration = \"50s\"");
        let p = plan_of(&text);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("`duration` = 50s stops the run before production ends"), "{:?}", p.warnings);
        assert!(p.warnings[0].contains("`messages` = 10000"), "{:?}", p.warnings);
        assert!(p.warnings[0].contains("only about 1665 messages are sent"), "{:?}", p.warnings);
        assert!(p.warnings[1].contains("faults[0] (outage) is cut by the `duration` stop"), "{:?}", p.warnings);
    }

    #[test]
    fn jitter_ranges_and_a_breaker_that_cannot_trip() {
        let base = std::fs::read_to_string("scenarios/retry-storm.toml").unwrap();
        let text = base.replace("jitter = \"none\"", "jitter = \"full\"")
            + "\n[circuit_breaker]\nminimum_throughput = 100000\n";
        let p = plan_of(&text);
        let all = p.lines.join("\n");
        assert!(all.contains("jitter full: 0s..1s, 0s..2s, 0s..4s, 0s..8s, 0s..16s"), "{all}");
        let budget =
            base.replace("ignore = [\"validation\"]", "ignore = [\"validation\"]\nbudget = { kind = \"grpc\" }");
        let all = plan_of(&budget).lines.join("\n");
        assert!(all.contains("budget       gRPC retry throttling per consumer: 10 tokens, a failure costs 1, a success adds 0.1; no retry at or below 5"), "{all}");
        assert!(p.warnings.iter().any(|w| w.contains("below minimum_throughput = 100000")), "{:?}", p.warnings);
        // one breaker for the service sees every consumer's attempts
        let shared = plan_of(&(text + "scope = \"service\"\n"));
        assert!(
            shared.warnings.iter().any(|w| w.starts_with("the service's breaker sees about")),
            "{:?}",
            shared.warnings
        );
    }
}
