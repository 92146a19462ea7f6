//! End-to-end tests against a real Azure Service Bus namespace: they run only when
//! `LOADTEST_SERVICEBUS_CONNECTION` is set (and its queue, `_error` and `_skipped` exist), and print that they
//! are skipped otherwise, also under CI: there is no namespace on the machines that run this project's CI.

use super::{assert_reconciled, loadtest, summary, text};
use tempfile::TempDir;

/// The connection string, or a visible skip.
fn namespace() -> Option<String> {
    match std::env::var("LOADTEST_SERVICEBUS_CONNECTION") {
        Ok(c) if !c.trim().is_empty() => Some(c),
        _ => {
            eprintln!(
                "SKIPPED: LOADTEST_SERVICEBUS_CONNECTION is not set; these end-to-end tests need a real Service Bus \
                 namespace (skipped under CI too: none is available there)"
            );
            None
        }
    }
}

#[test]
fn e2e_real_namespace_a_small_steady_run_reconciles() {
    let Some(conn) = namespace() else { return };
    let queue = std::env::var("LOADTEST_SERVICEBUS_QUEUE").unwrap_or_else(|_| "order-processing".into());
    let tmp = TempDir::new().unwrap();
    let s = tmp.path().join("e2e.toml");
    std::fs::write(
        &s,
        format!(
            r#"name = "sb-e2e"
seed = 9
messages = 200
[queue]
name = "{queue}"
[producers]
rate = {{ shape = "constant", per_second = 20 }}
[consumers]
count = 2
concurrency = 4
prefetch = 4
service_time = "5ms"
"#
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = loadtest()
        .env("LOADTEST_SERVICEBUS_CONNECTION", &conn)
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(&out)
        .args(["--broker", "servicebus"])
        .output()
        .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let r = summary(&out);
    assert_reconciled(&r);
    assert_eq!(r["real_broker"]["kind"], "servicebus");
}
