#!/bin/bash
# One 30 s run (10 s warm-up) with the server's threads read by threads.py over 20 s inside it.
#   run.sh service TIME_SCALE USERS OUT   the seed's `async def` endpoint (/chat/stream), started
#                                         by ragperf against its embedded mocks
#   run.sh model SCENARIO USERS OUT       a calibrated model (the threads are ragperf's own)
# RAGPERF: the ragperf binary (default target/release/ragperf). Run from the repository root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
app=$(cd "$here/../../examples/fastapi_rag" && pwd)
RAGPERF=${RAGPERF:-target/release/ragperf}
kind=$1 arg=$2 users=$3 out=$4
mkdir -p "$out"
if [ "$kind" = service ]; then
  cmd="python3 -m uvicorn --app-dir $app app:app --host 127.0.0.1 --port 18080 --workers 1 --log-level warning"
  python3 "$here/threads.py" "^[^ ]*python3 -m uvicorn" 18 20 50 > "$out/threads.txt" &
  "$RAGPERF" run --no-progress --time-scale "$arg" -c "$users" -d 30s --warmup 10s \
    --target http://127.0.0.1:18080/chat/stream --target-name stream-async --protocol sse \
    --target-cmd "$cmd" --target-ready http://127.0.0.1:18080/health --out "$out" > "$out/run.log" 2>&1
else
  python3 "$here/threads.py" "^[^ ]*$(basename "$RAGPERF") run --no-progress --scenario" 15 20 50 > "$out/threads.txt" &
  "$RAGPERF" run --no-progress --scenario "$arg" -c "$users" -d 30s --warmup 10s --out "$out" > "$out/run.log" 2>&1
fi
wait
grep -E "^(target stream-async|async-single) +c=" "$out/run.log" > "$out/summary.txt"
