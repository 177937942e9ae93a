package provisioner

import "strings"

// Error codes of the reports the k8s provisioner publishes, in one place
// until the shared error-code catalogue holds them.
const (
	// codeReconcileFailed: the workspace failed without a Ready reason.
	codeReconcileFailed = "KUBERNETES_RECONCILE_FAILED"
	// codeCiliumNotInstalled: the cluster cannot enforce the firewall.
	codeCiliumNotInstalled = "CILIUM_NOT_INSTALLED"
	// codeReasonPrefix starts the code derived from a condition reason.
	codeReasonPrefix = "KUBERNETES_"
)

// reasonCode is the error code of a Workspace condition reason:
// ReplicaFailure is KUBERNETES_REPLICA_FAILURE.
func reasonCode(reason string) string { return codeReasonPrefix + upperSnake(reason) }

func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
