#!/usr/bin/env bash
# Smoke-tests a cross-built warden under qemu user-mode emulation:
# `--version`, then `warden run` against a fake Pi sysfs tree (thermal zone,
# cpufreq policy, fan duty file): an echo round trip on loopback, the fan
# started when the fake SoC heats up, and on SIGTERM a clean exit that leaves
# the fan at full (fan.on_exit) and cpufreq as found.
#
#   tools/cross/smoke.sh [TARGET]     (default aarch64-unknown-linux-gnu)
#
# Uses <target dir>/TARGET/release/warden from tools/cross/build.sh (or the
# binary named by $WARDEN_BIN). Installs qemu-user-static with apt-get when
# missing. SMOKE_KEEP=1 keeps the work directory and log. Exit 0 only when
# every step passed.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET="${1:-aarch64-unknown-linux-gnu}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="${WARDEN_BIN:-$TARGET_DIR/$TARGET/release/warden}"
case "$TARGET" in
  aarch64-*) QEMU=qemu-aarch64-static ;;
  armv7-*) QEMU=qemu-arm-static ;;
  *) echo "no qemu mapping for $TARGET" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "$BIN is missing: run tools/cross/build.sh $TARGET" >&2; exit 1; }
if ! command -v "$QEMU" >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi

fail() { echo "SMOKE FAIL: $*" >&2; [ -f "${LOG:-}" ] && sed 's/^/  | /' "$LOG" >&2; exit 1; }

echo "== $BIN ($(stat -c %s "$BIN") bytes) under $QEMU"
version="$("$QEMU" "$BIN" --version)" || fail "--version exited non-zero"
[[ "$version" == "warden "* ]] || fail "--version printed '$version'"
echo "   --version: $version"

WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; [ -n "${SMOKE_KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
LOG="$WORK/warden.log"

# A fake Pi 4: SoC zone at 45 °C, one cpufreq policy, a fan duty file.
SYS="$WORK/sysfs"
zone="$SYS/sys/class/thermal/thermal_zone0"
policy="$SYS/sys/devices/system/cpu/cpufreq/policy0"
mkdir -p "$zone" "$policy" "$SYS/sys/class/hwmon/hwmon0" "$SYS/sys/devices/platform/soc/soc:firmware" "$WORK/run"
echo cpu-thermal >"$zone/type"
echo 45000 >"$zone/temp"
echo cpu_thermal >"$SYS/sys/class/hwmon/hwmon0/name"
echo 45000 >"$SYS/sys/class/hwmon/hwmon0/temp1_input"
echo 0 >"$SYS/sys/devices/platform/soc/soc:firmware/get_throttled"
echo 600000 >"$policy/cpuinfo_min_freq"
echo 1800000 >"$policy/cpuinfo_max_freq"
echo 600000 >"$policy/scaling_min_freq"
echo 1800000 >"$policy/scaling_max_freq"
echo ondemand >"$policy/scaling_governor"
echo "conservative ondemand userspace powersave performance schedutil" >"$policy/scaling_available_governors"
echo "600000 750000 1000000 1250000 1500000 1800000 " >"$policy/scaling_available_frequencies"
echo 0.000 >"$SYS/fan_duty"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$WORK/warden.toml" <<TOML
[server]
listen = ["127.0.0.1:$port"]
drain_timeout_s = 2

[thermal]
interval_ms = 100
filter_tau_s = 0.0

[fan]
driver = "file"
path = "$SYS/fan_duty"
on_exit = "full"

[hardware]
sysfs_root = "$SYS"
state_dir = "$WORK/run"

[status]
listen = "127.0.0.1:0"
TOML
"$QEMU" "$BIN" check-config "$WORK/warden.toml" >/dev/null || fail "check-config rejected the smoke config"

WARDEN_LOG=info "$QEMU" "$BIN" run --config "$WORK/warden.toml" 2>"$LOG" &
PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on 127.0.0.1:$port" "$LOG" && break
  kill -0 "$PID" 2>/dev/null || fail "warden exited before listening"
  sleep 0.1
done
grep -q "listening on 127.0.0.1:$port" "$LOG" || fail "not listening on 127.0.0.1:$port after 10 s"

message="hello from $TARGET $$"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf '%s' "$message" >&3
IFS= read -r -t 10 -N "${#message}" reply <&3 || fail "no echo within 10 s"
exec 3<&-
[ "$reply" = "$message" ] || fail "echo mismatch: sent '$message', got '$reply'"
echo "   echo on 127.0.0.1:$port: ok"

grep -q "sensor: thermal_zone0 (cpu-thermal)" "$LOG" || fail "the thermal thread did not find the fake SoC zone"
echo 70000 >"$zone/temp"   # past thermal.fan_on_c (60 °C)
for _ in $(seq 1 100); do
  [ "$(cat "$SYS/fan_duty")" != "0.000" ] && break
  sleep 0.1
done
duty="$(cat "$SYS/fan_duty")"
[ "$duty" != "0.000" ] || fail "fan still off 10 s after the SoC reached 70 °C"
echo "   70 °C: fan duty $duty"

kill -TERM "$PID"
status=0
wait "$PID" || status=$?
PID=""
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
[ "$(cat "$SYS/fan_duty")" = "1.000" ] || fail "fan duty $(cat "$SYS/fan_duty") after exit, expected 1.000 (on_exit = full)"
[ "$(cat "$policy/scaling_max_freq")" = 1800000 ] || fail "scaling_max_freq not restored: $(cat "$policy/scaling_max_freq")"
echo "   SIGTERM: clean exit, fan left at full, cpufreq as found"
counters="$(grep -o "final counters:.*" "$LOG" | head -c 120)"
echo "   ${counters:-no final counters line}"
[ -z "${SMOKE_KEEP:-}" ] || echo "   log kept: $LOG"
echo "SMOKE OK: $TARGET"
