#!/usr/bin/env bash
# How many concurrent ConverseStream streams can one `ragperf mock` process hold on time?
#
# Starts `ragperf mock` (its own process) with scenarios/stream-capacity.toml (first token after
# 100 ms, then 100 tokens 100 ms apart), then for each stream count N measures it from a second
# process and prints the client-measured inter-token gap, the mock's own timer lateness, the
# token-event rate and what one token event cost each side in CPU.
#
# The client is `ragperf streams` (a lean HTTP/1.1 client that decodes every event-stream frame:
# the instrument), or with CLIENT=async ragperf's `async` RAG variant (reqwest; embeds and
# searches too), to see what a general-purpose client costs on the same cores.
#
# Usage: scripts/stream_capacity.sh [N ...]     (default: 2000 4000 6000 7000 8000 10000)
# Env:   DURATION  measured window per run (default 15s)
#        REPEAT    runs per N (default 1; the machine is shared and noisy, so use 3 for a claim)
#        CLIENT    streams | async (default streams)
#        RAGPERF   the binary (default target/release/ragperf; built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(2000 4000 6000 7000 8000 10000)
duration=${DURATION:-15s}
repeat=${REPEAT:-1}
client=${CLIENT:-streams}
case "$client" in streams | async) ;; *)
  echo "CLIENT must be streams or async, not \`$client\`" >&2
  exit 2
  ;;
esac
bin=${RAGPERF:-target/release/ragperf}
[ -x "$bin" ] || cargo build --release --quiet
out=$(mktemp -d)
log="$out/mock.log"
"$bin" mock --qdrant 127.0.0.1:0 --bedrock 127.0.0.1:0 --scenario scenarios/stream-capacity.toml >"$log" 2>&1 &
mock=$!
trap 'kill -INT $mock 2>/dev/null || true; wait $mock 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q '^bedrock ' "$log" && break; sleep 0.1; done
qdrant=$(awk '/^qdrant /{print $2}' "$log")
bedrock=$(awk '/^bedrock /{print $2}' "$log")
[ -n "$bedrock" ] || { cat "$log"; exit 1; }
echo "client: $client; window $duration per run; mock at $bedrock"
printf '%8s %4s %10s %24s %10s %11s %11s %13s %8s  %s\n' \
  streams run tokens/s "gap p50 / p99 / p99.9 ms" "p99 error" mock_late99 mock_us/tok client_us/tok failed verdict
for n in "${counts[@]}"; do
  for r in $(seq 1 "$repeat"); do
    json="$out/c$n-$r.json"
    if [ "$client" = streams ]; then
      "$bin" streams --scenario scenarios/stream-capacity.toml -c "$n" --duration "$duration" \
        --bedrock-url "$bedrock" --json >"$json"
    else
      "$bin" run --scenario scenarios/stream-capacity.toml --variant async -c "$n" --duration "$duration" \
        --qdrant-url "$qdrant" --bedrock-url "$bedrock" --no-progress --json --out "$out/c$n-$r" >"$json"
    fi
    python3 - "$json" "$n" "$r" "$client" <<'PY'
import json, math, sys
path, n, rep, client = sys.argv[1:]
d = json.load(open(path))
if client == "streams":
    itl, tps = d["itl_ms"], d["tokens_per_s"]
    side = d.get("endpoint_side") or {}
    late = (side.get("timer_lateness_ms") or {}).get("p99", math.nan)
    mock_us = side.get("cpu_per_token_us") or math.nan
    client_us = d["client_cpu_per_token_us"]
    failed = sum(d["failed"].values())
    gap = d["expected_gap_ms"]
else:
    r = d["runs"][0]
    itl, tps = r["latency_ms"]["itl"], r["throughput"]["tokens_per_s"]
    m = r["mock"] or {}
    late = (m.get("timer_lateness_ms") or {}).get("p99", math.nan)
    mock_us = m.get("cpu_per_token_us") or math.nan
    tokens = m.get("tokens_sent") or r["counters"]["tokens"]
    cpu = r["process"]["cpu_user_s"] + r["process"]["cpu_sys_s"]
    client_us = cpu * 1e6 / tokens if tokens else math.nan
    failed = r["counters"]["failed"] + r["counters"]["abandoned"]
    gap = 100.0
err = itl["p99"] - gap
ok = failed == 0 and err <= 2.0
gaps = f'{itl["p50"]:.1f} / {itl["p99"]:.1f} / {itl["p999"]:.1f}'
print(f'{n:>8} {rep:>4} {tps:>10.0f} {gaps:>24} {err:>10.2f} {late:>11.1f} {mock_us:>11.1f} '
      f'{client_us:>13.1f} {failed:>8}  {"on time" if ok else "LATE"}')
PY
  done
done
