#!/usr/bin/env bash
# Benchmarks warden against the echo servers a user would pick instead (tools/bench/peers/):
# builds everything, runs warden-loadgen against each server in turn, interleaved
# (rep 1: A B C..., rep 2: A B C...), and prints a markdown table of medians with
# ratios against the C epoll floor and against warden.
#
# Usage: tools/bench/run.sh            (from anywhere; ~25 min with the defaults)
#        QUICK=1 tools/bench/run.sh    (smoke test: 1 rep, 2 s runs, hold 2000)
#
# Environment (defaults in brackets):
#   SERVERS         servers to compare [warden epoll epoll-short tokio uvloop asyncio];
#                   "epoll" is the C floor (reads until EAGAIN), "epoll-short" the same
#                   server with --stop-on-short-read (no EAGAIN read per message);
#                   "oneshot" (asyncio one-shot) is added to churn only, unless CHURN_ONESHOT=0
#   SCENARIOS       subset of: rate100 sat100 sat1000 churn hold syscalls [all]
#   REPS [3]  DURATION s [10]  WARMUP s [1]  SIZE bytes [64]  RATE msgs/s [50000]
#   CHURN_WORKERS [50]  HOLD_CONNS [19000]  HOLD_SOURCES [4]  HOLD_SECS [5]
#   HOLD_RATE conn/s [loadgen default]  LOADGEN_THREADS [loadgen default, 1]
#   CHURN_THREADS [LOADGEN_THREADS]
#   SYSCALL_SERVERS [warden epoll epoll-short tokio]  SYSCALL_TOOLS [strace perf]  SYSCALL_SECS [3]
#   SYSCALL_RATE msgs/s [RATE; strace slows the server below it]
#   SERVER_CPUS / LOADGEN_CPUS  taskset CPU lists [unpinned]
#   BASE_PORT [23000, busy ports skipped]  RESULTS_DIR [tools/bench/results/<timestamp>]  SKIP_BUILD=1
#   LOADGEN / WARDEN_BIN  binaries [$CARGO_TARGET_DIR or <repo>/target, release]
#
# Output: raw loadgen JSON per run under RESULTS_DIR/runs/, server logs under
# RESULTS_DIR/logs/, the table on stdout and in RESULTS_DIR/table.md. Each warden
# runs on its own fake sysfs tree under RESULTS_DIR/work/ (a constant 45 °C, see
# lib.sh write_fake_sysfs), never the real /sys. If any run failed, its error text
# is printed after the table and the exit status is 1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The command line as the user gave it (their settings only), for the table's header.
USER_SETTINGS=()
for setting in QUICK SERVERS SCENARIOS REPS DURATION WARMUP SIZE RATE CHURN_WORKERS \
    CHURN_ONESHOT HOLD_CONNS HOLD_SOURCES HOLD_SECS HOLD_RATE LOADGEN_THREADS CHURN_THREADS SYSCALL_SERVERS \
    SYSCALL_TOOLS SYSCALL_SECS SYSCALL_RATE SERVER_CPUS LOADGEN_CPUS; do
    if [[ -n ${!setting:-} ]]; then USER_SETTINGS+=("$setting=${!setting@Q}"); fi
done
COMMAND_LINE="${USER_SETTINGS[*]} tools/bench/run.sh"
COMMAND_LINE=${COMMAND_LINE# }

if [[ ${QUICK:-0} == 1 ]]; then
    REPS=${REPS:-1} DURATION=${DURATION:-2} HOLD_CONNS=${HOLD_CONNS:-2000}
    HOLD_SECS=${HOLD_SECS:-2} SYSCALL_SECS=${SYSCALL_SECS:-2}
fi
SERVERS=${SERVERS:-warden epoll epoll-short tokio uvloop asyncio}
SCENARIOS=${SCENARIOS:-rate100 sat100 sat1000 churn hold syscalls}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
SIZE=${SIZE:-64}
RATE=${RATE:-50000}
CHURN_WORKERS=${CHURN_WORKERS:-50}
CHURN_ONESHOT=${CHURN_ONESHOT:-1}
HOLD_CONNS=${HOLD_CONNS:-19000}
HOLD_SOURCES=${HOLD_SOURCES:-4}
HOLD_SECS=${HOLD_SECS:-5}
HOLD_RATE=${HOLD_RATE:-}
LOADGEN_THREADS=${LOADGEN_THREADS:-}
CHURN_THREADS=${CHURN_THREADS:-$LOADGEN_THREADS}
SYSCALL_SERVERS=${SYSCALL_SERVERS:-warden epoll epoll-short tokio}
SYSCALL_TOOLS=${SYSCALL_TOOLS:-strace perf}
SYSCALL_SECS=${SYSCALL_SECS:-3}
SYSCALL_RATE=${SYSCALL_RATE:-$RATE}
BASE_PORT=${BASE_PORT:-23000}
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results/$STAMP}
RUNS_DIR="$RESULTS_DIR/runs"
LOGS_DIR="$RESULTS_DIR/logs"

for number in REPS DURATION WARMUP SIZE RATE CHURN_WORKERS HOLD_CONNS HOLD_SOURCES HOLD_SECS \
    SYSCALL_SECS SYSCALL_RATE BASE_PORT; do
    [[ ${!number} =~ ^[0-9]+$ ]] || die "$number must be a whole number, got '${!number}'"
done
# Every list is checked before anything runs: a misspelt entry would otherwise
# surface only when the loop reached it, minutes in.
for name in $SERVERS $SYSCALL_SERVERS; do
    [[ " $KNOWN_SERVERS " == *" $name "* ]] || die "unknown server '$name' (known: $KNOWN_SERVERS)"
done
KNOWN_SCENARIOS="rate100 sat100 sat1000 churn hold syscalls"
for scenario in $SCENARIOS; do
    [[ " $KNOWN_SCENARIOS " == *" $scenario "* ]] ||
        die "SCENARIOS: unknown scenario '$scenario' (known: $KNOWN_SCENARIOS)"
done
for tool in $SYSCALL_TOOLS; do
    [[ $tool == strace || $tool == perf ]] || die "SYSCALL_TOOLS: unknown tool '$tool' (known: strace perf)"
done

# Continuous servers take pingpong and hold; churn also takes the one-shot server.
STREAM_SERVERS=()
for name in $SERVERS; do [[ $name == oneshot ]] || STREAM_SERVERS+=("$name"); done
CHURN_SERVERS=("${STREAM_SERVERS[@]}")
if [[ " $SERVERS " == *" oneshot "* || $CHURN_ONESHOT == 1 ]]; then CHURN_SERVERS+=(oneshot); fi
SYSCALL_LIST=()
for name in $SYSCALL_SERVERS; do
    if [[ " ${STREAM_SERVERS[*]} " == *" $name "* ]]; then SYSCALL_LIST+=("$name"); fi
done

trap bench_cleanup EXIT
trap 'exit 130' INT TERM
raise_fd_limit
require_tool python3 python3
require_tool timeout coreutils
if [[ " $SCENARIOS " == *" syscalls "* && " $SYSCALL_TOOLS " == *" strace "* ]]; then
    require_tool strace strace
fi
mkdir -p "$RUNS_DIR" "$LOGS_DIR"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    build_for_servers "${CHURN_SERVERS[@]}"
fi
[[ -x $LOADGEN ]] || die "load generator not found at $LOADGEN (build it or set LOADGEN)"

# perf counts syscalls through tracepoints (no ptrace slowdown). The per-syscall
# tracepoints give the breakdown; fall back to the total alone where they are missing.
PERF_SYSCALLS_WORK=0
PERF_SYSCALL_EVENTS=raw_syscalls:sys_enter
perf_counts() { perf stat -x, -e "$1" true 2>&1 | grep -q '^[0-9]'; }
if command -v perf >/dev/null && perf_counts "$PERF_SYSCALL_EVENTS"; then
    PERF_SYSCALLS_WORK=1
    breakdown=$PERF_SYSCALL_EVENTS
    for call in read write recvfrom sendto readv writev recvmsg sendmsg epoll_wait epoll_pwait \
        epoll_pwait2 epoll_ctl accept4 close; do
        breakdown+=",syscalls:sys_enter_$call"
    done
    if perf_counts "$breakdown"; then PERF_SYSCALL_EVENTS=$breakdown; fi
fi

# Starts SERVER on a free port (sets PORT). A server that does not start leaves
# runs/TAG.failed naming its log; the table counts it and the end report shows it.
start_on_fresh_port() { # start_on_fresh_port SERVER TAG WORK_DIR
    start_on_free_port "$1" "$LOGS_DIR/$2.log" "$3" && return 0
    echo "server did not start; see logs/$2.log" >"$RUNS_DIR/$2.failed"
    return 1
}

# Runs the loadgen with a time limit; writes stdout to OUT.json, stderr to OUT.err.
# A failed run leaves OUT.failed with the exit status; the table counts it.
run_loadgen() { # run_loadgen OUT LIMIT_S ARGS...
    local out=$1
    if ! run_loadgen_json "$@"; then
        shift 2
        echo "exit status $LOADGEN_STATUS: $LOADGEN $*" >"$out.failed"
        log "run failed ($LOADGEN_STATUS): $(basename "$out"); see $out.err"
        return 1
    fi
}

thread_flags() { # thread_flags [THREADS]
    local threads=${1-$LOADGEN_THREADS}
    [[ -z $threads ]] || printf '%s\n' --threads "$threads"
}

# One scenario against one server: start it fresh on a fresh port, load it, stop it.
run_one() { # run_one SCENARIO SERVER REP
    local scenario=$1 server=$2 rep=$3
    local tag="${scenario}__${server}__r${rep}"
    local work="$RESULTS_DIR/work/$tag"
    mkdir -p "$work"
    start_on_fresh_port "$server" "$tag" "$work" || return 0
    local addr="127.0.0.1:$PORT" out="$RUNS_DIR/$tag"
    local -a threads extra=(--server-pid "$SERVER_PID" --json)
    mapfile -t threads < <(thread_flags)
    local pp_limit=$((DURATION + WARMUP + 60))
    log "rep $rep  $scenario  $server  (port $PORT)"
    case $scenario in
    rate100)
        run_loadgen "$out" "$pp_limit" pingpong --addr "$addr" --connections 100 --size "$SIZE" \
            --duration "$DURATION" --warmup "$WARMUP" --rate "$RATE" "${threads[@]}" "${extra[@]}" || true
        ;;
    sat100 | sat1000)
        run_loadgen "$out" "$pp_limit" pingpong --addr "$addr" --connections "${scenario#sat}" \
            --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" "${threads[@]}" "${extra[@]}" || true
        ;;
    churn)
        mapfile -t threads < <(thread_flags "$CHURN_THREADS")
        run_loadgen "$out" "$((DURATION + 60))" churn --addr "$addr" --workers "$CHURN_WORKERS" \
            --size "$SIZE" --duration "$DURATION" "${threads[@]}" "${extra[@]}" || true
        ;;
    hold)
        local -a rate=()
        [[ -z $HOLD_RATE ]] || rate=(--rate "$HOLD_RATE")
        run_loadgen "$out" "$((HOLD_SECS + 300))" hold --addr "$addr" --connections "$HOLD_CONNS" \
            --sources "$HOLD_SOURCES" --hold "$HOLD_SECS" --size "$SIZE" "${rate[@]}" "${extra[@]}" || true
        ;;
    esac
    stop_server
}

# Counts the server's syscalls during a short fixed-rate pingpong, with TOOL attached.
run_syscalls() { # run_syscalls TOOL SERVER REP
    local tool=$1 server=$2 rep=$3
    local tag="sys-${tool}__${server}__r${rep}"
    local work="$RESULTS_DIR/work/$tag"
    mkdir -p "$work"
    start_on_fresh_port "$server" "$tag" "$work" || return 0
    local out="$RUNS_DIR/$tag" tracer
    case $tool in
    strace) strace -c -f -q -o "$out.strace" -p "$SERVER_PID" 2>"$out.tracer.err" & ;;
    perf) perf stat -x, -e "$PERF_SYSCALL_EVENTS" -o "$out.perf" -p "$SERVER_PID" 2>"$out.tracer.err" & ;;
    esac
    tracer=$!
    BENCH_PIDS+=("$tracer")
    sleep 1 # let the tracer attach; the idle server makes no syscalls meanwhile
    log "rep $rep  syscalls ($tool)  $server  (port $PORT)"
    local -a threads
    mapfile -t threads < <(thread_flags)
    # No warmup: every message sent is inside the traced window.
    run_loadgen "$out" "$((SYSCALL_SECS + 90))" pingpong --addr "127.0.0.1:$PORT" --connections 100 \
        --size "$SIZE" --duration "$SYSCALL_SECS" --warmup 0 --rate "$SYSCALL_RATE" "${threads[@]}" \
        --server-pid "$SERVER_PID" --json || true
    kill -INT "$tracer" 2>/dev/null || true
    local _
    for _ in $(seq 100); do kill -0 "$tracer" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
    forget_pid "$tracer"
    stop_server
}

write_meta() {
    python3 - "$RESULTS_DIR/meta.json" "$ROOT_DIR" command="$COMMAND_LINE" stamp="$STAMP" servers="$SERVERS" \
        scenarios="$SCENARIOS" reps="$REPS" duration_s="$DURATION" warmup_s="$WARMUP" \
        size="$SIZE" rate="$RATE" churn_workers="$CHURN_WORKERS" hold_conns="$HOLD_CONNS" \
        hold_sources="$HOLD_SOURCES" hold_secs="$HOLD_SECS" syscall_secs="$SYSCALL_SECS" \
        syscall_rate="$SYSCALL_RATE" loadgen_threads="$LOADGEN_THREADS" churn_threads="$CHURN_THREADS" \
        server_cpus="$SERVER_CPUS" loadgen_cpus="$LOADGEN_CPUS" quick="${QUICK:-0}" \
        perf_syscalls="$PERF_SYSCALLS_WORK" <<'EOF'
import json, os, platform, subprocess, sys
meta = {}
for arg in sys.argv[3:]:
    key, _, value = arg.partition("=")
    meta[key] = int(value) if value.isdigit() else value
meta["kernel"] = platform.release()
meta["cpus"] = os.cpu_count()
git = subprocess.run(["git", "-C", sys.argv[2], "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True)
meta["git"] = git.stdout.strip()
with open(sys.argv[1], "w") as out:
    json.dump(meta, out, indent=2)
EOF
}

write_meta
log "results in $RESULTS_DIR"
for rep in $(seq "$REPS"); do
    for scenario in $SCENARIOS; do
        case $scenario in
        rate100 | sat100 | sat1000 | hold)
            for server in "${STREAM_SERVERS[@]}"; do run_one "$scenario" "$server" "$rep"; done
            ;;
        churn)
            for server in "${CHURN_SERVERS[@]}"; do run_one churn "$server" "$rep"; done
            ;;
        syscalls)
            for tool in $SYSCALL_TOOLS; do
                if [[ $tool == perf && $PERF_SYSCALLS_WORK != 1 ]]; then
                    log "perf cannot count raw_syscalls:sys_enter here; skipping the perf syscall count"
                    continue
                fi
                for server in "${SYSCALL_LIST[@]}"; do run_syscalls "$tool" "$server" "$rep"; done
            done
            ;;
        esac
    done
done

# Prints each failed run with its error text (the loadgen's stderr, or the log of
# a server that did not start); fails if there was one, so a run that measured
# nothing never passes for one that did.
report_failures() {
    local -a failed=("$RUNS_DIR"/*.failed)
    [[ -e ${failed[0]} ]] || return 0
    log "${#failed[@]} run(s) failed; the table leaves them out:"
    local file tag
    for file in "${failed[@]}"; do
        tag=$(basename "$file" .failed)
        log "$tag: $(<"$file")"
        if [[ -s $RUNS_DIR/$tag.err ]]; then
            show_tail "$RUNS_DIR/$tag.err" "warden-loadgen's stderr" 3
        else
            show_tail "$LOGS_DIR/$tag.log" "the server's log" 5
        fi
    done
    return 1
}

python3 "$BENCH_DIR/aggregate.py" "$RESULTS_DIR" | tee "$RESULTS_DIR/table.md"
log "table written to $RESULTS_DIR/table.md"
report_failures || exit 1
