//! Fans on a Raspberry Pi GPIO pin, through rppal: on/off, hardware PWM, software PWM.
//!
//! Off a Pi, rppal cannot identify the board (`UnknownModel`); that becomes
//! [`HwError::NotRaspberryPi`] so the daemon can refuse to start with a clear message.
//! Pins and channels are opened with "reset on drop" disabled: the last level written
//! (the `on_exit` duty) must outlive the process, not fall back to a floating input.

use std::io;
use std::time::{Duration, Instant};

use rppal::gpio::{self, Gpio, Level, OutputPin};
use rppal::pwm::{self, Channel, Polarity, Pwm};

use super::{check_duty, check_frequency, check_min_duty, DutyShaper};
use crate::error::HwError;
use crate::Fan;

/// Opens a GPIO pin as an output driven to `level`.
fn open_output_pin(driver: &'static str, pin: u8, level: Level) -> Result<OutputPin, HwError> {
    let gpio = Gpio::new().map_err(|e| gpio_error(driver, pin, e))?;
    let mut output = gpio
        .get(pin)
        .map_err(|e| gpio_error(driver, pin, e))?
        .into_output();
    output.write(level);
    output.set_reset_on_drop(false);
    Ok(output)
}

/// Maps an rppal GPIO error to a message that says what to do.
pub(crate) fn gpio_error(driver: &'static str, pin: u8, error: gpio::Error) -> HwError {
    match error {
        gpio::Error::UnknownModel => HwError::NotRaspberryPi {
            driver,
            detail: error.to_string(),
        },
        gpio::Error::PermissionDenied(path) => HwError::GpioPermissionDenied { path },
        gpio::Error::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            HwError::GpioPermissionDenied {
                path: format!("/dev/gpiomem or /dev/gpiochip* ({e})"),
            }
        }
        gpio::Error::PinUsed(_) => HwError::GpioPin {
            pin,
            reason: "already in use by warden; configure the fan on one pin only".into(),
        },
        gpio::Error::PinNotAvailable(_) => HwError::GpioPin {
            pin,
            reason:
                "not a GPIO on this board; use a BCM GPIO number (e.g. 14), not a header pin number"
                    .into(),
        },
        other => HwError::Rppal {
            what: format!("{driver} fan on GPIO {pin}"),
            detail: other.to_string(),
        },
    }
}

/// Maps an rppal PWM error to a message that says what to do.
pub(crate) fn pwm_error(channel: u8, error: pwm::Error) -> HwError {
    match error {
        pwm::Error::UnknownModel => HwError::NotRaspberryPi { driver: "pwm", detail: error.to_string() },
        pwm::Error::InvalidChannel => HwError::InvalidSpec {
            field: "fan.pwm_channel",
            reason: format!("{channel} is not a hardware PWM channel (0..=3)"),
        },
        pwm::Error::Io(e) if e.kind() == io::ErrorKind::NotFound => HwError::PwmUnavailable {
            channel,
            reason: "not enabled; add dtoverlay=pwm-2chan to /boot/firmware/config.txt and reboot".into(),
        },
        pwm::Error::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => HwError::PwmUnavailable {
            channel,
            reason: "permission denied on /sys/class/pwm; run warden as root or add a udev rule for the pwm class"
                .into(),
        },
        other => HwError::Rppal { what: format!("hardware PWM channel {channel}"), detail: other.to_string() },
    }
}

/// A fan switched by a GPIO pin through a transistor: on or off.
#[derive(Debug)]
pub struct GpioFan {
    pin: OutputPin,
    active_low: bool,
}

impl GpioFan {
    /// Opens BCM pin `pin` as an output, fan off; `active_low` when a low level runs the fan.
    pub fn open(pin: u8, active_low: bool) -> Result<Self, HwError> {
        let off = if active_low { Level::High } else { Level::Low };
        Ok(GpioFan {
            pin: open_output_pin("gpio", pin, off)?,
            active_low,
        })
    }
}

impl Fan for GpioFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        let on = check_duty(duty)? > 0.0;
        self.pin.write(Level::from(on != self.active_low));
        Ok(())
    }

    fn driver(&self) -> &'static str {
        "gpio"
    }

    fn is_proportional(&self) -> bool {
        false
    }
}

/// A fan on a hardware PWM channel (PWM0 = GPIO12/18, PWM1 = GPIO13/19 on a Pi 4).
#[derive(Debug)]
pub struct PwmFan {
    pwm: Pwm,
    channel: u8,
    shaper: DutyShaper,
}

impl PwmFan {
    /// Opens hardware PWM `channel` at `frequency_hz`, enabled at duty 0; `inverted` when
    /// a low level runs the fan. Running duties are raised to `min_duty`.
    pub fn open(
        channel: u8,
        frequency_hz: f64,
        min_duty: f64,
        inverted: bool,
        kick: Duration,
    ) -> Result<Self, HwError> {
        check_frequency(frequency_hz)?;
        check_min_duty(min_duty)?;
        let pwm_channel = Channel::try_from(channel).map_err(|e| pwm_error(channel, e))?;
        let polarity = if inverted {
            Polarity::Inverse
        } else {
            Polarity::Normal
        };
        let mut pwm = Pwm::with_frequency(pwm_channel, frequency_hz, 0.0, polarity, true)
            .map_err(|e| pwm_error(channel, e))?;
        pwm.set_reset_on_drop(false);
        Ok(PwmFan {
            pwm,
            channel,
            shaper: DutyShaper::new(min_duty, kick),
        })
    }

    /// As [`Fan::set_duty`] with the time injected (drives the start-up kick).
    pub fn set_duty_at(&mut self, duty: f64, now: Instant) -> Result<(), HwError> {
        let requested = check_duty(duty)?;
        let before = self.shaper;
        let applied = self.shaper.shape(requested, now);
        self.pwm.set_duty_cycle(applied).map_err(|e| {
            self.shaper = before;
            pwm_error(self.channel, e)
        })
    }
}

impl Fan for PwmFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        self.set_duty_at(duty, Instant::now())
    }

    fn driver(&self) -> &'static str {
        "pwm"
    }

    fn is_proportional(&self) -> bool {
        true
    }
}

/// A fan on any GPIO pin, PWM emulated in software by rppal.
///
/// CPU cost: for duties strictly between 0 and 1, rppal runs one thread per pin at
/// `SCHED_RR` maximum priority (when root) that sleeps through most of each high and low
/// phase but busy-waits the last ~200 µs of each, and spins through any phase shorter
/// than 250 µs. That is up to ~450 µs of spinning per period: about 4.5 % of one core at
/// the default 100 Hz, ~45 % at 1 kHz, and a whole core above ~2 kHz (so never 25 kHz),
/// and a real-time spinning thread can delay the event loop on its core. This driver
/// stops the thread at duty 0 and at full duty (plain pin levels), so the cost is paid
/// only while the fan runs at partial speed. Prefer `pwm` (hardware) or `gpio` (on/off).
#[derive(Debug)]
pub struct SoftPwmFan {
    pin: OutputPin,
    pin_number: u8,
    frequency_hz: f64,
    active_low: bool,
    shaper: DutyShaper,
}

impl SoftPwmFan {
    /// Opens BCM pin `pin` for software PWM at `frequency_hz`, fan off.
    pub fn open(
        pin: u8,
        frequency_hz: f64,
        min_duty: f64,
        active_low: bool,
        kick: Duration,
    ) -> Result<Self, HwError> {
        check_frequency(frequency_hz)?;
        check_min_duty(min_duty)?;
        let off = if active_low { Level::High } else { Level::Low };
        Ok(SoftPwmFan {
            pin: open_output_pin("soft-pwm", pin, off)?,
            pin_number: pin,
            frequency_hz,
            active_low,
            shaper: DutyShaper::new(min_duty, kick),
        })
    }

    /// As [`Fan::set_duty`] with the time injected (drives the start-up kick).
    pub fn set_duty_at(&mut self, duty: f64, now: Instant) -> Result<(), HwError> {
        let requested = check_duty(duty)?;
        let before = self.shaper;
        let applied = self.shaper.shape(requested, now);
        let result = if applied <= 0.0 || applied >= 1.0 {
            self.pin.clear_pwm().map(|()| {
                self.pin
                    .write(Level::from((applied >= 1.0) != self.active_low))
            })
        } else {
            let level_duty = if self.active_low {
                1.0 - applied
            } else {
                applied
            };
            self.pin.set_pwm_frequency(self.frequency_hz, level_duty)
        };
        result.map_err(|e| {
            self.shaper = before;
            gpio_error("soft-pwm", self.pin_number, e)
        })
    }
}

impl Fan for SoftPwmFan {
    fn set_duty(&mut self, duty: f64) -> Result<(), HwError> {
        self.set_duty_at(duty, Instant::now())
    }

    fn driver(&self) -> &'static str {
        "soft-pwm"
    }

    fn is_proportional(&self) -> bool {
        true
    }
}
