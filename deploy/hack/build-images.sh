#!/usr/bin/env bash
# build-images.sh builds the container image of every Aileron service binary
# from this repository's own static binaries, FROM scratch: the binaries are
# compiled with the host's Go (never in a `FROM golang` stage), copied with the
# host's CA bundle into a throwaway build context next to
# deploy/images/<name>/Dockerfile, and built with the local Docker Engine.
# No registry is needed to build.
#
#   deploy/hack/build-images.sh                 # every image
#   deploy/hack/build-images.sh api firewall    # some
#   IMAGE_PREFIX=registry.example.com/aileron IMAGE_TAG=0.1.0 \
#     deploy/hack/build-images.sh --push        # build and push for a cluster
#
# A binary whose main package does not exist yet is skipped with a message.
# Each image is tagged ${IMAGE_PREFIX}/<name>:${IMAGE_TAG} and its size is
# printed at the end.
#
# Environment:
#   IMAGE_PREFIX  repository prefix (default aileron)
#   IMAGE_TAG     tag (default dev)
#   GOARCH        target architecture (default the host's)
#   DOCKER, GO    the docker and go commands (default docker, go)
#   CA_BUNDLE     CA certificates to copy (default /etc/ssl/certs/ca-certificates.crt)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
docker="${DOCKER:-docker}"
gocmd="${GO:-go}"
prefix="${IMAGE_PREFIX:-aileron}"
tag="${IMAGE_TAG:-dev}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

# name -> main package, relative to the repository root.
declare -A pkg=(
	[api]=services/api/cmd/api
	[firewall]=services/firewall/cmd/firewall
	[egress-gateway]=services/firewall/cmd/egress-gateway
	[docker-provisioner]=services/docker-provisioner/cmd/docker-provisioner
	[k8s-provisioner]=services/k8s-provisioner/cmd/k8s-provisioner
	[workspace-operator]=services/k8s-provisioner/cmd/workspace-operator
)
all=(api firewall egress-gateway docker-provisioner k8s-provisioner workspace-operator)

usage() { echo "usage: $0 [--push] [${all[*]}]" >&2; exit 2; }
push=0
names=()
for a in "$@"; do
	case "${a}" in
	--push) push=1 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) [[ -n "${pkg[${a}]:-}" ]] || { echo "build-images: unknown image ${a}" >&2; usage; }; names+=("${a}") ;;
	esac
done
((${#names[@]})) || names=("${all[@]}")

[[ -r "${ca_bundle}" ]] || { echo "build-images: no CA bundle at ${ca_bundle} (apt-get install ca-certificates)" >&2; exit 1; }
"${docker}" version --format '{{.Server.Version}}' >/dev/null || { echo "build-images: the Docker engine is not reachable" >&2; exit 1; }

goarch="${GOARCH:-$("${gocmd}" env GOARCH)}"
revision="$(git -C "${root}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

built=()
skipped=()
for name in "${names[@]}"; do
	dir="${pkg[${name}]}"
	if ! compgen -G "${root}/${dir}/*.go" >/dev/null; then
		echo "build-images: skip ${name}: ${dir} does not exist yet" >&2
		skipped+=("${name}")
		continue
	fi
	ctx="${work}/${name}"
	mkdir -p "${ctx}/tmp" "${ctx}/etc-aileron/egress"
	chmod 1777 "${ctx}/tmp"
	echo "build-images: go build ./${dir} (linux/${goarch})" >&2
	(cd "${root}" && CGO_ENABLED=0 GOOS=linux GOARCH="${goarch}" "${gocmd}" build -trimpath -ldflags "-s -w" \
		-o "${ctx}/${name}" "./${dir}")
	cp "${ca_bundle}" "${ctx}/ca-certificates.crt"
	cp "${root}/deploy/images/${name}/Dockerfile" "${ctx}/Dockerfile"
	# Name uid/gid 65532 for tools that look the user up; no login shell exists.
	printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"${ctx}/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"${ctx}/group"
	image="${prefix}/${name}:${tag}"
	# The legacy builder needs no buildx plugin and works on every engine.
	DOCKER_BUILDKIT=0 "${docker}" build --quiet --platform "linux/${goarch}" \
		--label "org.opencontainers.image.title=aileron-${name}" \
		--label "org.opencontainers.image.source=aileron.dev" \
		--label "org.opencontainers.image.revision=${revision}" \
		--label "org.opencontainers.image.version=${tag}" \
		--tag "${image}" "${ctx}" >"${work}/build.log" 2>&1 || {
		cat "${work}/build.log" >&2
		echo "build-images: docker build ${image} failed" >&2
		exit 1
	}
	if ((push)); then
		"${docker}" push "${image}" >&2
	fi
	built+=("${image}")
	rm -rf "${ctx}"
done

if ((${#built[@]})); then
	printf '%-45s %10s\n' IMAGE SIZE
	for image in "${built[@]}"; do
		size="$("${docker}" image inspect --format '{{.Size}}' "${image}")"
		printf '%-45s %10s\n' "${image}" "$(numfmt --to=iec-i --suffix=B --format='%.1f' "${size}")"
	done
fi
if ((${#skipped[@]})); then
	echo "build-images: skipped (no main package yet): ${skipped[*]}" >&2
fi
