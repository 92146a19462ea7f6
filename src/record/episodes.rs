//! Turns per-second flags into episodes: separate periods in which something held (failed calls, offered load
//! above capacity), merged across gaps shorter than the configured episode gap.

use crate::time::{Nanos, NS_PER_SEC};
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

/// Tracks when the backlog is back within a band around its pre-fault level after the last fault ends, and stays
/// in it for `HOLD_S` seconds (or until the run ends): noise around the normal level is not a lack of recovery, so
/// a fault that changed nothing recovers at once. Only faults that happened count: one that starts after the run
/// ended is left out, one cut short by the run's end counts.
#[derive(Debug)]
pub struct Recovery {
    /// Every fault's (start, end) in scenario time, by start; `None` for one that never ends (a crash without restart).
    faults: Vec<(Nanos, Option<Nanos>)>,
    /// `faults[..reached]` have started.
    reached: usize,
    /// When the last fault that started ends (of those that end).
    end: Option<Nanos>,
    recent: std::collections::VecDeque<u64>,
    level: Option<u64>,
    /// The first of the seconds in the band up to now (`None` while above it).
    in_band_since: Option<u64>,
    /// When the backlog came back for good enough, measured from the last fault's end.
    recovered_at: Option<u64>,
}

/// Seconds before the first fault over which the normal backlog is taken (its maximum).
const PRE_FAULT_WINDOW: usize = 30;
/// How long the backlog must stay in the band to count as recovered (less if the run ends first).
pub const HOLD_S: u64 = 30;
/// The band reaches this many messages above the pre-fault level at least; half the level if that is more.
pub const BAND_FLOOR: u64 = 10;

/// The highest backlog that counts as back to normal, for a pre-fault level `level`.
pub fn band_top(level: u64) -> u64 {
    level + BAND_FLOOR.max(level / 2)
}

impl Recovery {
    /// `faults`: each fault's start and end (if it ends), in scenario time.
    pub fn new(mut faults: Vec<(Nanos, Option<Nanos>)>) -> Recovery {
        faults.sort_by_key(|f| f.0);
        Recovery {
            faults,
            reached: 0,
            end: None,
            recent: Default::default(),
            level: None,
            in_band_since: None,
            recovered_at: None,
        }
    }

    /// The backlog at the end of second `sec`; `until` is the end of that second, or the run's end for its last.
    pub fn observe(&mut self, sec: u64, backlog: u64, until: Nanos) {
        while let Some(&(_, end)) = self.faults.get(self.reached).filter(|f| f.0 < until) {
            self.reached += 1;
            if end.is_some_and(|e| self.end.is_none_or(|known| e > known)) {
                // A later end: recovery is measured from it, not from an earlier fault's.
                self.end = end;
                self.recovered_at = None;
            }
        }
        let Some(&(first, _)) = self.faults.first() else { return };
        if sec < first / NS_PER_SEC {
            self.recent.push_back(backlog);
            if self.recent.len() > PRE_FAULT_WINDOW {
                self.recent.pop_front();
            }
            return;
        }
        let Some(end) = self.end.map(|e| e / NS_PER_SEC) else {
            return; // no fault that happened ends (yet): nothing to recover from
        };
        let level = *self.level.get_or_insert_with(|| self.recent.iter().copied().max().unwrap_or(0));
        if backlog > band_top(level) {
            self.in_band_since = None;
            return;
        }
        let since = (*self.in_band_since.get_or_insert(sec)).max(end);
        if self.recovered_at.is_none() && sec + 1 >= since + HOLD_S {
            self.recovered_at = Some(since);
        }
    }

    /// Seconds `from..to`, each with the backlog `backlog` and closed at its end (idle seconds closed at once):
    /// what `observe` of each would do, in a step per stretch of seconds that observe alike.
    pub fn observe_idle(&mut self, from: u64, to: u64, backlog: u64) {
        let mut sec = from;
        while sec < to {
            self.observe(sec, backlog, (sec + 1) * NS_PER_SEC);
            sec += 1;
            // Alike up to the first fault's second, or the second in which the next fault starts.
            let first = self.faults.first().map(|f| f.0 / NS_PER_SEC);
            let next = self.faults.get(self.reached).map(|f| f.0 / NS_PER_SEC);
            let stop = [first, next].into_iter().flatten().filter(|b| *b >= sec).fold(to, u64::min);
            if stop > sec {
                if first.is_some_and(|f| sec < f) {
                    let copies = (stop - sec - 1).min(PRE_FAULT_WINDOW as u64);
                    self.recent.extend(std::iter::repeat_n(backlog, copies as usize));
                    while self.recent.len() > PRE_FAULT_WINDOW {
                        self.recent.pop_front();
                    }
                }
                self.observe(stop - 1, backlog, stop * NS_PER_SEC);
                sec = stop;
            }
        }
    }

    /// Seconds from the end of the last fault (whole seconds) until the first second from which the backlog stayed
    /// in the band for `HOLD_S` seconds, or until the run's end `run_end`; `None` if no fault that happened ends,
    /// the last one was still on at the run's end, or the backlog never came back into the band for that long.
    pub fn finish(&self, run_end: Nanos) -> Option<f64> {
        let end = self.end.filter(|e| *e <= run_end)? / NS_PER_SEC;
        self.level?;
        let at = self.recovered_at.or(self.in_band_since.map(|s| s.max(end)))?;
        Some((at - end) as f64)
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

    const S: Nanos = NS_PER_SEC;

    /// Feeds one backlog per second, each second closing at its end, the last at `run_end`.
    fn feed(r: &mut Recovery, backlog: &[u64], run_end: Nanos) {
        for (s, b) in backlog.iter().enumerate() {
            let until = ((s as u64 + 1) * S).min(run_end);
            r.observe(s as u64, *b, until);
        }
    }

    /// 30 s before the fault cycling 4, 8, 6 (level 8, band up to 18); 100 during the fault (30-40 s); then `after`.
    fn around_a_fault(after: &[u64]) -> (Recovery, Nanos) {
        let mut backlog: Vec<u64> = (0..30).map(|s| [4, 8, 6][s % 3]).collect();
        backlog.extend([100; 10]);
        backlog.extend(after);
        let mut r = Recovery::new(vec![(30 * S, Some(40 * S))]);
        let end = backlog.len() as u64 * S;
        feed(&mut r, &backlog, end);
        (r, end)
    }

    #[test]
    fn recovered_when_the_backlog_is_back_in_the_band_for_30_s() {
        assert_eq!((band_top(8), band_top(30), band_top(100)), (18, 45, 150));
        // Down to 17 (in the band) at 42 s, 20 again at 43 s, in it from 44 s on with noise up to 18: 4 s. Noise
        // above the pre-fault level (8) is no lack of recovery.
        let noise: Vec<u64> = (0..40).map(|s| [15, 18, 9, 12][s % 4]).collect();
        let (r, end) = around_a_fault(&[[50, 30, 17, 20].as_slice(), &noise].concat());
        assert_eq!((r.pre_fault_level(), r.finish(end)), (Some(8), Some(4.0)));
        // Back at 44 s, out again at 60 s (19), back from 61 s and for 30 s: 21 s.
        let (r, end) = around_a_fault(&[[50, 30, 17, 20].as_slice(), &[9; 16], &[19], &[9; 30]].concat());
        assert_eq!(r.finish(end), Some(21.0));
        // A fault that changed nothing: in the band the second it ended.
        let (r, end) = around_a_fault(&[12; 30]);
        assert_eq!(r.finish(end), Some(0.0));
        // The run ends 5 s after the backlog came back: that counts (it was still in the band at the end).
        let (r, end) = around_a_fault(&[50, 30, 10, 10, 10, 10, 10]);
        assert_eq!(r.finish(end), Some(2.0));
    }

    #[test]
    fn no_recovery_when_the_run_ends_above_the_band_or_without_faults() {
        let (r, end) = around_a_fault(&[[9; 20].as_slice(), &[19]].concat());
        assert_eq!(r.finish(end), None, "in the band for 20 s only, then above it at the end");
        let mut r = Recovery::new(vec![(S, Some(2 * S))]);
        feed(&mut r, &[0, 10, 20, 30], 4 * S);
        assert_eq!(r.finish(4 * S), None);
        assert_eq!(Recovery::new(vec![]).finish(4 * S), None);
    }

    #[test]
    fn idle_stretches_observed_at_once_end_as_second_by_second() {
        // Backlogs with long flat stretches, against faults before, inside and after them.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..200 {
            let faults: Vec<(Nanos, Option<Nanos>)> = (0..1 + next(3))
                .map(|_| {
                    let at = next(400) * S + next(S);
                    (at, (next(4) > 0).then(|| at + next(100) * S + next(S)))
                })
                .collect();
            let (mut one, mut bulk) = (Recovery::new(faults.clone()), Recovery::new(faults));
            let mut sec = 0;
            while sec < 500 {
                let (len, backlog) = (1 + next(60), next(25));
                for s in sec..sec + len {
                    one.observe(s, backlog, (s + 1) * S);
                }
                bulk.observe_idle(sec, sec + len, backlog);
                sec += len;
            }
            assert_eq!(format!("{one:?}"), format!("{bulk:?}"), "case {case}");
            assert_eq!(one.finish(sec * S), bulk.finish(sec * S));
        }
    }

    #[test]
    fn a_fault_after_the_run_is_left_out_and_one_cut_by_the_end_gives_no_recovery() {
        // An outage at 2-3 s, and one at 1000 h the 8 s run never reaches: recovery counts from 3 s.
        let backlog = [1, 1, 20, 15, 1, 1, 0, 0];
        let mut r = Recovery::new(vec![(3_600_000 * S, Some(3_600_300 * S)), (2 * S, Some(3 * S))]);
        feed(&mut r, &backlog, 8 * S);
        assert_eq!((r.pre_fault_level(), r.finish(8 * S)), (Some(1), Some(1.0)));
        // Only the unreached one: nothing to recover from, no pre-fault level.
        let mut r = Recovery::new(vec![(3_600_000 * S, Some(3_600_300 * S))]);
        feed(&mut r, &backlog, 8 * S);
        assert_eq!((r.pre_fault_level(), r.finish(8 * S)), (None, None));
        // A fault starting in the run's last, partial second happened; one at its very end did not.
        let mut r = Recovery::new(vec![(7_500_000_000, Some(20 * S))]);
        feed(&mut r, &backlog, 7_600_000_000);
        assert_eq!((r.pre_fault_level(), r.finish(7_600_000_000)), (Some(20), None), "still on at the end");
        let mut r = Recovery::new(vec![(7_600_000_000, Some(20 * S))]);
        feed(&mut r, &backlog, 7_600_000_000);
        assert_eq!(r.pre_fault_level(), None);
    }
}
