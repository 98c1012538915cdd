#!/usr/bin/env bash
# Interleaved A/B of two warden binaries with one greedy client: a peer that
# sends 16 MiB chunks and reads its echo back as fast as loopback allows (so
# its socket never runs dry), while warden-loadgen measures the round trip of
# 4 ordinary connections at 200 messages/s. Prints one line per run and the
# medians of p50 and p99 at the end.
#
#   tools/bench/hog_fairness.sh OLD_WARDEN NEW_WARDEN [REPS=3]
#
# Needs a release warden-loadgen (cargo build --release -p warden-loadgen).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: hog_fairness.sh OLD_WARDEN NEW_WARDEN [REPS]"
old=${1:?$usage}; new=${2:?$usage}
reps=${3:-3}
loadgen="${CARGO_TARGET_DIR:-$here/../../target}/release/warden-loadgen"
[ -x "$loadgen" ] || { echo "build first: cargo build --release -p warden-loadgen" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
results="$tmp/results"

# The greedy peer: sends for SECS seconds while a forked child reads the echo.
cat > "$tmp/hog.py" <<'PY'
import os, socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
end = time.time() + secs
if os.fork() == 0:
    s.settimeout(1)
    while time.time() < end:
        try:
            if not s.recv(1 << 22):
                break
        except OSError:
            pass
    os._exit(0)
chunk = b"h" * (16 << 20)
s.settimeout(1)
while time.time() < end:
    try:
        s.sendall(chunk)
    except OSError:
        pass
os.wait()
PY

for rep in $(seq "$reps"); do
  for which in old new; do
    # A port no socket holds now: on a machine whose ephemeral range covers every
    # port, a fixed one may be a client's local port from the run before.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    bin=$old; [ "$which" = new ] && bin=$new
    printf '[server]\nlisten = ["127.0.0.1:%s"]\n[status]\nenabled = false\n[log]\nlevel = "warn"\n[hardware]\nstate_dir = "%s"\nsysfs_root = "%s"\n[fan]\ndriver = "none"\n[cpufreq]\nstrategy = "off"\n' \
      "$port" "$tmp/state" "$tmp/no-sysfs" > "$tmp/warden.toml"
    "$bin" run --config "$tmp/warden.toml" 2>"$tmp/warden.log" &
    pid=$!
    for _ in $(seq 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/warden.log" >&2; exit 1; }
    python3 "$tmp/hog.py" "$port" 6 &
    hog=$!
    sleep 0.5
    line=$(timeout 30 "$loadgen" pingpong --addr "127.0.0.1:$port" --connections 4 --rate 200 \
             --duration 4 --json 2>/dev/null \
           | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["p50_us"], d["p99_us"])')
    wait "$hog" || true
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    echo "rep $rep $which $line" | tee -a "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, _, which, p50, p99 = line.split()
    runs.setdefault(which, []).append((float(p50), float(p99)))
for which, values in runs.items():
    p50 = statistics.median(v[0] for v in values)
    p99 = statistics.median(v[1] for v in values)
    print(f"median {which}: p50 {p50:,.0f} µs, p99 {p99:,.0f} µs")
PY
