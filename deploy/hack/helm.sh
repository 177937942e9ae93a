#!/usr/bin/env bash
# helm.sh installs (once) the pinned Helm CLI from the Go module proxy and
# prints its path on the last line of stdout:
#
#   HELM="$(bash deploy/hack/helm.sh)"
#
# No binary download is reachable from our machines, so Helm is built with
# `go install` (about 3 minutes cold on 2 cores, instant once cached). The
# binary is cached as ${AILERON_CACHE:-$HOME/.cache/aileron}/bin/helm-<version>
# with a `helm` symlink beside it; everything but the final path goes to
# stderr.
#
# Environment:
#   AILERON_CACHE  cache root (default $HOME/.cache/aileron)
#   HELM_VERSION   Helm version (default v3.22.0)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
BIN="${AILERON_CACHE:-${HOME}/.cache/aileron}/bin"
TARGET="${BIN}/helm-${HELM_VERSION}"

log() { printf '[helm] %s\n' "$*" >&2; }

if [[ -x "${TARGET}" ]]; then
	echo "${TARGET}"
	exit 0
fi

command -v go >/dev/null || { log "go is not on PATH: Helm is built from the Go module proxy"; exit 1; }
mkdir -p "${BIN}"

# One builder at a time: the tests and `make` may ask together.
exec 9>"${BIN}/.helm-${HELM_VERSION}.lock"
if command -v flock >/dev/null; then
	flock 9
fi
if [[ -x "${TARGET}" ]]; then
	echo "${TARGET}"
	exit 0
fi

start=$(date +%s)
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
log "go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION} (about 3 minutes on a cold module cache)"
# Outside any workspace or module: `go install pkg@version` builds Helm with
# its own go.mod. Stamp what Helm's Makefile stamps: its version, and the
# Kubernetes version of its client-go as the default of `helm template` and
# `helm lint` (unstamped, they assume v1.20.0 and refuse our kubeVersion).
export GOWORK=off GOFLAGS= CGO_ENABLED=0
gomod=$(cd "${tmp}" && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[[ -f "${gomod}" ]] || { log "no go.mod for helm.sh/helm/v3@${HELM_VERSION}"; exit 1; }
k8s_minor=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "${gomod}" | cut -d. -f2)
[[ -n "${k8s_minor}" ]] || { log "helm's go.mod does not require k8s.io/client-go"; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
	ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done
(cd "${tmp}" && GOBIN="${tmp}" go install -trimpath -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2)
mv -f "${tmp}/helm" "${TARGET}"
ln -sfn "$(basename "${TARGET}")" "${BIN}/helm"
"${TARGET}" version --short >&2
log "built in $(($(date +%s) - start))s: ${TARGET}"
echo "${TARGET}"
