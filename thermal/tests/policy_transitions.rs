//! Table-driven policy tests: a ramp up, a plateau and a ramp down produce
//! transitions at exactly the ticks the thresholds and hysteresis dictate.

mod common;

use common::{run_trace, transitions, Tick};
use warden_thermal::{AdmissionDecision, AdmissionReason, CpuStep, Level, PolicyConfig, ShedMode};

const TICK_S: f64 = 0.5;

/// 40.25 °C rising 1 °C/s to 90.25 at 50 s, plateau to 80 s, falling 1 °C/s to 30.25 at
/// 140 s, plateau to 200 s. The quarter degree keeps every threshold between two ticks.
fn ramp_plateau_ramp(t: f64) -> f64 {
    if t <= 50.0 {
        40.25 + t
    } else if t <= 80.0 {
        90.25
    } else if t <= 140.0 {
        90.25 - (t - 80.0)
    } else {
        30.25
    }
}

/// No filtering and no prediction: transitions fall exactly on the thresholds.
fn reactive_config() -> PolicyConfig {
    PolicyConfig {
        filter_tau_s: 0.0,
        horizon_s: 0.0,
        ..PolicyConfig::default()
    }
}

fn shed(ticks: &[Tick]) -> Vec<(f64, bool)> {
    transitions(ticks, |d| d.admission.is_shed())
}

#[test]
fn levels_follow_thresholds_with_hysteresis() {
    let ticks = run_trace(reactive_config(), TICK_S, 200.0, ramp_plateau_ramp);
    let expected = vec![
        (0.0, Level::Normal),
        (20.0, Level::Fan),      // 60.25 >= 60
        (35.0, Level::Shed),     // 75.25 >= 75
        (40.0, Level::Throttle), // 80.25 >= 80
        (45.0, Level::Critical), // 85.25 >= 85
        (90.5, Level::Throttle), // 79.75 <= 80
        (95.5, Level::Shed),     // 74.75 <= 75
        (100.5, Level::Fan),     // 69.75 <= 70
        (120.5, Level::Normal),  // 49.75 <= 50
    ];
    assert_eq!(transitions(&ticks, |d| d.level), expected);
}

#[test]
fn admission_fan_and_cpu_transitions() {
    let ticks = run_trace(reactive_config(), TICK_S, 200.0, ramp_plateau_ramp);
    assert_eq!(
        shed(&ticks),
        vec![(0.0, false), (35.0, true), (100.5, false)]
    );
    assert_eq!(
        transitions(&ticks, |d| d.fan_duty),
        vec![(0.0, 0.0), (20.0, 1.0), (120.5, 0.0)]
    );
    assert_eq!(
        transitions(&ticks, |d| d.cpu_step),
        vec![
            (0.0, CpuStep::Up),
            (40.0, CpuStep::Down),
            (45.0, CpuStep::ToMinimum),
            (90.5, CpuStep::Hold),
            (95.5, CpuStep::Up),
        ]
    );
}

#[test]
fn shed_mode_comes_from_config() {
    let config = PolicyConfig {
        shed_mode: ShedMode::Pause,
        ..reactive_config()
    };
    let ticks = run_trace(config, TICK_S, 60.0, ramp_plateau_ramp);
    let shed_decision = ticks
        .iter()
        .find(|t| t.decision.admission.is_shed())
        .unwrap();
    assert_eq!(
        shed_decision.decision.admission,
        AdmissionDecision::Shed {
            mode: ShedMode::Pause
        }
    );
}

#[test]
fn fan_off_waits_for_min_on_dwell() {
    // A short spike: on at 20 s, cool again by 25 s, but min on (30 s) holds until 50 s.
    let spike = |t: f64| {
        if (20.0..25.0).contains(&t) {
            61.0
        } else {
            45.0
        }
    };
    let ticks = run_trace(reactive_config(), TICK_S, 120.0, spike);
    assert_eq!(
        transitions(&ticks, |d| d.fan_duty),
        vec![(0.0, 0.0), (20.0, 1.0), (50.0, 0.0)]
    );
    assert_eq!(
        transitions(&ticks, |d| d.level),
        vec![
            (0.0, Level::Normal),
            (20.0, Level::Fan),
            (25.0, Level::Normal)
        ]
    );
}

#[test]
fn prediction_enters_stages_early_and_cooling_is_confirmed_by_temperature() {
    // Exact line, no filter: after half the trend window the slope is exactly 1 °C/s,
    // so stages are entered when raw + 10 °C reaches them: 10 s early.
    let config = PolicyConfig {
        filter_tau_s: 0.0,
        ..PolicyConfig::default()
    };
    let ticks = run_trace(config, TICK_S, 200.0, ramp_plateau_ramp);
    assert_eq!(
        transitions(&ticks, |d| d.level),
        vec![
            (0.0, Level::Normal),
            (10.0, Level::Fan),      // 50.25 + 10 >= 60 (trend known from 5 s)
            (25.0, Level::Shed),     // 65.25 + 10 >= 75
            (30.0, Level::Throttle), // 70.25 + 10 >= 80
            (35.0, Level::Critical), // 75.25 + 10 >= 85
            // A falling trend never lowers the prediction: exits as without prediction.
            (90.5, Level::Throttle),
            (95.5, Level::Shed),
            (100.5, Level::Fan),
            (120.5, Level::Normal),
        ]
    );
    assert_eq!(
        shed(&ticks),
        vec![(0.0, false), (25.0, true), (100.5, false)]
    );
    assert_eq!(
        transitions(&ticks, |d| d.admission_reason),
        vec![
            (0.0, AdmissionReason::Cool),
            (25.0, AdmissionReason::Predicted),
            (35.0, AdmissionReason::Critical),
            (90.5, AdmissionReason::Hot),
            (95.5, AdmissionReason::Cooling),
            (100.5, AdmissionReason::Cool),
        ]
    );
    let at_shed = ticks.iter().find(|t| t.at_s == 25.0).unwrap();
    assert_eq!(
        at_shed.raw_c, 65.25,
        "shedding starts 10 °C below the threshold"
    );
}

#[test]
fn proportional_curve_steps_with_five_degree_back_off() {
    let config = PolicyConfig {
        proportional_fan: true,
        ..reactive_config()
    };
    let ticks = run_trace(config, TICK_S, 200.0, ramp_plateau_ramp);
    assert_eq!(
        transitions(&ticks, |d| d.fan_duty),
        vec![
            (0.0, 0.0),
            (10.0, 0.30),  // 50.25 >= 50
            (20.0, 0.50),  // 60.25 >= 60
            (27.5, 0.70),  // 67.75 >= 67.5
            (35.0, 1.00),  // 75.25 >= 75
            (100.5, 0.70), // 69.75 <= 75 - 5
            (108.0, 0.50), // 62.25 <= 67.5 - 5
            (115.5, 0.30), // 54.75 <= 60 - 5
            (125.5, 0.0),  // 44.75 <= 50 - 5
        ]
    );
}

#[test]
fn a_step_engages_on_the_tick_it_is_seen_while_the_filter_lags() {
    // A step from 45 to 62 (within the jump check's 20 °C): the default 1.5 s filter
    // needs many ticks to pass 60, but the raw reading engages the fan stage on the very
    // tick it is seen.
    let ticks = run_trace(
        PolicyConfig {
            horizon_s: 0.0,
            ..PolicyConfig::default()
        },
        TICK_S,
        30.0,
        |t| {
            if t < 10.0 {
                45.0
            } else {
                62.0
            }
        },
    );
    let fan_on = transitions(&ticks, |d| d.level)[1];
    assert_eq!(fan_on, (10.0, Level::Fan));
    let at_step = ticks.iter().find(|t| t.at_s == 10.0).unwrap();
    // The filter weighs a reading over the interval since the previous one, so the step
    // counts from the 9.5 s tick: 45 + 17 (1 - e^(-0.5/1.5)) = 49.8 at 10.0 s.
    let filtered = at_step.decision.filtered_c.unwrap();
    assert!((filtered - 49.82).abs() < 0.1, "filtered {filtered}");
}
