#!/usr/bin/env bash
# The probe (64 users, 120-token answers, time scale 1, the seed's `async def` endpoint) after
# 5, 10 and 20 s of warm-up, each on a fresh start of the service, three rounds alternated.
# From the repository's root: bash reports/probe-load/warmup/run.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
app="$root/examples/fastapi_rag"
RAGPERF=${RAGPERF:-$root/target/release/ragperf}
PORT=${PORT:-18080}
uv="python3 -m uvicorn --app-dir $app app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
for r in 1 2 3; do
  for w in 5 10 20; do
    "$RAGPERF" run --no-progress --scenario "$here/../fixed120.toml" -c 64 -d 10s --warmup "${w}s" \
      --target "http://127.0.0.1:$PORT/chat/stream" --target-name stream-async --protocol sse \
      --target-cmd "$uv" --target-ready "http://127.0.0.1:$PORT/health" --out "$here/w$w-r$r" > /dev/null
    echo "$(date +%T) w=$w r=$r rc=$?"
  done
done
