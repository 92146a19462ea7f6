//! `slow_close`: when the source side of the direction closes, the other side is closed `delay` later.
//!
//! Data still flows meanwhile; only the close (the FIN passed on) waits, from when the EOF was read.

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};
use std::time::Duration;

pub struct SlowClose {
    pub delay: Duration,
}

impl Toxic for SlowClose {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        match ctx.event {
            Event::Eof => Verdict::Delay(self.delay),
            Event::Data { .. } | Event::Tick => Verdict::Pass,
        }
    }
}
