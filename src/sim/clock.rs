//! The real clock: paces the event loop against wall time, `time_scale` scenario seconds per wall second.
//! (Virtual time needs no clock at all: the loop jumps from event to event.)

use crate::time::Nanos;
use std::time::{Duration, Instant};

pub struct Pacer {
    start: Instant,
    scale: f64,
}

impl Pacer {
    pub fn new(time_scale: f64) -> Pacer {
        Pacer { start: Instant::now(), scale: if time_scale > 0.0 { time_scale } else { 1.0 } }
    }

    /// Sleeps until scenario time `t` is due on the wall clock.
    pub fn wait_until(&mut self, t: Nanos) {
        let due = Duration::try_from_secs_f64(t as f64 / 1e9 / self.scale).unwrap_or(Duration::MAX);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}
