//! The toxics that only change timing: latency (with jitter, and starting on an open connection), bandwidth,
//! slicer, packet loss and slow close. The bytes must always arrive intact and in order.

use super::*;

#[tokio::test]
async fn latency_with_jitter_keeps_order_and_content_and_delays() {
    let kind = ToxicKind::Latency { latency: ms(50), jitter: ms(20) };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Downstream)]).await;
    let mut stream = connect(&proxy).await;
    let (mut r, mut w) = stream.split();
    const N: usize = 40;
    const SIZE: usize = 1000;
    let data = random_bytes(N * SIZE, 2);
    let write = async {
        let mut sent = Vec::new();
        for msg in data.chunks(SIZE) {
            sent.push(Instant::now());
            w.write_all(msg).await.expect("write");
            tokio::time::sleep(ms(2)).await;
        }
        sent
    };
    let read = async {
        let (mut back, mut got) = (Vec::new(), Vec::new());
        let mut buf = vec![0u8; 65536];
        while back.len() < data.len() {
            let n = r.read(&mut buf).await.expect("read");
            assert!(n > 0, "EOF before all the data");
            back.extend_from_slice(&buf[..n]);
            while got.len() < back.len() / SIZE {
                got.push(Instant::now());
            }
        }
        (back, got)
    };
    let (sent, (back, got)) =
        tokio::time::timeout(PATIENCE, async { tokio::join!(write, read) }).await.expect("in time");
    assert!(back == data, "bytes changed or reordered");
    for (i, (s, g)) in sent.iter().zip(&got).enumerate() {
        let rtt = g.duration_since(*s);
        assert!(rtt >= ms(30), "message {i} came back after {rtt:?}, under latency - jitter");
    }
    let stats = &proxy.stats().per_toxic[0];
    assert_eq!(stats.connections_affected, 1);
    assert!(stats.chunks_delayed > 0);
}

#[tokio::test]
async fn latency_starting_later_acts_on_an_open_connection() {
    let kind = ToxicKind::Latency { latency: ms(200), jitter: ms(0) };
    let (proxy, origin) = echo_proxy(vec![toxic(kind, 300, 60_000, Direction::Downstream)]).await;
    let mut stream = connect(&proxy).await;
    assert_eq!(round_trip(&mut stream, b"before").await, b"before");
    if origin.elapsed() < ms(300) {
        assert_eq!(proxy.stats().per_toxic[0].chunks_delayed, 0, "acted before its window");
    }
    tokio::time::sleep_until((origin + ms(350)).into()).await;
    let sent = Instant::now();
    assert_eq!(round_trip(&mut stream, b"after").await, b"after");
    assert!(sent.elapsed() >= ms(200), "the open connection was not delayed");
    assert_eq!(proxy.stats().per_toxic[0].connections_affected, 1);
}

#[tokio::test]
async fn bandwidth_limits_the_rate() {
    let kind = ToxicKind::Bandwidth { rate_bytes_per_s: 100_000 };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Downstream)]).await;
    let mut stream = connect(&proxy).await;
    let data = random_bytes(50_000, 3);
    let sent = Instant::now();
    let back = round_trip(&mut stream, &data).await;
    let took = sent.elapsed();
    assert!(back == data, "bytes changed");
    // 50 KB at 100 KB/s, less the last tenth-of-a-second piece.
    assert!(took >= ms(390), "50 KB at 100 KB/s took only {took:?}");
    assert!(proxy.stats().per_toxic[0].chunks_delayed > 0);
}

#[tokio::test]
async fn slicer_delivers_intact_data() {
    let kind = ToxicKind::Slicer { average_size: 100, size_variation: 50, delay: ms(1) };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Upstream)]).await;
    let mut stream = connect(&proxy).await;
    let data = random_bytes(10_000, 4);
    assert!(round_trip(&mut stream, &data).await == data, "sliced bytes changed");
    let stats = &proxy.stats().per_toxic[0];
    assert!(stats.chunks_delayed > 0 && stats.connections_affected == 1);
}

#[tokio::test]
async fn packet_loss_delays_by_the_rto_and_loses_nothing() {
    let kind = ToxicKind::Drop { probability: 1.0, rto: ms(100) };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Upstream)]).await;
    let mut stream = connect(&proxy).await;
    let data = random_bytes(20_000, 5);
    let sent = Instant::now();
    assert!(round_trip(&mut stream, &data).await == data, "bytes changed");
    assert!(sent.elapsed() >= ms(100));
    assert!(proxy.stats().per_toxic[0].chunks_delayed > 0);
}

#[tokio::test]
async fn slow_close_delays_the_close() {
    let kind = ToxicKind::SlowClose { delay: ms(300) };
    let (proxy, _) = echo_proxy(vec![toxic(kind, 0, 60_000, Direction::Downstream)]).await;
    let mut stream = connect(&proxy).await;
    stream.write_all(b"bye").await.expect("write");
    let closed = Instant::now();
    stream.shutdown().await.expect("shutdown write");
    // The echo closes after our close; its close reaches us 300 ms after the proxy read it.
    let (got, err) = read_to_end(&mut stream).await;
    assert_eq!(got, b"bye");
    assert!(err.is_none(), "clean EOF expected, got {err:?}");
    assert!(closed.elapsed() >= ms(300), "the close came after {:?}", closed.elapsed());
    assert_eq!(proxy.stats().per_toxic[0].chunks_delayed, 1);
}
