#!/usr/bin/env python3
"""Measured vs predicted for predict.sh: reads OUT/ts-*/<endpoint>/{measured,predicted}-c*/result.json
and OUT/ts-*/<endpoint>/calibration/calibration.json.

Usage: predict_summary.py OUT

Writes OUT/prediction.md (and prints it): per endpoint, time scale and load, req/s, e2e p50 and
TTFT p50 measured on the real service and predicted by the calibrated scenario, their ratio
(measured / predicted), and whether it is inside the goal (0.85-1.15 for req/s and e2e p50,
0.7-1.4 for TTFT p50). With matplotlib installed it also draws OUT/prediction.svg.

Where predict.sh also predicted a point with the model's CPU scaled to the machine
(adjusted-cN/), a second table sets the scale beside the ratios against that model: the
machine's drift taken out. The scale is the calibration's machine speed over the speed read
while the point was measured (DRIFT=speed), or with DRIFT=reprobe the service's CPU per answer
at the calibration's probe measured again just before the point over its calibration figure
(reprobe-cN/). With DRIFT=own the scale puts the model's CPU per answer at the service's own at
the point (the median over its runs; adjusted-cN.toml says so in its first line): that table is a
diagnosis of the model given the right CPU, not a prediction. The goal is judged on the first
table only.

Where predict.sh measured a point more than once (REPEATS=N: measured-cN/, measured-cN-r2/, ...),
the first table holds the model against the median of the runs, figure by figure, and a third
table the runs against that median: how far the service moves from itself at the same point,
which is as close as any model can be expected to come to a single run.

A last table says where the service's CPU went: per point, its CPU per answer and the cores it
kept busy inside each run's measured window, beside the same figures at the calibration's probe
(the loaded point the model's CPU was fitted on). A server bound by its CPU serves about
cores / CPU per answer: a run that spent more per answer than the probe did, or kept fewer cores
busy, is slower than the model for that reason, whatever the model does.
"""
import json
import math
import pathlib
import re
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reprobe  # noqa: E402

out = pathlib.Path(sys.argv[1])
GOAL = reprobe.GOAL
# How far the service's CPU per answer at the probe may move from its calibration before the
# point is flagged: beyond it the ratios test the machine as much as the model.
DRIFT = 0.10


figures = reprobe.figures


def median_figures(paths):
    """Figure by figure, the median over the runs that have it (None where none has it)."""
    runs = [figures(p) for p in paths]
    out = {}
    for k in GOAL:
        values = [f[k] for f in runs if f[k] is not None]
        out[k] = statistics.median(values) if values else None
    return out


def loop_shares(cal):
    shares = cal.get("loop_shares")
    if not shares:
        return "—"
    return f'{100 * shares["request"]:.0f} % / {100 * shares["token"]:.0f} %'


def read_cost(cal):
    us = cal["cpu"].get("per_read_us", 0.0)
    return f"{us:.0f} µs" if us > 0 else "—"


def model_row(endpoint, scale, cal):
    place = cal.get("cpu_placement", {})
    return (
        f'| {endpoint} | {scale} | `{cal["shape"]["variant"]}`'
        f'{" ×" + str(cal["shape"]["workers"]) if cal["shape"]["workers"] else ""} '
        f'| {cal["cpu"]["per_request_us"] / 1000:.1f} ms | {cal["cpu"]["per_token_us"]:.0f} µs '
        # Told apart by a burst phase only (absent in calibrations written before).
        f'| {read_cost(cal)} '
        # Absent in calibrations written before ragperf measured where the CPU runs.
        f'| {cal.get("cpu_steps", 1)} | {100 * place.get("offloop", 0.0):.0f} % '
        f'| {100 * place.get("parallel", 0.0):.0f} % '
        # The kernel's share, spent before taking the GIL (absent before ragperf measured it);
        # rounded down to whole percent as the calibrated scenario writes it.
        f'| {math.floor(100 * cal.get("outside_gil_share", 0.0)):.0f} % '
        # Starlette's event loop in front of a sync-streaming pool (absent before ragperf read it).
        f'| {loop_shares(cal)} |'
    )


def compare(endpoint, fm, fp):
    """{metric: (measured, predicted, ratio, inside)} from two figures dicts; ratio None where
    not comparable."""
    cells = {}
    for k in GOAL:
        a, b = fm[k], fp[k]
        if endpoint == "chat" and k == "ttft p50":
            # A whole answer has no first token of its own (TTFT is its first body byte),
            # while the model streams from Bedrock: not comparable.
            cells[k] = (None, None, None, None)
        elif a is None or b is None or b == 0:
            cells[k] = (a, b, None, None)
        else:
            ratio = a / b
            cells[k] = (a, b, ratio, GOAL[k][0] <= ratio <= GOAL[k][1])
    return cells


def counted(rows):
    """(inside, total) over the comparable cells."""
    cells = [r[k] for r in rows for k in GOAL if r[k][2] is not None]
    return sum(1 for c in cells if c[3]), len(cells)


def drift(cal_dir, result):
    """The service's CPU per answer at the probe, then (calibration) and in RESULT, as text."""
    if not result.exists():
        return None
    f = reprobe.then_and_now(cal_dir, result)
    then, now = f["cpu_ms_then"], f["cpu_ms_now"]
    if not now or not then:
        return f"{then:.1f} ms / —"
    change = now / then - 1
    return f"{then:.1f} → {now:.1f} ms (**{change:+.0%}**{'' if abs(change) <= DRIFT else ' ✗'})"


def speed_drift(cal_dir, measured):
    """The machine's speed at calibration and while MEASURED ran, and the CPU scale, as text."""
    then, now = reprobe.speed_then_and_now(cal_dir, measured)
    if not then or not now:
        return None
    factor = then / now
    flag = "" if abs(factor - 1) <= DRIFT else " ✗"
    return f"{then:.2f} → {now:.2f}: CPU **×{factor:.2f}**{flag}"


def own_cpu(toml):
    """The scale and what it came from, as text, when TOML is the model with the point's own CPU
    (reprobe.py own, DRIFT=own); None otherwise."""
    if not toml.exists():
        return None
    first = toml.read_text().split("\n", 1)[0]
    m = re.fullmatch(r"# The CPU below scaled by ([\d.]+): (.*)\.", first)
    if not m or not m.group(2).startswith(reprobe.OWN):
        return None
    runs = re.search(r"\(([^)]*) at (\d+) tokens\), over the model's ([\d.]+) ms", m.group(2))
    if not runs:
        return f"CPU **×{m.group(1)}**"
    return f"{runs.group(3)} → {runs.group(1)} ({runs.group(2)} tokens): CPU **×{m.group(1)}**"


def by_users(base, prefix):
    """[(users, [result.json of the first run, of run 2, ...])], fewest users first."""
    runs = {}
    for p in base.glob(f"{prefix}-c*/result.json"):
        m = re.fullmatch(rf"{prefix}-c(\d+)(?:-r(\d+))?", p.parent.name)
        if m:
            runs.setdefault(int(m.group(1)), []).append((int(m.group(2) or 1), p))
    return [(c, [p for _, p in sorted(runs[c])]) for c in sorted(runs)]


def cpu_row(endpoint, scale, c, cal, paths):
    """The service's CPU per answer and cores in each run of a point, and at the probe."""
    probe = reprobe.find_probe(cal)
    ms = probe and probe.get("cpu_per_request_ms")
    # Inside the probe's window, as the runs' figures are: its req/s x its CPU per answer.
    at_probe = (
        f'{ms:.0f} ms on {probe["requests_per_s"] * ms / 1000:.2f}'
        f' ({probe["concurrency"]} users, {probe["tokens_setting"]} tokens)'
        if ms
        else "— (no probe, or its CPU not read)"
    )
    runs = []
    for path in paths:
        run = json.loads(path.read_text())["runs"][0]
        failed = run["counters"]["failed"]
        # Per successful answer: a failed one's CPU is counted, not its answer (marked).
        rate = run["throughput"]["requests_per_s"]
        busy = reprobe.window_cores(run)
        if busy is None or rate <= 0:
            runs.append("—")
            continue
        runs.append(f"{busy / rate * 1000:.0f} ms on {busy:.2f}" + (f" ({failed} failed)" if failed else ""))
    return f'| {endpoint} | {scale} | {c} | {at_probe} | {"; ".join(runs)} |'


def spread(endpoint, paths):
    """{metric: (values, max/min, runs inside the goal against their median, runs)}, or None for
    a single run. A whole answer has no TTFT of its own."""
    if len(paths) < 2:
        return None
    runs = [figures(p) for p in paths]
    mid = median_figures(paths)
    out = {}
    for k in GOAL:
        values = [f[k] for f in runs if f[k] is not None]
        if (endpoint == "chat" and k == "ttft p50") or len(values) < 2 or not min(values):
            out[k] = None
            continue
        lo, hi = GOAL[k]
        inside = sum(1 for v in values if lo <= v / mid[k] <= hi)
        out[k] = (values, max(values) / min(values), inside, len(values))
    return out


rows, adjusted, models, methods, spreads, cpu_rows = [], [], [], set(), [], []
probe_users, low_users, deepened = set(), set(), []
for cal_path in sorted(out.glob("ts-*/*/calibration/calibration.json")):
    base = cal_path.parent.parent
    scale, endpoint = base.parent.name[3:], base.name
    cal = json.loads(cal_path.read_text())
    for o in cal.get("observations", []):
        (probe_users if o.get("probe") else low_users).add(o["concurrency"])
    if cal.get("deeper_probe"):
        d = cal["deeper_probe"]
        probe_users.add(d["first_users"])
        deepened.append(f"{endpoint} at time scale {scale}: {d['first_users']} → {d['users']}")
    models.append(model_row(endpoint, scale, cal))
    for c, runs in by_users(base, "measured"):
        p = base / f"predicted-c{c}" / "result.json"
        if not p.exists():
            continue
        key = {"endpoint": endpoint, "scale": scale, "c": c, "runs": len(runs)}
        rows.append({**key, **compare(endpoint, median_figures(runs), figures(p))})
        cpu_rows.append(cpu_row(endpoint, scale, c, cal, runs))
        own = spread(endpoint, runs)
        if own:
            spreads.append({**key, **own})
        # The drift-scaled model was scaled to the first run's machine: held against that run;
        # the model with the point's own CPU (DRIFT=own) was scaled to the runs' median: held
        # against the median, as the first table is.
        m = runs[0]
        a = base / f"adjusted-c{c}" / "result.json"
        probe = drift(cal_path.parent, base / f"reprobe-c{c}" / "result.json")
        own_note = own_cpu(base / f"adjusted-c{c}.toml")
        if own_note and a.exists():
            methods.add("own")
            adjusted.append({**key, "probe": own_note, **compare(endpoint, median_figures(runs), figures(a))})
            continue
        if probe:
            methods.add("reprobe")
        elif a.exists():
            probe = speed_drift(cal_path.parent, m)
            methods.add("speed")
        if probe and a.exists():
            adjusted.append({**key, "probe": probe, **compare(endpoint, figures(m), figures(a))})


def cell(k, v):
    a, b, ratio, ok = v
    fmt = (lambda x: f"{x:.1f}") if k == "req/s" else (lambda x: f"{x:.0f} ms")
    if ratio is None:
        return "— (whole answer)" if k == "ttft p50" and a is None else "—"
    return f"{fmt(a)} / {fmt(b)} = **{ratio:.2f}**{'' if ok else ' ✗'}"


def table(rows, extra=None):
    head = "| endpoint | time scale | c |" + (f" {extra} |" if extra else "") + " req/s | e2e p50 | TTFT p50 |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f'| {r["endpoint"]} | {r["scale"]} | {r["c"]} | '
            + (f'{r["probe"]} | ' if extra else "")
            + " | ".join(cell(k, r[k]) for k in GOAL)
            + " |"
        )
    return lines


def spread_cell(k, v):
    if v is None:
        return "— (whole answer)" if k == "ttft p50" else "—"
    values, ratio, inside, n = v
    fmt = (lambda x: f"{x:.1f}") if k == "req/s" else (lambda x: f"{x:.0f}")
    return f'{", ".join(fmt(x) for x in values)}: **×{ratio:.2f}** ({inside} of {n})'


def spread_section(spreads):
    cells = [r[k] for r in spreads for k in GOAL if r[k] is not None]
    inside, total = sum(c[2] for c in cells), sum(c[3] for c in cells)
    head = "| endpoint | time scale | c | req/s | e2e p50 (ms) | TTFT p50 (ms) |"
    return [
        "",
        "### The service against itself",
        "",
        "Each point was measured more than once, back to back, each run on a fresh start of "
        "the service. Per figure: the runs (in the order measured), the largest over the "
        "smallest, and how many runs lie inside the goal's band around their median: what a "
        "model that predicted the median exactly would score against one run.",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
        *(
            f'| {r["endpoint"]} | {r["scale"]} | {r["c"]} | '
            + " | ".join(spread_cell(k, r[k]) for k in GOAL)
            + " |"
            for r in spreads
        ),
        "",
        f"{inside} of {total} single runs inside the goal around their point's median.",
    ]


inside, total = counted(rows)
repeats = sorted({r["runs"] for r in rows if r["runs"] > 1})
measured_is = (
    f"; measured: the median of the point's {' or '.join(map(str, repeats))} runs, figure by "
    "figure (the third table: how far they spread)"
    if repeats
    else ""
)
lines = [
    "## The calibrated model against the real service",
    "",
    f"Calibrated at c ≤ {max(low_users, default=0)} plus a probe at "
    f"{' or '.join(map(str, sorted(probe_users))) or 'none'} (and, where the probe did not "
    "queue, a burst at 8: answers sent at once"
    + (
        "; where an event loop's probe did not saturate it, the levels and a probe at twice "
        f"the users measured again: {', '.join(deepened)}"
        if deepened
        else ""
    )
    + "); each cell: measured / predicted = ratio "
    "(goal 0.85–1.15 for req/s and e2e p50, 0.7–1.4 for TTFT p50; ✗ outside)" + measured_is + ".",
    "",
    *table(rows),
    "",
    f"{inside} of {total} ratios inside the goal (the whole-answer endpoint has no TTFT of its own).",
    "",
    "Models written by `ragperf calibrate`:",
    "",
    "| endpoint | time scale | variant | CPU per request | CPU per token event | CPU per socket read | CPU steps | off the loop, GIL | in parallel | outside the GIL | on the event loop (request / token) |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    *models,
]
if adjusted:
    a_inside, a_total = counted(adjusted)
    texts = {
        "own": (
            "The same model with its CPU per request, per token and per read scaled so that its "
            "CPU per answer at the point's mean answer length is the one the service spent at "
            "the point itself (the median over its runs): \"CPU\" is the model's CPU per answer "
            "there, the runs' and the scale. Not a prediction (the CPU comes from the point's own "
            "measurement): how far the model's structure (variant, pool, GIL, where the CPU runs) "
            "is from the service once its CPU figure is right. Against the median of the runs, "
            "as the first table.",
            "CPU: the model's → the service's at the point",
        ),
        "speed": (
            "\"machine\" is its speed (rounds of ragperf's work function per µs of CPU, read "
            "beside the server's CPU) at calibration (every point's CPU was fitted at it) and "
            "while the point was measured, and the scale that puts the model's CPU at the "
            f"point's speed (✗: by more than {DRIFT:.0%}: the first table's ratios for that "
            "point test the machine as much as the model). The ratios below are against the "
            "same model with its CPU per request, per token and per read times that scale."
            + (" Against the first run of each point (the one whose machine it was scaled to)." if repeats else ""),
            "machine: calibration → the point",
        ),
        "reprobe": (
            "Before each point the calibration's probe was measured again; \"probe\" is the "
            "service's CPU per answer there at calibration and just before the point (✗: moved "
            f"by more than {DRIFT:.0%}: the first table's ratios for that point test the "
            "machine as much as the model). The ratios below are against the same model with "
            "its CPU per request, per token and per read scaled by that change (the probe is "
            "at its own load, so the load's effect stays the model's to predict)."
            + (" Against the first run of each point (the one whose machine it was scaled to)." if repeats else ""),
            "probe: calibrated → before the point",
        ),
    }
    # One method per sitting as predict.sh runs; several (OUT put together by hand) are each said.
    how = " ".join(texts[m][0] for m in sorted(methods))
    column = texts[min(methods)][1] if len(methods) == 1 else "the scale and what it came from"
    own_cpu_only = methods == {"own"}
    lines += [
        "",
        "### The model with each point's own CPU" if own_cpu_only else "### The machine's drift taken out",
        "",
        how + " Not the goal's measure: the first table is.",
        "",
        *table(adjusted, column),
        "",
        f"{a_inside} of {a_total} ratios inside the goal "
        + ("with each point's own CPU." if own_cpu_only else "with the drift taken out."),
    ]
if spreads:
    lines += spread_section(spreads)
if cpu_rows:
    lines += [
        "",
        "### Where the service's CPU went",
        "",
        "The server's CPU per answer and the cores it kept busy (its CPU per second) inside the "
        "measured window: at the calibration's probe, the loaded point the model's CPU was fitted "
        "on, and in each run of the point (in the order measured). A server bound by its CPU "
        "serves about cores / CPU per answer, so a run that spent more per answer than the probe, "
        "or kept fewer cores busy, is slower than the model for that reason. Answers here are the "
        "point's (60–150 tokens at random), the probe's a fixed length.",
        "",
        "| endpoint | time scale | c | at the probe | the runs: CPU per answer on cores |",
        "|---|---|---|---|---|",
        *cpu_rows,
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
