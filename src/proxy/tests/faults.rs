//! The toxics that stop or end connections (timeout, reset_peer, limit_data) and the first-non-pass-wins rule.

use super::*;

#[tokio::test]
async fn timeout_zero_holds_the_data_and_releases_it_intact() {
    let (sink, got) = sink_server().await;
    let kind = ToxicKind::Timeout { timeout: ms(0) };
    let (proxy, origin) = proxy_to(sink, vec![toxic(kind, 0, 700, Direction::Upstream)], 7).await;
    let mut stream = connect(&proxy).await;
    let data = random_bytes(100_000, 6);
    stream.write_all(&data).await.expect("write");
    tokio::time::sleep_until((origin + ms(400)).into()).await;
    if origin.elapsed() < ms(700) {
        assert!(got.lock().expect("sink").is_empty(), "data passed the blackhole");
    }
    eventually("the held data", || got.lock().map(|g| g.len() >= data.len()).unwrap_or(false)).await;
    assert!(origin.elapsed() >= ms(700), "released before the window ended");
    assert!(*got.lock().expect("sink") == data, "held bytes changed");
    // Still open after healing.
    stream.write_all(b"more").await.expect("write after the window");
    eventually("data after the window", || got.lock().map(|g| g.ends_with(b"more")).unwrap_or(false)).await;
    let stats = &proxy.stats().per_toxic[0];
    assert!(stats.bytes_held > 0 && stats.connections_affected == 1 && stats.connections_closed == 0);
}

#[tokio::test]
async fn timeout_closes_the_connection_with_or_without_data() {
    let kind = ToxicKind::Timeout { timeout: ms(200) };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Downstream)]).await;
    let started = Instant::now();
    let mut busy = connect(&proxy).await;
    let mut idle = connect(&proxy).await;
    busy.write_all(b"into the void").await.expect("write");
    let (got, _) = read_to_end(&mut busy).await;
    assert!(got.is_empty(), "data passed the blackhole");
    let (got, _) = read_to_end(&mut idle).await;
    assert!(got.is_empty());
    assert!(started.elapsed() >= ms(200));
    eventually("both counted closed", || proxy.stats().per_toxic[0].connections_closed == 2).await;
}

#[tokio::test]
async fn reset_peer_resets_open_and_new_connections_during_the_window() {
    let kind = ToxicKind::ResetPeer { timeout: ms(100) };
    let (proxy, origin) = echo_proxy(vec![toxic(kind, 300, 1300, Direction::Downstream)]).await;
    let mut open = connect(&proxy).await;
    assert_eq!(round_trip(&mut open, b"fine").await, b"fine");
    let (_, err) = read_to_end(&mut open).await;
    assert!(origin.elapsed() >= ms(400), "reset before window start + timeout");
    let kind = err.map(|e| e.kind());
    assert_eq!(kind, Some(io::ErrorKind::ConnectionReset), "an RST expected");
    // Reconnecting during the window fails too: the new connection is reset after the timeout.
    let reconnected = Instant::now();
    let mut again = connect(&proxy).await;
    let (_, err) = read_to_end(&mut again).await;
    assert!(reconnected.elapsed() >= ms(100), "reset before its timeout");
    assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::ConnectionReset), "the reconnection was not reset");
    // After the window connections work.
    tokio::time::sleep_until((origin + ms(1350)).into()).await;
    let mut after = connect(&proxy).await;
    assert_eq!(round_trip(&mut after, b"healed").await, b"healed");
    let stats = &proxy.stats().per_toxic[0];
    assert!(stats.connections_reset >= 2, "{stats:?}");
    assert_eq!(stats.connections_reset, stats.connections_affected);
}

#[tokio::test]
async fn limit_data_closes_after_n_bytes() {
    let kind = ToxicKind::LimitData { bytes: 1000 };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Downstream)]).await;
    let mut stream = connect(&proxy).await;
    let data = random_bytes(5000, 8);
    stream.write_all(&data).await.expect("write");
    let (got, _) = read_to_end(&mut stream).await;
    assert_eq!(got.len(), 1000);
    assert!(got == data[..1000], "the first 1000 bytes changed");
    eventually("counted closed", || proxy.stats().per_toxic[0].connections_closed == 1).await;
}

#[tokio::test]
async fn limit_data_zero_closes_with_no_data_flowing() {
    let kind = ToxicKind::LimitData { bytes: 0 };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Upstream)]).await;
    let mut stream = connect(&proxy).await;
    let (got, _) = read_to_end(&mut stream).await;
    assert!(got.is_empty());
}

#[tokio::test]
async fn first_scheduled_toxic_that_acts_wins() {
    // Latency first: it decides every chunk, so the blackhole scheduled after it never holds anything.
    let latency = toxic(ToxicKind::Latency { latency: ms(100), jitter: ms(0) }, 0, 60_000, Direction::Downstream);
    let blackhole = toxic(ToxicKind::Timeout { timeout: ms(0) }, 0, 60_000, Direction::Downstream);
    let (proxy, _) = echo_proxy(vec![latency.clone(), blackhole.clone()]).await;
    let mut stream = connect(&proxy).await;
    let sent = Instant::now();
    assert_eq!(round_trip(&mut stream, b"latency wins").await, b"latency wins");
    assert!(sent.elapsed() >= ms(100));
    let stats = proxy.stats();
    assert_eq!(stats.per_toxic[0].connections_affected, 1);
    assert_eq!((stats.per_toxic[1].connections_affected, stats.per_toxic[1].bytes_held), (0, 0));

    // The blackhole first (until 600 ms): it holds, and only once it ends does the latency decide.
    let blackhole = Scheduled { end: ms(600), ..blackhole };
    let (proxy, origin) = echo_proxy(vec![blackhole, latency]).await;
    let mut stream = connect(&proxy).await;
    assert_eq!(round_trip(&mut stream, b"held first").await, b"held first");
    assert!(origin.elapsed() >= ms(600), "the blackhole did not hold");
    assert!(proxy.stats().per_toxic[0].bytes_held > 0);
}
