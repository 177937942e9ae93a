package provisioner_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/k8s-provisioner/internal/provisioner"
)

// TestTimelineOfACreate: on Kubernetes, a create's timeline holds what the
// operator did and saw (the volume bound, the firewall written, each
// Deployment written and its pod ready), in order, reported by the
// operator, and together with the API's steps they cover the measured time
// to running.
func TestTimelineOfACreate(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	startProvisioner(t, env, ns)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	watch, err := env.Client.WatchWorkspaces(ctx, &workspacev1.WatchWorkspacesRequest{})
	require.NoError(t, err)

	created, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: "timeline", Provisioner: "kubernetes"})
	require.NoError(t, err)
	id := created.Workspace.Id
	waitResource(t, ns, id, nil)
	// As on a cluster: the claim binds before the pods that mount it run.
	bindClaim(t, ns, id)
	rollOut(t, ns, id, "runtime", "browser")
	running := apitest.WaitWrite(t, watch, id, "running")
	cancel()
	measured := running.UpdateTime.AsTime().Sub(created.Workspace.CreateTime.AsTime())

	tl := env.Timeline(t, id)
	require.Len(t, tl, 1)
	create := tl[0]
	require.Equal(t, []string{"creating", "running"}, []string{create.State, create.Result})
	apitest.RequireOrdered(t, create)
	got := apitest.StepNames(create)
	require.Equal(t, "requested", got[0])
	require.Equal(t, "running", got[len(got)-1])
	for _, s := range []string{"volume_ready", "firewall_applied", "deployment_applied runtime", "deployment_applied browser",
		"health_check_passed runtime", "health_check_passed browser"} {
		require.GreaterOrEqual(t, apitest.IndexStep(got, s), 0, "step %q missing from %v", s, got)
	}
	require.Less(t, apitest.IndexStep(got, "deployment_applied runtime"), apitest.IndexStep(got, "health_check_passed runtime"), "%v", got)
	require.Negative(t, apitest.IndexStep(got, "deployment_applied canvas"), "the canvas is disabled: %v", got)
	for _, s := range create.Steps[1 : len(create.Steps)-1] {
		require.Equal(t, provisioner.OperatorReporter, s.Reporter, s.Name)
	}

	// What the steps leave uncovered is the event's way to the operator and
	// the report's way back, bookkeeping between passes.
	covered := apitest.Coverage(create)
	gap := measured - covered
	t.Logf("time to running %s, covered by steps %s, uncovered %s: %v", measured, covered, gap, got)
	require.GreaterOrEqual(t, gap, time.Duration(0), "steps outside the transition")
	require.LessOrEqual(t, gap, max(250*time.Millisecond, measured/10), "the steps leave too much of the time to running unexplained: %v", got)
}
