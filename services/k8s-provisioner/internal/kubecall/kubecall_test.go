package kubecall_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"aileron.dev/services/k8s-provisioner/internal/kubecall"
)

func TestResult(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{apierrors.NewConflict(gr, "x", errors.New("changed")), "conflict"},
		{apierrors.NewAlreadyExists(gr, "x"), "conflict"},
		{apierrors.NewNotFound(gr, "x"), "not_found"},
		{apierrors.NewForbidden(gr, "x", errors.New("no")), "error"},
		{errors.New("connection refused"), "error"},
	} {
		require.Equal(t, tt.want, kubecall.Result(tt.err), "%v", tt.err)
	}
}
