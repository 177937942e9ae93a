package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"aileron.dev/pkg/logtest"
	"aileron.dev/services/firewall/cilium"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// One API server for the whole package: it takes seconds to start. Every
// test works in a namespace of its own.
var (
	testEnv *controllertest.Env
	k8s     client.Client // uncached, so assertions see the server's truth
	// defaultsCM holds the system default allowed domains.
	defaultsCM = types.NamespacedName{Namespace: "aileron-system", Name: "aileron-firewall-defaults"}
	// operatorLogs holds every line the running operator logs, at every
	// verbosity; warnings and errors also go to stderr.
	operatorLogs = &logtest.Lines{}
	// reconcilerConfig is what the running operator uses.
	reconcilerConfig = controller.Config{
		DefaultsConfigMap:     defaultsCM,
		CiliumRecheckInterval: time.Second,
		StorageBindDeadline:   time.Hour,
		FrontDoor:             cilium.Peer{Namespace: "aileron-system", Labels: map[string]string{"app.kubernetes.io/component": "api"}},
	}
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewMultiHandler(
		// logr's V(n) is slog level -n: this keeps every verbosity.
		slog.NewTextHandler(operatorLogs, &slog.HandlerOptions{Level: slog.Level(-10)}),
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env, err := controllertest.Start(controllertest.WorkspaceCRD(), controllertest.CiliumCRD())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("envtest kube-apiserver and etcd started in %s\n", env.StartTime.Round(time.Millisecond))
	testEnv = env

	scheme, err := controller.Scheme()
	if err == nil {
		k8s, err = client.New(env.Config, client.Options{Scheme: scheme})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err == nil {
		err = seedDefaults(ctx)
	}
	var mgr ctrl.Manager
	if err == nil {
		mgr, err = controller.NewManager(env.Config, controller.ManagerOptions{
			LeaderElectionNamespace: defaultsCM.Namespace,
			MetricsBindAddress:      "0",
			Reconciler:              reconcilerConfig,
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
		fmt.Fprintln(os.Stderr, "FAIL: manager:", err)
		return 1
	}
	return code
}

func seedDefaults(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultsCM.Namespace}}
	if err := k8s.Create(ctx, ns); err != nil {
		return err
	}
	return k8s.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: defaultsCM.Name, Namespace: defaultsCM.Namespace},
		Data: map[string]string{
			"workspace": "# package registries\npypi.org, files.pythonhosted.org\n",
			"browser":   "*.google.com",
		},
	})
}

const (
	waitFor = 20 * time.Second
	tick    = 50 * time.Millisecond
)

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ns, err := controllertest.Namespace(t.Context(), k8s, labels)
	require.NoError(t, err)
	return ns
}

// createWorkspace creates the fixture Workspace in a new namespace.
func createWorkspace(t *testing.T, mutate func(*v1alpha1.Workspace)) *v1alpha1.Workspace {
	t.Helper()
	ws := controllertest.Workspace(newNamespace(t, nil), "w1")
	if mutate != nil {
		mutate(ws)
	}
	require.NoError(t, k8s.Create(t.Context(), ws))
	return ws
}

// update re-reads ws, applies change and writes the spec back, retrying on
// conflicts with the operator.
func update(t *testing.T, ws *v1alpha1.Workspace, change func(*v1alpha1.Workspace)) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		cur := &v1alpha1.Workspace{}
		require.NoError(c, k8s.Get(t.Context(), client.ObjectKeyFromObject(ws), cur))
		change(cur)
		require.NoError(c, k8s.Update(t.Context(), cur))
	}, waitFor, tick)
}

// get reads the object called name in ws's namespace.
func get(t require.TestingT, ctx context.Context, ws *v1alpha1.Workspace, name string, obj client.Object) {
	require.NoError(t, k8s.Get(ctx, types.NamespacedName{Namespace: ws.Namespace, Name: name}, obj))
}

// deployment returns a Deployment of ws once it exists.
func deployment(t *testing.T, ws *v1alpha1.Workspace, kind string) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		get(c, t.Context(), ws, "ws-"+ws.Spec.WorkspaceID+"-"+kind, dep)
	}, waitFor, tick)
	return dep
}

// cnp returns the CiliumNetworkPolicy of a group of ws once it exists.
func cnp(t require.TestingT, ctx context.Context, ws *v1alpha1.Workspace, group string) *unstructured.Unstructured {
	p := &unstructured.Unstructured{}
	p.SetAPIVersion("cilium.io/v2")
	p.SetKind("CiliumNetworkPolicy")
	get(t, ctx, ws, "ws-"+ws.Spec.WorkspaceID+"-firewall-"+group, p)
	return p
}

// waitStatus waits until the Workspace's status satisfies check.
func waitStatus(t *testing.T, ws *v1alpha1.Workspace, check func(c *assert.CollectT, st v1alpha1.WorkspaceStatus)) *v1alpha1.Workspace {
	t.Helper()
	cur := &v1alpha1.Workspace{}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, k8s.Get(t.Context(), client.ObjectKeyFromObject(ws), cur))
		require.Equal(c, cur.Generation, cur.Status.ObservedGeneration, "status is for an older generation")
		check(c, cur.Status)
	}, waitFor, tick)
	return cur
}

// rollOut marks every Deployment of ws rolled out and binds its claim.
func rollOut(t *testing.T, ws *v1alpha1.Workspace, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		key := types.NamespacedName{Namespace: ws.Namespace, Name: "ws-" + ws.Spec.WorkspaceID + "-" + k}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			require.NoError(c, controllertest.MarkRolledOut(t.Context(), k8s, key))
		}, waitFor, tick)
	}
}

func bindClaim(t *testing.T, ws *v1alpha1.Workspace) {
	t.Helper()
	key := types.NamespacedName{Namespace: ws.Namespace, Name: "ws-" + ws.Spec.WorkspaceID + "-data"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, controllertest.BindClaim(t.Context(), k8s, key))
	}, waitFor, tick)
}
