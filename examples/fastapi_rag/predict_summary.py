#!/usr/bin/env python3
"""Measured vs predicted for predict.sh: reads OUT/ts-*/<endpoint>/{measured,predicted}-c*/result.json
and OUT/ts-*/<endpoint>/calibration/calibration.json.

Usage: predict_summary.py OUT

Writes OUT/prediction.md (and prints it): per endpoint, time scale and load, req/s, e2e p50 and
TTFT p50 measured on the real service and predicted by the calibrated scenario, their ratio
(measured / predicted), and whether it is inside the goal (0.85-1.15 for req/s and e2e p50,
0.7-1.4 for TTFT p50). With matplotlib installed it also draws OUT/prediction.svg.
"""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
GOAL = {"req/s": (0.85, 1.15), "e2e p50": (0.85, 1.15), "ttft p50": (0.7, 1.4)}


def figures(path):
    r = json.loads(path.read_text())["runs"][0]
    lat = r["latency_ms"]

    def p50(k):
        v = lat.get(k, {})
        return v["p50"] if v.get("count") else None

    return {"req/s": r["throughput"]["requests_per_s"], "e2e p50": p50("e2e"), "ttft p50": p50("ttft")}


def loop_shares(cal):
    shares = cal.get("loop_shares")
    if not shares:
        return "—"
    return f'{100 * shares["request"]:.0f} % / {100 * shares["token"]:.0f} %'


rows, inside, total = [], 0, 0
models = []
for cal_path in sorted(out.glob("ts-*/*/calibration/calibration.json")):
    base = cal_path.parent.parent
    scale, endpoint = base.parent.name[3:], base.name
    cal = json.loads(cal_path.read_text())
    place = cal.get("cpu_placement", {})
    models.append(
        f'| {endpoint} | {scale} | `{cal["shape"]["variant"]}`'
        f'{" ×" + str(cal["shape"]["workers"]) if cal["shape"]["workers"] else ""} '
        f'| {cal["cpu"]["per_request_us"] / 1000:.1f} ms | {cal["cpu"]["per_token_us"]:.0f} µs '
        # Absent in calibrations written before ragperf measured where the CPU runs.
        f'| {cal.get("cpu_steps", 1)} | {100 * place.get("offloop", 0.0):.0f} % '
        f'| {100 * place.get("parallel", 0.0):.0f} % '
        # Starlette's event loop in front of a sync-streaming pool (absent before ragperf read it).
        f'| {loop_shares(cal)} |'
    )
    for m in sorted(base.glob("measured-c*/result.json"), key=lambda p: int(p.parent.name.split("-c")[1])):
        c = int(m.parent.name.split("-c")[1])
        p = base / f"predicted-c{c}" / "result.json"
        if not p.exists():
            continue
        fm, fp = figures(m), figures(p)
        row = {"endpoint": endpoint, "scale": scale, "c": c}
        for k in GOAL:
            a, b = fm[k], fp[k]
            if endpoint == "chat" and k == "ttft p50":
                # A whole answer has no first token of its own (TTFT is its first body byte),
                # while the model streams from Bedrock: not comparable.
                row[k] = (None, None, None, None)
                continue
            if a is None or b is None or b == 0:
                row[k] = (a, b, None, None)
                continue
            ratio = a / b
            ok = GOAL[k][0] <= ratio <= GOAL[k][1]
            total += 1
            inside += ok
            row[k] = (a, b, ratio, ok)
        rows.append(row)


def cell(k, v):
    a, b, ratio, ok = v
    fmt = (lambda x: f"{x:.1f}") if k == "req/s" else (lambda x: f"{x:.0f} ms")
    if ratio is None:
        return "— (whole answer)" if k == "ttft p50" and a is None else "—"
    return f"{fmt(a)} / {fmt(b)} = **{ratio:.2f}**{'' if ok else ' ✗'}"


lines = [
    "## The calibrated model against the real service",
    "",
    "Calibrated at c ≤ 8 plus a probe at 64; each cell: measured / predicted = ratio "
    "(goal 0.85–1.15 for req/s and e2e p50, 0.7–1.4 for TTFT p50; ✗ outside).",
    "",
    "| endpoint | time scale | c | req/s | e2e p50 | TTFT p50 |",
    "|---|---|---|---|---|---|",
]
for r in rows:
    lines.append(
        f'| {r["endpoint"]} | {r["scale"]} | {r["c"]} | '
        + " | ".join(cell(k, r[k]) for k in GOAL)
        + " |"
    )
lines += [
    "",
    f"{inside} of {total} ratios inside the goal (the whole-answer endpoint has no TTFT of its own).",
    "",
    "Models written by `ragperf calibrate`:",
    "",
    "| endpoint | time scale | variant | CPU per request | CPU per token event | CPU steps | off the loop, GIL | in parallel | on the event loop (request / token) |",
    "|---|---|---|---|---|---|---|---|---|",
    *models,
]
text = "\n".join(lines) + "\n"
(out / "prediction.md").write_text(text)
print(text)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(0)
keys = list(GOAL)
fig, axes = plt.subplots(1, len(keys), figsize=(13, 4.2))
labels = [f'{r["endpoint"]}\nts {r["scale"]} c={r["c"]}' for r in rows]
for ax, k in zip(axes, keys):
    ratios = [r[k][2] if r[k][2] is not None else float("nan") for r in rows]
    lo, hi = GOAL[k]
    ax.axhspan(lo, hi, color="#d8f0d8")
    ax.axhline(1.0, color="#666", lw=0.8)
    ax.scatter(range(len(rows)), ratios, color=["#2a7" if (lo <= x <= hi) else "#c33" for x in ratios], zorder=3)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_title(f"{k}: measured / predicted")
    ax.set_ylim(0, max(2.0, max([x for x in ratios if x == x] or [1]) * 1.1))
fig.tight_layout()
fig.savefig(out / "prediction.svg")
