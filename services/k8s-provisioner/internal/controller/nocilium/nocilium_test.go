package nocilium_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

var (
	testEnv *controllertest.Env
	k8s     client.Client
	cfg     = controller.Config{StorageBindDeadline: 2 * time.Second, CiliumRecheckInterval: 300 * time.Millisecond}
)

const (
	waitFor = 20 * time.Second
	tick    = 50 * time.Millisecond
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	env, err := controllertest.Start(controllertest.WorkspaceCRD()) // no Cilium
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
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: set up:", err)
		return 1
	}
	return m.Run()
}

// createWorkspace creates a Workspace in a new namespace and starts an
// operator for that namespace alone, so each test gets a fresh view of
// whether Cilium is installed.
func createWorkspace(t *testing.T) *v1alpha1.Workspace {
	t.Helper()
	ns, err := controllertest.Namespace(t.Context(), k8s, nil)
	require.NoError(t, err)
	mgr, err := controller.NewManager(testEnv.Config, controller.ManagerOptions{
		Namespace: ns, DisableLeaderElection: true, MetricsBindAddress: "0", SkipNameValidation: true, Reconciler: cfg,
		// One manager per test in one process: each its own registry.
		Metrics: prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	ws := controllertest.Workspace(ns, "w1")
	require.NoError(t, k8s.Create(t.Context(), ws))
	return ws
}

func waitStatus(t *testing.T, ws *v1alpha1.Workspace, check func(c *assert.CollectT, st v1alpha1.WorkspaceStatus)) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		cur := &v1alpha1.Workspace{}
		require.NoError(c, k8s.Get(t.Context(), client.ObjectKeyFromObject(ws), cur))
		require.Equal(c, cur.Generation, cur.Status.ObservedGeneration)
		check(c, cur.Status)
	}, waitFor, tick)
}

func child(ws *v1alpha1.Workspace, suffix string) types.NamespacedName {
	return types.NamespacedName{Namespace: ws.Namespace, Name: "ws-" + ws.Spec.WorkspaceID + "-" + suffix}
}

func rollOutAndBind(t *testing.T, ws *v1alpha1.Workspace) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, k := range []string{"runtime", "browser", "canvas"} {
			require.NoError(c, controllertest.MarkRolledOut(t.Context(), k8s, child(ws, k)))
		}
		require.NoError(c, controllertest.BindClaim(t.Context(), k8s, child(ws, "data")))
	}, waitFor, tick)
}

func firewallReason(c *assert.CollectT, st v1alpha1.WorkspaceStatus) string {
	fw := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFirewallApplied)
	require.NotNil(c, fw)
	return fw.Reason
}

// TestCiliumAbsentThenInstalled: without Cilium's CRD the workspace still
// runs and the status says the firewall is not enforced; once the CRD is
// installed the policies appear without a restart of the operator.
func TestCiliumAbsentThenInstalled(t *testing.T) {
	// With -count > 1 an earlier run left the CRD installed.
	require.NoError(t, testEnv.UninstallCRDs(controllertest.CiliumCRD()))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		httpClient, err := rest.HTTPClientFor(testEnv.Config)
		require.NoError(c, err)
		mapper, err := apiutil.NewDynamicRESTMapper(testEnv.Config, httpClient) // fresh: no cached discovery
		require.NoError(c, err)
		_, err = mapper.RESTMapping(schema.GroupKind{Group: "cilium.io", Kind: "CiliumNetworkPolicy"}, "v2")
		require.True(c, meta.IsNoMatchError(err), "CiliumNetworkPolicy still served")
	}, waitFor, tick)
	ws := createWorkspace(t)
	rollOutAndBind(t, ws)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
		// Running does not wait for the claim; the converged pass below
		// needs the operator to have seen it bound too.
		require.True(c, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionStorageReady))
		require.Equal(c, v1alpha1.ReasonCiliumNotInstalled, firewallReason(c, st))
		require.True(c, meta.IsStatusConditionFalse(st.Conditions, v1alpha1.ConditionFirewallApplied))
		require.Equal(c, []string{"*.npmjs.org", "github.com"}, st.Firewall.Workspace.EffectiveAllowedDomains)
	})
	for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
		require.NoError(t, k8s.Get(t.Context(), child(ws, "runtime"), obj))
	}
	// Without Cilium the workspace daemons are still closed to other pods,
	// by a NetworkPolicy per group.
	for _, g := range []string{"workspace", "browser"} {
		np := &networkingv1.NetworkPolicy{}
		require.NoError(t, k8s.Get(t.Context(), child(ws, "firewall-"+g), np))
		require.True(t, metav1.IsControlledBy(np, mustGet(t, ws)))
		require.Contains(t, np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		require.NotEmpty(t, np.Spec.Ingress[0].From)
	}

	t.Run("converged pass writes nothing", func(t *testing.T) {
		r, n, err := controllertest.CountingReconciler(testEnv.Config, cfg)
		require.NoError(t, err)
		res, err := r.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(ws)})
		require.NoError(t, err)
		require.Empty(t, n.Writes())
		require.Equal(t, cfg.CiliumRecheckInterval, res.RequeueAfter, "rechecks for a later Cilium install")
	})

	t.Run("installed later", func(t *testing.T) {
		require.NoError(t, testEnv.InstallCRDs(controllertest.CiliumCRD()))
		waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
			require.Equal(c, v1alpha1.ReasonPolicyApplied, firewallReason(c, st))
		})
		for _, g := range []string{"workspace", "browser"} {
			p := &unstructured.Unstructured{}
			p.SetAPIVersion("cilium.io/v2")
			p.SetKind("CiliumNetworkPolicy")
			require.NoError(t, k8s.Get(t.Context(), child(ws, "firewall-"+g), p))
			require.True(t, metav1.IsControlledBy(p, mustGet(t, ws)))
		}
	})
}

func mustGet(t *testing.T, ws *v1alpha1.Workspace) *v1alpha1.Workspace {
	t.Helper()
	cur := &v1alpha1.Workspace{}
	require.NoError(t, k8s.Get(t.Context(), client.ObjectKeyFromObject(ws), cur))
	return cur
}

// TestClaimThatNeverBindsFails: a running workspace whose claim stays
// Pending past the deadline is Failed with a reason, then recovers.
func TestClaimThatNeverBindsFails(t *testing.T) {
	ws := createWorkspace(t)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseFailed, st.Phase)
		ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
		require.NotNil(c, ready)
		require.Equal(c, v1alpha1.ReasonStorageNotBound, ready.Reason)
		storage := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionStorageReady)
		require.NotNil(c, storage)
		require.Equal(c, v1alpha1.ReasonBindTimeout, storage.Reason)
	})
	rollOutAndBind(t, ws)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})
}
