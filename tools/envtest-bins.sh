#!/usr/bin/env bash
# Build the kube-apiserver and etcd binaries that envtest needs from the Go
# modules in tools/kube-apiserver and tools/etcd, caching them under
#   ${GJALLAR_CACHE:-$HOME/.cache/gjallar}/envtest/k8s-<kver>-etcd-<ever>/
# Binaries are only built when missing, so a warm cache costs nothing.
#
# The last line of stdout is the absolute path of the asset directory:
#   export KUBEBUILDER_ASSETS="$(tools/envtest-bins.sh | tail -1)"
# Progress messages go to stderr.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'envtest-bins: %s\n' "$*" >&2; }

# The versions live in exactly one place each: the require lines of the tools
# go.mod files. Bump them there (and run `go mod tidy`) to change versions.
module_version() { # <go.mod> <module path>
	local v
	# Matches both `require m vX` and a `m vX` line inside a require block.
	v="$(awk -v m="$2" '
		$1 == "require" { $1 = ""; $0 = $0 }
		$1 == m && $2 ~ /^v/ { print $2; exit }
	' "$1")"
	if [[ -z "$v" ]]; then
		log "cannot find $2 in $1"
		exit 1
	fi
	printf '%s\n' "$v"
}

kube_version="$(module_version "$tools_dir/kube-apiserver/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$tools_dir/etcd/go.mod" go.etcd.io/etcd/server/v3)"

cache_root="${GJALLAR_CACHE:-$HOME/.cache/gjallar}"
mkdir -p "$cache_root"
cache_root="$(cd "$cache_root" && pwd)"
dest="$cache_root/envtest/k8s-${kube_version#v}-etcd-${etcd_version#v}"
mkdir -p "$dest"

# Temp files live inside $dest so the final mv is a same-filesystem rename.
tmp_files=()
cleanup() {
	if ((${#tmp_files[@]})); then
		rm -f "${tmp_files[@]}"
	fi
}
trap cleanup EXIT

build() { # <binary name> <module dir> [ldflags]
	local name="$1" dir="$2" ldflags="${3:-}" tmp start
	if [[ -x "$dest/$name" ]]; then
		log "$name: cached at $dest/$name"
		return
	fi
	tmp="$(mktemp "$dest/.$name.tmp.XXXXXX")"
	tmp_files+=("$tmp")
	log "$name: building from $dir (cold build, this takes minutes)..."
	start=$SECONDS
	(
		cd "$dir"
		# GOWORK=off and -buildvcs=false keep the build independent of any
		# go.work or git state in the surrounding repository.
		GOWORK=off CGO_ENABLED=0 go build -trimpath -buildvcs=false \
			-ldflags "-s -w $ldflags" -o "$tmp" .
	)
	chmod 0755 "$tmp"
	mv -f "$tmp" "$dest/$name"
	log "$name: built in $((SECONDS - start))s"
}

# kube-apiserver reports the version stamped into component-base (and
# client-go) in --version and GET /version; its effective binary version is
# derived from it too. Unstamped, it would claim to be v0.0.0-master.
kube_minor="${kube_version#v*.}"
kube_minor="${kube_minor%%.*}"
kube_major="${kube_version#v}"
kube_major="${kube_major%%.*}"
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$kube_version"
	kube_ldflags+=" -X $pkg.gitMajor=$kube_major"
	kube_ldflags+=" -X $pkg.gitMinor=$kube_minor"
	kube_ldflags+=" -X $pkg.gitCommit="
	kube_ldflags+=" -X $pkg.gitTreeState=clean"
done

build kube-apiserver "$tools_dir/kube-apiserver" "$kube_ldflags"
build etcd "$tools_dir/etcd" "-X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-build"

printf '%s\n' "$dest"
