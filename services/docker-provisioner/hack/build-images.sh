#!/usr/bin/env bash
# Builds the local images the docker provisioner runs by default, from this
# repository's own static binaries (no registry is needed):
#   aileron/workspace-stub:dev   services/docker-provisioner/cmd/workspace-stub
#   aileron/egress-gateway:dev   services/firewall/cmd/egress-gateway (by deploy/hack/build-images.sh)
# and, with --only nats, the NATS server of the cluster test (natscluster/):
#   aileron/nats-server:dev      github.com/nats-io/nats-server/v2, the version go.work resolves
# Both are FROM scratch, run as 65532:65532 and carry an empty /workspace and
# /tmp owned by that user (a fresh named volume copies the owner of its
# mount point from the image).
#
# Usage: hack/build-images.sh [--only stub|gateway|nats]
# Env:   DOCKER (default docker), GO (default go), STUB_IMAGE.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
docker="${DOCKER:-docker}"
gobin="${GO:-go}"
only=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--only) only="$2"; shift 2 ;;
	*) echo "usage: $0 [--only stub|gateway|nats]" >&2; exit 2 ;;
	esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# build_image <tag> <go package: a directory of this repo, or a module's import path> <binary name>
build_image() {
	local tag="$1" pkg="$2" bin="$3" ctx="$work/$3"
	[[ "$pkg" == *.*/* ]] || pkg="./$pkg"
	mkdir -p "$ctx/rootfs/workspace" "$ctx/rootfs/tmp" "$ctx/rootfs/etc/aileron"
	(cd "$root" && CGO_ENABLED=0 "$gobin" build -trimpath -ldflags "-s -w" -o "$ctx/rootfs/$bin" "$pkg")
	# /etc/passwd and /etc/group name the non-root user for tools that look it up.
	printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/workspace:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/rootfs/etc/group"
	cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY --chown=65532:65532 rootfs/ /
USER 65532:65532
ENTRYPOINT ["/$bin"]
LABEL org.opencontainers.image.source="aileron.dev" aileron.dev/image="$bin"
DOCKERFILE
	# The legacy builder needs no buildx plugin and works on every engine.
	if ! DOCKER_BUILDKIT=0 "$docker" build --quiet --tag "$tag" "$ctx" >"$work/build.log" 2>&1; then
		cat "$work/build.log" >&2
		exit 1
	fi
	echo "built $tag"
}

if [[ -z "$only" || "$only" == stub ]]; then
	build_image "${STUB_IMAGE:-aileron/workspace-stub:dev}" services/docker-provisioner/cmd/workspace-stub workspace-stub
fi
if [[ "$only" == nats ]]; then
	# Not by default: only the cluster test runs it. The server's own module
	# (required by pkg/go.mod) gives the binary; no registry is needed.
	build_image "${NATS_IMAGE:-aileron/nats-server:dev}" github.com/nats-io/nats-server/v2 nats-server
fi
if [[ -z "$only" || "$only" == gateway ]]; then
	# The gateway is a service image like the others: one recipe builds it.
	IMAGE_PREFIX=aileron IMAGE_TAG=dev bash "$root/deploy/hack/build-images.sh" egress-gateway
fi
