# Sourced by windows.sh and series.sh: one run of the seed's FastAPI service (examples/fastapi_rag,
# one uvicorn worker, started afresh for the run and stopped after it) under ragperf.
#   measure NAME PATH SCALE USERS WARMUP DURATION OUT
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rp=${RAGPERF:-$root/target/release/ragperf}
port=${PORT:-18080}
uv="python3 -m uvicorn --app-dir $root/examples/fastapi_rag app:app --host 127.0.0.1 --port $port --workers 1 --log-level warning"
measure() {
  "$rp" run --no-progress --time-scale "$3" -c "$4" -d "$6" --warmup "$5" \
    --target "http://127.0.0.1:$port$2" --target-name "$1" --protocol sse \
    --target-cmd "$uv" --target-ready "http://127.0.0.1:$port/health" --expect-citations \
    --out "$7" > /dev/null 2>&1
}
