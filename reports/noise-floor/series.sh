#!/bin/bash
# Does Python's speed on the machine move with the service's CPU per answer? For MINUTES
# (default 40): pyspeed.py (3 s of CPU, the machine otherwise idle), then one run of the async
# endpoint at time scale 1 and 100 users with predict.sh's window, on a fresh start of the service.
#
#   RAGPERF=target/release/ragperf MINUTES=40 bash reports/noise-floor/series.sh OUT
#   python3 reports/noise-floor/series.py OUT
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: series.sh OUT}
rp=${RAGPERF:-$root/target/release/ragperf}
here=$root/examples/fastapi_rag
port=${PORT:-18080}
uv="python3 -m uvicorn --app-dir $here app:app --host 127.0.0.1 --port $port --workers 1 --log-level warning"
mkdir -p "$out"
end=$(( $(date +%s) + ${MINUTES:-40} * 60 ))
k=0
while [ "$(date +%s)" -lt "$end" ]; do
  k=$((k + 1))
  echo "$k $(date -u +%T) pyspeed $(python3 "$root/reports/noise-floor/pyspeed.py" 3)" >> "$out/pyspeed.txt"
  "$rp" run --no-progress --time-scale 1 -c 100 -d 15s --warmup 12s \
    --target "http://127.0.0.1:$port/chat/stream" --target-name stream-async --protocol sse \
    --target-cmd "$uv" --target-ready "http://127.0.0.1:$port/health" --expect-citations \
    --out "$out/run-$k" > /dev/null 2>&1
  echo "$k $(date -u +%T) rc=$?"
done
