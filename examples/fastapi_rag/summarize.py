#!/usr/bin/env python3
"""One table across the endpoints of run_experiment.sh: reads OUT/<endpoint>/result.json.

Usage: summarize.py OUT [--ci]

Writes OUT/summary.md (and prints it). With --ci it also checks what the CI run must show — every
request of every endpoint succeeded with citations, and the server's threads and CPU were
sampled — printing `N passed, M failed` and exiting non-zero on a failure. It never checks
timings.
"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
ci = "--ci" in sys.argv[2:]
rows = []
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


for path in sorted(out.glob("*/result.json")):
    result = json.loads(path.read_text())
    for run in result["runs"]:
        name = run["target"]["name"]
        c = run["counters"]
        lat = run["latency_ms"]
        server = run.get("server") or {}
        finished = c["ok"] + c["failed"] + c["warmup_completed"]
        cpu = server.get("cpu_user_s", 0) + server.get("cpu_sys_s", 0)
        rows.append(
            {
                "endpoint": name,
                "c": run["point"]["concurrency"],
                "ok": f'{c["ok"]}/{c["sent"]}',
                "req/s": f'{run["throughput"]["requests_per_s"]:.1f}',
                "e2e p50": f'{lat["e2e"]["p50"]:.0f} ms' if lat.get("e2e", {}).get("count") else "—",
                "ttft p50": f'{lat["ttft"]["p50"]:.0f} ms' if lat.get("ttft", {}).get("count") else "—",
                "eff": f'{run["ideal"]["efficiency"] * 100:.0f}%' if run["ideal"]["ideal_requests_per_s"] else "—",
                "server threads": f'{server.get("threads_peak", "—")}',
                "server CPU/request": f"{cpu * 1000 / finished:.1f} ms" if server and finished else "—",
                "server CPU": f'{100 * cpu / server["window_s"]:.0f}%' if server.get("window_s") else "—",
                "failed": ", ".join(f"{k} {v}" for k, v in c["failed_by_kind"].items()) or "0",
            }
        )
        if ci:
            check(f"{name} c={run['point']['concurrency']}: every request ok", c["ok"] == c["sent"] and c["sent"] > 0, str(c))
            check(f"{name}: citations on every answer", c["citation_mismatches"] == 0, str(c))
            check(f"{name}: tokens counted", name == "chat" or c["tokens"] > 0, str(c))
            check(f"{name}: server threads sampled", server.get("threads_peak", 0) >= 1 and server.get("snapshots", 0) >= 2, str(server.get("threads_peak")))
            check(f"{name}: server CPU sampled", cpu > 0, str(cpu))

if not rows:
    print(f"no results under {out}")
    sys.exit(1)
cols = list(rows[0])
lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
lines += ["| " + " | ".join(str(r[k]) for k in cols) + " |" for r in rows]
text = "\n".join(lines) + "\n"
(out / "summary.md").write_text(text)
print(text)
if ci:
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
