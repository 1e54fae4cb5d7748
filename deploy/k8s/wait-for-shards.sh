#!/bin/sh
# The merge Job's first step: wait until every shard's result.json is finished, or until
# WAIT_TIMEOUT_S seconds have passed; then `ragperf merge` runs (and names any shard missing).
# Usage: wait-for-shards.sh SHARDS_DIR   (env SHARDS, WAIT_TIMEOUT_S, POLL_S: default 10;
# START_AT: the placeholder SET-ME stops it at once, exit 2)
# A shard is finished when SHARDS_DIR/shard-I/result.json says "partial": false at its top
# level (two spaces in: ragperf pretty-prints it): ragperf rewrites that file (atomically) after
# every variant and marks it final only at the end.
set -eu
dir=${1:?usage: wait-for-shards.sh SHARDS_DIR}
shards=${SHARDS:?SHARDS: the number of shards}
timeout=${WAIT_TIMEOUT_S:-1800}
poll=${POLL_S:-10}
case "$shards$timeout$poll" in
*[!0-9]*)
    echo "wait-for-shards: SHARDS, WAIT_TIMEOUT_S and POLL_S must be whole numbers" >&2
    exit 2
    ;;
esac
if [ "${START_AT:-}" = SET-ME ]; then
    echo "wait-for-shards: START_AT is still SET-ME in run.env, so no shard can start: set it" \
        "(README, \"Several load generators on Kubernetes\") and apply again" >&2
    exit 2
fi
start=$(date +%s)
while :; do
    missing=""
    i=0
    while [ "$i" -lt "$shards" ]; do
        grep -qs '^  "partial": false' "$dir/shard-$i/result.json" || missing="$missing $i"
        i=$((i + 1))
    done
    if [ -z "$missing" ]; then
        echo "wait-for-shards: all $shards shard results are finished in $dir"
        exit 0
    fi
    waited=$(($(date +%s) - start))
    if [ "$waited" -ge "$timeout" ]; then
        echo "wait-for-shards: after ${waited} s, shard(s)$missing of $shards have no finished" \
            "result.json in $dir; merging what is there" >&2
        exit 0
    fi
    echo "wait-for-shards: waiting for shard(s)$missing (${waited} s of ${timeout} s)"
    sleep "$poll"
done
