"""Serve examples/fastapi_rag's app:app under uvicorn with every event-loop callback and every
garbage-collector pass timed, wall clock and the running thread's CPU.

    python3 loopstat.py APP_DIR PORT

A thread appends, every second, to LOOPSTAT_OUT one line per callback ("start_s wall_us cpu_us",
start in seconds since this script started) and to LOOPSTAT_OUT.gc one per GC pass ("start_s
wall_us cpu_us generation"). Cost: two clock reads per callback. LOOPSTAT_FREEZE=1 imports the
app, collects, and calls gc.freeze() before serving. LOOPSTAT_OUT.t0: the Unix time of start_s = 0.
"""
import asyncio.events as ev
import gc
import os
import sys
import threading
import time

out = os.environ.get("LOOPSTAT_OUT", "loopstat.txt")
rows = []
_orig = ev.Handle._run
pc, tt = time.perf_counter, time.thread_time

def _run(self):
    w0, c0 = pc(), tt()
    try:
        return _orig(self)
    finally:
        rows.append((w0, pc() - w0, tt() - c0))

ev.Handle._run = _run

gcrows = []
_gc_t = [0.0, 0.0]
def _gccb(phase, info):
    if phase == "start":
        _gc_t[0], _gc_t[1] = pc(), tt()
    else:
        gcrows.append((_gc_t[0], pc() - _gc_t[0], tt() - _gc_t[1], info.get("generation", -1)))
gc.callbacks.append(_gccb)

T0 = pc()
with open(out + ".t0", "w") as f0:  # the wall clock at start_s = 0, Unix seconds
    f0.write(f"{time.time() - (pc() - T0):.6f}\n")
def flusher():
    nr = ng = 0
    with open(out, "w") as f, open(out + ".gc", "w") as g:
        while True:
            time.sleep(1.0)
            n, m = len(rows), len(gcrows)
            for w0, w, c in rows[nr:n]:
                f.write(f"{w0 - T0:.6f} {w * 1e6:.0f} {c * 1e6:.0f}\n")
            for w0, w, c, gen in gcrows[ng:m]:
                g.write(f"{w0 - T0:.6f} {w * 1e6:.0f} {c * 1e6:.0f} {gen}\n")
            f.flush(); g.flush()
            nr, ng = n, m
threading.Thread(target=flusher, daemon=True).start()
sys.path.insert(0, sys.argv[1])
if os.environ.get("LOOPSTAT_FREEZE"):
    import app  # noqa: F401  (imported for its side effect: the heavy imports happen here)
    gc.collect()
    gc.freeze()
    print(f"gc.freeze(): {gc.get_freeze_count()} objects frozen", file=sys.stderr)
import uvicorn
uvicorn.run("app:app", host="127.0.0.1", port=int(sys.argv[2]), workers=1, log_level="warning")
