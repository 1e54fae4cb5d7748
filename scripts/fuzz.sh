#!/usr/bin/env bash
# Fuzzes the parsers with cargo-fuzz (README "Fuzzing").
#
#   scripts/fuzz.sh [MINUTES] [TARGET...]
#
# Builds every target of fuzz/ once (nightly, libFuzzer), then runs each TARGET (default: all)
# for MINUTES (default 10), one after the other. Each run starts from the committed seeds
# (fuzz/seeds/<target>, read only) plus the corpus of earlier runs (fuzz/corpus/<target>, not
# committed), with the dictionary fuzz/dicts/<target>.dict when there is one. A crashing input
# is saved under fuzz/artifacts/<target>/ and stops that target's run. Prints one summary line
# per target (executions, coverage, crashes) and exits 1 if any target crashed, 2 on a usage
# or setup error. Logs: fuzz/logs/<target>.log. FUZZ_NO_BUILD=1 skips the build (reuses the
# binaries of the last one).
#
# Needs: the nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). On a shared machine run it as `nice -n 19 scripts/fuzz.sh`.
#
# Built with debug assertions (integer overflow panics) and without a sanitizer: the code is
# safe Rust, so a panic, an abort, an out-of-memory or a hang is the finding, and the
# uninstrumented build runs several times faster than an AddressSanitizer one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
ALL=(eventstream sse scenario qdrant bedrock result)

MINUTES="${1:-10}"
if ! [[ "$MINUTES" =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ "$MINUTES" =~ ^0+([.]0+)?$ ]]; then
    echo "error: MINUTES must be a number > 0, got \`$MINUTES\`; usage: scripts/fuzz.sh [MINUTES] [TARGET...]" >&2
    exit 2
fi
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=("${ALL[@]}")
fi
for t in "${TARGETS[@]}"; do
    if [ ! -f "$FUZZ/fuzz_targets/$t.rs" ]; then
        echo "error: no fuzz target \`$t\`; use one of: ${ALL[*]}" >&2
        exit 2
    fi
done
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "error: the nightly toolchain is missing: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi

SECONDS_EACH=$(awk -v m="$MINUTES" 'BEGIN { s = int(m * 60 + 0.5); print (s < 1 ? 1 : s) }')
FLAGS=(--debug-assertions --sanitizer none)

cd "$FUZZ"
if [ "${FUZZ_NO_BUILD:-0}" = 1 ]; then
    echo "FUZZ_NO_BUILD=1: running the binaries of the last build" >&2
else
    echo "building the fuzz targets..." >&2
    cargo +nightly fuzz build "${FLAGS[@]}" >&2
fi
# The binaries are run directly: `cargo fuzz run` would rebuild (and wait for the build lock)
# before every target and again after a crash.
HOST=$(rustc +nightly -vV | sed -n 's/^host: //p')
BIN="$FUZZ/target/$HOST/release"

mkdir -p logs
crashed=0
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    marker="logs/.start-$t"
    touch "$marker"
    dict=()
    if [ -f "dicts/$t.dict" ]; then
        dict=("-dict=dicts/$t.dict")
    fi
    echo "fuzzing $t for $MINUTES min (log: fuzz/logs/$t.log)..." >&2
    status=0
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: an input that makes the code
    # allocate gigabytes is a finding too (the default 2 GB, stated).
    "$BIN/$t" "corpus/$t" "seeds/$t" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${dict[@]}" \
        >"logs/$t.log" 2>&1 || status=$?
    found=$(find "artifacts/$t" -type f -newer "$marker")
    crashes=$(printf '%s' "$found" | grep -c . || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "logs/$t.log" | tail -1 | cut -d' ' -f2)
    corpus=$(find "corpus/$t" -type f | wc -l)
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        # libFuzzer failed without saving an input (a setup error).
        crashes=1
        echo "warning: $t exited with status $status and saved no input; see fuzz/logs/$t.log" >&2
    fi
    if [ "$crashes" -gt 0 ]; then
        crashed=1
        if [ -n "$found" ]; then
            printf '%s\n' "$found" | sed 's/^/  crash input: fuzz\//' >&2
        fi
    fi
    line="$t: $MINUTES min, ${execs:-?} execs (${rate:-?}/s), coverage ${cov:-?} edges / ${ft:-?} features, corpus $corpus, crashes $crashes"
    summary+=("$line")
    echo "$line"
done

{
    echo "# scripts/fuzz.sh $MINUTES ${TARGETS[*]} ($(date -u +%Y-%m-%dT%H:%MZ))"
    printf '%s\n' "${summary[@]}"
} >>logs/summary.txt
exit "$crashed"
