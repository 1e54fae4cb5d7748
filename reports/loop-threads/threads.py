#!/usr/bin/env python3
"""Per-thread CPU, run-queue wait and what a sleeping thread waits in, for one process over a
window: futex is a lock (the GIL, or an idle executor thread waiting for work), epoll/poll an
event loop with nothing to do.

usage: threads.py PGREP_PATTERN START_AFTER_S WINDOW_S [HZ]

Waits for the process (the oldest matching the pattern that is not this script or a shell),
sleeps START_AFTER_S, then reads /proc/PID/task/*/schedstat at the start and the end of the
window (time on a core, time runnable but waiting for one) and each thread's state and current
system call HZ times a second in between (reading /proc/PID/task/*/syscall needs root or the
same user). Prints a line per thread that ran or waited at least 0.5 % of the window: CPU and
run-queue wait in cores (seconds per second), and its states as shares of the samples."""
import collections
import os
import subprocess
import sys
import time

pat, after, window = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
hz = float(sys.argv[4]) if len(sys.argv) > 4 else 200
# x86-64 system call numbers a sleeping thread is most often in.
SYS = {202: "futex", 232: "epoll", 281: "epoll", 7: "poll", 271: "poll", 23: "select",
       270: "select", 0: "read", 45: "recv", 44: "send", 1: "write", 35: "nanosleep",
       230: "nanosleep"}


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def find():
    while True:
        pids = subprocess.run(["pgrep", "-f", pat], capture_output=True, text=True).stdout.split()
        for p in sorted(pids, key=int):
            cmdline = read(f"/proc/{p}/cmdline") or ""
            if int(p) != os.getpid() and "threads.py" not in cmdline and "bash" not in cmdline:
                return int(p)
        time.sleep(0.1)


def snap(pid):
    d = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        s, c = read(f"/proc/{pid}/task/{tid}/schedstat"), read(f"/proc/{pid}/task/{tid}/comm")
        if s and c:
            d[int(tid)] = (c.strip(), *map(int, s.split()))
    return d


pid = find()
time.sleep(after)
t0 = time.time()
a = snap(pid)
states = collections.defaultdict(collections.Counter)
n = 0
while time.time() - t0 < window:
    for tid in list(a):
        st = read(f"/proc/{pid}/task/{tid}/stat")
        if not st:
            continue
        state = st[st.rindex(")") + 2]
        if state == "R":
            key = "R"
        else:
            f = (read(f"/proc/{pid}/task/{tid}/syscall") or "").split()
            nr = f[0] if f and f[0].lstrip("-").isdigit() else None
            key = "S:" + (SYS.get(int(nr), f"sys{nr}") if nr is not None else "?")
        states[tid][key] += 1
    n += 1
    time.sleep(1 / hz)
wall = time.time() - t0
b = snap(pid)
print(f"pid {pid}, window {wall:.1f} s, {n} state samples per thread")
print(f"{'tid':>7} {'name':16} {'cpu':>6} {'rq wait':>8}  states (share of samples)")
tot_cpu = tot_wait = 0.0
for tid, (name, run1, wait1, _slices) in sorted(b.items()):
    if tid not in a:
        continue
    run = (run1 - a[tid][1]) / 1e9 / wall
    wait = (wait1 - a[tid][2]) / 1e9 / wall
    tot_cpu += run
    tot_wait += wait
    if run < 0.005 and wait < 0.005:
        continue
    cnt = states[tid]
    k = sum(cnt.values()) or 1
    desc = ", ".join(f"{s} {100 * v / k:.0f}%" for s, v in cnt.most_common(5))
    print(f"{tid:>7} {name:16} {run:6.2f} {wait:8.2f}  {desc}")
print(f"{'all':>7} {'':16} {tot_cpu:6.2f} {tot_wait:8.2f}")
