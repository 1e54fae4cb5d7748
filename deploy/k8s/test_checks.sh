#!/usr/bin/env bash
# Self-tests of deploy/k8s's helpers, run by check.sh: wait-for-shards.sh (finished, partial and
# missing shards, bad input) and check_manifests.py against a stand-in binary whose `run --help`
# lacks a flag the manifests use, so both fail when they stop working.
# Usage: test_checks.sh PYTHON RAGPERF RENDERED.yaml
set -euo pipefail
py=$1 ragperf=$2 rendered=$3
here=$(dirname "$0")
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0

# wait-for-shards.sh: shard 1 partial, shard 2 absent: after the timeout it names both and
# exits 0 (ragperf merge then gives the verdict).
mkdir -p "$t/s/shard-0" "$t/s/shard-1"
printf '{\n  "partial": false\n}\n' >"$t/s/shard-0/result.json"
# Final only at the top level: a nested "partial": false does not count.
printf '{\n  "partial": true,\n  "x": {\n    "partial": false\n  }\n}\n' >"$t/s/shard-1/result.json"
SHARDS=3 WAIT_TIMEOUT_S=0 sh "$here/wait-for-shards.sh" "$t/s" >"$t/out" 2>&1 ||
    fail "wait-for-shards.sh after its timeout: exit $?"
grep -q "shard(s) 1 2 of 3 have no finished" "$t/out" || fail "wait-for-shards.sh: $(cat "$t/out")"
passed=$((passed + 1))
# Shard 1 finishes and shard 2 appears while it waits: it returns as soon as all are there.
(sleep 1 && printf '{\n  "partial": false\n}\n' >"$t/s/shard-1/result.json" &&
    mkdir -p "$t/s/shard-2" && printf '{\n  "partial": false\n}\n' >"$t/s/shard-2/result.json") &
SHARDS=3 WAIT_TIMEOUT_S=60 POLL_S=1 sh "$here/wait-for-shards.sh" "$t/s" >"$t/out" 2>&1 ||
    fail "wait-for-shards.sh with every shard: exit $?"
wait
grep -q "all 3 shard results are finished" "$t/out" || fail "wait-for-shards.sh: $(cat "$t/out")"
grep -q "waiting for shard(s) 1 2" "$t/out" || fail "wait-for-shards.sh did not wait: $(cat "$t/out")"
passed=$((passed + 1))
rc=0
SHARDS=two sh "$here/wait-for-shards.sh" "$t/s" >"$t/out" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q "whole numbers" "$t/out"; then
    fail "wait-for-shards.sh SHARDS=two: exit $rc: $(cat "$t/out")"
fi
passed=$((passed + 1))
rc=0
START_AT=SET-ME SHARDS=3 sh "$here/wait-for-shards.sh" "$t/s" >"$t/out" 2>&1 || rc=$?
if [ "$rc" != 2 ] || ! grep -q "START_AT is still SET-ME" "$t/out"; then
    fail "wait-for-shards.sh START_AT=SET-ME: exit $rc: $(cat "$t/out")"
fi
passed=$((passed + 1))

# check_manifests.py: the real binary passes the manifests (check.sh runs that); a stand-in whose
# `run --help` lacks --start-at makes them fail, naming the flag.
cat >"$t/ragperf" <<STUB
#!/bin/sh
if [ "\$1 \$2" = "run --help" ]; then
    "$ragperf" run --help | grep -v -- '--start-at'
else
    exec "$ragperf" "\$@"
fi
STUB
chmod +x "$t/ragperf"
rc=0
"$py" "$here/check_manifests.py" "$t/ragperf" "$rendered" >"$t/out" 2>&1 || rc=$?
if [ "$rc" != 1 ] || ! grep -q -- "--start-at is not listed by .ragperf run --help." "$t/out"; then
    fail "check_manifests.py without --start-at: exit $rc: $(cat "$t/out")"
fi
passed=$((passed + 1))
echo "deploy/k8s self-tests: $passed passed, 0 failed"
