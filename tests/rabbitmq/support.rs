//! What every RabbitMQ test needs: the broker or a visible skip (a failure when `CI` is set), the `loadtest` binary,
//! unique run ids, summaries, `rabbitmqctl`, and checks that a run accounted for every message and left nothing.

use assert_cmd::Command;
use serde_json::Value;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Tests share the broker; a test that changes all of it (a memory alarm, a restart) holds it alone.
static BROKER: RwLock<()> = RwLock::new(());

/// Held for the whole test: shared by ordinary tests, exclusive for the ones that change the whole broker.
pub enum BrokerGuard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

/// The broker, if it answers; without it the test is skipped with a reason, or fails when `CI` is set.
pub fn rabbit() -> Option<BrokerGuard> {
    reachable()?;
    Some(BrokerGuard::Shared(BROKER.read().unwrap_or_else(|e| e.into_inner())))
}

/// `rabbit()` for a test that changes the whole broker: no other RabbitMQ test of this binary runs meanwhile.
pub fn rabbit_alone() -> Option<BrokerGuard> {
    reachable()?;
    Some(BrokerGuard::Exclusive(BROKER.write().unwrap_or_else(|e| e.into_inner())))
}

fn reachable() -> Option<()> {
    let addr: SocketAddr = "127.0.0.1:5672".parse().unwrap();
    match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        Ok(_) => Some(()),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("RabbitMQ is not reachable at {addr} ({e}) and CI is set: the RabbitMQ tests must run, not skip")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: RabbitMQ is not reachable at {addr} ({e}); start it (rabbitmq-server -detached) to run"
            );
            None
        }
    }
}

pub fn loadtest() -> Command {
    let mut c = Command::cargo_bin("loadtest").unwrap();
    c.env_remove("LOADTEST_AMQP_URL").timeout(Duration::from_secs(600));
    c
}

/// A run id no other test (or a parallel CI job) uses: test tag, process id, counter.
pub fn run_id(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn summary(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Runs `loadtest run` to completion and returns its output (stdout+stderr checked by the caller).
pub fn run(scenario: &Path, out: &Path, args: &[&str]) -> Output {
    loadtest().arg("run").arg(scenario).arg("--out").arg(out).args(args).output().unwrap()
}

/// `run` that must exit 0 with every message accounted for: its summary and its output.
pub fn run_ok(scenario: &Path, out: &Path, args: &[&str]) -> (Value, String) {
    let o = run(scenario, out, args);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    let s = summary(out);
    assert_accounted(&s);
    (s, all)
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// published = completed + dead-lettered + expired + lost + in flight, and the summary says so.
pub fn assert_accounted(s: &Value) {
    let m = &s["messages"];
    let outcomes = u(&m["completed"]) + u(&m["dead_lettered"]["total"]) + u(&m["expired"]);
    let rest = u(&m["lost"]) + u(&m["in_flight_at_end"]) + u(&s["real_broker"]["ledger"]["consumed_elsewhere"]);
    assert_eq!(u(&m["published"]), outcomes + rest, "conservation broken: {m}");
    assert_eq!(m["accounted"], true, "{m}");
    assert_eq!(u(&m["produced"]), u(&m["published"]) + u(&m["rejected_at_publish"]) + unseen(s), "{m}");
}

fn unseen(s: &Value) -> u64 {
    s["real_broker"]["ledger"]["unconfirmed_unseen"].as_u64().unwrap_or(0)
}

/// `rabbitmqctl` (as root it switches to the broker's user and cookie), killed after 90 s so that a stuck CLI fails
/// the test instead of hanging it.
pub fn ctl(args: &[&str]) -> Output {
    let bin = if Path::new("/usr/sbin/rabbitmqctl").exists() { "/usr/sbin/rabbitmqctl" } else { "rabbitmqctl" };
    let child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rabbitmqctl runs");
    wait_or_kill(child, Duration::from_secs(90), &format!("rabbitmqctl {}", args.join(" ")))
}

/// The child's output, or a panic naming `what` if it has not ended within `limit` (it is killed first).
pub fn wait_or_kill(child: std::process::Child, limit: Duration, what: &str) -> Output {
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    let watchdog = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while !flag.load(Ordering::Relaxed) {
            if start.elapsed() > limit {
                // SAFETY: kill(2) on a child process of ours that has not been reaped (we still wait for it).
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    let out = child.wait_with_output().expect("wait for the child");
    done.store(true, Ordering::Relaxed);
    let killed = watchdog.join().unwrap_or(false);
    assert!(!killed, "{what} did not end within {limit:?} and was killed:\n{}", text(&out));
    out
}

/// Queue names in a vhost.
pub fn queues(vhost: &str) -> Vec<String> {
    let o = ctl(&["list_queues", "-q", "--no-table-headers", "-p", vhost, "name"]);
    assert!(o.status.success(), "rabbitmqctl list_queues: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

/// Nothing of the run is left on the broker.
pub fn assert_no_queues_of(run_id: &str, vhost: &str) {
    let left: Vec<String> = queues(vhost).into_iter().filter(|q| q.contains(run_id)).collect();
    assert!(left.is_empty(), "queues of run {run_id} left behind in {vhost}: {left:?}");
}

/// The broker's connection pids whose connection_name contains `needle` (only this run's, never other users').
pub fn connections_of(needle: &str) -> Vec<String> {
    let o = ctl(&["list_connections", "-q", "--no-table-headers", "pid", "client_properties"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Waits (up to `within`) until `n` connections of the run exist; returns their pids.
pub fn wait_for_connections(needle: &str, n: usize, within: Duration) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let found = connections_of(needle);
        if found.len() >= n || start.elapsed() > within {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A scenario file in a temporary folder.
pub fn scenario(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// Removes a vhost when dropped (also when the test fails).
pub struct Vhost(pub String);

impl Vhost {
    pub fn create(name: &str) -> Vhost {
        let o = ctl(&["add_vhost", name]);
        assert!(o.status.success(), "add_vhost: {}", text(&o));
        let v = Vhost(name.to_string());
        let o = ctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"]);
        assert!(o.status.success(), "set_permissions: {}", text(&o));
        v
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = ctl(&["delete_vhost", &self.0]);
    }
}

/// Deletes a queue when dropped (queues a test declares itself).
pub struct QueueGuard(pub String);

impl Drop for QueueGuard {
    fn drop(&mut self) {
        let _ = ctl(&["delete_queue", &self.0]);
    }
}

/// Deletes queues and exchanges over AMQP (`rabbitmqctl` has no way to delete an exchange).
pub fn amqp_delete(queues: &[String], exchanges: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let Ok(conn) = lapin::Connection::connect(URL, lapin::ConnectionProperties::default()).await else { return };
        for q in queues {
            if let Ok(ch) = conn.create_channel().await {
                let _ = ch.queue_delete(q.as_str().into(), Default::default()).await;
            }
        }
        for e in exchanges {
            if let Ok(ch) = conn.create_channel().await {
                let _ = ch.exchange_delete(e.as_str().into(), Default::default()).await;
            }
        }
        let _ = conn.close(200, "cleaned up".into()).await;
    });
}

/// Deletes a kept topology (queues and exchange of one run) when dropped.
pub struct TopologyGuard(pub String);

impl Drop for TopologyGuard {
    fn drop(&mut self) {
        let w = &self.0;
        let queues = ["", "_error", "_skipped"].iter().map(|s| format!("{w}{s}")).collect::<Vec<_>>();
        amqp_delete(&queues, &[format!("{w}.dlx")]);
    }
}
