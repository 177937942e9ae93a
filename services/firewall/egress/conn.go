package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/textproto"
	"time"

	"aileron.dev/services/firewall/policy"
)

// maxHeadBytes bounds a request head (request line and headers).
const maxHeadBytes = 64 << 10

// serveConn reads requests from one client connection until it closes, a
// tunnel takes it over or a request is refused.
func (p *Proxy) serveConn(ctx context.Context, c *trackedConn, g policy.Group) {
	t := p.opts.timeouts
	br := bufio.NewReaderSize(c, maxHeadBytes)
	for {
		c.dest.Store(nil)
		c.idle.Store(true)
		_ = c.SetReadDeadline(time.Now().Add(t.KeepAlive))
		if _, err := br.Peek(1); err != nil {
			return
		}
		c.idle.Store(false)
		_ = c.SetReadDeadline(time.Now().Add(t.Handshake))
		head, err := peekHead(br)
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				writeRefusal(c, http.StatusRequestHeaderFieldsTooLarge, ReasonBadRequest)
			}
			return
		}
		hosts, err := hostHeaders(head)
		if err != nil {
			writeRefusal(c, http.StatusBadRequest, ReasonBadRequest)
			return
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			writeRefusal(c, http.StatusBadRequest, ReasonBadRequest)
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		if req.Method == http.MethodConnect {
			p.handleConnect(ctx, c, br, req, g)
			return
		}
		if !p.handleHTTP(ctx, c, br, req, hosts, g) {
			return
		}
	}
}

// peekHead returns the request head buffered in br without consuming it, so
// the Host header can be read before http.ReadRequest drops it.
func peekHead(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			return buf[:i+4], nil
		}
		if i := bytes.Index(buf, []byte("\n\n")); i >= 0 {
			return buf[:i+2], nil
		}
		if len(buf) >= br.Size() {
			return nil, bufio.ErrBufferFull
		}
		// Block until at least one more byte arrives.
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// hostHeaders returns every Host header value of a request head.
func hostHeaders(head []byte) ([]string, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	return h.Values("Host"), nil
}

// handleConnect serves a CONNECT request: check, dial, answer 200, then
// require a TLS ClientHello whose SNI is the CONNECT host before splicing.
func (p *Proxy) handleConnect(ctx context.Context, c *trackedConn, br *bufio.Reader, req *http.Request, g policy.Group) {
	host, port, err := splitHostPort(req.RequestURI, 0)
	if err != nil {
		v := deny(http.StatusBadRequest, ReasonBadRequest)
		p.logDecision(ctx, g, c.RemoteAddr(), req.Method, req.RequestURI, v, netip.AddrPort{})
		writeRefusal(c, v.status, v.reason)
		return
	}
	v := p.decide(ctx, g, host, port)
	v.port = port
	if v.status != 0 {
		p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, netip.AddrPort{})
		writeRefusal(c, v.status, v.reason)
		return
	}
	if reason := p.claim(c, v.name); reason != "" {
		v = deny(http.StatusForbidden, reason)
		v.port = port
		p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, netip.AddrPort{})
		writeRefusal(c, v.status, v.reason)
		return
	}
	up, dialed, err := p.dial(ctx, v)
	if err != nil {
		v.status, v.reason = http.StatusBadGateway, ReasonDialFailed
		p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, netip.AddrPort{})
		writeRefusal(c, v.status, v.reason)
		return
	}
	defer up.Close()
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(p.opts.timeouts.Handshake))
	hello, sni, encrypted, err := readClientHello(br)
	_ = c.SetReadDeadline(time.Time{})
	switch {
	case err != nil:
		v.status, v.reason = http.StatusForbidden, ReasonNotTLS
	case encrypted:
		v.status, v.reason = http.StatusForbidden, ReasonECH
	case sni == "":
		v.status, v.reason = http.StatusForbidden, ReasonSNIMissing
	case !sameName(sni, v.name):
		v.status, v.reason = http.StatusForbidden, ReasonSNIMismatch
	}
	if v.status != 0 {
		p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, dialed)
		if err == nil {
			_, _ = c.Write(tlsAccessDenied)
		}
		return
	}
	p.logDecision(ctx, g, c.RemoteAddr(), req.Method, host, v, dialed)
	_ = up.SetWriteDeadline(time.Now().Add(p.opts.timeouts.Handshake))
	if _, err := up.Write(hello); err != nil {
		return
	}
	_ = up.SetWriteDeadline(time.Time{})
	countUp, countDown, closed := p.opts.metrics.tunnel(g)
	defer closed()
	splice(c, br, up, p.opts.timeouts.Idle, countUp, countDown)
}

// sameName compares a client-sent name with a normalised one.
func sameName(raw, name string) bool {
	n, err := policy.Normalize(raw)
	return err == nil && n == name
}
