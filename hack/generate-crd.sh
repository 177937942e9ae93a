#!/usr/bin/env bash
# generate-crd.sh regenerates what controller-gen derives from the Workspace
# API types of services/k8s-provisioner: the deepcopy methods
# (api/v1alpha1/zz_generated.deepcopy.go), the CRD YAML (config/crd/) and the
# operator's ClusterRole (config/rbac/). Run it after changing the types or
# the +kubebuilder markers; CI fails when the committed output drifts.
set -euo pipefail

CONTROLLER_GEN_VERSION="${CONTROLLER_GEN_VERSION:-v0.23.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}/services/k8s-provisioner"

# `go run pkg@version` builds controller-gen in its own module, outside go.work.
controller_gen=(go run "sigs.k8s.io/controller-tools/cmd/controller-gen@${CONTROLLER_GEN_VERSION}")

"${controller_gen[@]}" object paths=./api/...
"${controller_gen[@]}" crd paths=./api/... output:crd:artifacts:config=config/crd
"${controller_gen[@]}" rbac:roleName=aileron-workspace-operator paths=./internal/controller/... \
	output:rbac:artifacts:config=config/rbac
