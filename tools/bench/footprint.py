#!/usr/bin/env python3
"""Idle footprint of the real warden binary: RSS and CPU while it serves no
one, with the thermal thread ticking at the default 500 ms against a fake
sysfs tree (a cool constant 45 °C zone, a cpufreq policy, a file fan: see
pylib/wardenrig.py bench_tree) and the status server on. CPU is the
utime+stime delta from /proc/PID/stat over the window, as a share of one core.

Usage: tools/bench/footprint.py [--seconds 60] [--warden PATH]
The binary defaults to $WARDEN_BIN, else $CARGO_TARGET_DIR/release/warden,
else <repo>/target/release/warden.
"""
import argparse, json, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pylib"))
from wardenrig import default_binary, main_guard, running_warden  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warden", default=default_binary())
    args = ap.parse_args()
    status_on = 'listen = "127.0.0.1:0"'
    with running_warden(args.warden, "warden-idle-", status=status_on) as (proc, _port, _temp):
        time.sleep(3)  # past start-up
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        result = {
            "window_s": round(t1 - t0, 2),
            "cpu_s": round(cpu1 - cpu0, 3),
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 3),
            "rss_bytes": rss_bytes(proc.pid),
            "binary_bytes": os.path.getsize(args.warden),
        }
        print(json.dumps(result))
        print(f"idle: {result['cpu_percent_of_one_core']} % of one core over {result['window_s']} s, "
              f"RSS {result['rss_bytes'] / 1024:.0f} KiB", file=sys.stderr)


if __name__ == "__main__":
    main_guard(main)
