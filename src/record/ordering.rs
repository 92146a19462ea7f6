//! The ordering ledger (only with `producers.keys`): ordering violations and per-key lag, in state bounded by the
//! key count (a few words per key), whatever the number of messages.
//!
//! Ids grow in publish order, so "an earlier message of the key" is a smaller id of the same key. A completion of
//! message `i` is a violation when a message of its key with a larger id has completed already.

use super::new_histogram;
use crate::scenario::keys::KeyMap;
use crate::time::Nanos;
use hdrhistogram::Histogram;

pub struct OrderingLedger {
    pub map: KeyMap,
    /// Per key: 1 + the largest id completed so far (0: none yet).
    top_completed: Vec<u64>,
    /// Per key: messages published and not yet finished (the key's lag, in messages).
    open: Vec<u32>,
    /// Per key: it has had a violation.
    out_of_order: super::ledger::BitSet,
    pub figures: OrderingFigures,
}

/// What the ordering ledger measured.
pub struct OrderingFigures {
    pub violations: u64,
    /// Keys with at least one violation.
    pub keys_out_of_order: u64,
    /// The largest number of one key's messages published and not yet finished at any moment, and that key.
    pub peak_key_backlog: u64,
    pub peak_key_backlog_key: u32,
    /// Keyed consumption: from delivery to the consumer until its handler started, waiting for its key.
    pub key_wait: Histogram<u64>,
}

impl OrderingLedger {
    pub fn new(map: KeyMap) -> OrderingLedger {
        let n = map.keys() as usize;
        OrderingLedger {
            map,
            top_completed: vec![0; n],
            open: vec![0; n],
            out_of_order: Default::default(),
            figures: OrderingFigures {
                violations: 0,
                keys_out_of_order: 0,
                peak_key_backlog: 0,
                peak_key_backlog_key: 0,
                key_wait: new_histogram(),
            },
        }
    }

    pub fn published(&mut self, id: u64) {
        let k = self.map.key(id);
        let open = &mut self.open[k as usize];
        *open += 1;
        if u64::from(*open) > self.figures.peak_key_backlog {
            self.figures.peak_key_backlog = u64::from(*open);
            self.figures.peak_key_backlog_key = k;
        }
    }

    /// A published message was refused after all, or reached its final outcome.
    pub fn finished(&mut self, id: u64) {
        let open = &mut self.open[self.map.key(id) as usize];
        *open = open.saturating_sub(1);
    }

    pub fn completed(&mut self, id: u64) {
        let k = self.map.key(id);
        let top = &mut self.top_completed[k as usize];
        if *top > id + 1 {
            self.figures.violations += 1;
            if !self.out_of_order.set(u64::from(k)) {
                self.figures.keys_out_of_order += 1;
            }
        } else {
            *top = id + 1;
        }
    }

    pub fn waited(&mut self, ns: Nanos) {
        self.figures.key_wait.saturating_record((ns / 1000).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::KeyDistribution;

    #[test]
    fn a_completion_behind_a_later_one_of_its_key_is_a_violation() {
        let mut l = OrderingLedger::new(KeyMap::new(1, KeyDistribution::Uniform, 1));
        for id in 0..4 {
            l.published(id);
        }
        for id in [0, 2, 1, 3] {
            l.completed(id);
            l.finished(id);
        }
        let f = &l.figures;
        assert_eq!((f.violations, f.keys_out_of_order, f.peak_key_backlog, f.peak_key_backlog_key), (1, 1, 4, 0));
    }
}
