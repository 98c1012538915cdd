#!/usr/bin/env bash
# Assembles a bootable emulated Raspberry Pi 3 B (QEMU raspi3b) from Debian's
# packages only, around one static warden binary.
#
#   tools/pi-emu/build-image.sh WARDEN_BINARY OUT_DIR
#
# Writes to OUT_DIR:
#   Image              Debian's arm64 kernel (its vmlinuz is a raw arm64 Image)
#   rpi3b.dtb          broadcom/bcm2837-rpi-3-b.dtb from the same package
#   initramfs.cpio     newc archive: busybox (busybox-static:arm64), the boot
#                      script guest/init as /init (with guest/lib.sh and
#                      guest/command), WARDEN_BINARY as
#                      /usr/bin/warden, guest/*.toml in /etc/warden, and the
#                      kernel modules below with their dependencies
#   kernel-release     the kernel's release string (e.g. 6.1.0-56-arm64)
#
# The kernel is the one linux-image-arm64:arm64 points to (override with
# PIEMU_KERNEL_PACKAGE=linux-image-<ver>-arm64). The .debs and the unpacked
# kernel are cached in PIEMU_CACHE (default <target dir>/pi-emu/cache), so a
# second run needs no network. Module dependencies come from the package's own
# modules: depmod builds modules.dep in the unpacked tree and
# `modprobe --show-depends` lists the load order. Missing host tools (cpio,
# kmod) are installed with apt-get, and the arm64 architecture is added to
# dpkg if it is missing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

# The modules the test needs: thermal sensor, watchdog, and the USB host
# controller + CDC ethernet for QEMU's usb-net. Without phy-generic, USB comes
# up about 10 s late.
MODULES=(bcm2835_thermal bcm2835_wdt usb-common usbcore roles udc-core phy-generic dwc2
  mii usbnet cdc_ether rndis_host)
DTB_NAME=broadcom/bcm2837-rpi-3-b.dtb

usage() { echo "usage: $0 WARDEN_BINARY OUT_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
WARDEN_BINARY="$1"
OUT_DIR="$2"
[ -f "$WARDEN_BINARY" ] || { echo "no warden binary at $WARDEN_BINARY: build it with tools/cross/build.sh" >&2; exit 1; }
CACHE="${PIEMU_CACHE:-${CARGO_TARGET_DIR:-$REPO/target}/pi-emu/cache}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
log() { echo "== pi-emu: $*" >&2; }

apt_updated=0
apt_update_once() {
  ((apt_updated)) && return 0
  $SUDO apt-get update -qq >&2
  apt_updated=1
}

# Installs the Debian packages (host architecture) that are missing.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Makes sure apt knows arm64 packages (dpkg architecture + package lists).
ensure_arm64_lists() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding the arm64 architecture to dpkg"
    $SUDO dpkg --add-architecture arm64
    apt_updated=0
  fi
  apt-cache show busybox-static:arm64 >/dev/null 2>&1 || apt_update_once
}

# Prints the path of the cached .deb of arm64 package $1, downloading it if needed.
fetch_deb() {
  local pkg="$1" dir="$CACHE/debs/$1" deb
  deb="$(ls "$dir"/*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$deb" ]; then
    ensure_arm64_lists
    mkdir -p "$dir"
    log "downloading $pkg:arm64"
    # apt's _apt user may not be able to write into the cache: download into a
    # directory it can, then move the file.
    local tmp; tmp="$(mktemp -d)"
    chmod 0777 "$tmp"
    (cd "$tmp" && apt-get download -q "$pkg:arm64" >&2)
    mv "$tmp"/*.deb "$dir/"
    rmdir "$tmp"
    deb="$(ls "$dir"/*.deb | head -n1)"
  fi
  echo "$deb"
}

# Prints the name of the kernel package (linux-image-<ver>-arm64).
kernel_package() {
  if [ -n "${PIEMU_KERNEL_PACKAGE:-}" ]; then echo "$PIEMU_KERNEL_PACKAGE"; return; fi
  local cached
  cached="$(cat "$CACHE/kernel-package" 2>/dev/null || true)"
  if [ -n "$cached" ] && [ -d "$CACHE/debs/$cached" ]; then echo "$cached"; return; fi
  ensure_arm64_lists
  local pkg
  pkg="$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\)\(:arm64\)\?$/\1/p' | head -n1)"
  [ -n "$pkg" ] || { echo "cannot tell which kernel linux-image-arm64:arm64 depends on (apt-get update?)" >&2; return 1; }
  mkdir -p "$CACHE"
  echo "$pkg" >"$CACHE/kernel-package"
  echo "$pkg"
}

# Unpacks .deb $1 into $2 once (a stamp file marks a complete unpack).
unpack_once() {
  local deb="$1" dir="$2"
  [ -f "$dir/.unpacked" ] && [ "$(cat "$dir/.unpacked")" = "$(basename "$deb")" ] && return 0
  rm -rf "$dir"
  mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  basename "$deb" >"$dir/.unpacked"
}

apt_install cpio kmod

KERNEL_PKG="$(kernel_package)"
KERNEL_DEB="$(fetch_deb "$KERNEL_PKG")"
BUSYBOX_DEB="$(fetch_deb busybox-static)"
KERNEL_ROOT="$CACHE/unpacked/$KERNEL_PKG"
BUSYBOX_ROOT="$CACHE/unpacked/busybox-static"
unpack_once "$KERNEL_DEB" "$KERNEL_ROOT"
unpack_once "$BUSYBOX_DEB" "$BUSYBOX_ROOT"

RELEASE="$(basename "$(ls -d "$KERNEL_ROOT"/lib/modules/*/ | head -n1)")"
[ -n "$RELEASE" ] || { echo "$KERNEL_DEB has no lib/modules/<release>" >&2; exit 1; }
MODDIR="$KERNEL_ROOT/lib/modules/$RELEASE"
# Debian's postinst runs depmod; an unpacked package has no modules.dep yet.
[ -f "$MODDIR/modules.dep.bin" ] || depmod -b "$KERNEL_ROOT" "$RELEASE"

VMLINUZ="$KERNEL_ROOT/boot/vmlinuz-$RELEASE"
DTB="$KERNEL_ROOT/usr/lib/linux-image-$RELEASE/$DTB_NAME"
for f in "$VMLINUZ" "$DTB" "$BUSYBOX_ROOT/bin/busybox"; do
  [ -f "$f" ] || { echo "missing $f in the unpacked packages" >&2; exit 1; }
done

# --- the initramfs ---
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,usr/bin,etc/warden,lib/modules/piemu,proc,sys,dev,run,tmp}
install -m 0755 "$BUSYBOX_ROOT/bin/busybox" "$STAGE/bin/busybox"
install -m 0755 "$HERE/guest/init" "$STAGE/init"
install -m 0755 "$HERE/guest/command" "$STAGE/bin/piemu-command"
install -D -m 0644 "$HERE/guest/lib.sh" "$STAGE/lib/piemu/lib.sh"
install -m 0755 "$WARDEN_BINARY" "$STAGE/usr/bin/warden"
install -m 0644 "$HERE"/guest/*.toml "$STAGE/etc/warden/"

# Load order: each module's dependencies first, every module once.
declare -A seen=()
: >"$STAGE/lib/modules/piemu/load-order"
for module in "${MODULES[@]}"; do
  lines="$(modprobe -d "$KERNEL_ROOT" -S "$RELEASE" --show-depends "$module")" ||
    { echo "module $module is not in $KERNEL_PKG" >&2; exit 1; }
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue # "builtin <name>": nothing to load
    name="$(basename "$path")"
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    install -m 0644 "$path" "$STAGE/lib/modules/piemu/$name"
    echo "$name" >>"$STAGE/lib/modules/piemu/load-order"
  done <<<"$lines"
done

mkdir -p "$OUT_DIR"
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0) >"$OUT_DIR/initramfs.cpio.tmp"
mv "$OUT_DIR/initramfs.cpio.tmp" "$OUT_DIR/initramfs.cpio"
cp "$VMLINUZ" "$OUT_DIR/Image"
cp "$DTB" "$OUT_DIR/rpi3b.dtb"
echo "$RELEASE" >"$OUT_DIR/kernel-release"
log "image in $OUT_DIR: kernel $RELEASE ($KERNEL_PKG), $(wc -l <"$STAGE/lib/modules/piemu/load-order") modules, initramfs $(stat -c %s "$OUT_DIR/initramfs.cpio") bytes"
