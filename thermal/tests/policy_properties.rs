//! Property tests over seeded random traces (a tiny deterministic PRNG, so a
//! failure names its seed and replays exactly): noise around any threshold
//! cannot make the fan or admission chatter, and a fast ramp is met by
//! prediction before the raw temperature reaches the threshold.

mod common;

use common::{run_trace, transitions, SplitMix64, Tick};
use warden_thermal::{Level, PolicyConfig};

const SEEDS: u64 = 120;
const NOISE_C: f64 = 1.0;
const APPROACH_S: f64 = 60.0;
const PLATEAU_S: f64 = 3600.0;

/// Every on and off threshold of the default config.
fn all_thresholds(config: &PolicyConfig) -> Vec<f64> {
    config
        .thresholds
        .named()
        .iter()
        .flat_map(|(_, t)| [t.on_c, t.off_c])
        .collect()
}

/// A trace that approaches `center` from 15 °C above or below, then sits there with ±1 °C noise.
struct NoisyPlateau {
    center: f64,
    start: f64,
    rng: SplitMix64,
}

impl NoisyPlateau {
    fn random(rng: &mut SplitMix64, thresholds: &[f64]) -> Self {
        let index = (rng.next_u64() % thresholds.len() as u64) as usize;
        let center = thresholds[index] + rng.noise(0.5);
        let start = if rng.unit() < 0.5 {
            center - 15.0
        } else {
            center + 15.0
        };
        NoisyPlateau {
            center,
            start,
            rng: SplitMix64::new(rng.next_u64()),
        }
    }

    fn at(&mut self, t: f64) -> f64 {
        let underlying = if t < APPROACH_S {
            self.start + (self.center - self.start) * t / APPROACH_S
        } else {
            self.center
        };
        underlying + self.rng.noise(NOISE_C)
    }
}

fn random_tick(rng: &mut SplitMix64) -> f64 {
    [0.1, 0.25, 0.5, 1.0][(rng.next_u64() % 4) as usize]
}

fn plateau_changes<T: PartialEq + Copy>(
    ticks: &[Tick],
    field: impl Fn(&warden_thermal::Decision) -> T,
) -> usize {
    // The first entry is the initial value, not a change.
    let after_approach: Vec<Tick> = ticks
        .iter()
        .copied()
        .filter(|t| t.at_s >= APPROACH_S)
        .collect();
    transitions(&after_approach, field).len() - 1
}

#[test]
fn on_off_fan_switches_at_most_once_per_dwell_window() {
    let mut rng = SplitMix64::new(0x5eed_fa11);
    for seed in 0..SEEDS {
        let dwell_s = rng.range(5.0, 60.0);
        let config = PolicyConfig {
            fan_min_on_s: dwell_s,
            fan_min_off_s: dwell_s,
            ..PolicyConfig::default()
        };
        let mut trace = NoisyPlateau::random(&mut rng, &all_thresholds(&config));
        let tick_s = random_tick(&mut rng);
        let ticks = run_trace(config, tick_s, APPROACH_S + PLATEAU_S, |t| trace.at(t));

        let switches: Vec<&Tick> = ticks
            .windows(2)
            .filter(|w| w[0].decision.fan_duty != w[1].decision.fan_duty)
            .map(|w| &w[1])
            .collect();
        for pair in switches.windows(2) {
            let forced_on =
                pair[1].decision.level >= Level::Critical && pair[1].decision.fan_duty == 1.0;
            let gap_s = pair[1].at_s - pair[0].at_s;
            assert!(
                forced_on || gap_s >= dwell_s - 1e-9,
                "seed {seed}: fan switched {gap_s} s after the previous switch (dwell {dwell_s} s) \
                 around {:.2} °C",
                trace.center
            );
        }
        let on_plateau = plateau_changes(&ticks, |d| d.fan_duty);
        assert!(
            on_plateau <= 1,
            "seed {seed}: {on_plateau} fan switches on a plateau at {:.2} °C",
            trace.center
        );
    }
}

#[test]
fn admission_never_flaps_faster_than_its_hysteresis() {
    let mut rng = SplitMix64::new(0xad_0155);
    for seed in 0..SEEDS {
        let config = PolicyConfig::default();
        let shed = config.thresholds.shed;
        let mut trace = NoisyPlateau::random(&mut rng, &all_thresholds(&config));
        let ticks = run_trace(config, random_tick(&mut rng), APPROACH_S + PLATEAU_S, |t| {
            trace.at(t)
        });

        // Every change is justified by its own edge of the hysteresis band.
        for w in ticks.windows(2) {
            let (before, after) = (w[0].decision, w[1].decision);
            if !before.admission.is_shed() && after.admission.is_shed() {
                let engage_c = after.predicted_c.unwrap().max(w[1].raw_c);
                assert!(engage_c >= shed.on_c, "seed {seed}: shed below threshold");
            }
            if before.admission.is_shed() && !after.admission.is_shed() {
                assert!(
                    after.filtered_c.unwrap() <= shed.off_c,
                    "seed {seed}: reopened above off"
                );
            }
        }
        // ±1 °C of noise is far inside the 5 °C band: at most one change while on the plateau.
        let on_plateau = plateau_changes(&ticks, |d| d.admission);
        assert!(
            on_plateau <= 1,
            "seed {seed}: admission changed {on_plateau} times at {:.2} °C",
            trace.center
        );
    }
}

#[test]
fn proportional_fan_changes_step_at_most_once_on_a_noisy_plateau() {
    let mut rng = SplitMix64::new(0xc0_ffee);
    for seed in 0..SEEDS {
        let config = PolicyConfig {
            proportional_fan: true,
            ..PolicyConfig::default()
        };
        let mut points: Vec<f64> = config.fan_curve.iter().map(|p| p.temp_c).collect();
        points.extend(
            config
                .fan_curve
                .iter()
                .map(|p| p.temp_c - config.fan_curve_backoff_c),
        );
        let mut trace = NoisyPlateau::random(&mut rng, &points);
        let ticks = run_trace(config, random_tick(&mut rng), APPROACH_S + PLATEAU_S, |t| {
            trace.at(t)
        });
        let on_plateau = plateau_changes(&ticks, |d| d.fan_duty);
        assert!(
            on_plateau <= 1,
            "seed {seed}: duty changed {on_plateau} times at {:.2} °C",
            trace.center
        );
    }
}

#[test]
fn steady_fast_ramp_sheds_horizon_minus_filter_lag_early() {
    let mut rng = SplitMix64::new(0xf1_5e);
    for seed in 0..SEEDS {
        let config = PolicyConfig::default();
        let shed_on = config.thresholds.shed.on_c;
        let rate = rng.range(0.5, 2.0);
        // Start low enough that the filter and trend have settled on the ramp by 65 °C.
        let start = rng.range(10.0, 30.0);
        let tick_s = random_tick(&mut rng);
        let ticks = run_trace(config, tick_s, 120.0, |t| start + rate * t);
        let first_shed = ticks
            .iter()
            .find(|t| t.decision.admission.is_shed())
            .expect("ramp must shed");
        let lead_s = (shed_on - start) / rate - first_shed.at_s;
        // The 1.5 s filter lag costs that much of the 10 s horizon; one tick of quantisation.
        assert!(
            lead_s >= 8.5 - tick_s - 0.1,
            "seed {seed}: {rate:.2} °C/s shed only {lead_s:.2} s early (raw {:.2} °C)",
            first_shed.raw_c
        );
    }
}

#[test]
fn ramp_from_idle_sheds_before_the_raw_temperature_reaches_the_threshold() {
    let mut rng = SplitMix64::new(0x1d1e);
    let mut min_lead_s = f64::INFINITY;
    for seed in 0..SEEDS {
        let config = PolicyConfig::default();
        let shed_on = config.thresholds.shed.on_c;
        let (idle_c, idle_s) = (rng.range(35.0, 55.0), rng.range(5.0, 30.0));
        let rate = rng.range(0.5, 2.0);
        let mut noise = SplitMix64::new(rng.next_u64());
        let tick_s = random_tick(&mut rng);
        let underlying = move |t: f64| idle_c + rate * (t - idle_s).max(0.0);
        let ticks = run_trace(config, tick_s, 200.0, |t| {
            underlying(t) + noise.noise(NOISE_C)
        });
        let first_shed = ticks
            .iter()
            .find(|t| t.decision.admission.is_shed())
            .expect("ramp must shed");
        let lead_s = idle_s + (shed_on - idle_c) / rate - first_shed.at_s;
        min_lead_s = min_lead_s.min(lead_s);
        assert!(
            underlying(first_shed.at_s) < shed_on && lead_s >= 3.0,
            "seed {seed}: idle {idle_c:.1} °C then {rate:.2} °C/s shed only {lead_s:.2} s early"
        );
    }
    println!("ramp from idle: shedding starts at least {min_lead_s:.2} s before the threshold");
}
