#!/usr/bin/env python3
"""windows.sh's runs side by side: per point and window, each run's req/s, e2e p50, TTFT p50 and
the service's CPU per answer (its CPU inside the window over the answers credited there), then
each figure's largest over smallest and the standard deviation of its log over the runs.

Usage: windows.py OUT
"""
import json
import math
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "fastapi_rag"))
import reprobe  # noqa: E402

NAMES = ("req/s", "e2e p50 (ms)", "TTFT p50 (ms)", "CPU per answer (ms)")


def row(path):
    run = json.loads(path.read_text())["runs"][0]
    lat, rate = run["latency_ms"], run["throughput"]["requests_per_s"]
    cores = reprobe.window_cores(run)
    cpu = cores / rate * 1000 if cores and rate > 0 else None
    return (rate, lat["e2e"]["p50"], lat["ttft"]["p50"], cpu), run["throughput"]["window_s"], run["counters"]["failed"]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    out = pathlib.Path(sys.argv[1])
    if not out.is_dir():
        sys.exit(f"windows.py: {out} is not a directory; run windows.sh {out} first")
    points = sorted(p for p in out.iterdir() if p.is_dir() and any(p.glob("*-1/result.json")))
    if not points:
        sys.exit(f"windows.py: nothing under {out}; run windows.sh {out} first")
    for point in points:
        print(f"## {point.name}")
        print()
        print("| window | runs | " + " | ".join(NAMES) + " |")
        print("|---|---|" + "---|" * len(NAMES))
        for kind in ("short", "long"):
            rows = [row(p) for p in sorted(point.glob(f"{kind}-*/result.json"))]
            if not rows:
                continue
            window = rows[0][1]
            failed = sum(r[2] for r in rows)
            cells = []
            for i in range(len(NAMES)):
                v = [r[0][i] for r in rows if r[0][i]]
                fmt = "{:.1f}" if i == 0 else "{:.0f}"
                text = ", ".join(fmt.format(x) for x in v)
                if len(v) > 1:
                    sd = statistics.stdev(math.log(x) for x in v)
                    text += f": ×{max(v) / min(v):.2f}, sd of log {sd:.3f}"
                cells.append(text)
            print(f"| {kind} ({window:.0f} s){' — ' + str(failed) + ' failed' if failed else ''} | {len(rows)} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
