//! Passthrough, shutdown and toxicity: the proxy with no toxic, and which connections a toxic affects.

use super::*;

#[tokio::test]
async fn passthrough_echoes_1mb_identical() {
    let (proxy, _) = echo_proxy(Vec::new()).await;
    let mut stream = connect(&proxy).await;
    let data = random_bytes(1 << 20, 1);
    let back = round_trip(&mut stream, &data).await;
    assert!(back == data, "1 MB came back different");
    let stats = proxy.stats();
    assert_eq!(stats.connections, 1);
    assert!(stats.per_toxic.is_empty());
    eventually("byte counters", || {
        let s = proxy.stats();
        s.bytes_upstream == 1 << 20 && s.bytes_downstream == 1 << 20
    })
    .await;
}

#[tokio::test]
async fn half_close_passes_through() {
    let (proxy, _) = echo_proxy(Vec::new()).await;
    let mut stream = connect(&proxy).await;
    stream.write_all(b"last words").await.expect("write");
    stream.shutdown().await.expect("shutdown write");
    // The echo sees our EOF through the proxy, answers and closes; we see its data and then its EOF.
    let (got, err) = read_to_end(&mut stream).await;
    assert_eq!(got, b"last words");
    assert!(err.is_none(), "clean EOF expected, got {err:?}");
}

#[tokio::test]
async fn shutdown_closes_connections_and_stops_accepting() {
    let (proxy, _) = echo_proxy(Vec::new()).await;
    let mut stream = connect(&proxy).await;
    assert_eq!(round_trip(&mut stream, b"hello").await, b"hello");
    proxy.shutdown();
    let (got, _) = read_to_end(&mut stream).await;
    assert!(got.is_empty());
    // The listener is gone: connecting fails, or a connection that raced in is closed at once.
    tokio::time::sleep(ms(50)).await;
    if let Ok(mut late) = TcpStream::connect(proxy.addr()).await {
        let _ = late.write_all(b"x").await;
        let (got, _) = read_to_end(&mut late).await;
        assert!(got.is_empty());
    }
}

/// Opens `n` connections one after the other, each echoing a few bytes, and returns the toxic's affected count.
async fn affected(toxicity: f64, n: usize, seed: u64) -> u64 {
    let mut latency = toxic(ToxicKind::Latency { latency: ms(1), jitter: ms(0) }, 0, 60_000, Direction::Downstream);
    latency.toxicity = toxicity;
    let (proxy, _) = proxy_to(echo_server().await, vec![latency], seed).await;
    for _ in 0..n {
        let mut stream = connect(&proxy).await;
        assert_eq!(round_trip(&mut stream, b"ping").await, b"ping");
    }
    let stats = proxy.stats();
    assert_eq!(stats.connections, n as u64);
    stats.per_toxic[0].connections_affected
}

#[tokio::test]
async fn toxicity_zero_affects_none_one_affects_all() {
    assert_eq!(affected(0.0, 10, 3).await, 0);
    assert_eq!(affected(1.0, 10, 3).await, 10);
    // A half: some but not all of 20, and the same ones again with the same seed.
    let half = affected(0.5, 20, 3).await;
    assert!(half > 0 && half < 20, "toxicity 0.5 affected {half} of 20");
    assert_eq!(affected(0.5, 20, 3).await, half);
}
