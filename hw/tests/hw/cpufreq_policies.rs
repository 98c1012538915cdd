//! Policies that differ: each gets the cap within its own range, never above its own
//! original; the cap read back is the lowest any policy is held under; a file that refuses
//! a write but already holds the value asked for (an immutable policy never changed) is
//! not a failure.

use std::fs;

use warden_hw::cpufreq::CpuFreqFiles;
use warden_hw::fake_sysfs::FakeSysfsLayout;
use warden_hw::restore::state_path;
use warden_hw::RestoreTargets;
use warden_hw::{restore_from_state, CpuFreq, NoFan, RestoreState, SysfsCpuFreq};

use crate::util::{fixture_with, Fixture};

/// Two policies, policy0 and policy1 holding these `scaling_max_freq` originals.
fn two_policies_at(name: &str, originals: [u64; 2]) -> Fixture {
    let layout = FakeSysfsLayout {
        policies: 2,
        ..Default::default()
    };
    let fx = fixture_with(name, &layout);
    for (policy, khz) in originals.into_iter().enumerate() {
        fs::write(fx.tree.scaling_max_freq_path(policy), format!("{khz}\n")).unwrap();
    }
    fx
}

fn both(fx: &Fixture) -> (u64, u64) {
    (
        fx.tree.scaling_max_freq(0).unwrap(),
        fx.tree.scaling_max_freq(1).unwrap(),
    )
}

#[test]
fn a_policy_capped_lower_than_policy0_is_never_raised_by_throttling() {
    let fx = two_policies_at("policies-lower-policy1", [1_500_000, 1_000_000]);
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    for (cap, expected) in [
        (1_000_000, (1_000_000, 1_000_000)),
        (600_000, (600_000, 600_000)),
        (1_000_000, (1_000_000, 1_000_000)),
        (1_500_000, (1_500_000, 1_000_000)),
    ] {
        cpufreq.set_max_khz(cap).unwrap();
        assert_eq!(both(&fx), expected, "after a cap of {cap} kHz");
    }
    cpufreq.restore().unwrap();
    assert_eq!(both(&fx), (1_500_000, 1_000_000));
}

#[test]
fn the_original_is_the_highest_so_releasing_the_cap_gives_every_policy_its_own_back() {
    let fx = two_policies_at("policies-higher-policy1", [1_000_000, 1_500_000]);
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.original().0, 1_500_000);
    assert_eq!(cpufreq.max_khz().unwrap(), 1_500_000, "no policy capped");
    cpufreq.set_max_khz(600_000).unwrap();
    assert_eq!(cpufreq.max_khz().unwrap(), 600_000);
    cpufreq.set_max_khz(cpufreq.original().0).unwrap();
    assert_eq!(both(&fx), (1_000_000, 1_500_000), "released while running");
    assert_eq!(cpufreq.max_khz().unwrap(), 1_500_000);
}

#[test]
fn the_cap_read_back_is_the_lowest_any_policy_may_still_hold() {
    let fx = two_policies_at("policies-stuck-policy1", [1_500_000, 1_500_000]);
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(600_000).unwrap();
    let stuck = fx.tree.scaling_max_freq_path(1);
    fx.tree.make_unwritable(&stuck);
    assert!(cpufreq.set_max_khz(1_500_000).is_err());
    assert_eq!(both(&fx), (1_500_000, 600_000));
    assert_eq!(
        cpufreq.max_khz().unwrap(),
        600_000,
        "policy1 is still capped, whatever policy0 holds"
    );
    fx.tree.make_writable(&stuck).unwrap();
    cpufreq.set_max_khz(1_500_000).unwrap();
    assert_eq!(cpufreq.max_khz().unwrap(), 1_500_000);
}

#[test]
fn a_policy_that_refused_every_write_but_holds_its_original_is_put_back() {
    let fx = two_policies_at("policies-immutable-from-start", [1_500_000, 1_500_000]);
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    fx.tree.make_unwritable(&fx.tree.scaling_max_freq_path(1));
    assert!(cpufreq.set_max_khz(600_000).is_err(), "policy1 refuses");
    assert_eq!(both(&fx), (600_000, 1_500_000));
    cpufreq
        .restore()
        .expect("policy1 holds its original already");
    assert_eq!(both(&fx), (1_500_000, 1_500_000));
}

#[test]
fn a_crash_restore_of_a_policy_that_never_changed_completes() {
    let fx = two_policies_at("policies-immutable-crash", [1_500_000, 1_500_000]);
    let state_dir = fx.dir.path().join("run");
    fx.tree.make_unwritable(&fx.tree.scaling_max_freq_path(1));
    {
        let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
        RestoreState::capture(&NoFan, None, Some(&cpufreq), CpuFreqFiles::MAX_FREQ)
            .save(&state_dir)
            .unwrap();
        assert!(cpufreq.set_max_khz(600_000).is_err());
        // Dropped without restore(): what a SIGKILL leaves behind.
    }
    let report = restore_from_state(&state_dir, &RestoreTargets::default()).unwrap();
    assert!(report.is_complete() && report.removed, "{report:?}");
    assert!(!state_path(&state_dir).exists());
    assert_eq!(both(&fx), (1_500_000, 1_500_000));
}

#[test]
fn a_refused_write_of_another_value_is_still_a_failure() {
    let fx = two_policies_at("policies-refused-differs", [1_500_000, 1_500_000]);
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(600_000).unwrap();
    fx.tree.make_unwritable(&fx.tree.scaling_max_freq_path(1));
    assert!(
        cpufreq.restore().is_err(),
        "policy1 holds 600000, not 1500000"
    );
    assert_eq!(both(&fx), (1_500_000, 600_000));
}

#[test]
fn the_cap_in_force_reads_every_policy_so_a_hand_made_cap_is_seen() {
    let fx = two_policies_at("policies-hand-cap", [1_500_000, 1_500_000]);
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(1_000_000).unwrap();
    cpufreq.set_max_khz(1_500_000).unwrap();
    // Written by hand on the second policy only, after warden's last write there.
    fs::write(fx.tree.scaling_max_freq_path(1), "600000\n").unwrap();
    assert_eq!(cpufreq.max_khz().unwrap(), 600_000);
}
