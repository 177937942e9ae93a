// Package ingress is the inbound side of the per-workspace gateway: the one
// published port, routed by path prefix to the workspace's services
// (runtime, terminal, browser CDP/preview, canvas), which sit on internal
// networks that cannot publish ports themselves. WebSocket upgrades pass
// through.
//
// The ingress serves only the API's front door: every request must carry
// the workspace's ingress secret in Header (see SetSecret and
// WatchSecretFile). A request without it, or with another one, gets a bare
// 403 and reaches no service; the header is removed before proxying, so a
// service never sees the secret.
package ingress

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
)

// ErrInvalidRoute is wrapped by every route parsing error.
var ErrInvalidRoute = errors.New("invalid ingress route")

// Route sends requests under Prefix to Target with the prefix stripped:
// with Prefix "/runtime/", "/runtime/api/x" reaches Target as "/api/x", and
// "/runtime" as "/".
type Route struct {
	// Prefix is a path ending in "/"; "/" alone catches everything.
	Prefix string
	// Target is the base URL of the service (scheme http, host:port, optional path).
	Target *url.URL
}

// ParseRoute parses "PREFIX=TARGET", e.g. "/runtime/=runtime:8080" or
// "/cdp/=http://browser:9222". A prefix without a trailing slash gets one.
func ParseRoute(s string) (Route, error) {
	prefix, target, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(prefix, "/") || target == "" {
		return Route{}, fmt.Errorf("route %q: want /prefix/=host:port: %w", s, ErrInvalidRoute)
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return Route{}, fmt.Errorf("route %q: target must be host:port or an http(s) base URL: %w", s, ErrInvalidRoute)
	}
	return Route{Prefix: prefix, Target: u}, nil
}

// Handler admits requests that carry the ingress secret and routes them to
// the longest matching prefix. A new Handler has no secret and refuses
// everything until SetSecret.
type Handler struct {
	routes []route
	log    *slog.Logger
	secret atomic.Pointer[[]byte]
	// policy is the digest of the egress policy the gateway enforces.
	policy atomic.Pointer[string]
}

// PolicyPath answers, to a holder of the secret, the digest of the egress
// policy in force: {"sha256": "<hex>"}, "" before the first one. The
// provisioner reports a firewall revision applied only once it reads the
// digest of what it wrote, so "applied" means enforced, open tunnels
// included (they are cut before the digest changes).
const PolicyPath = "/_aileron/policy"

// SetPolicyDigest records the digest of the policy now in force; call it
// after the policy took effect.
func (h *Handler) SetPolicyDigest(d string) { h.policy.Store(&d) }

type route struct {
	Route
	proxy *httputil.ReverseProxy
}

// NewHandler returns a handler for routes; prefixes must be unique.
func NewHandler(routes []Route, log *slog.Logger) (*Handler, error) {
	h := &Handler{log: log}
	seen := map[string]bool{}
	for _, r := range routes {
		if seen[r.Prefix] {
			return nil, fmt.Errorf("route prefix %q given twice: %w", r.Prefix, ErrInvalidRoute)
		}
		seen[r.Prefix] = true
		h.routes = append(h.routes, route{Route: r, proxy: h.newProxy(r)})
	}
	// Longest prefix first, so "/a/b/" wins over "/a/".
	slices.SortFunc(h.routes, func(a, b route) int { return len(b.Prefix) - len(a.Prefix) })
	return h, nil
}

func (h *Handler) newProxy(r Route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = strip(pr.In.URL.Path, r.Prefix)
			pr.Out.URL.RawPath = ""
			if raw := pr.In.URL.RawPath; raw != "" {
				pr.Out.URL.RawPath = strip(raw, r.Prefix)
			}
			pr.Out.Header.Del(Header)
			if pr.Out.Trailer != nil {
				pr.Out.Trailer.Del(Header)
			}
			pr.SetURL(r.Target)
			// The service sees the Host the browser used (the front door's
			// origin, which the front door passes on), so its own Origin
			// checks compare against the origin it is served from.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Prefix", strings.TrimSuffix(r.Prefix, "/"))
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			h.log.Warn("ingress upstream failed", slog.String("prefix", r.Prefix),
				slog.String("target", r.Target.Host), slog.String("path", req.URL.Path), slog.Any("error", err))
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		},
	}
}

// strip removes prefix (ending in "/") from path, keeping a leading slash.
func strip(path, prefix string) string {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return "/" // path is the prefix without its trailing slash
	}
	return "/" + rest
}

// ServeHTTP refuses a request without the secret (403), then proxies it to
// its route or answers 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !h.admit(req) {
		refuse(w)
		return
	}
	if req.URL.Path == PolicyPath {
		d := ""
		if p := h.policy.Load(); p != nil {
			d = *p
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = fmt.Fprintf(w, "{\"sha256\": %q}\n", d)
		return
	}
	for _, r := range h.routes {
		if strings.HasPrefix(req.URL.Path, r.Prefix) || req.URL.Path == strings.TrimSuffix(r.Prefix, "/") && r.Prefix != "/" {
			r.proxy.ServeHTTP(w, req)
			return
		}
	}
	http.NotFound(w, req)
}
