package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// metricsPorts are the container ports serving /metrics, by component, with
// the defaults' numbers and the flag that sets them.
var metricsPorts = map[string]struct {
	port string
	num  int32
	flag string
}{
	"api":                {"metrics", 9102, "--metrics-addr=:9102"},
	"firewall":           {"health", 8081, "--health-addr=:8081"},
	"k8s-provisioner":    {"metrics", 8080, "--metrics-bind-address=:8080"},
	"workspace-operator": {"metrics", 8080, "--metrics-bind-address=:8080"},
}

// monitoringKinds are what metrics.* add; all are off by default.
func monitoring(m manifest, prefix string) []*unstructured.Unstructured {
	out := append(m.find("ServiceMonitor", ""), m.find("PrometheusRule", "")...)
	out = append(out, m.find("ConfigMap", prefix+"dashboard")...)
	for _, svc := range m.find("Service", "") {
		if strings.HasSuffix(svc.GetName(), "-metrics") {
			out = append(out, svc)
		}
	}
	return out
}

// TestMetricsPorts: every service Deployment serves /metrics on a named
// container port, with the flag that turns it on.
func TestMetricsPorts(t *testing.T) {
	inst := installs[0]
	m := render(t, inst)
	for component, want := range metricsPorts {
		_, c := container(t, m, inst.prefix()+component)
		assert.Contains(t, c.Args, want.flag, component)
		assert.Contains(t, c.Ports, corev1.ContainerPort{Name: want.port, ContainerPort: want.num, Protocol: corev1.ProtocolTCP}, component)
	}
	svc := get[corev1.Service](t, m, "Service", inst.prefix()+"api")
	for _, p := range svc.Spec.Ports {
		assert.NotEqual(t, "metrics", p.TargetPort.String(), "the api's own Service, maybe a LoadBalancer, does not carry metrics")
	}
}

// TestMonitoringOffByDefault: no ServiceMonitor (the test render has no
// ServiceMonitor API, so "auto" is off), no PrometheusRule, no dashboard.
func TestMonitoringOffByDefault(t *testing.T) {
	inst := installs[0]
	require.Empty(t, monitoring(render(t, inst), inst.prefix()))
	// Explicitly off, the ServiceMonitor API present does not turn it on.
	require.Empty(t, monitoring(render(t, inst, "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
		"--set", "metrics.serviceMonitor.enabled=false"), inst.prefix()))
}

// TestServiceMonitorAuto: with the ServiceMonitor API served, "auto" renders
// the ServiceMonitor and a metrics Service per component, each selecting the
// component's pods and targeting the container port that serves /metrics.
func TestServiceMonitorAuto(t *testing.T) {
	inst := installs[0]
	m := render(t, inst, "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
	sms := m.find("ServiceMonitor", "")
	require.Len(t, sms, 1)
	require.Empty(t, m.find("PrometheusRule", ""), "rules stay off")
	sel, _, err := unstructured.NestedStringMap(sms[0].Object, "spec", "selector", "matchLabels")
	require.NoError(t, err)
	port, _, _ := unstructured.NestedSlice(sms[0].Object, "spec", "endpoints")
	require.Len(t, port, 1)
	require.Equal(t, "metrics", port[0].(map[string]any)["port"])

	short := map[string]string{"api": "api", "firewall": "firewall", "k8s-provisioner": "provisioner", "workspace-operator": "operator"}
	for component, want := range metricsPorts {
		svc := get[corev1.Service](t, m, "Service", inst.prefix()+short[component]+"-metrics")
		for k, v := range sel {
			assert.Equal(t, v, svc.Labels[k], "%s: the ServiceMonitor selects the Service by %s", svc.Name, k)
		}
		require.Len(t, svc.Spec.Ports, 1)
		assert.Equal(t, "metrics", svc.Spec.Ports[0].Name)
		assert.Equal(t, want.port, svc.Spec.Ports[0].TargetPort.String(), svc.Name)
		assert.Equal(t, want.num, svc.Spec.Ports[0].Port, svc.Name)
		d := get[appsv1.Deployment](t, m, "Deployment", inst.prefix()+component)
		for k, v := range svc.Spec.Selector {
			assert.Equal(t, v, d.Spec.Template.Labels[k], "%s selects the %s pods", svc.Name, component)
		}
	}
}

// TestDashboard: the external install renders the dashboard ConfigMap with
// the sidecar's label; its JSON parses and every query names metrics the
// services register.
func TestDashboard(t *testing.T) {
	inst := installs[1]
	m := render(t, inst)
	cm := get[corev1.ConfigMap](t, m, "ConfigMap", inst.prefix()+"dashboard")
	assert.Equal(t, "1", cm.Labels["grafana_dashboard"])
	assert.Equal(t, "Aileron", cm.Annotations["grafana_folder"])
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal([]byte(cm.Data["aileron.json"]), &d), "the dashboard is not valid JSON")
	require.NotEmpty(t, d.UID)
	known := documentedMetrics(t)
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	require.Greater(t, len(exprs), 20)
	used := checkNames(t, known, exprs)
	// The dashboard draws each area: the lifecycle, the API, the firewall,
	// the Kubernetes side and the bus.
	for _, name := range []string{"aileron_workspace_time_to_running_seconds", "aileron_api_grpc_requests_total",
		"aileron_workspace_operator_firewall_not_applied_seconds", "aileron_workspace_operator_reconciles_total",
		"aileron_k8s_provisioner_queue_depth", "aileron_nats_connected"} {
		assert.Contains(t, used, name)
	}
}

// TestPrometheusRules: the external install renders the PrometheusRule with
// one alert of each kind the chart promises, every expression naming metrics
// the services register and the thresholds from the values.
func TestPrometheusRules(t *testing.T) {
	inst := installs[1]
	m := render(t, inst)
	rules := m.find("PrometheusRule", "")
	require.Len(t, rules, 1)
	assert.Equal(t, "kube-prometheus-stack", rules[0].GetLabels()["release"])
	groups, _, err := unstructured.NestedSlice(rules[0].Object, "spec", "groups")
	require.NoError(t, err)
	alerts := map[string]string{}
	for _, g := range groups {
		rs, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rs {
			r := r.(map[string]any)
			alerts[r["alert"].(string)] = r["expr"].(string)
			ann, _, _ := unstructured.NestedStringMap(r, "annotations")
			assert.NotEmpty(t, ann["description"], r["alert"])
			assert.NotContains(t, ann["description"], "<no value>", r["alert"])
		}
	}
	want := []string{"AileronTimeToRunningSlow", "AileronWorkspaceFailureRateHigh", "AileronFirewallNotApplied",
		"AileronCrashLoop", "AileronNATSDisconnected", "AileronQueueBacklog"}
	require.ElementsMatch(t, want, slices.Collect(mapKeys(alerts)))
	assert.Contains(t, alerts["AileronTimeToRunningSlow"], "> 240")
	assert.Contains(t, alerts["AileronFirewallNotApplied"], "> 300", "5 minutes")
	exprs := make([]string, 0, len(alerts))
	for _, e := range alerts {
		exprs = append(exprs, e)
	}
	checkNames(t, documentedMetrics(t), exprs)
}

// TestMonitoringSchemaEnforced: the test API server really checks the
// Prometheus operator kinds — a duration the operator refuses and a field it
// does not know are refused — so the chart's objects passing
// TestManifestsAcceptedByAPIServer means something.
func TestMonitoringSchemaEnforced(t *testing.T) {
	s := requireServer(t)
	ensureNamespace(t, s, "aileron-monitoring", nil)
	rule := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
		"metadata": map[string]any{"name": "bad", "namespace": "aileron-monitoring"},
		"spec": map[string]any{"groups": []any{map[string]any{"name": "g", "rules": []any{
			map[string]any{"alert": "A", "expr": "up == 0", "for": "ten minutes"},
		}}}},
	}}
	err := s.client.Create(t.Context(), rule, client.DryRunAll, client.FieldValidation("Strict"))
	require.ErrorContains(t, err, "spec.groups[0].rules[0].for")
	sm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
		"metadata": map[string]any{"name": "bad", "namespace": "aileron-monitoring"},
		"spec":     map[string]any{"selector": map[string]any{}, "endpoints": []any{map[string]any{"port": "metrics", "intervall": "30s"}}},
	}}
	err = s.client.Create(t.Context(), sm, client.DryRunAll, client.FieldValidation("Strict"))
	require.ErrorContains(t, err, "intervall")
	s.warnings.take()
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// documentedMetrics are the metric names of docs/metrics.md's tables, the
// one list of what the services register (each service's tests compare its
// registry with it).
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "metrics.md"))
	require.NoError(t, err)
	names := map[string]bool{}
	for _, m := range tableName.FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	require.Greater(t, len(names), 30, "docs/metrics.md lists the metrics in tables: | `name` | type | …")
	return names
}

var (
	tableName = regexp.MustCompile("(?m)^\\| `([a-z_:][a-z0-9_:]*)` \\|")
	// What a PromQL expression holds besides metric names.
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	labelValues  = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,[^)]*\)`)
	promWords    = map[string]bool{}
)

func init() {
	for _, w := range strings.Fields(`sum min max avg count group stddev stdvar topk bottomk quantile count_values
		rate irate increase delta idelta deriv resets changes histogram_quantile clamp clamp_min clamp_max abs ceil floor round
		exp ln log2 log10 sqrt scalar vector time timestamp sort sort_desc label_replace label_join absent absent_over_time
		avg_over_time min_over_time max_over_time sum_over_time count_over_time last_over_time quantile_over_time
		and or unless bool offset by without on ignoring group_left group_right`) {
		promWords[w] = true
	}
}

// metricNames returns the metric names an expression (or a Grafana
// label_values() query) reads: what is left after strings, label matchers,
// ranges, groupings, numbers, functions and operators.
func metricNames(expr string) []string {
	expr = labelValues.ReplaceAllString(expr, " $1 ")
	expr = promString.ReplaceAllString(expr, " ")
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promRange.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	var out []string
	for _, m := range promIdent.FindAllStringSubmatch(expr, -1) {
		if !promWords[m[1]] {
			out = append(out, m[1])
		}
	}
	return out
}

// checkNames fails on a metric name in exprs that is not in known (a
// histogram's _bucket, _sum and _count series count as the histogram), and
// returns the names used.
func checkNames(t *testing.T, known map[string]bool, exprs []string) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e)
		require.NotEmpty(t, names, "no metric in %q", e)
		for _, n := range names {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && known[b] {
					base = b
				}
			}
			assert.True(t, known[base], "%s (in %q) is not a metric of docs/metrics.md", n, e)
			used[base] = true
		}
	}
	return used
}

// TestMetricNames checks the extraction the dashboard and rule tests rely on.
func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.95, sum by (provisioner, le) (rate(aileron_x_seconds_bucket{namespace=~"$namespace",from="creating"}[$__rate_interval]))) > 1e3`: {"aileron_x_seconds_bucket"},
		`max by (namespace) (a_depth) > 100 or max(workqueue_depth{name="workspace"}) > 100`:                                                                   {"a_depth", "workqueue_depth"},
		`sum(increase(aileorn_typo_total[5m])) / on (pod) group_left sum(b)`:                                                                                   {"aileorn_typo_total", "b"},
		`label_values(aileron_nats_connected, namespace)`:                                                                                                      {"aileron_nats_connected"},
	} {
		assert.Equal(t, want, metricNames(expr), expr)
	}
}
