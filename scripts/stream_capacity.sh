#!/usr/bin/env bash
# How many concurrent ConverseStream streams can one `ragperf mock` process hold on time?
#
# Starts `ragperf mock` (its own process) with scenarios/stream-capacity.toml (first token after
# 100 ms, then 100 tokens 100 ms apart), then for each stream count N drives it with ragperf's
# `async` variant (another process: a real client that decodes every event-stream frame) and
# prints the client-measured inter-token gap, the mock's own timer lateness, the token-event rate
# and what one token event cost each side in CPU.
#
# Usage: scripts/stream_capacity.sh [N ...]          (default: 1000 2500 5000 7500 10000)
# Env:   DURATION (default 20s), RAGPERF (default target/release/ragperf; built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 2500 5000 7500 10000)
duration=${DURATION:-20s}
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
printf '%8s %10s %10s %10s %10s %11s %10s %10s %8s\n' streams tokens/s itl_p50 itl_p99 itl_p999 mock_late99 mock_us/tok client_us/tok errors
for n in "${counts[@]}"; do
  "$bin" run --scenario scenarios/stream-capacity.toml --variant async -c "$n" --duration "$duration" \
    --qdrant-url "$qdrant" --bedrock-url "$bedrock" --no-progress --json --out "$out/c$n" >"$out/c$n.json"
  python3 - "$out/c$n.json" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
itl = r["latency_ms"]["itl"]
m = r["mock"] or {}
tokens = m.get("tokens_sent") or r["counters"]["tokens"]
client_cpu = r["process"]["cpu_user_s"] + r["process"]["cpu_sys_s"]
late = (m.get("timer_lateness_ms") or {}).get("p99", float("nan"))
mock_us = m.get("cpu_per_token_us") or float("nan")
client_us = client_cpu * 1e6 / tokens if tokens else float("nan")
errors = r["counters"]["failed"] + r["counters"]["abandoned"]
print(f'{sys.argv[2]:>8} {r["throughput"]["tokens_per_s"]:>10.0f} {itl["p50"]:>10.1f} {itl["p99"]:>10.1f} '
      f'{itl["p999"]:>10.1f} {late:>11.1f} {mock_us:>10.1f} {client_us:>10.1f} {errors:>8}')
PY
done
