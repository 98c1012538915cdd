//! The .deb: `tools/deb.sh` packages the already-built test binary (no
//! release build, to keep the suite fast) with cargo-deb, and `dpkg-deb`
//! shows every file, the conffile and the install scripts. The maintainer
//! scripts then run against stub commands: an upgrade restarts warden.service
//! and never stops or restarts warden.socket. Debian's own checker, lintian,
//! finds no error and no warning in the package (an override needs a comment
//! saying why, in packaging/debian/lintian-overrides).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::support::{repo_root, run, tool};
use crate::util::{warden_bin, TempDir};

/// What the package must install.
const EXPECTED_FILES: &[&str] = &[
    "./usr/bin/warden",
    "./etc/warden/warden.toml",
    "./usr/lib/systemd/system/warden.service",
    "./usr/lib/systemd/system/warden.socket",
    "./usr/lib/sysctl.d/60-warden.conf",
    "./usr/lib/udev/rules.d/99-warden.rules",
    "./usr/lib/sysusers.d/warden.conf",
    "./usr/share/doc/warden/README.md",
    "./usr/share/doc/warden/INSTALL-PI.md",
    "./usr/share/doc/warden/CONFIG.md",
    "./usr/share/doc/warden/copyright",
    "./usr/share/doc/warden/changelog.Debian.gz",
    "./usr/share/man/man8/warden.8.gz",
];

/// The package of the test binary, built once with `tools/deb.sh` for every test here
/// (each only reads it), under this test binary's own scratch directory; its path.
fn built_deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb-build");
        let _ = std::fs::remove_dir_all(&scratch);
        build_deb(&scratch)
    })
}

/// Packages the test binary with `tools/deb.sh` in `scratch`; returns the .deb's path.
fn build_deb(scratch: &Path) -> PathBuf {
    let (has_cargo_deb, _, _) = run(Command::new("cargo").args(["deb", "--version"]));
    assert!(
        has_cargo_deb,
        "cargo-deb is not installed: cargo install cargo-deb --locked (tools/test.sh does)"
    );
    // cargo-deb packages <target dir>/release/warden; give it the test binary there.
    let release = scratch.join("release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(warden_bin(), release.join("warden")).unwrap();
    let out = scratch.join("out");
    let (ok, stdout, stderr) = run(Command::new(repo_root().join("tools/deb.sh"))
        .args(["--no-build", "--out"])
        .arg(&out)
        .env("CARGO_TARGET_DIR", scratch));
    assert!(ok, "tools/deb.sh failed:\n{stdout}\n{stderr}");
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default());
    assert!(
        deb.extension().is_some_and(|e| e == "deb") && deb.is_file(),
        "no .deb path printed: {stdout}"
    );
    eprintln!("{}\n{stderr}", deb.display());
    deb
}

#[test]
fn the_deb_holds_every_file_and_enables_the_units() {
    let dpkg_deb = tool("dpkg-deb", "dpkg");
    let scratch = TempDir::new("deb");
    let deb = built_deb();

    let (ok, listing, err) = run(Command::new(&dpkg_deb).arg("-c").arg(deb));
    assert!(ok, "dpkg-deb -c: {err}");
    let paths: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    for want in EXPECTED_FILES {
        assert!(
            paths.contains(want),
            "{want} missing from the package:\n{listing}"
        );
    }
    let binary = listing
        .lines()
        .find(|l| l.ends_with("./usr/bin/warden"))
        .unwrap();
    assert!(
        binary.starts_with("-rwxr-xr-x"),
        "the binary is not executable: {binary}"
    );

    let (_, conffiles, _) = run(Command::new(&dpkg_deb).arg("-I").arg(deb).arg("conffiles"));
    assert!(
        conffiles.lines().any(|l| l == "/etc/warden/warden.toml"),
        "conffiles: {conffiles:?}"
    );
    let (_, postinst, _) = run(Command::new(&dpkg_deb).arg("-I").arg(deb).arg("postinst"));
    for needle in [
        "systemd-sysusers",
        "deb-systemd-helper enable warden.service",
        "deb-systemd-helper enable warden.socket",
        "sysctl -q -p /usr/lib/sysctl.d/60-warden.conf",
        "udevadm trigger",
    ] {
        assert!(
            postinst.contains(needle),
            "postinst lacks {needle:?}:\n{postinst}"
        );
    }
    let (_, fields, _) = run(Command::new(&dpkg_deb)
        .args(["-f"])
        .arg(deb)
        .args(["Architecture", "Depends"]));
    assert!(
        fields.contains("Depends:") && fields.contains("systemd"),
        "{fields}"
    );

    // What lintian checks first: a maintainer address whose host is a domain
    // (not localhost), and a copyright notice with a year.
    let (_, maintainer, _) = run(Command::new(&dpkg_deb).arg("-f").arg(deb).arg("Maintainer"));
    let host = maintainer
        .trim()
        .rsplit_once('@')
        .map(|(_, host)| host.trim_end_matches('>'))
        .unwrap_or_default();
    assert!(
        host.contains('.') && !host.starts_with("localhost"),
        "Maintainer: {maintainer}"
    );
    let unpacked = scratch.path().join("unpacked");
    let (ok, _, err) = run(Command::new(&dpkg_deb).arg("-x").arg(deb).arg(&unpacked));
    assert!(ok, "dpkg-deb -x: {err}");
    let copyright =
        std::fs::read_to_string(unpacked.join("usr/share/doc/warden/copyright")).unwrap();
    assert!(
        copyright.lines().any(|l| l
            .strip_prefix("Copyright: ")
            .is_some_and(
                |notice| notice.len() > 5 && notice[..4].bytes().all(|b| b.is_ascii_digit())
            )),
        "no 'Copyright: YEAR holder' line:\n{copyright}"
    );
}

#[test]
fn lintian_finds_no_error_and_no_warning() {
    let lintian = tool("lintian", "lintian");
    let deb = built_deb();
    // --fail-on (lintian 2.77 and later; Debian 12 has 2.116): exit non-zero on any
    // error or warning that is not overridden; info and pedantic tags do not count.
    let (ok, stdout, stderr) = run(Command::new(&lintian)
        .args([
            "--fail-on",
            "error,warning",
            "--info",
            "--no-tag-display-limit",
        ])
        .arg(deb));
    assert!(
        ok,
        "lintian found errors or warnings in {} (fix them, or override one in \
         packaging/debian/lintian-overrides with a comment saying why):\n{stdout}\n{stderr}",
        deb.display()
    );
    eprintln!("lintian {}:\n{stdout}", deb.display());

    // Every override is explained: a comment right above it.
    let overrides =
        std::fs::read_to_string(repo_root().join("packaging/debian/lintian-overrides")).unwrap();
    let mut previous = "";
    for line in overrides.lines() {
        if !line.trim().is_empty() && !line.starts_with('#') {
            assert!(
                previous.starts_with('#'),
                "lintian override '{line}' has no comment above it saying why"
            );
        }
        previous = line;
    }
}

/// The commands the maintainer scripts call, as stubs that log their arguments
/// (`systemctl is-active` answers from `STUB_ACTIVE`).
const STUBS: &[&str] = &[
    "systemctl",
    "deb-systemd-invoke",
    "deb-systemd-helper",
    "systemd-sysusers",
    "sysctl",
    "udevadm",
];

/// Runs the maintainer script `script` of the package with `args`, against stub
/// commands and a stand-in for /run/systemd/system (systemd "running");
/// returns every stub call, one line each.
fn run_script(dir: &Path, script: &Path, args: &[&str], service_active: bool) -> String {
    let stubs = dir.join("stubs");
    let booted = dir.join("run-systemd-system");
    std::fs::create_dir_all(&stubs).unwrap();
    std::fs::create_dir_all(&booted).unwrap();
    let log = dir.join("calls.log");
    let _ = std::fs::remove_file(&log);
    for name in STUBS {
        let stub = stubs.join(name);
        std::fs::write(
            &stub,
            "#!/bin/sh\necho \"${0##*/} $*\" >> \"$STUB_LOG\"\n\
             case \"$*\" in *is-active*) exit \"$STUB_ACTIVE\" ;; esac\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let text = std::fs::read_to_string(script)
        .unwrap()
        .replace("/run/systemd/system", &booted.display().to_string());
    let copy = dir.join("script");
    std::fs::write(&copy, text).unwrap();
    let (ok, stdout, stderr) = run(Command::new("/bin/sh")
        .arg(&copy)
        .args(args)
        .env_clear()
        .env("PATH", &stubs)
        .env("STUB_LOG", &log)
        .env("STUB_ACTIVE", if service_active { "0" } else { "3" }));
    assert!(
        ok,
        "{} {args:?} failed:\n{stdout}\n{stderr}",
        script.display()
    );
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// The `deb-systemd-invoke` calls among `calls`.
fn invocations(calls: &str) -> Vec<&str> {
    calls
        .lines()
        .filter(|l| l.starts_with("deb-systemd-invoke "))
        .collect()
}

#[test]
fn an_upgrade_restarts_the_service_and_never_the_socket() {
    let dpkg_deb = tool("dpkg-deb", "dpkg");
    let scratch = TempDir::new("deb-upgrade");
    let deb = built_deb();
    let control = scratch.path().join("control");
    let (ok, _, err) = run(Command::new(&dpkg_deb).arg("-e").arg(deb).arg(&control));
    assert!(ok, "dpkg-deb -e: {err}");
    let postinst = control.join("postinst");
    let prerm = control.join("prerm");
    let dir = scratch.path();

    // Upgrade from 0.0.9 while warden runs: the service alone restarts (the new
    // binary); the socket is only "started", a no-op for a running unit, so the
    // connections queued in it survive.
    let calls = run_script(dir, &postinst, &["configure", "0.0.9"], true);
    assert_eq!(
        invocations(&calls),
        [
            "deb-systemd-invoke start warden.service warden.socket",
            "deb-systemd-invoke try-restart warden.service",
        ],
        "{calls}"
    );
    // Upgrade while warden is stopped: started (new binary), not restarted twice.
    let calls = run_script(dir, &postinst, &["configure", "0.0.9"], false);
    assert_eq!(
        invocations(&calls),
        ["deb-systemd-invoke start warden.service warden.socket"],
        "{calls}"
    );
    // First install: both started, nothing restarted.
    let calls = run_script(dir, &postinst, &["configure"], false);
    assert_eq!(
        invocations(&calls),
        ["deb-systemd-invoke start warden.service warden.socket"],
        "{calls}"
    );
    assert!(
        calls.contains("deb-systemd-helper enable warden.socket"),
        "{calls}"
    );

    // Before an upgrade nothing is stopped; a removal stops both units.
    let calls = run_script(dir, &prerm, &["upgrade", "0.2.0"], true);
    assert!(invocations(&calls).is_empty(), "{calls}");
    let calls = run_script(dir, &prerm, &["remove"], true);
    assert_eq!(
        invocations(&calls),
        ["deb-systemd-invoke stop warden.service warden.socket"],
        "{calls}"
    );
}
