#!/bin/bash
# Does a longer measured window make the service steadier? The two points the twelfth sitting
# missed, each run 4 times with predict.sh's window and 4 times with a 4x longer one (the same
# warm-up), the two kinds alternating, each run on a fresh start of the service.
#
#   RAGPERF=target/release/ragperf bash reports/noise-floor/windows.sh OUT
#   python3 reports/noise-floor/windows.py OUT
set -u
out=${1:?usage: windows.sh OUT}
. "$(dirname "$0")/service.sh"
run() { # name path scale users warm-up duration out
  measure "$@"
  echo "$(date -u +%T) $7 rc=$?"
}
for k in 1 2 3 4; do
  run stream-async /chat/stream 1 100 12s 15s "$out/async-ts1-c100/short-$k"
  run stream-async /chat/stream 1 100 12s 60s "$out/async-ts1-c100/long-$k"
done
for k in 1 2 3 4; do
  run stream-sync /chat/stream/sync 0.25 200 24s 30s "$out/sync-ts025-c200/short-$k"
  run stream-sync /chat/stream/sync 0.25 200 24s 120s "$out/sync-ts025-c200/long-$k"
done
