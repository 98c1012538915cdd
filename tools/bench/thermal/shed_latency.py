#!/usr/bin/env python3
"""Time from the sensor crossing the shed threshold to the first refused
connection, against the real warden binary on a fake sysfs tree.

Two traces, each repeated N times (default 20) at the default 500 ms thermal
interval and default filter/prediction settings:
  step: the fake sensor jumps from 62 °C to 80 °C (worst case for a filter;
        18 °C, inside warden's 20 °C jump check: a larger step is a sensor
        fault, not heat);
  ramp: it climbs 1 °C/s from 65 °C; the prediction should shed *before* the
        raw reading reaches 75 °C, so latencies are negative.
Prints the median of each and writes every sample as JSON to stdout.

Usage: tools/bench/thermal/shed_latency.py [--runs N] [--warden PATH]
The binary defaults to $WARDEN_BIN, else $CARGO_TARGET_DIR/release/warden,
else <repo>/target/release/warden.
"""
import argparse, json, os, random, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from wardenrig import (SHED_ON, default_binary, main_guard, ramp_temp, refused,  # noqa: E402
                       running_warden, write_temp, zone_only_tree)


def wait_admitting(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not refused(port):
            return
        time.sleep(0.1)
    sys.exit("warden never re-admitted after cooling")


def first_refusal(port, t_cross, timeout=10):
    deadline = t_cross + timeout
    while time.time() < deadline:
        if refused(port):
            return time.time() - t_cross
        time.sleep(0.005)
    return None


def step_run(port, temp):
    ramp_temp(temp, 62.0)
    wait_admitting(port)
    # Let the filter and trend settle at 62 °C. Re-admission happened on a
    # controller tick, so add a random phase: otherwise every jump would land
    # at the same point of the tick and the figure would be the worst case.
    time.sleep(3 + random.uniform(0, 0.5))
    t_cross = time.time()
    write_temp(temp, 80.0)
    return first_refusal(port, t_cross)


def ramp_run(port, temp):
    ramp_temp(temp, 50.0)
    wait_admitting(port)
    time.sleep(3 + random.uniform(0, 0.5))
    start_c, rate = 65.0, 1.0
    t0 = time.time()
    t_cross = t0 + (SHED_ON - start_c) / rate
    refusal = None
    while time.time() < t_cross + 10 and refusal is None:
        now = time.time()
        write_temp(temp, start_c + rate * (now - t0))
        if refused(port):
            refusal = now - t_cross
        time.sleep(0.02)
    return refusal


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warden", default=default_binary())
    args = ap.parse_args()
    # Its own tree: a zone only, at 50 °C, which the runs heat and cool.
    with running_warden(args.warden, "warden-shed-", tree=zone_only_tree) as (_proc, port, temp):
        results = {}
        for name, run in (("step", step_run), ("ramp", ramp_run)):
            samples = []
            for i in range(args.runs):
                latency = run(port, temp)
                if latency is None:
                    sys.exit(f"{name} run {i}: no refusal within 10 s")
                samples.append(round(latency, 4))
                print(f"{name} {i + 1}/{args.runs}: {latency * 1000:+.0f} ms", file=sys.stderr)
            results[name] = {"median_s": statistics.median(samples), "samples_s": samples}
        print(json.dumps({"interval_ms": 500, "runs": args.runs, **results}))
        for name in results:
            print(f"{name}: median {results[name]['median_s'] * 1000:+.0f} ms over {args.runs} runs",
                  file=sys.stderr)


if __name__ == "__main__":
    main_guard(main)
