package test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// apiServer is the kube-apiserver every test of the package shares.
type apiServer struct {
	env      *envtest.Environment
	client   client.Client
	warnings *warningRecorder
}

func newAPIServer(env *envtest.Environment, cfg *rest.Config) (*apiServer, error) {
	w := &warningRecorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	return &apiServer{env: env, client: c, warnings: w}, nil
}

func (s *apiServer) stop() error { return s.env.Stop() }

// warningRecorder keeps the warnings the API server sends back, such as
// PodSecurity violations of a workload or deprecated API versions.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// take returns and forgets the warnings so far.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// restrictedLabels make a namespace enforce (and warn about) the restricted
// Pod Security Standard.
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce":         "restricted",
	"pod-security.kubernetes.io/enforce-version": "latest",
	"pod-security.kubernetes.io/warn":            "restricted",
	"pod-security.kubernetes.io/warn-version":    "latest",
}

// ensureNamespace creates namespace name with labels, once.
func ensureNamespace(t *testing.T, s *apiServer, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	err := s.client.Create(t.Context(), ns)
	if apierrors.IsAlreadyExists(err) {
		return
	}
	require.NoError(t, err, "create namespace %s", name)
}

// prepare creates what exists before `helm install` runs: the release
// namespace (enforcing restricted), the Namespaces the chart renders (for
// real, as Helm creates them first) and, when the chart does not create it,
// the workspace namespace a cluster admin made.
func prepare(t *testing.T, s *apiServer, inst install, m manifest) {
	t.Helper()
	ensureNamespace(t, s, inst.namespace, restrictedLabels)
	for _, o := range m.find("Namespace", "") {
		err := s.client.Create(t.Context(), o.DeepCopy(), client.FieldValidation("Strict"))
		if !apierrors.IsAlreadyExists(err) {
			require.NoError(t, err, "Namespace %s", o.GetName())
		}
	}
	ensureNamespace(t, s, inst.workspaceNamespace, restrictedLabels)
	require.Empty(t, s.warnings.take())
}

// TestManifestsAcceptedByAPIServer creates every object the chart renders as
// a server-side dry run with strict field validation, after the CRDs (the
// chart's Workspace CRD and Cilium's real CiliumNetworkPolicy CRD) were
// installed: unknown fields, invalid values, policies Cilium's schema refuses
// and RBAC rules the server would not store all fail here. Any warning the
// server answers with (a deprecated API, a PodSecurity violation of a
// workload in the restricted release namespace) fails the test too.
func TestManifestsAcceptedByAPIServer(t *testing.T) {
	s := requireServer(t)
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			prepare(t, s, inst, m)
			for _, o := range m {
				if o.GetKind() == "Namespace" {
					continue
				}
				id := o.GetKind() + "/" + o.GetName()
				require.NotEmpty(t, o.GetNamespace(), "%s: every namespaced object names its namespace", id)
				err := s.client.Create(t.Context(), o.DeepCopy(), client.DryRunAll, client.FieldValidation("Strict"))
				require.NoError(t, err, "%s refused", id)
				require.Empty(t, s.warnings.take(), "%s: the API server warned", id)
			}
		})
	}
}

// TestPodTemplatesPassRestricted creates, as a server-side dry run, a Pod
// from every pod template of the chart in the release namespace, which
// enforces the restricted Pod Security Standard. A privileged Pod in the same
// namespace is refused, which proves the admission plugin really runs.
func TestPodTemplatesPassRestricted(t *testing.T) {
	s := requireServer(t)
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			prepare(t, s, inst, m)
			pts := podTemplates(t, m)
			require.NotEmpty(t, pts)
			for _, pt := range pts {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{
						GenerateName: "pss-", Namespace: inst.namespace,
						Labels: pt.spec.Labels, Annotations: pt.spec.Annotations,
					},
					Spec: pt.spec.Spec,
				}
				err := s.client.Create(t.Context(), pod, client.DryRunAll, client.FieldValidation("Strict"))
				require.NoError(t, err, "%s: pod template refused", pt.owner)
				require.Empty(t, s.warnings.take(), "%s: the API server warned", pt.owner)
			}

			bad := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: inst.namespace},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "c", Image: "aileron/api:dev",
					SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
				}}},
			}
			err := s.client.Create(t.Context(), bad, client.DryRunAll)
			require.Error(t, err, "PodSecurity admission is not enforcing restricted")
			require.Contains(t, err.Error(), "violates PodSecurity")
		})
	}
}

// TestWorkspaceDefaultsFitCRD writes a Workspace from the chart's workspace
// defaults (what the k8s-provisioner starts every workspace from) to the API
// server: the defaults must pass the CRD's OpenAPI and CEL validation.
func TestWorkspaceDefaultsFitCRD(t *testing.T) {
	s := requireServer(t)
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			prepare(t, s, inst, m)
			cm := get[corev1.ConfigMap](t, m, "ConfigMap", inst.prefix()+"workspace-defaults")
			var d struct {
				Namespace string         `json:"namespace"`
				Services  map[string]any `json:"services"`
				Storage   map[string]any `json:"storage"`
			}
			require.NoError(t, json.Unmarshal([]byte(cm.Data["workspace-defaults.json"]), &d))
			require.Equal(t, inst.workspaceNamespace, d.Namespace)
			require.Len(t, d.Services, 4)
			for name, svc := range d.Services {
				// Whether a service runs is the API request's choice; check all of them.
				svc.(map[string]any)["enabled"] = true
				d.Services[name] = svc
			}
			ws := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "platform.aileron.io/v1alpha1",
				"kind":       "Workspace",
				"metadata":   map[string]any{"name": "ws-defaults", "namespace": d.Namespace},
				"spec": map[string]any{
					"workspaceId": "defaults", "owner": "deploy-test",
					"services": d.Services, "storage": d.Storage,
				},
			}}
			err := s.client.Create(t.Context(), ws, client.DryRunAll, client.FieldValidation("Strict"))
			require.NoError(t, err)
			require.Empty(t, s.warnings.take())
		})
	}
}

// TestRBACOnAPIServer installs the chart's ServiceAccounts, Roles and
// RoleBindings for real and asks the API server's RBAC authorizer what each
// service account may do: the operator and the provisioner exactly what they
// need, the api and the firewall nothing.
func TestRBACOnAPIServer(t *testing.T) {
	s := requireServer(t)
	inst := install{
		name: "rbac", release: "rbac", namespace: "aileron-rbac", workspaceNamespace: "aileron-rbac-ws",
	}
	m := render(t, inst, "--set", "workspaces.namespace="+inst.workspaceNamespace)
	prepare(t, s, inst, m)
	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding"} {
		for _, o := range m.find(kind, "") {
			require.NoError(t, s.client.Create(t.Context(), o.DeepCopy()), "%s %s", kind, o.GetName())
		}
	}

	rel, ws := inst.namespace, inst.workspaceNamespace
	p := inst.prefix()
	sa := func(c string) string { return "system:serviceaccount:" + rel + ":" + p + c }
	type access struct {
		verb, group, resource, subresource, namespace, name string
	}
	res := func(verb, group, resource, ns string) access {
		parts := strings.SplitN(resource, "/", 2)
		a := access{verb: verb, group: group, resource: parts[0], namespace: ns}
		if len(parts) == 2 {
			a.subresource = parts[1]
		}
		return a
	}
	named := func(a access, name string) access { a.name = name; return a }
	tests := []struct {
		who     string
		what    access
		allowed bool
	}{
		{"workspace-operator", res("watch", "platform.aileron.io", "workspaces", ws), true},
		{"workspace-operator", res("patch", "platform.aileron.io", "workspaces/status", ws), true},
		{"workspace-operator", res("update", "platform.aileron.io", "workspaces/finalizers", ws), true},
		{"workspace-operator", res("update", "platform.aileron.io", "workspaces", ws), false},
		{"workspace-operator", res("create", "apps", "deployments", ws), true},
		{"workspace-operator", res("delete", "", "persistentvolumeclaims", ws), true},
		{"workspace-operator", res("create", "cilium.io", "ciliumnetworkpolicies", ws), true},
		{"workspace-operator", res("create", "networking.k8s.io", "networkpolicies", ws), true},
		{"workspace-operator", res("create", "networking.k8s.io", "networkpolicies", rel), false},
		{"workspace-operator", res("create", "", "events", ws), true},
		{"workspace-operator", res("create", "apps", "deployments", rel), false},
		{"workspace-operator", res("get", "", "secrets", ws), false},
		{"workspace-operator", res("get", "", "secrets", rel), false},
		{"workspace-operator", res("create", "", "pods", ws), false},
		{"workspace-operator", res("watch", "", "pods", ws), true},
		{"workspace-operator", res("delete", "", "pods", ws), false},
		{"workspace-operator", named(res("list", "", "configmaps", rel), p+"firewall-defaults"), true},
		{"workspace-operator", named(res("watch", "", "configmaps", rel), p+"firewall-defaults"), true},
		{"workspace-operator", res("list", "", "configmaps", rel), false},
		{"workspace-operator", named(res("get", "", "configmaps", rel), p+"workspace-defaults"), false},
		{"workspace-operator", res("create", "coordination.k8s.io", "leases", rel), true},
		{"workspace-operator", res("update", "coordination.k8s.io", "leases", rel), true},
		{"workspace-operator", res("list", "platform.aileron.io", "workspaces", "default"), false},
		{"workspace-operator", res("list", "", "namespaces", ""), false},
		{"k8s-provisioner", res("create", "platform.aileron.io", "workspaces", ws), true},
		{"k8s-provisioner", res("patch", "platform.aileron.io", "workspaces", ws), true},
		{"k8s-provisioner", res("delete", "platform.aileron.io", "workspaces", ws), true},
		{"k8s-provisioner", res("watch", "platform.aileron.io", "workspaces", ws), true},
		{"k8s-provisioner", res("update", "platform.aileron.io", "workspaces/status", ws), false},
		{"k8s-provisioner", res("create", "platform.aileron.io", "workspaces", rel), false},
		{"k8s-provisioner", res("list", "apps", "deployments", ws), false},
		{"k8s-provisioner", res("get", "", "secrets", rel), false},
		{"api", res("list", "platform.aileron.io", "workspaces", ws), false},
		{"api", res("get", "", "configmaps", rel), false},
		{"api", res("get", "", "secrets", rel), false},
		{"firewall", res("get", "", "configmaps", rel), false},
		{"firewall", res("list", "platform.aileron.io", "workspaces", ws), false},
	}
	for _, tt := range tests {
		a := tt.what
		name := fmt.Sprintf("%s %s %s/%s", tt.who, a.verb, strings.TrimSuffix(a.resource+"/"+a.subresource, "/"), a.name)
		t.Run(name, func(t *testing.T) {
			user := sa(tt.who)
			sar := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "authorization.k8s.io/v1",
				"kind":       "SubjectAccessReview",
				"spec": map[string]any{
					"user":   user,
					"groups": []any{"system:serviceaccounts", "system:serviceaccounts:" + rel, "system:authenticated"},
					"resourceAttributes": map[string]any{
						"verb": a.verb, "group": a.group, "resource": a.resource,
						"subresource": a.subresource, "namespace": a.namespace, "name": a.name,
					},
				},
			}}
			require.NoError(t, s.client.Create(t.Context(), sar))
			allowed, _, err := unstructured.NestedBool(sar.Object, "status", "allowed")
			require.NoError(t, err)
			require.Equal(t, tt.allowed, allowed, "%s: %+v", user, a)
		})
	}
	require.Empty(t, s.warnings.take())
}

// crdServed reports whether the API server serves gvk (a sanity check that
// the CRDs really were installed before the manifests).
func crdServed(t *testing.T, s *apiServer, gvk schema.GroupVersionKind) bool {
	t.Helper()
	_, err := s.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil
}

func TestCRDsInstalled(t *testing.T) {
	s := requireServer(t)
	require.True(t, crdServed(t, s, schema.GroupVersionKind{Group: "platform.aileron.io", Version: "v1alpha1", Kind: "Workspace"}),
		"the chart's Workspace CRD is not served")
	require.True(t, crdServed(t, s, schema.GroupVersionKind{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy"}),
		"Cilium's CRD is not served: %s is missing", ciliumCRDDir())
	for _, kind := range []string{"PrometheusRule", "ServiceMonitor"} {
		require.True(t, crdServed(t, s, schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: kind}),
			"the Prometheus operator's %s CRD is not served: %s is missing", kind, monitoringCRDDir())
	}
}
