#!/usr/bin/env bash
# Soak: `ragperf run` at a fixed load for a long time against `ragperf mock` in another process,
# sampling both processes' RSS and open file descriptors every 10 s, then judging the drift and
# the accounting.
#   - samples:  OUT/samples.csv  (t_s, ragperf_rss_kib, ragperf_fds, mock_rss_kib, mock_fds)
#   - drift:    the least-squares trend of each series over the load after its first minute
#               (the connection ramp and allocator warm-up), from its fitted start to its fitted
#               end; goal < 5 % for RSS and fds, both processes. The first and last samples and
#               the range are printed beside it.
#   - nothing lost: per run, ok + failed + unfinished (abandoned) + never sent = sent
#   - summary:  OUT/summary.txt (also printed); exit 0 when every goal is met, 1 otherwise.
# Usage: scripts/soak.sh [MINUTES (30)] [CONCURRENCY (1000)]
# Env: RAGPERF (default target/release/ragperf, rebuilt first when stale), VARIANT (async),
#      TIME_SCALE (1: the seed's latencies), OUT (reports/soak), INTERVAL (10, seconds),
#      MOCK_THREADS (default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30} users=${2:-1000}
bin=${RAGPERF:-target/release/ragperf}
variant=${VARIANT:-async} scale=${TIME_SCALE:-1} out=${OUT:-reports/soak} every=${INTERVAL:-10}
# Without RAGPERF, build first: cargo does nothing when the binary is fresh, and a stale one
# would soak yesterday's code.
[ -n "${RAGPERF:-}" ] || cargo build --release --bin ragperf
[ -x "$bin" ] || { echo "soak: $bin is not an executable (RAGPERF?)"; exit 2; }
mkdir -p "$out"
rm -f "$out/samples.csv" "$out/summary.txt"

mock_pid= run_pid=
cleanup() {
    set +e
    [ -z "$run_pid" ] || kill -TERM "$run_pid" 2>/dev/null
    [ -z "$mock_pid" ] || { kill -INT "$mock_pid"; wait "$mock_pid"; } 2>/dev/null
}
trap cleanup EXIT

# The mocks on free ports, in their own process; their first two stdout lines are the URLs.
mock_args=(mock --qdrant 127.0.0.1:0 --bedrock 127.0.0.1:0 --time-scale "$scale")
[ -z "${MOCK_THREADS:-}" ] || mock_args+=(--threads "$MOCK_THREADS")
"$bin" "${mock_args[@]}" >"$out/mock.stdout" 2>"$out/mock.stderr" &
mock_pid=$!
for _ in $(seq 100); do
    [ "$(grep -c '^\(qdrant\|bedrock\) ' "$out/mock.stdout" 2>/dev/null)" = 2 ] && break
    sleep 0.1
done
qdrant=$(awk '$1 == "qdrant" { print $2 }' "$out/mock.stdout")
bedrock=$(awk '$1 == "bedrock" { print $2 }' "$out/mock.stdout")
[ -n "$qdrant" ] && [ -n "$bedrock" ] || { echo "the mock did not start:"; cat "$out/mock.stderr"; exit 1; }

echo "soak: $variant at c=$users for ${minutes} min (time scale $scale) against $bedrock; samples every ${every} s into $out/samples.csv"
"$bin" run --variant "$variant" -c "$users" -d "${minutes}m" --time-scale "$scale" \
    --qdrant-url "$qdrant" --bedrock-url "$bedrock" --no-progress --out "$out/run" \
    >"$out/run.stdout" 2>"$out/run.stderr" &
run_pid=$!

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
echo "t_s,ragperf_rss_kib,ragperf_fds,mock_rss_kib,mock_fds" >"$out/samples.csv"
start=$(date +%s)
while kill -0 "$run_pid" 2>/dev/null; do
    r_rss=$(rss_kib "$run_pid") r_fds=$(fds "$run_pid")
    m_rss=$(rss_kib "$mock_pid") m_fds=$(fds "$mock_pid")
    [ -z "$r_rss" ] || echo "$(($(date +%s) - start)),$r_rss,$r_fds,$m_rss,$m_fds" >>"$out/samples.csv"
    # Sleep in short steps so the end of the run is noticed at once.
    for _ in $(seq $((every * 5))); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.2; done
done
set +e
wait "$run_pid"
run_code=$?
set -e
run_pid=

python3 - "$out" "$minutes" "$run_code" <<'PY' | tee "$out/summary.txt"
import csv, json, sys
out, minutes, run_code = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(f"{out}/samples.csv"))]
load_end = 60 * minutes  # the warm-up adds a few seconds; later samples may be the drain
steady = [r for r in rows if 60 <= r["t_s"] <= load_end]
ok = True
print(f"ragperf run exit code {run_code}; {len(rows)} samples, {len(steady)} after the first minute")
if len(steady) < 2:
    print("FAIL: fewer than two samples after the first minute (run longer than 1 min)")
    ok = False
else:
    first, last = steady[0], steady[-1]
    pct = lambda a, b: (b - a) / a * 100 if a else float("inf")
    ts = [r["t_s"] for r in steady]
    for col, label in [("ragperf_rss_kib", "ragperf RSS"), ("ragperf_fds", "ragperf fds"),
                       ("mock_rss_kib", "mock RSS"), ("mock_fds", "mock fds")]:
        ys = [r[col] for r in steady]
        # The drift is the least-squares trend over the span: a leak (state kept per request)
        # is a slope and shows however the samples scatter; one sample against another also
        # measures where each fell in the noise (connections open and close, buffers adapt).
        n, mt, my = len(ts), sum(ts) / len(ts), sum(ys) / len(ys)
        var = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var else 0.0
        fit_a = my + slope * (ts[0] - mt)
        fit_b = my + slope * (ts[-1] - mt)
        drift = pct(fit_a, fit_b)
        good = abs(drift) < 5
        ok &= good
        unit = " KiB" if "rss" in col else ""
        print(f"{'ok  ' if good else 'FAIL'} {label:12} trend {fit_a:>8.0f}{unit} at {ts[0]:.0f} s -> "
              f"{fit_b:>8.0f}{unit} at {ts[-1]:.0f} s: drift {drift:+.1f} % (goal < 5 %); samples "
              f"{first[col]:.0f} -> {last[col]:.0f} ({pct(first[col], last[col]):+.1f} %), "
              f"range {min(ys):.0f}..{max(ys):.0f}")
try:
    result = json.load(open(f"{out}/run/result.json"))
except Exception as e:  # the run failed before writing anything
    print(f"FAIL: no result: {e}")
    sys.exit(1)
for run in result["runs"]:
    c = run["counters"]
    ended = c["ok"] + c["failed"] + c.get("abandoned", 0) + c.get("never_sent", 0)
    good = ended == c["sent"]
    ok &= good
    print(f"{'ok  ' if good else 'FAIL'} nothing lost ({run['variant']}): ok {c['ok']} + failed {c['failed']} "
          f"+ unfinished {c.get('abandoned', 0)} + never sent {c.get('never_sent', 0)} = {ended}, sent {c['sent']}")
ok &= run_code == 0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
