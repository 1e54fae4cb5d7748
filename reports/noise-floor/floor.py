#!/usr/bin/env python3
"""What a perfect model would score: the goal of #12 against the service's own run-to-run spread.

Usage: floor.py [REPORTS_DIR] [--runs N ...] [--draws D] [--seed S]

Reads every committed sitting that measured each point more than once
(REPORTS_DIR/fastapi-rag-predict*/ts-*/<endpoint>/measured-cN[-rK]/result.json, default REPORTS_DIR:
this file's parent's parent). For each figure the goal judges (req/s, e2e p50, TTFT p50; the whole
answer has no TTFT of its own) at each point (endpoint, time scale, users), it pools the spread of
the runs inside each sitting: the variance of the log of the figure around its sitting's mean,
with one degree of freedom lost per sitting. Across sittings the service moves more (it drifts
between days), but a model calibrated in the same sitting sees that drift, so only the spread
inside a sitting is charged here.

A "perfect model" predicts each point's true mean (in the log) exactly. The sittings hold it
against the median of N runs (N = 3 in the committed procedure). With each run drawn as
log-normal around the mean with the pooled spread, the script draws D sittings and reports, per
figure, how often the median of N lands inside the goal's band, the expected number of figures
inside out of all of them, and how often all are inside at once: the chance that a model with no
error at all meets the goal in one sitting.

Two checks that the log-normal with the pooled spread describes the runs:
- the observed share of single runs inside the goal around their point's median (the "service
  against itself" of predict_summary.py) beside the same share drawn from the model;
- the observed share of runs inside the goal around the mean of the other runs of their point
  (leave one out) beside the drawn one.

Last, the models the sittings ran against that floor: per endpoint and time scale, the root mean
square of log(measured / predicted) over every sitting that predicted the point (whatever the
model's version), beside the part the service's own spread explains (the variance of the log of a
median of that sitting's number of runs, drawn as above). What is left is the model's error,
its calibration and its own run-to-run spread included. Beside it, how far the service's medians
moved from sitting to sitting (their variance over the sittings, less the part a median's own
spread explains): what a model calibrated in another sitting would inherit.

Deterministic for a given --seed.
"""
import argparse
import math
import pathlib
import random
import re
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "fastapi_rag"))
import reprobe  # noqa: E402

GOAL = reprobe.GOAL


# The figures predict.sh's goal judges, read as predict_summary.py reads them.
figures = reprobe.figures


def sittings(reports):
    """{sitting: {(endpoint, scale, users): [figures of run 1, run 2, ...]}} for points run >1 times."""
    out = {}
    for sit in sorted(reports.glob("fastapi-rag-predict*")):
        points = {}
        for p in sit.glob("ts-*/*/measured-c*/result.json"):
            m = re.fullmatch(r"measured-c(\d+)(?:-r(\d+))?", p.parent.name)
            if not m:
                continue
            key = (p.parent.parent.name, p.parent.parent.parent.name[3:], int(m.group(1)))
            points.setdefault(key, []).append((int(m.group(2) or 1), figures(p)))
        points = {k: [f for _, f in sorted(v)] for k, v in points.items() if len(v) > 1}
        if points:
            out[sit.name] = points
    return out


def judged(endpoint, metric):
    return not (endpoint == "chat" and metric == "ttft p50")


def pooled(data):
    """{(endpoint, scale, users, metric): (sigma of log, degrees of freedom, sittings)}."""
    acc = {}
    for points in data.values():
        for (endpoint, scale, users), runs in points.items():
            for k in GOAL:
                if not judged(endpoint, k):
                    continue
                logs = [math.log(f[k]) for f in runs if f[k]]
                if len(logs) < 2:
                    continue
                mu = statistics.fmean(logs)
                ss, df, n = acc.get((endpoint, scale, users, k), (0.0, 0, 0))
                acc[(endpoint, scale, users, k)] = (ss + sum((x - mu) ** 2 for x in logs), df + len(logs) - 1, n + 1)
    return {key: (math.sqrt(ss / df), df, n) for key, (ss, df, n) in acc.items()}


def inside(metric, ratio):
    lo, hi = GOAL[metric]
    return lo <= ratio <= hi


def observed_checks(data):
    """(single runs inside around their median, runs; inside around the others' mean, runs)."""
    med_in = med_n = loo_in = loo_n = 0
    for points in data.values():
        for (endpoint, _, _), runs in points.items():
            for k in GOAL:
                if not judged(endpoint, k):
                    continue
                values = [f[k] for f in runs if f[k]]
                if len(values) < 2:
                    continue
                mid = statistics.median(values)
                med_in += sum(inside(k, v / mid) for v in values)
                med_n += len(values)
                for i, v in enumerate(values):
                    rest = values[:i] + values[i + 1 :]
                    loo_in += inside(k, statistics.fmean(rest) / v)
                    loo_n += 1
    return med_in, med_n, loo_in, loo_n


def model_ratios(reports):
    """[(sitting, (endpoint, scale, users, metric), log(measured median / predicted), runs)]."""
    out = []
    for sit in sorted(reports.glob("fastapi-rag-predict*")):
        for p in sit.glob("ts-*/*/predicted-c*/result.json"):
            m = re.fullmatch(r"predicted-c(\d+)", p.parent.name)
            if not m:
                continue
            c, base = int(m.group(1)), p.parent.parent
            runs = [figures(r) for r in reprobe.point_runs(base, c)]
            if not runs:
                continue
            predicted = figures(p)
            for k in GOAL:
                values = [f[k] for f in runs if f[k]]
                if not judged(base.name, k) or not values or not predicted[k]:
                    continue
                key = (base.name, base.parent.name[3:], c, k)
                out.append((sit.name, key, math.log(statistics.median(values) / predicted[k]), len(values)))
    return out


def median_var(s, n, rng, draws=4000):
    """The variance of the log of a median of N log-normal runs of spread S (sd of the log)."""
    xs = [statistics.median(rng.gauss(0.0, s) for _ in range(n)) for _ in range(draws)]
    return statistics.fmean(x * x for x in xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="?", default=str(pathlib.Path(__file__).resolve().parent.parent))
    ap.add_argument("--runs", type=int, nargs="+", default=[1, 3, 5, 7], help="runs per point (median)")
    ap.add_argument("--draws", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=12)
    a = ap.parse_args()
    if any(n < 1 for n in a.runs) or a.draws < 1:
        ap.error("--runs takes whole numbers ≥ 1 and --draws one ≥ 1")
    data = sittings(pathlib.Path(a.reports))
    if not data:
        ap.error(f"no sitting under {a.reports} measured a point more than once (measured-cN-r2/)")
    sigma = pooled(data)
    rng = random.Random(a.seed)

    print(f"Sittings read: {', '.join(data)} ({sum(len(p) for p in data.values())} points run more than once).")
    print()
    print("## The service's spread inside a sitting (log-normal, pooled over sittings)")
    print()
    print("| endpoint | time scale | users | figure | sittings | spread (sd of log) | perfect model inside, median of " + ", ".join(map(str, a.runs)) + " |")
    print("|---|---|---|---|---|---|---|")
    keys = sorted(sigma, key=lambda x: (x[0], float(x[1]), x[2], list(GOAL).index(x[3])))
    # Per figure, the chance a perfect model is inside against the median of N runs.
    p_in = {n: {} for n in a.runs}
    for key in keys:
        s, df, n_sit = sigma[key]
        lo, hi = (math.log(x) for x in GOAL[key[3]])
        for n in a.runs:
            hits = 0
            for _ in range(a.draws):
                # measured / predicted = median of n runs / true mean: inside when its log is in [lo, hi].
                m = statistics.median(rng.gauss(0.0, s) for _ in range(n))
                hits += lo <= m <= hi
            p_in[n][key] = hits / a.draws
        cells = ", ".join(f"{100 * p_in[n][key]:.0f} %" for n in a.runs)
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {n_sit} | {s:.3f} (×{math.exp(2 * s):.2f} for ±1 sd) | {cells} |")
    print()
    print("## A perfect model's score in one sitting")
    print()
    print(f"{len(keys)} figures judged. Per number of runs per point: the expected number inside, and the chance all are.")
    print()
    print("| runs per point | expected inside | all inside in one sitting |")
    print("|---|---|---|")
    for n in a.runs:
        expected = sum(p_in[n].values())
        every = math.prod(p_in[n].values())
        print(f"| {n} | {expected:.1f} of {len(keys)} | {100 * every:.1f} % |")
    print()
    med_in, med_n, loo_in, loo_n = observed_checks(data)
    # The same two shares drawn from the fitted spread, with each point's run count as measured.
    sim_med = sim_loo = 0.0
    for points in data.values():
        for (endpoint, scale, users), runs in points.items():
            for k in GOAL:
                key = (endpoint, scale, users, k)
                if key not in sigma:
                    continue
                s, n = sigma[key][0], len([f for f in runs if f[k]])
                draws = 2000
                mi = li = 0
                for _ in range(draws):
                    xs = [math.exp(rng.gauss(0.0, s)) for _ in range(n)]
                    mid = statistics.median(xs)
                    mi += sum(inside(k, x / mid) for x in xs)
                    li += sum(inside(k, statistics.fmean(xs[:i] + xs[i + 1 :]) / x) for i, x in enumerate(xs))
                sim_med += mi / draws
                sim_loo += li / draws
    print("## Does the log-normal describe the runs?")
    print()
    print("| share of single runs inside the goal | observed | drawn from the fitted spread |")
    print("|---|---|---|")
    print(f"| around their point's median | {med_in} of {med_n} ({100 * med_in / med_n:.1f} %) | {100 * sim_med / med_n:.1f} % |")
    print(f"| around the mean of their point's other runs | {loo_in} of {loo_n} ({100 * loo_in / loo_n:.1f} %) | {100 * sim_loo / loo_n:.1f} % |")
    print()
    print("## The models against that floor")
    print()
    print(
        "Every sitting's model (of its own ragperf version) against its measured medians: the root mean "
        "square of log(measured / predicted), the part of it the service's spread explains "
        "(a median of the sitting's runs, drawn from the spread above), and the rest: the model's own "
        "error, its calibration included. ×e^x reads a log as a factor."
    )
    print()
    print(
        "| endpoint | time scale | figure | ratios (sittings × points) | outside the goal | rms of the log "
        "| the service's spread | the model's rest | the service between sittings |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    # The service's own medians from sitting to sitting: how far it moved between days, beside
    # how far the models missed (a model calibrated in another sitting would inherit that move).
    medians = {}
    for points in data.values():
        for (endpoint, scale, users), runs in points.items():
            for k in GOAL:
                values = [f[k] for f in runs if f[k]]
                if judged(endpoint, k) and values:
                    medians.setdefault((endpoint, scale, users, k), []).append(math.log(statistics.median(values)))
    between = {}
    for key, logs in medians.items():
        if len(logs) > 1 and key in sigma:
            mu = statistics.fmean(logs)
            var = statistics.fmean((x - mu) ** 2 for x in logs) * len(logs) / (len(logs) - 1)
            between.setdefault((key[0], key[1], key[3]), []).append(
                max(0.0, var - median_var(sigma[key][0], 3, rng))
            )
    cache, groups = {}, {}
    for _, key, x, n in model_ratios(pathlib.Path(a.reports)):
        if key not in sigma:
            continue
        if (key, n) not in cache:
            cache[(key, n)] = median_var(sigma[key][0], n, rng)
        g = groups.setdefault((key[0], key[1], key[3]), [])
        g.append((x, cache[(key, n)], not inside(key[3], math.exp(x))))
    for (endpoint, scale, k) in sorted(groups, key=lambda g: (g[0], float(g[1]), list(GOAL).index(g[2]))):
        g = groups[(endpoint, scale, k)]
        rms = math.sqrt(statistics.fmean(x * x for x, _, _ in g))
        noise = math.sqrt(statistics.fmean(v for _, v, _ in g))
        rest = math.sqrt(max(0.0, rms * rms - noise * noise))
        out = sum(o for _, _, o in g)
        moved = between.get((endpoint, scale, k))
        moved = f"{math.sqrt(statistics.fmean(moved)):.3f}" if moved else "—"
        print(f"| {endpoint} | {scale} | {k} | {len(g)} | {out} | {rms:.3f} | {noise:.3f} | **{rest:.3f}** | {moved} |")


if __name__ == "__main__":
    main()
