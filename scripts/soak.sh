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

python3 scripts/soak_judge.py "$out" "$minutes" "$run_code" | tee "$out/summary.txt"
exit "${PIPESTATUS[0]}"
