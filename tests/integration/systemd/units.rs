//! The files in `init/`, checked with the tools that consume them:
//! `systemd-analyze verify` and `security` for the units, `udevadm test` for
//! the udev rules (in a private mount namespace, so the host's rules are
//! untouched), and `sysctl -p` in a private network namespace for the sysctl
//! drop-in.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{repo_root, run, tool};
use crate::util::{warden_bin, TempDir};

/// Highest acceptable `systemd-analyze security` exposure (0 best, 10 worst).
const MAX_EXPOSURE: f64 = 3.0;

fn init_file(name: &str) -> PathBuf {
    repo_root().join("init").join(name)
}

/// Copies the units into `dir`, pointing every `/usr/bin/warden` at `binary`.
fn units_with_binary(dir: &Path, binary: &Path) -> (PathBuf, PathBuf) {
    let service = std::fs::read_to_string(init_file("warden.service")).unwrap();
    let service = service.replace("/usr/bin/warden", &binary.display().to_string());
    let service_path = dir.join("warden.service");
    std::fs::write(&service_path, service).unwrap();
    let socket_path = dir.join("warden.socket");
    std::fs::copy(init_file("warden.socket"), &socket_path).unwrap();
    (service_path, socket_path)
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let analyze = tool("systemd-analyze", "systemd");
    let dir = TempDir::new("verify");
    let (service, socket) = units_with_binary(dir.path(), &warden_bin());
    let (ok, stdout, stderr) = run(Command::new(&analyze)
        .arg("verify")
        .arg(&service)
        .arg(&socket)
        .current_dir(dir.path()));
    let ours: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.contains("warden"))
        .collect();
    assert!(
        ok && ours.is_empty(),
        "systemd-analyze verify failed or warned:\n{stdout}\n{stderr}"
    );

    // The check bites: a missing ExecStart binary is an error.
    let broken = TempDir::new("verify-broken");
    let missing = broken.path().join("no-such/warden");
    let (service, socket) = units_with_binary(broken.path(), &missing);
    let (ok, _, stderr) = run(Command::new(&analyze)
        .arg("verify")
        .arg(&service)
        .arg(&socket)
        .current_dir(broken.path()));
    assert!(
        !ok && stderr.contains("no-such/warden"),
        "verify accepted a missing binary: {stderr}"
    );
}

#[test]
fn the_service_sandbox_exposure_is_at_most_3() {
    let analyze = tool("systemd-analyze", "systemd");
    let dir = TempDir::new("security");
    let (service, _) = units_with_binary(dir.path(), &warden_bin());
    let (_, stdout, stderr) = run(Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&service)
        .current_dir(dir.path()));
    let line = stdout
        .lines()
        .chain(stderr.lines())
        .find(|l| l.contains("Overall exposure level for warden.service"))
        .unwrap_or_else(|| panic!("no exposure line:\n{stdout}\n{stderr}"));
    let exposure: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse {line:?}"));
    eprintln!("systemd-analyze security --offline=yes warden.service: {exposure}");
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} > {MAX_EXPOSURE}:\n{stdout}"
    );
}

/// `Key=value` lines of a unit file, in order, whatever their section.
fn directives(text: &str) -> Vec<(String, String)> {
    sectioned_directives(text)
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .collect()
}

#[test]
fn the_units_carry_the_boot_time_settings() {
    let service = directives(&std::fs::read_to_string(init_file("warden.service")).unwrap());
    let has = |key: &str, value: &str| service.iter().any(|(k, v)| k == key && v == value);
    for (key, value) in [
        ("Type", "notify"),
        ("Restart", "on-failure"),
        (
            "ExecStart",
            "/usr/bin/warden run --config /etc/warden/warden.toml",
        ),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("RestartPreventExitStatus", "2"),
        ("RuntimeDirectoryPreserve", "yes"),
        (
            "ExecStopPost",
            "/usr/bin/warden restore --config /etc/warden/warden.toml",
        ),
        ("LimitNOFILE", "65536"),
        ("RuntimeDirectory", "warden"),
        ("User", "warden"),
        ("SupplementaryGroups", "gpio"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("DevicePolicy", "closed"),
        ("DeviceAllow", "/dev/gpiomem rw"),
        ("DeviceAllow", "char-gpiochip rw"),
    ] {
        assert!(has(key, value), "warden.service lacks {key}={value}");
    }
    let watchdog = service
        .iter()
        .find(|(k, _)| k == "WatchdogSec")
        .expect("WatchdogSec");
    assert!(!watchdog.1.is_empty() && watchdog.1 != "0", "{watchdog:?}");
    let writable: Vec<&str> = service
        .iter()
        .filter(|(k, _)| k == "ReadWritePaths")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        writable.iter().all(|p| p.starts_with("-/sys/")),
        "only optional sysfs paths are writable: {writable:?}"
    );
    assert!(
        writable.iter().any(|p| p.ends_with("scaling_max_freq"))
            && writable.iter().any(|p| p.contains("pwmchip"))
    );

    let socket = directives(&std::fs::read_to_string(init_file("warden.socket")).unwrap());
    for (key, value) in [
        ("ListenStream", "7000"),
        ("Backlog", "4096"),
        ("Service", "warden.service"),
        ("FileDescriptorName", "service"),
    ] {
        assert!(
            socket.iter().any(|(k, v)| k == key && v == value),
            "warden.socket lacks {key}={value}"
        );
    }
}

/// `(section, key, value)` of every directive of a unit file, in order.
fn sectioned_directives(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, value)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            out.push((section.clone(), key.trim().into(), value.trim().into()));
        }
    }
    out
}

/// Seconds of a systemd time span such as `300s`, `5min` or `2`.
fn seconds(span: &str) -> f64 {
    let digits = span.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &span[digits.len()..];
    let scale = match unit {
        "" | "s" | "sec" => 1.0,
        "min" | "m" => 60.0,
        "ms" => 0.001,
        _ => panic!("unexpected time unit in {span:?}"),
    };
    digits.parse::<f64>().unwrap() * scale
}

#[test]
fn restarts_stop_at_a_bad_config_and_at_a_crash_loop() {
    let text = std::fs::read_to_string(init_file("warden.service")).unwrap();
    let all = sectioned_directives(&text);
    let value = |section: &str, key: &str| {
        all.iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("warden.service has no {key}= in [{section}]"))
    };
    // Exit 2 (bad configuration) is never retried. RestartPreventExitStatus= sees only
    // the main process: a check-config in ExecStartPre= failing with 2 would be retried
    // (systemd 252: NRestarts=5, then start-limit), so `warden run` checks the file itself.
    let prevented = value("Service", "RestartPreventExitStatus");
    assert!(
        prevented.split_whitespace().any(|code| code == "2"),
        "RestartPreventExitStatus={prevented}"
    );
    assert!(
        !all.iter().any(|(_, key, _)| key == "ExecStartPre"),
        "an ExecStartPre= failure is restarted whatever its exit status"
    );
    // Any other failure is retried, but not forever: the burst must fit in the interval
    // at RestartSec spacing, or the limit could never be reached.
    let interval = seconds(&value("Unit", "StartLimitIntervalSec"));
    let burst: f64 = value("Unit", "StartLimitBurst").parse().unwrap();
    let restart_sec = seconds(&value("Service", "RestartSec"));
    assert!(
        burst >= 2.0 && interval > burst * restart_sec,
        "StartLimitBurst={burst} within StartLimitIntervalSec={interval}s at RestartSec={restart_sec}s"
    );
    // README.md quotes these: "2 s later", "5 failed starts within 5 minutes".
    assert_eq!((restart_sec, burst, interval), (2.0, 5.0, 300.0));
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
    assert!(
        readme.contains("(2 s later)") && readme.contains("5 failed starts within 5 minutes"),
        "README no longer quotes the unit's restart limits"
    );
}

#[test]
fn a_reload_checks_the_file_before_signalling_and_the_state_dir_outlives_a_stop() {
    let text = std::fs::read_to_string(init_file("warden.service")).unwrap();
    let all = sectioned_directives(&text);
    let in_service = |key: &str| -> Vec<String> {
        all.iter()
            .filter(|(s, k, _)| s == "Service" && k == key)
            .map(|(_, _, v)| v.clone())
            .collect()
    };
    let config = in_service("ExecStart")[0]
        .split_once("--config ")
        .map(|(_, path)| path.to_string())
        .expect("ExecStart names --config");
    assert_eq!(
        in_service("ExecReload"),
        [
            format!("/usr/bin/warden check-config {config}"),
            "/bin/kill -HUP $MAINPID".to_string()
        ],
        "check-config must run first and on the file warden runs with"
    );
    // systemd deletes a runtime directory when the service stops, after ExecStopPost:
    // the state file a failed restore kept would go with it.
    assert_eq!(in_service("RuntimeDirectory"), ["warden"]);
    assert_eq!(in_service("RuntimeDirectoryPreserve"), ["yes"]);
    assert!(
        in_service("ExecStopPost")[0].ends_with(&format!("restore --config {config}")),
        "{:?}",
        in_service("ExecStopPost")
    );
}

/// The `RUN+="..."` programs of a udev rules file, continuation lines joined
/// and `$$` unescaped.
fn udev_programs(rules: &str) -> Vec<String> {
    let joined = rules.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| {
            l.split("RUN+=\"")
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap().replace("$$", "$"))
        })
        .collect()
}

/// Runs a udev RUN program the way udev splits it (single quotes group).
fn run_program(program: &str) -> (bool, String, String) {
    let argv: Vec<String> = match program.split_once(" -c '") {
        Some((shell, script)) => vec![
            shell.to_string(),
            "-c".into(),
            script.trim_end_matches('\'').to_string(),
        ],
        None => program.split_whitespace().map(String::from).collect(),
    };
    run(Command::new(&argv[0]).args(&argv[1..]))
}

fn group_and_mode(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.gid(), meta.mode() & 0o7777)
}

/// The id of group `name`, from /etc/group.
fn gid_of(name: &str) -> u32 {
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    groups
        .lines()
        .find_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            (fields.first() == Some(&name)).then(|| fields[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no group {name} in /etc/group"))
}

#[test]
fn udev_rules_parse_match_a_cpu_and_their_programs_set_group_and_mode() {
    let udevadm = tool("udevadm", "udev");
    let unshare = tool("unshare", "util-linux");
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (a private mount namespace for udevadm test)"
    );
    let rules_dir = TempDir::new("udev");
    let rules_text = std::fs::read_to_string(init_file("99-warden.rules")).unwrap();
    rules_dir.write("99-warden.rules", &rules_text);
    let script = format!(
        "mount --bind {} /etc/udev/rules.d && {} test --action=add /sys/devices/system/cpu/cpu0",
        rules_dir.path().display(),
        udevadm.display()
    );
    let (_, stdout, stderr) = run(Command::new(&unshare).args(["-m", "sh", "-c", &script]));
    let output = format!("{stdout}{stderr}");
    assert!(
        output.contains("Reading rules file: /etc/udev/rules.d/99-warden.rules"),
        "rules not read:\n{output}"
    );
    let complaints: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("/etc/udev/rules.d/99-warden.rules:"))
        .collect();
    assert!(
        complaints.is_empty(),
        "udev rejects lines of 99-warden.rules: {complaints:#?}"
    );
    assert!(
        output.contains(
            "run: '/bin/sh -c 'for f in /sys/devices/system/cpu/cpufreq/policy*/scaling_max_freq"
        ) && output.contains("[ -e $f ] && /bin/chgrp warden $f"),
        "the cpufreq rule did not match cpu0 (or $$ was not unescaped):\n{output}"
    );

    // Run every program against a fake sysfs tree, with group "daemon"
    // standing in for warden and gpio (which need not exist here).
    let fake = TempDir::new("udev-sysfs");
    let cpufreq = fake.path().join("cpufreq");
    let pwm = fake.path().join("pwm");
    let hwmon = fake.path().join("hwmon3");
    for file in [
        "policy0/scaling_max_freq",
        "policy0/scaling_governor",
        "policy0/scaling_min_freq",
    ] {
        fake.write(&format!("cpufreq/{file}"), "0\n");
    }
    for file in [
        "pwmchip0/export",
        "pwmchip0/unexport",
        "pwmchip0/npwm",
        "pwmchip0/pwm0/period",
        "pwmchip0/pwm0/duty_cycle",
        "pwmchip0/pwm0/enable",
        "pwmchip0/pwm0/polarity",
    ] {
        fake.write(&format!("pwm/{file}"), "0\n");
    }
    for file in ["hwmon3/pwm1", "hwmon3/pwm1_enable", "hwmon3/name"] {
        fake.write(file, "0\n");
    }
    let programs = udev_programs(&rules_text);
    assert!(programs.len() >= 6, "{programs:#?}");
    for program in &programs {
        let program = program
            .replace(
                "/sys/devices/system/cpu/cpufreq",
                &cpufreq.display().to_string(),
            )
            .replace("/sys/class/pwm", &pwm.display().to_string())
            .replace("/sys%p", &hwmon.display().to_string())
            .replace("chgrp warden", "chgrp daemon")
            .replace("chgrp gpio", "chgrp daemon");
        let (ok, out, err) = run_program(&program);
        assert!(ok, "{program}: {out}{err}");
    }
    let daemon_gid = gid_of("daemon");
    for file in ["policy0/scaling_max_freq", "policy0/scaling_governor"] {
        let (gid, mode) = group_and_mode(&cpufreq.join(file));
        assert!(
            gid == daemon_gid && mode & 0o020 != 0,
            "cpufreq/{file}: gid {gid} mode {mode:o}"
        );
    }
    assert_ne!(
        group_and_mode(&cpufreq.join("policy0/scaling_min_freq")).0,
        daemon_gid,
        "only the two files warden writes"
    );
    for path in [
        "pwmchip0",
        "pwmchip0/export",
        "pwmchip0/unexport",
        "pwmchip0/pwm0",
        "pwmchip0/pwm0/period",
        "pwmchip0/pwm0/duty_cycle",
        "pwmchip0/pwm0/enable",
    ] {
        // rppal waits for exactly group gpio and mode 770 after exporting.
        assert_eq!(
            group_and_mode(&pwm.join(path)),
            (daemon_gid, 0o770),
            "pwm/{path}"
        );
    }
    for file in ["pwm1", "pwm1_enable"] {
        let (gid, mode) = group_and_mode(&hwmon.join(file));
        assert!(
            gid == daemon_gid && mode & 0o020 != 0,
            "hwmon/{file}: gid {gid} mode {mode:o}"
        );
    }
}

#[test]
fn sysctl_dropin_applies_in_a_private_network_namespace() {
    let sysctl = tool("sysctl", "procps");
    let unshare = tool("unshare", "util-linux");
    let conf = init_file("60-warden.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    // Every setting comes with a comment saying why.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.contains(" = ")) {
        assert!(
            i > 0 && lines[i - 1].starts_with('#'),
            "no comment above {line:?}"
        );
    }
    let script = format!(
        "{s} -q -p {conf} && {s} -n net.core.somaxconn net.ipv4.tcp_max_syn_backlog net.ipv4.ip_local_port_range net.ipv4.ip_local_reserved_ports",
        s = sysctl.display(),
        conf = conf.display()
    );
    let (ok, stdout, stderr) = run(Command::new(&unshare).args(["-n", "sh", "-c", &script]));
    assert!(ok, "sysctl -p in a new network namespace failed: {stderr}");
    let values: Vec<String> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        values,
        ["4096", "4096", "1024 65535", "7000,9181"],
        "{stdout}"
    );
}
