#!/usr/bin/env bash
# The seed's service under load: every endpoint of app.py at several concurrencies, each with
# `ragperf sweep --target … --target-cmd …` (ragperf starts its embedded mocks, then uvicorn with
# their URLs in RAGPERF_QDRANT_URL / RAGPERF_BEDROCK_URL, samples the server from /proc, stops it),
# then one summary table across endpoints (summary.md, via summarize.py).
#
#   examples/fastapi_rag/run_experiment.sh                 # c = 10,50,100,200: 15 s warm-up, 20 s measured, time scale 0.25
#   LEVELS=10,50 WARMUP=5s DURATION=10s TIME_SCALE=0.1 OUT=/tmp/x examples/fastapi_rag/run_experiment.sh
#   examples/fastapi_rag/run_experiment.sh --ci            # tiny: every endpoint, a few requests (CI)
#
# Needs: pip install -r examples/fastapi_rag/requirements.txt, and a ragperf binary (RAGPERF=…,
# default target/release/ragperf, built if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

LEVELS=${LEVELS:-10,50,100,200}
DURATION=${DURATION:-20s}
# The window opens after the warm-up: at high concurrency a CPU-bound server takes many seconds
# per request, and a window that opens before the first requests finish is not steady state.
WARMUP=${WARMUP:-15s}
TIME_SCALE=${TIME_SCALE:-0.25}
OUT=${OUT:-reports/fastapi-rag}
PORT=${PORT:-18080}
RAGPERF=${RAGPERF:-target/release/ragperf}
ENDPOINTS=${ENDPOINTS:-chat,stream-sync,stream-async,stream-shared-client}
bound=(-d "$DURATION" --warmup "$WARMUP")
if [ "${1:-}" = "--ci" ]; then
  LEVELS=2
  TIME_SCALE=0.01
  bound=(-n 6 --warmup 0s)
  OUT=${CI_OUT:-target/fastapi-rag-ci}
fi
if [ ! -x "$RAGPERF" ]; then
  cargo build --release --bin ragperf
fi

uvicorn_cmd="python3 -m uvicorn --app-dir $here app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
mkdir -p "$OUT"
for name in ${ENDPOINTS//,/ }; do
  case "$name" in
    chat) path=/chat; protocol=json ;;
    stream-sync) path=/chat/stream/sync; protocol=sse ;;
    stream-async) path=/chat/stream; protocol=sse ;;
    stream-shared-client) path=/chat/stream/shared-client; protocol=sse ;;
    *) echo "unknown endpoint $name (use chat, stream-sync, stream-async, stream-shared-client)"; exit 2 ;;
  esac
  echo "== $name: POST $path, c=$LEVELS, time scale $TIME_SCALE"
  "$RAGPERF" sweep --no-progress -c "$LEVELS" "${bound[@]}" --time-scale "$TIME_SCALE" \
    --target "http://127.0.0.1:$PORT$path" --target-name "$name" --protocol "$protocol" \
    --expect-citations --target-cmd "$uvicorn_cmd" \
    --target-ready "http://127.0.0.1:$PORT/health" --out "$OUT/$name"
done
python3 "$here/summarize.py" "$OUT" ${1:+$1}
