#!/bin/bash
# Every streaming point of a sitting predicted again with the service's own CPU per answer there
# (own_cpu.py scenario), with predict.sh's warm-up and window; a thread pool's points (the
# streaming `def` endpoint) once more with none of that CPU outside the GIL (own0-cN/).
#
#   RAGPERF=target/release/ragperf bash reports/noise-floor/own_cpu.sh reports/fastapi-rag-predict-twelfth OUT
#   python3 reports/noise-floor/own_cpu.py summary reports/fastapi-rag-predict-twelfth OUT
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
sitting=${1:?usage: own_cpu.sh SITTING OUT}
out=${2:?usage: own_cpu.sh SITTING OUT}
rp=${RAGPERF:-$root/target/release/ragperf}
for point in "$sitting"/ts-*/stream-*; do
  dir="$out/$(basename "$(dirname "$point")")/$(basename "$point")"
  mkdir -p "$dir"
  for c in 50 100 200; do
    w=$(python3 -c "print(f'{max(10.0, $c * 0.12):.0f}s')")
    d=$(python3 -c "print(f'{max(10.0, $c * 0.15):.0f}s')")
    factor=$(python3 "$root/reports/noise-floor/own_cpu.py" scenario "$point" "$c" "$dir/own-c$c.toml")
    echo "$(date -u +%T) $dir c=$c CPU x$factor"
    "$rp" run --no-progress --scenario "$dir/own-c$c.toml" -c "$c" -d "$d" --warmup "$w" --out "$dir/own-c$c" > /dev/null
    if grep -q '^workers = ' "$dir/own-c$c.toml"; then
      sed 's/^cpu_outside_gil_share = .*/cpu_outside_gil_share = 0.0/' "$dir/own-c$c.toml" > "$dir/own0-c$c.toml"
      echo "$(date -u +%T) $dir c=$c the same, none outside the GIL"
      "$rp" run --no-progress --scenario "$dir/own0-c$c.toml" -c "$c" -d "$d" --warmup "$w" --out "$dir/own0-c$c" > /dev/null
    fi
  done
done
