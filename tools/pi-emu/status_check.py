#!/usr/bin/env python3
"""Checks the emulated Pi's GET /status document for one test phase.

    status_check.py PHASE MODE < status.json

PHASE is "fan-on" (fan threshold below the board's 25 C) or "fan-off" (above
it). MODE "wait" exits 0 once the controller has settled for the phase (no
output needed); MODE "check" prints one "PASS <what>" or "FAIL <what>" line
per assertion and a "TEMP <c>" line. Field names: docs/STATUS.md.
"""

import json
import sys

# QEMU's BCM2835 thermal model reports a constant 25 C (ADC value rounded).
EMULATED_TEMP_RANGE_C = (20.0, 30.0)
EXPECTED_SENSOR = "thermal_zone0 (cpu-thermal)"
PHASES = {
    # phase: (fan on threshold in the config, fan duty, thermal level)
    "fan-on": (20.0, 1.0, "fan"),
    "fan-off": (60.0, 0.0, "normal"),
}
SETTLED_TICKS = 4


def dig(doc, path):
    """Returns doc[a][b]... for path "a.b...", or None where a key is missing."""
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def settled(doc, phase):
    """The controller has ticked a few times and applied the phase's duty."""
    _, duty, level = PHASES[phase]
    ticks = dig(doc, "thermal.ticks") or 0
    return (
        ticks >= SETTLED_TICKS
        and dig(doc, "thermal.fan.duty") == duty
        and dig(doc, "thermal.level") == level
    )


def checks(doc, phase):
    """Yields (passed, description) for every assertion of the phase."""
    on_c, duty, level = PHASES[phase]
    temp = dig(doc, "thermal.temp_c")
    low, high = EMULATED_TEMP_RANGE_C
    yield dig(doc, "state") == "running", f"{phase}: /status state running (got {dig(doc, 'state')!r})"
    yield dig(doc, "thermal.available") is True, f"{phase}: thermal control available"
    description = dig(doc, "thermal.sensor.description")
    yield description == EXPECTED_SENSOR, f"{phase}: sensor is {EXPECTED_SENSOR!r} (got {description!r})"
    yield dig(doc, "thermal.sensor.healthy") is True, f"{phase}: sensor healthy"
    yield (
        isinstance(temp, (int, float)) and low <= temp <= high,
        f"{phase}: temp_c from QEMU's BCM2835 model within {low}-{high} C (got {temp!r})",
    )
    yield dig(doc, "thermal.thresholds.fan.on_c") == on_c, f"{phase}: config in force, fan on at {on_c} C"
    yield dig(doc, "thermal.fan.driver") == "gpio", f"{phase}: fan driver gpio (got {dig(doc, 'thermal.fan.driver')!r})"
    yield dig(doc, "thermal.fan.duty") == duty, f"{phase}: fan duty {duty} (got {dig(doc, 'thermal.fan.duty')!r})"
    yield dig(doc, "thermal.level") == level, f"{phase}: thermal level {level} (got {dig(doc, 'thermal.level')!r})"
    yield dig(doc, "thermal.fan.errors") == 0, f"{phase}: no fan write errors (got {dig(doc, 'thermal.fan.errors')!r})"
    yield (dig(doc, "connections.accepted") or 0) >= 1, f"{phase}: /status counts the echo connections"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in PHASES or sys.argv[2] not in ("wait", "check"):
        sys.exit("usage: status_check.py fan-on|fan-off wait|check < status.json")
    phase, mode = sys.argv[1], sys.argv[2]
    try:
        doc = json.load(sys.stdin)
    except json.JSONDecodeError as error:
        print(f"FAIL {phase}: /status is not JSON: {error}")
        sys.exit(1)
    if mode == "wait":
        sys.exit(0 if settled(doc, phase) else 1)
    failures = 0
    for passed, description in checks(doc, phase):
        print(("PASS " if passed else "FAIL ") + description)
        failures += not passed
    print(f"TEMP {dig(doc, 'thermal.temp_c')}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
