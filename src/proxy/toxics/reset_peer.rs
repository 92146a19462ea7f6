//! `reset_peer`: the connection is reset (TCP RST on both sockets) `timeout` after the toxic reached it.
//!
//! A connection open when the window starts is reset `timeout` after the start; one accepted during the window is
//! reset `timeout` after its accept, so reconnecting during the window fails too (Toxiproxy's behaviour). The
//! connection's watcher checks it, so it fires with no data flowing.

use crate::proxy::toxic::{ChunkCtx, Toxic, Verdict};
use std::time::Duration;

pub struct ResetPeer {
    pub timeout: Duration,
}

impl Toxic for ResetPeer {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        if ctx.active_for() >= self.timeout {
            Verdict::Reset
        } else {
            Verdict::Pass
        }
    }
}
