//! `timeout`: a blackhole (a partition): no data passes in the direction while the toxic is active.
//!
//! DEVIATION from Toxiproxy, which drops the data: this toxic HOLDS it. The writer stops forwarding and the
//! reader stops reading once the small queue is full, so TCP back-pressure builds up to the sender, and the held
//! bytes are released in order when the toxic ends. Dropping bytes inside a TCP stream corrupts the protocol's
//! framing, which no real partition does to TCP (it retransmits until the path heals or the connection dies).
//! The close (EOF) is held too, behind the data.
//!
//! As in Toxiproxy, if `timeout > 0` the connection is closed once it has been blackholed that long (checked on
//! every chunk and by the connection's watcher, so it fires with no data flowing); `timeout = 0` keeps the
//! connection open until the toxic ends.

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};
use std::time::Duration;

pub struct Timeout {
    pub timeout: Duration,
}

impl Toxic for Timeout {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        if !self.timeout.is_zero() && ctx.active_for() >= self.timeout {
            return Verdict::Close;
        }
        match ctx.event {
            Event::Data { .. } | Event::Eof => Verdict::Hold,
            Event::Tick => Verdict::Pass,
        }
    }
}
