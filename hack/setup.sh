#!/usr/bin/env bash
# setup.sh installs what `make test` (or `make dev`) needs on a fresh Debian
# or Ubuntu machine, and says plainly what it cannot install. `make test`
# and `make dev` run it first; a warm run only checks and takes seconds.
#
#   hack/setup.sh test   # default: everything the test suite needs
#   hack/setup.sh dev    # what `make dev` needs
#
# Both need Go (the version of go.work) and a reachable Docker Engine: the
# images are built with the host's Go and the local engine, and the workspace
# images from Debian's packages with mmdebstrap (hack/workspace-images.sh;
# installed by both). `test` adds:
#   - Debian packages: chromium (the web console tests drive it headless),
#     libjs-xterm and node-xterm (xterm.js for the terminal page's tests),
#     git (the drift and breaking checks read the repository), make,
#     ca-certificates (copied into the service images);
#   - the pinned code generators (`make tools`, seconds warm);
#   - the test kube-apiserver and etcd (hack/k8s-test-env.sh; about 14 min
#     cold on 2 cores);
#   - helm (deploy/hack/helm.sh; about 3 min cold).
# Built tools are cached under ${AILERON_CACHE:-$HOME/.cache/aileron}.
#
# Packages are installed with apt-get as root, or through `sudo -n` when that
# works without a password; otherwise the script prints the command to run
# and fails. It never installs Go or the Docker Engine: it says what is
# missing and fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

what="${1:-test}"
case "${what}" in
test | dev) ;;
*) echo "usage: $0 [test|dev]" >&2; exit 2 ;;
esac

start=$(date +%s)
step() { printf '=== setup %s: %s (+%ss)\n' "${what}" "$*" "$(($(date +%s) - start))" >&2; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }

step "go"
want=$(awk '$1 == "go" {print $2}' go.work)
command -v go >/dev/null || fail "go is not on PATH: install Go ${want} or newer (https://go.dev/dl/)"
have=$(go env GOVERSION)
have="${have#go}"
# sort -V orders versions; the lower of the two must be the one go.work wants.
[[ "$(printf '%s\n%s\n' "${want}" "${have}" | sort -V | head -1)" == "${want}" ]] ||
	fail "go ${have} is older than the ${want} go.work needs: install Go ${want} or newer (https://go.dev/dl/)"

step "debian packages"
packages=(ca-certificates mmdebstrap)
if [[ "${what}" == test ]]; then
	# node-xterm (with libjs-xterm, its dependency): xterm.js for the
	# runtime daemon's terminal page, which its tests load in Chromium.
	packages+=(chromium git make libjs-xterm node-xterm)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${p}")
done
if ((${#missing[@]})); then
	install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
	if ((EUID == 0)); then
		sudo=()
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		fail "missing Debian packages: ${missing[*]}; run as root:
  apt-get update && ${install[*]}"
	fi
	command -v apt-get >/dev/null || fail "missing packages ${missing[*]} and no apt-get: install them with your package manager"
	echo "installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" "${install[@]}"
fi

step "docker engine"
command -v docker >/dev/null ||
	fail "the docker CLI is not on PATH: install the Docker Engine (Debian: apt-get install docker.io; or https://docs.docker.com/engine/install/)"
docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})' >&2 ||
	fail "the Docker engine is not reachable (is it running, and may $(id -un) use its socket?): the images and the Docker tests need it"

if [[ "${what}" == dev ]]; then
	step "done"
	exit 0
fi

step "go tools"
make --no-print-directory tools

step "test kube-apiserver and etcd"
bash hack/k8s-test-env.sh >/dev/null

step "helm"
bash deploy/hack/helm.sh >/dev/null

step "done"
