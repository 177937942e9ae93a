#!/usr/bin/env bash
# sync-crds.sh copies the CRDs that controller-gen generates from the
# Workspace API types (services/k8s-provisioner/config/crd/*.yaml, written by
# hack/generate-crd.sh) into the Helm chart's crds/ directory, byte for byte,
# and removes chart CRDs that no longer have a source. Third-party CRDs
# (config/crd/thirdparty/, e.g. Cilium's) are test fixtures, never shipped.
#
#   deploy/hack/sync-crds.sh          # copy
#   deploy/hack/sync-crds.sh --check  # exit 1 and show the diff on drift
#
# deploy/test runs the same comparison, so CI fails when someone regenerates
# the CRD and forgets to sync.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
src="${root}/services/k8s-provisioner/config/crd"
dst="${root}/deploy/helm/aileron/crds"
check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

shopt -s nullglob
sources=("${src}"/*.yaml)
if ((${#sources[@]} == 0)); then
	echo "sync-crds: no CRD in ${src}: run hack/generate-crd.sh first" >&2
	exit 1
fi
mkdir -p "${dst}"

drift=0
for f in "${sources[@]}"; do
	name="$(basename "${f}")"
	if cmp -s "${f}" "${dst}/${name}"; then
		continue
	fi
	if ((check)); then
		echo "sync-crds: deploy/helm/aileron/crds/${name} differs from services/k8s-provisioner/config/crd/${name}" >&2
		diff -u "${dst}/${name}" "${f}" >&2 || true
		drift=1
	else
		cp "${f}" "${dst}/${name}"
		echo "sync-crds: updated crds/${name}" >&2
	fi
done
for f in "${dst}"/*.yaml; do
	name="$(basename "${f}")"
	[[ -f "${src}/${name}" ]] && continue
	if ((check)); then
		echo "sync-crds: deploy/helm/aileron/crds/${name} has no source in services/k8s-provisioner/config/crd" >&2
		drift=1
	else
		rm -f "${f}"
		echo "sync-crds: removed crds/${name}" >&2
	fi
done
if ((drift)); then
	echo "sync-crds: the chart's CRDs drifted: run deploy/hack/sync-crds.sh" >&2
	exit 1
fi
