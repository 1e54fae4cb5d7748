#!/usr/bin/env bash
# brief.sh OUTDIR [FROM TO]: one line per loop.sh run: req/s, how bunched the completions were,
# and the GC passes between FROM and TO seconds of the server's life (default 15-40: inside the
# window, which opens ~13 s after the server starts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=$1; a=${2:-15}; b=${3:-40}
line=$(python3 "$here/segments.py" "$d/run/result.json")
gc=$(awk -v a="$a" -v b="$b" '$1>=a && $1<b {w[$4]+=$2; n[$4]++; if ($2>mx[$4]) mx[$4]=$2}
  END {printf "gen-2 passes %.2f/s, longest %.0f ms; all GC %.3f s per s", n[2]/(b-a), mx[2]/1000, (w[0]+w[1]+w[2])/(b-a)/1e6}' "$d/loopstat.txt.gc")
echo "$line; $gc"
