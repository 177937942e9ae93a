package provisioner_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/docker-provisioner/provisioner"

	"aileron.dev/pkg/workspace"
)

func TestLifecycleKeepsDataAcrossStopStart(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	ctx := context.Background()
	w := h.create("lifecycle", true)
	w = h.waitState(w.Id, "running")

	for _, s := range []*workspacev1.ServiceStatus{w.Services.Runtime, w.Services.Terminal, w.Services.Browser, w.Services.Canvas} {
		require.Equal(t, "running", s.State, "%v", s)
		require.NotEmpty(t, s.Endpoint)
		require.Equal(t, "aileron/workspace-stub:dev", s.Image)
	}
	cs := containersOf(t, w.Id)
	for _, name := range []string{"workspace-runtime-", "workspace-terminal-", "workspace-chrome-", "workspace-canvas-", "workspace-egress-"} {
		require.Contains(t, cs, name+w.Id)
		require.True(t, cs[name+w.Id].State.Running, name)
	}
	require.Len(t, cs, 5)
	nets, vols := objectsOf(t, w.Id)
	require.ElementsMatch(t, []string{"aileron-ws-" + w.Id, "aileron-br-" + w.Id}, nets)
	require.ElementsMatch(t, []string{"workspace-data-" + w.Id, "workspace-egress-" + w.Id}, vols)

	// runtime and terminal share the workspace volume.
	putFile(t, w.Services.Runtime.Endpoint, "notes.txt", "kept across stop and start")
	code, body := getFile(t, w.Services.Terminal.Endpoint, "notes.txt")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "kept across stop and start", body)

	_, err := h.api.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	w = h.waitState(w.Id, "stopped")
	require.Equal(t, "stopped", w.Services.Runtime.State)
	for name, c := range containersOf(t, w.Id) {
		require.False(t, c.State.Running, "%s still running", name)
	}
	_, vols = objectsOf(t, w.Id)
	require.Contains(t, vols, provisioner.VolumeName(w.Id))

	_, err = h.api.Client.StartWorkspace(ctx, &workspacev1.StartWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	w = h.waitState(w.Id, "running")
	code, body = getFile(t, w.Services.Runtime.Endpoint, "notes.txt")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "kept across stop and start", body)

	w = restartAll(t, h, w)

	_, err = h.api.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	h.waitGone(w.Id)
	requireNothingLeft(t, w.Id)
	require.Empty(t, h.logs.Unattributed(w.Id), "log lines about the workspace without its workspace_id")
	require.NotZero(t, h.logs.Count("workspace_id="+w.Id), "control: the provisioner logged about the workspace")
}

// restartAll restarts the workspace and checks every service restarted with
// its data still there.
func restartAll(t *testing.T, h *harness, w *workspacev1.Workspace) *workspacev1.Workspace {
	t.Helper()
	before := containersOf(t, w.Id)
	_, err := h.api.Client.RestartWorkspace(context.Background(), &workspacev1.RestartWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	w = h.waitState(w.Id, "running")
	after := containersOf(t, w.Id)
	for _, s := range workspace.Services {
		name := provisioner.ContainerName(s, w.Id)
		require.NotEqual(t, before[name].State.StartedAt, after[name].State.StartedAt, "%s not restarted", name)
		require.NotEmpty(t, after[name].Config.Labels[provisioner.LabelRestartedAt])
	}
	require.NotNil(t, w.Services.Runtime.LastRestartTime)
	code, body := getFile(t, w.Services.Runtime.Endpoint, "notes.txt")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "kept across stop and start", body)
	return w
}
