//! The real clock: paces the event loop against wall time, `time_scale` scenario seconds per wall second.
//! (Virtual time needs no clock at all: the loop jumps from event to event.)

use crate::time::Nanos;
use std::time::{Duration, Instant};

/// The longest sleep between two looks at the signal flag.
const SLICE: Duration = Duration::from_millis(100);

pub struct Pacer {
    start: Instant,
    scale: f64,
}

impl Pacer {
    pub fn new(time_scale: f64) -> Pacer {
        Pacer { start: Instant::now(), scale: if time_scale > 0.0 { time_scale } else { 1.0 } }
    }

    /// Sleeps until scenario time `t` is due on the wall clock, or a signal arrives.
    pub fn wait_until(&mut self, t: Nanos) {
        let due = Duration::try_from_secs_f64(t as f64 / 1e9 / self.scale).unwrap_or(Duration::MAX);
        // In slices, so that a signal is seen within one (the loop then stops the run).
        loop {
            let elapsed = self.start.elapsed();
            if due <= elapsed || super::interrupt::received().is_some() {
                return;
            }
            std::thread::sleep((due - elapsed).min(SLICE));
        }
    }
}
