package daemon_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/daemon"
)

func TestRefuseRoot(t *testing.T) {
	require.EqualError(t, daemon.RefuseRoot(0, "run as the workspace user"), "refusing to run as root: run as the workspace user")
	require.NoError(t, daemon.RefuseRoot(65532, "x"))
}
