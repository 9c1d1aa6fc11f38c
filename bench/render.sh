#!/usr/bin/env bash
# The render cost figures in BENCHMARKS.md (section 6), in one run:
# gjallar lint on a chart directory vs helm template | gjallar lint -, and
# on a kustomization vs kustomize build | gjallar lint -, alternating.
#
#   bench/render.sh [-runs 7] [-services 10]
#
# helm and kustomize are built once from the Go module proxy into
# ${GJALLAR_CACHE:-~/.cache/gjallar}/bench (a few minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0      # the Helm SDK version in go.mod
KUSTOMIZE_VERSION=v5.8.1  # the release built on sigs.k8s.io/kustomize/api v0.21.1, as go.mod
CACHE=${GJALLAR_CACHE:-$HOME/.cache/gjallar}/bench
WORK=${BENCH_WORK:-$(mktemp -d /tmp/gjallar-render.XXXXXX)}
mkdir -p "$WORK/bin"

HELM=$CACHE/helm-$HELM_VERSION/helm
KUSTOMIZE=$CACHE/kustomize-$KUSTOMIZE_VERSION/kustomize
if [ ! -x "$HELM" ]; then
  echo "--- go install helm@$HELM_VERSION (once)" >&2
  GOBIN=$(dirname "$HELM") GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
if [ ! -x "$KUSTOMIZE" ]; then
  echo "--- go install kustomize@$KUSTOMIZE_VERSION (once)" >&2
  GOBIN=$(dirname "$KUSTOMIZE") GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
go build -trimpath -o "$WORK/bin/gjallar" ./cmd/gjallar
go build -o "$WORK/bin/renderbench" ./bench/cmd/renderbench

echo "- $(nproc) cores, $(go version), gjallar $(git rev-parse --short HEAD)$(git diff --quiet || echo '-dirty')"
echo "- $("$HELM" version --short), kustomize $("$KUSTOMIZE" version)"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg); work directory: $WORK"
echo
"$WORK/bin/renderbench" -gjallar "$WORK/bin/gjallar" -helm "$HELM" -kustomize "$KUSTOMIZE" -work "$WORK" "$@"
