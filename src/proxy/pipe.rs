//! One direction of a connection: a reader that queues chunks with their read time (a bounded queue, so a held
//! chunk stops the reading and back-pressure builds), and a writer that asks the toxics about each and writes.

use super::judge::Judge;
use super::stats::ToxicCounters;
use super::toxic::{Direction, Event, Verdict};
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// How long a held chunk waits before the toxics are asked again.
pub(crate) const HOLD_POLL: Duration = Duration::from_millis(5);
/// Chunks queued between the reader and the writer of a direction.
const QUEUE: usize = 16;
/// The largest chunk read at once.
const CHUNK: usize = 64 * 1024;

enum Item {
    Data(Vec<u8>, Instant),
    Eof(Instant),
    Failed(io::ErrorKind),
}

/// How a direction (or the whole connection) ended, and the toxic that ended it, if one did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The source closed and the close was passed on (write shutdown).
    Done,
    /// Close both sides now (FIN).
    Close(Option<usize>),
    /// Reset both sides (RST).
    Reset(Option<usize>),
}

impl End {
    fn from_error(kind: io::ErrorKind) -> End {
        match kind {
            io::ErrorKind::ConnectionReset => End::Reset(None),
            _ => End::Close(None),
        }
    }
}

/// Copies `src` to `dst` through the toxics of `dir` until the source closes (`Done`) or something ends the
/// connection.
pub(crate) async fn direction<R, W>(dir: Direction, src: &mut R, dst: &mut W, judge: &Judge) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel(QUEUE);
    let reader = read_loop(src, tx);
    let writer = write_loop(dir, dst, rx, judge);
    tokio::pin!(reader, writer);
    let ended = tokio::select! {
        end = &mut writer => Some(end),
        () = &mut reader => None,
    };
    match ended {
        Some(end) => end,
        None => writer.await,
    }
}

async fn read_loop<R: AsyncRead + Unpin>(src: &mut R, tx: mpsc::Sender<Item>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let item = match src.read(&mut buf).await {
            Ok(0) => Item::Eof(Instant::now()),
            Ok(n) => Item::Data(buf[..n].to_vec(), Instant::now()),
            Err(e) => Item::Failed(e.kind()),
        };
        let last = !matches!(item, Item::Data(..));
        if tx.send(item).await.is_err() || last {
            return;
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    dir: Direction,
    dst: &mut W,
    mut rx: mpsc::Receiver<Item>,
    judge: &Judge,
) -> End {
    while let Some(item) = rx.recv().await {
        match item {
            Item::Data(bytes, at) => {
                if let Err(end) = write_chunk(dir, dst, &bytes, at, judge).await {
                    return end;
                }
            }
            Item::Eof(at) => return pass_eof(dir, dst, at, judge).await,
            Item::Failed(kind) => return End::from_error(kind),
        }
    }
    End::Close(None)
}

/// Writes one chunk as the first active toxic that does not pass says; `Err` ends the connection.
async fn write_chunk<W: AsyncWrite + Unpin>(
    dir: Direction,
    dst: &mut W,
    bytes: &[u8],
    at: Instant,
    judge: &Judge,
) -> Result<(), End> {
    let delayed = |i: usize| judge.counters().bump(i, |c: &ToxicCounters| &c.chunks_delayed, 1);
    let mut held = false;
    loop {
        let Some((i, verdict)) = judge.decide(Some(dir), Event::Data { len: bytes.len() }, at) else {
            return put(dir, dst, bytes, judge).await;
        };
        return match verdict {
            Verdict::Pass => put(dir, dst, bytes, judge).await,
            Verdict::Delay(d) => {
                delayed(i);
                sleep_until(at, d).await;
                put(dir, dst, bytes, judge).await
            }
            Verdict::Hold => {
                if !held {
                    held = true;
                    judge.counters().bump(i, |c| &c.bytes_held, bytes.len() as u64);
                }
                tokio::time::sleep(HOLD_POLL).await;
                continue;
            }
            Verdict::Close => Err(End::Close(Some(i))),
            Verdict::CloseAfter(n) => {
                put(dir, dst, &bytes[..n.min(bytes.len())], judge).await?;
                Err(End::Close(Some(i)))
            }
            Verdict::Reset => Err(End::Reset(Some(i))),
            Verdict::Slice { sizes, delay } => {
                delayed(i);
                let mut rest = bytes;
                for (k, size) in sizes.into_iter().enumerate() {
                    if rest.is_empty() {
                        break;
                    }
                    if k > 0 && !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let (piece, tail) = rest.split_at(size.clamp(1, rest.len()));
                    put(dir, dst, piece, judge).await?;
                    rest = tail;
                }
                put(dir, dst, rest, judge).await
            }
            Verdict::Throttle { bytes_per_s } => {
                delayed(i);
                throttle(dir, dst, bytes, bytes_per_s.max(1), judge).await
            }
        };
    }
}

/// Writes in pieces of a tenth of a second's worth, keeping to `rate` from the first piece on.
async fn throttle<W: AsyncWrite + Unpin>(
    dir: Direction,
    dst: &mut W,
    bytes: &[u8],
    rate: u64,
    judge: &Judge,
) -> Result<(), End> {
    let piece = usize::try_from(rate / 10).unwrap_or(CHUNK).clamp(1, CHUNK);
    let start = Instant::now();
    let mut sent = 0u64;
    for chunk in bytes.chunks(piece) {
        put(dir, dst, chunk, judge).await?;
        sent += chunk.len() as u64;
        sleep_until(start, Duration::from_secs_f64(sent as f64 / rate as f64)).await;
    }
    Ok(())
}

/// Passes the source's close on (write shutdown) as the first active toxic that does not pass says.
async fn pass_eof<W: AsyncWrite + Unpin>(dir: Direction, dst: &mut W, at: Instant, judge: &Judge) -> End {
    loop {
        match judge.decide(Some(dir), Event::Eof, at) {
            Some((_, Verdict::Hold)) => tokio::time::sleep(HOLD_POLL).await,
            Some((i, Verdict::Delay(d))) => {
                judge.counters().bump(i, |c| &c.chunks_delayed, 1);
                sleep_until(at, d).await;
                break;
            }
            Some((i, Verdict::Close | Verdict::CloseAfter(_))) => return End::Close(Some(i)),
            Some((i, Verdict::Reset)) => return End::Reset(Some(i)),
            // Passing, slicing or throttling mean nothing for a close.
            _ => break,
        }
    }
    // An error here means the peer is gone already; the other direction finds out on its own.
    let _ = dst.shutdown().await;
    End::Done
}

async fn put<W: AsyncWrite + Unpin>(dir: Direction, dst: &mut W, bytes: &[u8], judge: &Judge) -> Result<(), End> {
    if bytes.is_empty() {
        return Ok(());
    }
    match dst.write_all(bytes).await {
        Ok(()) => {
            judge.wrote(dir, bytes.len());
            Ok(())
        }
        Err(e) => Err(End::from_error(e.kind())),
    }
}

/// Sleeps until `from + d` (at once if that has passed).
async fn sleep_until(from: Instant, d: Duration) {
    let Some(at) = from.checked_add(d) else {
        return std::future::pending().await;
    };
    if at > Instant::now() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}
