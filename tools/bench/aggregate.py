#!/usr/bin/env python3
"""Turns one run.sh results directory into markdown tables of medians.

Reads RESULTS_DIR/meta.json and RESULTS_DIR/runs/<scenario>__<server>__r<rep>.*
(.json from warden-loadgen, .failed for runs that did not finish, .strace/.perf
syscall counts) and prints one table per scenario: the median of each figure over
the repetitions, with ratios against the C epoll floor and against warden.

Usage: python3 aggregate.py RESULTS_DIR
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

FLOOR = "epoll"
WARDEN = "warden"
ONESHOT = "oneshot"
SERVER_ORDER = ["warden", "epoll", "epoll-short", "tokio", "uvloop", "asyncio", "oneshot"]
SERVER_LABELS = {
    "warden": "warden",
    "epoll": "C epoll floor",
    "epoll-short": "C epoll, stop on short read",
    "tokio": "tokio current_thread",
    "uvloop": "uvloop",
    "asyncio": "asyncio",
    "oneshot": "asyncio one-shot",
}
LOADGEN_DEFAULT_THREADS = 1
RUN_NAME = re.compile(r"^(?P<scenario>[a-z0-9-]+)__(?P<server>[a-z-]+)__r(?P<rep>\d+)$")


class Runs:
    """The repetitions of one scenario against one server."""

    def __init__(self):
        self.report_by_rep = {}  # rep -> parsed loadgen JSON, for runs that finished
        self.failed = []  # reasons, one per run that produced no report
        self.syscalls_by_rep = {}  # rep -> (total syscalls, {name: calls}) for traced runs

    @property
    def reports(self):
        """The loadgen reports of the finished runs, in repetition order."""
        return [self.report_by_rep[rep] for rep in sorted(self.report_by_rep)]

    def traced(self):
        """(syscall count, per-syscall calls, loadgen report) for each traced, finished run."""
        return [(*self.syscalls_by_rep[rep], self.report_by_rep[rep])
                for rep in sorted(self.syscalls_by_rep) if rep in self.report_by_rep]

    def median(self, key):
        """Median of a numeric field over the runs that report it, or None."""
        values = [r[key] for r in self.reports if isinstance(r.get(key), (int, float))]
        return statistics.median(values) if values else None

    def total(self, key):
        """Sum of a numeric field over the runs (used for error counts)."""
        return sum(r.get(key) or 0 for r in self.reports)

    def loadgen_cores(self):
        """Median CPU cores the load generator used (CPU seconds / wall seconds)."""
        values = [
            r["loadgen_cpu_s"] / r["duration_s"]
            for r in self.reports
            if r.get("loadgen_cpu_s") is not None and r.get("duration_s")
        ]
        return statistics.median(values) if values else None

    def loadgen_cell(self, threads):
        """Loadgen cores, flagged when it used ≥ 90 % of its threads: then it, not the
        server, may be the bottleneck."""
        cores = self.loadgen_cores()
        if cores is not None and cores >= 0.9 * threads:
            return f"{fmt(cores)} (saturated)"
        return fmt(cores)

    def runs_cell(self):
        """'ok/total' runs, so a failed repetition is visible in the table."""
        total = len(self.reports) + len(self.failed)
        return f"{len(self.reports)}/{total}"


def parse_strace(path):
    """Total calls and per-syscall calls from an `strace -c` summary."""
    per_call, total = {}, None
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) < 5 or not re.match(r"^\d+\.\d+$", fields[0]):
            continue
        name = fields[-1]
        calls = int(fields[3])
        if name == "total":
            total = calls
        else:
            per_call[name] = calls
    return total, per_call


def parse_perf(path):
    """Total (raw_syscalls:sys_enter) and per-syscall (syscalls:sys_enter_NAME) counts
    from `perf stat -x,` output."""
    per_call, total = {}, None
    for line in path.read_text().splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        event, count = fields[2], int(fields[0])
        if event.startswith("raw_syscalls:sys_enter"):
            total = count
        elif event.startswith("syscalls:sys_enter_") and count:
            per_call[event.removeprefix("syscalls:sys_enter_")] = count
    return total, per_call


def load_runs(runs_dir):
    """Groups every run file by (scenario, server)."""
    grouped = defaultdict(Runs)
    for path in sorted(runs_dir.iterdir()):
        match = RUN_NAME.match(path.name.split(".", 1)[0])
        if not match:
            continue
        runs, rep = grouped[(match["scenario"], match["server"])], int(match["rep"])
        if path.suffix == ".json" and not path.with_suffix(".failed").exists():
            try:
                runs.report_by_rep[rep] = json.loads(path.read_text())
            except (json.JSONDecodeError, OSError) as err:
                runs.failed.append(f"{path.name}: {err}")
        elif path.suffix == ".failed":
            runs.failed.append(f"{path.name}: {path.read_text().strip()}")
        elif path.suffix == ".strace":
            runs.syscalls_by_rep[rep] = parse_strace(path)
        elif path.suffix == ".perf":
            runs.syscalls_by_rep[rep] = parse_perf(path)
    return grouped


def fmt(value, digits=2):
    """A number for a table cell; '–' when missing."""
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(value, reference):
    """value / reference as '1.23×', or '–' when either is missing or zero."""
    if value is None or not reference:
        return "–"
    return f"{value / reference:.2f}×"


def ordered(servers):
    """Servers in the canonical order, unknown ones last."""
    rank = {name: i for i, name in enumerate(SERVER_ORDER)}
    return sorted(servers, key=lambda s: (rank.get(s, len(rank)), s))


def table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def error_notes(by_server):
    """Footnotes naming failed runs and error kinds, so nothing fails silently."""
    notes = []
    for server in ordered(by_server):
        runs = by_server[server]
        for reason in runs.failed:
            notes.append(f"- {server}: run failed: {reason}")
        kinds = defaultdict(int)
        for report in runs.reports:
            for kind, count in (report.get("error_kinds") or {}).items():
                if count:
                    kinds[kind] += count
        if kinds:
            listed = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
            notes.append(f"- {server}: errors {listed}")
    return notes


def pingpong_table(by_server, threads):
    """Rows for a pingpong scenario."""
    floor, warden = by_server.get(FLOOR, Runs()), by_server.get(WARDEN, Runs())
    floor_rate, floor_cpu = floor.median("msgs_per_s"), floor.median("server_cpu_s_per_million")
    warden_cpu = warden.median("server_cpu_s_per_million")
    rows = []
    for server in ordered(by_server):
        runs = by_server[server]
        rate, cpu = runs.median("msgs_per_s"), runs.median("server_cpu_s_per_million")
        rows.append([
            SERVER_LABELS.get(server, server), fmt(rate, 0), ratio(rate, floor_rate),
            fmt(cpu), ratio(cpu, floor_cpu), ratio(cpu, warden_cpu),
            fmt(runs.median("p50_us"), 0), fmt(runs.median("p99_us"), 0),
            fmt(runs.median("p999_us"), 0), runs.loadgen_cell(threads),
            fmt(runs.total("errors"), 0), runs.runs_cell(),
        ])
    header = ["server", "msgs/s", "msgs/s × floor", "server CPU s / M msgs", "CPU × floor",
              "CPU × warden", "p50 µs", "p99 µs", "p99.9 µs", "loadgen cores", "errors", "runs ok"]
    return table(header, rows)


def churn_table(by_server, threads):
    """Rows for the churn scenario."""
    floor, warden = by_server.get(FLOOR, Runs()), by_server.get(WARDEN, Runs())
    oneshot = by_server.get(ONESHOT, Runs())
    floor_rate, floor_cpu = floor.median("exchanges_per_s"), floor.median("server_cpu_s_per_million")
    oneshot_rate = oneshot.median("exchanges_per_s")
    warden_cpu = warden.median("server_cpu_s_per_million")
    rows = []
    for server in ordered(by_server):
        runs = by_server[server]
        rate, cpu = runs.median("exchanges_per_s"), runs.median("server_cpu_s_per_million")
        rows.append([
            SERVER_LABELS.get(server, server), fmt(rate, 0), ratio(rate, floor_rate),
            ratio(rate, oneshot_rate), fmt(cpu), ratio(cpu, floor_cpu), ratio(cpu, warden_cpu),
            fmt(runs.median("p50_us"), 0), fmt(runs.median("p99_us"), 0),
            runs.loadgen_cell(threads), fmt(runs.total("errors"), 0), runs.runs_cell(),
        ])
    header = ["server", "exchanges/s", "× floor", "× one-shot", "server CPU s / M exch",
              "CPU × floor", "CPU × warden", "p50 µs", "p99 µs", "loadgen cores", "errors",
              "runs ok"]
    return table(header, rows)


def hold_table(by_server):
    """Rows for the hold scenario."""
    warden = by_server.get(WARDEN, Runs())
    warden_rss = warden.median("server_rss_per_conn_bytes")
    warden_growth = warden.median("server_rss_growth_per_conn_bytes")
    rows = []
    for server in ordered(by_server):
        runs = by_server[server]
        rss = runs.median("server_rss_per_conn_bytes")
        growth = runs.median("server_rss_growth_per_conn_bytes")
        rows.append([
            SERVER_LABELS.get(server, server), fmt(runs.median("connections"), 0),
            fmt(runs.median("established"), 0), fmt(runs.median("verified_initial"), 0),
            fmt(runs.median("verified_final"), 0), fmt(rss, 0), ratio(rss, warden_rss),
            fmt(growth, 0), ratio(growth, warden_growth),
            fmt(runs.median("server_rss_before_bytes"), 0),
            fmt(runs.median("server_rss_bytes"), 0), fmt(runs.total("errors"), 0),
            runs.runs_cell(),
        ])
    header = ["server", "connections", "established", "verified initial", "verified final",
              "RSS / conn B", "× warden", "RSS growth / conn B", "× warden",
              "RSS before B", "RSS held B", "errors", "runs ok"]
    return table(header, rows)


def syscall_table(by_server, tool):
    """Rows for the syscalls-per-message scenario measured with one tool."""

    def per_message(runs):
        values = [total / report["msgs"] for total, _, report in runs.traced()
                  if total is not None and report.get("msgs")]
        return statistics.median(values) if values else None

    def breakdown(runs):
        """The busiest syscalls per message, median over runs."""
        per_name = defaultdict(list)
        for _, calls, report in runs.traced():
            for name, count in calls.items():
                if report.get("msgs"):
                    per_name[name].append(count / report["msgs"])
        top = sorted(per_name.items(), key=lambda item: -statistics.median(item[1]))[:4]
        return ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in top) or "–"

    floor = per_message(by_server.get(FLOOR, Runs()))
    warden = per_message(by_server.get(WARDEN, Runs()))
    rows = []
    for server in ordered(by_server):
        runs = by_server[server]
        value = per_message(runs)
        rows.append([
            SERVER_LABELS.get(server, server), fmt(runs.median("msgs"), 0),
            fmt(runs.median("msgs_per_s"), 0), fmt(value), ratio(value, floor),
            ratio(value, warden), breakdown(runs),
            runs.runs_cell(),
        ])
    header = ["server", "msgs traced", "msgs/s (traced)", "syscalls / msg", "× floor", "× warden",
              "per msg (top 4)", "runs ok"]
    return table(header, rows)


def titles(meta):
    """Section title for each scenario key, from the run parameters."""
    size, reps = meta.get("size", 64), meta.get("reps", "?")
    dur = meta.get("duration_s", "?")
    return {
        "rate100": f"pingpong, 100 connections × {size} B at a fixed {meta.get('rate')} msgs/s, "
                   f"{dur} s",
        "sat100": f"pingpong, 100 connections × {size} B at saturation, {dur} s",
        "sat1000": f"pingpong, 1000 connections × {size} B at saturation, {dur} s",
        "churn": f"churn, {meta.get('churn_workers')} workers × {size} B "
                 f"(connect, one exchange, close), {dur} s",
        "hold": f"hold, {meta.get('hold_conns')} idle connections over "
                f"{meta.get('hold_sources')} source addresses, held {meta.get('hold_secs')} s",
        "sys-strace": f"syscalls per message, `strace -c -f -p PID`, pingpong 100 × {size} B "
                      f"offered {meta.get('syscall_rate')} msgs/s, {meta.get('syscall_secs')} s "
                      "(ptrace slows the server: batching differs from the untraced run)",
        "sys-perf": f"syscalls per message, `perf stat -e raw_syscalls:sys_enter,"
                    f"syscalls:sys_enter_* -p PID`, "
                    f"pingpong 100 × {size} B at {meta.get('syscall_rate')} msgs/s, "
                    f"{meta.get('syscall_secs')} s",
    }, reps


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: aggregate.py RESULTS_DIR  (a directory written by tools/bench/run.sh)")
    results = Path(argv[1])
    meta_path, runs_dir = results / "meta.json", results / "runs"
    if not meta_path.is_file() or not runs_dir.is_dir():
        sys.exit(f"aggregate.py: {results} has no meta.json or runs/: pass a run.sh results dir")
    meta = json.loads(meta_path.read_text())
    threads = meta.get("loadgen_threads") or LOADGEN_DEFAULT_THREADS
    churn_threads = meta.get("churn_threads") or threads
    grouped = load_runs(runs_dir)
    by_scenario = defaultdict(dict)
    for (scenario, server), runs in grouped.items():
        by_scenario[scenario][server] = runs

    section_titles, reps = titles(meta)
    out = [
        f"# warden benchmark {meta.get('stamp', '')}",
        "",
        f"Command: `{meta.get('command', 'tools/bench/run.sh')}`  ",
        f"Medians of {reps} interleaved repetitions; git {meta.get('git') or '?'}, "
        f"kernel {meta.get('kernel')}, {meta.get('cpus')} CPUs, loadgen threads "
        f"{threads} (churn {churn_threads}).  ",
        "Ratios: figure / the C epoll floor's, and / warden's, in the same run. "
        "Server CPU is user+system from /proc/PID/stat; loadgen cores = its CPU s / wall s.",
    ]
    renderers = {
        "rate100": lambda s: pingpong_table(s, threads),
        "sat100": lambda s: pingpong_table(s, threads),
        "sat1000": lambda s: pingpong_table(s, threads),
        "churn": lambda s: churn_table(s, churn_threads), "hold": hold_table,
        "sys-strace": lambda s: syscall_table(s, "strace"),
        "sys-perf": lambda s: syscall_table(s, "perf"),
    }
    for scenario, render in renderers.items():
        if scenario not in by_scenario:
            continue
        out += ["", f"## {section_titles[scenario]}", "", render(by_scenario[scenario])]
        notes = error_notes(by_scenario[scenario])
        if notes:
            out += [""] + notes
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv)
