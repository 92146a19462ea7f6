//! `loadtest dlq serve`: an HTTP endpoint (axum) on a local address. `GET /dlq/{queue}` (depth, by reason, oldest,
//! a page of messages, as `inspect --json`), `GET /metrics` (Prometheus text exposition for the `--queue`s),
//! `GET /healthz`; `POST /dlq/{queue}/replay` only with `--allow-replay`. Each request opens its own connection.

use crate::broker::rabbitmq::connect::Endpoint;
use crate::broker::rabbitmq::dlq::{self, DlqError};
use crate::cli::DlqServeArgs;
use crate::dlq::{by_reason, parse_rate, unix_now, Filter};
use crate::exit::Failure;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Messages read per queue for `/metrics`'s count by reason (the depth itself is exact).
const METRICS_SAMPLE: usize = 1000;

struct App {
    endpoint: Endpoint,
    queues: Vec<String>,
    allow_replay: bool,
}

pub fn serve(a: &DlqServeArgs) -> Result<(), Failure> {
    let addr: SocketAddr = a
        .listen
        .parse()
        .map_err(|_| Failure::input(format!("--listen {:?}: write ADDRESS:PORT, e.g. 127.0.0.1:9187", a.listen)))?;
    if !addr.ip().is_loopback() && !a.allow_non_local {
        return Err(Failure::input(format!(
            "--listen {addr} is not a loopback address: anyone who reaches it could read the dead letters; add \
             --allow-non-local to mean it"
        )));
    }
    let endpoint = super::endpoint(&a.broker)?;
    endpoint.probe().map_err(Failure::runtime)?;
    let app = Arc::new(App { endpoint, queues: a.queues.clone(), allow_replay: a.allow_replay });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the server's runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::runtime(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Failure::runtime(e.to_string()))?;
        if !bound.ip().is_loopback() {
            crate::errln!(
                "warning: listening on {bound}, not on loopback: anyone who reaches it can read the dead letters"
            );
        }
        let mode = if app.allow_replay { "; POST /dlq/{queue}/replay enabled" } else { "; read-only" };
        super::print(&format!("listening on http://{bound} (GET /dlq/{{queue}}, /metrics, /healthz{mode})\n"))?;
        let router = Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/metrics", get(metrics))
            .route("/dlq/{queue}", get(queue))
            .route("/dlq/{queue}/replay", post(replay))
            .with_state(app);
        axum::serve(listener, router).await.map_err(|e| Failure::runtime(format!("the server failed: {e}")))
    })
}

fn error(status: StatusCode, why: String) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}

fn dlq_error(e: DlqError) -> Response {
    match e {
        DlqError::NoQueue(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        DlqError::Broker(_) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

async fn connection(app: &App, what: &str) -> Result<lapin::Connection, Response> {
    app.endpoint.open(&format!("loadtest dlq serve {what}")).await.map_err(|e| error(StatusCode::BAD_GATEWAY, e))
}

/// `GET /dlq/{queue}?limit=50`: the queue's depth, its messages' reasons, the oldest, and a page of messages.
async fn queue(
    State(app): State<Arc<App>>,
    Path(queue): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(l)) if l <= 10_000 => l,
        Some(_) => return error(StatusCode::BAD_REQUEST, "limit must be a number from 0 to 10000".into()),
    };
    let conn = match connection(&app, "read").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = dlq::peek(&conn, &queue, limit).await;
    let _ = conn.close(200, "served".into()).await;
    match result {
        Ok((depth, letters)) => Json(serde_json::json!({
            "queue": queue,
            "depth": depth,
            "read": letters.len(),
            "by_reason": by_reason(&letters),
            "oldest_died_at": letters.iter().filter_map(|d| d.died_at).min(),
            "messages": letters,
        }))
        .into_response(),
        Err(e) => dlq_error(e),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    queue: String,
    reason: String,
}

/// `GET /metrics`: depth, oldest age and count by reason of every `--queue`, in Prometheus's text format.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let depth = Family::<QueueLabel, Gauge>::default();
    let age = Family::<QueueLabel, Gauge<f64, AtomicU64>>::default();
    let reasons = Family::<ReasonLabel, Gauge>::default();
    let up = Family::<QueueLabel, Gauge>::default();
    let conn = connection(&app, "metrics").await.ok();
    let now = unix_now();
    for q in &app.queues {
        let label = QueueLabel { queue: q.clone() };
        let Some(conn) = &conn else {
            up.get_or_create(&label).set(0);
            continue;
        };
        match dlq::peek(conn, q, METRICS_SAMPLE).await {
            Ok((d, letters)) => {
                up.get_or_create(&label).set(1);
                depth.get_or_create(&label).set(d.min(i64::MAX as u64) as i64);
                if let Some(oldest) = letters.iter().filter_map(|l| l.died_at).min() {
                    age.get_or_create(&label).set(now.saturating_sub(oldest) as f64);
                }
                for (reason, r) in by_reason(&letters) {
                    let l = ReasonLabel { queue: q.clone(), reason };
                    reasons.get_or_create(&l).set(r.count.min(i64::MAX as u64) as i64);
                }
            }
            Err(_) => {
                up.get_or_create(&label).set(0);
            }
        }
    }
    if let Some(conn) = conn {
        let _ = conn.close(200, "scraped".into()).await;
    }
    let mut registry = Registry::default();
    registry.register("loadtest_dlq_up", "Whether the dead-letter queue could be read (1) or not (0)", up);
    registry.register("loadtest_dlq_messages", "Messages in the dead-letter queue", depth);
    registry.register(
        "loadtest_dlq_oldest_message_age_seconds",
        "Age of the oldest dead letter read, by its death time",
        age,
    );
    let help = format!("Dead letters by reason among the first {METRICS_SAMPLE} messages of the queue");
    registry.register("loadtest_dlq_messages_by_reason", help, reasons);
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

#[derive(serde::Deserialize)]
struct ReplayRequest {
    to: String,
    #[serde(default)]
    filter: Vec<String>,
    older_than: Option<String>,
    limit: Option<u64>,
    rate: Option<String>,
    #[serde(default)]
    dry_run: bool,
    max_replays: Option<u32>,
}

/// `POST /dlq/{queue}/replay` with `{"to": "...", "filter": [...], "limit": N, "rate": "10/s", "dry_run": true}`.
async fn replay(State(app): State<Arc<App>>, Path(from): Path<String>, body: Option<Json<ReplayRequest>>) -> Response {
    if !app.allow_replay {
        return error(
            StatusCode::FORBIDDEN,
            "replay is disabled: start `loadtest dlq serve` with --allow-replay".into(),
        );
    }
    let Some(Json(req)) = body else {
        return error(StatusCode::BAD_REQUEST, "send a JSON body like {\"to\": \"orders\", \"dry_run\": true}".into());
    };
    let mut filter = Filter::default();
    for f in &req.filter {
        if let Err(e) = filter.add(f) {
            return error(StatusCode::BAD_REQUEST, e);
        }
    }
    if let Some(age) = &req.older_than {
        match crate::time::Dur::parse(age) {
            Ok(d) => filter.older_than = Some(d),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("older_than: {e}")),
        }
    }
    let rate = match req.rate.as_deref().map(parse_rate).transpose() {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("rate {e}")),
    };
    if from == req.to {
        return error(StatusCode::BAD_REQUEST, "from and to are the same queue".into());
    }
    let o = dlq::ReplayOpts {
        from,
        to: req.to,
        filter,
        limit: req.limit,
        rate,
        dry_run: req.dry_run,
        max_replays: req.max_replays.unwrap_or(3).max(1),
        journal: None,
    };
    let (read, publish) = match (connection(&app, "replay read").await, connection(&app, "replay publish").await) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let (report, err) = dlq::replay(&read, &publish, &o, &mut |_, _| {}).await;
    let _ = read.close(200, "replayed".into()).await;
    let _ = publish.close(200, "replayed".into()).await;
    match err {
        Some(DlqError::NoQueue(q)) if report.examined == 0 => dlq_error(DlqError::NoQueue(q)),
        e => Json(serde_json::json!({ "report": report, "error": e.map(|e| e.to_string()) })).into_response(),
    }
}
