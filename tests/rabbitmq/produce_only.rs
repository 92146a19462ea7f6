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
    let Some(()) = rabbit() else { return };
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
