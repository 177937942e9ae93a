package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxFetchBody is how much of a fetched body /fetch reports.
const maxFetchBody = 4 << 10

// outcome is the JSON answer of /fetch and /probe. The CONNECT fields are
// written from the transport's dial goroutine, hence the lock.
type outcome struct {
	mu sync.Mutex
	m  map[string]any
}

func (o *outcome) set(k string, v any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[k] = v
}

func (o *outcome) write(w http.ResponseWriter) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(o.m)
}

// fetch reports what an outbound GET from inside the workspace gets: a JSON
// object with the upstream status (0 when the request failed), the egress
// gateway's denial reason header, the first 4 KiB of the body and the error.
// For https through a proxy it also reports the proxy's answer to CONNECT
// (connect_status, connect_denied), which a client otherwise only sees as an
// error. Options, all for tests of the egress gateway:
//
//	direct=1   bypass the proxy (traffic that ignores it must have no route)
//	proxy=URL  use this proxy instead of $HTTP(S)_PROXY (another group's listener)
//	ca=PEM     trust only this CA (the tests' fake internet)
//	sni=NAME   send NAME as the TLS server name instead of the URL host; an IP
//	           literal sends no SNI at all
func (s *stub) fetch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := &outcome{m: map[string]any{"status": 0}}
	defer out.write(w)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	tr, err := fetchTransport(q, out)
	if err != nil {
		out.set("error", err.Error())
		return
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, cmp.Or(q.Get("method"), http.MethodGet), q.Get("url"), nil)
	if err == nil {
		var resp *http.Response
		if resp, err = (&http.Client{Transport: tr}).Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxFetchBody))
			_ = resp.Body.Close()
			out.set("status", resp.StatusCode)
			out.set("denied", resp.Header.Get("X-Aileron-Egress-Denied"))
			out.set("body", string(body))
		}
	}
	if err != nil {
		out.set("error", err.Error())
	}
}

// fetchTransport builds the transport for one /fetch from its options.
func fetchTransport(q url.Values, out *outcome) (*http.Transport, error) {
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true, TLSClientConfig: &tls.Config{}}
	switch {
	case q.Get("direct") != "":
		tr.Proxy = nil
	case q.Get("proxy") != "":
		u, err := url.Parse(q.Get("proxy"))
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if pem := q.Get("ca"); pem != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(pem)) {
			return nil, errors.New("ca: no PEM certificate")
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	tr.TLSClientConfig.ServerName = q.Get("sni")
	tr.OnProxyConnectResponse = func(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
		out.set("connect_status", resp.StatusCode)
		out.set("connect_denied", resp.Header.Get("X-Aileron-Egress-Denied"))
		return nil
	}
	return tr, nil
}

// probe sends raw traffic that ignores the proxy, for tests that prove it has
// no route: net=tcp connects to addr; net=udp sends a DNS query (type A) for
// name (default probe.invalid) to addr and waits for any answer. It answers
// {"ok": true} when a connection was made or an answer came back, otherwise
// {"ok": false, "error": "..."}.
func (s *stub) probe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := &outcome{m: map[string]any{"ok": false}}
	defer out.write(w)
	const timeout = 3 * time.Second
	var err error
	switch q.Get("net") {
	case "tcp":
		var c net.Conn
		if c, err = net.DialTimeout("tcp", q.Get("addr"), timeout); err == nil {
			_ = c.Close()
		}
	case "udp":
		var n int
		n, err = udpDNS(q.Get("addr"), cmp.Or(q.Get("name"), "probe.invalid"), timeout)
		out.set("reply_bytes", n)
	default:
		err = errors.New("net: want tcp or udp")
	}
	if err != nil {
		out.set("error", err.Error())
		return
	}
	out.set("ok", true)
}

// udpDNS sends one DNS query over UDP and returns the size of the first reply.
func udpDNS(addr, name string, timeout time.Duration) (int, error) {
	msg, err := dnsQuery(name)
	if err != nil {
		return 0, err
	}
	c, err := net.DialTimeout("udp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	buf := make([]byte, 1500)
	return c.Read(buf)
}

// dnsQuery encodes a recursive query for the A records of name.
func dnsQuery(name string) ([]byte, error) {
	b := []byte{0xa1, 0x1e, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0} // id, RD, one question
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" || len(l) > 63 {
			return nil, fmt.Errorf("name %q: bad label", name)
		}
		b = append(append(b, byte(len(l))), l...)
	}
	return append(b, 0, 0, 1, 0, 1), nil // root, type A, class IN
}
