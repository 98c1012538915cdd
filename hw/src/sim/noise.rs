//! A small deterministic noise source for the simulated sensor: SplitMix64.
//!
//! Reproducibility matters more than statistical quality here: the comparison harness must
//! give the same table on every run, so the same seed always yields the same sequence.

/// Deterministic pseudo-random numbers from a 64-bit seed (SplitMix64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededNoise {
    state: u64,
}

impl SeededNoise {
    /// A source starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SeededNoise { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `0.0..1.0`.
    pub fn next_unit(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform number in `-half_width..half_width`.
    pub fn next_symmetric(&mut self, half_width: f64) -> f64 {
        (self.next_unit() * 2.0 - 1.0) * half_width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let draw = |seed| {
            let mut noise = SeededNoise::new(seed);
            (0..8).map(|_| noise.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn symmetric_noise_stays_in_range_and_averages_near_zero() {
        let mut noise = SeededNoise::new(1);
        let samples: Vec<f64> = (0..20_000).map(|_| noise.next_symmetric(1.0)).collect();
        assert!(samples.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        let spread = samples.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        assert!(spread > 0.99, "covers the range: {spread}");
    }
}
