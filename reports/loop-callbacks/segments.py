"""req/s, and how bunched a run's completions are (the coefficient of variation of completions per
0.25 s of the measured window), from a ragperf result.json timeline.

The timeline holds the measured requests only (issued inside the window), so the window's first
seconds count fewer completions than a steady state would: compare the figure between runs of
the same point and window only (as this report does), not across points."""
import json, sys, statistics
BIN = 0.25
for path in sys.argv[1:]:
    d = json.load(open(path))
    r = d['runs'][0]
    tl = [x for x in r['timeline'] if x['ok'] and x['finished_us']]
    ws = r['drive']['window_start_us'] / 1e6
    we = r['drive']['window_end_us'] / 1e6
    fin = sorted(x['finished_us'] / 1e6 for x in tl)
    nb = int((we - ws) / BIN)
    bins = [0] * nb
    for f in fin:
        b = int((f - ws) / BIN)
        if 0 <= b < nb:
            bins[b] += 1
    m = statistics.mean(bins)
    cv = statistics.pstdev(bins) / m if m else float('nan')
    ttft = [(x['first_token_us'] - x['started_us']) / 1e3 for x in tl if x['first_token_us']]
    e2e = [(x['finished_us'] - x['started_us']) / 1e3 for x in tl]
    print(f"{path}: req/s {r['throughput']['requests_per_s']:.1f}"
          + f"; bunching (CV of completions per {BIN} s) {cv:.2f}; e2e p50 {statistics.median(e2e):.0f} ms, TTFT p50 {statistics.median(ttft):.0f} ms")
