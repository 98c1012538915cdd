//! Fan laws: how the policy turns "the fan is wanted" into a duty. Every fan's
//! starts and stops obey minimum on and off dwell times, so noise cannot make
//! it chatter, and an anti-short-cycle rule, so a fan strong enough to cool the
//! die below its off threshold does not fall into a stop-start limit cycle:
//! when it must restart soon after stopping, its next minimum on time grows
//! (as HVAC controllers protect a compressor). A proportional fan (PWM,
//! hwmon) follows a stepped curve while running, whose steps are entered on
//! the predicted temperature and left only a back-off below the step on the
//! filtered temperature.

use crate::config::CurvePoint;

/// A restart this soon after a stop counts as a short cycle (s).
pub const SHORT_CYCLE_WINDOW_S: f64 = 600.0;
/// Each short cycle multiplies the minimum on time by this.
pub const SHORT_CYCLE_GROWTH: f64 = 4.0;
/// The minimum on time never grows beyond this (s).
pub const MAX_MIN_ON_S: f64 = 1200.0;

/// Fan start/stop state with minimum dwell times and anti-short-cycling.
#[derive(Debug, Clone)]
pub struct DwellFan {
    base_min_on_s: f64,
    min_on_s: f64,
    min_off_s: f64,
    on: bool,
    last_switch_s: Option<f64>,
}

impl DwellFan {
    /// An off fan that may switch at once (no previous switch to dwell on).
    pub fn new(min_on_s: f64, min_off_s: f64) -> Self {
        DwellFan {
            base_min_on_s: min_on_s,
            min_on_s,
            min_off_s,
            on: false,
            last_switch_s: None,
        }
    }

    /// The minimum on time in force (grows with short cycles).
    pub fn min_on_s(&self) -> f64 {
        self.min_on_s
    }

    /// Updates the state at `now_s`; returns whether the fan is on.
    ///
    /// `wanted` switches the fan only once the current state's dwell has elapsed;
    /// `forced` (critical stage or sensor fault) turns it on regardless of dwell.
    pub fn update(&mut self, wanted: bool, forced: bool, now_s: f64) -> bool {
        let target = wanted || forced;
        if target != self.on {
            let dwell_s = if self.on {
                self.min_on_s
            } else {
                self.min_off_s
            };
            let dwell_over = self
                .last_switch_s
                .map_or(true, |at_s| now_s - at_s >= dwell_s);
            if dwell_over || (forced && !self.on) {
                if target {
                    // Starting again soon after a stop: stay on longer next time.
                    let short_cycle = self
                        .last_switch_s
                        .is_some_and(|stopped_s| now_s - stopped_s < SHORT_CYCLE_WINDOW_S);
                    self.min_on_s = if short_cycle {
                        (self.min_on_s * SHORT_CYCLE_GROWTH)
                            .clamp(self.base_min_on_s, MAX_MIN_ON_S.max(self.base_min_on_s))
                    } else {
                        self.base_min_on_s
                    };
                }
                self.on = target;
                self.last_switch_s = Some(now_s);
            }
        }
        self.on
    }

    /// Whether the fan is currently on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Changes the dwell times; the fan keeps its state and when it last switched,
    /// and a grown minimum on time stays grown (within the new base and the cap).
    pub fn set_dwell(&mut self, min_on_s: f64, min_off_s: f64) {
        self.base_min_on_s = min_on_s;
        self.min_on_s = self.min_on_s.clamp(min_on_s, MAX_MIN_ON_S.max(min_on_s));
        self.min_off_s = min_off_s;
    }
}

/// Proportional fan curve with per-step hysteresis.
#[derive(Debug, Clone)]
pub struct SteppedCurve {
    points: Vec<CurvePoint>,
    backoff_c: f64,
    /// Index of the active step; `None` is below the first point (duty 0).
    step: Option<usize>,
}

impl SteppedCurve {
    /// A curve over validated `points` (temperatures increasing) with `backoff_c` hysteresis.
    pub fn new(points: &[CurvePoint], backoff_c: f64) -> Self {
        SteppedCurve {
            points: points.to_vec(),
            backoff_c,
            step: None,
        }
    }

    /// Updates the active step; returns its duty (0 below the first point).
    ///
    /// A step is entered when `predicted_c` reaches its temperature and left when
    /// `filtered_c` is at or below its temperature minus the back-off; entering wins,
    /// so a steep rise is never cut short by the (lagging) off test.
    pub fn update(&mut self, predicted_c: f64, filtered_c: f64) -> f64 {
        let reached = self.points.iter().rposition(|p| predicted_c >= p.temp_c);
        if reached > self.step {
            self.step = reached;
        } else {
            while let Some(index) = self.step {
                if self.step <= reached || filtered_c > self.points[index].temp_c - self.backoff_c {
                    break;
                }
                self.step = index.checked_sub(1);
            }
        }
        self.duty()
    }

    /// Duty of the active step.
    pub fn duty(&self) -> f64 {
        self.step.map_or(0.0, |index| self.points[index].duty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_FAN_CURVE, DEFAULT_FAN_CURVE_BACKOFF_C};

    #[test]
    fn new_dwell_times_keep_the_fan_state_and_a_grown_minimum_on_time() {
        let mut fan = DwellFan::new(30.0, 30.0);
        assert!(fan.update(true, false, 0.0));
        assert!(!fan.update(false, false, 40.0));
        assert!(fan.update(true, false, 80.0), "a short cycle: min on grows");
        assert_eq!(fan.min_on_s(), 120.0);
        fan.set_dwell(10.0, 5.0);
        assert!(fan.is_on());
        assert_eq!(fan.min_on_s(), 120.0, "the growth is kept");
        assert!(fan.update(false, false, 150.0), "held on: 70 s of 120");
        assert!(!fan.update(false, false, 200.0));
        assert!(
            fan.update(true, false, 205.0),
            "the new 5 s minimum off applies"
        );
        fan.set_dwell(600.0, 5.0);
        assert_eq!(fan.min_on_s(), 600.0, "never below the new base");
    }

    #[test]
    fn dwell_blocks_early_switches_but_not_forced_on() {
        let mut fan = DwellFan::new(30.0, 30.0);
        assert!(fan.update(true, false, 0.0), "first switch is free");
        assert!(fan.update(false, false, 29.9), "min on not over");
        assert!(!fan.update(false, false, 30.0));
        assert!(!fan.update(true, false, 45.0), "min off not over");
        assert!(fan.update(false, true, 45.0), "forced on ignores dwell");
        // A restart 15 s after the stop is a short cycle: 120 s on this time.
        assert!(fan.update(false, false, 164.9));
        assert!(!fan.update(false, false, 165.0));
    }

    #[test]
    fn short_cycles_grow_the_minimum_on_time_up_to_a_cap_and_a_long_rest_resets_it() {
        let mut fan = DwellFan::new(30.0, 30.0);
        let mut now = 0.0;
        let mut on_times = Vec::new();
        for _ in 0..8 {
            assert!(fan.update(true, false, now));
            on_times.push(fan.min_on_s());
            now += fan.min_on_s();
            assert!(
                !fan.update(false, false, now),
                "stops once its min on time is over"
            );
            now += 40.0; // restarts 40 s later: a short cycle
        }
        assert_eq!(on_times[..3], [30.0, 120.0, 480.0]);
        assert!(
            on_times[3..].iter().all(|t| *t == MAX_MIN_ON_S),
            "{on_times:?}"
        );
        now += SHORT_CYCLE_WINDOW_S;
        assert!(fan.update(true, false, now));
        assert_eq!(fan.min_on_s(), 30.0, "a long rest resets it");
    }

    #[test]
    fn pi5_curve_steps_up_and_backs_off_five_degrees() {
        let mut curve = SteppedCurve::new(&DEFAULT_FAN_CURVE, DEFAULT_FAN_CURVE_BACKOFF_C);
        // (predicted, filtered, expected duty)
        let table = [
            (49.9, 49.9, 0.0),
            (50.0, 50.0, 0.30),
            (59.9, 59.9, 0.30),
            (60.0, 60.0, 0.50),
            (80.0, 80.0, 1.00),
            (70.1, 70.1, 1.00),
            (70.0, 70.0, 0.70),
            (62.6, 62.6, 0.70),
            (62.5, 62.5, 0.50),
            (55.1, 55.1, 0.50),
            (45.0, 45.0, 0.0),
            (49.0, 49.0, 0.0),
        ];
        for (row, (predicted, filtered, duty)) in table.into_iter().enumerate() {
            assert_eq!(curve.update(predicted, filtered), duty, "row {row}");
        }
    }

    #[test]
    fn predicted_entry_wins_over_filtered_exit() {
        let mut curve = SteppedCurve::new(&DEFAULT_FAN_CURVE, DEFAULT_FAN_CURVE_BACKOFF_C);
        assert_eq!(curve.update(52.0, 44.0), 0.30);
        assert_eq!(curve.update(49.0, 44.0), 0.0);
    }
}
