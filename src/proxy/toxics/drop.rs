//! `drop` (packet loss): with `probability` a chunk waits one retransmission timeout `rto` before it is released.
//!
//! TCP does not lose bytes: a lost segment is retransmitted after the RTO (Linux's minimum is 200 ms, the value
//! the caller passes by default), and everything behind it waits. So this toxic never drops data: a "lost" chunk
//! is delayed by `rto` from when it was read, and later chunks queue behind it in order. The draws come from the
//! (connection, toxic) stream seeded from the proxy's seed.

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};
use rand::RngExt;
use std::time::Duration;

pub struct PacketLoss {
    pub probability: f64,
    pub rto: Duration,
}

impl Toxic for PacketLoss {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        let p = if self.probability.is_nan() { 0.0 } else { self.probability.clamp(0.0, 1.0) };
        match ctx.event {
            Event::Data { .. } if ctx.rng.random_bool(p) => Verdict::Delay(self.rto),
            _ => Verdict::Pass,
        }
    }
}
