package provisioner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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
		// A hang guard, not a speed limit: twenty workspaces are a hundred
		// containers and forty networks on an engine that may share two
		// cores with the rest of the suite.
		w := h.waitStateWithin(id, "running", 5*time.Minute)
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
