#!/usr/bin/env bash
# The webhook's memory against the size of the cluster (BENCHMARKS.md,
# section 10): for each cluster size, a base version of gjallar and this
# checkout serve the same envtest cluster, one after the other at startup
# and alternating under load, and the table gives for each
#   - the time from start to ready (/readyz: certificate, synced caches),
#   - the peak resident memory (VmHWM) up to ready, and up to idle (the
#     background audit's first pass and the restart controller's first sync
#     run in between),
#   - resident memory (VmRSS) once idle, and the live heap after a forced
#     collection,
#   - the peak anonymous resident memory (RssAnon, sampled every 0.2 s from
#     start to the end of the load): what a container's memory limit cannot
#     reclaim, unlike the executable's file-backed pages (RssFile),
#   - the highest resident memory while loadgen sends 1,000 requests/s,
#     alternating between the two servers, with the p99 latency,
# each also per cached object.
#
#   bench/memory.sh                          # base: 85635dc; 500, 3000, 12500 stacks
#   bench/memory.sh --base REV --stacks 500  # one size, another base
#   bench/memory.sh --etcd-cache DIR         # where seeded clusters are kept
#   bench/memory.sh --base none              # this checkout alone
#
# Stacks are bench/corpus stacks (8 objects each with their namespace),
# created as kubectl apply creates them (bench/cmd/cluster -kubectl). The
# seeded etcd data is kept (default ${GJALLAR_CACHE:-~/.cache/gjallar}/bench,
# about 1 GB for 12,500 stacks) and reused: seeding 100,000 objects takes 10
# to 20 minutes on 2 cores, once.
# Only loopback addresses are served. VARIANTS adds runs of this checkout
# with other settings, e.g. VARIANTS="limit:GOMEMLIMIT=512MiB gogc100:GOGC=100"
# (GOMEMLIMIT as the chart sets it from the memory limit).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=85635dc
STACKS=500,3000,12500
ETCD_CACHE=${GJALLAR_CACHE:-$HOME/.cache/gjallar}/bench
IDLE=${IDLE:-60} # seconds each server settles (and syncs its restart controller) before its idle memory is read
SLICE=10s REPEAT=3
while [ $# -gt 0 ]; do
  case "$1" in
    --base) BASE=$2; shift 2 ;;
    --stacks) STACKS=$2; shift 2 ;;
    --etcd-cache) ETCD_CACHE=$2; shift 2 ;;
    *) echo "usage: bench/memory.sh [--base REV] [--stacks N,N,...] [--etcd-cache DIR]" >&2; exit 2 ;;
  esac
done

WORK=${BENCH_WORK:-$(mktemp -d /tmp/gjallar-memory.XXXXXX)}
BIN=$WORK/bin
mkdir -p "$BIN" "$ETCD_CACHE"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "--- building this checkout and $BASE" >&2
go build -trimpath -o "$BIN/gjallar-head" ./cmd/gjallar
for c in loadgen cluster; do go build -o "$BIN/$c" "./bench/cmd/$c"; done
if [ "$BASE" != none ]; then
  rm -rf "$WORK/base-src" && mkdir -p "$WORK/base-src"
  git archive "$BASE" | tar -x -C "$WORK/base-src"
  (cd "$WORK/base-src" && go build -trimpath -o "$BIN/gjallar-base" ./cmd/gjallar)
fi

ASSETS=$(tools/envtest-bins.sh | tail -1)
GWAPI=$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
LABELS=(base head)
[ "$BASE" = none ] && LABELS=(head)
declare -A VARENV
for v in ${VARIANTS:-}; do
  LABELS+=("head-${v%%:*}")
  VARENV[head-${v%%:*}]=${v#*:}
done

# %.0f, not %d: mawk caps %d at 2^31-1, which read as 2048 MiB for any larger RSS.
rss() { awk '/VmRSS/ {printf "%.0f\n", $2 * 1024}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {printf "%.0f\n", $2 * 1024}' "/proc/$1/status"; }
anon() { awk '/RssAnon/ {printf "%.0f\n", $2 * 1024}' "/proc/$1/status" 2>/dev/null; }
# anonpeak PID FILE: keeps in FILE the highest RssAnon of PID until it exits.
anonpeak() {
  local max=0 a
  while a=$(anon "$1") && [ -n "$a" ]; do
    [ "$a" -gt "$max" ] && max=$a && echo "$max" >"$2"
    sleep 0.2
  done
}
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

echo "## Machine"
echo
echo "- $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
echo "- $(go version); base $BASE, head $(git rev-parse --short HEAD)$(git diff --quiet || echo '-dirty')"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| stacks | objects | server | ready s | peak RSS to ready MiB | peak RSS to idle MiB | idle RSS MiB | idle RSS B/object | live heap MiB | live heap B/object | peak RSS under load MiB | peak B/object | peak anon RSS MiB | idle file RSS MiB | p99 ms at 1000/s |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

for stacks in ${STACKS//,/ }; do
  dir=$WORK/cluster-$stacks
  rm -f "$dir/ready"
  echo "--- cluster of $stacks stacks (seeded once into $ETCD_CACHE/etcd-$stacks)" >&2
  "$BIN/cluster" -dir "$dir" -assets "$ASSETS" -stacks "$stacks" -etcd-dir "$ETCD_CACHE/etcd-$stacks" \
    -crds "$GWAPI/config/crd/standard,testdata/crds" 2>"$WORK/cluster-$stacks.log" &
  cluster=$!
  pids+=($cluster)
  until [ -f "$dir/ready" ]; do
    kill -0 "$cluster" 2>/dev/null || { cat "$WORK/cluster-$stacks.log" >&2; exit 1; }
    sleep 2
  done
  cat "$WORK/cluster-$stacks.log" >&2

  declare -A pid port probe mport pport ready startpeak idlepeak idle idlefile live
  targets=""
  for l in "${LABELS[@]}"; do
    port[$l]=$("$BIN/loadgen" port) probe[$l]=$("$BIN/loadgen" port)
    mport[$l]=$("$BIN/loadgen" port) pport[$l]=$("$BIN/loadgen" port)
    bin=$BIN/gjallar-head
    [ "$l" = base ] && bin=$BIN/gjallar-base
    env=(${VARENV[$l]:-})
    start=$(date +%s.%N)
    env "${env[@]}" "$bin" webhook --kubeconfig "$dir/kubeconfig" --manage-certs=false --cert-dir "$dir/certs" \
      --host 127.0.0.1 --port "${port[$l]}" --leader-elect=false \
      --metrics-bind-address "127.0.0.1:${mport[$l]}" --health-probe-bind-address "127.0.0.1:${probe[$l]}" \
      --pprof-bind-address "127.0.0.1:${pport[$l]}" >"$WORK/webhook-$l-$stacks.log" 2>&1 &
    pid[$l]=$!
    pids+=(${pid[$l]})
    echo 0 >"$WORK/anonpeak-$l-$stacks"
    anonpeak "${pid[$l]}" "$WORK/anonpeak-$l-$stacks" &
    "$BIN/loadgen" wait -timeout 600s -url "http://127.0.0.1:${probe[$l]}/readyz"
    ready[$l]=$(echo "$(date +%s.%N) - $start" | bc)
    startpeak[$l]=$(hwm "${pid[$l]}")
    # Started one at a time, so each has the machine to itself while it
    # lists the cluster; the restart controller's first sync of every
    # ConfigMap runs after ready, within the idle wait.
    sleep "$IDLE"
    idle[$l]=$(rss "${pid[$l]}")
    idlefile[$l]=$(awk '/RssFile/ {printf "%.0f\n", $2 * 1024}' "/proc/${pid[$l]}/status")
    idlepeak[$l]=$(hwm "${pid[$l]}")
    curl -sf "http://127.0.0.1:${pport[$l]}/debug/pprof/heap?gc=1" >/dev/null
    live[$l]=$(metric "${mport[$l]}" go_memstats_heap_alloc_bytes)
    targets+="${targets:+,}$l=https://127.0.0.1:${port[$l]}"
  done
  objects=$(curl -sf "http://127.0.0.1:${mport[head]}/metrics" | awk '$1 ~ /^gjallar_cached_objects\{/ {s += $2} END {print s}')

  echo "--- load: 1000/s, $REPEAT x $SLICE per server, alternating" >&2
  declare -A peak
  for l in "${LABELS[@]}"; do peak[$l]=0; done
  rm -f "$WORK/load-$stacks.jsonl"
  "$BIN/loadgen" run -targets "$targets" -unchecked none -ca "$dir/certs/ca.crt" -rates 1000 -max-clients 0 \
    -duration "$SLICE" -repeat "$REPEAT" -stacks "$(( stacks < 500 ? stacks : 500 ))" -json "$WORK/load-$stacks.jsonl" >&2 &
  load=$!
  while kill -0 "$load" 2>/dev/null; do
    for l in "${LABELS[@]}"; do
      r=$(rss "${pid[$l]}")
      [ "$r" -gt "${peak[$l]}" ] && peak[$l]=$r
    done
    sleep 0.2
  done
  wait "$load"

  for l in "${LABELS[@]}"; do
    p99=$(awk -v l="$l" -F'"p99ms":' 'index($0, "\"label\":\"" l "\"") {split($2, a, ","); print a[1]}' "$WORK/load-$stacks.jsonl")
    ap=$(cat "$WORK/anonpeak-$l-$stacks")
    awk -v s="$stacks" -v n="$objects" -v l="$l" -v r="${ready[$l]}" -v sp="${startpeak[$l]}" -v ip="${idlepeak[$l]}" -v i="${idle[$l]}" -v h="${live[$l]}" -v p="${peak[$l]}" -v ap="$ap" -v f="${idlefile[$l]}" -v q="$p99" \
      'BEGIN {printf "| %d | %d | %s | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n", s, n, l, r, sp/1048576, ip/1048576, i/1048576, i/n, h/1048576, h/n, p/1048576, p/n, ap/1048576, f/1048576, q}'
  done
  for l in "${LABELS[@]}"; do kill "${pid[$l]}"; done
  kill "$cluster"
  wait "$cluster" 2>/dev/null || true
  unset pid port probe mport pport ready startpeak idlepeak idle idlefile live peak
done
echo
echo "Logs and raw load results: $WORK" >&2
