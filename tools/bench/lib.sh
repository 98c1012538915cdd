# shellcheck shell=bash
# Shared by run.sh, profile.sh, ab_rate.sh and hog_fairness.sh: paths, builds,
# free ports, the fake sysfs tree every benchmarked warden runs on, starting and
# stopping the servers under test, and running the load generator. Every process
# started here is recorded and killed by `bench_cleanup`, which the callers
# install as an EXIT trap. Source it; do not run it.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$BENCH_DIR/../.." && pwd)
PEERS_DIR="$BENCH_DIR/peers"
VENV_DIR="$BENCH_DIR/.venv"
PEER_TARGET_DIR=${PEER_TARGET_DIR:-$BENCH_DIR/target}
WORKSPACE_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT_DIR/target}
LOADGEN=${LOADGEN:-$WORKSPACE_TARGET_DIR/release/warden-loadgen}
WARDEN_BIN=${WARDEN_BIN:-$WORKSPACE_TARGET_DIR/release/warden}
EPOLL_BIN="$PEER_TARGET_DIR/epoll_echo"
TOKIO_BIN="$PEER_TARGET_DIR/tokio-echo/release/tokio-echo"
VENV_PYTHON="$VENV_DIR/bin/python"
UVLOOP_REQUIREMENT=${UVLOOP_REQUIREMENT:-uvloop>=0.19}
# taskset CPU lists; empty means the scheduler decides.
SERVER_CPUS=${SERVER_CPUS:-}
LOADGEN_CPUS=${LOADGEN_CPUS:-}

KNOWN_SERVERS="warden epoll epoll-short tokio uvloop asyncio oneshot"
BENCH_PIDS=()   # every background process we started and have not reaped yet
SERVER_PID=""

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Kills every process this script started: SIGTERM, a short grace, then SIGKILL.
bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

forget_pid() {
    local keep=() pid
    for pid in "${BENCH_PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    BENCH_PIDS=("${keep[@]}")
}

# Raises the soft fd limit to the hard one; servers and the loadgen inherit it.
raise_fd_limit() {
    ulimit -n "$(ulimit -Hn)" || die "cannot raise the fd limit to $(ulimit -Hn)"
}

require_tool() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is required: install it (e.g. apt-get install $2)"
}

# Prints the taskset prefix (one word a line) for a CPU list, nothing when it is empty.
# Callers splice it into a plain command so `$!` stays the pid of the real process.
taskset_prefix() {
    [[ -z $1 ]] || printf '%s\n' taskset -c "$1"
}

build_workspace() { # build_workspace WITH_WARDEN(0|1)
    local packages=(-p warden-loadgen)
    if [[ $1 == 1 ]]; then packages+=(-p warden); fi
    log "cargo build --release ${packages[*]} (target dir $WORKSPACE_TARGET_DIR)"
    (cd "$ROOT_DIR" && cargo build --release --quiet "${packages[@]}") || die "workspace build failed"
}

build_epoll_peer() {
    mkdir -p "$PEER_TARGET_DIR"
    log "cc -O2 peers/epoll_echo.c"
    cc -O2 -Wall -Wextra -o "$EPOLL_BIN" "$PEERS_DIR/epoll_echo.c" || die "epoll_echo.c build failed"
}

build_tokio_peer() {
    log "cargo build --release (peers/tokio-echo, target dir $PEER_TARGET_DIR/tokio-echo)"
    CARGO_TARGET_DIR="$PEER_TARGET_DIR/tokio-echo" cargo build --release --quiet \
        --manifest-path "$PEERS_DIR/tokio-echo/Cargo.toml" || die "tokio-echo build failed"
}

build_python_venv() { # build_python_venv WITH_UVLOOP(0|1)
    if [[ ! -x $VENV_PYTHON ]]; then
        require_tool python3 python3
        log "python3 -m venv $VENV_DIR"
        python3 -m venv "$VENV_DIR" || die "cannot create the venv (apt-get install python3-venv)"
    fi
    if [[ $1 == 1 ]] && ! "$VENV_PYTHON" -c 'import uvloop' 2>/dev/null; then
        log "pip install '$UVLOOP_REQUIREMENT' into $VENV_DIR"
        "$VENV_PYTHON" -m pip install --quiet "$UVLOOP_REQUIREMENT" || die "pip install uvloop failed"
    fi
}

# Builds what the given server names need (and always the load generator).
build_for_servers() {
    local servers=" $* " need_python=0 need_uvloop=0
    if [[ $servers == *" warden "* ]]; then build_workspace 1; else build_workspace 0; fi
    if [[ $servers == *" epoll "* || $servers == *" epoll-short "* ]]; then build_epoll_peer; fi
    if [[ $servers == *" tokio "* ]]; then build_tokio_peer; fi
    if [[ $servers == *" asyncio "* || $servers == *" oneshot "* ]]; then need_python=1; fi
    if [[ $servers == *" uvloop "* ]]; then need_python=1 need_uvloop=1; fi
    if [[ $need_python == 1 ]]; then build_python_venv "$need_uvloop"; fi
    [[ -x $LOADGEN ]] || die "load generator not found at $LOADGEN"
}

# True once something listens on 127.0.0.1:PORT (read from /proc, no connection made).
is_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v want="0100007F:$hex" '$2 == want && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp
}

# True when any socket (listening, connected or in TIME_WAIT) holds local PORT:
# other people's servers share this machine, and a reused port skews a run.
port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v want=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == want { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6
}

# Sets PORT to the next port from BASE_PORT up that no socket on this machine uses
# (no listener, no connection, no TIME_WAIT): a fixed port may be a client's local
# port from the run before, or another user's server.
NEXT_PORT=""
take_port() {
    NEXT_PORT=${NEXT_PORT:-${BASE_PORT:?BASE_PORT must be set}}
    while port_in_use "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
    PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

# The fake sensor's constant reading (millidegrees): cool, below every thermal
# stage, so the thermal thread ticks as on a real board but never acts.
BENCH_TEMP_MILLIDEG=45000

# Lays out under DIR what a Pi 4 shows in /sys (a cpu-thermal zone at
# BENCH_TEMP_MILLIDEG, one cpufreq policy, the firmware throttle flags) and a
# fan file, DIR/fan_duty. A benchmarked warden runs on this tree, so its
# thermal control costs what it costs on a Pi but never drives this machine's
# fan or cpufreq, even run as root.
write_fake_sysfs() { # write_fake_sysfs DIR
    local zone="$1/sys/class/thermal/thermal_zone0"
    local policy="$1/sys/devices/system/cpu/cpufreq/policy0"
    local firmware="$1/sys/devices/platform/soc/soc:firmware"
    mkdir -p "$zone" "$policy" "$firmware"
    echo cpu-thermal >"$zone/type"
    echo "$BENCH_TEMP_MILLIDEG" >"$zone/temp"
    echo 600000 >"$policy/cpuinfo_min_freq"
    echo 1500000 >"$policy/cpuinfo_max_freq"
    echo 600000 >"$policy/scaling_min_freq"
    echo 1500000 >"$policy/scaling_max_freq"
    echo "600000 1000000 1500000" >"$policy/scaling_available_frequencies"
    echo ondemand >"$policy/scaling_governor"
    echo "conservative ondemand userspace powersave performance schedutil" \
        >"$policy/scaling_available_governors"
    echo 0 >"$firmware/get_throttled"
    echo 0.000 >"$1/fan_duty"
}

# Writes WORK_DIR/warden.toml: warden on 127.0.0.1:PORT, no status page, and all
# its hardware in WORK_DIR (a fresh fake sysfs tree with a file fan, the state
# dir), so nothing real is touched.
write_warden_config() { # write_warden_config PORT WORK_DIR
    local work
    work=$(cd "$2" && pwd) # warden takes absolute paths only
    write_fake_sysfs "$work/sysfs"
    cat >"$work/warden.toml" <<EOF
[server]
listen = ["127.0.0.1:$1"]
max_connections = 100000
idle_timeout_s = 0

[status]
enabled = false

[log]
level = "warn"

[hardware]
sysfs_root = "$work/sysfs"
state_dir = "$work/warden-state"

[fan]
driver = "file"
path = "$work/sysfs/fan_duty"
EOF
}

# Prints the command line that runs server NAME on PORT (warden's config and fake
# hardware go in WORK_DIR).
server_command() { # server_command NAME PORT WORK_DIR
    local name=$1 port=$2 work=$3
    case $name in
    warden)
        write_warden_config "$port" "$work"
        printf '%s\n' "$WARDEN_BIN" run --config "$work/warden.toml"
        ;;
    epoll) printf '%s\n' "$EPOLL_BIN" --port "$port" ;;
    epoll-short) printf '%s\n' "$EPOLL_BIN" --stop-on-short-read --port "$port" ;;
    tokio) printf '%s\n' "$TOKIO_BIN" --port "$port" ;;
    asyncio) printf '%s\n' "$VENV_PYTHON" "$PEERS_DIR/asyncio_echo.py" --port "$port" ;;
    oneshot) printf '%s\n' "$VENV_PYTHON" "$PEERS_DIR/asyncio_oneshot.py" --port "$port" ;;
    uvloop) printf '%s\n' "$VENV_PYTHON" "$PEERS_DIR/uvloop_echo.py" --port "$port" ;;
    *) die "unknown server '$name' (known: $KNOWN_SERVERS)" ;;
    esac
}

# Starts server NAME on PORT, logging to LOG; sets SERVER_PID. Returns 1 if it
# exits or is not listening within 10 s.
start_server() { # start_server NAME PORT LOG WORK_DIR [WRAPPER...]
    local name=$1 port=$2 logfile=$3 work=$4
    shift 4
    local -a pin cmd
    mapfile -t pin < <(taskset_prefix "$SERVER_CPUS")
    mapfile -t cmd < <(server_command "$name" "$port" "$work")
    if [[ ${#cmd[@]} == 0 || ! -x ${cmd[0]} ]]; then
        log "$name: ${cmd[0]:-no command} is not built (run without SKIP_BUILD=1)"
        return 1
    fi
    # A plain command (no function, no subshell) so $! is the server itself.
    "${pin[@]}" "$@" "${cmd[@]}" >"$logfile" 2>&1 &
    SERVER_PID=$!
    BENCH_PIDS+=("$SERVER_PID")
    local tries status
    for tries in $(seq 100); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            status=0
            wait "$SERVER_PID" 2>/dev/null || status=$?
            log "$name exited at start-up (exit status $status); see $logfile"
            forget_pid "$SERVER_PID"
            SERVER_PID=""
            return 1
        fi
        is_listening "$port" && return 0
        sleep 0.1
    done
    log "$name is not listening on 127.0.0.1:$port after ${tries}00 ms; see $logfile"
    stop_server
    return 1
}

# Starts server NAME on a free port (sets PORT and SERVER_PID), retrying twice on
# another port in case another process took it between the check and the bind.
start_on_free_port() { # start_on_free_port NAME LOG WORK_DIR [WRAPPER...]
    local name=$1 logfile=$2 work=$3 attempt
    shift 3
    for attempt in 1 2 3; do
        take_port
        start_server "$name" "$PORT" "$logfile" "$work" "$@" && return 0
        [[ $attempt == 3 ]] || log "retrying $name on another port"
    done
    return 1
}

# Runs a command in the background and waits for it, so a SIGINT/SIGTERM to the
# script runs its traps at once (bash defers traps while a foreground child runs)
# and bench_cleanup stops the command too. Returns the command's exit status.
run_interruptible() {
    "$@" &
    local pid=$! status=0
    BENCH_PIDS+=("$pid")
    wait "$pid" || status=$?
    forget_pid "$pid"
    return "$status"
}

# SIGTERM to the current server, SIGKILL after 5 s; reaps it.
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local _
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    forget_pid "$SERVER_PID"
    SERVER_PID=""
}

# Runs the load generator (pinned to LOADGEN_CPUS) for at most LIMIT_S seconds: its JSON
# report to OUT.json, its stderr to OUT.err. Fails when it fails, is cut off, or
# writes no JSON report; LOADGEN_STATUS then holds its exit status (124: cut off).
run_loadgen_json() { # run_loadgen_json OUT LIMIT_S ARGS...
    local out=$1 limit=$2
    shift 2
    local -a pin
    mapfile -t pin < <(taskset_prefix "$LOADGEN_CPUS")
    LOADGEN_STATUS=0
    run_interruptible timeout -k 5 "$limit" "${pin[@]}" "$LOADGEN" "$@" >"$out.json" 2>"$out.err" ||
        LOADGEN_STATUS=$?
    [[ $LOADGEN_STATUS == 0 ]] &&
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out.json" 2>/dev/null
}

# Prints the values of KEYs in a loadgen JSON report, space-separated; fails with a
# one-line message naming the file if one is missing.
json_fields() { # json_fields FILE KEY...
    python3 - "$@" <<'EOF'
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
report = json.load(open(path))
missing = [key for key in keys if key not in report]
if missing:
    sys.exit(f"{path}: no field {', '.join(missing)} in the loadgen report")
print(*(report[key] for key in keys))
EOF
}

# Prints, indented under a heading naming WHAT, the last LINES (default 10)
# non-blank lines of FILE: the error text of a server or loadgen that failed.
show_tail() { # show_tail FILE WHAT [LINES]
    local file=$1 what=$2 lines=${3:-10}
    if [[ ! -s $file ]]; then
        printf '  %s: (nothing written)\n' "$what" >&2
        return 0
    fi
    printf '  %s, last lines:\n' "$what" >&2
    grep -v '^[[:space:]]*$' "$file" | tail -n "$lines" | sed 's/^/    | /' >&2
}
