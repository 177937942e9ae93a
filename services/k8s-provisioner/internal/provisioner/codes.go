package provisioner

import (
	"strings"

	"aileron.dev/pkg/errcode"
)

// reasonCode is the error code of a Workspace condition reason:
// ReplicaFailure is KUBERNETES_REPLICA_FAILURE.
func reasonCode(reason string) string {
	return string(errcode.PrefixKubernetes.With(upperSnake(reason)))
}

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
