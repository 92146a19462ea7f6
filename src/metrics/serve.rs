//! `loadtest run --metrics-listen ADDR:PORT`: serves `GET /metrics` (the live metrics, OpenMetrics text) and
//! `GET /healthz` (axum) on a thread of its own while the run goes. The address is bound before anything runs, so a
//! taken port is an input error (exit 2) and not a run without its metrics.

use crate::exit::Failure;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A bound address, not serving yet.
pub struct Bound {
    listener: std::net::TcpListener,
    pub addr: SocketAddr,
}

/// Binds `spec` (`ADDRESS:PORT`, e.g. 127.0.0.1:9464; port 0 takes a free one).
pub fn bind(spec: &str) -> Result<Bound, Failure> {
    let addr: SocketAddr = spec
        .parse()
        .map_err(|_| Failure::input(format!("--metrics-listen {spec:?}: write ADDRESS:PORT, e.g. 127.0.0.1:9464")))?;
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| Failure::input(format!("--metrics-listen {addr}: cannot listen there: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Failure::input(format!("--metrics-listen {addr}: {e}")))?;
    listener.set_nonblocking(true).map_err(|e| Failure::input(format!("--metrics-listen {addr}: {e}")))?;
    Ok(Bound { listener, addr })
}

/// The server while it runs; `stop` (or dropping it) ends it.
pub struct Server {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bound {
    /// Serves `registry` until the returned server is stopped.
    pub fn serve(self, registry: Arc<Registry>) -> Result<Server, Failure> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::runtime(format!("cannot start the metrics server's runtime: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listener = self.listener;
        let addr = self.addr;
        let thread = std::thread::Builder::new()
            .name("metrics-listen".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return crate::errln!("warning: --metrics-listen {addr}: {e}; no metrics served"),
                    };
                    let router = Router::new()
                        .route("/healthz", get(|| async { "ok\n" }))
                        .route("/metrics", get(move || metrics(Arc::clone(&registry))));
                    let shutdown = async {
                        drop(stopped.await);
                    };
                    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
                        crate::errln!("warning: the metrics server on {addr} failed: {e}");
                    }
                });
            })
            .map_err(|e| Failure::runtime(format!("cannot start the metrics server: {e}")))?;
        Ok(Server { stop: Some(stop), thread: Some(thread) })
    }
}

async fn metrics(registry: Arc<Registry>) -> axum::response::Response {
    ([("content-type", CONTENT_TYPE)], super::encode(&registry)).into_response()
}

impl Server {
    /// Ends the server and waits for its thread.
    pub fn stop(mut self) {
        self.shut();
    }
    fn shut(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            drop(t.join());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut();
    }
}
