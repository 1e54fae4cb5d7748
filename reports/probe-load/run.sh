#!/usr/bin/env bash
# The thirteenth sitting's time-scale-1 `async def` probe (64 users, 120-token answers) beside
# the same 64 users with a spread of answer lengths, and 100 users: each on a fresh start of the
# service, three rounds alternated. From the repository's root:
#   bash reports/probe-load/run.sh && python3 reports/probe-load/table.py
# The scenario files are the thirteenth's calibrated.toml for that endpoint, its model keys
# taken out (reprobe.py scenario), with [bedrock.output_tokens] as named.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
app="$root/examples/fastapi_rag"
RAGPERF=${RAGPERF:-$root/target/release/ragperf}
PORT=${PORT:-18080}
uv="python3 -m uvicorn --app-dir $app app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
for r in 1 2 3; do
  for cfg in fixed120:64 spread120:64 spread:64 fixed120:100 spread:100; do
    s=${cfg%%:*}; c=${cfg##*:}
    "$RAGPERF" run --no-progress --scenario "$here/$s.toml" -c "$c" -d 20s --warmup 10s \
      --target "http://127.0.0.1:$PORT/chat/stream" --target-name stream-async --protocol sse \
      --target-cmd "$uv" --target-ready "http://127.0.0.1:$PORT/health" \
      --out "$here/runs/$s-c$c-r$r" > /dev/null
    echo "$(date +%T) $s c=$c r=$r rc=$?"
  done
done
