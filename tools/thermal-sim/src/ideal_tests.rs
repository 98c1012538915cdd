//! The ideal controller stays under its ceiling and bounds every regime that does.

use super::*;
use crate::compare::{self, HOT_C};
use crate::regime::RegimeKind;

/// Full load in a warm room; the fan dies after a minute, so the die has to be held.
fn dead_fan(minutes: u32) -> Scenario {
    Scenario::from_toml(&format!(
        "name = \"t\"\nduration_s = {}\nseed = 9\n[ambient]\npoints = [[0.0, 34.0]]\n\
         [load]\nkind = \"constant\"\nlevel = 1.0\n[fan]\nfails_at_s = 60.0\n",
        minutes * 60
    ))
    .unwrap()
}

#[test]
fn the_ideal_controller_never_lets_the_die_past_its_ceiling() {
    let scenario = dead_fan(15);
    for ceiling_c in [70.0, 75.0, HOT_C] {
        let ideal = run(&scenario, ceiling_c).unwrap();
        assert!(ideal.peak_c <= ceiling_c + 1e-9, "{ideal:?}");
        assert!(
            ideal.peak_c > ceiling_c - 0.5,
            "it runs up to the ceiling: {ideal:?}"
        );
        assert!(
            ideal.served_share() < 1.0,
            "the ceiling costs work: {ideal:?}"
        );
    }
}

#[test]
fn a_ceiling_the_die_never_reaches_serves_everything() {
    let scenario = Scenario::from_toml(
        "name = \"t\"\nduration_s = 900\nseed = 9\n[ambient]\npoints = [[0.0, 22.0]]\n\
         [load]\nkind = \"constant\"\nlevel = 1.0\n",
    )
    .unwrap();
    let ideal = run(&scenario, HOT_C).unwrap();
    assert!((ideal.served_share() - 1.0).abs() < 1e-9, "{ideal:?}");
    assert!(ideal.peak_c < 60.0, "the fan runs full: {ideal:?}");
}

#[test]
fn without_a_ceiling_the_firmware_still_caps_the_clock() {
    let ideal = run(&dead_fan(15), 150.0).unwrap();
    assert!(ideal.peak_c > HOT_C, "{ideal:?}");
    assert!(ideal.served_share() < 1.0, "{ideal:?}");
}

#[test]
fn a_higher_ceiling_serves_more() {
    let scenario = dead_fan(15);
    let served = [70.0, 75.0, HOT_C, 82.0].map(|c| run(&scenario, c).unwrap().served_work_s);
    assert!(
        served.windows(2).all(|pair| pair[0] < pair[1]),
        "{served:?}"
    );
}

#[test]
fn no_regime_serves_more_than_the_ideal_at_its_own_peak() {
    let scenario = dead_fan(15);
    for regime in RegimeKind::ALL {
        let m = compare::run(&scenario, regime).unwrap().metrics;
        let ideal = run(&scenario, m.peak_c).unwrap();
        assert!(
            ideal.served_work_s >= m.served_work_s,
            "{} served {} s at a peak of {:.2} °C, the ideal {} s",
            regime.label(),
            m.served_work_s,
            m.peak_c,
            ideal.served_work_s
        );
        assert!((ideal.offered_work_s - m.offered_work_s).abs() < 1e-6);
    }
}

#[test]
fn the_break_even_ceiling_is_where_the_ideal_first_serves_the_work() {
    let scenario = dead_fan(10);
    let target = run(&scenario, 78.0).unwrap().served_work_s;
    let ceiling = break_even_ceiling(&scenario, target, 60.0, HOT_C)
        .unwrap()
        .expect("78 °C is inside the span");
    assert!((ceiling - 78.0).abs() < 0.01, "{ceiling}");
    assert!(run(&scenario, ceiling).unwrap().served_work_s >= target);
    assert!(run(&scenario, ceiling - 0.01).unwrap().served_work_s < target);
    let unreachable = run(&scenario, HOT_C).unwrap().served_work_s + 1.0;
    assert_eq!(
        break_even_ceiling(&scenario, unreachable, 60.0, HOT_C).unwrap(),
        None
    );
}
