"""Helpers shared by the Python benchmark scripts: a fake sysfs tree with a
thermal zone, and starting the real warden binary against it."""
import os, socket, subprocess, sys, threading, time

SHED_ON = 75.0  # the default thermal.shed_on_c


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


def start(warden, root, status="enabled = false", extra_config=""):
    """Starts warden on a fake tree under `root` (thermal zone at 50 °C, no
    fan); returns (process, echo port, path of the fake temp file)."""
    zone = os.path.join(root, "sysfs/sys/class/thermal/thermal_zone0")
    os.makedirs(zone)
    with open(os.path.join(zone, "type"), "w") as f:
        f.write("cpu-thermal\n")
    temp = os.path.join(zone, "temp")
    write_temp(temp, 50.0)
    cfg = os.path.join(root, "warden.toml")
    with open(cfg, "w") as f:
        f.write(f"""[server]
listen = ["127.0.0.1:0"]
[hardware]
sysfs_root = "{root}/sysfs"
state_dir = "{root}/run"
[fan]
driver = "none"
[status]
{status}
{extra_config}
""")
    proc = subprocess.Popen([warden, "run", "--config", cfg], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "WARDEN_LOG": "info"})
    port = None
    deadline = time.time() + 10
    while port is None and time.time() < deadline:
        line = proc.stderr.readline()
        if "listening on" in line:
            port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    if port is None:
        proc.kill()
        sys.exit("warden did not start")
    return proc, port, temp


