#!/usr/bin/env bash
set -u
cd /tmp/exC
R=/tmp/rp-cur; PORT=18080; here=/tmp/exC/examples/fastapi_rag
uv="python3 -m uvicorn --app-dir $here app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
A=(--target "http://127.0.0.1:$PORT/chat/stream" --target-name stream-async --protocol sse --target-cmd "$uv" --target-ready "http://127.0.0.1:$PORT/health")
S=(--target "http://127.0.0.1:$PORT/chat/stream/sync" --target-name stream-sync --protocol sse --target-cmd "$uv" --target-ready "http://127.0.0.1:$PORT/health")
O=/tmp/gx
date -u
for k in 1 2; do
python3 $O/sample.py $O/sync-$k.samp & 
$R run --no-progress --scenario $O/sync120-ts1.toml -c 64 -d 20s --warmup 10s "${S[@]}" --out $O/sync-$k > /dev/null
wait
python3 $O/sample.py $O/async-$k.samp & 
$R run --no-progress --scenario $O/async120-ts1.toml -c 64 -d 20s --warmup 10s "${A[@]}" --out $O/async-$k > /dev/null
wait
done
date -u
echo DONE
