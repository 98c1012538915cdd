//! Fan switches per hour: warden's on/off fan law (default policy: on at 60 °C
//! or predicted, off at 50 °C, 30 s minimum on and off) beside the Raspberry Pi
//! firmware `gpio-fan` overlay rule (on at 55 °C, off below 45 °C, raw
//! readings) on the same seeded traces, one hour at a 500 ms tick.
//!
//! Traces (uniform noise from a SplitMix64 PRNG, seed printed):
//! - `plateau-60`: 60 °C ± 1 °C, the policy's fan threshold.
//! - `plateau-55`: 55 °C ± 1 °C, the overlay's trip temperature.
//! - `bursty`: the SoC alternates idle/busy phases of 5–30 s (random), heading for
//!   44 °C or 62 °C with a 4 s thermal time constant, ± 1 °C noise: swings wider
//!   than either band, so only dwell and filtering limit switching.
//!
//! Run: `cargo run -p warden-thermal --example fan_switches`

use std::time::Duration;

use warden_thermal::reference::GpioFanOverlayRule;
use warden_thermal::{PolicyConfig, ThermalPolicy};

const TICK_S: f64 = 0.5;
const HOUR_S: f64 = 3600.0;
const SEED: u64 = 1;

/// SplitMix64: a tiny deterministic PRNG.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn noise(&mut self, amplitude: f64) -> f64 {
        amplitude * (2.0 * self.next_unit() - 1.0)
    }
}

/// One hour of readings at `TICK_S`.
fn plateau(center_c: f64) -> Vec<f64> {
    let mut rng = SplitMix64(SEED);
    (0..=(HOUR_S / TICK_S) as usize)
        .map(|_| center_c + rng.noise(1.0))
        .collect()
}

fn bursty() -> Vec<f64> {
    let (idle_c, busy_c, tau_s) = (44.0, 62.0, 4.0);
    let mut rng = SplitMix64(SEED);
    let (mut die_c, mut busy, mut phase_left_s) = (idle_c, false, 0.0);
    let mut readings = Vec::new();
    for _ in 0..=(HOUR_S / TICK_S) as usize {
        if phase_left_s <= 0.0 {
            busy = !busy;
            phase_left_s = 5.0 + 25.0 * rng.next_unit();
        }
        phase_left_s -= TICK_S;
        let target = if busy { busy_c } else { idle_c };
        die_c += (target - die_c) * (1.0 - (-TICK_S / tau_s).exp());
        readings.push(die_c + rng.noise(1.0));
    }
    readings
}

/// Switches of the policy's on/off fan and of the overlay rule on `readings`.
fn count_switches(readings: &[f64]) -> (u32, u32, f64, f64) {
    let mut policy = ThermalPolicy::new(PolicyConfig::default()).expect("defaults are valid");
    let mut overlay = GpioFanOverlayRule::default();
    let (mut policy_on, mut overlay_on) = (false, false);
    let (mut policy_switches, mut overlay_switches) = (0, 0);
    let (mut policy_on_ticks, mut overlay_on_ticks) = (0u32, 0u32);
    for (k, &celsius) in readings.iter().enumerate() {
        let now = Duration::from_secs_f64(k as f64 * TICK_S);
        let on = policy.step(Ok(celsius), now).fan_duty > 0.0;
        policy_switches += u32::from(on != policy_on);
        policy_on = on;
        policy_on_ticks += u32::from(on);
        let on = overlay.update(celsius);
        overlay_switches += u32::from(on != overlay_on);
        overlay_on = on;
        overlay_on_ticks += u32::from(on);
    }
    let share = |ticks: u32| 100.0 * f64::from(ticks) / readings.len() as f64;
    (
        policy_switches,
        overlay_switches,
        share(policy_on_ticks),
        share(overlay_on_ticks),
    )
}

fn main() {
    println!("fan switches per hour, {TICK_S} s tick, seed {SEED} (fan assumed off at start)");
    println!(
        "{:<12} {:>16} {:>16} {:>12} {:>12}",
        "trace", "warden/hour", "overlay/hour", "warden on%", "overlay on%"
    );
    for (name, readings) in [
        ("plateau-60", plateau(60.0)),
        ("plateau-55", plateau(55.0)),
        ("bursty", bursty()),
    ] {
        let (warden, overlay, warden_on, overlay_on) = count_switches(&readings);
        println!("{name:<12} {warden:>16} {overlay:>16} {warden_on:>11.1}% {overlay_on:>11.1}%");
    }
}
