#!/usr/bin/env bash
# Interleaved A/B of two warden binaries and the C floor at a fixed offered
# load: server CPU-seconds per million messages, one line per run, medians at
# the end. For judging a change to the loop against the binary before it.
#
#   tools/bench/ab_rate.sh OLD_WARDEN NEW_WARDEN [REPS=5]
#
# Environment: RATE [50000] CONNS [100] SECS [5] BASE_PORT [24100, busy ports
# skipped]; LOADGEN and PEER_TARGET_DIR as in run.sh. Needs a release
# warden-loadgen and the C floor (tools/bench/run.sh builds both). Each warden
# runs on its own fake sysfs tree (lib.sh write_fake_sysfs), never the real one.
# Any failed run stops the script with its error text and a non-zero status.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage="usage: ab_rate.sh OLD_WARDEN NEW_WARDEN [REPS]"
old=${1:?$usage} new=${2:?$usage} REPS=${3:-5}
RATE=${RATE:-50000} CONNS=${CONNS:-100} SECS=${SECS:-5} BASE_PORT=${BASE_PORT:-24100}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a whole number from 1, got '$REPS'"
for number in RATE CONNS SECS BASE_PORT; do
    [[ ${!number} =~ ^[0-9]+$ ]] || die "$number must be a whole number, got '${!number}'"
done
for bin in "$old" "$new"; do
    [[ -f $bin && -x $bin ]] || die "$bin is not an executable file (build it: cargo build --release -p warden)"
done
if [[ ! -x $LOADGEN || ! -x $EPOLL_BIN ]]; then
    log "build first: tools/bench/run.sh (or QUICK=1 tools/bench/run.sh); looked for $LOADGEN and $EPOLL_BIN"
    exit 2
fi

scratch=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
results="$scratch/results"

# One run: SERVER (old, new or floor) at the fixed rate; appends its line to results.
run_rate() { # run_rate REP SERVER
    local rep=$1 server=$2 name=warden bin=$old
    case $server in
    new) bin=$new ;;
    floor) name=epoll bin=$EPOLL_BIN ;;
    esac
    local run="rep $rep $server ($bin)" work="$scratch/$server-$rep"
    mkdir -p "$work"
    WARDEN_BIN=$bin start_on_free_port "$name" "$work/server.log" "$work" || {
        show_tail "$work/server.log" "the server's log"
        die "$run: the server did not start"
    }
    if ! run_loadgen_json "$work/loadgen" 60 pingpong --addr "127.0.0.1:$PORT" --connections "$CONNS" \
        --size 64 --duration "$SECS" --warmup 1 --rate "$RATE" --server-pid "$SERVER_PID" --json; then
        log "error: $run, port $PORT: warden-loadgen failed (exit status $LOADGEN_STATUS)"
        show_tail "$work/loadgen.err" "warden-loadgen's stderr"
        show_tail "$work/server.log" "the server's log"
        exit 1
    fi
    stop_server
    local cpu
    cpu=$(json_fields "$work/loadgen.json" server_cpu_s_per_million) || die "$run: bad loadgen report"
    echo "rep $rep $server $cpu" | tee -a "$results"
}

for rep in $(seq "$REPS"); do
    for server in old new floor; do run_rate "$rep" "$server"; done
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
