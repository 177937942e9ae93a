package cilium_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/firewall/cilium"
	"aileron.dev/services/firewall/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var defaults = policy.Defaults{
	Workspace: []string{"registry.npmjs.org", "*.pypi.org", "github.com"},
	Browser:   []string{"*.google.com", "example.org"},
}

func input(t *testing.T, g policy.Group, enabled bool, mode policy.Mode) cilium.Input {
	t.Helper()
	eff, err := policy.Compute(g, defaults.For(g), policy.Settings{
		NetworkAccessEnabled: enabled, Mode: mode, AllowedDomains: []string{"api.example.com", "*.corp.example.net"},
	})
	require.NoError(t, err)
	// As the operator renders them: the workspace group reaches its own pods
	// (the canvas the runtime) and the browser's DevTools port; the browser
	// admits the workspace group.
	group := func(g policy.Group) map[string]string {
		return map[string]string{"aileron.io/workspace-id": "ws-0123", "aileron.io/firewall-group": string(g)}
	}
	var egressTo, ingressFrom []cilium.Peer
	if g == policy.GroupWorkspace {
		egressTo = []cilium.Peer{{Labels: group(policy.GroupWorkspace)}, {Labels: group(policy.GroupBrowser), Ports: []string{"8080"}}}
	} else {
		ingressFrom = []cilium.Peer{{Labels: group(policy.GroupWorkspace)}}
	}
	return cilium.Input{
		Name:      "ws-0123-" + string(g),
		Namespace: "aileron-workspaces",
		// The keys the workspace-operator uses (v1alpha1.Label*).
		Labels:      map[string]string{"aileron.io/workspace-id": "ws-0123", "aileron.io/firewall-group": string(g)},
		PodSelector: map[string]string{"aileron.io/workspace-id": "ws-0123", "aileron.io/firewall-group": string(g)},
		Policy:      eff,
		// The API's pods, as the Helm chart passes them to the operator.
		IngressFrom: append([]cilium.Peer{{Namespace: "aileron", Labels: map[string]string{"app.kubernetes.io/name": "aileron", "app.kubernetes.io/component": "api"}}}, ingressFrom...),
		EgressTo:    egressTo,
	}
}

func TestRenderGolden(t *testing.T) {
	type tc struct {
		name    string
		group   policy.Group
		enabled bool
		mode    policy.Mode
	}
	var cases []tc
	for _, g := range policy.Groups {
		for _, m := range []policy.Mode{policy.ModeAllowlist, policy.ModeDeny, policy.ModeUnrestricted} {
			cases = append(cases, tc{fmt.Sprintf("%s-%s", g, m), g, true, m})
		}
		cases = append(cases, tc{fmt.Sprintf("%s-disabled", g), g, false, policy.ModeUnrestricted})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := cilium.Render(input(t, c.group, c.enabled, c.mode))
			requireJSONCompatible(t, obj)
			got, err := json.MarshalIndent(obj, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", c.name+".golden.json")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./cilium -update to create it")
			require.Empty(t, cmp.Diff(string(want), string(got)))
		})
	}
}

// requireJSONCompatible fails unless v holds only the types
// unstructured.Unstructured accepts (runtime.DeepCopyJSONValue panics on others).
func requireJSONCompatible(t *testing.T, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			requireJSONCompatible(t, x)
		}
	case []any:
		for _, x := range v {
			requireJSONCompatible(t, x)
		}
	case string, bool, int64, float64, nil:
	default:
		t.Fatalf("value %#v of type %T is not JSON-compatible", v, v)
	}
}

func spec(obj map[string]any) map[string]any { return obj["spec"].(map[string]any) }

// Ingress admits the group's own pods and the API's pods, nothing else; an
// empty peer selector (which would admit a whole namespace) is dropped.
func TestRenderIngressAdmitsOnlyGroupAndAPI(t *testing.T) {
	in := input(t, policy.GroupWorkspace, true, policy.ModeAllowlist)
	in.IngressFrom = append(in.IngressFrom, cilium.Peer{Namespace: "anything"})
	spec := cilium.Render(in)["spec"].(map[string]any)
	require.Equal(t, true, spec["enableDefaultDeny"].(map[string]any)["ingress"])
	require.Equal(t, []any{map[string]any{"fromEndpoints": []any{
		map[string]any{"matchLabels": map[string]any{"aileron.io/workspace-id": "ws-0123", "aileron.io/firewall-group": "workspace"}},
		map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "aileron", "app.kubernetes.io/component": "api", "io.kubernetes.pod.namespace": "aileron"}},
	}}, map[string]any{"fromEntities": []any{"host"}}}, spec["ingress"])

	in.IngressFrom = nil
	spec = cilium.Render(in)["spec"].(map[string]any)
	require.Len(t, spec["ingress"].([]any)[0].(map[string]any)["fromEndpoints"], 1, "without peers only the group's own pods")
}

// dnsNames returns the names the policy's DNS rule lets the group ask about.
func dnsNames(t *testing.T, spec map[string]any) []any {
	t.Helper()
	for _, r := range spec["egress"].([]any) {
		for _, p := range r.(map[string]any)["toPorts"].([]any) {
			if rules, ok := p.(map[string]any)["rules"]; ok {
				return rules.(map[string]any)["dns"].([]any)
			}
		}
	}
	t.Fatal("no DNS rule")
	return nil
}

// kube-dns resolves outside names recursively: only unrestricted may ask it
// about any name; deny asks only about cluster-local names, allowlist also
// about its domains. A DNS tunnel has no name to ride on.
func TestRenderDNSAdmitsOnlyAllowedNames(t *testing.T) {
	local := []any{map[string]any{"matchName": "cluster.local"}, map[string]any{"matchPattern": "**.cluster.local"}}
	require.Equal(t, local, dnsNames(t, spec(cilium.Render(input(t, policy.GroupWorkspace, true, policy.ModeDeny)))))

	allow := dnsNames(t, spec(cilium.Render(input(t, policy.GroupWorkspace, true, policy.ModeAllowlist))))
	require.Equal(t, local, allow[:2])
	require.Contains(t, allow, map[string]any{"matchName": "api.example.com"})
	require.Contains(t, allow, map[string]any{"matchPattern": "**.corp.example.net"})
	require.NotContains(t, allow, map[string]any{"matchPattern": "*"})

	in := input(t, policy.GroupBrowser, true, policy.ModeDeny)
	in.DNS.ClusterDomain = "corp.internal"
	require.Equal(t, []any{map[string]any{"matchName": "corp.internal"}, map[string]any{"matchPattern": "**.corp.internal"}},
		dnsNames(t, spec(cilium.Render(in))))

	require.Equal(t, []any{map[string]any{"matchPattern": "*"}},
		dnsNames(t, spec(cilium.Render(input(t, policy.GroupWorkspace, true, policy.ModeUnrestricted)))))
}

// Network access disabled: nothing leaves the workspace, not even DNS. The
// workspace's own pods stay reachable (the canvas reads from the runtime,
// the agent drives the browser), and without such peers the one empty rule
// allows nothing.
func TestRenderDisabledAllowsNothing(t *testing.T) {
	for _, m := range []policy.Mode{policy.ModeAllowlist, policy.ModeDeny, policy.ModeUnrestricted} {
		in := input(t, policy.GroupWorkspace, false, m)
		s := spec(cilium.Render(in))
		egress := s["egress"].([]any)
		require.Len(t, egress, len(in.EgressTo), m)
		for _, r := range egress {
			require.Equal(t, []string{"toEndpoints"}, ruleKinds(r), "only the workspace's own pods, %s", m)
		}
		require.NotContains(t, s, "egressDeny")
		require.Equal(t, map[string]any{"egress": true, "ingress": true}, s["enableDefaultDeny"])

		in.EgressTo = nil
		require.Equal(t, []any{map[string]any{}}, spec(cilium.Render(in))["egress"], m)
	}
}

// ruleKinds are the destination keys of an egress rule (toPorts aside).
func ruleKinds(rule any) []string {
	var kinds []string
	for k := range rule.(map[string]any) {
		if k != "toPorts" {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func TestRenderNeverBareWildcard(t *testing.T) {
	in := input(t, policy.GroupBrowser, true, policy.ModeAllowlist)
	// A hand-built Effective bypassing Compute must still not leak "*".
	in.Policy.AllowedDomains = append(in.Policy.AllowedDomains, "*", "**", "")
	raw, err := json.Marshal(cilium.Render(in))
	require.NoError(t, err)
	fqdns := spec(cilium.Render(in))["egress"].([]any)[1].(map[string]any)["toFQDNs"].([]any)
	for _, f := range fqdns {
		for _, v := range f.(map[string]any) {
			require.NotEqual(t, "*", v)
			require.NotEqual(t, "**", v)
			require.NotEmpty(t, v)
		}
	}
	require.Contains(t, string(raw), `"matchPattern":"**.google.com"`)
}

func TestRenderAllowlistWithoutDomainsHasNoPortOnlyRule(t *testing.T) {
	in := input(t, policy.GroupWorkspace, true, policy.ModeAllowlist)
	in.Policy.AllowedDomains = nil
	in.EgressTo = nil
	egress := spec(cilium.Render(in))["egress"].([]any)
	require.Len(t, egress, 1, "only the DNS rule")
	require.Contains(t, egress[0].(map[string]any), "toEndpoints")
}

func TestRenderDeterministic(t *testing.T) {
	in := input(t, policy.GroupWorkspace, true, policy.ModeAllowlist)
	first, err := json.Marshal(cilium.Render(in))
	require.NoError(t, err)
	for range 20 {
		shuffled := in
		shuffled.Policy.AllowedDomains = reversed(in.Policy.AllowedDomains)
		got, err := json.Marshal(cilium.Render(shuffled))
		require.NoError(t, err)
		require.Equal(t, string(first), string(got))
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestRenderCustomDNSAndCIDRs(t *testing.T) {
	in := input(t, policy.GroupWorkspace, true, policy.ModeUnrestricted)
	in.DNS = cilium.DNSConfig{Namespace: "dns", Labels: map[string]string{"app": "coredns"}}
	in.PrivateCIDRs = []string{"10.0.0.0/8"}
	s := spec(cilium.Render(in))
	dns := s["egress"].([]any)[0].(map[string]any)["toEndpoints"].([]any)[0]
	require.Equal(t, map[string]any{"matchLabels": map[string]any{"app": "coredns", "io.kubernetes.pod.namespace": "dns"}}, dns)
	require.Equal(t, []any{map[string]any{"toCIDRSet": []any{map[string]any{"cidr": "10.0.0.0/8"}}}}, s["egressDeny"])

	in.PrivateCIDRs = []string{}
	require.NotContains(t, spec(cilium.Render(in)), "egressDeny")
}

func TestRenderDefaultCIDRsComeFromPolicy(t *testing.T) {
	raw, err := json.Marshal(cilium.Render(input(t, policy.GroupWorkspace, true, policy.ModeUnrestricted)))
	require.NoError(t, err)
	for _, p := range policy.BlockedPrefixes() {
		require.True(t, strings.Contains(string(raw), `"cidr":"`+p.String()+`"`), p)
	}
}

// toFQDNs admits addresses, and one CDN address serves many sites: every
// allowlisted connection must also name an allowed site, by TLS SNI on 443
// and by Host on 80, so a request to another site on an allowed address is
// refused (finding 3 of issue 15).
func TestRenderAllowlistChecksTheNameOnEachConnection(t *testing.T) {
	s := spec(cilium.Render(input(t, policy.GroupWorkspace, true, policy.ModeAllowlist)))
	egress := s["egress"].([]any)
	rule := egress[len(egress)-1].(map[string]any)
	require.NotEmpty(t, rule["toFQDNs"])
	ports := rule["toPorts"].([]any)
	require.Len(t, ports, 2, "443 with SNI, 80 with Host; no port without a name check")

	tls := ports[0].(map[string]any)
	require.Equal(t, []any{map[string]any{"port": "443", "protocol": "TCP"}}, tls["ports"])
	require.Equal(t, []any{"**.corp.example.net", "**.pypi.org", "api.example.com", "github.com", "registry.npmjs.org"}, tls["serverNames"])

	plain := ports[1].(map[string]any)
	require.Equal(t, []any{map[string]any{"port": "80", "protocol": "TCP"}}, plain["ports"])
	var hosts []*regexp.Regexp
	for _, r := range plain["rules"].(map[string]any)["http"].([]any) {
		hosts = append(hosts, regexp.MustCompile(r.(map[string]any)["host"].(string)))
	}
	matches := func(host string) bool {
		for _, re := range hosts {
			if re.MatchString(host) {
				return true
			}
		}
		return false
	}
	for _, h := range []string{"api.example.com", "api.example.com:80", "files.pypi.org", "a.b.corp.example.net:8080"} {
		require.True(t, matches(h), h)
	}
	for _, h := range []string{"evil.example", "api.example.com.evil.example", "apiXexample.com", "pypi.org", "xpypi.org", "corp.example.net", "github.com@evil.example", ""} {
		require.False(t, matches(h), "%q must not pass as an allowed Host", h)
	}
}
