#!/usr/bin/env python3
"""The calibration's probe, measured again: is the service still the one that was calibrated?

Usage:
  reprobe.py scenario CALIBRATION_DIR OUT_TOML        # the probe's scenario; prints "USERS TOKENS WARMUP DURATION"
  reprobe.py compare CALIBRATION_DIR RESULT_JSON      # the probe then and now (JSON)
  reprobe.py adjust CALIBRATION_DIR RESULT_JSON OUT_TOML
      # the calibrated scenario with its CPU per request and per token scaled by now / then;
      # prints the factor
  reprobe.py speed CALIBRATION_DIR MEASURED_RESULT_JSON OUT_TOML
      # the calibrated scenario with its CPU scaled to the machine's speed during a measured
      # point: the calibration's machine speed / the point's; prints the factor
  reprobe.py own CALIBRATION_DIR OUT_TOML MEASURED_RESULT_JSON [MORE_RUNS_OF_THE_POINT ...]
      # the calibrated scenario with its CPU scaled so that the model's CPU per answer at the
      # runs' mean answer length is the service's, measured at the point (the median over its
      # runs); prints the factor. Not a prediction: a diagnosis of the model given its CPU

The scenario is the calibrated one with every answer the probe's fixed length (calibrate measures
each phase at one length) and without its [request] and [load] tables (the model's CPU, GIL,
variant and pool); `ragperf run --target … --scenario OUT_TOML -c USERS` measures it. The service
starts afresh for it, where calibrate's probe ran on a service warm from the low levels.
`compare` reads the server's CPU per answer inside the measured window — the figure calibration
fits — and its req/s, from the calibration's probe observation and from the new result.

`speed` needs no second run: ragperf reads the machine's speed beside the server's CPU (rounds
of its work function per µs of CPU, every sample), calibrate puts every point's CPU at the
median of those readings (`machine_speed` in calibration.json), and a measured point's readings
say how much slower or faster the machine ran while it was measured.
"""
import json
import pathlib
import re
import statistics
import sys


# The goal predict.sh's tables judge: measured / predicted inside these bands.
GOAL = {"req/s": (0.85, 1.15), "e2e p50": (0.85, 1.15), "ttft p50": (0.7, 1.4)}


def point_runs(base, users):
    """The result.json of every run predict.sh measured at USERS under BASE (an endpoint's
    directory: measured-cN/, then measured-cN-r2/, ...), in the order measured."""
    runs = []
    for p in pathlib.Path(base).glob(f"measured-c{users}*/result.json"):
        m = re.fullmatch(rf"measured-c{users}(?:-r(\d+))?", p.parent.name)
        if m:
            runs.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(runs)]


def figures(path):
    """req/s, e2e p50 and TTFT p50 of one result.json (a p50 None where nothing was timed): the
    figures predict.sh's goal judges."""
    r = json.loads(pathlib.Path(path).read_text())["runs"][0]
    lat = r["latency_ms"]

    def p50(k):
        v = lat.get(k, {})
        return v["p50"] if v.get("count") else None

    return {"req/s": r["throughput"]["requests_per_s"], "e2e p50": p50("e2e"), "ttft p50": p50("ttft")}


def find_probe(cal):
    """The probe observation at the longest answers (the one the CPU fit leans on most), or
    None for a calibration without a probe (calibrate --probe 0)."""
    probes = [o for o in cal["observations"] if o["probe"]]
    return max(probes, key=lambda o: (o["tokens_setting"], o["concurrency"])) if probes else None


def probe_of(cal):
    """find_probe, or exit saying there is none."""
    probe = find_probe(cal)
    if probe is None:
        sys.exit("reprobe.py: this calibration has no probe (calibrate --probe 0)")
    return probe


def seconds(text):
    """A humantime duration as ragperf writes it (e.g. "16s 757ms 869us"), in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"([0-9.]+)\s*(ms|us|ns|h|m|s)", text or "")
    return sum(float(n) * units[u] for n, u in parts) if parts else None


def probe_durations(cal_dir, probe):
    """The warm-up and window calibrate gave its probe, read from the probe's phase
    (calibrate warms a point up for at least 4 service times of its answers), as ragperf
    flags; calibrate's defaults (5s, 10s) when the phase is not kept beside it."""
    # A deeper probe's pass (calibrate measured an event loop again) is under probe-U/.
    cal = json.loads((pathlib.Path(cal_dir) / "calibration.json").read_text())
    deeper = cal.get("deeper_probe")
    pass_dir = f"probe-{deeper['users']}" if deeper else "."
    phase = pathlib.Path(cal_dir) / pass_dir / f"tokens-{probe['tokens_setting']}" / "result.json"
    try:
        load = json.loads(phase.read_text())["scenario"]["load"]
    except (OSError, ValueError, KeyError):
        load = {}
    warmup, duration = seconds(load.get("warmup")), seconds(load.get("duration"))
    return f"{warmup or 5.0:.1f}s", f"{duration or 10.0:.1f}s"


def scenario(cal_dir, out):
    cal_dir = pathlib.Path(cal_dir)
    probe = probe_of(json.loads((cal_dir / "calibration.json").read_text()))
    toml = (cal_dir / "calibrated.toml").read_text()
    fixed = f'[bedrock.output_tokens]\ndist = "fixed"\nvalue = {float(probe["tokens_setting"])}\n'
    toml, n = re.subn(r"\[bedrock\.output_tokens\]\n(?:[^\[\n][^\n]*\n)*", fixed, toml)
    if n != 1:
        sys.exit(f"reprobe.py: no [bedrock.output_tokens] table in {cal_dir / 'calibrated.toml'}")
    # The model's own settings (its CPU, GIL, variant, pool) do not apply to a --target run:
    # ragperf refuses them there.
    toml = re.sub(r"\[(?:request|load)\]\n(?:[^\[\n][^\n]*\n)*", "", toml)
    pathlib.Path(out).write_text(toml)
    print(probe["concurrency"], probe["tokens_setting"], *probe_durations(cal_dir, probe))


def cumulative_cpu_at(samples, t):
    """The server's CPU since its sampling started, at T seconds on the samples' clock."""
    for a, b in zip(samples, samples[1:]):
        if a["t_s"] <= t <= b["t_s"]:
            share = (t - a["t_s"]) / (b["t_s"] - a["t_s"]) if b["t_s"] > a["t_s"] else 0.0
            return a["cpu_s"] + share * (b["cpu_s"] - a["cpu_s"])
    return None


def window_cpu_per_answer_ms(run):
    """The server's CPU per successful answer inside the measured window: its CPU between the
    window's edges (read off its samples) per second over the window's req/s. ragperf's own
    figure for calibration (metrics::server::window_cpu_per_request_ms); None when the samples
    do not cover the window, nothing succeeded in it, or something failed."""
    rate = run["throughput"]["requests_per_s"]
    busy = window_cores(run)
    if busy is None or rate <= 0 or run["counters"]["failed"]:
        return None
    return busy / rate * 1000


def window_cores(run):
    """The server's CPU per second inside the measured window (the cores it kept busy), or None
    when its samples do not cover the window."""
    edges = window_edges(run)
    if edges is None:
        return None
    (t0, t1), samples = edges, run["server"]["samples"]
    c0, c1 = cumulative_cpu_at(samples, t0), cumulative_cpu_at(samples, t1)
    return None if c0 is None or c1 is None else (c1 - c0) / (t1 - t0)


def window_edges(run):
    """The measured window's edges on the server samples' clock, or None."""
    server, drive = run.get("server") or {}, run.get("drive") or {}
    if not server.get("samples") or not drive:
        return None
    offset = server.get("started_us", 0) / 1e6
    t0, t1 = drive["window_start_us"] / 1e6 - offset, drive["window_end_us"] / 1e6 - offset
    return (t0, t1) if t1 > t0 else None


def window_speed(run):
    """The machine's mean speed inside the measured window, from the server samples' readings
    (ragperf's metrics::server::window_speed); None with fewer than three there."""
    edges = window_edges(run)
    if edges is None:
        return None
    v = [s["speed"] for s in run["server"]["samples"]
         if edges[0] <= s["t_s"] <= edges[1] and s.get("speed", 0) > 0]
    return sum(v) / len(v) if len(v) >= 3 else None


def cpu_per_answer_ms(run):
    """Server CPU per answer, as calibrate reads it: inside the measured window, else per answer
    the mock generated over the whole run (warm-up and drain included)."""
    if run is None:
        return None
    window = window_cpu_per_answer_ms(run)
    if window is not None:
        return window
    server, mock = run.get("server"), run.get("mock")
    if not server or not mock:
        return None
    answers = sum(mock["requests"].get(op, 0) for op in ("converse_stream", "converse"))
    if answers == 0:
        return None
    return (server["cpu_user_s"] + server["cpu_sys_s"]) * 1000 / answers


def then_and_now(cal_dir, result):
    """The calibration's probe and the same probe measured again (RESULT_JSON)."""
    probe = probe_of(json.loads((pathlib.Path(cal_dir) / "calibration.json").read_text()))
    runs = json.loads(pathlib.Path(result).read_text())["runs"]
    run = next((r for r in runs if r["point"]["concurrency"] == probe["concurrency"]), None)
    if run is None:
        sys.exit(f"reprobe.py: {result} has no point at the probe's {probe['concurrency']} users")
    return {
        "users": probe["concurrency"],
        "tokens": probe["tokens_setting"],
        "cpu_ms_then": probe["cpu_per_request_ms"],
        "cpu_ms_now": cpu_per_answer_ms(run),
        "req_s_then": probe["requests_per_s"],
        "req_s_now": run["throughput"]["requests_per_s"],
    }


def compare(cal_dir, result):
    print(json.dumps(then_and_now(cal_dir, result)))


def adjust(cal_dir, result, out):
    """The calibrated scenario with its CPU (per request, per token, per read) times now / then."""
    figures = then_and_now(cal_dir, result)
    then, now = figures["cpu_ms_then"], figures["cpu_ms_now"]
    if not then or not now:
        sys.exit(f"reprobe.py: no CPU per answer in {result} (no server figures or no answer)")
    note = f"the probe's CPU per answer {then:.1f} -> {now:.1f} ms"
    scaled(cal_dir, now / then, note, out)


def speed_then_and_now(cal_dir, result):
    """The calibration's machine speed and a measured point's (RESULT_JSON), or Nones."""
    cal = json.loads((pathlib.Path(cal_dir) / "calibration.json").read_text())
    run = json.loads(pathlib.Path(result).read_text())["runs"][0]
    return cal.get("machine_speed"), window_speed(run)


def speed(cal_dir, result, out):
    """The calibrated scenario with its CPU at the machine's speed during a measured point."""
    then, now = speed_then_and_now(cal_dir, result)
    if not then or not now:
        sys.exit(f"reprobe.py: no machine speed in {cal_dir}/calibration.json or {result}")
    note = f"the machine's speed {then:.3f} at calibration, {now:.3f} during {result}"
    scaled(cal_dir, then / now, note, out)


def model_cpu_ms(toml, tokens):
    """The calibrated model's CPU per answer of TOKENS token events, ms: per request, plus per
    token event and per socket read (one read per token event, as at the calibration's probes)."""

    def key(name):
        m = re.search(rf"^{name} = (\d+)$", toml, flags=re.M)
        return int(m.group(1)) if m else 0

    return (key("cpu_work_us") + tokens * (key("cpu_per_token_us") + key("cpu_per_read_us"))) / 1000


OWN = "the point's own CPU per answer"


def own(cal_dir, out, results):
    """The calibrated scenario with the CPU per answer the service spent at the point (RESULTS:
    its runs), at the runs' mean answer length."""
    cpu, tokens = [], []
    for result in results:
        run = json.loads(pathlib.Path(result).read_text())["runs"][0]
        ms = cpu_per_answer_ms(run)
        if ms and run["counters"]["ok"]:
            cpu.append(ms)
            tokens.append(run["counters"]["tokens"] / run["counters"]["ok"])
    if not cpu:
        sys.exit(f"reprobe.py: no CPU per answer in {', '.join(map(str, results))} (no server figures or no answer)")
    toml = (pathlib.Path(cal_dir) / "calibrated.toml").read_text()
    length = sum(tokens) / len(tokens)
    model = model_cpu_ms(toml, length)
    if model <= 0:
        sys.exit(f"reprobe.py: the model in {cal_dir}/calibrated.toml spends no CPU to scale")
    want = statistics.median(cpu)
    why = (
        f"{OWN}, the median of {len(cpu)} runs ({', '.join(f'{x:.1f}' for x in cpu)} ms at "
        f"{length:.0f} tokens), over the model's {model:.1f} ms"
    )
    scaled(cal_dir, want / model, why, out)


def scaled(cal_dir, factor, why, out):
    """Writes the calibrated scenario with its CPU times FACTOR to OUT; prints the factor."""
    toml = (pathlib.Path(cal_dir) / "calibrated.toml").read_text()
    for key in ("cpu_work_us", "cpu_per_token_us", "cpu_per_read_us"):
        toml, n = re.subn(
            rf"^{key} = (\d+)$", lambda m: f"{key} = {round(int(m.group(1)) * factor)}", toml,
            flags=re.M,
        )
        # cpu_per_read_us: absent in scenarios written before ragperf measured it.
        if n != 1 and key != "cpu_per_read_us":
            sys.exit(f"reprobe.py: no `{key} = N` line in {cal_dir}/calibrated.toml")
    pathlib.Path(out).write_text(f"# The CPU below scaled by {factor:.3f}: {why}.\n" + toml)
    print(f"{factor:.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "scenario":
        scenario(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "adjust":
        adjust(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "speed":
        speed(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 5 and sys.argv[1] == "own":
        own(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
