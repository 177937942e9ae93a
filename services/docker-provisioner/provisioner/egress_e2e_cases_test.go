package provisioner_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/firewall/egress"
)

// The steps of TestEgressEndToEnd that run under the workspace's first
// policy: the workspace allowlist (workspaceList and hostDefault) and the
// browser allowlist (hostBrowserOnly and hostBrowserDef).

func (e *egressWorld) allowedNamesAnswer(t *testing.T) {
	for _, host := range []string{hostAllowed, hostDefault, hostCNAMEPublic} {
		e.requireSeen(t, e.rt, "http://"+host+"/", seen{Status: http.StatusOK, Server: e.fakeName})
		e.requireSeen(t, e.rt, "https://"+host+"/", seen{Status: http.StatusOK, Server: e.fakeName, SNI: host})
	}
	e.requireOnlyGatewayReachedFakeNet(t)
}

func (e *egressWorld) otherNamesRefused(t *testing.T) {
	for _, host := range []string{hostDenied, hostBrowserOnly, hostBrowserDef} {
		for _, u := range schemes(host) {
			e.requireSeen(t, e.rt, u, seen{Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed})
		}
		require.Empty(t, e.settledFakeNetEvents(t, func(ev fakeEvent) bool { return ev.Name == host || ev.Host == host || ev.SNI == host }),
			"a refused name reached the fake internet or its DNS")
	}
	e.requireSeen(t, e.rt, "http://"+hostAllowed+":8080/", seen{Status: http.StatusForbidden, Reason: egress.ReasonPort})
}

func (e *egressWorld) ipLiteralsRefused(t *testing.T) {
	// The proxy is named explicitly: the runtime's NO_PROXY holds its own
	// subnet, where the intranet listener is.
	proxy := url.Values{"proxy": {fmt.Sprintf("http://%s:%d", e.wsGateway, e.h.cfg.Gateway.WorkspacePort)}}
	v4 := e.fakeIP.As4()
	n := binary.BigEndian.Uint32(v4[:])
	literals := []string{e.fakeIP.String(), e.fakeIP.String() + ".", strconv.FormatUint(uint64(n), 10), fmt.Sprintf("0x%x", n),
		"[::ffff:" + e.fakeIP.String() + "]", e.intranetIP.String(), "169.254.169.254"}
	for _, ip := range literals {
		for _, u := range schemes(ip) {
			r := e.fetch(t, e.rt, u, proxy)
			require.Equal(t, seen{Status: http.StatusForbidden, Reason: egress.ReasonIPLiteral}, r.seen(), "GET %s: %+v", u, r)
		}
	}
	e.requireOnlyGatewayReachedFakeNet(t)
	e.requireIntranetUntouched(t)
}

func (e *egressWorld) privateAnswersRefused(t *testing.T) {
	for _, host := range privateHosts {
		for _, u := range schemes(host) {
			e.requireSeen(t, e.rt, u, seen{Status: http.StatusForbidden, Reason: egress.ReasonNonPublicAddr})
		}
	}
	e.requireIntranetUntouched(t)
}

func (e *egressWorld) rebindingContained(t *testing.T) { e.requireRebindingContained(t) }

// requireRebindingContained asks for a name whose A answer alternates
// between the fake internet and the private listener (TTL 0): every request
// either reaches the fake internet or is refused for its private answer, the
// gateway resolves every time, and the private listener is never reached.
func (e *egressWorld) requireRebindingContained(t *testing.T) {
	t.Helper()
	queries := func() int {
		return len(e.fakeNetEvents(t, func(ev fakeEvent) bool { return ev.Event == "dns" && ev.Name == hostRebind && ev.Type == "A" }))
	}
	before := settled(queries)
	outcomes := map[string]int{}
	const rounds = 6
	for i := range 2 * rounds {
		u := schemes(hostRebind)[i/rounds]
		public := seen{Status: http.StatusOK, Server: e.fakeName}
		if i >= rounds {
			public.SNI = hostRebind
		}
		switch got := e.fetch(t, e.rt, u, nil).seen(); got {
		case public:
			outcomes["public"]++
		case seen{Status: http.StatusForbidden, Reason: egress.ReasonNonPublicAddr}:
			outcomes["refused"]++
		default:
			t.Fatalf("GET %s: unexpected outcome %+v", u, got)
		}
	}
	require.NotZero(t, outcomes["public"], "%v", outcomes)
	require.NotZero(t, outcomes["refused"], "%v", outcomes)
	require.Eventually(t, func() bool { return queries()-before >= 2*rounds }, waitFor, tick, "the gateway must resolve on every request")
	require.GreaterOrEqual(t, queries()-before, 2*rounds, "the gateway must resolve on every request")
	e.requireIntranetUntouched(t)
}

func (e *egressWorld) sniMustMatch(t *testing.T) {
	for _, sni := range []string{hostDenied, e.fakeIP.String()} { // another name; no SNI at all
		r := e.fetch(t, e.rt, "https://"+hostAllowed+"/", url.Values{"sni": {sni}})
		require.Equal(t, http.StatusOK, r.ConnectStatus, "CONNECT itself is allowed: %+v", r)
		require.Zero(t, r.Status, "a tunnel with SNI %q got an answer: %+v", sni, r)
		require.Contains(t, r.Error, "access denied", "the gateway answers a refused ClientHello with a TLS access_denied alert")
	}
	// An allowed SNI does not smuggle a refused CONNECT host through.
	r := e.fetch(t, e.rt, "https://"+hostDenied+"/", url.Values{"sni": {hostAllowed}})
	require.Equal(t, seen{Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed}, r.seen(), "%+v", r)
	require.Empty(t, e.settledFakeNetEvents(t, func(ev fakeEvent) bool {
		return ev.Event == "tls" && (ev.SNI == hostDenied || ev.SNI == "")
	}), "a ClientHello with a refused or no server name reached the fake internet")
}

func (e *egressWorld) bypassGetsNowhere(t *testing.T) {
	e.requireNoAnswer(t, "runtime", e.rt)
	e.requireNoAnswer(t, "chrome", e.br)
	e.requireOnlyGatewayReachedFakeNet(t)
}

// requireNoAnswer sends traffic that ignores the proxy from one container:
// TCP to the fake internet's web and DNS ports, plain HTTP without the
// proxy, a UDP DNS query to the fake internet's server and lookups through
// the container's own resolver (Docker's embedded DNS). None of it may get
// an answer, and the fake DNS server must never see the probe names. On
// this engine an internal network still has a default route to the bridge
// address and the engine's iptables rules drop what is forwarded, so each
// probe waits out its timeout; they run at once.
func (e *egressWorld) requireNoAnswer(t *testing.T, svc, endpoint string) {
	t.Helper()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	udpName := fmt.Sprintf("udp-%s-%s.%s", svc, nonce, e2eDomain)
	resolverName := fmt.Sprintf("resolver-%s-%s.%s", svc, nonce, e2eDomain)
	ports := []string{"80", "443", "53"}
	targets := []string{"http://" + e.fakeIP.String() + "/", "http://" + hostAllowed + "/"}
	names := []string{hostAllowed, resolverName, "example.com"}
	tcp, direct, codes := make([]probeResult, len(ports)), make([]fetchResult, len(targets)), make([]int, len(names))
	var udp probeResult
	var wg sync.WaitGroup
	for i, port := range ports {
		wg.Go(func() { tcp[i] = probe(t, endpoint, "tcp", net.JoinHostPort(e.fakeIP.String(), port), "") })
	}
	for i, target := range targets {
		wg.Go(func() { direct[i] = e.fetch(t, endpoint, target, url.Values{"direct": {"1"}}) })
	}
	wg.Go(func() { udp = probe(t, endpoint, "udp", net.JoinHostPort(e.fakeIP.String(), "53"), udpName) })
	for i, name := range names {
		wg.Go(func() { codes[i], _ = resolve(t, endpoint, name) })
	}
	wg.Wait()
	for i, r := range tcp {
		require.False(t, r.OK, "%s: direct TCP to the fake internet :%s connected", svc, ports[i])
		require.NotEmpty(t, r.Error)
	}
	for i, r := range direct {
		require.Zero(t, r.Status, "%s: GET %s without the proxy got an answer: %+v", svc, targets[i], r)
	}
	require.False(t, udp.OK, "%s: a UDP DNS query to the fake internet got an answer", svc)
	for i, code := range codes {
		require.Equal(t, http.StatusBadGateway, code, "%s: %s resolved through Docker's DNS", svc, names[i])
	}
	require.Empty(t, e.settledFakeNetEvents(t, func(ev fakeEvent) bool { return ev.Name == udpName || ev.Name == resolverName }),
		"%s: a query that ignored the gateway reached the fake DNS server", svc)
}

func (e *egressWorld) groupsSeparate(t *testing.T) {
	e.requireOwnPolicies(t)
	e.requireOtherListenerUnreachable(t)
	e.requireDecisionsByListener(t)
}

// requireOwnPolicies: chrome gets the browser policy, the runtime the workspace one.
func (e *egressWorld) requireOwnPolicies(t *testing.T) {
	t.Helper()
	ok := func(host string) []seen {
		return []seen{{Status: http.StatusOK, Server: e.fakeName}, {Status: http.StatusOK, Server: e.fakeName, SNI: host}}
	}
	refused := []seen{{Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed}, {Status: http.StatusForbidden, Reason: egress.ReasonNotAllowed}}
	for _, c := range []struct {
		endpoint, host string
		want           []seen
	}{
		{e.br, hostBrowserOnly, ok(hostBrowserOnly)},
		{e.br, hostBrowserDef, ok(hostBrowserDef)},
		{e.br, hostAllowed, refused},
		{e.br, hostDefault, refused},
		{e.rt, hostBrowserOnly, refused},
		{e.rt, hostBrowserDef, refused},
	} {
		for i, u := range schemes(c.host) {
			e.requireSeen(t, c.endpoint, u, c.want[i])
		}
	}
}

// requireOtherListenerUnreachable: the other group's proxy listener is on
// the other internal network (unreachable), and the other group's port on
// the own network has nothing listening.
func (e *egressWorld) requireOtherListenerUnreachable(t *testing.T) {
	t.Helper()
	type cross struct{ endpoint, proxy, url string }
	var crosses []cross
	for _, c := range []cross{
		{endpoint: e.rt, proxy: fmt.Sprintf("http://%s:%d", e.brGateway, e.h.cfg.Gateway.BrowserPort)},
		{endpoint: e.rt, proxy: fmt.Sprintf("http://%s:%d", e.wsGateway, e.h.cfg.Gateway.BrowserPort)},
		{endpoint: e.br, proxy: fmt.Sprintf("http://%s:%d", e.wsGateway, e.h.cfg.Gateway.WorkspacePort)},
		{endpoint: e.br, proxy: fmt.Sprintf("http://%s:%d", e.brGateway, e.h.cfg.Gateway.WorkspacePort)},
	} {
		for _, u := range schemes(hostAllowed) {
			c.url = u
			crosses = append(crosses, c)
		}
	}
	results := make([]fetchResult, len(crosses))
	var wg sync.WaitGroup
	for i, c := range crosses {
		wg.Go(func() { results[i] = e.fetch(t, c.endpoint, c.url, url.Values{"proxy": {c.proxy}}) })
	}
	wg.Wait()
	for i, r := range results {
		c := crosses[i]
		require.Zero(t, r.Status, "%s from %s through %s: %+v", c.url, c.endpoint, c.proxy, r)
		require.Zero(t, r.ConnectStatus, "%s from %s through %s: %+v", c.url, c.endpoint, c.proxy, r)
		require.NotEmpty(t, r.Error)
	}
}

// requireDecisionsByListener: the gateway judged every request by the group
// of the listener it came in on.
func (e *egressWorld) requireDecisionsByListener(t *testing.T) {
	t.Helper()
	browserAllowed := func(ds []gatewayDecision) bool {
		return slices.ContainsFunc(ds, func(d gatewayDecision) bool { return d.Decision == "allow" && clientIP(d) == e.chromeIP })
	}
	decisions := eventuallyRead(t, func() []gatewayDecision { return e.gatewayDecisions(t) }, browserAllowed,
		"the gateway never logged an allowed browser request")
	var browserAllowedN int
	for _, d := range decisions {
		client, err := netip.ParseAddrPort(d.Client)
		require.NoError(t, err, "%+v", d)
		switch client.Addr() {
		case e.runtimeIP:
			require.Equal(t, "workspace", d.Group, "%+v", d)
		case e.chromeIP:
			require.Equal(t, "browser", d.Group, "%+v", d)
			if d.Decision == "allow" {
				browserAllowedN++
			}
		default:
			t.Fatalf("decision for an unknown client: %+v", d)
		}
	}
	require.NotZero(t, browserAllowedN)
}

// clientIP is the address of the client a decision was made for (invalid
// when the log line has none).
func clientIP(d gatewayDecision) netip.Addr {
	ap, _ := netip.ParseAddrPort(d.Client)
	return ap.Addr()
}

// intranetIsLive is the control for every "intranet untouched" assertion:
// the private listener answers whoever can reach it.
func (e *egressWorld) intranetIsLive(t *testing.T) {
	e.requireIntranetUntouched(t)
	r := e.fetch(t, e.rt, "http://"+e.intranetIP.String()+"/", url.Values{"direct": {"1"}})
	require.Equal(t, seen{Status: http.StatusOK, Server: e.intranetName}, r.seen(), "%+v", r)
	hits := eventuallyRead(t, func() []fakeEvent { return e.intranetEvents(t) }, func(h []fakeEvent) bool { return len(h) > 0 },
		"the intranet listener logged no connection")
	require.NotEmpty(t, hits)
	for _, ev := range hits {
		require.Equal(t, e.runtimeIP, ev.remoteIP(), "%+v", ev)
	}
}

// dialedOnlyFakeNet checks the gateway's own account: every upstream it
// dialed is the fake internet.
func (e *egressWorld) dialedOnlyFakeNet(t *testing.T) {
	dialedAny := func(ds []gatewayDecision) bool {
		return slices.ContainsFunc(ds, func(d gatewayDecision) bool { return d.Upstream != "" })
	}
	dialed := 0
	for _, d := range eventuallyRead(t, func() []gatewayDecision { return e.gatewayDecisions(t) }, dialedAny, "the gateway logged no upstream") {
		if d.Upstream == "" {
			continue
		}
		dialed++
		ap, err := netip.ParseAddrPort(d.Upstream)
		require.NoError(t, err, "%+v", d)
		require.Equal(t, e.fakeIP, ap.Addr(), "the gateway dialed something else: %+v", d)
	}
	require.NotZero(t, dialed)
	e.requireOnlyGatewayReachedFakeNet(t)
}
