//! `latency`: every chunk is released `latency` ± uniform `jitter` after it was read, in order.
//!
//! The delay counts from when the proxy READ the chunk, so it is a pipeline delay, not a sleep per chunk: chunks
//! read while an earlier one waits wait concurrently and throughput is not cut. The writer releases chunks in
//! order, so a chunk's release is `max(previous release, arrival + delay)`: jitter never reorders bytes. A close
//! (EOF) is delayed by `latency` too, so it does not overtake the data before it.

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};
use rand::RngExt;
use std::time::Duration;

pub struct Latency {
    pub latency: Duration,
    pub jitter: Duration,
}

impl Toxic for Latency {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        match ctx.event {
            Event::Data { .. } => {
                let base = self.latency.as_nanos().min(u64::MAX as u128) as u64;
                let jitter = self.jitter.as_nanos().min(u64::MAX as u128 / 4) as u64;
                if jitter == 0 {
                    return Verdict::Delay(self.latency);
                }
                // Uniform in [base - jitter, base + jitter], floored at zero.
                let draw = ctx.rng.random_range(0..=2 * jitter);
                let nanos = (base as u128 + draw as u128).saturating_sub(jitter as u128);
                Verdict::Delay(Duration::from_nanos(nanos.min(u64::MAX as u128) as u64))
            }
            Event::Eof => Verdict::Delay(self.latency),
            Event::Tick => Verdict::Pass,
        }
    }
}
