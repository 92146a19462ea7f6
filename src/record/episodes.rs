//! Turns per-second flags into episodes: separate periods in which something held (failed calls, offered load
//! above capacity), merged across gaps shorter than the configured episode gap.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    /// First second (scenario time) in which it held.
    pub start_s: u64,
    /// Second after the last one in which it held.
    pub end_s: u64,
    /// What was counted over the episode (failed calls, or calls offered above capacity).
    pub total: u64,
}

#[derive(Debug)]
pub struct Episodes {
    gap_s: u64,
    current: Option<Episode>,
    done: Vec<Episode>,
}

impl Episodes {
    pub fn new(gap_s: u64) -> Episodes {
        Episodes { gap_s, current: None, done: Vec::new() }
    }

    /// Second `sec` had `amount` (> 0 means it held).
    pub fn observe(&mut self, sec: u64, amount: u64) {
        if amount == 0 {
            return;
        }
        match &mut self.current {
            Some(e) if sec <= e.end_s + self.gap_s => {
                e.end_s = sec + 1;
                e.total += amount;
            }
            _ => {
                if let Some(e) = self.current.take() {
                    self.done.push(e);
                }
                self.current = Some(Episode { start_s: sec, end_s: sec + 1, total: amount });
            }
        }
    }

    pub fn finish(mut self) -> Vec<Episode> {
        if let Some(e) = self.current.take() {
            self.done.push(e);
        }
        self.done
    }
}

/// Tracks when the backlog returns to its pre-fault level after the last fault ends, and stays there.
#[derive(Debug)]
pub struct Recovery {
    fault_start_s: Option<u64>,
    fault_end_s: Option<u64>,
    recent: std::collections::VecDeque<u64>,
    level: Option<u64>,
    last_above_s: Option<u64>,
    last_backlog: u64,
}

/// Seconds before the first fault over which the normal backlog is taken (its maximum).
const PRE_FAULT_WINDOW: usize = 30;

impl Recovery {
    pub fn new(fault_start_s: Option<u64>, fault_end_s: Option<u64>) -> Recovery {
        Recovery {
            fault_start_s,
            fault_end_s,
            recent: Default::default(),
            level: None,
            last_above_s: None,
            last_backlog: 0,
        }
    }

    /// The backlog at the end of second `sec`.
    pub fn observe(&mut self, sec: u64, backlog: u64) {
        let (Some(start), Some(end)) = (self.fault_start_s, self.fault_end_s) else { return };
        if sec < start {
            self.recent.push_back(backlog);
            if self.recent.len() > PRE_FAULT_WINDOW {
                self.recent.pop_front();
            }
            return;
        }
        let level = *self.level.get_or_insert_with(|| self.recent.iter().copied().max().unwrap_or(0));
        if sec + 1 >= end && backlog > level {
            self.last_above_s = Some(sec + 1);
        }
        self.last_backlog = backlog;
    }

    /// Seconds from the end of the last fault until the backlog was back to its pre-fault level for good;
    /// `None` if there was no ending fault or the run ended above the level.
    pub fn finish(&self) -> Option<f64> {
        let end = self.fault_end_s?;
        let level = self.level?;
        if self.last_backlog > level {
            return None;
        }
        Some(self.last_above_s.map_or(0, |s| s.saturating_sub(end)) as f64)
    }

    pub fn pre_fault_level(&self) -> Option<u64> {
        self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_close_together_merge_and_far_apart_split() {
        let mut e = Episodes::new(5);
        for s in [10, 11, 14, 20, 40, 41] {
            e.observe(s, 2);
        }
        e.observe(50, 0);
        let got = e.finish();
        assert_eq!(
            got,
            vec![Episode { start_s: 10, end_s: 21, total: 8 }, Episode { start_s: 40, end_s: 42, total: 4 }]
        );
    }

    #[test]
    fn recovery_is_measured_from_the_fault_end_to_the_last_excursion() {
        let mut r = Recovery::new(Some(5), Some(10));
        let backlog = [2, 3, 1, 2, 3, 50, 80, 90, 100, 120, 110, 60, 30, 3, 2, 4, 1, 0];
        for (s, b) in backlog.iter().enumerate() {
            r.observe(s as u64, *b);
        }
        assert_eq!(r.pre_fault_level(), Some(3));
        // above 3 until the end of second 12, and again for second 15 (4 > 3): recovered for good at 16
        assert_eq!(r.finish(), Some(6.0));
    }

    #[test]
    fn no_recovery_when_the_run_ends_above_the_level_or_without_faults() {
        let mut r = Recovery::new(Some(1), Some(2));
        for (s, b) in [0, 10, 20, 30].iter().enumerate() {
            r.observe(s as u64, *b);
        }
        assert_eq!(r.finish(), None);
        assert_eq!(Recovery::new(None, None).finish(), None);
    }
}
