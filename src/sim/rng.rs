//! Seeded random streams, one per concern, so that changing one part of a scenario does not reshuffle the others.
//!
//! Arrivals, handler times, downstream service times, jitter and throttling each draw from their own ChaCha8 stream derived
//! from the run seed: with the same seed, a jitter and a no-jitter run see the same arrivals.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub struct Streams {
    pub arrivals: ChaCha8Rng,
    pub payload: ChaCha8Rng,
    pub handler: ChaCha8Rng,
    pub downstream: ChaCha8Rng,
    pub outcome: ChaCha8Rng,
    pub retry: ChaCha8Rng,
    pub redelivery: ChaCha8Rng,
    /// Adaptive throttling's draws (none unless `[downstream.throttle]` is set).
    pub throttle: ChaCha8Rng,
}

impl Streams {
    pub fn new(seed: u64) -> Streams {
        let s = |id: u64| ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(id)));
        Streams {
            arrivals: s(1),
            payload: s(2),
            handler: s(3),
            downstream: s(4),
            outcome: s(5),
            retry: s(6),
            redelivery: s(7),
            throttle: s(8),
        }
    }
}

/// SplitMix64 finaliser: spreads nearby seeds far apart.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
