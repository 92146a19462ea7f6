//! The message ledger: accounts for every message by id (two bits each), so that a message finished twice or
//! never is noticed, and duplicate side effects are counted.

/// One bit per message id, grown as ids appear (ids are dense: 0, 1, 2, ...).
#[derive(Clone, Debug, Default)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub fn get(&self, i: u64) -> bool {
        self.words.get((i / 64) as usize).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    /// Sets bit `i`; returns whether it was already set.
    pub fn set(&mut self, i: u64) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let was = self.words[w] >> b & 1 == 1;
        self.words[w] |= 1 << b;
        was
    }
}

/// Final outcomes and side effects, by message id.
#[derive(Default)]
pub struct Ledger {
    finished: BitSet,
    effected: BitSet,
    /// Messages that reached a final outcome (completed, dead-lettered, expired).
    pub finished_count: u64,
    /// A second final outcome for a message already finished (at-least-once delivery showing through).
    pub refinished: u64,
    /// Successful side effects beyond the first for the same message (a payment charged twice).
    pub duplicate_effects: u64,
}

impl Ledger {
    /// Records a final outcome; returns false if the message had one already (then it counts as refinished).
    pub fn finish(&mut self, id: u64) -> bool {
        if self.finished.set(id) {
            self.refinished += 1;
            false
        } else {
            self.finished_count += 1;
            true
        }
    }

    pub fn is_finished(&self, id: u64) -> bool {
        self.finished.get(id)
    }

    /// Whether the message's side effect has happened (at least once).
    pub fn has_effect(&self, id: u64) -> bool {
        self.effected.get(id)
    }

    pub fn side_effect(&mut self, id: u64) {
        if self.effected.set(id) {
            self.duplicate_effects += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ledger;

    #[test]
    fn counts_each_message_once_and_notices_repeats() {
        let mut l = Ledger::default();
        for id in [0, 63, 64, 1000] {
            l.finish(id);
            l.side_effect(id);
        }
        l.finish(64);
        l.side_effect(1000);
        l.side_effect(1000);
        assert_eq!((l.finished_count, l.refinished, l.duplicate_effects), (4, 1, 2));
    }
}
