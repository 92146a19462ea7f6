//! One proxied connection: connects upstream, runs both directions and the watcher, and ends the connection the
//! way it ended (both closed, a toxic's close or reset, an error, or the proxy's shutdown).

use super::judge::{Judge, Plan};
use super::pipe::{self, End};
use super::toxic::{Direction, Event, Verdict};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How often the watcher asks the toxics that act without data while one is active.
const TICK: Duration = Duration::from_millis(5);
/// How often the watcher looks for the schedule's origin while it is not set.
const NO_ORIGIN_POLL: Duration = Duration::from_millis(50);

/// Serves one accepted connection until it ends; `stop` turns true at the proxy's shutdown.
pub(crate) async fn serve(
    client: TcpStream,
    upstream: Arc<(String, u16)>,
    judge: Judge,
    mut stop: watch::Receiver<bool>,
) {
    let server = tokio::select! {
        server = TcpStream::connect((upstream.0.as_str(), upstream.1)) => match server {
            Ok(server) => server,
            // The client is dropped, so it sees its connection closed.
            Err(_) => return,
        },
        _ = stop.wait_for(|stopped| *stopped) => return,
    };
    // Small writes (AMQP frames) must not wait for Nagle: the toxics decide the timing.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let end = {
        let up = pipe::direction(Direction::Upstream, &mut client_read, &mut server_write, &judge);
        let down = pipe::direction(Direction::Downstream, &mut server_read, &mut client_write, &judge);
        let watcher = watch_toxics(&judge);
        tokio::pin!(up, down, watcher);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                end = &mut up, if !up_done => {
                    up_done = true;
                    if end != End::Done || down_done {
                        break end;
                    }
                }
                end = &mut down, if !down_done => {
                    down_done = true;
                    if end != End::Done || up_done {
                        break end;
                    }
                }
                end = &mut watcher => break end,
                // Shutdown, or the proxy was dropped.
                _ = stop.wait_for(|stopped| *stopped) => break End::Close(None),
            }
        }
    };
    let counters = judge.counters();
    match end {
        End::Done => {}
        End::Close(by) => {
            if let Some(i) = by {
                counters.bump(i, |c| &c.connections_closed, 1);
            }
            let _ = client_write.shutdown().await;
            let _ = server_write.shutdown().await;
        }
        End::Reset(by) => {
            if let Some(i) = by {
                counters.bump(i, |c| &c.connections_reset, 1);
            }
            // RST: linger zero, and no write shutdown (a FIN first would read as a clean EOF).
            let _ = client_write.as_ref().set_zero_linger();
            let _ = server_write.as_ref().set_zero_linger();
            client_write.forget();
            server_write.forget();
        }
    }
}

/// Asks the toxics that act without data, every tick while one is active for this connection; returns when one
/// closes or resets it.
async fn watch_toxics(judge: &Judge) -> End {
    loop {
        match judge.plan() {
            Plan::Never => return std::future::pending().await,
            Plan::Later => tokio::time::sleep(NO_ORIGIN_POLL).await,
            Plan::Until(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
            Plan::Tick => {
                match judge.decide(None, Event::Tick, Instant::now()) {
                    Some((i, Verdict::Close | Verdict::CloseAfter(_))) => return End::Close(Some(i)),
                    Some((i, Verdict::Reset)) => return End::Reset(Some(i)),
                    _ => {}
                }
                tokio::time::sleep(TICK).await;
            }
        }
    }
}
