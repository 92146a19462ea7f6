//! `slicer`: each chunk is cut into pieces of `average_size` ± uniform `size_variation` bytes (at least 1),
//! written `delay` apart. The bytes and their order are untouched; only their packaging changes.

use crate::proxy::toxic::{ChunkCtx, Event, Toxic, Verdict};
use rand::RngExt;
use std::time::Duration;

pub struct Slicer {
    pub average_size: usize,
    pub size_variation: usize,
    pub delay: Duration,
}

impl Toxic for Slicer {
    fn verdict(&self, ctx: &mut ChunkCtx) -> Verdict {
        let Event::Data { len } = ctx.event else { return Verdict::Pass };
        let average = self.average_size.max(1);
        let variation = self.size_variation.min(average - 1);
        let mut sizes = Vec::with_capacity(len / average + 1);
        let mut left = len;
        while left > 0 {
            let size = if variation == 0 {
                average
            } else {
                ctx.rng.random_range(average - variation..=average.saturating_add(variation))
            };
            let size = size.clamp(1, left);
            sizes.push(size);
            left -= size;
        }
        Verdict::Slice { sizes, delay: self.delay }
    }
}
