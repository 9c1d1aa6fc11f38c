#!/usr/bin/env bash
# Run every Go fuzz target in the module, one at a time, for DURATION each:
#   tools/fuzz.sh [DURATION] [PACKAGE...]      e.g. tools/fuzz.sh 10s
# DURATION is a go test -fuzztime (default 10s; "5000x" counts executions).
# Targets are found with `go test -list '^Fuzz'` in each package (all of
# ./... unless packages are given), so a new Fuzz function is picked up
# without touching this script. FUZZ_PARALLEL sets the workers per target
# (go test -parallel; default GOMAXPROCS).
# Every target runs even after one fails; the script then exits 1 and
# names the failures. A failing input is written by go test under the
# package's testdata/fuzz/<Target>/: commit it with the fix as the
# regression seed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration="${1:-10s}"
shift || true
if [[ $# -gt 0 ]]; then
	packages=("$@")
else
	mapfile -t packages < <(go list ./...)
fi

parallel=()
if [[ -n "${FUZZ_PARALLEL:-}" ]]; then
	parallel=(-parallel "$FUZZ_PARALLEL")
fi

failed=()
ran=0
for pkg in "${packages[@]}"; do
	# -run '^$' keeps suites whose TestMain starts a control plane (webhook)
	# from starting one just to list their targets.
	if ! listing="$(go test -list '^Fuzz' -run '^$' "$pkg" 2>&1)"; then
		printf '%s\n' "$listing" >&2
		failed+=("$pkg (cannot list fuzz targets)")
		continue
	fi
	for target in $(printf '%s\n' "$listing" | grep -E '^Fuzz[A-Za-z0-9_]*$'); do
		printf '== %s %s for %s\n' "$pkg" "$target" "$duration"
		ran=$((ran + 1))
		log=$(mktemp)
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "${parallel[@]}" 2>&1 | tee "$log"; then
			# go test's fuzzing engine sometimes reports its own time-out
			# ("context deadline exceeded") when -fuzztime ends while a
			# worker is busy; that found no input and is not a failure. A
			# real one writes its input under testdata/fuzz.
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "fuzz: $pkg $target: the engine's own deadline at the end of -fuzztime, no failing input"
			else
				failed+=("$pkg $target")
			fi
		fi
		rm -f "$log"
	done
done

if [[ $ran -eq 0 ]]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz: $ran targets passed, $duration each"
