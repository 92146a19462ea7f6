//! Publisher back-pressure: a full queue with `overflow = "block"` holds the producer back (nothing refused or
//! dropped; it falls behind its intended schedule, so `latency_ms` outgrows `latency_raw_ms`), where
//! `reject-publish` refuses and `drop-head` dead-letters; `block` is refused on a real broker; the gate's `--exact`
//! passes against a baseline written before `queue_wait_ms` and `p_wait` existed.

use assert_cmd::Command;
use loadtest::report::simulate;
use loadtest::report::summary::Summary;
use loadtest::scenario::load_str;
use tempfile::TempDir;

/// 100/s evenly spaced into one handler of 20 ms (50/s): the queue of 10 fills within the first second.
fn slow_consumer(overflow: &str) -> String {
    format!(
        r#"
        name = "backpressure"
        seed = 7
        messages = 1000
        [producers]
        rate = "100/s"
        [queue]
        max_length = 10
        overflow = "{overflow}"
        [consumers]
        count = 1
        concurrency = 1
        prefetch = 1
        service_time = "20ms"
        "#
    )
}

fn run(toml: &str) -> Summary {
    let scn = load_str(toml, "backpressure", &[]).unwrap();
    simulate(&scn, 7).unwrap()
}

#[test]
fn a_blocking_queue_holds_the_producer_back_and_loses_nothing() {
    let s = run(&slow_consumer("block"));
    let m = &s.messages;
    assert_eq!((m.produced, m.published, m.rejected_at_publish, m.completed), (1000, 1000, 0, 1000));
    assert_eq!(m.dead_lettered.total, 0);
    assert!(m.accounted);
    // The producer runs at the consumer's pace, 50/s: the last of 1000 goes out near 20 s, not at 10 s.
    assert_eq!(s.duration_s, 20.0);
    let p = s.producer.as_ref().expect("producer stats with overflow = block");
    // Blocked from the first publish into the full queue (0.21 s) until the last went out (19.78 s), all but 21 of
    // the publishes waited, and the last one (intended at 9.99 s) went out 9.79 s late.
    assert_eq!((p.blocked_s, p.blocks, p.max_lag_ms), (19.57, 979, 9790.0));
    // From the intended time the wait behind schedule counts; from the actual publish only the queue's 10 + 1.
    assert!(s.latency_ms.p50 > s.latency_raw_ms.p50 * 10.0, "{:?} vs {:?}", s.latency_ms, s.latency_raw_ms);
    assert_eq!((s.latency_raw_ms.p50, s.latency_raw_ms.max), (220.031, 220.031));
    assert_eq!((s.latency_ms.p50, s.latency_ms.max), (5013.503, 10_010.623));
    assert_eq!(s.queue.peak_ready, 10);
    let w = s.queue_wait_ms.as_ref().unwrap();
    assert_eq!(w.count, 1000);
    assert_eq!((w.p50, w.max), (200.063, 200.063), "a message waits behind the 10 ahead of it: 10 x 20 ms");
    assert_eq!(s.p_wait, Some(0.999), "all but the first, which found the handler free");
}

#[test]
fn reject_publish_refuses_and_drop_head_dead_letters_what_block_holds_back() {
    let s = run(&slow_consumer("reject-publish"));
    let m = &s.messages;
    assert_eq!((m.produced, m.published, m.rejected_at_publish), (1000, 510, 490));
    assert_eq!(m.completed, 510);
    assert!(s.producer.is_none(), "producer stats only with overflow = block");
    // The producer never lags: both latencies are the same measurement.
    assert_eq!(s.latency_ms, s.latency_raw_ms);
    let s = run(&slow_consumer("drop-head"));
    assert_eq!(s.messages.published, 1000);
    assert_eq!(s.messages.dead_lettered.by_reason.get("maxlen"), Some(&490));
    assert_eq!(s.messages.completed, 510);
}

#[test]
fn block_on_a_real_broker_is_an_error_naming_the_key_its_line_and_the_fix() {
    let toml = "[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://guest:guest@localhost:5672/%2f\"\n[queue]\nmax_length = \
                10\noverflow = \"block\"\n";
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, toml).unwrap();
    let reports = tmp.path().join("reports");
    let out = Command::cargo_bin("loadtest")
        .unwrap()
        .env_remove("LOADTEST_SERVICEBUS_CONNECTION")
        .arg("run")
        .arg(&file)
        .arg("--reports")
        .arg(&reports)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 6: queue.overflow = \"block\" is modelled by the embedded broker only"), "{err}");
    assert!(err.contains("Use overflow = \"reject-publish\""), "{err}");
    assert!(err.contains("producers.confirm_window"), "{err}");
    assert!(!reports.exists(), "nothing may run");
}

/// A baseline saved before `queue_wait_ms` and `p_wait` existed: `--exact` compares everything else and passes.
#[test]
fn exact_gate_passes_against_a_baseline_older_than_the_queue_wait_metrics() {
    let tmp = TempDir::new().unwrap();
    let scenario = tmp.path().join("s.toml");
    std::fs::write(&scenario, slow_consumer("drop-head")).unwrap();
    let (run_dir, base_dir) = (tmp.path().join("run"), tmp.path().join("base"));
    let loadtest = || {
        let mut c = Command::cargo_bin("loadtest").unwrap();
        c.env_remove("LOADTEST_SERVICEBUS_CONNECTION");
        c
    };
    loadtest().arg("run").arg(&scenario).args(["--quiet", "--no-png", "--out"]).arg(&run_dir).assert().success();
    loadtest().args(["baseline", "save"]).arg(&run_dir).arg("old").arg("--root").arg(tmp.path()).assert().success();
    std::fs::rename(tmp.path().join("old"), &base_dir).unwrap();
    let path = base_dir.join("summary.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let obj = v.as_object_mut().unwrap();
    assert!(obj.remove("queue_wait_ms").is_some() && obj.remove("p_wait").is_some());
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let gate = |extra: &[&str]| {
        let mut c = loadtest();
        c.arg("gate").arg(&run_dir).arg("--baseline").arg(&base_dir).arg("--exact").args(extra);
        c.assert()
    };
    let out = gate(&[]).success().get_output().clone();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("not compared, the baseline predates them: queue_wait_ms.{count,mean,p50"), "{text}");
    assert!(text.contains("p_wait"), "{text}");
    // A metric that existed all along is still required of the baseline.
    let obj = v.as_object_mut().unwrap();
    obj.remove("latency_raw_ms");
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    gate(&[]).failure();
}

/// `broker.confirm_latency` with `producers.confirm_window`: at most 10 publishes outstanding for 100 ms each caps
/// the producer at 100/s, half the planned 200/s.
#[test]
fn a_confirm_window_with_a_confirm_latency_bounds_the_publisher() {
    let toml = |latency: &str| {
        format!(
            "messages = 1000\n[broker]\nconfirm_latency = \"{latency}\"\n[producers]\nrate = \"200/s\"\n\
             confirm_window = 10\n[consumers]\ncount = 2\nservice_time = \"1ms\"\n"
        )
    };
    let s = run(&toml("100ms"));
    assert_eq!((s.messages.published, s.messages.completed, s.messages.rejected_at_publish), (1000, 1000, 0));
    // The first 10 go out as planned, 5 ms apart; from then each publish waits for the confirm of the one 10
    // before it, 100 ms earlier: message k at (k / 10) x 100 ms + (k % 10) x 5 ms, the last (999, planned at
    // 4.995 s) at 9.945 s, 4.95 s late, and blocked from 50 ms on.
    assert_eq!(s.duration_s, 9.946);
    let p = s.producer.as_ref().expect("producer stats with a confirm latency");
    assert_eq!((p.blocked_s, p.blocks, p.max_lag_ms), (9.895, 990, 4950.0));
    assert_eq!(s.latency_raw_ms.max, 1.0);
    assert!(s.latency_ms.p50 > 2000.0, "{:?}", s.latency_ms);
    // Confirmed at once (the default) the window never binds, and the summary has no producer section.
    let s = run(&toml("0s"));
    assert!(s.producer.is_none());
    assert_eq!((s.duration_s, s.latency_ms.max), (4.996, 1.0), "the last planned at 4.995 s, handled in 1 ms");
}

#[test]
fn a_confirm_latency_on_a_real_broker_is_an_error() {
    let toml = "[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://localhost:5672/%2f\"\nconfirm_latency = \"5ms\"\n";
    let err = load_str(toml, "s", &[]).unwrap_err().to_string();
    assert!(err.contains("line 4") && err.contains("broker.confirm_latency models the embedded broker"), "{err}");
}
