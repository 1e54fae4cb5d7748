"""The probe-load table: each configuration's runs, read in their measured windows."""
import json, glob, re, sys, collections, statistics, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'examples/fastapi_rag'))
import reprobe
base = pathlib.Path(__file__).resolve().parent
rows = collections.defaultdict(list)
for p in sorted(base.glob('runs/*/result.json')):
    name = p.parent.name
    cfg = re.sub(r'-r\d+$', '', name)
    run = json.load(open(p))['runs'][0]
    s, c = run['server'], run['counters']
    answers = c['ok'] + c['warmup']['ok']  # the server's counters cover the whole run
    rows[cfg].append(dict(
        rps=run['throughput']['requests_per_s'],
        cpu=reprobe.window_cpu_per_answer_ms(run),
        cores=reprobe.window_cores(run),
        tokens=c['tokens'] / c['ok'],
        vcs=s['ctx_switches_voluntary'] / answers,
        e2e=run['latency_ms']['e2e']['p50'],
        ttft=run['latency_ms']['ttft']['p50'],
    ))
order = ['fixed120-c64', 'spread120-c64', 'spread-c64', 'fixed120-c100', 'spread-c100']
label = {'fixed120': 'fixed 120', 'spread120': 'uniform 90-150', 'spread': 'uniform 60-150'}
print('| users | answer tokens (mean) | CPU per answer, ms (r1, r2, r3) | cores | req/s | e2e p50 ms | TTFT p50 ms | the server\'s voluntary context switches per answer (whole run) |')
print('|---|---|---|---|---|---|---|---|')
for cfg in order:
    rs = rows[cfg]
    kind, users = cfg.rsplit('-c', 1)
    f = lambda k, fmt: ', '.join(fmt.format(r[k]) for r in rs)
    print(f"| {users} | {label[kind]} ({statistics.mean(r['tokens'] for r in rs):.0f}) | {f('cpu', '{:.1f}')} (median **{statistics.median(r['cpu'] for r in rs):.1f}**) | {f('cores', '{:.2f}')} | {f('rps', '{:.1f}')} | {f('e2e', '{:.0f}')} | {f('ttft', '{:.0f}')} | {f('vcs', '{:.0f}')} |")
