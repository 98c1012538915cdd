//! Signal conditioning for the policy: an exponential filter that smooths
//! raw readings whatever the tick rate, and a least-squares trend over a
//! fixed-capacity ring of filtered samples. Both allocate only at
//! construction, so a policy step never touches the allocator.

/// Samples the trend ring holds; the window is decimated to fit, whatever the tick rate.
pub const TREND_RING_CAPACITY: usize = 64;

/// Exponentially weighted moving average with a time constant, correct for uneven ticks.
#[derive(Debug, Clone)]
pub struct TemperatureFilter {
    tau_s: f64,
    state: Option<(f64, f64)>,
}

impl TemperatureFilter {
    /// A filter with time constant `tau_s` (0 passes readings through unchanged).
    pub fn new(tau_s: f64) -> Self {
        TemperatureFilter { tau_s, state: None }
    }

    /// Feeds a reading taken at `now_s`; returns the filtered temperature.
    ///
    /// The weight of the new reading is `1 - exp(-dt / tau)`, so a 10 ms tick and a
    /// 1 s tick converge at the same rate in seconds. The first reading seeds the filter.
    pub fn update(&mut self, celsius: f64, now_s: f64) -> f64 {
        let filtered = match self.state {
            None => celsius,
            Some((previous, at_s)) => {
                let dt = (now_s - at_s).max(0.0);
                if self.tau_s <= 0.0 {
                    celsius
                } else {
                    let weight = 1.0 - (-dt / self.tau_s).exp();
                    previous + weight * (celsius - previous)
                }
            }
        };
        self.state = Some((filtered, now_s));
        filtered
    }

    /// Forgets all history; the next reading seeds the filter again.
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Changes the time constant; the filtered value carries on from where it is.
    pub fn set_tau(&mut self, tau_s: f64) {
        self.tau_s = tau_s;
    }
}

/// Least-squares slope (°C/s) of filtered samples over a sliding time window.
#[derive(Debug, Clone)]
pub struct TrendEstimator {
    window_s: f64,
    min_spacing_s: f64,
    times_s: [f64; TREND_RING_CAPACITY],
    temps_c: [f64; TREND_RING_CAPACITY],
    head: usize,
    len: usize,
}

impl TrendEstimator {
    /// A trend over the last `window_s` seconds.
    pub fn new(window_s: f64) -> Self {
        TrendEstimator {
            window_s,
            // Keep at most CAPACITY - 1 samples inside the window, whatever the tick rate.
            min_spacing_s: window_s / (TREND_RING_CAPACITY - 2) as f64,
            times_s: [0.0; TREND_RING_CAPACITY],
            temps_c: [0.0; TREND_RING_CAPACITY],
            head: 0,
            len: 0,
        }
    }

    /// Records a filtered sample taken at `now_s` (decimated to the ring's resolution).
    pub fn push(&mut self, filtered_c: f64, now_s: f64) {
        if let Some(newest_s) = self.newest_time() {
            if now_s - newest_s < self.min_spacing_s {
                return;
            }
        }
        let slot = (self.head + self.len) % TREND_RING_CAPACITY;
        self.times_s[slot] = now_s;
        self.temps_c[slot] = filtered_c;
        if self.len == TREND_RING_CAPACITY {
            self.head = (self.head + 1) % TREND_RING_CAPACITY;
        } else {
            self.len += 1;
        }
        while self.len > 0 && now_s - self.times_s[self.head] > self.window_s {
            self.head = (self.head + 1) % TREND_RING_CAPACITY;
            self.len -= 1;
        }
    }

    /// The slope in °C/s, or 0 until the samples span at least half the window.
    ///
    /// Fitting two samples a tick apart would turn noise into a steep trend, so a
    /// trend is only reported once enough time has been observed.
    pub fn slope_c_per_s(&self) -> f64 {
        let (Some(oldest_s), Some(newest_s)) = (self.oldest_time(), self.newest_time()) else {
            return 0.0;
        };
        if self.len < 3 || newest_s - oldest_s < self.window_s / 2.0 {
            return 0.0;
        }
        // Centre times and temperatures to keep the sums well conditioned.
        let n = self.len as f64;
        let (mut sum_t, mut sum_c) = (0.0, 0.0);
        for (t, c) in self.samples() {
            sum_t += t - newest_s;
            sum_c += c;
        }
        let (mean_t, mean_c) = (sum_t / n, sum_c / n);
        let (mut covariance, mut variance) = (0.0, 0.0);
        for (t, c) in self.samples() {
            let dt = t - newest_s - mean_t;
            covariance += dt * (c - mean_c);
            variance += dt * dt;
        }
        if variance > 0.0 {
            covariance / variance
        } else {
            0.0
        }
    }

    /// Forgets all samples (after a sensor fault the old trend means nothing).
    pub fn reset(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    fn samples(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        (0..self.len).map(move |i| {
            let slot = (self.head + i) % TREND_RING_CAPACITY;
            (self.times_s[slot], self.temps_c[slot])
        })
    }

    fn oldest_time(&self) -> Option<f64> {
        (self.len > 0).then(|| self.times_s[self.head])
    }

    fn newest_time(&self) -> Option<f64> {
        (self.len > 0).then(|| self.times_s[(self.head + self.len - 1) % TREND_RING_CAPACITY])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_converges_at_the_same_rate_whatever_the_tick() {
        for tick_s in [0.01f64, 0.1, 0.5] {
            let mut filter = TemperatureFilter::new(1.5);
            filter.update(40.0, 0.0);
            let mut filtered = 0.0;
            let ticks = (1.5 / tick_s).round() as usize;
            for i in 1..=ticks {
                filtered = filter.update(50.0, i as f64 * tick_s);
            }
            // After one time constant, 1 - 1/e of a step has been followed.
            let expected = 40.0 + 10.0 * (1.0 - (-1.0f64).exp());
            assert!(
                (filtered - expected).abs() < 1e-9,
                "tick {tick_s}: {filtered}"
            );
        }
    }

    #[test]
    fn zero_tau_passes_through() {
        let mut filter = TemperatureFilter::new(0.0);
        filter.update(40.0, 0.0);
        assert_eq!(filter.update(47.5, 0.5), 47.5);
    }

    #[test]
    fn trend_of_a_line_is_its_slope_at_any_tick_rate() {
        for tick_s in [0.01, 0.5, 2.0] {
            let mut trend = TrendEstimator::new(10.0);
            let mut t = 0.0;
            while t < 60.0 {
                trend.push(30.0 + 0.75 * t, t);
                t += tick_s;
            }
            let slope = trend.slope_c_per_s();
            assert!((slope - 0.75).abs() < 1e-9, "tick {tick_s}: slope {slope}");
        }
    }

    #[test]
    fn trend_waits_for_half_a_window() {
        let mut trend = TrendEstimator::new(10.0);
        for i in 0..10 {
            trend.push(30.0 + i as f64, i as f64 * 0.5);
        }
        assert_eq!(trend.slope_c_per_s(), 0.0, "4.5 s observed < 5 s");
        trend.push(40.0, 5.0);
        assert!((trend.slope_c_per_s() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn trend_forgets_samples_older_than_the_window() {
        let mut trend = TrendEstimator::new(10.0);
        for i in 0..=20 {
            trend.push(50.0 + i as f64, i as f64);
        }
        for i in 21..=40 {
            trend.push(70.0, i as f64);
        }
        assert_eq!(trend.slope_c_per_s(), 0.0);
    }
}
