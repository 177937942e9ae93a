#!/usr/bin/env bash
# test.sh runs the chart tests of deploy/test: it installs (once) the pinned
# Helm and the test kube-apiserver, checks the chart's CRDs are in sync, and
# runs `go test`. Extra arguments go to `go test` (e.g. -run TestLint -v).
#
#   bash deploy/hack/test.sh
#
# Cold: about 3 minutes for Helm plus 14 for the kube-apiserver; warm: about
# a minute on 2 busy cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HELM="${HELM:-$(bash "${root}/deploy/hack/helm.sh")}"
KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$(bash "${root}/hack/k8s-test-env.sh")}"
export HELM KUBEBUILDER_ASSETS

bash "${root}/deploy/hack/sync-crds.sh" --check

cd "${root}/deploy"
# Until go.work lists ./deploy, test the module on its own (its go.mod
# replaces the repository modules it imports).
if ! go list -m aileron.dev/deploy >/dev/null 2>&1; then
	export GOWORK=off
fi
exec go test -count=1 -timeout 20m "$@" ./test/
