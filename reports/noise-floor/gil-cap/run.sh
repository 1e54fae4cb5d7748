#!/bin/bash
# One of the experiment builds (a .diff here, against 2c687ced's src/pipeline/cpu.rs) run at
# the twelfth sitting's streaming `def` points with each point's own CPU (../own-cpu-twelfth/).
#
#   bash reports/noise-floor/gil-cap/run.sh v4-cpu-bucket-50ms.diff OUT [U]
#   python3 reports/noise-floor/own_cpu.py summary reports/fastapi-rag-predict-twelfth OUT
#
# Builds in a scratch clone (never in your checkout), U: the cap (default 0.78).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
diff=$here/${1:?usage: run.sh DIFF OUT [U]}
out=$(mkdir -p "${2:?usage: run.sh DIFF OUT [U]}" && cd "$2" && pwd)
u=${3:-0.78}
scratch=$(mktemp -d)
git clone -q "$root" "$scratch/src"
git -C "$scratch/src" checkout -q 2c687ced
git -C "$scratch/src" apply "$diff"
cargo build --release --quiet --manifest-path "$scratch/src/Cargo.toml" --target-dir "$scratch/target"
for s in ts-1 ts-0.25; do
  for c in 50 100 200; do
    w=$(python3 -c "print(f'{max(10.0, $c * 0.12):.0f}s')")
    d=$(python3 -c "print(f'{max(10.0, $c * 0.15):.0f}s')")
    mkdir -p "$out/$s/stream-sync"
    cp "$root/reports/noise-floor/own-cpu-twelfth/$s/stream-sync/own-c$c.toml" "$out/$s/stream-sync/"
    RAGPERF_EXP_GIL_BUSY=$u "$scratch/target/release/ragperf" run --no-progress \
      --scenario "$out/$s/stream-sync/own-c$c.toml" -c "$c" -d "$d" --warmup "$w" \
      --out "$out/$s/stream-sync/own-c$c" > /dev/null
    echo "$(date -u +%T) $s c=$c"
  done
done
rm -rf "$scratch"
