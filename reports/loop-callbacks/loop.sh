#!/usr/bin/env bash
# loop.sh C OUTDIR: the seed's `async def` endpoint at time scale 0.25 and C users (10 s warm-up,
# 30 s window), served by loopstat.py: every event-loop callback and every GC pass timed.
# FREEZE=1: gc.freeze() after the app's imports. From the repository root, after
# `cargo build --release` and `pip install -r examples/fastapi_rag/requirements.txt`.
set -euo pipefail
c=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
RAGPERF=${RAGPERF:-target/release/ragperf}
freeze=""; [ -n "${FREEZE:-}" ] && freeze="LOOPSTAT_FREEZE=1"
mkdir -p "$out"
"$RAGPERF" run --no-progress --time-scale 0.25 -c "$c" -d 30s --warmup 10s \
  --target http://127.0.0.1:18080/chat/stream --target-name stream-async --protocol sse \
  --target-cmd "$freeze LOOPSTAT_OUT=$out/loopstat.txt python3 $here/loopstat.py $(pwd)/examples/fastapi_rag 18080" \
  --target-ready http://127.0.0.1:18080/health --expect-citations --out "$out/run" > /dev/null
