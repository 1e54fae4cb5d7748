#!/usr/bin/env python3
"""Do the users of a closed-loop run move in waves? For each result.json given: answers finished
and the server's CPU per answer in 5 s bins of the measured window, then how many requests
started in each 0.5 s over its last 10 s (a wave: most users starting within one bin).

Usage: waves.py RESULT_JSON...   (run from anywhere; needs examples/fastapi_rag/reprobe.py)
"""
import collections
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "examples" / "fastapi_rag"))
import reprobe  # noqa: E402

for path in sys.argv[1:]:
    run = json.loads(pathlib.Path(path).read_text())["runs"][0]
    server, drive = run.get("server"), run["drive"]
    offset = server.get("started_us", 0) / 1e6 if server else 0.0
    t0, t1 = drive["window_start_us"] / 1e6, drive["window_end_us"] / 1e6
    done = [x["finished_us"] / 1e6 for x in run["timeline"] if x["ok"] and x.get("finished_us")]
    starts = [x["started_us"] / 1e6 for x in run["timeline"] if x["ok"]]
    print(f"{path}: c={run['point']['concurrency']}, {run['throughput']['requests_per_s']:.1f} req/s")
    print("  window s   answers   CPU per answer (answers of requests sent in the window only:")
    print("                       the first bins undercount)")
    t = t0
    while t + 5 <= t1 + 1e-6:
        n = sum(1 for f in done if t <= f < t + 5)
        # A model run has no server of its own: its CPU is ragperf's.
        a = reprobe.cumulative_cpu_at(server["samples"], t - offset) if server else None
        b = reprobe.cumulative_cpu_at(server["samples"], t + 5 - offset) if server else None
        cpu = f"{(b - a) * 1000 / n:.0f} ms" if n and a is not None and b is not None else "—"
        print(f"  {t - t0:4.0f}-{t + 5 - t0:<4.0f}  {n:7d}   {cpu}")
        t += 5
    # The last 10 s of the window (a 10 s window: all of it).
    w = max(t0, t1 - 10)
    bins = collections.Counter(int((s - w) * 2) for s in starts if w <= s < w + 10)
    print(f"  requests started per 0.5 s, {w - t0:.0f}-{w - t0 + 10:.0f} s into the window:",
          " ".join(str(bins.get(i, 0)) for i in range(20)))
