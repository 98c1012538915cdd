"""Helpers shared by the Python benchmark scripts: finding the warden binary,
laying out a fake sysfs tree, and running the real binary against it in a
temp directory that is always removed, with a clear error when it will not
start. No benchmarked warden ever sees this machine's real /sys."""
import collections, contextlib, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

SHED_ON = 75.0  # the default thermal.shed_on_c
START_TIMEOUT_S = 10  # how long warden may take to log "listening on"
STOP_TIMEOUT_S = 15  # how long warden may take to exit after SIGTERM before SIGKILL
STDERR_TAIL_LINES = 10  # lines of warden's stderr kept for error messages

REPO_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
THERMAL_ZONE = "sys/class/thermal/thermal_zone0"
FAN_FILE = "fan_duty"


class WardenStartError(Exception):
    """warden could not be found or did not start; the message says why and what to do."""


def default_binary():
    """The warden binary run.sh would use: $WARDEN_BIN, else the release build
    in $CARGO_TARGET_DIR, else in <repo>/target."""
    if os.environ.get("WARDEN_BIN"):
        return os.environ["WARDEN_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO_DIR, "target")
    return os.path.join(target, "release", "warden")


def check_binary(path):
    """Returns `path` if it is an executable file, else raises WardenStartError
    naming it and how to build or point at one."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise WardenStartError(
            f"no warden binary at {path}: build it with `cargo build --release -p warden` "
            "(it lands in $CARGO_TARGET_DIR/release, else <repo>/target/release), "
            "or point at one with --warden PATH or WARDEN_BIN=PATH")
    return path


def write_temp(path, celsius):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{int(round(celsius * 1000))}\n")
    os.rename(tmp, path)


def read_temp(path):
    with open(path) as f:
        return int(f.read().strip()) / 1000.0


def ramp_temp(path, celsius, step_c=5.0, pause_s=0.2):
    """Moves the fake sensor to `celsius` in steps a die could make, slower than
    warden's 500 ms tick reads them, so its jump check (thermal.max_step_c) never
    mistakes the rig for a broken sensor."""
    now = read_temp(path)
    while abs(celsius - now) > step_c:
        now += step_c if celsius > now else -step_c
        write_temp(path, now)
        time.sleep(pause_s)
    write_temp(path, celsius)


def refused(port):
    """True when warden closes a new connection at once (shed, reject mode)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.settimeout(0.3)
    try:
        s.sendall(b"?")
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def _put(directory, name, text):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as f:
        f.write(text + "\n")


def _zone(sysfs, celsius):
    zone = os.path.join(sysfs, THERMAL_ZONE)
    _put(zone, "type", "cpu-thermal")
    temp = os.path.join(zone, "temp")
    write_temp(temp, celsius)
    return temp


def bench_tree(sysfs):
    """Lays out under `sysfs` the tree every benchmarked warden runs on, by calling
    lib.sh's write_fake_sysfs (one definition for the shell and the Python tools):
    a cpu-thermal zone at a cool constant reading, one cpufreq policy, the firmware
    throttle flags and a fan file, so warden's thermal control runs as on a Pi and
    touches nothing real. Returns (temp file, [fan] TOML)."""
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib.sh")
    subprocess.run(["bash", "-c", 'source "$0" && write_fake_sysfs "$1"', lib, sysfs],
                   check=True)
    temp = os.path.join(sysfs, THERMAL_ZONE, "temp")
    return temp, f'[fan]\ndriver = "file"\npath = "{os.path.join(sysfs, FAN_FILE)}"\n'


def zone_only_tree(sysfs):
    """A thermal zone at 50 °C and nothing else (no fan, no cpufreq): the tree
    shed_latency.py measures on. Returns (temp file, [fan] TOML)."""
    return _zone(sysfs, 50.0), '[fan]\ndriver = "none"\n'


def _write_config(root, tree, status, extra_config):
    sysfs = os.path.join(root, "sysfs")
    temp, hardware = tree(sysfs)
    cfg = os.path.join(root, "warden.toml")
    with open(cfg, "w") as f:
        f.write(f"""[server]
listen = ["127.0.0.1:0"]
[hardware]
sysfs_root = "{sysfs}"
state_dir = "{root}/run"
{hardware}[status]
{status}
{extra_config}
""")
    return cfg, temp


class _StderrTail:
    """Drains warden's stderr on a thread (so the pipe never fills), keeps its
    last lines for error messages, and notes the echo port from "listening on"."""

    def __init__(self, stream):
        self.lines = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.port = None
        self.settled = threading.Event()  # set once the port is known or stderr closed
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            if self.port is None and "listening on " in line and "no longer" not in line:
                self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                self.settled.set()
        self.settled.set()

    def text(self):
        return "\n".join(f"  | {line}" for line in self.lines) or "  (warden wrote nothing to stderr)"


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start(warden, root, tree, status, extra_config):
    cfg, temp = _write_config(root, tree, status, extra_config)
    proc = subprocess.Popen([warden, "run", "--config", cfg], stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "WARDEN_LOG": "info"})
    tail = _StderrTail(proc.stderr)
    if not tail.settled.wait(START_TIMEOUT_S):
        _stop(proc)
        why = f"did not log 'listening on' within {START_TIMEOUT_S} s"
    elif tail.port is not None:
        return proc, tail.port, temp
    else:  # stderr closed first: warden is exiting, or exited
        try:
            why = f"exited with status {proc.wait(timeout=5)} before listening"
        except subprocess.TimeoutExpired:
            _stop(proc)
            why = "closed its stderr without listening"
    raise WardenStartError(f"{warden} {why}; its stderr ended:\n{tail.text()}")


@contextlib.contextmanager
def running_warden(warden, prefix, tree=bench_tree, status="enabled = false", extra_config=""):
    """Runs warden on a fake tree (`tree`, default bench_tree) in a fresh temp
    directory named `prefix`*; yields (process, echo port, fake temp file). On
    leaving, warden is stopped (SIGTERM, SIGKILL after STOP_TIMEOUT_S) and the
    directory removed, whatever happened. Raises WardenStartError if it will
    not start."""
    check_binary(warden)
    root = os.path.abspath(tempfile.mkdtemp(prefix=prefix))
    try:
        proc, port, temp = _start(warden, root, tree, status, extra_config)
        try:
            yield proc, port, temp
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main_guard(main):
    """Runs a script's `main` so a SIGTERM or Ctrl-C still stops warden and
    removes its temp directory, and a WardenStartError is one `error:` message
    with exit status 1 instead of a traceback."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        main()
    except WardenStartError as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        sys.exit(130)
