#!/usr/bin/env bash
# Does the model predict the real stack? For every endpoint of app.py and every time scale:
#   1. `ragperf calibrate` the endpoint at low loads (c = 2, 8, plus a probe at 64; calibrate
#      measures an event loop that 64 users did not saturate again with 128),
#   then for each of c = 50, 100, 200:
#   2. measure the point (`ragperf run --target`),
#   3. predict it with the calibrated scenario alone (`ragperf run --scenario`), and a second
#      time with the model's CPU scaled to the machine's speed while the point was measured
#      (the machine's drift taken out: DRIFT=speed, the default; reprobe.py speed). DRIFT=reprobe
#      measures the calibration's probe again before each point instead and scales by how the
#      service's CPU per answer there moved (reprobe.py adjust); DRIFT=own scales it to the
#      CPU per answer the service spent at the point itself (the median over its runs;
#      reprobe.py own): not a prediction, a diagnosis of the model given the right CPU;
#      DRIFT=none skips it,
# then one table of measured / predicted (predict_summary.py -> OUT/prediction.md, and a chart
# when matplotlib is installed).
#
#   examples/fastapi_rag/predict.sh                   # time scales 0.25 and 1
#   SCALES=0.25 ENDPOINTS=chat LEVELS=50 examples/fastapi_rag/predict.sh
#   REPEATS=3 examples/fastapi_rag/predict.sh        # every point measured 3 times, each on a
#                                                    # fresh start of the service: the table
#                                                    # holds the model against the runs' median,
#                                                    # and a second one the runs against it
#   PREDICT_ONLY=1 examples/fastapi_rag/predict.sh   # the model changed, the service did not:
#                                                    # derive each model again from the saved
#                                                    # calibration (`calibrate --from`) and rerun
#                                                    # step 3 against the measurements in OUT
#
# The warm-up and the measured window of each point grow with its users (WARMUP_PER_USER, default
# 0.12 s, and DURATION_PER_USER, default 0.15 s; at least 10 s each): a CPU-bound server at 200
# users takes ~20 s per request, so a window that opens before the first of them finish is not
# steady state, and a window shorter than a request sees only the few users whose requests
# happened to start in it (a biased, tiny sample). Needs what run_experiment.sh needs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

SCALES=${SCALES:-0.25,1}
LEVELS=${LEVELS:-50,100,200}
WARMUP_PER_USER=${WARMUP_PER_USER:-0.12}
DURATION_PER_USER=${DURATION_PER_USER:-0.15}
ENDPOINTS=${ENDPOINTS:-chat,stream-sync,stream-async}
OUT=${OUT:-reports/fastapi-rag-predict}
# Extra flags for `ragperf calibrate` (e.g. "-d 5s --warmup 3s" for a quick look; with
# PREDICT_ONLY, flags of `calibrate --from` such as "--probe-fit"). Calibration
# always records the GIL's holders with py-spy (--py-spy; in requirements.txt, needs root or
# CAP_SYS_PTRACE): which of the CPU off the event loop ran under the GIL.
read -r -a cal_args <<< "${CAL_ARGS:-}"
PREDICT_ONLY=${PREDICT_ONLY:-}
DRIFT=${DRIFT:-speed}
REPEATS=${REPEATS:-1}
case "$REPEATS" in ''|*[!0-9]*|0) echo "REPEATS: a whole number of runs per point, 1 or more, not '$REPEATS'"; exit 2 ;; esac
case "$DRIFT" in speed|reprobe|own|none) ;; *) echo "DRIFT: speed, reprobe, own or none, not $DRIFT"; exit 2 ;; esac
PORT=${PORT:-18080}
RAGPERF=${RAGPERF:-target/release/ragperf}
if [ ! -x "$RAGPERF" ]; then
  cargo build --release --bin ragperf
fi
uvicorn_cmd="python3 -m uvicorn --app-dir $here app:app --host 127.0.0.1 --port $PORT --workers 1 --log-level warning"
warmup_for() { python3 -c "print(f'{max(10.0, $1 * $WARMUP_PER_USER):.0f}s')"; }
duration_for() { python3 -c "print(f'{max(10.0, $1 * $DURATION_PER_USER):.0f}s')"; }

for scale in ${SCALES//,/ }; do
  for name in ${ENDPOINTS//,/ }; do
    case "$name" in
      chat) path=/chat; protocol=json ;;
      stream-sync) path=/chat/stream/sync; protocol=sse ;;
      stream-async) path=/chat/stream; protocol=sse ;;
      stream-shared-client) path=/chat/stream/shared-client; protocol=sse ;;
      *) echo "unknown endpoint $name"; exit 2 ;;
    esac
    dir="$OUT/ts-$scale/$name"
    target=(--target "http://127.0.0.1:$PORT$path" --target-name "$name" --protocol "$protocol"
            --target-cmd "$uvicorn_cmd" --target-ready "http://127.0.0.1:$PORT/health")
    if [ -n "$PREDICT_ONLY" ]; then
      if [ ! -f "$dir/calibration/calibration.json" ]; then
        echo "PREDICT_ONLY: no $dir/calibration/calibration.json; run without PREDICT_ONLY first"
        exit 2
      fi
      echo "== $name, time scale $scale: the model again from the saved calibration"
      "$RAGPERF" calibrate --no-progress --time-scale "$scale" "${target[@]}" \
        --from "$dir/calibration/calibration.json" ${cal_args[@]+"${cal_args[@]}"} > /dev/null
    else
      mkdir -p "$dir"
      # What the service ran on: its CPU per request depends on it (e.g. AWS_CA_BUNDLE makes
      # every new aioboto3 client load that file: ~40 ms per request on the async endpoint).
      { date -u +%FT%TZ; python3 --version
        python3 -m pip freeze 2>/dev/null | grep -i -E '^(fastapi|starlette|uvicorn|llama-index|boto|aioboto|aiobotocore|aiohttp|qdrant-client|pydantic=)' || true
        env | grep -E '^(AWS_CA_BUNDLE|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE)=' | sort || true
      } > "$dir/environment.txt"
      echo "== $name, time scale $scale: calibrate"
      "$RAGPERF" calibrate --no-progress --time-scale "$scale" "${target[@]}" -o "$dir/calibration" \
        --py-spy ${cal_args[@]+"${cal_args[@]}"}
    fi
    for c in ${LEVELS//,/ }; do
      w=$(warmup_for "$c")
      d=$(duration_for "$c")
      if [ -z "$PREDICT_ONLY" ] && [ "$DRIFT" = reprobe ]; then
        # Is the service still the one that was calibrated? On this machine type the same
        # service has spent 2.6x different CPU per request on different days and moved by
        # 20-26 % within one sitting, so the calibration's probe (its users, its answer length,
        # calibrate's warm-up and window) is measured again just before each point.
        read -r probe_c probe_tokens probe_w probe_d < <(python3 "$here/reprobe.py" scenario "$dir/calibration" "$dir/reprobe.toml")
        echo "== $name, time scale $scale, c=$c: the calibration's probe again (c=$probe_c, $probe_tokens tokens)"
        "$RAGPERF" run --no-progress --scenario "$dir/reprobe.toml" -c "$probe_c" -d "$probe_d" --warmup "$probe_w" \
          "${target[@]}" --out "$dir/reprobe-c$c" > /dev/null
      fi
      if [ -z "$PREDICT_ONLY" ]; then
        # The first run is measured-cN (the only one with REPEATS=1), the others measured-cN-rK:
        # each `run --target-cmd` starts the service afresh, back to back at the same point.
        for k in $(seq 1 "$REPEATS"); do
          run_dir="$dir/measured-c$c"; [ "$k" -gt 1 ] && run_dir="$run_dir-r$k"
          echo "== $name, time scale $scale, c=$c (warm-up $w): measured ($k of $REPEATS)"
          "$RAGPERF" run --no-progress --time-scale "$scale" -c "$c" -d "$d" --warmup "$w" \
            "${target[@]}" --expect-citations --out "$run_dir" > /dev/null
        done
      fi
      echo "== $name, time scale $scale, c=$c (warm-up $w): predicted"
      "$RAGPERF" run --no-progress --scenario "$dir/calibration/calibrated.toml" -c "$c" \
        -d "$d" --warmup "$w" --out "$dir/predicted-c$c" > /dev/null
      if [ "$DRIFT" = speed ] && [ -f "$dir/measured-c$c/result.json" ] \
         && factor=$(python3 "$here/reprobe.py" speed "$dir/calibration" "$dir/measured-c$c/result.json" "$dir/adjusted-c$c.toml" 2>/dev/null); then
        echo "== $name, time scale $scale, c=$c: predicted with the CPU x $factor (the machine's speed during the point)"
        "$RAGPERF" run --no-progress --scenario "$dir/adjusted-c$c.toml" -c "$c" \
          -d "$d" --warmup "$w" --out "$dir/adjusted-c$c" > /dev/null
      elif [ "$DRIFT" = own ] && [ -f "$dir/measured-c$c/result.json" ]; then
        runs=("$dir/measured-c$c/result.json")
        for k in $(seq 2 "$REPEATS"); do
          [ -f "$dir/measured-c$c-r$k/result.json" ] && runs+=("$dir/measured-c$c-r$k/result.json")
        done
        factor=$(python3 "$here/reprobe.py" own "$dir/calibration" "$dir/adjusted-c$c.toml" "${runs[@]}")
        echo "== $name, time scale $scale, c=$c: predicted with the CPU x $factor (the service's own at the point)"
        "$RAGPERF" run --no-progress --scenario "$dir/adjusted-c$c.toml" -c "$c" \
          -d "$d" --warmup "$w" --out "$dir/adjusted-c$c" > /dev/null
      elif [ "$DRIFT" = reprobe ] && [ -f "$dir/reprobe-c$c/result.json" ]; then
        # The same model with its CPU scaled by how the service's CPU per answer at the probe
        # moved since calibration: the machine's drift taken out, the load's effect left in
        # (the probe is at its own load, not the point's). A second table, never the goal's.
        factor=$(python3 "$here/reprobe.py" adjust "$dir/calibration" "$dir/reprobe-c$c/result.json" "$dir/adjusted-c$c.toml")
        echo "== $name, time scale $scale, c=$c: predicted with the CPU x $factor (the probe just before)"
        "$RAGPERF" run --no-progress --scenario "$dir/adjusted-c$c.toml" -c "$c" \
          -d "$d" --warmup "$w" --out "$dir/adjusted-c$c" > /dev/null
      fi
    done
  done
done
python3 "$here/predict_summary.py" "$OUT"
