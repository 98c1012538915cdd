//! The thermal stage rules: off below on per stage, and fan <= shed <= throttle <= critical.

use super::{assert_error, config_of, error_of};
use crate::config::{ConfigErrorKind, StageThresholds};

#[test]
fn each_stage_must_switch_off_below_where_it_switches_on() {
    for (stage, on_c) in [
        ("fan", 60),
        ("shed", 75),
        ("throttle", 80),
        ("critical", 85),
    ] {
        for off_c in [on_c, on_c + 1] {
            let text = format!("[thermal]\n{stage}_off_c = {off_c}\n");
            let off_key = format!("thermal.{stage}_off_c");
            let expected =
                format!("{off_c} is not below thermal.{stage}_on_c, whose default is {on_c}");
            assert_error(
                &text,
                ConfigErrorKind::Conflict,
                Some(&off_key),
                &[&expected, "must switch off below"],
            );
            // Both written: the off key is named, and no default is mentioned.
            let both = format!("[thermal]\n{stage}_on_c = {on_c}\n{stage}_off_c = {off_c}\n");
            assert_error(
                &both,
                ConfigErrorKind::Conflict,
                Some(&off_key),
                &[&format!(
                    "{off_c} is not below thermal.{stage}_on_c ({on_c})"
                )],
            );
        }
    }
}

#[test]
fn on_temperatures_must_escalate_stage_by_stage() {
    let rows = [
        (
            "shed_on_c = 58\nshed_off_c = 55",
            "thermal.shed_on_c",
            "58 is below thermal.fan_on_c, whose default is 60",
        ),
        (
            "throttle_on_c = 74\nthrottle_off_c = 72",
            "thermal.throttle_on_c",
            "74 is below thermal.shed_on_c, whose default is 75",
        ),
        (
            "critical_on_c = 79\ncritical_off_c = 76",
            "thermal.critical_on_c",
            "79 is below thermal.throttle_on_c, whose default is 80",
        ),
    ];
    for (keys, offending, expected) in rows {
        assert_error(
            &format!("[thermal]\n{keys}\n"),
            ConfigErrorKind::Conflict,
            Some(offending),
            &[expected, "(stages escalate in order: fan_on_c <= shed_on_c <= throttle_on_c <= critical_on_c)"],
        );
    }
}

#[test]
fn off_temperatures_must_escalate_stage_by_stage() {
    let rows = [
        (
            "shed_off_c = 45",
            "thermal.shed_off_c",
            "45 is below thermal.fan_off_c, whose default is 50",
        ),
        (
            "throttle_off_c = 65",
            "thermal.throttle_off_c",
            "65 is below thermal.shed_off_c, whose default is 70",
        ),
        (
            "critical_off_c = 74",
            "thermal.critical_off_c",
            "74 is below thermal.throttle_off_c, whose default is 75",
        ),
    ];
    for (keys, offending, expected) in rows {
        assert_error(
            &format!("[thermal]\n{keys}\n"),
            ConfigErrorKind::Conflict,
            Some(offending),
            &[
                expected,
                "fan_off_c <= shed_off_c <= throttle_off_c <= critical_off_c",
            ],
        );
    }
}

#[test]
fn full_stage_order_message() {
    let error = error_of("[thermal]\nfan_on_c = 60\nshed_on_c = 58\nshed_off_c = 55\n");
    assert_eq!(
        error.to_string(),
        "thermal.shed_on_c: 58 is below thermal.fan_on_c (60); \
         allowed stages in escalating order: fan_on_c <= shed_on_c <= throttle_on_c <= critical_on_c"
    );
}

#[test]
fn a_pair_broken_by_a_default_names_the_written_key_and_the_default() {
    let error = error_of("[thermal]\nshed_on_c = 58\n");
    assert_eq!(
        error.to_string(),
        "thermal.shed_on_c: 58 is not above thermal.shed_off_c, whose default is 70; \
         set thermal.shed_off_c below 58 too, or raise thermal.shed_on_c above 70 \
         (a stage must switch off below where it switches on)"
    );
    assert_error(
        "[thermal]\nfan_off_c = 65\n",
        ConfigErrorKind::Conflict,
        Some("thermal.fan_off_c"),
        &[
            "65 is not below thermal.fan_on_c, whose default is 60",
            "set thermal.fan_on_c above 65 too, or lower thermal.fan_off_c below 60",
        ],
    );
}

#[test]
fn advice_never_names_a_value_out_of_range() {
    // Nothing is above 150 °C or below -40 °C: only the fix that exists is given.
    assert_eq!(
        error_of("[thermal]\ncritical_off_c = 150\n").to_string(),
        "thermal.critical_off_c: 150 is not below thermal.critical_on_c, whose default is 85; \
         lower thermal.critical_off_c below 85 (a stage must switch off below where it switches on)"
    );
    assert_eq!(
        error_of("[thermal]\nfan_on_c = -40\n").to_string(),
        "thermal.fan_on_c: -40 is not above thermal.fan_off_c, whose default is 50; \
         raise thermal.fan_on_c above 50 (a stage must switch off below where it switches on)"
    );
    // Both ends at once, both written: no fix exists on either side, and none is offered.
    assert_error(
        "[thermal]\nfan_on_c = -40\nfan_off_c = 150\n",
        ConfigErrorKind::Conflict,
        Some("thermal.fan_off_c"),
        &["150 is not below thermal.fan_on_c"],
    );
}

#[test]
fn an_order_broken_by_a_default_names_the_written_key_and_the_default() {
    // The lower stage written above a higher stage's default: the lower key is named.
    let error = error_of("[thermal]\nfan_on_c = 78\n");
    assert_eq!(
        error.to_string(),
        "thermal.fan_on_c: 78 is above thermal.shed_on_c, whose default is 75; \
         set thermal.shed_on_c to 78 or more too, or lower thermal.fan_on_c to 75 or less \
         (stages escalate in order: fan_on_c <= shed_on_c <= throttle_on_c <= critical_on_c)"
    );
    assert_error(
        "[thermal]\nthrottle_off_c = 72\nthrottle_on_c = 74\n",
        ConfigErrorKind::Conflict,
        Some("thermal.throttle_on_c"),
        &["74 is below thermal.shed_on_c, whose default is 75"],
    );
    assert_error(
        "[thermal]\nfan_off_c = 72\nfan_on_c = 74\n",
        ConfigErrorKind::Conflict,
        Some("thermal.fan_off_c"),
        &[
            "72 is above thermal.shed_off_c, whose default is 70",
            "fan_off_c <= shed_off_c <= throttle_off_c <= critical_off_c",
        ],
    );
}

#[test]
fn equal_neighbouring_stages_are_allowed() {
    let config = config_of(
        "[thermal]\nfan_on_c = 80\nfan_off_c = 70\nshed_on_c = 80\nshed_off_c = 70\n\
         throttle_on_c = 80\nthrottle_off_c = 70\ncritical_on_c = 80\ncritical_off_c = 70\n",
    );
    let stage = StageThresholds {
        on_c: 80.0,
        off_c: 70.0,
    };
    assert_eq!(
        [
            config.thermal.fan,
            config.thermal.shed,
            config.thermal.throttle,
            config.thermal.critical
        ],
        [stage; 4]
    );
}

#[test]
fn a_whole_shifted_ladder_is_accepted() {
    let config = config_of(
        "[thermal]\nfan_on_c = 45.5\nfan_off_c = 40\nshed_on_c = 65\nshed_off_c = 60\n\
         throttle_on_c = 70\nthrottle_off_c = 66\ncritical_on_c = 90\ncritical_off_c = 88\n",
    );
    assert_eq!(
        config.thermal.fan,
        StageThresholds {
            on_c: 45.5,
            off_c: 40.0
        }
    );
    assert_eq!(
        config.thermal.critical,
        StageThresholds {
            on_c: 90.0,
            off_c: 88.0
        }
    );
}
