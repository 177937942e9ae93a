package ingress

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// Relay is the gateway's route from the workspace group to the browser's
// DevTools protocol: the agent in the runtime drives the browser through it
// (docs/browser.md). It listens on the gateway's workspace-network address
// only and passes the DevTools discovery (/json...), the CDP WebSockets
// (/devtools/...) and GET /v1/activity (the runtime daemon merges the
// browser's activity into the workspace's) to the browser daemon, nothing
// else of it and nothing else of the browser group: the two groups' networks stay apart, and the
// browser's egress stays behind the browser group's policy.
//
// It needs no secret: only the workspace's own containers reach its address.
type Relay struct {
	proxy *httputil.ReverseProxy
}

// ParseRelay parses "LISTEN=TARGET", e.g. "10.0.0.2:9222=10.0.1.3:8080".
func ParseRelay(s string) (listen string, target *url.URL, err error) {
	listen, t, ok := strings.Cut(s, "=")
	if !ok || listen == "" || t == "" {
		return "", nil, fmt.Errorf("cdp relay %q: want LISTEN=HOST:PORT: %w", s, ErrInvalidRoute)
	}
	r, err := ParseRoute("/=" + t)
	if err != nil {
		return "", nil, fmt.Errorf("cdp relay %q: %w", s, err)
	}
	return listen, r.Target, nil
}

// NewRelay returns the DevTools relay to target (the browser daemon).
func NewRelay(target *url.URL, log *slog.Logger) *Relay {
	return &Relay{proxy: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The daemon names its WebSocket URLs after the Host it was asked
			// on, so the agent's client dials this relay again.
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del(Header)
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			log.Warn("cdp relay upstream failed", slog.String("target", target.Host), slog.String("path", req.URL.Path), slog.Any("error", err))
			http.Error(w, "browser unavailable", http.StatusBadGateway)
		},
	}}
}

// ActivityPath is the browser daemon's activity signal, the one path the
// relay passes besides DevTools'.
const ActivityPath = "/v1/activity"

// ServeHTTP passes the DevTools paths and GET of the activity, and answers
// 404 to everything else.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	activity := req.URL.Path == ActivityPath && req.Method == http.MethodGet
	if !activity && !devtoolsPath(req.URL.Path) {
		http.NotFound(w, req)
		return
	}
	r.proxy.ServeHTTP(w, req)
}

// devtoolsPath reports whether p is a DevTools discovery or CDP path.
func devtoolsPath(p string) bool {
	return p == "/json" || strings.HasPrefix(p, "/json/") || strings.HasPrefix(p, "/devtools/")
}
