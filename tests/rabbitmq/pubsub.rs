//! `[[subscriptions]]` on the real RabbitMQ: the subscriptions run at the same time, each on its own queue and
//! connection with its own copy of the stream; a failing subscription dead-letters into its own error queue while
//! the other completes everything, with the embedded broker's counts, and nothing of the run is left on the broker.

use crate::support::*;
use serde_json::Value;
use tempfile::TempDir;

const PUBSUB: &str = r#"
name = "pubsub-rmq"
seed = 3
messages = 400

[queue]
name = "lt-pubsub"

[producers]
rate = { shape = "constant", per_second = 100 }

[consumers]
count = 2
concurrency = 8
prefetch = 8
service_time = "2ms"

[retry]
policy = { kind = "exponential", limit = 2, base = "100ms", cap = "1s" }

[[subscriptions]]
name = "fast"

[[subscriptions]]
name = "failing"

[subscriptions.downstream]
name = "down-api"
servers = 4
service_time = "5ms"
timeout = "1s"

[[subscriptions.faults]]
kind = "outage"
at = "0s"
duration = "1h"
"#;

#[test]
fn subscriptions_run_side_by_side_and_a_failing_one_dead_letters_alone() {
    let Some(_broker) = rabbit() else { return };
    let tmp = TempDir::new().unwrap();
    let file = scenario(&tmp, "pubsub.toml", PUBSUB);
    let (real, embedded) = (tmp.path().join("real"), tmp.path().join("embedded"));
    // No --run-id: the run makes one, and every subscription's queues carry it.
    let o = run(&file, &real, &["--broker", URL, "--time-scale", "2", "--no-png"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&file, &embedded, &["--no-png"]);
    assert!(o.status.success(), "{}", text(&o));
    for (name, completed, dead) in [("fast", 400, 0), ("failing", 0, 400)] {
        let r = summary(&real.join("subscriptions").join(name));
        let e = summary(&embedded.join("subscriptions").join(name));
        assert_accounted(&r);
        assert_eq!(u(&r["messages"]["published"]), 400, "{name}: its own copy of the stream");
        assert_eq!(u(&r["messages"]["completed"]), completed, "{name}");
        assert_eq!(u(&r["messages"]["dead_lettered"]["total"]), dead, "{name}");
        for key in ["published", "completed", "dead_lettered", "lost", "duplicates", "in_flight_at_end"] {
            assert_eq!(r["messages"][key], e["messages"][key], "{name}: messages.{key}, real vs embedded");
        }
        let rb = &r["real_broker"];
        assert_eq!(rb["ended_by"], "completed", "{name}");
        assert_eq!(u(&rb["publishing"]["confirmed"]), 400, "{name}");
        // Each subscription dead-letters into the error queue of its own queue.
        if dead > 0 {
            let by_queue = r["messages"]["dead_lettered"]["by_queue"].as_object().unwrap();
            assert!(by_queue.keys().all(|q| q.starts_with("lt-pubsub.failing")), "{by_queue:?}");
        }
    }
    let top = summary(&real);
    assert_eq!(u(&top["messages"]["published"]), 800);
    assert_eq!(u(&top["messages"]["completed"]), 400);
    assert_eq!(u(&top["messages"]["dead_lettered"]["total"]), 400);
    assert_eq!(top["messages"]["accounted"], true);
    assert!(top.get("real_broker").is_none(), "each subscription has its own broker section");
    let ids: Vec<Value> = ["fast", "failing"]
        .iter()
        .map(|n| summary(&real.join("subscriptions").join(n))["real_broker"]["run_id"].clone())
        .collect();
    assert_eq!(ids[0], ids[1], "one run id for the run");
    assert_no_queues_of(ids[0].as_str().unwrap(), "/");
}
