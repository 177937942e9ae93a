package provisioner_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/logtest"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
	"aileron.dev/services/k8s-provisioner/internal/provisioner"
)

var (
	testEnv *controllertest.Env
	k8s     client.Client
	images  = workspace.PerService[string]{Runtime: "reg.test/runtime:1", Terminal: "reg.test/terminal:1", Browser: "reg.test/chrome:1", Canvas: "reg.test/canvas:1"}
)

const (
	// waitFor only fails a hung test. It outlasts the event consumer's
	// redelivery back-off (1+2+5+10 s): on a busy machine one apiserver
	// call that times out puts the next pass 10 s or more away.
	waitFor = 60 * time.Second
	tick    = 50 * time.Millisecond
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

// run starts one kube-apiserver with the Workspace and Cilium CRDs and the
// real workspace-operator for the whole package.
func run(m *testing.M) int {
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	env, err := controllertest.Start(controllertest.WorkspaceCRD(), controllertest.CiliumCRD())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	testEnv = env
	scheme, err := controller.Scheme()
	if err == nil {
		k8s, err = client.New(env.Config, client.Options{Scheme: scheme})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mgr ctrl.Manager
	if err == nil {
		err = k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "aileron-system"}})
	}
	if err == nil {
		mgr, err = controller.NewManager(env.Config, controller.ManagerOptions{
			DisableLeaderElection: true, MetricsBindAddress: "0",
			Reconciler: controller.Config{DefaultsConfigMap: types.NamespacedName{Namespace: "aileron-system", Name: "defaults"}, StorageBindDeadline: time.Hour},
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: set up:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: operator:", err)
		return 1
	}
	return code
}

// startProvisioner runs the k8s-provisioner (event consumer and status
// reporter) against env's NATS for workspaces in ns.
func startProvisioner(t *testing.T, env *apitest.Env, ns string) *provisioner.Provisioner {
	t.Helper()
	return startProvisionerOn(t, env.JS, ns)
}

// startProvisionerOn is startProvisioner on its own NATS connection js.
func startProvisionerOn(t *testing.T, js jetstream.JetStream, ns string) *provisioner.Provisioner {
	t.Helper()
	return startProvisionerLogging(t, js, ns, io.Discard)
}

// startProvisionerLogging is startProvisionerOn logging every line (debug
// included) to logs.
func startProvisionerLogging(t *testing.T, js jetstream.JetStream, ns string, logs io.Writer) *provisioner.Provisioner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	scheme, err := controller.Scheme()
	require.NoError(t, err)
	mgr, err := ctrl.NewManager(testEnv.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	reporter, err := provisioner.NewReporter(ctx, ns, mgr.GetClient(), js)
	require.NoError(t, err)
	require.NoError(t, reporter.SetupWithManager(mgr))
	p, err := provisioner.New(ctx, provisioner.Config{
		Namespace: ns, Images: images,
		Resources: map[string]map[string]any{"runtime": {"limits": map[string]any{"memory": "1Gi"}}},
	}, mgr.GetClient(), js, reporter, log)
	require.NoError(t, err)
	mgrDone, runDone := make(chan error, 1), make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	go func() { runDone <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-mgrDone)
		require.NoError(t, <-runDone)
	})
	return p
}

func namespace(t *testing.T) string {
	ns, err := controllertest.Namespace(t.Context(), k8s, nil)
	require.NoError(t, err)
	return ns
}

func state(t *testing.T, env *apitest.Env, id string) *workspacev1.Workspace {
	r, err := env.Client.GetWorkspace(t.Context(), &workspacev1.GetWorkspaceRequest{Id: id})
	require.NoError(t, err)
	return r.Workspace
}

func waitState(t *testing.T, env *apitest.Env, id, want string) *workspacev1.Workspace {
	t.Helper()
	var w *workspacev1.Workspace
	require.Eventually(t, func() bool { w = state(t, env, id); return w.State == want }, waitFor, tick, "never %s", want)
	return w
}

// waitGone waits until the API no longer has workspace id: the deleted
// report came once its resource was gone.
func waitGone(t *testing.T, env *apitest.Env, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := env.Client.GetWorkspace(t.Context(), &workspacev1.GetWorkspaceRequest{Id: id})
		return err != nil
	}, waitFor, tick, "the workspace must disappear once its resource is gone")
}

// waitResource polls the Workspace resource id in ns until it exists and
// check (if any) passes, and returns it.
func waitResource(t *testing.T, ns, id string, check func(c *assert.CollectT, ws *v1alpha1.Workspace)) *v1alpha1.Workspace {
	t.Helper()
	ws := &v1alpha1.Workspace{}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, k8s.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: id}, ws))
		if check != nil {
			check(c, ws)
		}
	}, waitFor, tick)
	return ws
}

// rollOut plays the Deployment controller for the given pods of workspace
// id, once the operator has scaled each as the Workspace resource asks.
func rollOut(t *testing.T, ns, id string, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		key := types.NamespacedName{Namespace: ns, Name: "ws-" + id + "-" + k}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			require.NoError(c, controllertest.MarkRolledOut(t.Context(), k8s, key))
		}, waitFor, tick)
	}
}

// bindClaim plays the volume binder for workspace id's claim.
func bindClaim(t *testing.T, ns, id string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, controllertest.BindClaim(t.Context(), k8s, types.NamespacedName{Namespace: ns, Name: "ws-" + id + "-data"}))
	}, waitFor, tick)
}

// TestFullPath drives POST /api/v1/workspaces with provisioner kubernetes to
// a Workspace resource, through the real operator, and back to the API.
func TestFullPath(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	logs := &logtest.Lines{}
	startProvisionerLogging(t, env.JS, ns, logs)
	ctx := t.Context()

	created, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{
		Name: "k8s-ws", Provisioner: "kubernetes", WorkspaceFirewallAllowedDomains: []string{"example.com"},
	})
	require.NoError(t, err)
	id := created.Workspace.Id

	ws := waitResource(t, ns, id, nil)
	require.Equal(t, id, ws.Spec.WorkspaceID)
	require.Equal(t, "dev", ws.Spec.Owner)
	require.Equal(t, v1alpha1.DesiredStateRunning, ws.Spec.DesiredState)
	require.Equal(t, images.Browser, ws.Spec.Services.Browser.Image)
	require.Equal(t, "1Gi", ws.Spec.Services.Runtime.Resources.Limits.Memory().String())
	require.False(t, ws.Spec.Services.Canvas.Enabled)
	require.Equal(t, []string{"example.com"}, ws.Spec.Firewall.Workspace.AllowedDomains)
	require.Equal(t, "1", ws.Annotations[v1alpha1.AnnotationGeneration])
	require.NotContains(t, ws.Annotations, v1alpha1.AnnotationTraceparent, "no trace context without tracing")

	rollOut(t, ns, id, "runtime", "browser")
	bindClaim(t, ns, id)
	w := waitState(t, env, id, "running")
	require.Contains(t, w.Services.Runtime.Endpoint, "ws-"+id+"-runtime."+ns+".svc")
	require.Equal(t, "running", w.Services.Browser.State)
	require.Equal(t, "disabled", w.Services.Canvas.State)
	require.Eventually(t, func() bool { return state(t, env, id).FirewallStatus.Phase == "applied" }, waitFor, tick)
	require.Contains(t, state(t, env, id).FirewallStatus.WorkspaceEffectiveAllowedDomains, "example.com")

	// A pod that fails and comes back: the API follows both ways, though the
	// second running report is identical to the first.
	browser := types.NamespacedName{Namespace: ns, Name: "ws-" + id + "-browser"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, controllertest.MarkReplicaFailure(ctx, k8s, browser, "pods exceed the namespace quota"))
	}, waitFor, tick)
	require.Equal(t, "KUBERNETES_REPLICA_FAILURE", waitState(t, env, id, "failed").ErrorCode)
	rollOut(t, ns, id, "browser")
	waitState(t, env, id, "running")

	_, err = env.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: id})
	require.NoError(t, err)
	waitResource(t, ns, id, func(c *assert.CollectT, ws *v1alpha1.Workspace) {
		require.Equal(c, v1alpha1.DesiredStateStopped, ws.Spec.DesiredState)
	})
	rollOut(t, ns, id, "runtime", "browser")
	waitState(t, env, id, "stopped")

	_, err = env.Client.StartWorkspace(ctx, &workspacev1.StartWorkspaceRequest{Id: id})
	require.NoError(t, err)
	waitResource(t, ns, id, func(c *assert.CollectT, ws *v1alpha1.Workspace) {
		require.Equal(c, v1alpha1.DesiredStateRunning, ws.Spec.DesiredState)
	})
	rollOut(t, ns, id, "runtime", "browser")
	waitState(t, env, id, "running")

	_, err = env.Client.RestartService(ctx, &workspacev1.RestartServiceRequest{Id: id, Service: "browser"})
	require.NoError(t, err)
	waitResource(t, ns, id, func(c *assert.CollectT, ws *v1alpha1.Workspace) {
		require.NotNil(c, ws.Spec.Operations.RestartBrowserAt)
		require.Nil(c, ws.Spec.Operations.RestartRuntimeAt)
	})

	_, err = env.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: id})
	require.NoError(t, err)
	waitGone(t, env, id)
	require.True(t, isNotFound(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: id}, ws)))
	// An operator filtering the logs by workspace_id sees every line about it.
	require.Empty(t, logs.Unattributed(id), "log lines about the workspace without its workspace_id")
	require.NotZero(t, logs.Count("workspace_id="+id), "control: the provisioner logged about the workspace")
}

// TestUnderItsOwnNATSUser runs the api and the k8s-provisioner each as its
// own NATS user, as the chart does: a workspace is created, reported running
// and deleted through the provisioner's consumer, reports and record reads.
func TestUnderItsOwnNATSUser(t *testing.T) {
	env := apitest.Start(t, apitest.Options{OwnUsers: true})
	ctx := t.Context()
	nc, js, err := bus.Open(ctx, env.Users.URL(bus.RoleK8sProvisioner.User), bus.RoleK8sProvisioner, "", bus.SetupConfig{})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ns := namespace(t)
	startProvisionerOn(t, js, ns)

	created, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: "own-user", Provisioner: "kubernetes"})
	require.NoError(t, err)
	id := created.Workspace.Id
	waitResource(t, ns, id, nil)
	rollOut(t, ns, id, "runtime", "browser")
	bindClaim(t, ns, id)
	waitState(t, env, id, "running")

	_, err = env.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: id})
	require.NoError(t, err)
	waitGone(t, env, id)
}

// TestResyncRemovesOrphans: a Workspace resource of ours with no record is deleted.
func TestResyncRemovesOrphans(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	p := startProvisioner(t, env, ns)
	orphan := controllertest.Workspace(ns, "orphanaaaaaaaaaaaaaa")
	orphan.Name = "orphanaaaaaaaaaaaaaa"
	orphan.Labels = map[string]string{v1alpha1.LabelManagedBy: provisioner.LabelManagedByValue}
	require.NoError(t, k8s.Create(t.Context(), orphan))
	foreign := controllertest.Workspace(ns, "foreign")
	foreign.Name = "foreign"
	require.NoError(t, k8s.Create(t.Context(), foreign))

	require.NoError(t, p.Resync(t.Context()))
	require.True(t, isNotFound(k8s.Get(t.Context(), client.ObjectKeyFromObject(orphan), &v1alpha1.Workspace{})))
	require.NoError(t, k8s.Get(t.Context(), client.ObjectKeyFromObject(foreign), &v1alpha1.Workspace{}), "resources we do not manage are left alone")
}

// TestApplyMovesLegacyAnnotations: a Workspace an older provisioner applied
// with aileron.dev/ annotations gets the aileron.io/ keys on the next apply,
// and loses the old ones, which the same field manager owned.
func TestApplyMovesLegacyAnnotations(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	p := startProvisioner(t, env, ns)
	ctx := t.Context()
	created, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: "legacy", Provisioner: "kubernetes"})
	require.NoError(t, err)
	id := created.Workspace.Id
	gen := waitResource(t, ns, id, nil).Annotations[v1alpha1.AnnotationGeneration]
	require.NotEmpty(t, gen)

	older := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Workspace",
		"metadata": map[string]any{
			"name": id, "namespace": ns,
			"labels":      map[string]any{v1alpha1.LabelManagedBy: provisioner.LabelManagedByValue},
			"annotations": map[string]any{"aileron.dev/generation": gen, "aileron.dev/firewall-revision": "0", "aileron.dev/name": "legacy"},
		},
		"spec": map[string]any{"workspaceId": id, "owner": "dev"},
	}}
	require.NoError(t, k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(older), client.FieldOwner(provisioner.FieldManager), client.ForceOwnership))
	ws := &v1alpha1.Workspace{}
	require.NoError(t, k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: id}, ws))
	require.Equal(t, gen, ws.Annotations["aileron.dev/generation"])
	require.NotContains(t, ws.Annotations, v1alpha1.AnnotationGeneration)

	require.NoError(t, p.Converge(ctx, id))
	waitResource(t, ns, id, func(c *assert.CollectT, ws *v1alpha1.Workspace) {
		require.Equal(c, gen, ws.Annotations[v1alpha1.AnnotationGeneration])
		require.Equal(c, "legacy", ws.Annotations[v1alpha1.AnnotationName])
		for k := range ws.Annotations {
			require.False(c, strings.HasPrefix(k, v1alpha1.LegacyPrefix), k)
		}
	})
}
