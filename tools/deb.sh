#!/usr/bin/env bash
# Builds the warden .deb and checks that it holds every file it should.
#
#   tools/deb.sh [--arm64] [--no-build] [--out DIR]
#
#   (default)   host package: cargo deb builds the release binary and packages it
#   --arm64     arm64 package from the static binary tools/cross/build.sh made
#               (<target dir>/aarch64-unknown-linux-gnu/release/warden); never builds
#   --no-build  host package from the binary already in <target dir>/release/warden
#   --out DIR   where the .deb goes (default <target dir>/debian)
#
# Needs cargo-deb (installed with `cargo install cargo-deb --locked` when
# missing) and the [package.metadata.deb] section of the root Cargo.toml
# (the cargo-deb metadata). Prints the .deb path last; exits non-zero if
# a file is missing from it, if its maintainer scripts would stop or restart
# warden.socket on an upgrade, or if packaging/debian/changelog's newest entry
# is not the package's version.
set -euo pipefail
cd "$(dirname "$0")/.."

arm64=0; no_build=0; out=""
while (($#)); do
  case "$1" in
    --arm64) arm64=1 ;;
    --no-build) no_build=1 ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    *) echo "usage: tools/deb.sh [--arm64] [--no-build] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out="${out:-$TARGET_DIR/debian}"
mkdir -p "$out"

if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb" >&2
  cargo install cargo-deb --locked >&2
fi
grep -q '^\[package.metadata.deb\]' Cargo.toml \
  || { echo "Cargo.toml has no [package.metadata.deb] section" >&2; exit 1; }

args=(-p warden --locked --output "$out")
if ((arm64)); then
  binary="$TARGET_DIR/aarch64-unknown-linux-gnu/release/warden"
  [ -x "$binary" ] || { echo "$binary is missing: run tools/cross/build.sh aarch64-unknown-linux-gnu" >&2; exit 1; }
  # Already stripped by the release profile; the host's strip cannot read arm64.
  args+=(--target aarch64-unknown-linux-gnu --no-build --no-strip)
elif ((no_build)); then
  [ -x "$TARGET_DIR/release/warden" ] || { echo "$TARGET_DIR/release/warden is missing" >&2; exit 1; }
  # cargo-deb trusts the release profile's `strip = true` and would package a
  # binary built otherwise (the tests hand it the debug one) with its symbols:
  # lintian's unstripped-binary-or-object. Stripping a stripped binary is a no-op.
  args+=(--no-build --strip)
fi
deb="$(cargo deb "${args[@]}" | tail -n 1)"
[ -f "$deb" ] || { echo "cargo deb printed no package path (got '$deb')" >&2; exit 1; }

# Every file the package must install, and the scripts that must run.
expected=(
  ./usr/bin/warden
  ./etc/warden/warden.toml
  ./usr/lib/systemd/system/warden.service
  ./usr/lib/systemd/system/warden.socket
  ./usr/lib/sysctl.d/60-warden.conf
  ./usr/lib/udev/rules.d/99-warden.rules
  ./usr/lib/sysusers.d/warden.conf
  ./usr/share/doc/warden/README.md
  ./usr/share/doc/warden/INSTALL-PI.md
  ./usr/share/doc/warden/CONFIG.md
  ./usr/share/doc/warden/copyright
  ./usr/share/doc/warden/changelog.Debian.gz
  ./usr/share/man/man8/warden.8.gz
)
listing="$(dpkg-deb -c "$deb" | awk '{ print $NF }')"
missing=0
for path in "${expected[@]}"; do
  grep -qxF "$path" <<<"$listing" || { echo "missing from $deb: $path" >&2; missing=1; }
done
control="$(mktemp -d)"
trap 'rm -rf "$control"' EXIT
dpkg-deb -e "$deb" "$control"
grep -qxF /etc/warden/warden.toml "$control/conffiles" || { echo "/etc/warden/warden.toml is not a conffile" >&2; missing=1; }
for needle in "systemd-sysusers" "deb-systemd-helper enable warden.service" "deb-systemd-helper enable warden.socket" "60-warden.conf"; do
  grep -qF "$needle" "$control/postinst" || { echo "postinst lacks: $needle" >&2; missing=1; }
done
# An upgrade restarts warden.service only: stopping or restarting warden.socket
# would reset the connections queued in it. The postinst may only start it
# (a no-op when it runs); the prerm may stop it only on remove.
if grep -E 'deb-systemd-invoke' "$control/postinst" | grep -F warden.socket | grep -vE 'deb-systemd-invoke start ' >&2; then
  echo "postinst may restart warden.socket on upgrade (line above)" >&2; missing=1
fi
grep -qF "deb-systemd-invoke try-restart warden.service" "$control/postinst" \
  || { echo "postinst lacks the upgrade restart of warden.service" >&2; missing=1; }
if [ -f "$control/prerm" ] && awk '/deb-systemd-invoke stop/ && /warden\.socket/ && prev !~ /"\$1" = "?remove"?/ { bad = 1; print } { prev = $0 } END { exit !bad }' "$control/prerm" >&2; then
  echo "prerm stops warden.socket on upgrade (line above)" >&2; missing=1
fi
# The newest changelog entry names this package's version.
version="$(dpkg-deb -f "$deb" Version)"
changelog_version="$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/warden/changelog.Debian.gz 2>/dev/null | gzip -dc | sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' || true)"
[ "$changelog_version" = "$version" ] || {
  echo "packaging/debian/changelog's newest entry is '${changelog_version:-missing}', the package is $version: add an entry" >&2
  missing=1
}
((missing == 0)) || exit 1

dpkg-deb -f "$deb" Package Version Architecture Depends >&2
echo "$(stat -c %s "$deb") bytes, every expected file present" >&2
echo "$deb"
