#!/usr/bin/env bash
# warden's whole test suite, from a fresh Debian/Ubuntu machine with Rust:
# installs the system packages the tests use, builds every crate, checks
# formatting and lints, and runs every test. A missing tool fails a test; it
# is never skipped. Exit 0 only when everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests talk to: systemd's tools (systemd-analyze,
# systemd-socket-activate, udevadm), HAProxy, Prometheus' promtool, headless
# Chromium; strace and Python for the benchmark peers; qemu-user and the
# aarch64 cross linker for the Pi build's smoke test; qemu-system-arm, cpio
# and kmod for the emulated Pi; lintian and groff for the package and its
# manual page.
APT_PACKAGES=(systemd udev procps util-linux haproxy prometheus chromium strace python3 python3-venv
  curl file qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm cpio kmod lintian groff-base)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb (the .deb test packages the built binary)"
  cargo install cargo-deb --locked --quiet
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== build (the integration tests run the real binaries)"
cargo build --workspace --all-targets

echo "== tests"
cargo test --workspace --no-fail-fast

echo "== the Pi build: static aarch64 release binary, smoke-tested under qemu-user"
tools/cross/build.sh aarch64-unknown-linux-gnu
tools/cross/smoke.sh aarch64-unknown-linux-gnu

echo "== warden on an emulated Raspberry Pi 3 (QEMU raspi3b): real GPIO, real thermal zone"
tools/pi-emu/test.sh
