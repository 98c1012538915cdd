#!/usr/bin/env bash
# End-to-end test of warden on an emulated Raspberry Pi 3 B: QEMU's raspi3b
# board booting Debian's arm64 kernel, the real static warden binary, the
# board's real GPIO block and thermal sensor model.
#
#   tools/pi-emu/test.sh            # aarch64 and armv7 binaries
#   PIEMU_ARCHES=aarch64 tools/pi-emu/test.sh
#
# For each binary it cross-builds warden (tools/cross/build.sh), assembles an
# image (build-image.sh), boots it and asserts from the host, through ports
# QEMU forwards from 127.0.0.1:
#   - the echo service answers, and again after warden restarts;
#   - /status reports the real sensor: "thermal_zone0 (cpu-thermal)", healthy,
#     a temperature from QEMU's BCM2835 model (a fixed 25 C, so 20-30 C);
#   - fan.driver "gpio" on BCM 17: with fan_on_c below 25 C the pin is high,
#     with fan_on_c above it the pin is low (the guest had set it high just
#     before warden started) -- each time as the guest kernel reads the pin
#     (guest/init explains how), not as warden says;
#   - SIGTERM leaves the pin in fan.on_exit: "off" -> low, "full" -> high,
#     warden exits 0, and `warden restore` keeps it so.
# It records the time from QEMU's start to the first echo and warden's RSS
# inside the guest in <out>/results.txt. Exit 0 only when every check passed;
# the last line is "pi-emu: N passed, N failed".
#
# Environment: PIEMU_ARCHES (default "aarch64 armv7"), CARGO_TARGET_DIR
# (default <repo>/target; output in <target dir>/pi-emu, .debs cached in
# <target dir>/pi-emu/cache, see build-image.sh), PIEMU_BOOT_TIMEOUT (seconds
# to the first echo, default 120). Needs qemu-system-arm, cpio, kmod, curl,
# python3 (installed with apt-get when missing) and what tools/cross/build.sh
# needs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO" # a relative CARGO_TARGET_DIR means the same as for cargo
read -r -a ARCHES <<<"${PIEMU_ARCHES:-aarch64 armv7}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="$TARGET_DIR/pi-emu"
export PIEMU_CACHE="${PIEMU_CACHE:-$OUT/cache}"
BOOT_TIMEOUT="${PIEMU_BOOT_TIMEOUT:-120}"
STEP_TIMEOUT=30
PIN=17
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "  ok    $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $*"; }
check() { # description command...
  local description="$1"; shift
  if "$@"; then pass "$description"; else fail "$description"; fi
}
now_ms() { date +%s%3N; }
elapsed_s() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "== pi-emu: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

rust_target() {
  case "$1" in
    aarch64) echo aarch64-unknown-linux-gnu ;;
    armv7) echo armv7-unknown-linux-gnueabihf ;;
    *) echo "unknown PIEMU_ARCHES entry '$1' (aarch64, armv7)" >&2; return 1 ;;
  esac
}

# Prints three free TCP ports on 127.0.0.1 (echo, status, guest control).
free_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

# --- one boot ---
QEMU_PID=""
stop_qemu() {
  if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
  fi
  QEMU_PID=""
}
trap stop_qemu EXIT

# Starts QEMU on image dir $1, console log $2; sets QEMU_PID, the ports, BOOT_START_MS.
start_qemu() {
  local image="$1" console="$2" _try
  for _try in 1 2 3; do
    read -r ECHO_PORT STATUS_PORT CONTROL_PORT <<<"$(free_ports)"
    : >"$console"
    BOOT_START_MS="$(now_ms)"
    # Single-threaded TCG: with one host thread per vCPU (the default), the
    # three secondary cores spin in the boot stub's WFE loop until Linux
    # starts them and take the host CPU from the boot core; the kernel's
    # console then appears after 4-16 s instead of about 1.5 s.
    qemu-system-aarch64 -M raspi3b -accel tcg,thread=single -no-reboot \
      -kernel "$image/Image" -dtb "$image/rpi3b.dtb" -initrd "$image/initramfs.cpio" \
      -append "console=ttyAMA0 rdinit=/init iomem=relaxed panic=1 piemu.pin=$PIN" \
      -display none -monitor none -serial "file:$console" \
      -device usb-net,netdev=net0 \
      -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$ECHO_PORT-10.0.2.15:7000,hostfwd=tcp:127.0.0.1:$STATUS_PORT-10.0.2.15:9181,hostfwd=tcp:127.0.0.1:$CONTROL_PORT-10.0.2.15:7100" \
      >"$image/qemu.log" 2>&1 &
    QEMU_PID=$!
    sleep 1
    if kill -0 "$QEMU_PID" 2>/dev/null; then return 0; fi
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
    grep -q "host forwarding" "$image/qemu.log" || break # not a port race: give up
  done
  echo "qemu did not start:" >&2
  cat "$image/qemu.log" >&2
  return 1
}

# One echo round trip through the forwarded port: sends $1, expects it back
# within ECHO_TIMEOUT seconds (1 while polling for the first echo: a SYN sent
# before the guest's usb0 is up is retransmitted late, a fresh one is not).
ECHO_TIMEOUT=5
echo_once() {
  timeout "$ECHO_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s\n" "$2" >&3 &&
    IFS= read -r line <&3 && [ "$line" = "$2" ]' _ "$ECHO_PORT" "$1" 2>/dev/null
}

# Sends "<command> <seq>" to the guest's control port; the answer line goes
# to GUEST_ANSWER (not printed: SEQ must advance in this shell, not a subshell).
SEQ=0
GUEST_ANSWER=""
guest_command() {
  SEQ=$((SEQ + 1))
  GUEST_ANSWER=""
  local deadline=$(($(date +%s) + STEP_TIMEOUT)) answer
  while [ "$(date +%s)" -lt "$deadline" ]; do
    answer="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s %s\n" "$2" "$3" >&3 &&
      IFS= read -r line <&3 && printf "%s\n" "$line"' _ "$CONTROL_PORT" "$1" "$SEQ" 2>/dev/null || true)"
    case "$answer" in "PIEMU $SEQ "*) GUEST_ANSWER="$answer"; return 0 ;; esac
    sleep 0.5
  done
  echo "no answer to '$1 $SEQ' from the guest's control port" >&2
  return 1
}

# Waits until the console has a line matching extended regex $1; prints it.
wait_console() {
  local pattern="$1" deadline=$(($(date +%s) + ${2:-$STEP_TIMEOUT})) line
  while [ "$(date +%s)" -lt "$deadline" ]; do
    line="$(grep -a -m1 -E "$pattern" "$CONSOLE" || true)"
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    grep -a -q "PIEMU FAILED" "$CONSOLE" && break
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "no console line matching /$pattern/" >&2
  return 1
}

# Runs status_check.py on the guest's /status for phase $1 in
# mode $2 (wait: exit 0 once settled; check: print PASS/FAIL lines).
status_check() {
  local json
  json="$(curl -fsS -m 5 "http://127.0.0.1:$STATUS_PORT/status" 2>/dev/null)" || return 1
  python3 "$HERE/status_check.py" "$1" "$2" <<<"$json"
}

wait_status_settled() { # phase
  local deadline=$(($(date +%s) + STEP_TIMEOUT))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    status_check "$1" wait >/dev/null && return 0
    sleep 0.5
  done
  return 1
}

record_status_checks() { # phase
  local line
  while IFS= read -r line; do
    case "$line" in
      PASS\ *) pass "${line#PASS }" ;;
      FAIL\ *) fail "${line#FAIL }" ;;
      TEMP\ *) TEMP_C="${line#TEMP }" ;;
      *) echo "        $line" ;;
    esac
  done < <(status_check "$1" check || echo "FAIL $1: /status did not answer")
}

# Asks the guest kernel for the pin's level; checks it is $2 (hi/lo), as output.
check_level() { # label expected
  local answer
  guest_command level || { fail "$1: pin level (no answer)"; return; }
  answer="$GUEST_ANSWER"
  case "$answer" in
    *" gpio$PIN=$2 function=gpio_out"*) pass "$1: kernel reads GPIO $PIN $2, output (${answer#PIEMU * })" ;;
    *) fail "$1: expected GPIO $PIN $2 as output, kernel says: ${answer#PIEMU * }" ;;
  esac
}

# Stops warden (SIGTERM in the guest); checks exit 0 and the pin level $2 after exit and restore.
check_stop() { # phase expected
  local seq line
  guest_command stop || { fail "$1: stop (no answer)"; return; }
  seq="$SEQ"
  line="$(wait_console "^PIEMU $seq exited phase=$1 ")" || { fail "$1: warden did not exit after SIGTERM"; return; }
  case "$line" in *" code=0 "*) pass "$1: SIGTERM -> warden exits 0" ;; *) fail "$1: SIGTERM -> $line" ;; esac
  case "$line" in
    *" gpio$PIN=$2 "*) pass "$1: after exit GPIO $PIN is $2 (fan.on_exit)" ;;
    *) fail "$1: after exit expected GPIO $PIN $2 (fan.on_exit): $line" ;;
  esac
  line="$(wait_console "^PIEMU $seq restored phase=$1 ")" || { fail "$1: warden restore did not run"; return; }
  case "$line" in
    *" code=0 gpio$PIN=$2 "*) pass "$1: warden restore exits 0, GPIO $PIN still $2" ;;
    *) fail "$1: after warden restore: $line" ;;
  esac
}

boot_and_check() { # arch
  local arch="$1" image="$OUT/$1" line first_echo="" first_console="" start rss="" hwm="" huge="" deadline
  CONSOLE="$image/console.log"
  TEMP_C=""
  echo "== pi-emu: booting $arch warden on QEMU raspi3b ($(cat "$image/kernel-release"))"
  start_qemu "$image" "$CONSOLE" || { fail "$arch: QEMU starts"; return; }
  echo "   ports on 127.0.0.1: echo $ECHO_PORT, status $STATUS_PORT, guest control $CONTROL_PORT; console $CONSOLE"

  # Phase fan-on: boot to the first echo.
  start="$BOOT_START_MS"
  deadline=$(($(date +%s) + BOOT_TIMEOUT))
  while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$QEMU_PID" 2>/dev/null &&
    ! grep -a -q "PIEMU FAILED" "$CONSOLE"; do
    [ -n "$first_console" ] || [ ! -s "$CONSOLE" ] || first_console="$(elapsed_s "$start")"
    if ECHO_TIMEOUT=1 echo_once "piemu $arch boot"; then first_echo="$(elapsed_s "$start")"; break; fi
    sleep 0.1
  done
  if [ -z "$first_echo" ]; then
    fail "$arch: echo through 127.0.0.1:$ECHO_PORT within ${BOOT_TIMEOUT}s of QEMU's start"
    echo "---- console (last 40 lines)"; tail -n 40 "$CONSOLE"; echo "----"
    stop_qemu
    return
  fi
  pass "$arch: echo answers through the forwarded port, ${first_echo}s after QEMU started"
  line="$(grep -a -m1 '^PIEMU warden elf-class=' "$CONSOLE" || true)"
  case "$arch:$line" in
    aarch64:*=2*) pass "$arch: the guest runs a 64-bit warden" ;;
    armv7:*=1*) pass "$arch: the guest runs a 32-bit warden on the arm64 kernel (CONFIG_COMPAT)" ;;
    *) fail "$arch: unexpected warden ELF class: ${line:-no console line}" ;;
  esac
  line="$(wait_console '^PIEMU ready phase=fan-on ')" || fail "$arch: guest reports warden started"
  wait_status_settled fan-on || fail "fan-on: /status did not settle (fan on) within ${STEP_TIMEOUT}s"
  record_status_checks fan-on
  check_level fan-on hi
  check "fan-on: echo of a 1000-byte line" echo_once "$(printf 'w%.0s' {1..1000})"
  if guest_command rss; then
    line="$GUEST_ANSWER"
    rss="$(echo "$line" | sed -n 's/.*VmRSS: *\([0-9]*\) kB.*/\1/p')"
    hwm="$(echo "$line" | sed -n 's/.*VmHWM: *\([0-9]*\) kB.*/\1/p')"
    huge="$(echo "$line" | sed -n 's/.*AnonHugePages: *\([0-9]*\) kB.*/\1/p')"
  fi
  check "$arch: warden's RSS inside the guest is reported (${rss:-?} kB, peak ${hwm:-?} kB, huge pages ${huge:-?} kB)" test -n "$rss"
  check_stop fan-on lo

  # Phase fan-off: the guest sets the pin high, then warden starts with the fan threshold above 25 C.
  line="$(wait_console '^PIEMU preset phase=fan-off ')" || true
  case "$line" in
    *" gpio$PIN=hi "*) pass "fan-off: guest set GPIO $PIN high before warden started" ;;
    *) fail "fan-off: guest could not preset GPIO $PIN high: ${line:-no console line}" ;;
  esac
  wait_console '^PIEMU ready phase=fan-off ' >/dev/null || fail "fan-off: guest reports warden started"
  deadline=$(($(date +%s) + STEP_TIMEOUT))
  until echo_once "piemu $arch restart" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.2; done
  check "fan-off: echo answers after warden restarted" echo_once "piemu $arch again"
  wait_status_settled fan-off || fail "fan-off: /status did not settle (fan off) within ${STEP_TIMEOUT}s"
  record_status_checks fan-off
  check_level fan-off lo
  check_stop fan-off hi

  line="$(wait_console '^PIEMU done ')" || true
  case "$line" in *"status=ok"*) pass "$arch: guest script finished" ;; *) fail "$arch: guest script: ${line:-no done line}" ;; esac
  deadline=$(($(date +%s) + 20))
  while kill -0 "$QEMU_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
  stop_qemu
  # Guest-side times: the kernel's uptime when /init started warden, and
  # warden's own "ready" log line (the board has no RTC: its clock starts at
  # the epoch when the kernel boots, so the timestamp is the uptime).
  local guest_start guest_ready
  guest_start="$(grep -a -m1 '^PIEMU started phase=fan-on ' "$CONSOLE" | sed -n 's/.* uptime=\([0-9.]*\).*/\1/p' || true)"
  guest_ready="$(grep -a -m1 -E '^1970-01-01T[0-9:.]+Z +INFO +ready.?$' "$CONSOLE" |
    sed -n 's/^1970-01-01T\([0-9]*\):\([0-9]*\):\([0-9.]*\)Z.*/\1 \2 \3/p' | awk '{ printf "%.2f", $1 * 3600 + $2 * 60 + $3 }' || true)"
  printf 'arch=%s kernel=%s first_console_s=%s first_echo_s=%s guest_warden_start_s=%s guest_warden_ready_s=%s vm_rss_kib=%s vm_hwm_kib=%s anon_huge_kib=%s rss_excl_huge_kib=%s temp_c=%s\n' \
    "$arch" "$(cat "$image/kernel-release")" "${first_console:-?}" "$first_echo" "${guest_start:-?}" "${guest_ready:-?}" "${rss:-?}" "${hwm:-?}" "${huge:-?}" \
    "$([ -n "$rss" ] && [ -n "$huge" ] && echo $((rss - huge)) || echo '?')" "${TEMP_C:-?}" |
    tee -a "$OUT/results.txt"
}

# --- main ---
apt_install qemu-system-arm cpio kmod curl python3
mkdir -p "$OUT"
: >"$OUT/results.txt"
for arch in "${ARCHES[@]}"; do
  target="$(rust_target "$arch")"
  echo "== pi-emu: building warden for $target"
  if ! "$REPO/tools/cross/build.sh" "$target" >/dev/null; then
    fail "$arch: cross-build of warden ($target)"
    continue
  fi
  binary="$TARGET_DIR/$target/release/warden"
  if ! "$HERE/build-image.sh" "$binary" "$OUT/$arch"; then
    fail "$arch: image assembly"
    continue
  fi
  boot_and_check "$arch"
done
echo "== pi-emu results ($OUT/results.txt)"
cat "$OUT/results.txt"
echo "pi-emu: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
