//! Protocol tests of the proxy's own code, against stand-in TCP servers on 127.0.0.1 that the tests start (an
//! echo and a recording sink). They test the proxy itself, not a broker.
//!
//! Timing assertions are lower bounds (a delay is at least what the toxic says); the only upper bounds are the
//! generous timeouts that keep a broken proxy from hanging the suite.

mod basic;
mod faults;
mod timing;

use super::{Direction, Proxy, Schedule, Scheduled, ToxicKind};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The generous bound on anything a test waits for.
const PATIENCE: Duration = Duration::from_secs(5);

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A toxic affecting every connection, active from `start_ms` to `end_ms` after the origin.
pub(super) fn toxic(kind: ToxicKind, start_ms: u64, end_ms: u64, direction: Direction) -> Scheduled {
    let name = format!("{}@{}ms", kind.name(), start_ms);
    Scheduled { kind, start: ms(start_ms), end: ms(end_ms), direction, toxicity: 1.0, name }
}

/// Stand-in echo server (for testing the proxy itself): echoes each connection until EOF, then closes.
pub(super) async fn echo_server() -> SocketAddr {
    let listener = bind().await;
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// Stand-in sink server (for testing the proxy itself): records everything it receives, all connections
/// appended to one buffer.
pub(super) async fn sink_server() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = bind().await;
    let addr = listener.local_addr().expect("local addr");
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n @ 1..) = conn.read(&mut buf).await {
                    sink.lock().expect("sink lock").extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (addr, got)
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1")
}

/// A proxy to `upstream` with these toxics; the schedule's origin is the returned instant (now).
pub(super) async fn proxy_to(upstream: SocketAddr, toxics: Vec<Scheduled>, seed: u64) -> (Proxy, Instant) {
    let schedule = Schedule::new(toxics);
    let origin = Instant::now();
    schedule.set_origin(origin);
    let proxy = Proxy::start(("127.0.0.1".to_string(), upstream.port()), schedule, seed).await.expect("proxy start");
    (proxy, origin)
}

/// A proxy to a fresh echo server.
pub(super) async fn echo_proxy(toxics: Vec<Scheduled>) -> (Proxy, Instant) {
    proxy_to(echo_server().await, toxics, 7).await
}

pub(super) async fn connect(proxy: &Proxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).await.expect("connect to the proxy");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

pub(super) fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<u8>()).collect()
}

/// Sends `data` through an echo and reads as many bytes back (writing and reading at once); panics after
/// `PATIENCE`.
pub(super) async fn round_trip(stream: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = stream.split();
    let write = async {
        w.write_all(data).await.expect("write to the proxy");
    };
    let read = async {
        let mut back = vec![0u8; data.len()];
        r.read_exact(&mut back).await.expect("read back through the proxy");
        back
    };
    let (_, back) = tokio::time::timeout(PATIENCE, async { tokio::join!(write, read) }).await.expect("round trip");
    back
}

/// Reads until EOF or an error; panics after `PATIENCE`. Returns what was read and the error, if any.
pub(super) async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, Option<io::Error>) {
    let read = async {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e)),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("connection ended in time")
}

/// Waits until `cond` holds; panics after `PATIENCE`.
pub(super) async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(ms(5)).await;
    }
}
