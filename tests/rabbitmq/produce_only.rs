//! Produce-only: loadtest publishes into a queue that "the user's service" (here: a consumer this test runs with
//! lapin) drains, and reports the backlog, the drain and the consumer count it saw on the queue.

use crate::support::*;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tempfile::TempDir;

#[test]
fn produce_only_feeds_someone_elses_consumers_and_reports_the_drain() {
    let Some(_broker) = rabbit() else { return };
    let queue = format!("lt-users-service-{}", std::process::id());
    let _guard = QueueGuard(queue.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    // The user's service: two consumers on its own durable queue, acking after ~1 ms of work.
    let conn = rt.block_on(async {
        let conn = lapin::Connection::connect(URL, lapin::ConnectionProperties::default()).await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        let durable = QueueDeclareOptions { durable: true, ..Default::default() };
        ch.queue_declare(queue.as_str().into(), durable, FieldTable::default()).await.unwrap();
        for n in 0..2 {
            let ch = conn.create_channel().await.unwrap();
            ch.basic_qos(10, BasicQosOptions::default()).await.unwrap();
            let tag = format!("users-service-{n}");
            let mut stream = ch
                .basic_consume(
                    queue.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                while let Some(Ok(d)) = stream.next().await {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    let _ = d.ack(BasicAckOptions::default()).await;
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        conn
    });
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let args =
        ["--broker", URL, "--set", &format!("queue.name=\"{queue}\""), "--set", "messages=2000", "--time-scale", "5"];
    let o = run("scenarios/drain-my-consumers.toml".as_ref(), &out, &args);
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&out);
    let rb = &s["real_broker"];
    assert_eq!(u(&s["messages"]["published"]), 2000);
    assert_eq!(rb["ended_by"], "completed", "the queue drained");
    assert_eq!(u(&rb["ledger"]["consumed_elsewhere"]) + u(&s["messages"]["in_flight_at_end"]), 2000);
    assert_accounted(&s);
    let po = &rb["produce_only"];
    assert_eq!(u(&po["consumers_max"]), 2, "the two consumers of the user's service: {po}");
    assert!(po["drained_at_s"].as_f64().is_some(), "{po}");
    assert_eq!(rb["topology_kept"], true, "a reused queue is never deleted");
    assert!(queues("/").contains(&queue), "the user's queue is still there");
    // The user's service got every message.
    let start = std::time::Instant::now();
    while seen.load(Ordering::Relaxed) < 2000 && start.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(seen.load(Ordering::Relaxed), 2000);
    // The consumer count over time is in the series.
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "consumers").unwrap();
    let max = csv.lines().skip(1).filter_map(|l| l.split(',').nth(col)?.parse::<u64>().ok()).max();
    assert_eq!(max, Some(2), "consumers column");
    rt.block_on(async { conn.close(200, "done".into()).await.unwrap() });
}

/// A queue of the test's own with `n` messages of someone else in it.
fn queue_with_foreign_messages(rt: &tokio::runtime::Runtime, queue: &str, n: usize) {
    rt.block_on(async {
        let conn = lapin::Connection::connect(URL, lapin::ConnectionProperties::default()).await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        let durable = QueueDeclareOptions { durable: true, ..Default::default() };
        ch.queue_declare(queue.into(), durable, FieldTable::default()).await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        for _ in 0..n {
            let props = lapin::BasicProperties::default();
            let confirm =
                ch.basic_publish("".into(), queue.into(), Default::default(), b"not yours", props).await.unwrap();
            confirm.await.unwrap();
        }
        conn.close(200, "done".into()).await.unwrap();
    });
}

#[test]
fn produce_only_without_consumers_ends_at_the_duration_not_at_the_drain_timeout() {
    let Some(_broker) = rabbit() else { return };
    let queue = format!("lt-nobody-home-{}", std::process::id());
    let _guard = QueueGuard(queue.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    queue_with_foreign_messages(&rt, &queue, 0);
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    // 20 s of scenario time at x1 with a 1 s drain timeout: nobody consumes, so only the duration may end it.
    let q = format!("queue.name=\"{queue}\"");
    let args = [
        "--broker",
        URL,
        "--set",
        &q,
        "--set",
        "messages=50",
        "--set",
        "duration=\"20s\"",
        "--set",
        "broker.drain_timeout=\"1s\"",
    ];
    let o = run("scenarios/drain-my-consumers.toml".as_ref(), &out, &args);
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&out);
    assert_eq!(s["real_broker"]["ended_by"], "duration limit");
    assert_eq!(u(&s["messages"]["in_flight_at_end"]), 50, "all still in the queue");
    assert_eq!(u(&s["real_broker"]["ledger"]["consumed_elsewhere"]), 0);
    assert_accounted(&s);
    assert!(s["real_broker"]["produce_only"]["drain_s"].is_null());
}

#[test]
fn someone_elses_messages_on_a_reused_queue_are_left_alone_and_named() {
    let Some(_broker) = rabbit() else { return };
    let queue = format!("lt-shared-{}", std::process::id());
    let _guards =
        [QueueGuard(queue.clone()), QueueGuard(format!("{queue}_error")), QueueGuard(format!("{queue}_skipped"))];
    let rt = tokio::runtime::Runtime::new().unwrap();
    queue_with_foreign_messages(&rt, &queue, 5);
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let q = format!("queue.name=\"{queue}\"");
    let args = [
        "--broker",
        URL,
        "--reuse-queue",
        "--set",
        &q,
        "--set",
        "messages=20",
        "--set",
        "consumers.count=1",
        "--set",
        "consumers.concurrency=2",
        "--set",
        "consumers.prefetch=2",
    ];
    let o = run("scenarios/steady-state.toml".as_ref(), &out, &args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("holds messages this run did not publish"), "{}", text(&o));
    let s = summary(&out);
    assert!(u(&s["real_broker"]["consuming"]["foreign"]) >= 2);
    assert_accounted(&s);
    // Nothing of the others' was consumed, requeued in a loop or dead-lettered: the five are still there.
    let o = ctl(&["list_queues", "-q", "--no-table-headers", "name", "messages"]);
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(queue.as_str()))
        .map(str::to_string);
    let count: u64 = line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0);
    assert!(count >= 5, "the others' messages are still on the queue: {count}");
}
