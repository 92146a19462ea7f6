//! Tests of the scenario loader: defaults, every kind of error with its line, --set, and the round trip.
use super::*;

const FULL: &str = r#"name = "full"
description = "every table"
seed = 42
messages = 5000
duration = "30m"

[broker]
kind = "embedded"
clock = "virtual"
time_scale = 10

[queue]
name = "orders.in"
max_delivery_count = 5
message_ttl = "1h"
max_length = 10000
overflow = "reject-publish"

[producers]
count = 2
rate = { shape = "steps", steps = [{ per_second = 50, for = "1m" }, { per_second = 200, for = "5m" }], poisson = true }
size = { min_bytes = 256, max_bytes = 4096 }
poison_fraction = 0.01

[consumers]
count = 2
concurrency = 8
prefetch = 16
service_time = { dist = "lognormal", median = "5ms", p99 = "50ms" }
on_failure = "requeue"

[downstream]
name = "payments"
servers = 4
service_time = { dist = "exponential", mean = "20ms" }
timeout = "2s"
on_timeout = "cancel"
queue_limit = 100
errors = { transient = 0.05, timeout = 0.01, validation = 0.001 }
crash = { when_in_system_above = 200, after = "10s", restart = "1m" }
throttle = { k = 1.5, window = "1m" }

[retry]
policy = { kind = "exponential", limit = 5, base = "200ms", cap = "10s" }
jitter = "full"
handle = ["transient", "timeout"]
ignore = ["validation"]
budget = { kind = "ratio", ratio = 0.2, window = "30s", scope = "service" }

[redelivery]
intervals = ["1m", "5m", "15m"]
jitter = "proportional"

[circuit_breaker]
failure_ratio = 0.5
minimum_throughput = 20
sampling = "10s"
break = "30s"

[autoscale]
min_replicas = 1
max_replicas = 8
messages_per_replica = 50
polling_interval = "15s"
cooldown = "5m"
scale_down_stabilization = "2m"
startup_delay = "10s"
count_unacked = true

[report]
episode_gap = "5s"

[[faults]]
kind = "outage"
at = "5m"
duration = "2m"
mode = "hang"

[[faults]]
kind = "error-spike"
at = "10m"
duration = "1m"
transient = 0.5

[[faults]]
kind = "latency-spike"
at = "12m"
duration = "30s"
factor = 10

[[faults]]
kind = "consumer-crash"
at = "15m"
consumer = 1
restart = "30s"

[thresholds]
"latency_ms.p99" = "< 2000"
"latency_ms.p99[10s]" = ["< 5000", "> 0"]
messages.dead_lettered = "== 0"
"#;

fn ms(v: u64) -> Dur {
    Dur::from_millis(v)
}
fn secs(v: u64) -> Dur {
    Dur::from_secs(v)
}

pub(super) fn load(text: &str, sets: &[&str]) -> Result<Scenario, ScenarioErrors> {
    load_str(text, "<string>", &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// The problems of a load that must fail, as displayed (one line each).
pub(super) fn problems(text: &str, sets: &[&str]) -> Vec<String> {
    match load(text, sets) {
        Ok(s) => panic!("expected errors, loaded {s:?}"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

/// Every default, as the schema documents them.
#[rustfmt::skip] // a table of values reads best one section per line
fn defaults() -> Scenario {
    Scenario {
        name: "scenario".into(), description: String::new(), seed: None, messages: 10_000, duration: None,
        broker: BrokerCfg {
            kind: BrokerKind::Embedded, semantics: Semantics::Rabbitmq, clock: ClockKind::Virtual, time_scale: 1.0, url: None, tls: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT, drain_timeout: DEFAULT_DRAIN_TIMEOUT, via_proxy: false,
            confirm_latency: Dur::default(),
        },
        queue: QueueCfg {
            name: "loadtest".into(), max_delivery_count: None, message_ttl: None, max_length: None,
            overflow: Overflow::DropHead, queue_type: QueueType::Classic, reuse: false, lock_duration: None,
            max_auto_lock_renewal: None, dead_lettering_on_message_expiration: false,
        },
        producers: ProducerCfg {
            count: 1, rate: RateShape::Constant { per_second: 100.0 }, size: SizeDist::Fixed { bytes: 512 },
            poison_fraction: 0.0, persistent: true, confirm_window: DEFAULT_CONFIRM_WINDOW, produce_for: None,
            keys: None, key_distribution: KeyDistribution::Uniform,
        },
        consumers: ConsumerCfg {
            count: 1, concurrency: 1, prefetch: 1, service_time: Dist::fixed(ms(1)), on_failure: OnFailure::ErrorQueue,
            ordering: KeyOrdering::Competing,
        },
        downstream: None,
        retry: RetryCfg { policy: RetryPolicy::None, jitter: Jitter::None, filter: KindFilter::default(), budget: None },
        redelivery: RedeliveryCfg { intervals: vec![], jitter: Jitter::None },
        circuit_breaker: None,
        kill_switch: None,
        autoscale: None,
        limits: Default::default(),
        report: ReportCfg { episode_gap: secs(10) },
        faults: vec![],
        thresholds: Thresholds::default(),
        subscriptions: Vec::new(),
    }
}

/// What `FULL` must load to.
#[rustfmt::skip]
fn full_expected() -> Scenario {
    use FailureKind::*;
    let pairs = [
        ("latency_ms.p99", "< 2000"),
        ("latency_ms.p99[10s]", "< 5000"),
        ("latency_ms.p99[10s]", "> 0"),
        ("messages.dead_lettered", "== 0"),
    ];
    Scenario {
        name: "full".into(), description: "every table".into(), seed: Some(42), messages: 5000,
        duration: Some(secs(1800)),
        broker: BrokerCfg { time_scale: 10.0, ..defaults().broker },
        queue: QueueCfg {
            name: "orders.in".into(), max_delivery_count: Some(5), message_ttl: Some(secs(3600)),
            max_length: Some(10_000), overflow: Overflow::RejectPublish, ..defaults().queue
        },
        producers: ProducerCfg {
            count: 2,
            rate: RateShape::Steps {
                steps: vec![Step { per_second: 50.0, hold: secs(60) }, Step { per_second: 200.0, hold: secs(300) }],
                poisson: true,
            },
            size: SizeDist::Uniform { min_bytes: 256, max_bytes: 4096 },
            poison_fraction: 0.01, ..defaults().producers
        },
        consumers: ConsumerCfg {
            count: 2, concurrency: 8, prefetch: 16, service_time: Dist::Lognormal { median: ms(5), p99: ms(50) },
            on_failure: OnFailure::Requeue, ordering: KeyOrdering::Competing,
        },
        downstream: Some(DownstreamCfg {
            name: "payments".into(), servers: 4, service_time: Dist::Exponential { mean: ms(20) },
            timeout: Some(secs(2)), on_timeout: OnTimeout::Cancel, queue_limit: Some(100),
            errors: ErrorRates { transient: 0.05, timeout: 0.01, validation: 0.001 },
            crash: Some(CrashCfg { when_in_system_above: 200, after: secs(10), restart: secs(60) }),
            throttle: Some(ThrottleCfg { k: 1.5, window: secs(60) }),
        }),
        retry: RetryCfg {
            policy: RetryPolicy::Exponential { limit: 5, base: ms(200), cap: secs(10) },
            jitter: Jitter::Full,
            filter: KindFilter { handle: vec![Transient, Timeout], ignore: vec![Validation] },
            budget: Some(BudgetCfg { rule: BudgetRule::Ratio { ratio: 0.2, window: secs(30) }, scope: BudgetScope::Service }),
        },
        redelivery: RedeliveryCfg { intervals: vec![secs(60), secs(300), secs(900)], jitter: Jitter::Proportional },
        circuit_breaker: Some(BreakerCfg {
            failure_ratio: 0.5, minimum_throughput: 20, sampling: secs(10), break_for: secs(30),
            scope: BudgetScope::Consumer,
        }),
        kill_switch: None,
        autoscale: Some(AutoscaleCfg {
            min_replicas: 1, max_replicas: 8, messages_per_replica: 50, polling_interval: secs(15),
            cooldown: secs(300), scale_down_stabilization: secs(120), startup_delay: secs(10), count_unacked: true,
        }),
        limits: Default::default(),
        report: ReportCfg { episode_gap: secs(5) },
        faults: vec![
            Fault::Outage { at: secs(300), duration: secs(120), mode: OutageMode::Hang, refuse_after: Dur::ZERO },
            Fault::ErrorSpike { at: secs(600), duration: secs(60), transient: 0.5, timeout: 0.0, validation: 0.0 },
            Fault::LatencySpike { at: secs(720), duration: secs(30), factor: 10.0 },
            Fault::ConsumerCrash { at: secs(900), consumer: Some(1), restart: Some(secs(30)) },
        ],
        thresholds: Thresholds(pairs.iter().map(|(k, v)| crate::gate::threshold::parse(k, v).unwrap()).collect()),
        subscriptions: Vec::new(),
    }
}

#[test]
fn minimal_file_gets_every_default() {
    let want = Scenario { messages: 100, ..defaults() };
    assert_eq!(load("messages = 100", &[]).expect("loads"), want);
    // The optional tables, present but empty.
    let s = load("[downstream]\n[circuit_breaker]\n[autoscale]\n", &[]).expect("loads");
    let d = s.downstream.expect("downstream");
    assert_eq!((d.name.as_str(), d.servers, d.service_time), ("downstream", 1, Dist::fixed(ms(10))));
    assert_eq!((d.timeout, d.on_timeout, d.queue_limit), (None, OnTimeout::KeepWorking, None));
    assert_eq!((d.errors, d.crash), (ErrorRates::default(), None));
    let b = s.circuit_breaker.expect("breaker");
    assert_eq!((b.failure_ratio, b.minimum_throughput, b.sampling, b.break_for), (0.1, 100, secs(30), secs(5)));
    let a = s.autoscale.expect("autoscale");
    let counts = (a.min_replicas, a.max_replicas, a.messages_per_replica, a.count_unacked);
    assert_eq!(counts, (1, 10, 100, false));
    let times = [a.polling_interval, a.cooldown, a.scale_down_stabilization, a.startup_delay];
    assert_eq!(times, [secs(30), secs(300), secs(300), secs(20)]);
}

#[test]
fn full_file_loads_every_table() {
    assert_eq!(load(FULL, &[]).expect("loads"), full_expected());
}

#[test]
fn resolved_toml_loads_back_to_the_same_scenario() {
    let variants: &[&[&str]] = &[
        &[],
        &["producers.rate={ shape = \"ramp\", from = 0, to = 500, over = \"5m\" }", "producers.size=512"],
        &["producers.rate={ shape = \"burst\", size = 100, every = \"1m\" }", "retry.policy=none"],
        &["producers.rate={ shape = \"poisson\", per_second = 2.5 }", "consumers.service_time=\"1.5s\""],
        &["retry.policy={ kind = \"immediate\", limit = 3 }", "broker.url=\"amqp://localhost:5672\""],
        &["retry.policy={ kind = \"intervals\", intervals = [\"1s\", \"250ms\"] }"],
        &["retry.policy={ kind = \"incremental\", limit = 2, initial = \"1s\", step = \"0s\" }"],
        &["consumers.service_time={ dist = \"uniform\", min = \"1ms\", max = \"1h30m\" }", "seed=0"],
    ];
    for sets in variants {
        let s = load(FULL, sets).expect("loads");
        let text = s.to_toml();
        assert_eq!(load(&text, &[]).map_err(|e| e.to_string()), Ok(s.clone()), "{sets:?}:\n{text}");
    }
    let minimal = load("", &[]).expect("loads");
    assert_eq!(load(&minimal.to_toml(), &[]).expect("loads back"), minimal);
}

#[test]
fn unknown_keys_suggest_the_closest_valid_key() {
    let text = "messages = 5\n[consumer]\ncount = 2\n[consumers]\nconcurency = 4\n[queue]\nzzz = 1\n";
    assert_eq!(
        problems(text, &[]),
        [
            "line 2: unknown key `consumer` in the top level; did you mean `consumers`?",
            "line 5: unknown key `concurency` in [consumers]; did you mean `concurrency`?",
            "line 7: unknown key `zzz` in [queue]; valid keys: name, max_delivery_count, message_ttl, max_length, \
             overflow, type, reuse, lock_duration, max_auto_lock_renewal, dead_lettering_on_message_expiration",
        ]
    );
    let text = "[producers]\nrate = { shape = \"constant\", per_second = 5, over = \"1m\" }\n";
    assert_eq!(
        problems(text, &[]),
        ["line 2: unknown key `over` in producers.rate (shape = \"constant\"); valid keys: shape, per_second"]
    );
}

#[test]
fn wrong_types_bad_choices_and_ranges_all_reported_with_lines() {
    let text = "messages = \"many\"\nduration = 30\n[retry]\njitter = \"ful\"\n[consumers]\ncount = -3\n";
    assert_eq!(
        problems(text, &[]),
        [
            "line 1: `messages = \"many\"`: expected an integer, got \"many\"",
            "line 2: `duration = 30`: expected a duration string like \"30s\", got 30",
            "line 4: `retry.jitter = \"ful\"`: expected one of \"none\", \"full\", \"equal\", \"decorrelated\", \
             \"proportional\"",
            "line 6: `consumers.count = -3`: must not be negative, got -3",
        ]
    );
}

#[test]
fn four_different_problems_with_their_lines() {
    let text = r#"name = "four"
consumer = 3
[consumers]
concurrency = 16
prefetch = 8

[retry]
policy = { kind = "exponential", limit = 0, base = "1s" }

[[faults]]
kind = "outage"
at = "1m"
duration = "30s"
"#;
    let err = load(text, &[]).expect_err("fails");
    let lines: Vec<(Option<usize>, &str)> = err.errors.iter().map(|e| (e.line, e.path.as_str())).collect();
    assert_eq!(
        lines,
        [
            (Some(2), "consumer"),
            (Some(5), "consumers.prefetch"),
            (Some(8), "retry.policy.limit"),
            (Some(11), "faults[0]")
        ]
    );
    assert_eq!(
        err.errors[1].message,
        "prefetch (8) is below concurrency (16): a consumer cannot work on more messages than it holds; raise \
         prefetch to at least 16"
    );
    assert_eq!(err.errors[2].message, "`retry.policy.limit = 0`: must be at least 1, got 0");
    let outage = "faults[0]: an outage needs a [downstream] table to act on; add a [downstream] table";
    assert_eq!(err.errors[3].message, outage);
}

#[test]
fn negative_rate_in_the_file_and_from_set() {
    let text = "[producers]\nrate = { shape = \"constant\", per_second = -5 }\n";
    let want = "line 2: `producers.rate.per_second = -5`: must be greater than 0, got -5";
    assert_eq!(problems(text, &[]), [want]);
    let text = "[producers]\nrate = { shape = \"constant\", per_second = 10 }\n";
    let err = load(text, &["producers.rate.per_second=-5"]).expect_err("fails");
    assert_eq!(
        err.to_string(),
        "error: <string> has 1 problem:\n  --set producers.rate.per_second: must be greater than 0, got -5"
    );
    let e = &err.errors[0];
    assert_eq!((e.path.as_str(), e.line, e.from_set), ("producers.rate.per_second", None, true));
}

#[test]
fn cross_field_rules() {
    let text = "[downstream]\nerrors = { transient = 0.1, timeout = 0.2 }\n";
    assert_eq!(
        problems(text, &[]),
        ["line 2: downstream.errors.timeout = 0.2 needs downstream.timeout: a call can only time out if the caller \
          has a timeout; set e.g. timeout = \"2s\" in [downstream]"]
    );
    let text = "[consumers]\ncount = 2\n[[faults]]\nkind = \"consumer-crash\"\nat = \"1m\"\nconsumer = 2\n";
    assert_eq!(
        problems(text, &[]),
        ["line 6: faults[0].consumer = 2 is out of range: there are 2 consumers (consumers.count), numbered from 0, \
          use 0..=1"]
    );
    let text = "[consumers]\ncount = 12\n[autoscale]\nmax_replicas = 8\n";
    assert_eq!(
        problems(text, &[]),
        ["line 2: consumers.count = 12 is the initial replica count and must lie within autoscale's [min_replicas, \
          max_replicas] = [1, 8]; set consumers.count between them"]
    );
    let text = "[downstream]\nerrors = { transient = 0.7, validation = 0.5 }\n[retry]\nhandle = [\"timeout\"]\n\
                ignore = [\"poison\", \"timeout\"]\n";
    assert_eq!(
        problems(text, &[]),
        [
            "line 2: downstream.errors: transient + timeout + validation = 1.2, but they are fractions of all calls \
             and must add up to at most 1",
            "line 5: `timeout` is in both retry.handle and retry.ignore; remove it from one of them",
        ]
    );
    // An invalid field does not also trigger the cross-field rules that depend on it.
    let text = "[consumers]\ncount = 0\nconcurrency = -1\nprefetch = 4\n[autoscale]\nmin_replicas = 2\n";
    assert_eq!(problems(text, &[]).len(), 2);
}

#[test]
fn broker_rules() {
    let text = "[broker]\nkind = \"rabbitmq\"\nclock = \"virtual\"\n";
    assert_eq!(
        problems(text, &[]),
        ["line 3: broker.clock = \"virtual\" only works with the embedded broker: a real broker runs on \
          wall-clock time; use clock = \"real\""]
    );
    // Service Bus: the connection string is checked at load, and its key never shown.
    let s = load("[broker]\nkind = \"servicebus\"\n", &[]).unwrap();
    assert_eq!((s.broker.kind, s.broker.clock), (BrokerKind::Servicebus, ClockKind::Real));
    let text = "[broker]\nkind = \"servicebus\"\nurl = \"Endpoint=sb://x.example.com/;SharedAccessKeyName=k;SharedAccessKey=s3cr3tkey=\"\n";
    let p = problems(text, &[]);
    assert!(p[0].contains("broker.url") && p[0].contains("UseDevelopmentEmulator"), "{p:?}");
    assert!(!p[0].contains("s3cr3tkey"), "{p:?}");
    let text = "[broker]\nkind = \"servicebus\"\nurl = \"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3tkey=\"\n";
    let s = load(text, &[]).unwrap();
    assert!(!s.to_toml().contains("s3cr3tkey"), "{}", s.to_toml());
    // A real broker defaults to the real clock.
    let s = load("[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://u:p@host/v\"\n", &[]).unwrap();
    assert_eq!((s.broker.kind, s.broker.clock), (BrokerKind::Rabbitmq, ClockKind::Real));
}

#[test]
fn real_broker_rules() {
    let rabbit = "[broker]\nkind = \"rabbitmq\"\n";
    // Classic queues do not count deliveries.
    let p = problems(&format!("{rabbit}[queue]\nmax_delivery_count = 5\n"), &[]);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("line 4: queue.max_delivery_count needs a quorum queue") && p[0].contains("quorum"),
        "{p:?}"
    );
    assert!(load(&format!("{rabbit}[queue]\nmax_delivery_count = 5\ntype = \"quorum\"\n"), &[]).is_ok());
    // The embedded broker models delivery counting whatever the type.
    assert!(load("[queue]\nmax_delivery_count = 5\n", &[]).is_ok());
    // Produce-only needs a real broker and a pinned queue.
    let p = problems("[consumers]\ncount = 0\n", &[]);
    assert!(p[0].contains("produce-only") && p[0].contains("at least 1"), "{p:?}");
    let p = problems(&format!("{rabbit}[consumers]\ncount = 0\n"), &[]);
    assert!(p[0].contains("queue.reuse = true"), "{p:?}");
    let produce_only = format!("{rabbit}[queue]\nname = \"orders\"\nreuse = true\n[consumers]\ncount = 0\n");
    assert!(problems(&produce_only, &[])[0].contains("set duration"));
    assert!(load(&format!("duration = \"1h\"\n{produce_only}"), &[]).is_ok());
    let p = problems("[queue]\nreuse = true\n", &[]);
    assert!(p[0].contains("existing queue of a real broker"), "{p:?}");
    // TLS files only with amqps, and a client certificate needs its key.
    let p = problems(&format!("{rabbit}url = \"amqp://h/\"\n[broker.tls]\nca = \"Cargo.toml\"\n"), &[]);
    assert!(p.iter().any(|e| e.contains("only applies to amqps://")), "{p:?}");
    let p = problems(&format!("{rabbit}url = \"amqps://h/\"\n[broker.tls]\ncert = \"Cargo.toml\"\n"), &[]);
    assert!(p.iter().any(|e| e.contains("needs both `cert` and `key`; add `key`")), "{p:?}");
    let p = problems(&format!("{rabbit}url = \"amqps://h/\"\n[broker.tls]\nca = \"/no/such.pem\"\n"), &[]);
    assert!(p.iter().any(|e| e.contains("readable PEM file")), "{p:?}");
}

#[test]
fn broker_url_errors_never_show_the_password() {
    for url in ["http://me:hunter2@h/", "amqp://me:hunter2@h:70000/", "amqp://me:hunter2@h/?nope=1"] {
        let text = format!("[broker]\nkind = \"rabbitmq\"\nurl = \"{url}\"\n");
        let p = problems(&text, &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("line 3: broker.url: ") && !p[0].contains("hunter2"), "{p:?}");
        let set = format!("broker.url={url}");
        let p = problems(rabbit_only(), &[&set]);
        assert!(p[0].starts_with("--set broker.url: ") && !p[0].contains("hunter2"), "{p:?}");
    }
    // The resolved scenario records the URL masked.
    let s = load("[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://me:hunter2@h/v\"\n", &[]).unwrap();
    assert!(!s.to_toml().contains("hunter2") && s.to_toml().contains("amqp://me:****@h/v"));
}

fn rabbit_only() -> &'static str {
    "[broker]\nkind = \"rabbitmq\"\n"
}

#[test]
fn missing_required_keys_and_other_shapes() {
    let text = "[[faults]]\nkind = \"latency-spike\"\n[downstream]\n[[faults]]\nkind = \"meteor\"\nat = 5\n\
                [thresholds]\np99 = 2000\nlatency_ms.p50 = \"< 5\"\n";
    assert_eq!(
        problems(text, &[]),
        [
            "line 1: faults[0] (kind = \"latency-spike\") is missing the required key `at`; add e.g. at = \"1m\"",
            "line 1: faults[0] (kind = \"latency-spike\") is missing the required key `duration`; add e.g. \
             duration = \"30s\"",
            "line 1: faults[0] (kind = \"latency-spike\") is missing the required key `factor`; add e.g. factor = 10",
            "line 5: `faults[1].kind = \"meteor\"`: expected one of \"outage\", \"error-spike\", \"latency-spike\", \
             \"consumer-crash\", \"network\", \"connection-kill\", \"memory-alarm\", \"broker-restart\", \
             \"queue-delete\"",
            // An unknown kind hides only the keys that depend on it: `at` is checked all the same.
            "line 6: `faults[1].at = 5`: expected a duration string like \"30s\", got 5",
            "line 8: `thresholds.p99 = 2000`: expected a string expression like \"< 2000\" (or a list of them), \
             got 2000",
        ]
    );
    let s = load("[thresholds]\nlatency_ms.p50 = \"< 5\"\n", &[]).expect("loads");
    assert_eq!(s.thresholds.0, [crate::gate::threshold::parse("latency_ms.p50", "< 5").unwrap()]);
}

#[test]
fn malformed_toml_is_one_error_with_its_line() {
    let err = load("messages = 5\n\n[consumers\ncount = 1\n", &[]).expect_err("fails");
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].line, Some(3));
    let shown = err.to_string();
    assert!(shown.starts_with("error: <string> has 1 problem:\n  line 3: invalid TOML at column 11: "), "{shown}");
}

#[test]
fn set_overrides_scalars_bare_strings_tables_and_array_elements() {
    let sets = [
        "consumers.count=2",
        "retry.jitter=decorrelated",
        "producers.rate={ shape = \"poisson\", per_second = 50 }",
        "faults.0.at=\"7m\"",
        "faults.1.transient=0.25",
        "downstream.timeout=5s",
        "description=two words",
    ];
    let s = load(FULL, &sets).expect("loads");
    assert_eq!(s.consumers.count, 2);
    assert_eq!(s.retry.jitter, Jitter::Decorrelated);
    assert_eq!(s.producers.rate, RateShape::Poisson { per_second: 50.0 });
    assert_eq!(s.faults[0].at(), secs(420));
    assert!(matches!(s.faults[1], Fault::ErrorSpike { transient, .. } if transient == 0.25));
    assert_eq!(s.downstream.and_then(|d| d.timeout), Some(secs(5)));
    assert_eq!(s.description, "two words");
    // A --set table is created where the file has none.
    let s = load("", &["downstream.servers=3", "circuit_breaker.break=1s"]).expect("loads");
    assert_eq!(s.downstream.map(|d| d.servers), Some(3));
    assert_eq!(s.circuit_breaker.map(|b| b.break_for), Some(secs(1)));
}

#[test]
fn bad_sets_are_errors_naming_the_flag() {
    let err = load(FULL, &["consumers.count", "faults.9.at=1m", "consumer.count=2"]).expect_err("fails");
    let shown: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "--set consumers.count: missing `=`; write --set key.path=value, e.g. --set consumers.count=8",
            "--set faults.9.at: index 9 is out of range: `faults` has 4 element(s) (valid: 0..=3)",
            "--set consumer: unknown key `consumer` in the top level; did you mean `consumers`?",
        ]
    );
}

#[test]
fn load_file_names_the_scenario_after_the_file_and_reports_unreadable_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("spike-test.toml");
    std::fs::write(&path, "messages = 7\n").expect("write");
    let s = load_file(&path, &[]).expect("loads");
    assert_eq!((s.name.as_str(), s.messages), ("spike-test", 7));
    let missing = dir.path().join("nope.toml");
    let err = load_file(&missing, &[]).expect_err("fails");
    assert_eq!(err.errors.len(), 1);
    let shown = err.to_string();
    assert!(shown.contains(&format!("cannot read {}: ", missing.display())), "{shown}");
    assert!(shown.contains("No such file"), "{shown}");
}

#[test]
fn servicebus_semantics_fill_in_service_bus_defaults_and_check_the_lock() {
    let s = load("[broker]\nsemantics = \"servicebus\"\n", &[]).unwrap();
    let q = &s.queue;
    assert_eq!(
        (q.lock_duration, q.max_auto_lock_renewal, q.max_delivery_count),
        (Some(Dur::from_secs(60)), Some(Dur::from_secs(300)), Some(10))
    );
    assert!(s.peek_lock().is_some() && s.inert_keys().is_empty());
    assert!(s.to_toml().contains("semantics = \"servicebus\""), "the resolved scenario says what ran");
    let long = "[broker]\nsemantics = \"servicebus\"\n[queue]\nlock_duration = \"6m\"\n";
    assert_eq!(
        problems(long, &[]),
        ["line 4: `queue.lock_duration = \"6m\"`: must be at most 5 minutes (Service Bus's maximum LockDuration), \
          got \"6m\""]
    );
    // Under RabbitMQ semantics the peek-lock keys are accepted (one file, both ways) and named as inert.
    let s = load("[queue]\nlock_duration = \"30s\"\n", &[]).unwrap();
    assert!(s.peek_lock().is_none());
    assert_eq!(s.inert_keys(), ["queue.lock_duration"]);
    assert_eq!(s.queue.max_delivery_count, None, "no Service Bus default under RabbitMQ semantics");
    // `kind = "servicebus"` in virtual time is the embedded broker with Service Bus semantics.
    let s = load("[broker]\nkind = \"servicebus\"\nclock = \"virtual\"\n", &[]).unwrap();
    assert_eq!((s.broker.kind, s.broker.semantics), (BrokerKind::Embedded, Semantics::Servicebus));
    // A real broker has its own semantics.
    let text = "[broker]\nkind = \"rabbitmq\"\nsemantics = \"servicebus\"\n";
    assert!(problems(text, &[])[0].starts_with("line 3: broker.semantics chooses what the embedded broker models"));
}
