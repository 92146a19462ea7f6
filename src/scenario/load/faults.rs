//! The `[[faults]]` array: each fault's kind and keys, the ranges they must lie in, and what each kind needs (a
//! downstream to act on, a real broker to reach).

use super::super::node::Node;
use super::super::reader::{Errs, TableReader};
use super::super::*;
use super::error_rates;

const KINDS: [&str; 9] = [
    "outage",
    "error-spike",
    "latency-spike",
    "consumer-crash",
    "network",
    "connection-kill",
    "memory-alarm",
    "broker-restart",
    "queue-delete",
];

/// The longest a toxic's own delay may be (a latency, a slow close, a reset's timeout): an hour.
const MAX_TOXIC_DELAY: Dur = Dur(3_600_000_000_000);

/// `[[faults]]` in file order. `consumers` is consumers.count when that is valid; `real`: a real broker runs.
pub(super) fn faults(
    errs: &Errs,
    node: &Node,
    path: &str,
    consumers: Option<u32>,
    downstream: bool,
    real: bool,
) -> Option<Vec<Fault>> {
    let mut out = Vec::new();
    for (i, item) in errs.array(node, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let expected = "a table like { kind = \"outage\", at = \"1m\", duration = \"30s\" }";
        let Some(mut t) = errs.table(item, &p, expected) else {
            continue;
        };
        let Some(kind) = t.tag("kind", &KINDS) else {
            // Which other keys are valid depends on the kind; the ones every kind reads are still checked.
            t.require("at", "\"1m\"");
            t.dur("at");
            t.dur_pos("duration");
            continue;
        };
        t.require("at", "\"1m\"");
        let at = t.dur("at").unwrap_or_default();
        let window = |t: &mut TableReader| {
            t.require("duration", "\"30s\"");
            t.dur_pos("duration").unwrap_or(Dur(1))
        };
        let fault = match kind {
            "outage" => {
                let duration = window(&mut t);
                let modes = [OutageMode::Refuse, OutageMode::Hang, OutageMode::Stall];
                let chosen = t.choice("mode", &modes);
                let max = crate::scenario::limits::MAX_REFUSE_AFTER;
                let refuse_after =
                    t.dur("refuse_after").filter(|d| t.check("refuse_after", *d <= max, "must be at most 1h"));
                let other = chosen.filter(|m| *m != OutageMode::Refuse);
                if let (true, Some(m)) = (t.has("refuse_after"), other) {
                    let name = if m == OutageMode::Hang { "hang" } else { "stall" };
                    let m = format!(
                        "{p}.refuse_after delays refused calls, and mode = \"{name}\" refuses none; remove \
                         refuse_after or set mode = \"refuse\""
                    );
                    t.error("refuse_after", m);
                }
                let mode = chosen.unwrap_or(OutageMode::Refuse);
                Fault::Outage { at, duration, mode, refuse_after: refuse_after.unwrap_or(Dur::ZERO) }
            }
            "error-spike" => {
                let duration = window(&mut t);
                let ErrorRates { transient, timeout, validation } = error_rates(&mut t);
                Fault::ErrorSpike { at, duration, transient, timeout, validation }
            }
            "latency-spike" => {
                let duration = window(&mut t);
                t.require("factor", "10");
                let (lo, hi) = crate::scenario::limits::FACTOR;
                let range = format!(
                    "must lie within [{lo:e}, {hi:e}]: beyond it the service time under the spike \
                                     underflows to 0 or overflows"
                );
                let factor = t.f64_where("factor", |v| (lo..=hi).contains(&v), &range).unwrap_or(1.0);
                Fault::LatencySpike { at, duration, factor }
            }
            "consumer-crash" => {
                let consumer = t.u32("consumer", 0);
                if let (Some(c), Some(n)) = (consumer, consumers.filter(|n| consumer >= Some(*n))) {
                    let valid = format!("numbered from 0, use 0..={}", n.saturating_sub(1));
                    let m = format!(
                        "{p}.consumer = {c} is out of range: there are {n} consumers (consumers.count), {valid}"
                    );
                    t.error("consumer", m);
                }
                Fault::ConsumerCrash { at, consumer, restart: t.dur_pos("restart") }
            }
            "network" => {
                let duration = window(&mut t);
                let Some(toxic) = toxic(&mut t) else {
                    continue;
                };
                let stream = t.choice("stream", &[Stream::Downstream, Stream::Upstream, Stream::Both]);
                let toxicity = t.fraction("toxicity").unwrap_or(1.0);
                Fault::Network { at, duration, toxic, stream: stream.unwrap_or(Stream::Downstream), toxicity }
            }
            "connection-kill" => Fault::ConnectionKill { at },
            "memory-alarm" => Fault::MemoryAlarm { at, duration: window(&mut t) },
            "broker-restart" => Fault::BrokerRestart { at, duration: window(&mut t) },
            _ => Fault::QueueDelete { at },
        };
        let needs = if fault.is_engine() {
            (!downstream && kind != "consumer-crash").then(|| {
                let what = match kind {
                    "outage" => "an outage",
                    "error-spike" => "an error spike",
                    _ => "a latency spike",
                };
                format!("{p}: {what} needs a [downstream] table to act on; add a [downstream] table")
            })
        } else {
            (!real).then(|| {
                let what = if kind == "network" { "the network to a real broker" } else { "a real broker" };
                format!(
                    "{p}: kind = \"{kind}\" acts on {what}, and the embedded broker has none; set broker.kind = \
                     \"rabbitmq\" (and broker.url)"
                )
            })
        };
        if let Some(m) = needs {
            errs.at(&p, t.peek("kind"), Some(item), m);
        }
        t.finish();
        out.push(fault);
    }
    Some(out)
}

/// A toxic's `toxic` key and its parameters (Toxiproxy's names and defaults).
fn toxic(t: &mut TableReader) -> Option<Toxic> {
    let name = t.tag("toxic", &Toxic::NAMES)?;
    let delay = |t: &mut TableReader, key: &'static str, default: Option<Dur>| {
        if default.is_none() {
            t.require(key, "\"50ms\"");
        }
        let d = t.dur(key).or(default).unwrap_or_default();
        let ok = d <= MAX_TOXIC_DELAY;
        if t.check(key, ok, "must be at most 1h") {
            d
        } else {
            Dur::default()
        }
    };
    let toxic = match name {
        "latency" => {
            let latency = delay(t, "latency", None);
            Toxic::Latency { latency, jitter: delay(t, "jitter", Some(Dur(0))) }
        }
        "bandwidth" => {
            t.require("rate", "100");
            Toxic::Bandwidth { rate: t.u64("rate", 1).unwrap_or(1) }
        }
        "slow-close" => Toxic::SlowClose { delay: delay(t, "delay", None) },
        "timeout" => Toxic::Timeout { timeout: delay(t, "timeout", Some(Dur(0))) },
        "reset-peer" => Toxic::ResetPeer { timeout: delay(t, "timeout", Some(Dur(0))) },
        "slicer" => {
            t.require("average_size", "64");
            let average_size = t.u64("average_size", 1).unwrap_or(1);
            let size_variation = t.u64("size_variation", 0).unwrap_or(0);
            if size_variation >= average_size {
                let m = format!(
                    "{}: size_variation ({size_variation}) must be below average_size ({average_size}) so that every \
                     piece has at least one byte",
                    t.child("size_variation")
                );
                t.error("size_variation", m);
            }
            Toxic::Slicer { average_size, size_variation, delay: delay(t, "delay", Some(Dur(0))) }
        }
        "limit-data" => {
            t.require("bytes", "4096");
            Toxic::LimitData { bytes: t.u64("bytes", 1).unwrap_or(1) }
        }
        _ => {
            t.require("probability", "0.05");
            let probability = t.fraction("probability").unwrap_or(0.0);
            Toxic::PacketLoss { probability, rto: delay(t, "rto", Some(Dur::from_millis(200))) }
        }
    };
    Some(toxic)
}

#[cfg(test)]
mod tests {
    use super::super::super::*;

    const RABBIT: &str = "[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://127.0.0.1\"\n";

    fn load(text: &str) -> Result<Scenario, ScenarioErrors> {
        load_str(text, "<string>", &[])
    }
    fn problems(text: &str) -> String {
        match load(text) {
            Ok(s) => panic!("expected errors, loaded {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_network_and_broker_fault_loads_and_its_resolved_toml_loads_back() {
        let text = format!(
            "{RABBIT}[[faults]]\nkind = \"network\"\ntoxic = \"latency\"\nat = \"10s\"\nduration = \"5s\"\n\
             latency = \"50ms\"\njitter = \"5ms\"\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"bandwidth\"\nat = \"1s\"\nduration = \"1s\"\nrate = 100\n\
             stream = \"both\"\ntoxicity = 0.5\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"slow-close\"\nat = \"1s\"\nduration = \"1s\"\ndelay = \"1s\"\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"timeout\"\nat = \"1s\"\nduration = \"1s\"\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"reset-peer\"\nat = \"1s\"\nduration = \"1s\"\n\
             timeout = \"100ms\"\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"slicer\"\nat = \"1s\"\nduration = \"1s\"\naverage_size = 64\n\
             size_variation = 32\ndelay = \"1ms\"\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"limit-data\"\nat = \"1s\"\nduration = \"1s\"\nbytes = 4096\n\
             [[faults]]\nkind = \"network\"\ntoxic = \"packet-loss\"\nat = \"1s\"\nduration = \"1s\"\n\
             probability = 0.05\n\
             [[faults]]\nkind = \"connection-kill\"\nat = \"3s\"\n\
             [[faults]]\nkind = \"memory-alarm\"\nat = \"3s\"\nduration = \"10s\"\n\
             [[faults]]\nkind = \"broker-restart\"\nat = \"3s\"\nduration = \"2s\"\n\
             [[faults]]\nkind = \"queue-delete\"\nat = \"30s\"\n"
        );
        let s = load(&text).expect("loads");
        assert_eq!(s.faults.len(), 12);
        assert_eq!(
            s.faults[0],
            Fault::Network {
                at: Dur::from_secs(10),
                duration: Dur::from_secs(5),
                toxic: Toxic::Latency { latency: Dur::from_millis(50), jitter: Dur::from_millis(5) },
                stream: Stream::Downstream,
                toxicity: 1.0,
            }
        );
        assert_eq!(s.faults[7], {
            let toxic = Toxic::PacketLoss { probability: 0.05, rto: Dur::from_millis(200) };
            Fault::Network {
                at: Dur::from_secs(1),
                duration: Dur::from_secs(1),
                toxic,
                stream: Stream::Downstream,
                toxicity: 1.0,
            }
        });
        assert!(s.uses_proxy());
        let kinds: Vec<_> = s.command_faults().map(Fault::kind_str).collect();
        assert_eq!(kinds, ["connection-kill", "memory-alarm", "broker-restart", "queue-delete"]);
        let toml = s.to_toml();
        assert!(toml.contains("toxic = \"slow-close\""), "{toml}");
        assert_eq!(load(&toml).expect("the resolved scenario loads back"), s);
    }

    #[test]
    fn network_and_broker_faults_need_a_real_broker_and_sound_parameters() {
        let p = problems("[[faults]]\nkind = \"network\"\ntoxic = \"latency\"\nat = \"1s\"\nduration = \"1s\"\n");
        assert!(p.contains("faults[0]") && p.contains("set broker.kind = \"rabbitmq\""), "{p}");
        assert!(p.contains("latency") && p.contains("missing"), "a latency toxic needs its latency: {p}");
        let p = problems("[[faults]]\nkind = \"memory-alarm\"\nat = \"1s\"\nduration = \"1s\"\n");
        assert!(p.contains("acts on a real broker"), "{p}");
        let p = problems(&format!(
            "{RABBIT}[[faults]]\nkind = \"network\"\ntoxic = \"slicer\"\nat = \"1s\"\nduration = \"1s\"\n\
             average_size = 8\nsize_variation = 8\n[[faults]]\nkind = \"network\"\ntoxic = \"jam\"\nat = \"1s\"\n\
             duration = \"1s\"\n[[faults]]\nkind = \"network\"\ntoxic = \"latency\"\nat = \"1s\"\nduration = \"1s\"\n\
             latency = \"2h\"\ntoxicity = 1.5\n"
        ));
        assert!(p.contains("faults[0].size_variation") && p.contains("below average_size"), "{p}");
        assert!(p.contains("faults[1].toxic"), "{p}");
        assert!(p.contains("faults[2].latency") && p.contains("at most 1h"), "{p}");
        assert!(p.contains("faults[2].toxicity"), "{p}");
        let p = problems(
            "[broker]\nkind = \"rabbitmq\"\nurl = \"amqps://h\"\n[[faults]]\nkind = \"network\"\ntoxic = \"timeout\"\n\
             at = \"1s\"\nduration = \"1s\"\n",
        );
        assert!(p.contains("line 3") && p.contains("plain AMQP only"), "{p}");
        let p = problems("[broker]\nvia_proxy = true\n");
        assert!(p.contains("broker.via_proxy"), "{p}");
    }

    #[test]
    fn outages_stall_or_refuse_after_a_delay_and_refuse_after_only_goes_with_refuse() {
        let text = "[downstream]\n[[faults]]\nkind = \"outage\"\nat = \"1s\"\nduration = \"5s\"\nmode = \"stall\"\n\
                    [[faults]]\nkind = \"outage\"\nat = \"9s\"\nduration = \"5s\"\nrefuse_after = \"3s\"\n";
        let s = load(text).expect("loads");
        let (sec, zero) = (Dur::from_secs, Dur::ZERO);
        assert_eq!(
            s.faults,
            [
                Fault::Outage { at: sec(1), duration: sec(5), mode: OutageMode::Stall, refuse_after: zero },
                Fault::Outage { at: sec(9), duration: sec(5), mode: OutageMode::Refuse, refuse_after: sec(3) },
            ]
        );
        let toml = s.to_toml();
        assert!(toml.contains("mode = \"stall\"\n\n") && toml.contains("refuse_after = \"3s\""), "{toml}");
        assert_eq!(toml.matches("refuse_after").count(), 1, "at its default (at once) it is not written: {toml}");
        assert_eq!(load(&toml).expect("the resolved scenario loads back"), s);
        let p = problems(
            "[downstream]\ntimeout = \"1s\"\n[[faults]]\nkind = \"outage\"\nat = \"1s\"\nduration = \"5s\"\n\
             mode = \"hang\"\nrefuse_after = \"3s\"\n[[faults]]\nkind = \"outage\"\nat = \"1s\"\nduration = \"5s\"\n\
             refuse_after = \"2h\"\n",
        );
        assert_eq!(
            p,
            "error: <string> has 2 problems:\n  line 8: faults[0].refuse_after delays refused calls, and mode = \
             \"hang\" refuses none; remove refuse_after or set mode = \"refuse\"\n  line 13: \
             `faults[1].refuse_after = \"2h\"`: must be at most 1h, got \"2h\""
        );
    }
}
