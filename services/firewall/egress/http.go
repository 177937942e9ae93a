package egress

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"aileron.dev/services/firewall/policy"
)

// hopHeaders are connection-scoped and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// handleHTTP forwards one absolute-URI plain HTTP request over a fresh
// upstream connection to the checked address and reports whether the client
// connection may carry another request.
func (p *Proxy) handleHTTP(ctx context.Context, c *trackedConn, br *bufio.Reader, req *http.Request, hosts []string, g policy.Group) bool {
	refuse := func(host string, v verdict) bool {
		p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, netip.AddrPort{})
		writeRefusal(c, v.status, v.reason)
		return false
	}
	if req.URL.Scheme != "http" || req.URL.Host == "" || req.URL.User != nil {
		return refuse(req.Host, deny(http.StatusBadRequest, ReasonBadRequest))
	}
	host, port, err := splitHostPort(req.URL.Host, 80)
	if err != nil {
		return refuse(req.URL.Host, deny(http.StatusBadRequest, ReasonBadRequest))
	}
	if len(hosts) != 1 || !sameAuthority(hosts[0], host, port) {
		v := deny(http.StatusForbidden, ReasonHostMismatch)
		v.port = port
		return refuse(host, v)
	}
	v := p.decide(ctx, g, host, port)
	v.port = port
	if v.status != 0 {
		return refuse(host, v)
	}
	if reason := p.claim(c, v.name); reason != "" {
		v = deny(http.StatusForbidden, reason)
		v.port = port
		return refuse(host, v)
	}
	up, dialed, err := p.dial(ctx, v)
	if err != nil {
		v.status, v.reason = http.StatusBadGateway, ReasonDialFailed
		return refuse(host, v)
	}
	defer up.Close()
	p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, dialed)
	return p.forward(c, req, up)
}

// forward sends req over up (a fresh connection used for this request only)
// and copies the response back, reporting whether c may be reused.
func (p *Proxy) forward(c *trackedConn, req *http.Request, up net.Conn) bool {
	clientClose := req.Close
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
		// We stream the body right away, so answer the client ourselves.
		if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return false
		}
		req.Header.Del("Expect")
	}
	removeHopHeaders(req.Header)
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = nil // keep net/http from adding its own
	}
	req.Close = true
	idle := p.opts.timeouts.Idle
	// A fixed deadline for the request body: plain HTTP uploads are small.
	_ = c.SetReadDeadline(time.Now().Add(idle))
	upIdle := &idleConn{Conn: up, idle: idle}
	if err := req.Write(upIdle); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(upIdle), req)
	if err != nil {
		writeRefusal(c, http.StatusBadGateway, ReasonDialFailed)
		return false
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	keep := !clientClose && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols &&
		(resp.ContentLength >= 0 || slices.Contains(resp.TransferEncoding, "chunked") || !bodyAllowed(req, resp))
	resp.Close = !keep
	_ = c.SetReadDeadline(time.Time{})
	if err := resp.Write(&idleConn{Conn: c.Conn, idle: idle}); err != nil {
		return false
	}
	return keep
}

// bodyAllowed reports whether resp can carry a body at all.
func bodyAllowed(req *http.Request, resp *http.Response) bool {
	s := resp.StatusCode
	return req.Method != http.MethodHead && s != http.StatusNoContent && s != http.StatusNotModified && (s < 100 || s >= 200)
}

// sameAuthority compares a Host header with the URL's host and port.
func sameAuthority(header, host string, port uint16) bool {
	hh, hp, err := splitHostPort(header, 80)
	if err != nil || hp != port {
		return false
	}
	if policy.IsIPLiteral(hh) || policy.IsIPLiteral(host) {
		return strings.EqualFold(hh, host)
	}
	a, errA := policy.Normalize(hh)
	b, errB := policy.Normalize(host)
	return errA == nil && errB == nil && a == b
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}
