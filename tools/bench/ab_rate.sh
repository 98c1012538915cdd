#!/usr/bin/env bash
# Interleaved A/B of two warden binaries and the C floor at a fixed offered
# load: server CPU-seconds per million messages, one line per run, medians at
# the end. For judging a change to the loop against the binary before it.
#
#   tools/bench/ab_rate.sh OLD_WARDEN NEW_WARDEN [REPS=5]
#
# Environment: RATE [50000] CONNS [100] SECS [5]; needs a release
# warden-loadgen and the C floor (tools/bench/run.sh builds both).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
old=${1:?usage: ab_rate.sh OLD_WARDEN NEW_WARDEN [REPS]}; new=${2:?usage: ab_rate.sh OLD_WARDEN NEW_WARDEN [REPS]}
reps=${3:-5}
loadgen="${CARGO_TARGET_DIR:-$here/../../target}/release/warden-loadgen"
floor="$here/target/epoll_echo"
[ -x "$loadgen" ] && [ -x "$floor" ] || { echo "build first: tools/bench/run.sh (or QUICK=1 tools/bench/run.sh)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
port=24100
results="$tmp/results"
for rep in $(seq "$reps"); do
  for server in old new floor; do
    port=$((port + 1))
    case $server in
      floor) "$floor" --port "$port" 2>/dev/null & ;;
      *) bin=$old; [ "$server" = new ] && bin=$new
         printf '[server]\nlisten = ["127.0.0.1:%s"]\nidle_timeout_s = 0\n[status]\nenabled = false\n[log]\nlevel = "warn"\n[hardware]\nstate_dir = "%s"\n' \
           "$port" "$tmp/state" > "$tmp/warden.toml"
         "$bin" run --config "$tmp/warden.toml" 2>/dev/null & ;;
    esac
    pid=$!
    sleep 0.5
    cpu=$(timeout 60 "$loadgen" pingpong --addr "127.0.0.1:$port" --connections "${CONNS:-100}" --size 64 \
            --duration "${SECS:-5}" --warmup 1 --rate "${RATE:-50000}" --server-pid "$pid" --json 2>/dev/null \
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["server_cpu_s_per_million"])')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "rep $rep $server $cpu" | tee -a "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, _, server, cpu = line.split()
    runs.setdefault(server, []).append(float(cpu))
for server, values in runs.items():
    print(f"median {server}: {statistics.median(values):.2f} CPU s per million messages")
PY
