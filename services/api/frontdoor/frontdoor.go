package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	pkgfd "aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/gateway"
	"aileron.dev/services/api/orchestrator"
)

// EnterPath exchanges a ticket for a session cookie on a service's origin.
const EnterPath = "/_aileron/enter"

// FrontDoor serves the workspace services' origins.
type FrontDoor struct {
	cfg     Config
	apiPort int
	key     pkgfd.Key
	ticket  signer
	session signer
	spent   spent
	o       *orchestrator.Orchestrator
	authn   *auth.Authenticator
	log     *slog.Logger
	proxy   *httputil.ReverseProxy
	now     func() time.Time
}

// New returns the front door. authn nil means the open dev authenticator;
// apiPort is the API's bound HTTP port, the public port when cfg.Port is 0.
func New(cfg Config, key pkgfd.Key, o *orchestrator.Orchestrator, authn *auth.Authenticator, apiPort int, log *slog.Logger) (*FrontDoor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, errors.New("front door: the key must have 32 bytes")
	}
	fd := &FrontDoor{cfg: cfg, apiPort: apiPort, key: key, ticket: signer{key.Derive("ticket")},
		session: signer{key.Derive("session")}, o: o, authn: authn, log: log, now: time.Now}
	fd.proxy = &httputil.ReverseProxy{
		Rewrite: fd.rewrite,
		// No periodic flush: ReverseProxy already flushes every write of a
		// response without Content-Length (chunked streams, long polls) and of
		// text/event-stream, so streams are never held back; a response of
		// known length goes out in large writes without a flush per write
		// (which cost a small request ~30%: headers and body in separate
		// packets, and chunked encoding).
		FlushInterval:  0,
		BufferPool:     bufferPool{},
		ModifyResponse: fd.modifyResponse,
		ErrorHandler:   fd.upstreamError,
		Transport: &http.Transport{
			Proxy:                  nil, // the ingress is reached directly, never through an HTTP proxy
			DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:           256,
			MaxIdleConnsPerHost:    32,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 1 << 20,
			ReadBufferSize:         64 << 10,
			WriteBufferSize:        64 << 10,
			ForceAttemptHTTP2:      false,
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return fd, nil
}

// bufferPool lends the proxy 256 KiB copy buffers: a bulk transfer then
// costs a few large reads and writes instead of many 32 KiB ones, while a
// trickle is still written (and flushed) as soon as it arrives.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// Dispatch sends requests for a front-door host to fd and every other one to next.
func (fd *FrontDoor) Dispatch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ours := fd.cfg.match(r.Host); ours {
			fd.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Origin returns the public origin of service s of workspace id.
func (fd *FrontDoor) Origin(s workspace.Service, id string) string {
	return fd.cfg.origin(&target{service: s, id: id}, fd.apiPort)
}

// cookieName is the session cookie; on https the __Host- prefix makes the
// browser enforce host-only, Secure and Path=/.
func (fd *FrontDoor) cookieName() string {
	if fd.cfg.Scheme == "https" {
		return "__Host-aileron-session"
	}
	return "aileron-session"
}

// upstream is what the checks decided for one proxied request.
type upstream struct {
	url    *url.URL
	secret string
	port   uint16 // a preview's port; 0 for the service itself
}

type upstreamKey struct{}

// ServeHTTP serves one request to a service's origin.
func (fd *FrontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := fd.cfg.match(r.Host)
	if t == nil {
		fd.fail(w, r, http.StatusNotFound, errcode.FrontDoorHostInvalid, "host",
			fmt.Sprintf("host %q names no workspace service: want <service>--<workspace id>.%s or <port>--<workspace id>.%s", r.Host, fd.cfg.Domain, fd.cfg.Domain))
		return
	}
	origin := fd.cfg.origin(t, fd.apiPort)
	if r.URL.Path == EnterPath {
		fd.enter(w, r, t, origin)
		return
	}
	p, c, ok := fd.authenticate(w, r, t)
	if !ok {
		return
	}
	if !fd.sameOrigin(w, r, origin, c != nil) {
		return
	}
	ws, err := fd.check(r.Context(), t, p, c)
	if err != nil {
		fd.failErr(w, r, err)
		return
	}
	svc := orchestrator.ServiceByName(ws.GetServices(), t.service)
	if svc.GetState() != string(workspace.ServiceRunning) || svc.GetEndpoint() == "" {
		fd.fail(w, r, http.StatusServiceUnavailable, errcode.WorkspaceServiceUnavailable, "service",
			fmt.Sprintf("service %s of workspace %s is %s, not running", t.service, t.id, or(svc.GetState(), "not reported yet")))
		return
	}
	u, err := url.Parse(svc.GetEndpoint())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fd.log.Error("front door: bad service endpoint", "workspace_id", t.id, "service", t.service, "endpoint", svc.GetEndpoint())
		fd.fail(w, r, http.StatusServiceUnavailable, errcode.WorkspaceServiceUnavailable, "service",
			fmt.Sprintf("service %s of workspace %s has no usable endpoint", t.service, t.id))
		return
	}
	up := &upstream{url: u, secret: fd.key.WorkspaceSecret(t.id), port: t.port}
	fd.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), upstreamKey{}, up)))
}

// authenticate finds the caller: the API's bearer token when the request
// carries an Authorization header (which belongs to the front door: it never
// reaches the workspace), else a valid session cookie for this origin. It
// answers the request itself when it fails.
func (fd *FrontDoor) authenticate(w http.ResponseWriter, r *http.Request, t *target) (p auth.Principal, c *claims, ok bool) {
	h := r.Header.Get("Authorization")
	if ck, err := r.Cookie(fd.cookieName()); err == nil && h == "" {
		cl, err := fd.session.verify(ck.Value, fd.now())
		if err == nil && cl.Workspace == t.id && cl.Service == t.service && cl.Port == t.port {
			return auth.Principal{Subject: cl.Subject, Admin: cl.Admin, Method: "session"}, &cl, true
		}
		fd.fail(w, r, http.StatusUnauthorized, errcode.FrontDoorCredentialInvalid, "cookie",
			"the session cookie is not valid for this service (expired, forged or for another one); open the service again")
		return p, nil, false
	}
	if h == "" {
		// Even dev mode's open API wants a credential here: browsers send no
		// Authorization header cross-site, so this keeps other web pages out.
		w.Header().Set("WWW-Authenticate", `Bearer realm="aileron"`)
		fd.fail(w, r, http.StatusUnauthorized, errcode.AuthTokenMissing, "Authorization",
			"an Authorization: Bearer <token> header, or a session from POST /api/v1/workspaces/{id}/services/{service}:open, is required")
		return p, nil, false
	}
	if fd.authn == nil {
		return auth.Principal{Subject: "dev", Admin: true, Method: "dev"}, nil, true
	}
	p, err := fd.authn.Authenticate(r.Context(), h)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Unavailable {
			fd.fail(w, r, http.StatusServiceUnavailable, ae.Code, "", ae.Message)
		} else if errors.As(err, &ae) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aileron"`)
			fd.fail(w, r, http.StatusUnauthorized, ae.Code, "Authorization", ae.Message)
		} else {
			fd.fail(w, r, http.StatusInternalServerError, errcode.Internal, "", "internal error")
		}
		return p, nil, false
	}
	return p, nil, true
}

// sameOrigin refuses what another origin makes a browser send: a WebSocket
// from a foreign Origin whatever the credential, and with the session cookie
// anything but a same-origin request or a top-level navigation (the cookie
// is SameSite=Lax, but every service of the apps domain is the same site).
func (fd *FrontDoor) sameOrigin(w http.ResponseWriter, r *http.Request, origin string, cookie bool) bool {
	o := r.Header.Get("Origin")
	foreign := o != "" && !strings.EqualFold(o, origin)
	upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	refuse := ""
	switch {
	case foreign && (upgrade || cookie):
		refuse = fmt.Sprintf("requests from origin %q are refused; only %s may call this service", o, origin)
	case cookie:
		site, mode, dest := r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest")
		navigation := mode == "navigate" && dest == "document" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
		if site != "" && site != "same-origin" && site != "none" && !navigation {
			refuse = fmt.Sprintf("a %s %s request (Sec-Fetch-Site %s) may not use this service's session", mode, dest, site)
		}
	}
	if refuse != "" {
		fd.fail(w, r, http.StatusForbidden, errcode.FrontDoorRequestRefused, "Origin", refuse)
		return false
	}
	return true
}

// check re-reads the workspace on every request: it must exist, be the
// caller's (or the caller an admin), still have the generation a session
// began at, be running and run the service.
func (fd *FrontDoor) check(ctx context.Context, t *target, p auth.Principal, c *claims) (*workspacev1.Workspace, error) {
	ws, err := fd.lookup(ctx, t.id)
	if err != nil {
		return nil, err
	}
	if !p.Admin && ws.GetOwner() != p.Subject {
		return nil, orchestrator.NotFound(t.id)
	}
	if c != nil && c.Generation != ws.GetGeneration() {
		return nil, errStaleSession
	}
	if ws.GetState() != string(workspace.StateRunning) {
		return nil, &orchestrator.Error{Kind: orchestrator.ErrInvalidTransition, Code: errcode.WorkspaceNotRunning, Field: "state",
			Message: fmt.Sprintf("workspace %s is %s, not running", t.id, ws.GetState())}
	}
	if svc := orchestrator.ServiceByName(ws.GetServices(), t.service); !svc.GetEnabled() || svc.GetState() == string(workspace.ServiceDisabled) {
		return nil, &orchestrator.Error{Kind: orchestrator.ErrInvalidTransition, Code: errcode.WorkspaceServiceNotEnabled, Field: "service",
			Message: fmt.Sprintf("workspace %s does not run the %s service", t.id, t.service)}
	}
	return ws, nil
}

var errStaleSession = errors.New("the workspace was stopped, started or restarted since this session began; open the service again")

// lookup reads a workspace from the orchestrator's index (kept current by a
// watch on the store), and from the store only when the index lacks it.
func (fd *FrontDoor) lookup(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	if ws, ok := fd.o.Index().Get(id); ok {
		return ws, nil
	}
	return fd.o.Get(ctx, id)
}

// enter exchanges a ticket for a session cookie on this origin and sends the
// browser to the service's root, dropping the ticket from the address bar.
func (fd *FrontDoor) enter(w http.ResponseWriter, r *http.Request, t *target, origin string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fd.fail(w, r, http.StatusMethodNotAllowed, errcode.MethodNotAllowed, "", "use GET "+EnterPath+"?ticket=...")
		return
	}
	now := fd.now()
	c, err := fd.ticket.verify(r.URL.Query().Get("ticket"), now)
	if err != nil || c.Workspace != t.id || c.Service != t.service || c.Port != t.port || c.Nonce == "" {
		fd.fail(w, r, http.StatusUnauthorized, errcode.FrontDoorCredentialInvalid, "ticket",
			"the ticket is not valid for this service (expired, forged or for another one); open the service again")
		return
	}
	if _, err := fd.check(r.Context(), t, auth.Principal{Subject: c.Subject, Admin: c.Admin}, &c); err != nil {
		fd.failErr(w, r, err)
		return
	}
	if !fd.spent.spend(c.Nonce, c.Expires, now) {
		fd.fail(w, r, http.StatusUnauthorized, errcode.FrontDoorCredentialInvalid, "ticket", "the ticket was already used; open the service again")
		return
	}
	s := claims{Workspace: c.Workspace, Service: c.Service, Port: c.Port, Subject: c.Subject, Admin: c.Admin, Generation: c.Generation,
		Expires: now.Add(fd.cfg.SessionTTL).Unix()}
	http.SetCookie(w, &http.Cookie{Name: fd.cookieName(), Value: fd.session.sign(s), Path: "/", MaxAge: int(fd.cfg.SessionTTL.Seconds()),
		HttpOnly: true, Secure: fd.cfg.Scheme == "https", SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, origin+"/", http.StatusSeeOther)
}

// rewrite turns the request into the one the ingress gets: the service's
// internal endpoint, the workspace's ingress secret, and none of the front
// door's own credentials.
func (fd *FrontDoor) rewrite(pr *httputil.ProxyRequest) {
	up := pr.In.Context().Value(upstreamKey{}).(*upstream)
	pr.SetURL(up.url)
	pr.SetXForwarded()
	// The service sees the origin the browser is on, so its own same-origin
	// checks (the terminal's Origin check) hold behind the front door.
	pr.Out.Host = pr.In.Host
	pr.Out.Header.Set("X-Forwarded-Proto", fd.cfg.Scheme)
	pr.Out.Header.Set(pkgfd.Header, up.secret)
	pr.Out.Header.Del("Authorization")
	// Only the front door says which port a preview is for.
	pr.Out.Header.Del(workspace.PreviewPortHeader)
	if up.port != 0 {
		pr.Out.Header.Set(workspace.PreviewPortHeader, strconv.Itoa(int(up.port)))
	}
	stripCookie(pr.Out.Header, fd.cookieName())
}

// stripCookie removes the named cookie from the Cookie headers, keeping the
// service's own cookies.
func stripCookie(h http.Header, name string) {
	vals := h.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var keep []string
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if k != name && strings.TrimSpace(part) != "" {
				keep = append(keep, strings.TrimSpace(part))
			}
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

// modifyResponse keeps a service's cookies on its own origin: a cookie with
// a Domain attribute (which would reach every service of the apps domain, and
// in dev the console's host) and one named like the front door's are dropped.
func (fd *FrontDoor) modifyResponse(resp *http.Response) error {
	vals := resp.Header.Values("Set-Cookie")
	if len(vals) == 0 {
		return nil
	}
	resp.Header.Del("Set-Cookie")
	for _, v := range vals {
		c, err := http.ParseSetCookie(v)
		if err != nil || c.Domain != "" || strings.EqualFold(c.Name, fd.cookieName()) {
			continue
		}
		resp.Header.Add("Set-Cookie", v)
	}
	return nil
}

func (fd *FrontDoor) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	fd.log.Warn("front door: ingress did not answer", "host", r.Host, "err", err)
	fd.fail(w, r, http.StatusServiceUnavailable, errcode.WorkspaceServiceUnavailable, "", "the workspace's ingress did not answer; retry")
}

// fail writes the API's JSON error body.
func (fd *FrontDoor) fail(w http.ResponseWriter, r *http.Request, st int, code errcode.Code, field, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	gateway.WriteError(w, r, gateway.ErrorBody{Code: code, Field: field, Message: msg, Status: st})
}

// failErr writes a domain error as the gateway would.
func (fd *FrontDoor) failErr(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errStaleSession) {
		fd.fail(w, r, http.StatusUnauthorized, errcode.FrontDoorCredentialInvalid, "cookie", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	gateway.WriteError(w, r, gateway.BodyFromStatus(status.Convert(orchestrator.ToStatus(err))))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
