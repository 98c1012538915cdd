#!/usr/bin/env bash
# Instructions per echoed message for warden (and the C epoll floor, for reference)
# under a short pingpong: `perf stat -e instructions,cycles` where hardware counters
# work, else `valgrind --tool=callgrind` (user-space instructions only) plus a
# callgrind_annotate listing of the functions that spend them.
#
# Usage: tools/bench/profile.sh
# Environment (defaults in brackets):
#   PROFILE_SERVERS [warden epoll]   PROFILE_TOOL [auto: perf if it counts, else callgrind]
#   PROFILE_CONNS [100]  PROFILE_SECS [5]  PROFILE_RATE msgs/s [5000; 0 = saturation]
#   SIZE [64]  BASE_PORT [23900]  RESULTS_DIR [tools/bench/results/profile-<timestamp>]
#   SKIP_BUILD=1, LOADGEN, WARDEN_BIN as in run.sh
#
# warden is rebuilt for this with symbols kept (CARGO_PROFILE_RELEASE_STRIP=none,
# debug line tables) into tools/bench/target/profile, so the listing names functions;
# the code generated is the release build's.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE_SERVERS=${PROFILE_SERVERS:-warden epoll}
PROFILE_TOOL=${PROFILE_TOOL:-auto}
PROFILE_CONNS=${PROFILE_CONNS:-100}
PROFILE_SECS=${PROFILE_SECS:-5}
PROFILE_RATE=${PROFILE_RATE:-5000}
SIZE=${SIZE:-64}
BASE_PORT=${BASE_PORT:-23900}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results/profile-$(date +%Y%m%d-%H%M%S)}

for number in PROFILE_CONNS PROFILE_SECS PROFILE_RATE SIZE BASE_PORT; do
    [[ ${!number} =~ ^[0-9]+$ ]] || die "$number must be a whole number, got '${!number}'"
done
for name in $PROFILE_SERVERS; do
    case $name in
    warden | epoll | epoll-short | tokio) ;;
    *) die "PROFILE_SERVERS: '$name' cannot be profiled here (use warden, epoll, epoll-short, tokio)" ;;
    esac
done

trap bench_cleanup EXIT
trap 'exit 130' INT TERM
raise_fd_limit
mkdir -p "$RESULTS_DIR"

if [[ $PROFILE_TOOL == auto ]]; then
    if command -v perf >/dev/null && perf stat -x, -e instructions true 2>&1 | grep -q '^[0-9]'; then
        PROFILE_TOOL=perf
    else
        PROFILE_TOOL=callgrind
    fi
fi
case $PROFILE_TOOL in
perf) require_tool perf linux-perf ;;
callgrind)
    require_tool valgrind valgrind
    require_tool callgrind_annotate valgrind
    require_tool callgrind_control valgrind
    ;;
*) die "PROFILE_TOOL must be auto, perf or callgrind, got '$PROFILE_TOOL'" ;;
esac
log "profiling with $PROFILE_TOOL; results in $RESULTS_DIR"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    build_workspace 0
    if [[ " $PROFILE_SERVERS " == *" warden "* ]]; then
        log "cargo build --release -p warden with symbols (target dir $PEER_TARGET_DIR/profile)"
        (cd "$ROOT_DIR" && CARGO_TARGET_DIR="$PEER_TARGET_DIR/profile" \
            CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
            cargo build --release --quiet -p warden) || die "warden profiling build failed"
    fi
    if [[ " $PROFILE_SERVERS " == *" epoll"* ]]; then build_epoll_peer; fi
    if [[ " $PROFILE_SERVERS " == *" tokio "* ]]; then build_tokio_peer; fi
fi
if [[ " $PROFILE_SERVERS " == *" warden "* ]]; then
    WARDEN_BIN="$PEER_TARGET_DIR/profile/release/warden"
fi
[[ -x $LOADGEN ]] || die "load generator not found at $LOADGEN (build it or set LOADGEN)"

RATE_FLAGS=()
if [[ $PROFILE_RATE != 0 ]]; then RATE_FLAGS=(--rate "$PROFILE_RATE"); fi

# Runs the pingpong; its JSON goes to OUT.json. Warmup 0: every message is measured.
pingpong() { # pingpong OUT PORT SERVER_PID
    local status=0
    run_interruptible timeout -k 5 "$((PROFILE_SECS + 120))" "$LOADGEN" pingpong --addr "127.0.0.1:$2" \
        --connections "$PROFILE_CONNS" --size "$SIZE" --duration "$PROFILE_SECS" --warmup 0 \
        "${RATE_FLAGS[@]}" --server-pid "$3" --json >"$1.json" 2>"$1.err" || status=$?
    [[ $status == 0 ]] || log "loadgen failed ($status); see $1.err"
    return "$status"
}

SUMMARY=()
for server in $PROFILE_SERVERS; do
    out="$RESULTS_DIR/$server"
    mkdir -p "$out.work"
    take_port
    port=$PORT
    case $PROFILE_TOOL in
    perf)
        start_server "$server" "$port" "$out.log" "$out.work" || die "$server did not start"
        perf stat -x, -e instructions,cycles -o "$out.perf" -p "$SERVER_PID" &
        tracer=$!
        BENCH_PIDS+=("$tracer")
        sleep 0.5
        pingpong "$out" "$port" "$SERVER_PID" || die "pingpong against $server failed"
        kill -INT "$tracer"
        wait "$tracer" || true
        forget_pid "$tracer"
        stop_server
        instructions=$(awk -F, '$3 ~ /^instructions/ { print $1 }' "$out.perf")
        cycles=$(awk -F, '$3 ~ /^cycles/ { print $1 }' "$out.perf")
        ;;
    callgrind)
        # Instrumentation starts off and is switched on only around the pingpong, so
        # start-up and shutdown are not counted.
        start_server "$server" "$port" "$out.log" "$out.work" \
            valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.callgrind" ||
            die "$server did not start under valgrind; see $out.log"
        callgrind_control -i on "$SERVER_PID" >/dev/null || die "callgrind_control -i on failed"
        pingpong "$out" "$port" "$SERVER_PID" || die "pingpong against $server failed"
        callgrind_control -i off "$SERVER_PID" >/dev/null || true
        stop_server
        [[ -s $out.callgrind ]] || die "callgrind wrote no profile for $server; see $out.log"
        # "totals:" closes the file; "summary:" (in the header) is 0 with --instr-atstart=no.
        instructions=$(awk '/^totals:/ { total = $2 } /^summary:/ && $2 > 0 { summary = $2 }
            END { print (total != "" ? total : summary) }' "$out.callgrind")
        cycles=""
        callgrind_annotate --inclusive=no "$out.callgrind" >"$out.annotate.txt" 2>/dev/null || true
        ;;
    esac
    msgs=$(json_fields "$out.json" msgs)
    per_msg=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / max(int(sys.argv[2]), 1):,.0f}")' \
        "${instructions:-0}" "$msgs")
    cyc="–"
    if [[ -n ${cycles:-} && $cycles =~ ^[0-9]+$ ]]; then
        cyc=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / max(int(sys.argv[2]), 1):,.0f}")' \
            "$cycles" "$msgs")
    fi
    SUMMARY+=("| $server | $PROFILE_TOOL | $msgs | ${instructions:-?} | $per_msg | $cyc |")
done

{
    echo "## Instructions per message ($PROFILE_TOOL), pingpong $PROFILE_CONNS × $SIZE B," \
        "rate ${PROFILE_RATE/#0/saturation}, $PROFILE_SECS s"
    echo
    if [[ $PROFILE_TOOL == callgrind ]]; then
        echo "User-space instructions only (callgrind does not see the kernel side of syscalls)."
        echo
    fi
    echo "| server | tool | msgs | instructions | instructions / msg | cycles / msg |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${SUMMARY[@]}"
    if [[ $PROFILE_TOOL == callgrind ]]; then
        for server in $PROFILE_SERVERS; do
            echo
            echo "### $server: top functions by instructions (callgrind_annotate --inclusive=no)"
            echo
            echo '```'
            awk '/file:function/ { listing = 1; next } listing && /^--/ { next }
                listing && /^$/ { exit } listing { print }' "$RESULTS_DIR/$server.annotate.txt" |
                head -25
            echo '```'
        done
    fi
} | tee "$RESULTS_DIR/profile.md"
log "written to $RESULTS_DIR/profile.md"
