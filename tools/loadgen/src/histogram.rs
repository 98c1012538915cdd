//! Fixed-bucket log-linear latency histogram.
//!
//! Latencies are recorded in nanoseconds into a fixed array allocated once per
//! event-loop thread, so recording a sample never allocates. Values below 128
//! get one bucket each; above that every power of two is split into 64 linear
//! sub-buckets, which bounds the relative error of a reported percentile to
//! 1/64 (about 1.6 %) over the whole `u64` range. Per-thread histograms are
//! merged after the run.

/// Linear sub-buckets per power of two; sets the precision (1 / 64).
const SUB_BUCKETS: u64 = 64;
/// Values below this bound are stored exactly, one bucket per value.
const EXACT_LIMIT: u64 = 2 * SUB_BUCKETS;
/// Bucket count covering every `u64` value: 128 exact buckets plus 56 octaves of 64.
const BUCKET_COUNT: usize = 3776;

/// A latency distribution with a bounded relative error and no per-sample allocation.
pub struct LatencyHistogram {
    counts: Box<[u64]>,
    total: u64,
    min: u64,
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// Creates an empty histogram (the only allocation it ever makes).
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKET_COUNT].into_boxed_slice(),
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one sample, in nanoseconds.
    pub fn record(&mut self, value_ns: u64) {
        self.counts[bucket_index(value_ns)] += 1;
        self.total += 1;
        self.min = self.min.min(value_ns);
        self.max = self.max.max(value_ns);
    }

    /// Number of recorded samples.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Adds every sample of `other` to this histogram.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The value at `percentile` (0..=100) in nanoseconds: the highest value
    /// equivalent to the bucket holding that rank, never above the recorded
    /// maximum. `None` when the histogram is empty.
    pub fn percentile(&self, percentile: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let fraction = (percentile / 100.0).clamp(0.0, 1.0);
        let rank = ((fraction * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_highest(index).min(self.max).max(self.min));
            }
        }
        Some(self.max)
    }

    /// The value at `percentile` converted to microseconds, rounded to 0.1 µs.
    pub fn percentile_us(&self, percentile: f64) -> Option<f64> {
        self.percentile(percentile)
            .map(|ns| (ns as f64 / 100.0).round() / 10.0)
    }
}

/// Index of the bucket that holds `value`.
fn bucket_index(value: u64) -> usize {
    if value < EXACT_LIMIT {
        return value as usize;
    }
    let top_bit = 63 - value.leading_zeros() as u64; // >= 7
    let shift = top_bit - 6; // keeps 7 significant bits: mantissa in 64..=127
    let mantissa = value >> shift;
    (EXACT_LIMIT + (shift - 1) * SUB_BUCKETS + (mantissa - SUB_BUCKETS)) as usize
}

/// Smallest value that maps to bucket `index`.
fn bucket_lowest(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT_LIMIT {
        return index;
    }
    let shift = (index - EXACT_LIMIT) / SUB_BUCKETS + 1;
    let mantissa = (index - EXACT_LIMIT) % SUB_BUCKETS + SUB_BUCKETS;
    mantissa << shift
}

/// Largest value that maps to bucket `index`.
fn bucket_highest(index: usize) -> u64 {
    if (index as u64) < EXACT_LIMIT {
        return index as u64;
    }
    let shift = (index as u64 - EXACT_LIMIT) / SUB_BUCKETS + 1;
    bucket_lowest(index).saturating_add((1u64 << shift) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_within(actual: u64, expected: u64, relative: f64) {
        let error = (actual as f64 - expected as f64).abs() / expected as f64;
        assert!(
            error <= relative,
            "{actual} differs from {expected} by {:.3} % (allowed {:.3} %)",
            error * 100.0,
            relative * 100.0
        );
    }

    #[test]
    fn empty_histogram_has_no_percentiles() {
        let histogram = LatencyHistogram::new();
        assert_eq!(histogram.percentile(50.0), None);
        assert_eq!(histogram.percentile_us(99.0), None);
        assert_eq!(histogram.percentile(100.0), None);
    }

    #[test]
    fn single_sample_is_every_percentile() {
        let mut histogram = LatencyHistogram::new();
        histogram.record(123_456);
        for p in [0.0, 50.0, 99.0, 99.9, 100.0] {
            assert_eq!(histogram.percentile(p), Some(123_456), "p{p}");
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut histogram = LatencyHistogram::new();
        for value in 1..=100u64 {
            histogram.record(value);
        }
        assert_eq!(histogram.percentile(50.0), Some(50));
        assert_eq!(histogram.percentile(99.0), Some(99));
        assert_eq!(histogram.percentile(100.0), Some(100));
        assert_eq!(histogram.percentile(0.0), Some(1));
    }

    #[test]
    fn uniform_distribution_percentiles_within_precision() {
        let mut histogram = LatencyHistogram::new();
        for value in 1..=1_000_000u64 {
            histogram.record(value);
        }
        assert_within(histogram.percentile(50.0).unwrap(), 500_000, 1.0 / 64.0);
        assert_within(histogram.percentile(99.0).unwrap(), 990_000, 1.0 / 64.0);
        assert_within(histogram.percentile(99.9).unwrap(), 999_000, 1.0 / 64.0);
        assert_eq!(histogram.percentile(100.0), Some(1_000_000));
    }

    #[test]
    fn skewed_distribution_separates_tail_from_median() {
        let mut histogram = LatencyHistogram::new();
        for _ in 0..990 {
            histogram.record(40_000);
        }
        for _ in 0..10 {
            histogram.record(5_000_000);
        }
        assert_within(histogram.percentile(50.0).unwrap(), 40_000, 1.0 / 64.0);
        assert_within(histogram.percentile(99.0).unwrap(), 40_000, 1.0 / 64.0);
        assert_eq!(histogram.percentile(99.9), Some(5_000_000));
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut left = LatencyHistogram::new();
        let mut right = LatencyHistogram::new();
        let mut both = LatencyHistogram::new();
        for value in (1..50_000u64).step_by(7) {
            left.record(value);
            both.record(value);
        }
        for value in (100_000..900_000u64).step_by(13) {
            right.record(value);
            both.record(value);
        }
        left.merge(&right);
        assert_eq!(left.count(), both.count());
        for p in [1.0, 50.0, 90.0, 99.0, 99.9] {
            assert_eq!(left.percentile(p), both.percentile(p), "p{p}");
        }
    }

    #[test]
    fn buckets_cover_values_monotonically_with_bounded_width() {
        let mut previous_index = 0;
        let probes = (0..4096u64)
            .chain((12..64).flat_map(|bit| [(1u64 << bit) - 1, 1u64 << bit, (1u64 << bit) + 12345]))
            .chain([u64::MAX - 1, u64::MAX]);
        for value in probes {
            let index = bucket_index(value);
            assert!(index < BUCKET_COUNT, "{value} -> {index}");
            assert!(
                bucket_lowest(index) <= value && value <= bucket_highest(index),
                "{value}"
            );
            if value >= EXACT_LIMIT {
                let width = bucket_highest(index) - bucket_lowest(index);
                assert!(
                    width as f64 / bucket_lowest(index) as f64 <= 1.0 / 64.0,
                    "{value}"
                );
            }
            if value < 4096 {
                assert!(index >= previous_index, "index went backwards at {value}");
                previous_index = index;
            }
        }
        assert_eq!(bucket_index(u64::MAX), BUCKET_COUNT - 1);
    }

    #[test]
    fn percentile_us_rounds_to_tenths() {
        let mut histogram = LatencyHistogram::new();
        histogram.record(41_260);
        assert_eq!(histogram.percentile_us(50.0), Some(41.3));
    }
}
