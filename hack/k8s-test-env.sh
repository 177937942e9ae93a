#!/usr/bin/env bash
# k8s-test-env.sh builds (once) the kube-apiserver and etcd binaries that
# envtest needs and prints the directory holding them on the last line of
# stdout:
#
#   export KUBEBUILDER_ASSETS="$(hack/k8s-test-env.sh)"
#
# envtest's usual download is unreachable from our machines, so both binaries
# are built from Go module sources: a throwaway wrapper module requires
# k8s.io/kubernetes, replaces every k8s.io/<staging> module that
# k8s.io/kubernetes's go.mod points at ./staging with its published v0.x.y
# release, and blank-imports the two main packages in a `//go:build tools`
# file. etcd is pinned to the go.etcd.io/etcd/server/v3 version that
# k8s.io/kubernetes itself requires.
#
# Binaries are cached under ${AILERON_CACHE:-$HOME/.cache/aileron}/k8s/<version>/;
# a warm run only checks they exist. Cold on 2 cores: about 14 minutes.
# Everything but the final path goes to stderr.
#
# Environment:
#   AILERON_CACHE       cache root (default $HOME/.cache/aileron)
#   K8S_VERSION         Kubernetes version (default v1.37.2)
#   K8S_TEST_ENV_FORCE  set to 1 to rebuild even when binaries exist
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
CACHE_ROOT="${AILERON_CACHE:-${HOME}/.cache/aileron}"
DIR="${CACHE_ROOT}/k8s/${K8S_VERSION}"
ASSETS="${DIR}/bin"
WRAPPER="${DIR}/wrapper"

log() { printf '[k8s-test-env] %s\n' "$*" >&2; }

have_binaries() {
	[[ -x "${ASSETS}/kube-apiserver" && -x "${ASSETS}/etcd" ]]
}

if [[ "${K8S_TEST_ENV_FORCE:-0}" != 1 ]] && have_binaries; then
	echo "${ASSETS}"
	exit 0
fi

command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
mkdir -p "${ASSETS}" "${WRAPPER}"

# One builder at a time: parallel CI jobs or test packages may call us together.
exec 9>"${DIR}/.lock"
if command -v flock >/dev/null; then
	flock 9
fi
if [[ "${K8S_TEST_ENV_FORCE:-0}" != 1 ]] && have_binaries; then
	echo "${ASSETS}"
	exit 0
fi

# The wrapper module lives outside the repository: keep the workspace and the
# caller's module flags out of it.
export GOWORK=off GOFLAGS=-mod=mod
start=$(date +%s)

# e.g. v1.37.2 -> v0.37.2, the tag the staging modules are published under.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"

log "downloading k8s.io/kubernetes@${K8S_VERSION} go.mod"
kmod=$(cd "${WRAPPER}" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[[ -f "${kmod}" ]] || { log "no go.mod for k8s.io/kubernetes@${K8S_VERSION}"; exit 1; }

# Staging modules are the ones k8s.io/kubernetes replaces with ./staging paths.
mapfile -t staging < <(grep -oE 'k8s\.io/[A-Za-z0-9._-]+ => \./staging/src/k8s\.io/[A-Za-z0-9._-]+' "${kmod}" |
	awk '{print $1}' | sort -u)
((${#staging[@]} > 0)) || { log "found no staging replaces in ${kmod}"; exit 1; }
log "found ${#staging[@]} staging modules, replacing each with ${STAGING_VERSION}"

etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "${kmod}")
[[ -n "${etcd_version}" ]] || { log "k8s.io/kubernetes does not require go.etcd.io/etcd/server/v3"; exit 1; }
log "etcd server version from k8s.io/kubernetes go.mod: ${etcd_version}"

cd "${WRAPPER}"
rm -f go.mod go.sum
go mod init aileron.dev/k8s-test-env >/dev/null 2>&1
go mod edit -go=1.26
go mod edit -require="k8s.io/kubernetes@${K8S_VERSION}" -require="go.etcd.io/etcd/server/v3@${etcd_version}"
args=()
for m in "${staging[@]}"; do
	args+=("-replace=${m}=${m}@${STAGING_VERSION}")
done
go mod edit "${args[@]}"

cat >tools.go <<'GO'
//go:build tools

// Package tools pins the main packages built by hack/k8s-test-env.sh.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
GO

log "go mod tidy (downloads the dependency graph; slow on a cold module cache)"
go mod tidy >&2

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION}"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

log "building kube-apiserver ${K8S_VERSION}"
go build -trimpath -ldflags "${ldflags}" -o "${ASSETS}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
mv -f "${ASSETS}/kube-apiserver.tmp" "${ASSETS}/kube-apiserver"

log "building etcd ${etcd_version}"
go build -trimpath -ldflags "-s -w" -o "${ASSETS}/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
mv -f "${ASSETS}/etcd.tmp" "${ASSETS}/etcd"

"${ASSETS}/kube-apiserver" --version >&2
"${ASSETS}/etcd" --version >&2
log "built in $(($(date +%s) - start))s into ${ASSETS}"
echo "${ASSETS}"
