package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/workspace"
	dockerprov "aileron.dev/services/docker-provisioner/provisioner"
)

// TestDevTrace runs `aileron dev --trace` on the real engine (every service
// on the stub image, which starts in milliseconds) and checks that a REST
// create's span tree reaches stderr: the request, its event, the
// provisioner's reconcile with its Docker calls and the running report.
func TestDevTrace(t *testing.T) {
	for _, s := range workspace.Services {
		t.Setenv("AILERON_DOCKER_"+strings.ToUpper(string(s))+"_IMAGE", dockerprov.StubImage)
	}
	var out syncBuffer
	base := startDevWith(t, func(c *devConfig) { c.traceOut = &out }, "--docker=on", "--trace")
	require.True(t, telemetry.Enabled())
	// The provisioner's consumer may start after dev is ready (a create
	// that early is reconciled by the start-up resync, in a trace of its
	// own): the second create is the one checked.
	first := restCreate(t, base, `{"name": "first", "provisioner": "docker"}`)["id"].(string)
	restWaitState(t, base, first, "running")
	id := restCreate(t, base, `{"name": "traced", "provisioner": "docker"}`)["id"].(string)
	restWaitState(t, base, id, "running")

	// The tree is written once the trace has been quiet for a moment.
	var tree string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		printed := out.String()
		for _, tr := range strings.Split(printed, "trace ")[1:] {
			if strings.Contains(tr, "workspace_id="+id) && strings.Contains(tr, "publish aileron.status.provisioner") {
				tree = "trace " + tr
				return
			}
		}
		c.Errorf("no span tree of %s on stderr:\n%s", id, printed)
	}, time.Minute, 100*time.Millisecond)
	t.Logf("aileron dev --trace printed:\n%s", tree)
	lines := strings.Split(tree, "\n")
	require.True(t, strings.HasPrefix(lines[1], "  POST /api/v1/workspaces  "), tree)
	for _, want := range []string{
		"    aileron.workspace.v1.WorkspaceService/CreateWorkspace  ",
		"publish aileron.workspace.docker.created  ",
		"reconcile  ",
		"docker ContainerCreate  ",
		"docker ContainerStart  ",
	} {
		require.Contains(t, tree, want)
	}
	require.NotContains(t, out.String(), "GET /api/v1/workspaces/", "reads are not printed")
	restDelete(t, base, id)
	restDelete(t, base, first)
}

// TestDevWithoutTraceInstallsNothing: without --trace or an endpoint,
// aileron dev keeps the no-op provider and installs no instrumentation.
func TestDevWithoutTraceInstallsNothing(t *testing.T) {
	cfg, err := parseDev([]string{"--data-dir", t.TempDir()}, nil)
	require.NoError(t, err)
	require.False(t, cfg.Trace)
	stop, err := startTracing(t.Context(), cfg)
	require.NoError(t, err)
	defer stop()
	require.False(t, telemetry.Enabled())
}
