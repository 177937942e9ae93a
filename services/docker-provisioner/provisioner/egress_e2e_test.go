package provisioner_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/docker-provisioner/provisioner"
)

// TestEgressEndToEnd enforces the firewall for real on the Docker Engine,
// offline: a workspace whose only way out is its egress gateway, a fake
// internet (HTTP, HTTPS and the gateway's DNS) on the test's outside
// network, and a private listener ("intranet") next to the workspace that
// the gateway could reach if it ever dialed a private answer. Everything is
// asserted from inside the workspace's containers (the stub's /fetch,
// /probe and /resolve) and from what the fake servers saw. The subtests
// share one workspace and run in order; the last ones change its policy
// through PUT /api/v1/workspaces/{id}/firewall.
func TestEgressEndToEnd(t *testing.T) {
	start := time.Now()
	e := startEgressWorld(t)
	t.Logf("setup (workspace running, firewall applied, fake internet ready): %s", time.Since(start).Round(time.Millisecond))
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"allowed names answer 200 from the fake internet", e.allowedNamesAnswer},
		{"names off the allowlist get 403 and are not even resolved", e.otherNamesRefused},
		{"IP literals are refused", e.ipLiteralsRefused},
		{"private, metadata and CNAME-to-private answers are refused", e.privateAnswersRefused},
		{"DNS rebinding never reaches the private address", e.rebindingContained},
		{"the TLS server name must be the CONNECT host", e.sniMustMatch},
		{"traffic that ignores the proxy gets no answer", e.bypassGetsNowhere},
		{"browser and workspace policies differ and cannot be crossed", e.groupsSeparate},
		{"a PUT changes what is reachable within seconds", e.putTakesEffect},
		{"unrestricted reaches any name but never a private address or an IP literal", e.unrestrictedStaysPublic},
		{"deny refuses every domain, defaults included", e.denyRefusesAll},
		{"network access disabled refuses even the defaults, without a DNS query", e.disabledRefusesAll},
		{"no container was restarted for a firewall change", e.nothingRestarted},
		{"control: the intranet listener answers whoever can reach it", e.intranetIsLive},
		{"the gateway only ever dialed the fake internet", e.dialedOnlyFakeNet},
	} {
		t.Run(step.name, step.run)
	}
}

// TestEgressIngressDoesNotBridgeGroups: the gateway's published ingress
// (routes to runtime, terminal, browser and canvas) is for the host. From
// inside a workspace, the gateway's ingress port on the group's own internal
// address must not lead to the other group's services: otherwise chrome
// reaches the terminal (and through it the workspace group's policy) and
// the runtime reaches all of chrome. The one deliberate route between the
// groups is the DevTools relay, CDP only (TestBrowserEndToEnd).
func TestEgressIngressDoesNotBridgeGroups(t *testing.T) {
	e := startEgressWorld(t)
	rt, br := e.rt, e.br
	port := e.h.cfg.Gateway.IngressPort
	inner := url.QueryEscape("http://" + hostAllowed + "/")
	for _, c := range []struct{ from, endpoint, target string }{
		{"chrome", br, fmt.Sprintf("http://%s:%d/runtime/fetch?url=%s", e.brGateway, port, inner)},
		{"chrome", br, fmt.Sprintf("http://%s:%d/terminal/info", e.brGateway, port)},
		{"runtime", rt, fmt.Sprintf("http://%s:%d/browser/fetch?url=%s", e.wsGateway, port, url.QueryEscape("http://"+hostBrowserOnly+"/"))},
	} {
		r := e.fetch(t, c.endpoint, c.target, url.Values{"direct": {"1"}})
		assert.Zero(t, r.Status, "%s reached the other group through the gateway's ingress: GET %s answered %d: %s",
			c.from, c.target, r.Status, r.Body)
		assert.NotEmpty(t, r.Error)
	}
	// The published ingress still serves the host, from the outside address only.
	code, body := get(t, rt+"info")
	require.Equal(t, http.StatusOK, code, body)
	listeners := func() []string {
		var listening []string
		for _, line := range containerStdout(t, provisioner.GatewayName(e.ws.Id)) {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "ingress listening" {
				listening = append(listening, l.Addr)
			}
		}
		return listening
	}
	listening := eventuallyRead(t, listeners, func(l []string) bool { return len(l) > 0 }, "the gateway never logged its ingress listener")
	require.Equal(t, []string{net.JoinHostPort(e.outsideGateway.String(), strconv.Itoa(port))}, listening)
}

// schemes returns the http and https URLs of a host.
func schemes(host string) []string { return []string{"http://" + host + "/", "https://" + host + "/"} }

// requireSeen fetches target from inside the container behind endpoint and
// requires the outcome.
func (e *egressWorld) requireSeen(t *testing.T, endpoint, target string, want seen) {
	t.Helper()
	r := e.fetch(t, endpoint, target, nil)
	require.Equal(t, want, r.seen(), "GET %s from %s: %+v", target, endpoint, r)
}

// fakeNetEvents returns the fake internet's events that match, as its log
// holds them now (see settledFakeNetEvents).
func (e *egressWorld) fakeNetEvents(t *testing.T, match func(fakeEvent) bool) []fakeEvent {
	t.Helper()
	var out []fakeEvent
	for _, ev := range fakeEvents(t, e.fakeName, "") {
		if ev.Event != "ready" && match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// settledFakeNetEvents returns the fake internet's events that match once
// its log has settled: for assertions that nothing (else) reached it.
func (e *egressWorld) settledFakeNetEvents(t *testing.T, match func(fakeEvent) bool) []fakeEvent {
	t.Helper()
	return settledRead(func() []fakeEvent { return e.fakeNetEvents(t, match) })
}

// requireOnlyGatewayReachedFakeNet: every connection and DNS query the fake
// internet ever saw came from the gateway's outside address.
func (e *egressWorld) requireOnlyGatewayReachedFakeNet(t *testing.T) {
	t.Helper()
	others := e.settledFakeNetEvents(t, func(ev fakeEvent) bool { return ev.remoteIP() != e.outsideGateway })
	require.Empty(t, others, "the fake internet was reached by something other than the gateway (%s)", e.outsideGateway)
}

// intranetEvents are the connections the private listener saw.
func (e *egressWorld) intranetEvents(t *testing.T) []fakeEvent {
	t.Helper()
	var out []fakeEvent
	for _, ev := range fakeEvents(t, e.intranetName, "") {
		if ev.Event != "ready" {
			out = append(out, ev)
		}
	}
	return out
}

func (e *egressWorld) requireIntranetUntouched(t *testing.T) {
	t.Helper()
	require.Empty(t, settledRead(func() []fakeEvent { return e.intranetEvents(t) }), "something reached the private listener %s", e.intranetIP)
}
