#!/usr/bin/env bash
# Starts `ragperf mock` on free ports, runs every tests/python/check_*.py against it with the
# unmodified official clients, and stops it. Usage: run_checks.sh PATH/TO/ragperf
set -euo pipefail
bin=${1:-target/debug/ragperf}
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp)
"$bin" mock --qdrant 127.0.0.1:0 --bedrock 127.0.0.1:0 --time-scale 0.01 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q '^bedrock ' "$log" && break
  sleep 0.1
done
qdrant=$(awk '/^qdrant /{print $2}' "$log")
bedrock=$(awk '/^bedrock /{print $2}' "$log")
if [ -z "$qdrant" ] || [ -z "$bedrock" ]; then
  echo "ragperf mock did not start:"; cat "$log"; exit 1
fi
echo "mock qdrant at $qdrant, bedrock at $bedrock"
status=0
for check in "$here"/check_*.py; do
  name=$(basename "$check")
  case "$name" in
    check_bedrock*) args=("$bedrock") ;;
    check_readme*) args=("$qdrant" "$bedrock") ;;
    *) args=("$qdrant") ;;
  esac
  echo "-- $name ${args[*]}"
  python3 "$check" "${args[@]}" || status=1
done
exit $status
