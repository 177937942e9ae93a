package gateway

import (
	"errors"
	"flag"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"aileron.dev/pkg/errcode"
)

// Protection configures Protect: which Host names the API answers.
type Protection struct {
	// AllowedHosts are the host names served besides the loopback ones, without
	// port; "*.example.com" matches every name under example.com (not
	// example.com itself).
	AllowedHosts []string
}

// Register adds --allowed-hosts to fs (AILERON_ALLOWED_HOSTS through a
// config.Set), for `aileron dev` and the api binary alike.
func (p *Protection) Register(fs *flag.FlagSet) {
	fs.Var((*hostList)(&p.AllowedHosts), "allowed-hosts",
		`host names the REST API and console answer besides loopback ones, comma-separated; "*.example.com" matches its subdomains`)
}

// Validate checks every allowed host name.
func (p Protection) Validate() error {
	var errs []error
	for _, h := range p.AllowedHosts {
		if err := validHostPattern(h); err != nil {
			errs = append(errs, fmt.Errorf("--allowed-hosts %q: %w", h, err))
		}
	}
	return errors.Join(errs...)
}

// hostList is the flag value of --allowed-hosts: comma-separated, repeatable.
type hostList []string

func (l *hostList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *hostList) Set(v string) error {
	for h := range strings.SplitSeq(v, ",") {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if h == "" {
			continue
		}
		if err := validHostPattern(h); err != nil {
			return fmt.Errorf("%q: %w", h, err)
		}
		*l = append(*l, h)
	}
	return nil
}

func validHostPattern(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || strings.ContainsAny(name, "*/:@[] ") {
		return errors.New("want a host name or IP address without scheme, port or path, optionally starting with *.")
	}
	return nil
}

// Protect refuses what a browser can be tricked into sending, before next
// sees it:
//   - a Host that is neither loopback nor allowed (DNS rebinding: a page on
//     evil.example whose name now resolves to 127.0.0.1) answers 421
//     HOST_NOT_ALLOWED; GET /healthz stays open to any Host for the
//     kubelet's probes, which name the pod's IP;
//   - an unsafe method (or a WebSocket upgrade) sent cross-site: a
//     Sec-Fetch-Site other than same-origin or none, or an Origin whose
//     host is not the request's Host, answers 403 REQUEST_CROSS_SITE;
//   - a body under /api/ whose Content-Type is not application/json (the
//     kinds a cross-site form or no-cors fetch can send without a
//     preflight) answers 415 REQUEST_CONTENT_TYPE_INVALID.
//
// A same-machine client such as curl sends no Origin or Sec-Fetch-Site and
// is served. Nothing here adds CORS headers, so another origin can never
// read an answer either.
func Protect(p Protection, next http.Handler) http.Handler {
	allowed := p.AllowedHosts
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, allowed) && !(r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead)) {
			WriteError(w, r, ErrorBody{Code: errcode.HostNotAllowed, Field: "Host", Status: http.StatusMisdirectedRequest,
				Message: fmt.Sprintf("Host %q is not served here: use a loopback name or one of --allowed-hosts", r.Host)})
			return
		}
		if !unsafe(r) {
			next.ServeHTTP(w, r)
			return
		}
		if field, why := crossSite(r); field != "" {
			WriteError(w, r, ErrorBody{Code: errcode.RequestCrossSite, Field: field, Status: http.StatusForbidden,
				Message: field + " " + why + ": cross-site requests may not change anything"})
			return
		}
		if msg := contentTypeProblem(r); msg != "" && strings.HasPrefix(r.URL.Path, "/api/") {
			WriteError(w, r, ErrorBody{Code: errcode.RequestContentTypeInvalid, Field: "Content-Type",
				Status: http.StatusUnsupportedMediaType, Message: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unsafe reports whether r may change something: any method but GET, HEAD
// and OPTIONS, and any WebSocket upgrade.
func unsafe(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	}
	return true
}

// crossSite names the header that makes r cross-site and why, or "".
// Sec-Fetch-Site "same-site" is refused too: a page on another port of the
// same address (127.0.0.1:8080 against the API on 127.0.0.1:3001) is
// same-site, and so is a workspace service's origin under the same
// registrable domain as the console (runtime--<id>.apps.example.com and
// aileron.example.com). Chromium treats each *.localhost name as a site of
// its own (cross-site).
func crossSite(r *http.Request) (field, why string) {
	switch s := r.Header.Get("Sec-Fetch-Site"); s {
	case "", "same-origin", "none":
	default:
		return "Sec-Fetch-Site", fmt.Sprintf("is %q", s)
	}
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		return "", ""
	}
	if len(origins) > 1 || !sameHost(origins[0], r.Host) {
		return "Origin", fmt.Sprintf("%q is not this server's origin", strings.Join(origins, ", "))
	}
	return "", ""
}

// sameHost reports whether origin names host (the request's Host), a
// missing port on either side being its scheme's default.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.User != nil {
		return false // includes "null", sent by sandboxed frames and file: pages
	}
	def := "80"
	if u.Scheme == "https" {
		def = "443"
	}
	oh, op := splitHost(u.Host, def)
	hh, hp := splitHost(host, op)
	return oh != "" && oh == hh && op == hp
}

// splitHost lower-cases the name of a host[:port] and returns def as the
// port when there is none.
func splitHost(hostport, def string) (host, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), def
	}
	return strings.TrimSuffix(strings.ToLower(host), "."), port
}

// contentTypeProblem explains why r's Content-Type is refused, or "". A
// request without a body needs none; one it names must be JSON.
func contentTypeProblem(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return ""
		}
		return "Content-Type is missing: a request body must be application/json"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Sprintf("Content-Type %q is not application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Sprintf("Content-Type %q: the charset must be utf-8", ct)
	}
	return ""
}

// hostAllowed reports whether the Host header names this server: a
// loopback name (localhost and *.localhost, RFC 6761; 127.0.0.0/8; ::1) or
// one of allowed, with any port.
func hostAllowed(hostport string, allowed []string) bool {
	host, _ := splitHost(hostport, "")
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range allowed {
		if suffix, ok := strings.CutPrefix(a, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if host == a {
			return true
		}
	}
	return false
}
