//! `limit_data`: the connection is closed once `bytes` have passed in the direction since the toxic reached it.
//!
//! The chunk that reaches the limit is cut there: its first bytes up to the limit are written, then the
//! connection is closed (FIN on both sides). The watcher closes a connection that is already at the limit (a
//! limit of 0 closes at once, with no data flowing).

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};

pub struct LimitData {
    pub bytes: u64,
}

impl Toxic for LimitData {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        let left = self.bytes.saturating_sub(ctx.bytes_since_active);
        match ctx.event {
            _ if left == 0 => Verdict::Close,
            Event::Data { len } if len as u64 >= left => Verdict::CloseAfter(left as usize),
            _ => Verdict::Pass,
        }
    }
}
