//! SysfsCpuFreq: steps, writes to every policy, originals, and unwritable files.

use std::fs;

use warden_hw::fake_sysfs::{FakeSysfsLayout, ReadOnlyMethod};
use warden_hw::{Access, CpuFreq, HwError, SysfsCpuFreq};

use crate::util::{as_nobody, chmod, fixture, fixture_with, is_root, TestDir};

fn two_policies() -> FakeSysfsLayout {
    FakeSysfsLayout {
        policies: 2,
        ..Default::default()
    }
}

#[test]
fn steps_come_sorted_from_the_available_list() {
    let layout = FakeSysfsLayout {
        available_khz: Some(vec![1_500_000, 600_000, 1_000_000, 600_000]),
        ..Default::default()
    };
    let fx = fixture_with("cpufreq-steps", &layout);
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.steps_khz(), &[600_000, 1_000_000, 1_500_000]);
}

#[test]
fn steps_are_derived_from_cpuinfo_without_a_list() {
    let layout = FakeSysfsLayout {
        available_khz: None,
        cpuinfo_min_khz: 600_000,
        cpuinfo_max_khz: 1_000_000,
        max_khz: 1_000_000,
        ..Default::default()
    };
    let fx = fixture_with("cpufreq-derived", &layout);
    let cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(
        cpufreq.steps_khz(),
        &[600_000, 700_000, 800_000, 900_000, 1_000_000]
    );
}

#[test]
fn writes_reach_every_policy_and_reads_come_from_the_first() {
    let fx = fixture_with("cpufreq-write", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    cpufreq.set_max_khz(1_000_000).unwrap();
    assert_eq!(
        (
            fx.tree.scaling_max_freq(0).unwrap(),
            fx.tree.scaling_max_freq(1).unwrap()
        ),
        (1_000_000, 1_000_000)
    );
    assert_eq!(cpufreq.max_khz().unwrap(), 1_000_000);
    cpufreq.set_governor("powersave").unwrap();
    assert_eq!(
        (fx.tree.governor(0).unwrap(), fx.tree.governor(1).unwrap()),
        ("powersave".into(), "powersave".into())
    );
    assert_eq!(cpufreq.governor().unwrap(), "powersave");
}

#[test]
fn unknown_governors_are_refused_before_writing() {
    let fx = fixture("cpufreq-governor");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let err = cpufreq.set_governor("turbo").unwrap_err();
    assert!(
        matches!(err, HwError::GovernorNotAvailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("powersave"), "{err}");
    assert_eq!(fx.tree.governor(0).unwrap(), "ondemand");
}

#[test]
fn originals_are_captured_at_open_and_restored() {
    let fx = fixture_with("cpufreq-restore", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    assert_eq!(cpufreq.original(), (1_500_000, "ondemand".to_string()));
    cpufreq.set_max_khz(600_000).unwrap();
    cpufreq.set_governor("powersave").unwrap();
    assert_eq!(
        cpufreq.original(),
        (1_500_000, "ondemand".to_string()),
        "originals do not follow writes"
    );
    cpufreq.restore().unwrap();
    for policy in 0..2 {
        assert_eq!(fx.tree.scaling_max_freq(policy).unwrap(), 1_500_000);
        assert_eq!(fx.tree.governor(policy).unwrap(), "ondemand");
    }
}

#[test]
fn a_missing_cpufreq_is_its_own_error() {
    let fx = fixture_with(
        "cpufreq-none",
        &FakeSysfsLayout {
            policies: 0,
            ..Default::default()
        },
    );
    assert!(matches!(
        SysfsCpuFreq::open(fx.tree.root()),
        Err(HwError::NoCpuFreq { .. })
    ));
}

#[test]
fn a_write_protected_file_is_permission_denied_not_a_panic() {
    // Real EACCES: mode 0444, written with this thread's fsuid set to nobody.
    let fx = fixture("cpufreq-eacces");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let path = fx.tree.scaling_max_freq_path(0);
    chmod(&path, 0o444);
    let err = as_nobody(|| cpufreq.set_max_khz(600_000)).unwrap_err();
    assert!(
        matches!(&err, HwError::PermissionDenied { access: Access::Write, path: p, .. } if p == &path),
        "{err:?}"
    );
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_500_000);
    assert_eq!(cpufreq.max_khz().unwrap(), 1_500_000, "still readable");
}

#[test]
fn an_immutable_file_refuses_even_root_and_other_policies_are_still_written() {
    let fx = fixture_with("cpufreq-immutable", &two_policies());
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let path = fx.tree.scaling_max_freq_path(0);
    let method = fx.tree.make_unwritable(&path);
    assert_eq!(method == ReadOnlyMethod::Immutable, is_root());
    let err = cpufreq.set_max_khz(600_000).unwrap_err();
    assert!(
        matches!(&err, HwError::PermissionDenied { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert_eq!(
        fx.tree.scaling_max_freq(1).unwrap(),
        600_000,
        "policy1 written despite policy0"
    );
    cpufreq
        .restore()
        .expect("policy0 refuses the write, but holds its original already");
    assert_eq!(fx.tree.scaling_max_freq(1).unwrap(), 1_500_000);
    fx.tree.make_writable(&path).unwrap();
    cpufreq.set_max_khz(1_000_000).unwrap();
    assert_eq!(fx.tree.scaling_max_freq(0).unwrap(), 1_000_000);
}

#[test]
fn a_directory_in_place_of_the_file_is_an_error_naming_it() {
    let fx = fixture("cpufreq-eisdir");
    let mut cpufreq = SysfsCpuFreq::open(fx.tree.root()).unwrap();
    let path = fx.tree.scaling_max_freq_path(0);
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let err = cpufreq.set_max_khz(600_000).unwrap_err();
    assert!(
        matches!(
            &err,
            HwError::Io {
                access: Access::Write,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(cpufreq.max_khz().is_err());
}

#[test]
fn an_observer_read_waits_out_a_writer_between_truncate_and_write() {
    use warden_hw::fake_sysfs::read_settled;
    let dir = TestDir::new("cpufreq-settle");
    let path = dir.path().join("scaling_max_freq");
    fs::write(&path, "").unwrap(); // truncated, not yet written
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            fs::write(&path, "600000\n").unwrap();
        })
    };
    assert_eq!(read_settled(&path).unwrap(), "600000\n");
    writer.join().unwrap();
    fs::write(&path, "").unwrap();
    assert_eq!(
        read_settled(&path).unwrap(),
        "",
        "a file that stays empty is returned as is"
    );
}
