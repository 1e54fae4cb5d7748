#!/usr/bin/env python3
"""Judges a soak (scripts/soak.sh): drift of RSS and fds after the first minute, and nothing lost.
Usage: soak_judge.py OUT MINUTES RUN_EXIT_CODE   (reads OUT/samples.csv and OUT/run/result.json)"""
import csv, json, sys
out, minutes, run_code = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(f"{out}/samples.csv"))]
load_end = 60 * minutes  # the warm-up adds a few seconds; later samples may be the drain
steady = [r for r in rows if 60 <= r["t_s"] <= load_end]
ok = True
print(f"ragperf run exit code {run_code}; {len(rows)} samples, {len(steady)} after the first minute")
if len(steady) < 2:
    print("FAIL: fewer than two samples after the first minute (run longer than 1 min)")
    ok = False
else:
    first, last = steady[0], steady[-1]
    pct = lambda a, b: (b - a) / a * 100 if a else float("inf")
    ts = [r["t_s"] for r in steady]
    for col, label in [("ragperf_rss_kib", "ragperf RSS"), ("ragperf_fds", "ragperf fds"),
                       ("mock_rss_kib", "mock RSS"), ("mock_fds", "mock fds")]:
        ys = [r[col] for r in steady]
        # The drift is the least-squares trend over the span: a leak (state kept per request)
        # is a slope and shows however the samples scatter; one sample against another also
        # measures where each fell in the noise (connections open and close, buffers adapt).
        n, mt, my = len(ts), sum(ts) / len(ts), sum(ys) / len(ys)
        var = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var else 0.0
        fit_a = my + slope * (ts[0] - mt)
        fit_b = my + slope * (ts[-1] - mt)
        drift = pct(fit_a, fit_b)
        good = abs(drift) < 5
        ok &= good
        unit = " KiB" if "rss" in col else ""
        print(f"{'ok  ' if good else 'FAIL'} {label:12} trend {fit_a:>8.0f}{unit} at {ts[0]:.0f} s -> "
              f"{fit_b:>8.0f}{unit} at {ts[-1]:.0f} s: drift {drift:+.1f} % (goal < 5 %); samples "
              f"{first[col]:.0f} -> {last[col]:.0f} ({pct(first[col], last[col]):+.1f} %), "
              f"range {min(ys):.0f}..{max(ys):.0f}")
try:
    result = json.load(open(f"{out}/run/result.json"))
except Exception as e:  # the run failed before writing anything
    print(f"FAIL: no result: {e}")
    sys.exit(1)
for run in result["runs"]:
    c = run["counters"]
    ended = c["ok"] + c["failed"] + c.get("abandoned", 0) + c.get("never_sent", 0)
    good = ended == c["sent"]
    ok &= good
    print(f"{'ok  ' if good else 'FAIL'} nothing lost ({run['variant']}): ok {c['ok']} + failed {c['failed']} "
          f"+ unfinished {c.get('abandoned', 0)} + never sent {c.get('never_sent', 0)} = {ended}, sent {c['sent']}")
ok &= run_code == 0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
