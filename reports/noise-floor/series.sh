#!/bin/bash
# Does Python's speed on the machine move with the service's CPU per answer? For MINUTES
# (default 40): pyspeed.py (3 s of CPU, the machine otherwise idle), then one run of the async
# endpoint at time scale 1 and 100 users with predict.sh's window, on a fresh start of the service.
#
#   RAGPERF=target/release/ragperf MINUTES=40 bash reports/noise-floor/series.sh OUT
#   python3 reports/noise-floor/series.py OUT
set -u
out=${1:?usage: series.sh OUT}
. "$(dirname "$0")/service.sh"
mkdir -p "$out"
end=$(( $(date +%s) + ${MINUTES:-40} * 60 ))
k=0
while [ "$(date +%s)" -lt "$end" ]; do
  k=$((k + 1))
  echo "$k $(date -u +%T) pyspeed $(python3 "$root/reports/noise-floor/pyspeed.py" 3)" >> "$out/pyspeed.txt"
  measure stream-async /chat/stream 1 100 12s 15s "$out/run-$k"
  echo "$k $(date -u +%T) rc=$?"
done
