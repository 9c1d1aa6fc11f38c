#!/usr/bin/env bash
# Every figure in BENCHMARKS.md, in one run on this machine:
#   1. lint: gjallar vs its parse floor vs conftest, on bench/corpus trees of
#      100 to 100,000 objects, and the same objects in few or many files;
#   2. webhook: gjallar webhook vs a floor server (TLS, decode, allow), both
#      on loopback, under open-loop load at fixed rates and at maximum rate,
#      with a real kube-apiserver and etcd behind gjallar's cache;
#   3. audit: gjallar audit -A of that cluster vs kubectl get of the same
#      kinds, and the background audit's CPU per pass (bench/cmd/auditbench).
#
#   bench/run.sh           # the full run (about 12 minutes on 2 cores)
#   bench/run.sh --quick   # smaller corpora, shorter phases (about 3 minutes)
#
# Needs Go, and the envtest binaries (tools/envtest-bins.sh builds them on
# first use: about 10 minutes once). conftest is installed with go install
# from the module proxy into ${GJALLAR_CACHE:-~/.cache/gjallar}/bench.
# Everything it writes goes to $BENCH_WORK (default: a new /tmp directory),
# whose path it prints; only loopback addresses are ever served or loaded.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFTEST_VERSION=v0.71.1
SIZES=100,1000,10000,100000
RUNS=3
RATES=250,500,1000,2000
SLICE=5s REPEAT=3 # each phase: 3 slices of 5 s per server, alternating
STACKS=500
AUDIT_FLAGS=""
if [ "${1:-}" = "--quick" ]; then
  SIZES=100,1000,10000 RUNS=1 SLICE=3s REPEAT=1 STACKS=200 AUDIT_FLAGS="-window 30s -wrong 20"
elif [ -n "${1:-}" ]; then
  echo "usage: bench/run.sh [--quick]" >&2; exit 2
fi

WORK=${BENCH_WORK:-$(mktemp -d /tmp/gjallar-bench.XXXXXX)}
CACHE=${GJALLAR_CACHE:-$HOME/.cache/gjallar}
BIN=$WORK/bin
mkdir -p "$BIN"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "## Machine"
echo
echo "- $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
echo "- $(go version), gjallar $(git rev-parse --short HEAD)$(git diff --quiet || echo '-dirty')"
echo "- work directory: $WORK"
# Anything else running on the machine shows in the figures: say so.
echo "- load average before the lint runs: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "--- building" >&2
go build -trimpath -o "$BIN/gjallar" ./cmd/gjallar
for c in lintbench loadgen cluster auditbench; do go build -o "$BIN/$c" "./bench/cmd/$c"; done
CONFTEST_DIR=$CACHE/bench/conftest-$CONFTEST_VERSION
if [ ! -x "$CONFTEST_DIR/conftest" ]; then
  echo "--- go install conftest@$CONFTEST_VERSION (once; a few minutes)" >&2
  GOBIN=$CONFTEST_DIR GOFLAGS=-mod=mod go install "github.com/open-policy-agent/conftest@$CONFTEST_VERSION"
fi
echo "- conftest $CONFTEST_VERSION ($("$CONFTEST_DIR/conftest" --version | tr '\n' ' '))"

# BASELINE_REF (a commit) times that build of gjallar alongside this one,
# alternating runs, so what a change costs is measured under one load.
BASELINE_FLAGS=()
if [ -n "${BASELINE_REF:-}" ]; then
  echo "--- building the baseline $BASELINE_REF" >&2
  git worktree add -f --detach "$WORK/baseline-src" "$BASELINE_REF" >&2
  (cd "$WORK/baseline-src" && go build -trimpath -o "$BIN/gjallar-baseline" ./cmd/gjallar)
  git worktree remove --force "$WORK/baseline-src"
  BASELINE_FLAGS=(-baseline "$BIN/gjallar-baseline")
  echo "- baseline: gjallar $(git rev-parse --short "$BASELINE_REF")"
fi

echo "--- lint" >&2
"$BIN/lintbench" -gjallar "$BIN/gjallar" "${BASELINE_FLAGS[@]}" -conftest "$CONFTEST_DIR/conftest" -policies bench/conftest-policies \
  -work "$WORK/corpora" -sizes "$SIZES" -runs "$RUNS" -json "$WORK/lint.json"

echo "--- webhook: control plane" >&2
ASSETS=$(tools/envtest-bins.sh | tail -1)
GWAPI=$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
"$BIN/cluster" -dir "$WORK/cluster" -assets "$ASSETS" -stacks "$STACKS" \
  -crds "$GWAPI/config/crd/standard,testdata/crds,charts/gjallar/files/crds" 2>"$WORK/cluster.log" &
pids+=($!)
for _ in $(seq 1 240); do
  [ -f "$WORK/cluster/ready" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$WORK/cluster.log" >&2; exit 1; }
  sleep 0.5
done
[ -f "$WORK/cluster/ready" ] || { echo "control plane not ready" >&2; cat "$WORK/cluster.log" >&2; exit 1; }
cat "$WORK/cluster.log" >&2

WEBHOOK_PORT=$("$BIN/loadgen" port)
PROBE_PORT=$("$BIN/loadgen" port)
FLOOR_PORT=$("$BIN/loadgen" port)
CERTS=$WORK/cluster/certs
"$BIN/gjallar" webhook --kubeconfig "$WORK/cluster/kubeconfig" --manage-certs=false --cert-dir "$CERTS" \
  --host 127.0.0.1 --port "$WEBHOOK_PORT" --leader-elect=false --audit-interval=0 \
  --metrics-bind-address 0 --health-probe-bind-address "127.0.0.1:$PROBE_PORT" >"$WORK/webhook.log" 2>&1 &
pids+=($!)
"$BIN/loadgen" floor -addr "127.0.0.1:$FLOOR_PORT" -cert-dir "$CERTS" 2>"$WORK/floor.log" &
pids+=($!)
"$BIN/loadgen" wait -url "http://127.0.0.1:$PROBE_PORT/readyz"

echo "--- webhook: load" >&2
echo "- load average before the webhook runs: $(cut -d' ' -f1-3 /proc/loadavg) (the control plane is idle)"
rm -f "$WORK/webhook.jsonl"
"$BIN/loadgen" run -targets "floor=https://127.0.0.1:$FLOOR_PORT,gjallar=https://127.0.0.1:$WEBHOOK_PORT" \
  -ca "$CERTS/ca.crt" -rates "$RATES" -duration "$SLICE" -repeat "$REPEAT" -stacks "$STACKS" -json "$WORK/webhook.jsonl" >&2
echo
echo "### Webhook: gjallar vs the floor server ($STACKS stacks in the cluster, $REPEAT x $SLICE per phase and server)"
echo
"$BIN/loadgen" compare "$WORK/webhook.jsonl"
kill "${pids[1]}" "${pids[2]}" 2>/dev/null || true # the load's webhook and floor

echo "--- audit" >&2
echo
echo "- load average before the audit runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$BIN/auditbench" -gjallar "$BIN/gjallar" -dir "$WORK/cluster" -runs "$RUNS" $AUDIT_FLAGS
echo
echo "Raw results: $WORK/lint.json, $WORK/webhook.jsonl; logs: $WORK/*.log" >&2
