"""Do completions come right after the garbage collector's full (generation-2) passes?

    python3 after_gc.py RUN_DIR [LAG_S]

RUN_DIR is a loop.sh output (loopstat.txt.gc, loopstat.txt.t0, run/result.json). Puts the GC
passes on the run's clock (loopstat.txt.t0 against result.json's epoch) and counts the measured
requests that finished, or got their first token, within LAG_S (default 0.3) after a gen-2 pass
ended, against the share of the window those spans cover: what an even spread would put there.
"""
import json
import sys

d = sys.argv[1]
lag = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
r = json.load(open(f"{d}/run/result.json"))["runs"][0]
epoch = json.load(open(f"{d}/run/result.json"))["runs"][0]["clock"]["epoch_unix_us"] / 1e6
t0 = float(open(f"{d}/loopstat.txt.t0").read())
ws, we = r["drive"]["window_start_us"] / 1e6, r["drive"]["window_end_us"] / 1e6
passes = []
for line in open(f"{d}/loopstat.txt.gc"):
    start, wall, _cpu, gen = line.split()
    if gen == "2":
        s = float(start) + t0 - epoch  # on the run's clock
        passes.append((s, s + float(wall) / 1e6))
ends = [e for _s, e in passes]
inside = [e for e in ends if ws <= e < we]
covered = sum(min(e + lag, we) - e for e in inside) / (we - ws)
paused = sum(max(0.0, min(e, we) - max(s, ws)) for s, e in passes) / (we - ws)


def share(times):
    times = [t for t in times if ws <= t < we]
    hit = sum(1 for t in times if any(0 <= t - e < lag for e in inside))
    return hit, len(times)


fin = [x["finished_us"] / 1e6 for x in r["timeline"] if x["ok"] and x["finished_us"]]
ft = [x["first_token_us"] / 1e6 for x in r["timeline"] if x["ok"] and x["first_token_us"]]
print(f"{d}: {len(inside)} gen-2 passes ended in the {we - ws:.0f} s window; the interpreter was "
      f"in one {paused:.0%} of it; the {lag} s after each cover {covered:.0%} of it")
for name, times in (("finished", fin), ("first token", ft)):
    hit, n = share(times)
    print(f"  {name}: {hit} of {n} in those spans ({hit / n:.0%}; an even spread: {covered:.0%})")
