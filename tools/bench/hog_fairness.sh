#!/usr/bin/env bash
# Interleaved A/B of two warden binaries with one greedy client: a peer that
# sends 16 MiB chunks and reads its echo back as fast as loopback allows (so
# its socket never runs dry), while warden-loadgen measures the round trip of
# 4 ordinary connections at 200 messages/s. Prints one line per run and the
# medians of p50 and p99 at the end.
#
#   tools/bench/hog_fairness.sh OLD_WARDEN NEW_WARDEN [REPS=3]
#
# Environment: BASE_PORT [24200, busy ports skipped]; LOADGEN as in run.sh.
# Needs a release warden-loadgen (cargo build --release -p warden-loadgen).
# Each warden runs on its own fake sysfs tree (lib.sh write_fake_sysfs), never
# the real one. Any failed run stops the script with its error text and a
# non-zero status.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage="usage: hog_fairness.sh OLD_WARDEN NEW_WARDEN [REPS]"
old=${1:?$usage} new=${2:?$usage} REPS=${3:-3}
BASE_PORT=${BASE_PORT:-24200}
HOG_SECS=6
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a whole number from 1, got '$REPS'"
[[ $BASE_PORT =~ ^[0-9]+$ ]] || die "BASE_PORT must be a whole number, got '$BASE_PORT'"
for bin in "$old" "$new"; do
    [[ -f $bin && -x $bin ]] || die "$bin is not an executable file (build it: cargo build --release -p warden)"
done
if [[ ! -x $LOADGEN ]]; then
    log "build first: cargo build --release -p warden-loadgen; looked for $LOADGEN"
    exit 2
fi

scratch=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
results="$scratch/results"

# The greedy peer: sends for SECS seconds while a forked child reads the echo.
# A send or receive that times out is retried; any other socket error ends it
# with a traceback (a server that closed on it is a failed run, not a quiet one).
cat >"$scratch/hog.py" <<'PY'
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
        except socket.timeout:
            pass
    os._exit(0)
chunk = b"h" * (16 << 20)
s.settimeout(1)
while time.time() < end:
    try:
        s.sendall(chunk)
    except socket.timeout:
        pass
os.wait()
PY

# Prints a failed run's error text (the loadgen's, the greedy client's and the
# server's, kept in WORK_DIR) and exits 1.
fail_run() { # fail_run WORK_DIR MESSAGE
    log "error: $2"
    show_tail "$1/loadgen.err" "warden-loadgen's stderr"
    show_tail "$1/hog.err" "the greedy client's stderr"
    show_tail "$1/server.log" "the server's log"
    exit 1
}

# One run: warden BIN beside the greedy client; appends its p50 and p99 to results.
run_beside_hog() { # run_beside_hog REP WHICH BIN
    local rep=$1 which=$2 bin=$3
    local run="rep $rep $which ($bin)" work="$scratch/$which-$rep"
    mkdir -p "$work"
    WARDEN_BIN=$bin start_on_free_port warden "$work/server.log" "$work" || {
        show_tail "$work/server.log" "the server's log"
        die "$run: the server did not start"
    }
    python3 "$scratch/hog.py" "$PORT" "$HOG_SECS" 2>"$work/hog.err" &
    local hog=$! hog_status=0
    BENCH_PIDS+=("$hog")
    sleep 0.5
    if ! run_loadgen_json "$work/loadgen" 30 pingpong --addr "127.0.0.1:$PORT" --connections 4 \
        --rate 200 --duration 4 --json; then
        fail_run "$work" "$run, port $PORT: warden-loadgen failed (exit status $LOADGEN_STATUS)"
    fi
    wait "$hog" || hog_status=$?
    forget_pid "$hog"
    [[ $hog_status == 0 ]] ||
        fail_run "$work" "$run, port $PORT: the greedy client failed (exit status $hog_status)"
    stop_server
    local latency
    latency=$(json_fields "$work/loadgen.json" p50_us p99_us) || die "$run: bad loadgen report"
    echo "rep $rep $which $latency" | tee -a "$results"
}

for rep in $(seq "$REPS"); do
    run_beside_hog "$rep" old "$old"
    run_beside_hog "$rep" new "$new"
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
