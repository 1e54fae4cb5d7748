#!/usr/bin/env bash
set -u
cd /tmp/exC
R=/tmp/rp-cur; PORT=18080; here=/tmp/exC/examples/fastapi_rag
uv="python3 -m uvicorn --app-dir $here app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
S=(--target "http://127.0.0.1:$PORT/chat/stream/sync" --target-name stream-sync --protocol sse --target-cmd "$uv" --target-ready "http://127.0.0.1:$PORT/health")
O=/tmp/gx
date -u
for p in "0.25 100" "1 200" "1 64"; do set -- $p
python3 $O/sample.py $O/g-$1-$2.samp &
$R run --no-progress --py-spy --time-scale $1 -c $2 -d 20s --warmup 10s "${S[@]}" --out $O/g-$1-$2 > /dev/null
wait
done
date -u
echo DONE
