package runtimeapi

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/workspace/ports"
)

// WithPreviewDeny sets the ports a preview must never reach (the workspace's
// own daemons: this one and, on Kubernetes, the terminal beside it in the
// pod) and returns s. A page served on a preview origin runs with that
// origin's session, so a preview of a daemon's port would hand its API to
// whatever page the workspace serves.
func (s *Server) WithPreviewDeny(deny ...uint16) *Server {
	s.previewDeny = append(s.previewDeny, deny...)
	return s
}

// previewTransport dials only the workspace's own loopback (previewAddr
// picks it) and never an HTTP proxy: the proxy variables of the container
// point at the egress gateway.
var previewTransport = &http.Transport{
	Proxy:                 nil,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	MaxIdleConnsPerHost:   16,
	IdleConnTimeout:       90 * time.Second,
	ResponseHeaderTimeout: 0, // a dev server may hold a long poll
}

// preview proxies a front-door preview request (PreviewPortHeader set) to
// the server listening on that port in the workspace, WebSockets included,
// with the Host the browser used. It is not activity: a page that polls its
// dev server must not keep the workspace awake.
func (s *Server) preview(w http.ResponseWriter, r *http.Request) {
	raw := r.Header.Get(workspace.PreviewPortHeader)
	n, err := strconv.ParseUint(raw, 10, 16)
	if err != nil || n == 0 {
		writeError(w, apiError{status: http.StatusBadRequest, code: errcode.PreviewPortInvalid, field: workspace.PreviewPortHeader,
			msg: fmt.Sprintf("preview port %q: want 1-65535", raw)})
		return
	}
	port := uint16(n)
	if slices.Contains(s.previewDeny, port) {
		writeError(w, apiError{status: http.StatusForbidden, code: errcode.PreviewPortRefused, field: "port",
			msg: fmt.Sprintf("port %d is served by the workspace's own daemon and has no preview", port)})
		return
	}
	addr, err := s.previewAddr(port)
	if err != nil {
		writeError(w, apiError{status: http.StatusBadGateway, code: errcode.PreviewPortNotListening, field: "port", msg: err.Error()})
		return
	}
	r.Header.Del(workspace.PreviewPortHeader)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", addr.String()
			pr.Out.Host = pr.In.Host // the name the browser used: dev servers check it
			pr.SetXForwarded()
			if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto != "" {
				pr.Out.Header.Set("X-Forwarded-Proto", proto) // the scheme the browser used, from the front door
			}
		},
		Transport: previewTransport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller went away
			}
			s.log.Debug("preview: upstream failed", slog.Int("port", int(port)), slog.Any("error", err))
			writeError(w, apiError{status: http.StatusBadGateway, code: errcode.PreviewUpstreamFailed, field: "port",
				msg: fmt.Sprintf("the server on port %d did not answer", port)})
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	proxy.ServeHTTP(w, r)
}

// previewAddr is where a preview of port dials (previewTarget), for the
// first listener on it that has a preview.
func (s *Server) previewAddr(port uint16) (netip.AddrPort, error) {
	ps, err := ports.Listening("/proc/net")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reading the workspace's ports: %w", err)
	}
	resolvers := nameServers(s.resolvConf)
	for _, p := range ps {
		if a, ok := previewTarget(p, resolvers); ok && p.Port == port {
			return a, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("nothing in the workspace listens on port %d on loopback or all addresses", port)
}

// previewTarget is where a preview of listener p dials: the loopback
// address it listens on, or for a listener on all addresses the loopback of
// its family. Only loopback is ever dialled, so a preview reaches nothing
// outside the workspace's network namespace. A listener on one address that
// is neither has no preview, and neither has the container engine's DNS
// resolver, which listens on a name server's loopback address (Docker's
// 127.0.0.11) and answers no HTTP.
func previewTarget(p ports.Port, resolvers []netip.Addr) (netip.AddrPort, bool) {
	a, err := netip.ParseAddr(p.Address)
	switch {
	case err != nil || slices.Contains(resolvers, a):
		return netip.AddrPort{}, false
	case a.IsLoopback():
		return netip.AddrPortFrom(a, p.Port), true
	case a == netip.IPv4Unspecified():
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), p.Port), true
	case a == netip.IPv6Unspecified():
		return netip.AddrPortFrom(netip.IPv6Loopback(), p.Port), true
	}
	return netip.AddrPort{}, false
}

// nameServers are the name servers a resolv.conf names; none when it cannot
// be read.
func nameServers(path string) []netip.Addr {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}
