package provisioner_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/firewall/egress"
)

// policyWait bounds how long a firewall change may take to be enforced in
// the running workspace: the API, the firewall service, the provisioner
// writing the policy file and the gateway's 1 s poll.
const policyWait = 20 * time.Second

// The steps of TestEgressEndToEnd that change the workspace's firewall
// through PUT /api/v1/workspaces/{id}/firewall and observe each change from
// inside the running workspace.

func (e *egressWorld) putTakesEffect(t *testing.T) {
	e.putFirewall(t, func(fs *firewallSettings) {
		fs.WorkspaceDomains = append(slices.DeleteFunc(slices.Clone(workspaceList), func(d string) bool { return d == hostAllowed }), hostDenied)
	})
	revoked := e.eventuallySeen(t, e.rt, "http://"+hostAllowed+"/", seen{Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed})
	granted := e.eventuallySeen(t, e.rt, "https://"+hostDenied+"/", seen{Status: http.StatusOK, Server: e.fakeName, SNI: hostDenied})
	e.waitFirewallApplied(t)
	e.putFirewall(t, func(fs *firewallSettings) { fs.WorkspaceDomains = workspaceList })
	restored := e.eventuallySeen(t, e.rt, "https://"+hostAllowed+"/", seen{Status: http.StatusOK, Server: e.fakeName, SNI: hostAllowed})
	e.requireSeen(t, e.rt, "http://"+hostDenied+"/", seen{Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed})
	t.Logf("PUT to enforced: revoke %s, grant +%s, restore %s",
		revoked.Round(time.Millisecond), granted.Round(time.Millisecond), restored.Round(time.Millisecond))
}

func (e *egressWorld) unrestrictedStaysPublic(t *testing.T) {
	e.putFirewall(t, func(fs *firewallSettings) { fs.WorkspaceMode = "unrestricted" })
	took := e.eventuallySeen(t, e.rt, "https://"+hostDenied+"/", seen{Status: http.StatusOK, Server: e.fakeName, SNI: hostDenied})
	t.Logf("PUT to enforced: %s", took.Round(time.Millisecond))
	for _, host := range privateHosts {
		for _, u := range schemes(host) {
			e.requireSeen(t, e.rt, u, seen{Status: http.StatusForbidden, Reason: egress.ReasonNonPublicAddr})
		}
	}
	for _, u := range schemes(e.fakeIP.String()) {
		e.requireSeen(t, e.rt, u, seen{Status: http.StatusForbidden, Reason: egress.ReasonIPLiteral})
	}
	e.requireRebindingContained(t)
	// The browser group kept its own allowlist.
	e.requireSeen(t, e.br, "http://"+hostDenied+"/", seen{Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed})
}

func (e *egressWorld) denyRefusesAll(t *testing.T) {
	e.putFirewall(t, func(fs *firewallSettings) { fs.WorkspaceMode = "deny" })
	took := e.eventuallySeen(t, e.rt, "http://"+hostDenied+"/", seen{Status: http.StatusForbidden, Reason: egress.ReasonModeDeny})
	t.Logf("PUT to enforced: %s", took.Round(time.Millisecond))
	for _, host := range []string{hostAllowed, hostDefault} {
		for _, u := range schemes(host) {
			e.requireSeen(t, e.rt, u, seen{Status: http.StatusForbidden, Reason: egress.ReasonModeDeny})
		}
	}
	e.requireSeen(t, e.br, "http://"+hostBrowserOnly+"/", seen{Status: http.StatusOK, Server: e.fakeName})
}

func (e *egressWorld) disabledRefusesAll(t *testing.T) {
	e.putFirewall(t, func(fs *firewallSettings) { fs.WorkspaceMode, fs.WorkspaceNetwork = "allowlist", false })
	took := e.eventuallySeen(t, e.rt, "http://"+hostDefault+"/", seen{Status: http.StatusForbidden, Reason: egress.ReasonNetworkDisabled})
	t.Logf("PUT to enforced: %s", took.Round(time.Millisecond))
	dnsQueries := func() int { return len(e.fakeNetEvents(t, func(ev fakeEvent) bool { return ev.Event == "dns" })) }
	before := settled(dnsQueries)
	for _, host := range []string{hostDefault, hostAllowed, hostRebind} {
		for _, u := range schemes(host) {
			e.requireSeen(t, e.rt, u, seen{Status: http.StatusForbidden, Reason: egress.ReasonNetworkDisabled})
		}
	}
	require.Equal(t, before, settled(dnsQueries), "the gateway resolved a name for a group without network access")
	// Per group: the browser keeps its access until it is disabled too.
	e.requireSeen(t, e.br, "https://"+hostBrowserOnly+"/", seen{Status: http.StatusOK, Server: e.fakeName, SNI: hostBrowserOnly})
	e.putFirewall(t, func(fs *firewallSettings) { fs.BrowserNetwork = false })
	e.eventuallySeen(t, e.br, "https://"+hostBrowserDef+"/", seen{Status: http.StatusForbidden, Reason: egress.ReasonNetworkDisabled})
	e.waitFirewallApplied(t)
}

// nothingRestarted: every firewall change above reached the running
// gateway without recreating or restarting any container.
func (e *egressWorld) nothingRestarted(t *testing.T) {
	require.Equal(t, e.started, e.containerStarts(t))
}

// eventuallySeen polls a fetch from inside the workspace until it has the
// wanted outcome and returns how long that took.
func (e *egressWorld) eventuallySeen(t *testing.T, endpoint, target string, want seen) time.Duration {
	t.Helper()
	start := time.Now()
	var last fetchResult
	require.Eventually(t, func() bool {
		last = e.fetch(t, endpoint, target, nil)
		return last.seen() == want
	}, policyWait, 100*time.Millisecond, "GET %s never became %+v; last: %+v", target, want, last)
	return time.Since(start)
}

// containerStarts identifies each container of the workspace and its start,
// to prove nothing was recreated or restarted.
func (e *egressWorld) containerStarts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, c := range containersOf(t, e.ws.Id) {
		out[name] = c.ID + "@" + c.State.StartedAt
	}
	return out
}
