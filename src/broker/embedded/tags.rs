//! A map keyed by numbers issued in increasing order (delivery tags, delayed-message sequence numbers): a window
//! of slots from the oldest live key to the newest, so a lookup is an index instead of a tree walk.
//!
//! Keys are removed in any order; the window's front moves past removed keys. A key that stays while many newer
//! ones come and go (a delivery stuck in a handler) would stretch the window, so when the window grows much wider
//! than the live count its oldest live entries move to a small ordered map: memory stays proportional to the live
//! entries. Iteration is in key order, as the `BTreeMap` this replaces iterated.

use std::collections::{BTreeMap, VecDeque};

/// The window may be this much wider than the live count (and at least `MIN_SPAN` wide) before it is compacted.
const SPREAD: usize = 4;
const MIN_SPAN: usize = 1024;

pub(super) struct TagMap<V> {
    /// Keys `base..base + window.len()`; `None` for keys removed (or never inserted).
    window: VecDeque<Option<V>>,
    base: u64,
    /// Live entries older than `base` (rare: see the module comment).
    old: BTreeMap<u64, V>,
    live: usize,
}

impl<V> Default for TagMap<V> {
    fn default() -> Self {
        TagMap { window: VecDeque::new(), base: 0, old: BTreeMap::new(), live: 0 }
    }
}

impl<V> TagMap<V> {
    pub(super) fn len(&self) -> usize {
        self.live
    }

    fn slot(&self, key: u64) -> Option<usize> {
        let i = key.checked_sub(self.base)?;
        (i < self.window.len() as u64).then_some(i as usize)
    }

    pub(super) fn get(&self, key: u64) -> Option<&V> {
        match self.slot(key) {
            Some(i) => self.window[i].as_ref(),
            None if key < self.base => self.old.get(&key),
            None => None,
        }
    }

    pub(super) fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        match self.slot(key) {
            Some(i) => self.window[i].as_mut(),
            None if key < self.base => self.old.get_mut(&key),
            None => None,
        }
    }

    /// Inserts `key`, which must be above every key inserted before (else the value goes to the ordered map, or
    /// replaces the one under a live key).
    pub(super) fn insert(&mut self, key: u64, v: V) {
        if self.window.is_empty() {
            self.base = key;
        }
        let end = self.base + self.window.len() as u64;
        if key < end {
            let slot = match self.slot(key) {
                Some(i) => &mut self.window[i],
                None => {
                    if self.old.insert(key, v).is_none() {
                        self.live += 1;
                    }
                    return;
                }
            };
            if slot.replace(v).is_none() {
                self.live += 1;
            }
            return;
        }
        for _ in end..key {
            self.window.push_back(None);
        }
        self.window.push_back(Some(v));
        self.live += 1;
        if self.window.len() > MIN_SPAN && self.window.len() > SPREAD * self.live {
            self.compact();
        }
    }

    pub(super) fn remove(&mut self, key: u64) -> Option<V> {
        let v = match self.slot(key) {
            Some(i) => self.window[i].take(),
            None if key < self.base => self.old.remove(&key),
            None => None,
        }?;
        self.live -= 1;
        while let Some(None) = self.window.front() {
            self.window.pop_front();
            self.base += 1;
        }
        Some(v)
    }

    /// Moves the oldest half of the window's live entries to the ordered map and drops the holes before the rest.
    fn compact(&mut self) {
        let in_window = self.live - self.old.len();
        let mut keep = in_window.div_ceil(2);
        let mut cut = self.window.len();
        for (i, s) in self.window.iter().enumerate().rev() {
            if s.is_some() {
                if keep == 0 {
                    cut = i + 1;
                    break;
                }
                keep -= 1;
            }
        }
        for (i, s) in self.window.drain(..cut).enumerate() {
            if let Some(v) = s {
                self.old.insert(self.base + i as u64, v);
            }
        }
        self.base += cut as u64;
        while let Some(None) = self.window.front() {
            self.window.pop_front();
            self.base += 1;
        }
    }

    /// The keys whose values satisfy `f`, ascending.
    pub(super) fn keys_where(&self, f: impl Fn(&V) -> bool) -> Vec<u64> {
        let old = self.old.iter().filter(|(_, v)| f(v)).map(|(k, _)| *k);
        let window = self.window.iter().enumerate().filter(|(_, s)| s.as_ref().is_some_and(&f));
        old.chain(window.map(|(i, _)| self.base + i as u64)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts (increasing keys) and removals against a `BTreeMap`, with some keys kept for long.
    #[test]
    fn behaves_as_an_ordered_map_and_stays_compact() {
        let mut m = TagMap::default();
        let mut want = BTreeMap::new();
        let mut x: u64 = 99;
        let mut next = 1u64;
        for step in 0..200_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (x >> 60) < 9 || want.is_empty() {
                next += 1 + (x >> 40) % 3;
                m.insert(next, step);
                want.insert(next, step);
            } else {
                // Mostly the oldest few keys go, but one in 64 keys is never removed (a stuck delivery).
                let k = *want.keys().nth(((x >> 20) % 8) as usize % want.len()).unwrap_or(&0);
                if k % 64 != 0 {
                    assert_eq!(m.remove(k), want.remove(&k));
                }
                assert_eq!(m.remove(next + 1), None);
            }
            let probe = next.saturating_sub((x >> 8) % 50);
            assert_eq!(m.get(probe), want.get(&probe));
            if let Some(v) = m.get_mut(probe) {
                *v += 1;
                *want.get_mut(&probe).unwrap() += 1;
            }
            assert_eq!(m.len(), want.len());
        }
        assert_eq!(
            m.keys_where(|v| v % 3 == 0),
            want.iter().filter(|(_, v)| *v % 3 == 0).map(|(k, _)| *k).collect::<Vec<_>>()
        );
        assert!(m.window.len() <= MIN_SPAN.max(SPREAD * m.len()) + 1, "window {} for {} live", m.window.len(), m.len());
    }
}
