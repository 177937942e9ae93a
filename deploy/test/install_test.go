package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestInstallUpgradeUninstall runs the documented lifecycle with the real
// helm against the test API server: install, upgrade (the generated NATS
// passwords survive it, so running servers and clients keep agreeing),
// uninstall (the workspace namespace, holding users' volumes, stays).
func TestInstallUpgradeUninstall(t *testing.T) {
	s := requireServer(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, s.env.KubeConfig, 0o600))
	inst := install{name: "lifecycle", release: "life", namespace: "aileron-life", workspaceNamespace: "aileron-life-ws"}
	ensureNamespace(t, s, inst.namespace, restrictedLabels)
	helm := func(args ...string) {
		t.Helper()
		args = append(args, "--kubeconfig", kubeconfig, "--namespace", inst.namespace)
		out, err := runHelm(t, args...)
		require.NoError(t, err, out)
	}
	ctx := t.Context()
	key := func(name string) client.ObjectKey {
		return client.ObjectKey{Namespace: inst.namespace, Name: inst.prefix() + name}
	}
	// passwords are the NATS users' passwords, by user.
	passwords := func() map[string]string {
		var sec corev1.Secret
		require.NoError(t, s.client.Get(ctx, key("nats-auth"), &sec))
		out := map[string]string{}
		for _, u := range []string{"api", "firewall", "k8s-provisioner"} {
			require.NotEmpty(t, sec.Data[u+"-password"], u)
			out[u] = string(sec.Data[u+"-password"])
		}
		return out
	}

	helm("install", inst.release, chartDir(), "--set", "workspaces.namespace="+inst.workspaceNamespace)
	// The server serves the ServiceMonitor API (testdata/crds): "auto" found
	// it through the cluster's discovery.
	sm := &unstructured.Unstructured{}
	sm.SetAPIVersion("monitoring.coreos.com/v1")
	sm.SetKind("ServiceMonitor")
	require.NoError(t, s.client.Get(ctx, client.ObjectKey{Namespace: inst.namespace, Name: strings.TrimSuffix(inst.prefix(), "-")}, sm),
		"metrics.serviceMonitor.enabled=auto installs a ServiceMonitor where the API is served")
	var ns corev1.Namespace
	require.NoError(t, s.client.Get(ctx, client.ObjectKey{Name: inst.workspaceNamespace}, &ns))
	require.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
	first := passwords()
	var admin corev1.Secret
	require.NoError(t, s.client.Get(ctx, key("api-admin-token"), &admin))
	token := string(admin.Data["token"])

	helm("upgrade", inst.release, chartDir(), "--set", "workspaces.namespace="+inst.workspaceNamespace, "--set", "api.replicas=3")
	var api appsv1.Deployment
	require.NoError(t, s.client.Get(ctx, key("api"), &api))
	require.Equal(t, int32(3), *api.Spec.Replicas)
	require.Equal(t, first, passwords(), "an upgrade must keep the NATS passwords")
	require.NoError(t, s.client.Get(ctx, key("api-admin-token"), &admin))
	require.Equal(t, token, string(admin.Data["token"]), "an upgrade must keep the bootstrap admin token")
	var conf corev1.Secret
	require.NoError(t, s.client.Get(ctx, key("nats-config"), &conf))
	for u, pw := range first {
		require.Contains(t, string(conf.Data["nats.conf"]), pw, u)
	}

	// Rotation (docs/install.md): drop one user's password from the Secret
	// and upgrade; that user gets a new one, the others keep theirs.
	var sec corev1.Secret
	require.NoError(t, s.client.Get(ctx, key("nats-auth"), &sec))
	delete(sec.Data, "firewall-password")
	require.NoError(t, s.client.Update(ctx, &sec))
	helm("upgrade", inst.release, chartDir(), "--set", "workspaces.namespace="+inst.workspaceNamespace, "--set", "api.replicas=3")
	rotated := passwords()
	require.NotEqual(t, first["firewall"], rotated["firewall"], "the firewall's password is new")
	require.Equal(t, first["api"], rotated["api"])
	require.Equal(t, first["k8s-provisioner"], rotated["k8s-provisioner"])
	require.NoError(t, s.client.Get(ctx, key("nats-config"), &conf))
	require.Contains(t, string(conf.Data["nats.conf"]), rotated["firewall"])
	require.NotContains(t, string(conf.Data["nats.conf"]), first["firewall"])
	require.NoError(t, s.client.Get(ctx, key("nats-auth"), &sec))
	require.Contains(t, string(sec.Data["firewall-url"]), ":"+rotated["firewall"]+"@")

	helm("uninstall", inst.release)
	err := s.client.Get(ctx, key("api"), &api)
	require.True(t, apierrors.IsNotFound(err), "api Deployment still there: %v", err)
	require.NoError(t, s.client.Get(ctx, client.ObjectKey{Name: inst.workspaceNamespace}, &ns),
		"uninstall must keep the workspace namespace")
	s.warnings.take()
}
