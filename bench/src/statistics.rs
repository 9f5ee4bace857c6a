//! Percentiles and rates: the arithmetic behind every figure the benchmark prints.

use std::time::Duration;

/// The distribution of a set of latencies, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencySummary {
    /// `None` for an empty set: a percentile of nothing is not zero.
    pub fn of(milliseconds: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = milliseconds
            .iter()
            .copied()
            .filter(|value| value.is_finite())
            .collect();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            count: sorted.len(),
            p50: percentile(&sorted, 0.50)?,
            p90: percentile(&sorted, 0.90)?,
            p99: percentile(&sorted, 0.99)?,
            max: *sorted.last()?,
        })
    }
}

/// Nearest-rank percentile of ascending `sorted` values: the smallest value with at least
/// `fraction` of the values at or below it. Nearest rank never invents a value that was not
/// measured, which matters for the tail with few samples.
pub fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&fraction) {
        return None;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Events per second; zero when no time passed, so a degenerate run prints 0, not infinity.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// `numerator / denominator`, zero when the denominator is not positive.
pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), Some(50.0));
        assert_eq!(percentile(&values, 0.99), Some(99.0));
        assert_eq!(percentile(&values, 1.0), Some(100.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn a_percentile_of_nothing_or_out_of_range_is_none() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[1.0], 1.5), None);
        assert_eq!(LatencySummary::of(&[]), None);
    }

    #[test]
    fn a_summary_sorts_its_input_and_ignores_non_finite_values() {
        let summary = LatencySummary::of(&[5.0, f64::NAN, 1.0, 3.0, 2.0, 4.0]).expect("values");
        assert_eq!(summary.count, 5);
        assert_eq!(summary.p50, 3.0);
        assert_eq!(summary.p99, 5.0);
        assert_eq!(summary.max, 5.0);
    }

    #[test]
    fn rates_are_per_second_and_zero_without_elapsed_time() {
        assert_eq!(rate(500, Duration::from_millis(2_500)), 200.0);
        assert_eq!(rate(10, Duration::ZERO), 0.0);
        assert_eq!(ratio(70.0, 100.0), 0.7);
        assert_eq!(ratio(1.0, 0.0), 0.0);
    }
}
