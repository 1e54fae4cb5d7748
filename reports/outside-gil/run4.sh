#!/usr/bin/env bash
set -u
R=/tmp/rp-new; O=/tmp/gx
date -u
for n in 0 0.1 0.25; do
$R run --no-progress --scenario $O/m1-120.toml -c 64 -d 20s --warmup 10s --cpu-outside-gil-share $n --out $O/m-1-64-$n > /dev/null
$R run --no-progress --scenario $O/m1.toml -c 200 -d 20s --warmup 10s --cpu-outside-gil-share $n --out $O/m-1-200-$n > /dev/null
$R run --no-progress --scenario $O/m025.toml -c 100 -d 20s --warmup 10s --cpu-outside-gil-share $n --out $O/m-025-100-$n > /dev/null
done
date -u
echo DONE
