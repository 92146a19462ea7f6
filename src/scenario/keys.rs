//! Message keys (`producers.keys`, `producers.key_distribution`) and keyed consumption (`consumers.ordering`): the
//! settings, and `KeyMap`, the key of a message as a pure function of the run seed and the message id.
//!
//! No draw is taken from the engine's random streams and no field is carried in the envelope: a real backend already
//! carries the id, so the producer, the consumer pool and the recorder all compute the same key from it.

use serde::Serialize;

/// Largest `producers.keys`: the per-key state (the Zipf table, the recorder's per-key counters) is sized by it.
pub const MAX_KEYS: u64 = 1_000_000;

/// How message keys are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistribution {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// Key k (0-based) with probability proportional to 1 / (k + 1)^s: key 0 is the hottest.
    Zipf(f64),
}

impl KeyDistribution {
    pub fn is_uniform(&self) -> bool {
        *self == KeyDistribution::Uniform
    }
    /// "uniform" or "zipf 1.1".
    pub fn label(&self) -> String {
        match self {
            KeyDistribution::Uniform => "uniform".to_string(),
            KeyDistribution::Zipf(s) => format!("zipf {s}"),
        }
    }
}

/// How the consumer pool treats keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyOrdering {
    /// Plain competing consumers: any free handler takes any message.
    #[default]
    Competing,
    /// One message of a key at a time, in delivery order, over the whole pool (MassTransit's partitioner within one
    /// process; Service Bus sessions across receivers).
    Keyed,
}

impl KeyOrdering {
    pub fn is_competing(&self) -> bool {
        *self == KeyOrdering::Competing
    }
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrdering::Competing => "competing",
            KeyOrdering::Keyed => "keyed",
        }
    }
}

/// The key of every message of a run.
#[derive(Clone, Debug)]
pub struct KeyMap {
    keys: u64,
    salt: u64,
    /// Zipf: the cumulative probability of keys 0..=k; uniform: empty.
    cdf: Vec<f64>,
}

impl KeyMap {
    pub fn new(keys: u64, dist: KeyDistribution, seed: u64) -> KeyMap {
        let keys = keys.clamp(1, MAX_KEYS);
        let cdf = match dist {
            KeyDistribution::Uniform => Vec::new(),
            KeyDistribution::Zipf(s) => {
                let weights: Vec<f64> = (0..keys).map(|k| ((k + 1) as f64).powf(-s)).collect();
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect()
            }
        };
        let salt = crate::sim::rng::splitmix64(seed ^ crate::sim::rng::splitmix64(0x6b65_7973));
        KeyMap { keys, salt, cdf }
    }

    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The key of message `id`, in `0..keys`.
    pub fn key(&self, id: u64) -> u32 {
        let h = crate::sim::rng::splitmix64(self.salt ^ id);
        if self.cdf.is_empty() {
            return ((u128::from(h) * u128::from(self.keys)) >> 64) as u32;
        }
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(map: &KeyMap, n: u64) -> Vec<u64> {
        let mut c = vec![0u64; map.keys() as usize];
        for id in 0..n {
            c[map.key(id) as usize] += 1;
        }
        c
    }

    #[test]
    fn a_zipf_distribution_concentrates_on_key_0() {
        let map = KeyMap::new(100, KeyDistribution::Zipf(1.1), 1);
        let c = counts(&map, 100_000);
        // 1 / H(100, 1.1) = 0.234 of the messages on key 0, 0.109 on key 1 (2^-1.1 = 0.467 times as many)
        assert_eq!((c[0], c[1], c[99]), (23_112, 10_851, 173));
        assert!(c.windows(2).take(10).all(|w| w[0] > w[1]), "{c:?}");
        // the same seed and id give the same key; another seed another assignment
        assert_eq!(KeyMap::new(100, KeyDistribution::Zipf(1.1), 1).key(12_345), map.key(12_345));
        assert_ne!(counts(&KeyMap::new(100, KeyDistribution::Zipf(1.1), 2), 1000), counts(&map, 1000));
    }

    #[test]
    fn uniform_keys_spread_evenly() {
        let map = KeyMap::new(10, KeyDistribution::Uniform, 7);
        let c = counts(&map, 100_000);
        assert!(c.iter().all(|&n| (9_700..10_300).contains(&n)), "{c:?}");
        assert_eq!(KeyMap::new(1, KeyDistribution::Uniform, 7).key(99), 0);
    }
}
