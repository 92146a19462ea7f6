//! `bandwidth`: the direction limited to `rate_bytes_per_s`.
//!
//! The writer cuts each chunk into pieces of a tenth of a second's worth of bytes and sleeps `piece / rate`
//! after writing each, so a transfer of N bytes takes at least `(N - piece) / rate`.

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};

pub struct Bandwidth {
    pub rate_bytes_per_s: u64,
}

impl Toxic for Bandwidth {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        match ctx.event {
            Event::Data { .. } => Verdict::Throttle { bytes_per_s: self.rate_bytes_per_s.max(1) },
            Event::Eof | Event::Tick => Verdict::Pass,
        }
    }
}
