//! The proxy itself: a loopback listener that forwards every accepted connection to the upstream through the
//! schedule's toxics, its stats, and its shutdown.

use super::conn;
use super::judge::Judge;
use super::stats::{Counters, ProxyStats};
use super::Schedule;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running fault proxy. Dropping it shuts it down.
pub struct Proxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
}

impl Proxy {
    /// Binds 127.0.0.1:0 and forwards every accepted connection to `upstream` (host, port). Must be called inside
    /// a tokio runtime; spawns tasks on it.
    pub async fn start(upstream: (String, u16), schedule: Arc<Schedule>, seed: u64) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::new(schedule.toxics()));
        let (stop, stopped) = watch::channel(false);
        let accept = AcceptLoop { listener, upstream: Arc::new(upstream), schedule, counters: counters.clone(), seed };
        tokio::spawn(accept.run(stopped));
        Ok(Proxy { addr, counters, stop })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        self.counters.snapshot()
    }

    /// Stops accepting and closes every connection (used at the end of a run).
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct AcceptLoop {
    listener: TcpListener,
    upstream: Arc<(String, u16)>,
    schedule: Arc<Schedule>,
    counters: Arc<Counters>,
    seed: u64,
}

impl AcceptLoop {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut accepted = 0u64;
        loop {
            let client = tokio::select! {
                client = self.listener.accept() => client,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            let client = match client {
                Ok((client, _)) => client,
                Err(_) => {
                    // Out of descriptors or an aborted handshake: wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let now = Instant::now();
            self.counters.connections.fetch_add(1, Relaxed);
            let judge = Judge::new(self.schedule.clone(), self.counters.clone(), self.seed, accepted, now);
            accepted += 1;
            tokio::spawn(conn::serve(client, self.upstream.clone(), judge, stop.clone()));
        }
    }
}
