package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
)

// portForward serves a workspace service on a local port for tools that want
// a plain address: every request goes to the service's front door with the
// CLI's token. The local port answers only its own loopback names and, from
// browsers, only its own origin, so neither a DNS-rebinding page nor a
// cross-site WebSocket gets through it.
func (e *cliEnv) portForward(ctx context.Context, args []string) int {
	fs := e.flags("workspace port-forward", "ID SERVICE [LOCAL_PORT]")
	pos, code, ok := e.parse(fs, args, 2, 3)
	if !ok {
		return code
	}
	svc := workspace.Service(pos[1])
	port := 0
	if len(pos) == 3 {
		p, err := strconv.Atoi(pos[2])
		if err != nil || p < 0 || p > 65535 {
			return e.usageError(fs, fmt.Sprintf("LOCAL_PORT %q: want 0-65535", pos[2]))
		}
		port = p
	}
	target, err := e.serviceURL(ctx, pos[0], svc)
	if err != nil {
		return e.fail(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintf(e.stderr, "error: LISTEN: %v\n", err)
		return exitAPI
	}
	local := l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: forwarder(target, e.token, local), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "Forwarding http://127.0.0.1:%d -> %s (Ctrl-C stops)\n", local, target)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(e.stderr, "error: SERVE: %v\n", err)
		return exitAPI
	}
	return exitOK
}

// serviceURL is the front-door URL of a workspace's service, as the API
// reports it; the CLI's token opens it (see frontDoorAuth).
func (e *cliEnv) serviceURL(ctx context.Context, id string, svc workspace.Service) (*url.URL, error) {
	w, err := e.client.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !svc.Valid() {
		return nil, &apiError{Code: errcode.WorkspaceServiceInvalid, Message: fmt.Sprintf("service %q: want runtime, terminal, browser or canvas", svc)}
	}
	if st := workspace.State(w.GetState()); st != workspace.StateRunning {
		return nil, &apiError{Code: errcode.WorkspaceNotRunning, Message: fmt.Sprintf("workspace %s is %s, not running (aileron workspace start %s)", w.GetId(), st, w.GetId())}
	}
	st := orchestrator.ServiceByName(w.GetServices(), svc)
	if st.GetEndpoint() == "" {
		return nil, &apiError{Code: errcode.WorkspaceServiceUnavailable, Message: fmt.Sprintf("workspace %s has no %s endpoint (the service is %s)", w.GetId(), svc, or(st.GetState(), "not reported yet"))}
	}
	u, err := url.Parse(st.GetEndpoint())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &apiError{Code: errcode.WorkspaceServiceUnavailable, Message: fmt.Sprintf("workspace %s reports an unusable %s endpoint %q", w.GetId(), svc, st.GetEndpoint())}
	}
	return u, nil
}

// frontDoorAuth is the Authorization header the front door takes: the
// CLI's token.
func frontDoorAuth(token string) string {
	if token == "" {
		token = "dev" // an open `aileron dev` takes any token; a secured API answers AUTH_TOKEN_INVALID
	}
	return "Bearer " + token
}

// frontDoorTransport reaches front-door hosts; browsers resolve
// *.localhost to loopback, Go's resolver may not.
func frontDoorTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if h, p, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(h, ".localhost") {
				addr = net.JoinHostPort("127.0.0.1", p)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

func forwarder(target *url.URL, token string, port int) http.Handler {
	own := map[string]bool{}
	for _, h := range []string{"127.0.0.1", "localhost"} {
		own[net.JoinHostPort(h, strconv.Itoa(port))] = true
	}
	authz := frontDoorAuth(token)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set("Authorization", authz)
			pr.Out.Header.Del("Origin") // checked below; the front door would see it as foreign
		},
		FlushInterval: -1,
		Transport:     frontDoorTransport(),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !own[strings.ToLower(r.Host)] {
			http.Error(w, "port-forward answers only 127.0.0.1 and localhost", http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !own[strings.TrimPrefix(strings.ToLower(o), "http://")] {
			http.Error(w, "port-forward refuses requests from other origins", http.StatusForbidden)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}
