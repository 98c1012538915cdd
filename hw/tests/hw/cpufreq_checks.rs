//! cpufreq checked when it is opened: unusable steps, an optional governor, and the
//! governor the "governor" strategy will switch to.

use std::fs;

use warden_hw::{
    build, check_powersave_governor, CpuFreq, FanSpec, HwError, RestoreEntry, SysfsCpuFreq,
};

use crate::util::{fixture, keep_warnings, warnings_containing};

#[test]
fn zero_and_garbage_steps_are_dropped_and_noted() {
    let fx = fixture("cpufreq-zero-step");
    let list = fx.tree.policy_dir(0).join("scaling_available_frequencies");
    fs::write(&list, "0 600000 fast 1500000\n").unwrap();
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.steps_khz(), &[600_000, 1_500_000]);
    assert_eq!(cpufreq.ignored_steps(), ["0", "fast"]);

    let backends = build(&fx.tree.spec(FanSpec::None)).unwrap();
    let note = backends
        .notes
        .iter()
        .find(|n| n.contains("ignored"))
        .unwrap_or_else(|| panic!("no note on the ignored steps: {:?}", backends.notes));
    assert!(
        note.contains(&list.display().to_string()) && note.contains("\"0\""),
        "{note}"
    );
}

#[test]
fn a_list_of_only_unusable_steps_falls_back_to_cpuinfo() {
    let fx = fixture("cpufreq-only-zero");
    let list = fx.tree.policy_dir(0).join("scaling_available_frequencies");
    fs::write(&list, "0 0\n").unwrap();
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.steps_khz().first(), Some(&600_000));
    assert_eq!(cpufreq.steps_khz().last(), Some(&1_500_000));
    assert_eq!(cpufreq.ignored_steps(), ["0", "0"]);
}

#[test]
fn a_zero_scaling_max_freq_is_refused_at_open() {
    let fx = fixture("cpufreq-zero-max");
    let max = fx.tree.scaling_max_freq_path(0);
    fs::write(&max, "0\n").unwrap();
    let err = SysfsCpuFreq::open(fx.tree.root()).unwrap_err();
    assert!(
        matches!(&err, HwError::Parse { path, .. } if path == &max),
        "{err:?}"
    );
    assert!(err.to_string().contains("non-zero"), "{err}");
}

#[test]
fn max_freq_throttling_needs_no_scaling_governor() {
    let fx = fixture("cpufreq-no-governor");
    fs::remove_file(fx.tree.policy_dir(0).join("scaling_governor")).unwrap();
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.original(), (1_500_000, String::new()));
    assert_eq!(cpufreq.governor().unwrap(), "");
    cpufreq.set_max_khz(600_000).unwrap();
    cpufreq.restore().unwrap();
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert_eq!(
        cpufreq.restore_entries(),
        vec![RestoreEntry::new(
            fx.tree.scaling_max_freq_path(0),
            "1500000"
        )],
        "no governor entry (an empty value would spoil the state file)"
    );
    assert!(build(&fx.tree.spec(FanSpec::None)).is_ok());
}

#[test]
fn the_governor_strategy_needs_scaling_governor_at_build() {
    let fx = fixture("cpufreq-governor-missing");
    let governor = fx.tree.policy_dir(0).join("scaling_governor");
    fs::remove_file(&governor).unwrap();
    let mut spec = fx.tree.spec(FanSpec::None);
    spec.powersave_governor = Some("powersave".into());
    let err = build(&spec).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&governor.display().to_string()) && text.contains("max-freq"),
        "{text}"
    );
}

#[test]
fn an_unoffered_powersave_governor_is_refused_at_build() {
    let fx = fixture("cpufreq-governor-unoffered");
    let list = fx.tree.policy_dir(0).join("scaling_available_governors");
    let mut spec = fx.tree.spec(FanSpec::None);
    spec.powersave_governor = Some("turbo".into());
    let err = build(&spec).unwrap_err();
    assert!(
        matches!(&err, HwError::GovernorNotAvailable { governor, .. } if governor == "turbo"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&list.display().to_string())
            && text.contains("ondemand")
            && text.contains("cpufreq.powersave_governor"),
        "{text}"
    );

    spec.powersave_governor = Some("powersave".into());
    assert!(build(&spec).is_ok(), "an offered governor builds");

    // Without the list there is nothing to check against: the first switch will tell.
    fs::remove_file(&list).unwrap();
    spec.powersave_governor = Some("turbo".into());
    assert!(build(&spec).is_ok());
}

#[test]
fn the_powersave_governor_check_reads_the_lists_as_they_are_now() {
    let fx = fixture("cpufreq-governor-recheck");
    let root = fx.tree.root();
    assert!(check_powersave_governor(root, "powersave").is_ok());
    let list = fx.tree.policy_dir(0).join("scaling_available_governors");
    fs::write(&list, "ondemand performance\n").unwrap();
    let err = check_powersave_governor(root, "powersave").unwrap_err();
    assert!(
        matches!(&err, HwError::GovernorNotAvailable { governor, available, .. }
            if governor == "powersave" && available == "ondemand performance"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&list.display().to_string()),
        "{err}"
    );

    fs::remove_file(fx.tree.policy_dir(0).join("scaling_governor")).unwrap();
    assert!(
        matches!(
            check_powersave_governor(root, "ondemand"),
            Err(HwError::InvalidSpec { .. })
        ),
        "no scaling_governor to switch"
    );
}

#[test]
fn the_powersave_governor_check_passes_without_cpufreq() {
    let dir = crate::util::TestDir::new("cpufreq-governor-none");
    assert!(check_powersave_governor(dir.path(), "powersave").is_ok());
}

#[test]
fn a_governor_the_kernel_offers_after_open_can_be_set() {
    let fx = fixture("cpufreq-governor-loaded-later");
    let list = fx.tree.policy_dir(0).join("scaling_available_governors");
    fs::write(&list, "ondemand performance\n").unwrap();
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert!(matches!(
        cpufreq.set_governor("powersave"),
        Err(HwError::GovernorNotAvailable { .. })
    ));
    // A governor module loaded while warden runs adds to the kernel's list.
    fs::write(&list, "ondemand performance powersave\n").unwrap();
    cpufreq.set_governor("powersave").unwrap();
    assert_eq!(fx.tree.governor(0).unwrap(), "powersave");
}

#[test]
fn cpuinfo_min_above_max_is_refused_at_open_naming_both_files_and_values() {
    for available_khz in [None, Some(vec![600_000, 1_000_000, 1_500_000])] {
        let fx = crate::util::fixture_with(
            "cpufreq-cpuinfo-inverted",
            &warden_hw::fake_sysfs::FakeSysfsLayout {
                available_khz: available_khz.clone(),
                cpuinfo_min_khz: 1_500_000,
                cpuinfo_max_khz: 600_000,
                max_khz: 600_000,
                ..Default::default()
            },
        );
        let err = SysfsCpuFreq::open(fx.tree.root()).unwrap_err();
        let policy = fx.tree.policy_dir(0);
        assert!(
            matches!(
                &err,
                HwError::CpuInfoRange {
                    min_khz: 1_500_000,
                    max_khz: 600_000,
                    ..
                }
            ),
            "{available_khz:?}: {err:?}"
        );
        let text = err.to_string();
        for part in [
            policy.join("cpuinfo_min_freq").display().to_string(),
            policy.join("cpuinfo_max_freq").display().to_string(),
            "1500000".into(),
            "600000".into(),
        ] {
            assert!(text.contains(&part), "{part} missing from: {text}");
        }
    }
}

#[test]
fn a_policy_starting_at_or_below_the_lowest_step_is_noted() {
    let fx = fixture("cpufreq-starts-capped");
    let max = fx.tree.scaling_max_freq_path(0);
    let note = |khz: u64| {
        fs::write(&max, format!("{khz}\n")).unwrap();
        SysfsCpuFreq::open(fx.tree.root())
            .unwrap()
            .starts_capped_note()
    };
    assert_eq!(note(1_500_000), None);
    assert_eq!(note(1_000_000), None, "an ordinary cap is not worth a note");
    // Below cpuinfo_min_freq an original is taken as that minimum: without the file, below
    // the lowest step is what the policy holds.
    let at_minimum = note(60).expect("60 kHz is taken as the 600000 kHz minimum");
    assert!(
        at_minimum.contains("600000 kHz, at the lowest step"),
        "{at_minimum}"
    );
    fs::remove_file(fx.tree.policy_dir(0).join("cpuinfo_min_freq")).unwrap();
    for (khz, relation) in [(60, "below"), (600_000, "at")] {
        let text = note(khz).unwrap_or_else(|| panic!("no note at {khz} kHz"));
        assert!(
            text.contains(&max.display().to_string())
                && text.contains(&format!("{khz} kHz, {relation} the lowest step"))
                && text.contains("1500000"),
            "{text}"
        );
    }
}

#[test]
fn an_unreadable_cpuinfo_limit_is_warned_about_naming_the_file_and_the_consequence() {
    keep_warnings();
    let fx = fixture("cpufreq-cpuinfo-gaps");
    let min = fx.tree.policy_dir(0).join("cpuinfo_min_freq");
    let max = fx.tree.policy_dir(0).join("cpuinfo_max_freq");
    fs::remove_file(&min).unwrap();
    fs::write(&max, "").unwrap();
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.steps_khz().first(), Some(&600_000));

    let min_warnings = warnings_containing(&min.display().to_string());
    assert!(
        min_warnings.len() == 1
            && min_warnings[0].contains("does not exist")
            && min_warnings[0].contains("lowest frequency is unknown"),
        "{min_warnings:?}"
    );
    let max_warnings = warnings_containing(&max.display().to_string());
    assert!(
        max_warnings.len() == 1
            && max_warnings[0].contains("is empty")
            && max_warnings[0].contains("highest frequency is unknown"),
        "{max_warnings:?}"
    );
}

#[test]
fn readable_cpuinfo_limits_are_not_warned_about() {
    keep_warnings();
    let fx = fixture("cpufreq-cpuinfo-whole");
    SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let policy = fx.tree.policy_dir(0).join("cpuinfo_");
    assert_eq!(
        warnings_containing(&policy.display().to_string()),
        Vec::<String>::new()
    );
}
