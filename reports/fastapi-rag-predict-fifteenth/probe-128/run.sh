# The fifteenth sitting's async def endpoint at time scale 1, calibrated again with its probe at
# 128 users instead of 64, and predicted against the sitting's own measurements (copied from
# ../ts-1/stream-async/measured-c*; not repeated here). Run from a clone of the repository, with
# the sitting's OUT at /tmp/po/fifteenth and a release build at /tmp/rpX.
set -e
PORT=18080
src=/tmp/po/fifteenth/ts-1/stream-async
d=/tmp/po/fifteenth-p128/ts-1/stream-async
mkdir -p "$d" && cp -r "$src"/measured-c* "$src"/environment.txt "$d"/
uv="python3 -m uvicorn --app-dir $PWD/examples/fastapi_rag app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
/tmp/rpX calibrate --no-progress --time-scale 1 --target http://127.0.0.1:$PORT/chat/stream \
  --target-name stream-async --protocol sse --target-cmd "$uv" --target-ready http://127.0.0.1:$PORT/health \
  -o "$d/calibration" --py-spy --probe 128 --probe-runs 3
PREDICT_ONLY=1 DRIFT=none SCALES=1 ENDPOINTS=stream-async OUT=/tmp/po/fifteenth-p128 RAGPERF=/tmp/rpX \
  bash examples/fastapi_rag/predict.sh
