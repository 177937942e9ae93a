package frontdoor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	pkgfd "aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/frontdoor"
	apiserver "aileron.dev/services/api/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).acceptConnections.func1"),
		goleak.IgnoreTopFunction("time.Sleep"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

const (
	alice = "alice-token"
	bob   = "bob-token"
	root  = "root-token"
)

// ingress stands in for a workspace's ingress: it records what it was sent.
type ingress struct {
	*httptest.Server
	mu      sync.Mutex
	last    http.Header
	host    string
	release chan struct{}
}

func (in *ingress) seen() (http.Header, string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.last, in.host
}

func newIngress(t testing.TB) *ingress {
	in := &ingress{release: make(chan struct{})}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.mu.Lock()
		in.last, in.host = r.Header.Clone(), r.Host
		in.mu.Unlock()
		switch r.URL.Path {
		case "/runtime/stream":
			_, _ = io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			select {
			case <-in.release:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "second\n")
		case "/runtime/blob":
			_, _ = w.Write(blob)
		case "/runtime/wsblob":
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				if _, _, err := c.Read(r.Context()); err != nil {
					return
				}
				for off := 0; off < len(blob); off += wsChunk {
					if err := c.Write(r.Context(), websocket.MessageBinary, blob[off:off+wsChunk]); err != nil {
						return
					}
				}
			}
		case "/runtime/ws":
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			_ = c.Write(r.Context(), typ, append([]byte("echo: "), msg...))
			_, _, _ = c.Read(r.Context())
		case "/runtime/setcookie":
			w.Header().Add("Set-Cookie", "own=1; Path=/")
			w.Header().Add("Set-Cookie", "wide=1; Domain=localhost; Path=/")
			w.Header().Add("Set-Cookie", "aileron-session=planted; Path=/")
			fallthrough
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery})
		}
	}))
	t.Cleanup(in.Close)
	return in
}

// blob is the 1 MiB body of the stream benchmarks, sent over WebSockets in
// wsChunk messages.
var blob = make([]byte, 1<<20)

const wsChunk = 16 << 10

type harness struct {
	env *apitest.Env
	in  *ingress
	fd  *frontdoor.FrontDoor
	key pkgfd.Key
}

func start(t testing.TB) *harness {
	t.Helper()
	tokens := map[string]auth.StaticToken{
		auth.HashToken(alice): {Name: "alice"},
		auth.HashToken(bob):   {Name: "bob"},
		auth.HashToken(root):  {Name: "root", Admin: true},
	}
	env := apitest.Start(t, apitest.Options{Auth: &auth.Config{Tokens: tokens}, Server: func(c *apiserver.Config) {
		fc := frontdoor.DefaultConfig()
		c.FrontDoor = &fc
	}})
	key, err := pkgfd.LoadKey(context.Background(), env.JS)
	require.NoError(t, err)
	return &harness{env: env, in: newIngress(t), fd: env.Server.FrontDoor, key: key}
}

// api calls the REST API as token.
func (h *harness) api(t testing.TB, token, method, path string) (int, map[string]any) {
	t.Helper()
	body := io.Reader(nil)
	if method == http.MethodPost {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequest(method, h.env.URL+path, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	data, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(data, &out), "%s", data)
	return resp.StatusCode, out
}

// running creates a workspace of alice's that a provisioner reports running
// with its services at the stand-in ingress.
func (h *harness) running(t testing.TB, name string) string {
	t.Helper()
	req, err := http.NewRequest("POST", h.env.URL+"/api/v1/workspaces", strings.NewReader(`{"name":"`+name+`","provisioner":"docker"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var w map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&w))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	id := w["id"].(string)
	h.report(t, id, eventsv1Running)
	return id
}

const eventsv1Running = "running"

func (h *harness) report(t testing.TB, id, phase string) {
	t.Helper()
	var gen int64
	require.Eventually(t, func() bool {
		_, w := h.api(t, alice, "GET", "/api/v1/workspaces/"+id)
		gen, _ = strconv.ParseInt(w["generation"].(string), 10, 64)
		return w["observed_generation"] != w["generation"]
	}, 10*time.Second, 20*time.Millisecond)
	svc := func(s string) *workspacev1.ServiceStatus {
		st := &workspacev1.ServiceStatus{Enabled: true, State: phase, Endpoint: h.in.URL + "/" + s + "/"}
		if phase != "running" {
			st.Endpoint = ""
		}
		return st
	}
	r := &eventsv1.StatusReport{WorkspaceId: id, ObservedGeneration: gen, Phase: phase, Reason: "test", Reporter: "test", Time: timestamppb.Now(),
		Services: &workspacev1.Services{Runtime: svc("runtime"), Terminal: svc("terminal"), Browser: svc("browser"),
			Canvas: &workspacev1.ServiceStatus{Enabled: false, State: "disabled"}}}
	require.NoError(t, event.Publish(context.Background(), h.env.JS, event.StatusSubject(id), id+phase+time.Now().String(), r))
	require.Eventually(t, func() bool {
		_, w := h.api(t, alice, "GET", "/api/v1/workspaces/"+id)
		return w["state"] == phase
	}, 10*time.Second, 20*time.Millisecond)
}

// host is the front-door host of service s of workspace id.
func (h *harness) host(s, id string) string {
	u, _ := url.Parse(h.fd.Origin(workspace.Service(s), id))
	return u.Host
}

// get sends a request to a front-door host through the API's listener.
func (h *harness) get(t testing.TB, host, path string, hdr http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", h.env.URL+path, nil)
	require.NoError(t, err)
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	if data, _ := io.ReadAll(resp.Body); len(data) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(data, &out), "%s", data)
	}
	return resp, out
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func TestBearerTokens(t *testing.T) {
	h := start(t)
	id := h.running(t, "bearer")
	host := h.host("runtime", id)

	// The API reports the front-door URL, never the ingress.
	_, w := h.api(t, alice, "GET", "/api/v1/workspaces/"+id)
	rt := w["services"].(map[string]any)["runtime"].(map[string]any)
	require.Equal(t, "http://"+host+"/", rt["endpoint"])
	require.NotContains(t, rt["endpoint"], h.in.URL)
	_, list := h.api(t, alice, "GET", "/api/v1/workspaces")
	require.Equal(t, "http://"+host+"/", list["workspaces"].([]any)[0].(map[string]any)["services"].(map[string]any)["runtime"].(map[string]any)["endpoint"])
	// So does the watch (the REST stream over gRPC).
	wreq, err := http.NewRequest("GET", h.env.URL+"/api/v1/workspaces:watch?id="+id, nil)
	require.NoError(t, err)
	wreq.Header.Set("Authorization", "Bearer "+alice)
	wresp, err := http.DefaultClient.Do(wreq)
	require.NoError(t, err)
	line, err := bufio.NewReader(wresp.Body).ReadString('\n')
	wresp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, line, `"endpoint":"http://`+host+`/"`)
	require.NotContains(t, line, h.in.URL)
	// The index keeps the internal endpoint.
	rec, ok := h.env.Server.Orchestrator.Index().Get(id)
	require.True(t, ok)
	require.Equal(t, h.in.URL+"/runtime/", rec.Services.Runtime.Endpoint)

	hdr := bearer(alice)
	hdr.Set("Cookie", "theirs=1")
	resp, body := h.get(t, host, "/files?x=1", hdr)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
	require.Equal(t, "/runtime/files", body["path"])
	require.Equal(t, "x=1", body["query"])
	seen, seenHost := h.in.seen()
	require.Equal(t, h.key.WorkspaceSecret(id), seen.Get(pkgfd.Header))
	require.Empty(t, seen.Get("Authorization"), "the workspace must not see the caller's token")
	require.Equal(t, "theirs=1", seen.Get("Cookie"))
	require.Equal(t, host, seenHost)
	require.Equal(t, host, seen.Get("X-Forwarded-Host"))
	require.Equal(t, "http", seen.Get("X-Forwarded-Proto"))

	for _, tc := range []struct {
		name   string
		hdr    http.Header
		status int
		code   string
	}{
		{"no credential", nil, http.StatusUnauthorized, "AUTH_TOKEN_MISSING"},
		{"bad token", bearer("nope"), http.StatusUnauthorized, "AUTH_TOKEN_INVALID"},
		{"another user", bearer(bob), http.StatusNotFound, "WORKSPACE_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := h.in.seen()
			resp, body := h.get(t, host, "/x", tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, "%v", body)
			require.Equal(t, tc.code, body["code"])
			after, _ := h.in.seen()
			require.Equal(t, before, after, "the workspace saw the refused request")
		})
	}
	resp, body = h.get(t, host, "/x", bearer(root))
	require.Equal(t, http.StatusOK, resp.StatusCode, "an admin may enter: %v", body)

	// The canvas is disabled; a bad host names nothing.
	resp, body = h.get(t, h.host("canvas", id), "/", bearer(alice))
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "WORKSPACE_SERVICE_NOT_ENABLED", body["code"])
	resp, body = h.get(t, "shell--"+id+".localhost", "/", bearer(alice))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_HOST_INVALID", body["code"])
	resp, body = h.get(t, h.host("runtime", "aaaaaaaaaaaaaaaaaaaa"), "/", bearer(alice))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "WORKSPACE_NOT_FOUND", body["code"])
	// The API itself is untouched by the dispatch.
	code, _ := h.api(t, alice, "GET", "/api/v1/workspaces/"+id)
	require.Equal(t, http.StatusOK, code)
}

// open calls OpenWorkspaceService and returns the ticket URL.
func (h *harness) open(t *testing.T, token, id, svc string) (int, map[string]any) {
	return h.api(t, token, http.MethodPost, "/api/v1/workspaces/"+id+"/services/"+svc+":open")
}

func TestTicketsAndSessions(t *testing.T) {
	h := start(t)
	id := h.running(t, "tickets")
	host := h.host("runtime", id)

	code, body := h.open(t, bob, id, "runtime")
	require.Equal(t, http.StatusNotFound, code, "%v", body)
	code, body = h.open(t, alice, id, "shell")
	require.Equal(t, http.StatusBadRequest, code, "%v", body)
	require.Equal(t, "WORKSPACE_SERVICE_INVALID", body["code"])

	code, body = h.open(t, alice, id, "runtime")
	require.Equal(t, http.StatusOK, code, "%v", body)
	link, err := url.Parse(body["url"].(string))
	require.NoError(t, err)
	require.Equal(t, host, link.Host)
	require.Equal(t, frontdoor.EnterPath, link.Path)
	require.Equal(t, "http://"+host+"/", body["endpoint"])

	// A ticket for the runtime does not open the terminal.
	resp, b := h.get(t, h.host("terminal", id), link.RequestURI(), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_CREDENTIAL_INVALID", b["code"])
	// A forged one opens nothing.
	forged := strings.Replace(link.RequestURI(), "ticket=", "ticket=x", 1)
	resp, b = h.get(t, host, forged, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_CREDENTIAL_INVALID", b["code"])

	resp, _ = h.get(t, host, link.RequestURI(), nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "http://"+host+"/", resp.Header.Get("Location"))
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "aileron-session" {
			session = c
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, session.SameSite)
	require.Empty(t, session.Domain, "the cookie is host-only")
	// The ticket is spent.
	resp, b = h.get(t, host, link.RequestURI(), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_CREDENTIAL_INVALID", b["code"])

	cookie := http.Header{"Cookie": {session.Name + "=" + session.Value + "; theirs=2"}}
	resp, b = h.get(t, host, "/page", cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", b)
	seen, _ := h.in.seen()
	require.Equal(t, "theirs=2", seen.Get("Cookie"), "the front door's cookie stays with the front door")
	require.Equal(t, h.key.WorkspaceSecret(id), seen.Get(pkgfd.Header))

	// A service keeps its cookies to its own origin and cannot replace the session.
	resp, _ = h.get(t, host, "/setcookie", cookie)
	require.Equal(t, []string{"own=1; Path=/"}, resp.Header.Values("Set-Cookie"))
	// With an Authorization header the bearer token decides, and never reaches the workspace.
	both := cookie.Clone()
	both.Set("Authorization", "Bearer "+bob)
	resp, b = h.get(t, host, "/page", both)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%v", b)
	both.Set("Authorization", "Bearer "+alice)
	resp, _ = h.get(t, host, "/page", both)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	seen, _ = h.in.seen()
	require.Empty(t, seen.Get("Authorization"))

	// The cookie is good on its own origin only, and not cross-origin.
	resp, b = h.get(t, h.host("terminal", id), "/page", cookie)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_CREDENTIAL_INVALID", b["code"])
	xs := cookie.Clone()
	xs.Set("Sec-Fetch-Site", "same-site")
	xs.Set("Sec-Fetch-Mode", "cors")
	xs.Set("Origin", "http://"+h.host("canvas", id))
	resp, b = h.get(t, host, "/page", xs)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_REQUEST_REFUSED", b["code"])
	nav := cookie.Clone()
	nav.Set("Sec-Fetch-Site", "cross-site")
	nav.Set("Sec-Fetch-Mode", "navigate")
	nav.Set("Sec-Fetch-Dest", "document")
	resp, b = h.get(t, host, "/", nav)
	require.Equal(t, http.StatusOK, resp.StatusCode, "a top-level navigation carries the session: %v", b)

	// Stop: 409 naming the state; after a start the old session is over.
	code, b = h.api(t, alice, http.MethodPost, "/api/v1/workspaces/"+id+"/stop")
	require.Equal(t, http.StatusAccepted, code, "%v", b)
	h.report(t, id, "stopped")
	resp, b = h.get(t, host, "/page", bearer(alice))
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "WORKSPACE_NOT_RUNNING", b["code"])
	require.Contains(t, b["message"], "stopped")
	code, b = h.open(t, alice, id, "runtime")
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "WORKSPACE_NOT_RUNNING", b["code"])
	code, b = h.api(t, alice, http.MethodPost, "/api/v1/workspaces/"+id+"/start")
	require.Equal(t, http.StatusAccepted, code, "%v", b)
	h.report(t, id, "running")
	resp, b = h.get(t, host, "/page", cookie)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "FRONTDOOR_CREDENTIAL_INVALID", b["code"])
	resp, _ = h.get(t, host, "/page", bearer(alice))
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestStreamsAndWebSockets(t *testing.T) {
	h := start(t)
	id := h.running(t, "streams")
	host := h.host("runtime", id)

	// A streamed body arrives as it is written, before the service finishes.
	req, err := http.NewRequest("GET", h.env.URL+"/stream", nil)
	require.NoError(t, err)
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	first := make(chan string, 1)
	rd := bufio.NewReader(resp.Body)
	go func() { l, _ := rd.ReadString('\n'); first <- l }()
	var got string
	require.Eventually(t, func() bool {
		select {
		case got = <-first:
			return true
		default:
			return false
		}
	}, 10*time.Second, 10*time.Millisecond, "the first line was held back")
	require.Equal(t, "first\n", got)
	close(h.in.release)
	rest, err := io.ReadAll(rd)
	require.NoError(t, err)
	require.Equal(t, "second\n", string(rest))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws://" + strings.TrimPrefix(h.env.URL, "http://") + "/ws"
	origin := h.fd.Origin("runtime", id)
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Host: host,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}, "Origin": {origin}}})
	require.NoError(t, err)
	defer c.CloseNow()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("hi")))
	_, msg, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "echo: hi", string(msg))
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	_, resp2, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Host: host,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}, "Origin": {"http://evil.example"}}})
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp2.StatusCode)
}
