#!/usr/bin/env python3
"""The sitting's model with the service's own CPU per answer at each point: does the model's
structure (variant, pool, GIL, where the CPU runs) predict the point when its CPU figure is right?

Usage:
  own_cpu.py scenario SITTING_POINT_DIR USERS OUT_TOML
      # the point's calibrated scenario (SITTING_POINT_DIR/calibration/calibrated.toml) with its
      # CPU per request, per token and per read scaled so that the model's CPU per answer at the
      # point's mean answer length is the median over the point's measured runs of the service's
      # CPU per answer inside their windows; prints the factor
  own_cpu.py summary SITTING OUT
      # measured (the median of the point's runs) over the sitting's model, over the model with
      # the point's own CPU (OUT/ts-*/<endpoint>/own-cN/result.json) and, where own_cpu.sh ran
      # it (a thread pool's points), over that model with no CPU outside the GIL
      # (cpu_outside_gil_share = 0: own0-cN/)

The scaling is examples/fastapi_rag/reprobe.py's `own` (predict.sh's DRIFT=own does the same in a
sitting): the model's CPU per answer at L tokens is cpu_work_us + L x (cpu_per_token_us +
cpu_per_read_us), one socket read per token event, as at the calibration's probes.
"""
import pathlib
import re
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "fastapi_rag"))
import reprobe  # noqa: E402
import floor  # noqa: E402  (same directory: figures, GOAL)


measured_runs = reprobe.point_runs


def scenario(point_dir, users, out):
    runs = measured_runs(point_dir, users)
    if not runs:
        sys.exit(f"own_cpu.py: no run at {users} users under {point_dir}")
    reprobe.own(pathlib.Path(point_dir) / "calibration", out, runs)


def summary(sitting, out):
    if not any(pathlib.Path(out).glob("ts-*/*/own-c*/result.json")):
        sys.exit(f"own_cpu.py: no ts-*/<endpoint>/own-cN/result.json under {out}; run own_cpu.sh first")
    print(
        "| endpoint | time scale | c | CPU scale | figure | measured | the sitting's model "
        "| with the point's own CPU | and none outside the GIL |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    names = ("model", "own", "own0")
    counts = {n: [0, 0] for n in names}
    found = pathlib.Path(out).glob("ts-*/*/own-c*/result.json")
    # Time scale, endpoint, then users as numbers (50 before 100).
    for own in sorted(found, key=lambda p: (p.parts[-4], p.parts[-3], int(p.parent.name[5:]))):
        users = int(own.parent.name[5:])
        endpoint, scale = own.parent.parent.name, own.parent.parent.parent.name
        point = pathlib.Path(sitting) / scale / endpoint
        runs = [floor.figures(p) for p in measured_runs(point, users)]
        models = {
            "model": point / f"predicted-c{users}" / "result.json",
            "own": own,
            "own0": own.parent.parent / f"own0-c{users}" / "result.json",
        }
        models = {n: floor.figures(p) for n, p in models.items() if p.exists()}
        factor = re.search(r"scaled by ([\d.]+)", (own.parent.parent / f"own-c{users}.toml").read_text()).group(1)
        for k in floor.GOAL:
            values = [f[k] for f in runs if f[k]]
            if not floor.judged(endpoint, k) or not values:
                continue
            m = statistics.median(values)
            cells = []
            for name in names:
                if name not in models:
                    cells.append("—")
                    continue
                ratio = m / models[name][k]
                ok = floor.inside(k, ratio)
                counts[name][0] += ok
                counts[name][1] += 1
                cells.append(f"{ratio:.2f}{'' if ok else ' ✗'}")
            print(f"| {endpoint} | {scale[3:]} | {users} | ×{factor} | {k} | {m:.1f} | " + " | ".join(cells) + " |")
    print()
    labels = {
        "model": "the sitting's model",
        "own": "the model with each point's own CPU",
        "own0": "that model with no CPU outside the GIL (where run)",
    }
    for name in names:
        if counts[name][1]:
            print(f"{labels[name]}: {counts[name][0]} of {counts[name][1]} inside the goal.")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "scenario":
        scenario(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__.strip())
