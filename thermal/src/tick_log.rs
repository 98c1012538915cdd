//! The controller's per-tick debug line, for an operator tuning thresholds:
//! what the sensor read, what the policy made of it, and what was applied.
//! [`TickLine`] formats straight into the logger's writer, so a tick costs
//! no allocation of its own, and the controller builds one only when debug
//! logging is enabled.
//!
//! The fields, in order (`docs/CONFIG.md` quotes an example line):
//! `raw` (°C, or `unreadable`), `filtered` (°C, or `none`), `predicted` with
//! its `trend` (only when the policy has a prediction), `level`, `fan`
//! (requested duty, plus the applied one when a write failed), `cpu` (cap or
//! governor, and the policy's step), `admission` and its reason, and the
//! sensor's fault and read errors when it is degraded.

use std::fmt;

use crate::policy::CpuStep;
use crate::snapshot::{CpuStatus, ThermalSnapshot};

/// One tick as a log line; formatted only if the logger writes it.
pub(crate) struct TickLine<'a> {
    /// The snapshot just published for this tick.
    pub(crate) snapshot: &'a ThermalSnapshot,
    /// The cpufreq step the policy decided (not kept in the snapshot).
    pub(crate) cpu_step: CpuStep,
}

impl fmt::Display for TickLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.snapshot;
        f.write_str("thermal tick: raw ")?;
        match snapshot.temp_c {
            Some(celsius) => write!(f, "{celsius:.3} °C")?,
            None => f.write_str("unreadable")?,
        }
        match snapshot.filtered_c {
            Some(celsius) => write!(f, ", filtered {celsius:.2} °C")?,
            None => f.write_str(", filtered none")?,
        }
        if let Some(predicted) = snapshot.predicted_c {
            write!(f, ", predicted {predicted:.2} °C")?;
            // Known whenever the prediction is: it is what the prediction extrapolates.
            if let Some(trend) = snapshot.trend_c_per_s {
                write!(f, " (trend {trend:+.3} °C/s)")?;
            }
        }
        write!(
            f,
            ", level {}, fan {:.2}",
            snapshot.level.as_str(),
            snapshot.fan.requested_duty
        )?;
        // Differs only while writes to the fan fail.
        match snapshot.fan.duty {
            Some(applied) if applied == snapshot.fan.requested_duty => {}
            Some(applied) => write!(f, " (applied {applied:.2})")?,
            None => f.write_str(" (applied none)")?,
        }
        f.write_str(", cpu ")?;
        write_cpu(f, snapshot.cpu.as_ref())?;
        write!(
            f,
            ", step {}, admission {} because {}",
            self.cpu_step.as_str(),
            snapshot.admission,
            snapshot.admission_reason.as_str()
        )?;
        let sensor = &snapshot.sensor;
        if let Some(cause) = sensor.fault {
            write!(f, ", sensor fault {}", cause.as_str())?;
        }
        if sensor.consecutive_errors > 0 {
            write!(f, ", sensor errors {} in a row", sensor.consecutive_errors)?;
            if let Some(error) = &sensor.last_error {
                write!(f, " (last: {error})")?;
            }
        }
        Ok(())
    }
}

/// "cap 1000000 of 1500000 kHz", "governor powersave", "strategy off" or "none".
fn write_cpu(f: &mut fmt::Formatter<'_>, cpu: Option<&CpuStatus>) -> fmt::Result {
    let Some(cpu) = cpu else {
        return f.write_str("none");
    };
    match cpu.strategy {
        "governor" => match &cpu.governor {
            Some(governor) => write!(f, "governor {governor}"),
            None => f.write_str("governor unknown"),
        },
        "off" => f.write_str("strategy off"),
        _ => match cpu.max_khz {
            Some(khz) => write!(f, "cap {khz} of {} kHz", cpu.original_max_khz),
            None => write!(f, "cap unknown of {} kHz", cpu.original_max_khz),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{AdmissionDecision, AdmissionReason, Level};
    use crate::sensor_health::SensorFaultCause;
    use crate::snapshot::FanStatus;
    use crate::ShedMode;

    /// The tick `docs/CONFIG.md` quotes first: shedding, the fan full, cpufreq uncapped.
    fn shedding() -> ThermalSnapshot {
        let mut snapshot = ThermalSnapshot {
            temp_c: Some(76.312),
            filtered_c: Some(75.87),
            trend_c_per_s: Some(0.254),
            predicted_c: Some(78.41),
            level: Level::Shed,
            admission: AdmissionDecision::Shed {
                mode: ShedMode::Reject,
            },
            admission_reason: AdmissionReason::Hot,
            fan: FanStatus {
                requested_duty: 1.0,
                duty: Some(1.0),
                ..FanStatus::default()
            },
            cpu: Some(CpuStatus {
                strategy: "max-freq",
                max_khz: Some(1_500_000),
                original_max_khz: 1_500_000,
                ..CpuStatus::default()
            }),
            ..ThermalSnapshot::default()
        };
        snapshot.sensor.healthy = true;
        snapshot
    }

    /// The tick `docs/CONFIG.md` quotes "while the sensor is failing": three reads in a
    /// row failed with EIO.
    fn sensor_failing() -> ThermalSnapshot {
        let mut snapshot = shedding();
        snapshot.temp_c = None;
        snapshot.filtered_c = None;
        snapshot.predicted_c = None;
        snapshot.level = Level::SensorFault;
        snapshot.admission = AdmissionDecision::Open;
        snapshot.admission_reason = AdmissionReason::SensorFault;
        snapshot.sensor.healthy = false;
        snapshot.sensor.fault = Some(SensorFaultCause::ReadErrors);
        snapshot.sensor.consecutive_errors = 3;
        // The message the sysfs sensor's error gives, as the controller stores it.
        let eio = warden_hw::HwError::Io {
            path: "/sys/class/thermal/thermal_zone0/temp".into(),
            access: warden_hw::Access::Read,
            os_error: std::io::Error::from_raw_os_error(EIO),
        };
        snapshot.sensor.last_error = Some(eio.to_string());
        snapshot
    }

    /// EIO on Linux: what a sensor whose driver lost the chip returns.
    const EIO: i32 = 5;

    #[test]
    fn a_healthy_tick_names_every_control_input_and_output() {
        let line = TickLine {
            snapshot: &shedding(),
            cpu_step: CpuStep::Up,
        };
        // Exactly the first example line in docs/CONFIG.md (after the logger's prefix).
        assert_eq!(
            line.to_string(),
            "thermal tick: raw 76.312 °C, filtered 75.87 °C, predicted 78.41 °C \
             (trend +0.254 °C/s), level shed, fan 1.00, cpu cap 1500000 of 1500000 kHz, \
             step up, admission shed (reject) because hot"
        );
    }

    #[test]
    fn a_degraded_sensor_is_spelled_out() {
        let line = TickLine {
            snapshot: &sensor_failing(),
            cpu_step: CpuStep::Hold,
        };
        // Exactly the "while the sensor is failing" line in docs/CONFIG.md.
        assert_eq!(
            line.to_string(),
            "thermal tick: raw unreadable, filtered none, level sensor_fault, fan 1.00, \
             cpu cap 1500000 of 1500000 kHz, step hold, admission open because sensor_fault, \
             sensor fault read_errors, sensor errors 3 in a row (last: I/O error reading \
             /sys/class/thermal/thermal_zone0/temp: Input/output error (os error 5))"
        );
    }

    #[test]
    fn a_failing_fan_and_the_governor_strategy_are_spelled_out() {
        let mut snapshot = sensor_failing();
        snapshot.fan.duty = Some(0.0);
        snapshot.cpu = Some(CpuStatus {
            strategy: "governor",
            governor: Some("powersave".into()),
            ..CpuStatus::default()
        });
        let line = TickLine {
            snapshot: &snapshot,
            cpu_step: CpuStep::Hold,
        }
        .to_string();
        assert!(
            line.contains(", fan 1.00 (applied 0.00), cpu governor powersave, step hold,"),
            "{line}"
        );
        snapshot.fan.duty = None;
        let line = TickLine {
            snapshot: &snapshot,
            cpu_step: CpuStep::Hold,
        }
        .to_string();
        assert!(line.contains(", fan 1.00 (applied none), cpu"), "{line}");
    }

    #[test]
    fn no_cpufreq_backend_still_shows_the_policy_step() {
        let mut snapshot = shedding();
        snapshot.cpu = None;
        let line = TickLine {
            snapshot: &snapshot,
            cpu_step: CpuStep::ToMinimum,
        }
        .to_string();
        assert!(line.contains(", cpu none, step to_minimum,"), "{line}");
    }
}
