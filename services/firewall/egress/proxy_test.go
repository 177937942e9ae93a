package egress_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/policy"
)

func TestAllowed(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.get(t, policy.GroupWorkspace, "https://allowed.test/hello")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "https allowed.test /hello", body)

	status, body, _ = e.get(t, policy.GroupWorkspace, "http://allowed.test/plain")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "http allowed.test /plain", body)

	status, body, _ = e.get(t, policy.GroupWorkspace, "https://a.wild.test/")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "https a.wild.test /", body)

	// The standard library's proxy client (CONNECT + TLS) works unchanged.
	resp, err := e.client(t, policy.GroupWorkspace).Get("https://allowed.test/std")
	require.NoError(t, err)
	body2, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "https allowed.test /std", string(body2))

	require.Equal(t, []string{"allowed.test", "a.wild.test", "allowed.test"}, e.internet.SNIs())
	for _, d := range e.dialer.Dialed() {
		require.Equal(t, internetIP, d.Addr(), "dialed only the checked address")
	}
	e.requireDecision(t, "allowed.test", "allow", egress.ReasonAllowed)
}

func TestDenied(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, authority, reason string
	}{
		{"not allowlisted", "other.test:443", egress.ReasonNotAllowed},
		{"wildcard never matches apex", "wild.test:443", egress.ReasonNotAllowed},
		{"ipv4 literal", "127.0.0.2:443", egress.ReasonIPLiteral},
		{"short ipv4 literal", "127.2:443", egress.ReasonIPLiteral},
		{"hex ipv4 literal", "0x7f.0.0.2:443", egress.ReasonIPLiteral},
		{"decimal ipv4 literal", "2130706434:443", egress.ReasonIPLiteral},
		{"ipv6 literal", "[::1]:443", egress.ReasonIPLiteral},
		{"port", "allowed.test:22", egress.ReasonPort},
		{"single label", "localhost:443", egress.ReasonInvalidHost},
		{"private answer", "private.test:443", egress.ReasonNonPublicAddr},
		{"cname to private", "cname.test:443", egress.ReasonNonPublicAddr},
		{"one private answer among public", "mixed.test:443", egress.ReasonNonPublicAddr},
		{"rfc1918 answer", "ten.test:443", egress.ReasonNonPublicAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := e.connect(t, policy.GroupWorkspace, tt.authority)
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			require.Equal(t, tt.reason, resp.Header.Get(egress.HeaderDenied))
		})
	}
	t.Run("plain http", func(t *testing.T) {
		status, _, h := e.get(t, policy.GroupWorkspace, "http://other.test/")
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, egress.ReasonNotAllowed, h.Get(egress.HeaderDenied))
		status, _, h = e.get(t, policy.GroupWorkspace, "http://127.0.0.2/")
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, egress.ReasonIPLiteral, h.Get(egress.HeaderDenied))
		status, _, h = e.get(t, policy.GroupWorkspace, "http://private.test/")
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, egress.ReasonNonPublicAddr, h.Get(egress.HeaderDenied))
	})
	t.Run("unknown name", func(t *testing.T) {
		e.proxy.SetPolicies(egress.Policies{Workspace: allowlist(policy.GroupWorkspace, "nx.test")})
		defer e.proxy.SetPolicies(defaultPolicies)
		resp, _ := e.connect(t, policy.GroupWorkspace, "nx.test:443")
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		require.Equal(t, egress.ReasonResolveFailed, resp.Header.Get(egress.HeaderError))
	})
	require.Zero(t, e.private.Accepted(), "the private host was never reached")
	for _, d := range e.dialer.Dialed() {
		require.NotEqual(t, privateIP, d.Addr())
	}
	e.requireDecision(t, "mixed.test", "deny", egress.ReasonNonPublicAddr)
}

func TestDefaultAddrFilterIsStrict(t *testing.T) {
	// Without WithAddrFilter, loopback (where the fake internet lives) and
	// private answers are refused.
	e := newEnv(t, egress.WithAddrFilter(nil))
	for _, host := range []string{"allowed.test:443", "ten.test:443", "private.test:443"} {
		resp, _ := e.connect(t, policy.GroupWorkspace, host)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, host)
		require.Equal(t, egress.ReasonNonPublicAddr, resp.Header.Get(egress.HeaderDenied), host)
	}
	require.Empty(t, e.dialer.Dialed())
}

func TestRebindingNeverReachesPrivate(t *testing.T) {
	e := newEnv(t)
	counts := map[int]int{}
	for range 8 {
		status, _, _ := e.get(t, policy.GroupWorkspace, "http://rebind.test/")
		counts[status]++
		resp, c := e.connect(t, policy.GroupWorkspace, "rebind.test:443")
		counts[resp.StatusCode]++
		c.Close()
	}
	require.Positive(t, counts[http.StatusOK], "public answers are served: %v", counts)
	require.Positive(t, counts[http.StatusForbidden], "private answers are refused: %v", counts)
	require.Zero(t, e.private.Accepted())
	for _, d := range e.dialer.Dialed() {
		require.Equal(t, internetIP, d.Addr())
	}
}

func TestSNI(t *testing.T) {
	e := newEnv(t)
	t.Run("mismatch", func(t *testing.T) {
		resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		tc := tls.Client(c, &tls.Config{ServerName: "other.test", RootCAs: e.ca.Pool})
		err := tc.Handshake()
		require.ErrorContains(t, err, "access denied")
		e.requireDecision(t, "allowed.test", "deny", egress.ReasonSNIMismatch)
	})
	t.Run("missing", func(t *testing.T) {
		resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // no ServerName: no SNI
		require.Error(t, tc.Handshake())
		e.requireDecision(t, "allowed.test", "deny", egress.ReasonSNIMissing)
	})
	t.Run("encrypted client hello", func(t *testing.T) {
		// The outer SNI is the allowed name; the real one would be encrypted.
		for _, ext := range []uint16{0xfe0d, 0xffce} {
			resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			_, err := c.Write(clientHelloWith(t, "allowed.test", ext))
			require.NoError(t, err)
			alert := make([]byte, 7)
			_, err = io.ReadFull(c, alert)
			require.NoError(t, err)
			require.Equal(t, []byte{21, 3, 3, 0, 2, 2, 49}, alert, "a fatal access_denied alert")
			e.requireDecision(t, "allowed.test", "deny", egress.ReasonECH)
			c.Close()
		}
	})
	t.Run("not tls", func(t *testing.T) {
		resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:80")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"))
		require.NoError(t, err)
		require.True(t, isClosed(c))
		e.requireDecision(t, "allowed.test", "deny", egress.ReasonNotTLS)
	})
	require.NotContains(t, e.internet.SNIs(), "other.test")
	require.NotContains(t, e.internet.SNIs(), "")
}

func TestHostHeader(t *testing.T) {
	e := newEnv(t)
	resp := e.rawRequest(t, policy.GroupWorkspace, "GET http://allowed.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, egress.ReasonHostMismatch, resp.Header.Get(egress.HeaderDenied))

	resp = e.rawRequest(t, policy.GroupWorkspace, "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test:8080\r\n\r\n")
	require.Equal(t, egress.ReasonHostMismatch, resp.Header.Get(egress.HeaderDenied))

	resp = e.rawRequest(t, policy.GroupWorkspace, "GET http://allowed.test/ HTTP/1.0\r\n\r\n")
	require.Equal(t, egress.ReasonHostMismatch, resp.Header.Get(egress.HeaderDenied))

	resp = e.rawRequest(t, policy.GroupWorkspace, "GET http://allowed.test/ HTTP/1.1\r\nHost: ALLOWED.test.\r\n\r\n")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp = e.rawRequest(t, policy.GroupWorkspace, "GET /relative HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestKeepAlivePlainHTTP(t *testing.T) {
	e := newEnv(t)
	tr := &http.Transport{Proxy: http.ProxyURL(mustURL(t, "http://"+e.addr[policy.GroupWorkspace]))}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for range 3 {
		resp, err := c.Get("http://allowed.test/again")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
	}
}

func TestGroupIsolation(t *testing.T) {
	e := newEnv(t)
	status, _, h := e.get(t, policy.GroupWorkspace, "https://browser.test/")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, egress.ReasonNotAllowed, h.Get(egress.HeaderDenied))

	status, body, _ := e.get(t, policy.GroupBrowser, "https://browser.test/")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "https browser.test /", body)

	status, _, _ = e.get(t, policy.GroupBrowser, "https://allowed.test/")
	require.Equal(t, http.StatusForbidden, status)
	e.requireDecision(t, "allowed.test", "deny", egress.ReasonNotAllowed)
	for _, d := range e.decisions(t) {
		if d["host"] == "browser.test" && d["decision"] == "allow" {
			require.Equal(t, "browser", d["group"])
		}
	}
}

func TestModes(t *testing.T) {
	e := newEnv(t)
	set := func(eff policy.Effective) {
		e.proxy.SetPolicies(egress.Policies{Workspace: eff, Browser: defaultPolicies.Browser})
	}
	defer e.proxy.SetPolicies(defaultPolicies)

	set(policy.Effective{Group: policy.GroupWorkspace, Mode: policy.ModeUnrestricted, AllowedDomains: []string{"allowed.test"}})
	status, _, h := e.get(t, policy.GroupWorkspace, "https://allowed.test/")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, egress.ReasonNetworkDisabled, h.Get(egress.HeaderDenied))

	set(policy.Effective{Group: policy.GroupWorkspace, NetworkAccessEnabled: true, Mode: policy.ModeDeny, AllowedDomains: []string{"allowed.test"}})
	status, _, h = e.get(t, policy.GroupWorkspace, "https://allowed.test/")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, egress.ReasonModeDeny, h.Get(egress.HeaderDenied))

	set(policy.Effective{Group: policy.GroupWorkspace, NetworkAccessEnabled: true, Mode: policy.ModeUnrestricted})
	status, _, _ = e.get(t, policy.GroupWorkspace, "https://other.test/")
	require.Equal(t, http.StatusOK, status)
	status, _, h = e.get(t, policy.GroupWorkspace, "https://private.test/")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, egress.ReasonNonPublicAddr, h.Get(egress.HeaderDenied))
	require.Zero(t, e.private.Accepted())
}

// A reload closes the open tunnels the new policy refuses, and only those:
// a running exfiltration stops when an admin tightens the policy.
func TestReloadCutsTunnelsTheNewPolicyRefuses(t *testing.T) {
	e := newEnv(t)
	open := func(name string) (net.Conn, *tls.Conn) {
		resp, c := e.connect(t, policy.GroupWorkspace, name+":443")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		tc := tls.Client(c, &tls.Config{ServerName: name, RootCAs: e.ca.Pool})
		require.Equal(t, "https "+name+" /before", tlsGet(t, tc, name, "/before"))
		return c, tc
	}
	cutRaw, _ := open("allowed.test")
	_, kept := open("a.wild.test")

	e.proxy.SetPolicies(egress.Policies{
		Workspace: allowlist(policy.GroupWorkspace, "*.wild.test"),
		Browser:   allowlist(policy.GroupBrowser, "browser.test"),
	})
	require.True(t, isClosed(cutRaw), "the tunnel to a name the policy no longer allows is closed")
	require.Equal(t, "https a.wild.test /after", tlsGet(t, kept, "a.wild.test", "/after"), "a tunnel the policy still allows goes on")
	resp, _ := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "new tunnels see the new policy")
	require.Equal(t, egress.ReasonNotAllowed, resp.Header.Get(egress.HeaderDenied))

	e.proxy.SetPolicies(egress.Policies{})
	keptRaw := kept.NetConn()
	require.True(t, isClosed(keptRaw), "network access off closes every tunnel")
}

func TestIdleTunnelCloses(t *testing.T) {
	e := newEnv(t, egress.WithTimeouts(egress.Timeouts{Idle: 300 * time.Millisecond}))
	resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tc := tls.Client(c, &tls.Config{ServerName: "allowed.test", RootCAs: e.ca.Pool})
	tlsGet(t, tc, "allowed.test", "/")
	start := time.Now()
	require.True(t, isClosed(c))
	require.Less(t, time.Since(start), 4*time.Second)
}

func TestShutdown(t *testing.T) {
	e := newEnv(t)
	resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tc := tls.Client(c, &tls.Config{ServerName: "allowed.test", RootCAs: e.ca.Pool})
	tlsGet(t, tc, "allowed.test", "/")

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, e.proxy.Shutdown(ctx), context.DeadlineExceeded, "the open tunnel held shutdown until the deadline")
	require.True(t, isClosed(c))
	for range policy.Groups {
		require.ErrorIs(t, <-e.serveErrs, egress.ErrClosed)
	}
	for range policy.Groups {
		e.serveErrs <- nil // for the cleanup
	}
	ln, err := netListen()
	require.NoError(t, err)
	require.ErrorIs(t, e.proxy.Serve(t.Context(), ln, policy.GroupWorkspace), egress.ErrClosed)
}

func TestServeRejectsUnknownGroup(t *testing.T) {
	p := egress.New(egress.Policies{})
	ln, err := netListen()
	require.NoError(t, err)
	require.ErrorIs(t, p.Serve(t.Context(), ln, "db"), policy.ErrInvalid)
	require.NoError(t, p.Close())
}

func TestIPv6AnswerFiltered(t *testing.T) {
	e := newEnv(t)
	e.dns.Set("v6.test", netip.MustParseAddr("::ffff:127.0.0.2"))
	e.proxy.SetPolicies(egress.Policies{Workspace: allowlist(policy.GroupWorkspace, "v6.test")})
	resp, _ := e.connect(t, policy.GroupWorkspace, "v6.test:443")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "IPv4-mapped AAAA answers are not public")
}

// clientHelloWith returns the TLS record of a real crypto/tls ClientHello for
// serverName with one more extension, ext, carrying a structurally valid ECH
// outer payload (type outer, HKDF-SHA256/AES-128-GCM, config 1, a 32-byte
// enc and a 16-byte payload).
func clientHelloWith(t *testing.T, serverName string, ext uint16) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() { _ = tls.Client(a, &tls.Config{ServerName: serverName}).Handshake() }()
	head := make([]byte, 5)
	_, err := io.ReadFull(b, head)
	require.NoError(t, err)
	body := make([]byte, int(head[3])<<8|int(head[4]))
	_, err = io.ReadFull(b, body)
	require.NoError(t, err)
	a.Close()
	b.Close()

	payload := []byte{0, 0, 1, 0, 1, 1, 0, 32}
	payload = append(payload, make([]byte, 32)...)
	payload = append(payload, 0, 16)
	payload = append(payload, make([]byte, 16)...)
	extension := append([]byte{byte(ext >> 8), byte(ext), byte(len(payload) >> 8), byte(len(payload))}, payload...)

	// Skip to the extensions of the ClientHello: handshake header (4),
	// version (2), random (32), session id, cipher suites, compression.
	i := 4 + 2 + 32
	i += 1 + int(body[i])
	i += 2 + (int(body[i])<<8 | int(body[i+1]))
	i += 1 + int(body[i])
	extLen := int(body[i])<<8 | int(body[i+1]) + len(extension)
	body[i], body[i+1] = byte(extLen>>8), byte(extLen)
	body = append(body, extension...)
	hsLen := len(body) - 4
	body[1], body[2], body[3] = byte(hsLen>>16), byte(hsLen>>8), byte(hsLen)
	head[3], head[4] = byte(len(body)>>8), byte(len(body))
	return append(head, body...)
}

// Over the connection cap a new client gets 503 too-many-connections and
// nothing else; closing one makes room again.
func TestConnectionCap(t *testing.T) {
	e := newEnv(t, egress.WithMaxConns(2))
	_, first := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
	_, _ = e.connect(t, policy.GroupBrowser, "browser.test:443")

	resp, _ := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the cap spans both groups")
	require.Equal(t, egress.ReasonTooManyConns, resp.Header.Get(egress.HeaderError))

	first.Close()
	require.Eventually(t, func() bool {
		resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
		c.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "a closed connection makes room")
}
