package provisioner_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/event"
	"aileron.dev/services/docker-provisioner/provisioner"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/ingress"
	"aileron.dev/services/firewall/policy"
)

// TestFirewallPolicyReachesGateway plays the firewall service (store the
// effective policy in KV, announce it) and checks the provisioner writes it
// into the gateway's policy file in the gateway's format, reports it
// applied, and that workspace traffic really goes through the gateway:
// proxied requests are judged by the policy, direct ones have no route.
func TestFirewallPolicyReachesGateway(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	w := h.create("firewalled", false)
	w = h.waitState(w.Id, "running")

	// Before any policy the gateway enforces deny-all.
	out := fetchFrom(t, w.Services.Runtime.Endpoint, "http://example.com/", false)
	require.EqualValues(t, http.StatusForbidden, out["status"], "%v", out)
	require.NotEmpty(t, out["denied"])

	fp := &eventsv1.FirewallPolicy{
		WorkspaceId: w.Id, Revision: w.FirewallStatus.Revision,
		Workspace: &eventsv1.GroupPolicy{NetworkAccessEnabled: true, Mode: "allowlist", AllowedDomains: []string{"*.example.org", "pypi.org"}},
		Browser:   &eventsv1.GroupPolicy{NetworkAccessEnabled: false, Mode: "deny", AllowedDomains: []string{}},
	}
	kv, err := h.api.JS.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	data, err := proto.Marshal(fp)
	require.NoError(t, err)
	_, err = kv.Put(ctx, w.Id, data)
	require.NoError(t, err)
	require.NoError(t, event.Publish(ctx, h.api.JS, event.FirewallPolicySubject("docker", w.Id), w.Id+"-policy-1", fp))

	require.Eventually(t, func() bool {
		fs := h.get(w.Id).FirewallStatus
		return fs.Phase == "applied" && fs.ObservedRevision == fp.Revision
	}, waitFor, tick)
	// "applied" means the gateway enforces it (it reloads its file on its
	// own schedule): at the moment the phase says so, the gateway already
	// serves the policy the file holds.
	file := readPolicyFile(t, provisioner.GatewayName(w.Id))
	resp, err := http.Get(strings.TrimSuffix(w.Services.Runtime.Endpoint, "/runtime/") + ingress.PolicyPath)
	require.NoError(t, err)
	var enforced struct{ SHA256 string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&enforced))
	resp.Body.Close()
	require.Equal(t, egress.PolicyDigest(file), enforced.SHA256, "reported applied before the gateway enforced it")
	ps, err := egress.ParsePolicies(file)
	require.NoError(t, err)
	require.Equal(t, policy.ModeAllowlist, ps.Workspace.Mode)
	require.Equal(t, []string{"*.example.org", "pypi.org"}, ps.Workspace.AllowedDomains)
	require.False(t, ps.Browser.NetworkAccessEnabled)

	// A name outside the allowlist is refused by the gateway, not by a lack of route.
	out = fetchFrom(t, w.Services.Runtime.Endpoint, "http://example.com/", false)
	require.EqualValues(t, http.StatusForbidden, out["status"], "%v", out)
	require.NotEmpty(t, out["denied"], "%v", out)
	// Traffic that ignores the proxy gets nowhere: even the gateway's own
	// ingress on the outside network (a local address, listening) is out of
	// reach from the internal network.
	gw := containersOf(t, w.Id)[provisioner.GatewayName(w.Id)]
	outside := gw.NetworkSettings.Networks[h.cfg.OutsideNetwork].IPAddress
	require.NotEmpty(t, outside)
	out = fetchFrom(t, w.Services.Runtime.Endpoint, "http://"+outside+":8080/runtime/healthz", true)
	require.EqualValues(t, 0, out["status"], "%v", out)
	require.NotEmpty(t, out["error"])
}

// fetchFrom asks the stub behind endpoint to GET target from inside the workspace.
func fetchFrom(t *testing.T, endpoint, target string, direct bool) map[string]any {
	t.Helper()
	u := endpoint + "fetch?url=" + url.QueryEscape(target)
	if direct {
		u += "&direct=1"
	}
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func readPolicyFile(t *testing.T, gateway string) []byte {
	t.Helper()
	rc, _, err := docker.CopyFromContainer(context.Background(), gateway, "/etc/aileron/egress/policy.json")
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	_, err = tr.Next()
	require.NoError(t, err)
	data, err := io.ReadAll(tr)
	require.NoError(t, err)
	return data
}
