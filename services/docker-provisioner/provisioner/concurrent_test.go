package provisioner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

func TestTwentyConcurrentCreates(t *testing.T) {
	const n = 20
	ctx := context.Background()
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := h.api.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: fmt.Sprintf("many-%02d", i), Provisioner: "docker"})
			if err == nil {
				ids[i] = resp.Workspace.Id
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.NotEmpty(t, id)
		w := h.waitState(id, "running")
		require.Len(t, containersOf(t, id), 4)
		require.Equal(t, "running", w.Services.Browser.State)
	}
	for _, id := range ids {
		_, err := h.api.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: id})
		require.NoError(t, err)
	}
	for _, id := range ids {
		h.waitGone(id)
		requireNothingLeft(t, id)
	}
}
