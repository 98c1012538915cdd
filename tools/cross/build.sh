#!/usr/bin/env bash
# Cross-builds static release binaries of warden for Raspberry Pi OS.
#
#   tools/cross/build.sh [TARGET...]
#
# Default targets: aarch64-unknown-linux-gnu (64-bit Pi OS, Pi 3/4/5) and
# armv7-unknown-linux-gnueabihf (32-bit Pi OS, Pi 2/3/4). Also accepted:
# aarch64-unknown-linux-musl. Every binary is linked statically (glibc with
# +crt-static, or musl): a dynamic glibc build needs glibc 2.34, which Pi OS
# bullseye does not have, while a static one runs on any Pi OS.
#
# The target's standard library comes from rustup when it can fetch it; if
# not (some targets are not downloadable here), from Debian's rustc-web and
# libstd-rust-web-dev:<arch> (after dpkg --add-architecture), run with
# /usr/bin first so Debian's cargo uses Debian's rustc. The linker is the
# Debian cross gcc. Missing Debian packages are installed with apt-get.
# CROSS_STD=debian skips rustup and takes the Debian route directly.
#
# Output: $CARGO_TARGET_DIR (default ./target)/<target>/release/warden, and
# one "target bytes MiB" line per binary on stdout (also in
# <target dir>/cross-sizes.txt). Environment: CROSS_PROFILE (default release).
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
PROFILE="${CROSS_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "== installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# target -> Debian architecture, cross gcc, its package
deb_arch() { case "$1" in aarch64-*) echo arm64 ;; armv7-*) echo armhf ;; *) return 1 ;; esac; }
cross_gcc() { case "$1" in aarch64-*) echo aarch64-linux-gnu-gcc ;; armv7-*) echo arm-linux-gnueabihf-gcc ;; esac; }
gcc_package() { case "$1" in aarch64-*) echo gcc-aarch64-linux-gnu ;; armv7-*) echo gcc-arm-linux-gnueabihf ;; esac; }
libc_package() { case "$1" in aarch64-*) echo libc6-dev-arm64-cross ;; armv7-*) echo libc6-dev-armhf-cross ;; esac; }

# Prints the toolchain to use for $1: "rustup" or "debian".
std_source() {
  local target="$1"
  if [ "${CROSS_STD:-}" != debian ] && command -v rustup >/dev/null; then
    if rustup target list --installed 2>/dev/null | grep -qx "$target"; then echo rustup; return; fi
    if rustup target add "$target" >/dev/null 2>&1; then echo rustup; return; fi
    echo "   rustup cannot fetch the standard library for $target; trying Debian's rustc-web" >&2
  fi
  case "$target" in *-gnu | *-gnueabihf) ;; *) echo "no Debian standard library for $target" >&2; return 1 ;; esac
  local arch; arch="$(deb_arch "$target")"
  dpkg --print-foreign-architectures | grep -qx "$arch" || $SUDO dpkg --add-architecture "$arch"
  apt_install rustc-web cargo-web "libstd-rust-web-dev:$arch" "libc6-dev:$arch"
  echo debian
}

build_one() {
  local target="$1" env_name linker source
  linker="$(cross_gcc "$target")" || true
  [ -n "$linker" ] || { echo "unsupported target $target" >&2; return 1; }
  apt_install "$(gcc_package "$target")" "$(libc_package "$target")"
  source="$(std_source "$target")"
  env_name="$(echo "$target" | tr 'a-z-' 'A-Z_')"
  echo "== building $target ($PROFILE, static, std from $source)" >&2
  local -a cargo=(cargo)
  local path="$PATH"
  if [ "$source" = debian ]; then
    # Debian's cargo still finds rustup's rustc through PATH: put /usr/bin first.
    path="/usr/bin:$PATH"
    cargo=(/usr/bin/cargo)
  fi
  env PATH="$path" \
    "CARGO_TARGET_${env_name}_LINKER=$linker" \
    "CARGO_TARGET_${env_name}_RUSTFLAGS=-C target-feature=+crt-static" \
    CARGO_TARGET_DIR="$TARGET_DIR" \
    "${cargo[@]}" build --locked -p warden --bin warden --profile "$PROFILE" --target "$target" >&2
  local out="$TARGET_DIR/$target/$PROFILE/warden"
  if file "$out" | grep -q "dynamically linked"; then
    echo "$out is dynamically linked; expected a static binary" >&2
    return 1
  fi
  local bytes; bytes="$(stat -c %s "$out")"
  printf '%s %s %s\n' "$target" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.2fMiB", b / 1048576 }')"
}

command -v file >/dev/null || apt_install file
mkdir -p "$TARGET_DIR"
: >"$TARGET_DIR/cross-sizes.txt"
status=0
for target in "${TARGETS[@]}"; do
  if line="$(build_one "$target")"; then
    echo "$line" | tee -a "$TARGET_DIR/cross-sizes.txt"
  else
    echo "!! $target failed" >&2
    status=1
  fi
done
exit "$status"
