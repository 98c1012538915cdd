//! The .deb: `tools/deb.sh` packages the already-built test binary (no
//! release build, to keep the suite fast) with cargo-deb, and `dpkg-deb`
//! shows every file, the conffile and the install scripts.

use std::process::Command;

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
];

#[test]
fn the_deb_holds_every_file_and_enables_the_units() {
    let dpkg_deb = tool("dpkg-deb", "dpkg");
    let (has_cargo_deb, _, _) = run(Command::new("cargo").args(["deb", "--version"]));
    assert!(
        has_cargo_deb,
        "cargo-deb is not installed: cargo install cargo-deb --locked (tools/test.sh does)"
    );

    // cargo-deb packages <target dir>/release/warden; give it the test binary there.
    let scratch = TempDir::new("deb");
    let release = scratch.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(warden_bin(), release.join("warden")).unwrap();
    let out = scratch.path().join("out");
    let (ok, stdout, stderr) = run(Command::new(repo_root().join("tools/deb.sh"))
        .args(["--no-build", "--out"])
        .arg(&out)
        .env("CARGO_TARGET_DIR", scratch.path()));
    assert!(ok, "tools/deb.sh failed:\n{stdout}\n{stderr}");
    let deb = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        deb.ends_with(".deb") && std::path::Path::new(&deb).is_file(),
        "no .deb path printed: {stdout}"
    );
    eprintln!("{deb}\n{stderr}");

    let (ok, listing, err) = run(Command::new(&dpkg_deb).arg("-c").arg(&deb));
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

    let (_, conffiles, _) = run(Command::new(&dpkg_deb).arg("-I").arg(&deb).arg("conffiles"));
    assert!(
        conffiles.lines().any(|l| l == "/etc/warden/warden.toml"),
        "conffiles: {conffiles:?}"
    );
    let (_, postinst, _) = run(Command::new(&dpkg_deb).arg("-I").arg(&deb).arg("postinst"));
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
        .arg(&deb)
        .args(["Architecture", "Depends"]));
    assert!(
        fields.contains("Depends:") && fields.contains("systemd"),
        "{fields}"
    );
}
