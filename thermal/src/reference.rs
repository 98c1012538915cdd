//! Reference fan rules to compare the policy against. The Raspberry Pi
//! firmware's `gpio-fan` overlay (`dtoverlay=gpio-fan,temp=55000`) drives a
//! GPIO fan from a kernel thermal trip: on when the raw reading reaches the
//! trip temperature, off when it falls 10 °C below, no filtering, no dwell.

/// The `gpio-fan` overlay's default trip temperature (°C).
pub const GPIO_FAN_OVERLAY_ON_C: f64 = 55.0;
/// The overlay's trip hysteresis (°C): the fan stops 10 °C below the trip.
pub const GPIO_FAN_OVERLAY_HYSTERESIS_C: f64 = 10.0;

/// The firmware overlay's rule, fed raw readings one at a time.
#[derive(Debug, Clone)]
pub struct GpioFanOverlayRule {
    on_c: f64,
    off_c: f64,
    on: bool,
}

impl Default for GpioFanOverlayRule {
    fn default() -> Self {
        Self::new(GPIO_FAN_OVERLAY_ON_C, GPIO_FAN_OVERLAY_HYSTERESIS_C)
    }
}

impl GpioFanOverlayRule {
    /// A rule tripping at `on_c` with `hysteresis_c` below it, fan initially off.
    pub fn new(on_c: f64, hysteresis_c: f64) -> Self {
        GpioFanOverlayRule {
            on_c,
            off_c: on_c - hysteresis_c,
            on: false,
        }
    }

    /// Feeds one raw reading; returns whether the fan is on.
    ///
    /// The kernel's step-wise governor activates a passive trip at or above its
    /// temperature and releases it once the reading drops below trip − hysteresis.
    pub fn update(&mut self, celsius: f64) -> bool {
        if celsius >= self.on_c {
            self.on = true;
        } else if celsius < self.off_c {
            self.on = false;
        }
        self.on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_rule_has_ten_degrees_of_hysteresis() {
        let mut rule = GpioFanOverlayRule::default();
        let trace = [
            (54.9, false),
            (55.0, true),
            (45.0, true),
            (44.9, false),
            (50.0, false),
        ];
        for (celsius, on) in trace {
            assert_eq!(rule.update(celsius), on, "at {celsius}");
        }
    }
}
