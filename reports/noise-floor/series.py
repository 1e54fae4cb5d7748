#!/usr/bin/env python3
"""series.sh's runs in order: per run, Python's speed read just before it and just after (the next
run's reading), ragperf's machine speed inside the window, and the service's req/s and CPU per
answer; then how far each moved over the series (sd of its log) and how well each speed reading
follows the CPU per answer (the correlation of their logs: a reading that tracks the service's
cost is near -1, faster machine, less CPU per answer).

Usage: series.py OUT
"""
import json
import math
import pathlib
import re
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "fastapi_rag"))
import reprobe  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    out = pathlib.Path(sys.argv[1])
    if not (out / "pyspeed.txt").is_file():
        sys.exit(f"series.py: no {out / 'pyspeed.txt'}; run series.sh {out} first")
    speeds = {}
    for line in (out / "pyspeed.txt").read_text().splitlines():
        m = re.fullmatch(r"(\d+) (\S+) pyspeed ([\d.]+)", line.strip())
        if m:
            speeds[int(m.group(1))] = (m.group(2), float(m.group(3)))
    rows = []
    for k in sorted(speeds):
        path = out / f"run-{k}" / "result.json"
        if not path.exists():
            continue
        run = json.loads(path.read_text())["runs"][0]
        rate = run["throughput"]["requests_per_s"]
        cores, machine = reprobe.window_cores(run), reprobe.window_speed(run)
        if not cores or rate <= 0 or not machine:
            continue
        after = speeds.get(k + 1, speeds[k])[1]
        rows.append((k, speeds[k][0], (speeds[k][1] + after) / 2, machine, rate, cores / rate * 1000))
    if len(rows) < 3:
        sys.exit(f"series.py: {len(rows)} complete runs under {out}; at least 3 needed")
    print("| run | at (UTC) | Python's speed (units per ms of CPU) | ragperf's machine speed | req/s | CPU per answer (ms) |")
    print("|---|---|---|---|---|---|")
    for k, at, py, machine, rate, cpu in rows:
        print(f"| {k} | {at} | {py:.1f} | {machine:.2f} | {rate:.1f} | {cpu:.0f} |")
    print()

    def logs(i):
        return [math.log(r[i]) for r in rows]

    cpu = logs(5)
    print(f"{len(rows)} runs. How far each moved (sd of its log), and its correlation with the CPU per answer (logs):")
    print()
    print("| figure | sd of log | largest / smallest | correlation with CPU per answer |")
    print("|---|---|---|---|")
    for name, i in (("Python's speed", 2), ("ragperf's machine speed", 3), ("req/s", 4), ("CPU per answer", 5)):
        v = [r[i] for r in rows]
        corr = statistics.correlation(logs(i), cpu) if i != 5 else 1.0
        print(f"| {name} | {statistics.stdev(logs(i)):.3f} | ×{max(v) / min(v):.2f} | {corr:+.2f} |")
    # The CPU per answer with each reading's change taken out (scaled to the series' mean speed):
    # what a model scaled by that reading would have had left to explain.
    print()
    for name, i in (("Python's speed", 2), ("ragperf's machine speed", 3)):
        mean = statistics.fmean(logs(i))
        rest = [c + (x - mean) for c, x in zip(cpu, logs(i))]
        print(f"CPU per answer scaled by {name}: sd of log {statistics.stdev(rest):.3f} (unscaled {statistics.stdev(cpu):.3f}).")


if __name__ == "__main__":
    main()
