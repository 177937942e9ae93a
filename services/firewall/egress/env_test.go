package egress_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/logtest"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/egress/egresstest"
	"aileron.dev/services/firewall/policy"
)

var (
	internetIP = netip.MustParseAddr("127.0.0.2")
	privateIP  = netip.MustParseAddr("127.0.0.3")
)

// testFilter treats the fake internet as public and everything else as
// policy.PublicAddr does.
func testFilter(a netip.Addr) bool { return a == internetIP || policy.PublicAddr(a) }

// env is a gateway with one listener per group, a DNS server, a fake
// internet host and a "private" host the gateway must never reach.
type env struct {
	dns       *egresstest.DNSServer
	ca        *egresstest.CA
	internet  *egresstest.Host
	private   *egresstest.Host
	dialer    *egresstest.Dialer
	proxy     *egress.Proxy
	addr      map[policy.Group]string
	logs      *logtest.Lines
	serveErrs chan error
}

func allowlist(g policy.Group, domains ...string) policy.Effective {
	return policy.Effective{Group: g, NetworkAccessEnabled: true, Mode: policy.ModeAllowlist, AllowedDomains: domains}
}

var defaultPolicies = egress.Policies{
	Workspace: allowlist(policy.GroupWorkspace, "*.wild.test", "allowed.test", "cname.test", "mixed.test",
		"private.test", "rebind.test", "ten.test"),
	Browser: allowlist(policy.GroupBrowser, "browser.test"),
}

func newEnv(t *testing.T, opts ...egress.Option) *env {
	t.Helper()
	e := &env{dns: egresstest.StartDNS(t), ca: egresstest.NewCA(t), logs: &logtest.Lines{}, serveErrs: make(chan error, 2)}
	e.internet = egresstest.StartHost(t, e.ca, internetIP, "allowed.test", "other.test", "browser.test", "rebind.test", "a.wild.test", "mixed.test")
	e.private = egresstest.StartHost(t, e.ca, privateIP, "private.test", "inner.test", "cname.test", "rebind.test", "mixed.test")
	e.dialer = egresstest.NewDialer(e.internet, e.private)
	for _, n := range []string{"allowed.test", "other.test", "browser.test", "a.wild.test"} {
		e.dns.Set(n, internetIP)
	}
	e.dns.Set("private.test", privateIP)
	e.dns.Set("inner.test", privateIP)
	e.dns.SetCNAME("cname.test", "inner.test")
	e.dns.Set("mixed.test", internetIP, privateIP)
	e.dns.Set("ten.test", netip.MustParseAddr("10.0.0.1"))
	e.dns.SetRotating("rebind.test", []netip.Addr{internetIP}, []netip.Addr{privateIP})

	base := []egress.Option{
		egress.WithResolver(egress.NewResolver(e.dns.Addr)),
		egress.WithAddrFilter(testFilter),
		egress.WithDialFunc(e.dialer.Dial),
		egress.WithLogger(slog.New(slog.NewJSONHandler(e.logs, nil))),
		egress.WithTimeouts(egress.Timeouts{Handshake: 2 * time.Second, Resolve: 2 * time.Second, Dial: 2 * time.Second}),
	}
	e.proxy = egress.New(defaultPolicies, append(base, opts...)...)
	e.addr = map[policy.Group]string{}
	ctx, cancel := context.WithCancel(t.Context())
	for _, g := range policy.Groups {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		e.addr[g] = ln.Addr().String()
		go func() { e.serveErrs <- e.proxy.Serve(ctx, ln, g) }()
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, e.proxy.Close())
		for range policy.Groups {
			<-e.serveErrs
		}
	})
	return e
}

// client returns an HTTP client that uses the gateway listener of group g.
func (e *env) client(t *testing.T, g policy.Group) *http.Client {
	t.Helper()
	proxyURL := &url.URL{Scheme: "http", Host: e.addr[g]}
	tr := &http.Transport{
		Proxy:             http.ProxyURL(proxyURL),
		TLSClientConfig:   &tls.Config{RootCAs: e.ca.Pool},
		DisableKeepAlives: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get fetches rawURL through group g and returns the status, body and
// headers; https goes through a CONNECT tunnel, so a refused CONNECT shows
// its own status.
func (e *env) get(t *testing.T, g policy.Group, rawURL string) (int, string, http.Header) {
	t.Helper()
	u := mustURL(t, rawURL)
	if u.Scheme == "https" {
		resp, c := e.connect(t, g, u.Hostname()+":443")
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, "", resp.Header
		}
		tc := tls.Client(c, &tls.Config{ServerName: u.Hostname(), RootCAs: e.ca.Pool})
		return http.StatusOK, tlsGet(t, tc, u.Hostname(), u.Path), nil
	}
	resp, err := e.client(t, g).Get(rawURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

// connect sends a CONNECT for authority through group g and returns the
// response and the connection (positioned after the response head).
func (e *env) connect(t *testing.T, g policy.Group, authority string) (*http.Response, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", e.addr[g])
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", authority, authority)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		require.Zero(t, br.Buffered(), "no bytes after the CONNECT response")
	}
	return resp, c
}

// tlsGet performs an HTTPS GET for path over an established tunnel.
func tlsGet(t *testing.T, c *tls.Conn, host, path string) string {
	t.Helper()
	_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(body)
}

// rawRequest writes raw to group g's listener and reads one response.
func (e *env) rawRequest(t *testing.T, g policy.Group, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", e.addr[g])
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// decisions returns the decision log records.
func (e *env) decisions(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == "egress decision" {
			out = append(out, rec)
		}
	}
	return out
}

// requireDecision waits until a decision for host with reason is logged.
func (e *env) requireDecision(t *testing.T, host, decision, reason string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, d := range e.decisions(t) {
			if d["host"] == host && d["decision"] == decision && d["reason"] == reason {
				return
			}
		}
		c.Errorf("no %s/%s decision for %s in:\n%s", decision, reason, host, e.logs.String())
	}, 5*time.Second, 10*time.Millisecond)
}

// isClosed reports whether reading c ends without data (EOF or reset).
func isClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}
