package test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// generatedCRDDir is where hack/generate-crd.sh (controller-gen) writes the
// Workspace CRD; the chart's crds/ must hold the same bytes.
func generatedCRDDir() string {
	return filepath.Join(repoRoot(), "services", "k8s-provisioner", "config", "crd")
}

// TestCRDsMatchControllerGen fails when the chart's CRDs drift from
// controller-gen's output: fix with deploy/hack/sync-crds.sh.
func TestCRDsMatchControllerGen(t *testing.T) {
	src, err := filepath.Glob(filepath.Join(generatedCRDDir(), "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, src, "no generated CRD in %s: run hack/generate-crd.sh", generatedCRDDir())
	dst, err := filepath.Glob(filepath.Join(chartDir(), "crds", "*.yaml"))
	require.NoError(t, err)

	base := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	require.ElementsMatch(t, base(src), base(dst),
		"the chart's crds/ must hold exactly the generated CRDs: run deploy/hack/sync-crds.sh")
	for _, s := range src {
		want, err := os.ReadFile(s)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(chartDir(), "crds", filepath.Base(s)))
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got),
			"deploy/helm/aileron/crds/%s drifted from controller-gen's output: run deploy/hack/sync-crds.sh", filepath.Base(s))
	}
}

// permission is one (API group, resource, verb) grant.
type permission struct{ group, resource, verb string }

func (p permission) String() string { return p.group + "/" + p.resource + ":" + p.verb }

func grants(rules []rbacv1.PolicyRule) []permission {
	var out []permission
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, permission{g, res, v})
				}
			}
		}
	}
	return sortedUnique(out)
}

func sortedUnique(ps []permission) []permission {
	slices.SortFunc(ps, func(a, b permission) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(ps)
}

// markerGrants reads the +kubebuilder:rbac markers of the operator's
// controller package, the source controller-gen builds its ClusterRole from.
func markerGrants(t *testing.T) []permission {
	t.Helper()
	dir := filepath.Join(repoRoot(), "services", "k8s-provisioner", "internal", "controller")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var rules []rbacv1.PolicyRule
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			spec, ok := strings.CutPrefix(line, "// +kubebuilder:rbac:")
			if !ok {
				continue
			}
			var r rbacv1.PolicyRule
			for kv := range strings.SplitSeq(spec, ",") {
				k, v, _ := strings.Cut(kv, "=")
				vals := strings.Split(strings.Trim(v, `"`), ";")
				switch k {
				case "groups":
					r.APIGroups = vals
				case "resources":
					r.Resources = vals
				case "verbs":
					r.Verbs = vals
				}
			}
			rules = append(rules, r)
		}
	}
	require.NotEmpty(t, rules, "no +kubebuilder:rbac markers in %s", dir)
	return grants(rules)
}

// chartOnlyGrants are what the chart grants the operator beyond its markers,
// each for a reason the markers cannot see.
var chartOnlyGrants = []permission{
	// Owner references with blockOwnerDeletion (SetControllerReference) need
	// it where the OwnerReferencesPermissionEnforcement admission plugin runs.
	{"platform.aileron.io", "workspaces/finalizers", "update"},
}

// TestOperatorRBACMatchesMarkers: the chart grants the workspace-operator
// exactly what its +kubebuilder:rbac markers declare (plus chartOnlyGrants),
// and agrees with controller-gen's ClusterRole in config/rbac/ once that is
// generated. A new marker without a chart rule, or a chart rule nobody
// declared, fails here.
func TestOperatorRBACMatchesMarkers(t *testing.T) {
	m := render(t, installs[0])
	name := installs[0].prefix() + "workspace-operator"
	var chartRules []rbacv1.PolicyRule
	for _, o := range m.find("Role", name) {
		r := get[rbacv1.Role](t, manifest{o}, "Role", name)
		chartRules = append(chartRules, r.Rules...)
	}
	require.NotEmpty(t, chartRules)
	got := grants(chartRules)

	want := sortedUnique(append(markerGrants(t), chartOnlyGrants...))
	assert.Equal(t, want, got, "chart Roles of %s vs the +kubebuilder:rbac markers", name)

	generated := filepath.Join(repoRoot(), "services", "k8s-provisioner", "config", "rbac", "role.yaml")
	if data, err := os.ReadFile(generated); err == nil {
		var cr rbacv1.ClusterRole
		require.NoError(t, yaml.Unmarshal(data, &cr))
		want := sortedUnique(append(grants(cr.Rules), chartOnlyGrants...))
		assert.Equal(t, want, got, "chart Roles of %s vs controller-gen's %s", name, generated)
	} else {
		t.Logf("%s is not generated yet: compared with the markers only", generated)
	}
}

// TestRBACIsNamespaced: nothing of the chart is cluster-wide, and only the
// operator and the provisioner are bound to any Role.
func TestRBACIsNamespaced(t *testing.T) {
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			assert.Empty(t, m.find("ClusterRole", ""))
			assert.Empty(t, m.find("ClusterRoleBinding", ""))
			var bound []string
			for _, o := range m.find("RoleBinding", "") {
				rb := get[rbacv1.RoleBinding](t, manifest{o}, "RoleBinding", o.GetName())
				for _, s := range rb.Subjects {
					require.Equal(t, "ServiceAccount", s.Kind)
					require.Equal(t, inst.namespace, s.Namespace)
					bound = append(bound, s.Name)
				}
			}
			slices.Sort(bound)
			p := inst.prefix()
			assert.Equal(t, []string{p + "k8s-provisioner", p + "workspace-operator", p + "workspace-operator"}, bound)

			prov := get[rbacv1.Role](t, m, "Role", p+"k8s-provisioner")
			assert.Equal(t, inst.workspaceNamespace, prov.Namespace)
			assert.Equal(t, []permission{
				{"platform.aileron.io", "workspaces", "create"}, {"platform.aileron.io", "workspaces", "delete"},
				{"platform.aileron.io", "workspaces", "get"}, {"platform.aileron.io", "workspaces", "list"},
				{"platform.aileron.io", "workspaces", "patch"}, {"platform.aileron.io", "workspaces", "update"},
				{"platform.aileron.io", "workspaces", "watch"},
			}, grants(prov.Rules))

			for _, o := range m.find("Role", p+"workspace-operator") {
				r := get[rbacv1.Role](t, manifest{o}, "Role", o.GetName())
				for _, rule := range r.Rules {
					if slices.Contains(rule.Resources, "configmaps") {
						assert.Equal(t, inst.namespace, r.Namespace)
						assert.Equal(t, []string{p + "firewall-defaults"}, rule.ResourceNames, "only the defaults ConfigMap")
					}
				}
			}
		})
	}
}
