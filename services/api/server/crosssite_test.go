package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/gateway"
	apiserver "aileron.dev/services/api/server"
	"aileron.dev/services/api/ui"
)

// request is one raw HTTP request of the cross-site tests.
type request struct {
	method, path, host, body string
	header                   map[string]string
}

// send sends r to env as a browser or curl would, with exactly r's headers
// (no default Content-Type), and decodes the JSON answer if there is one.
func send(t *testing.T, env *apitest.Env, r request) (*http.Response, map[string]any) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, env.URL+r.path, body)
	require.NoError(t, err)
	if r.host != "" {
		req.Host = r.host
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]any{}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), "body: %s", data)
	}
	return resp, out
}

// startProtected starts the api service with the console and two allowed
// host names, as `aileron dev --allowed-hosts` would.
func startProtected(t *testing.T) *apitest.Env {
	t.Helper()
	return apitest.Start(t, apitest.Options{Server: func(c *apiserver.Config) {
		c.UI = ui.Handler()
		c.Protection = gateway.Protection{AllowedHosts: []string{"aileron.example.com", "*.corp.example"}}
	}})
}

// TestCrossSiteRequestsWriteNothing: what a web page can make a browser
// send (a text/plain or form POST, a DELETE from another origin, a request
// whose Host is a DNS-rebinding name) is refused with its code before the
// API sees it, and nothing is written; a same-machine JSON POST without
// Origin (the README's curl) and the console's own same-origin calls work.
func TestCrossSiteRequestsWriteNothing(t *testing.T) {
	env := startProtected(t)
	self := strings.TrimPrefix(env.URL, "http://")
	port := self[strings.LastIndexByte(self, ':'):]
	const create = "/api/v1/workspaces"
	const spec = `{"name": "pwned", "provisioner": "docker"}`
	jsonCT := map[string]string{"Content-Type": "application/json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// A workspace made the legitimate way, so that stop and delete have a target.
	resp, w := send(t, env, request{method: "POST", path: create, body: `{"name": "mine"}`, header: jsonCT})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	id := w["id"].(string)
	before := revisions(t, env)

	refused := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
	}{
		// What a page on another site sends with fetch(..., {mode: 'no-cors'}) or a form.
		{"cross-site text/plain POST", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "text/plain;charset=UTF-8", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")},
			403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"cross-site form POST", request{method: "POST", path: create, body: "name=pwned",
			header: with("Content-Type", "application/x-www-form-urlencoded", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")},
			403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		// An older browser without Sec-Fetch-*: the Origin alone refuses it.
		{"foreign Origin on a JSON POST", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "application/json", "Origin", "http://evil.example")}, 403, "REQUEST_CROSS_SITE", "Origin"},
		{"foreign Origin, text/plain", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "text/plain", "Origin", "http://evil.example")}, 403, "REQUEST_CROSS_SITE", "Origin"},
		{"Origin null (sandboxed frame)", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "application/json", "Origin", "null")}, 403, "REQUEST_CROSS_SITE", "Origin"},
		{"Origin of another local port", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "application/json", "Origin", "http://127.0.0.1:1")}, 403, "REQUEST_CROSS_SITE", "Origin"},
		// A page on another port of the address, or a workspace service's
		// origin under the console's registrable domain, is same-site.
		{"same-site page on another port", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "application/json", "Origin", "http://127.0.0.1:8080", "Sec-Fetch-Site", "same-site")},
			403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"same-site workspace origin", request{method: "POST", path: create, body: spec, host: "aileron.example.com",
			header: with("Content-Type", "application/json", "Origin", "https://runtime--abc.apps.example.com", "Sec-Fetch-Site", "same-site")},
			403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"a *.localhost page", request{method: "POST", path: create, body: spec, host: "localhost" + port,
			header: with("Content-Type", "application/json", "Origin", "http://runtime--abc.localhost"+port, "Sec-Fetch-Site", "cross-site")},
			403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"same-site even without Origin", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "application/json", "Sec-Fetch-Site", "same-site")}, 403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"cross-site bodiless stop", request{method: "POST", path: create + "/" + id + "/stop",
			header: with("Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")}, 403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"cross-site DELETE", request{method: "DELETE", path: create + "/" + id,
			header: with("Origin", "http://evil.example")}, 403, "REQUEST_CROSS_SITE", "Origin"},
		{"cross-site firewall PUT", request{method: "PUT", path: create + "/" + id + "/firewall", body: `{"revision":"1","workspace_firewall_domain_access_mode":"unrestricted"}`,
			header: with("Content-Type", "application/json", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")}, 403, "REQUEST_CROSS_SITE", "Sec-Fetch-Site"},
		{"WebSocket upgrade from another origin", request{method: "GET", path: create + "/" + id + "/watch",
			header: with("Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
				"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Origin", "http://evil.example")}, 403, "REQUEST_CROSS_SITE", "Origin"},
		// Same machine, but not JSON: what a preflight-free browser request would carry.
		{"text/plain without Origin", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "text/plain")}, 415, "REQUEST_CONTENT_TYPE_INVALID", "Content-Type"},
		{"no Content-Type with a body", request{method: "POST", path: create, body: spec}, 415, "REQUEST_CONTENT_TYPE_INVALID", "Content-Type"},
		{"multipart", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "multipart/form-data; boundary=x")}, 415, "REQUEST_CONTENT_TYPE_INVALID", "Content-Type"},
		{"JSON in another charset", request{method: "POST", path: create, body: spec,
			header: with("Content-Type", "application/json; charset=iso-8859-1")}, 415, "REQUEST_CONTENT_TYPE_INVALID", "Content-Type"},
		{"text/plain on a bodiless stop", request{method: "POST", path: create + "/" + id + "/stop",
			header: with("Content-Type", "text/plain")}, 415, "REQUEST_CONTENT_TYPE_INVALID", "Content-Type"},
		// DNS rebinding: evil.example now resolves to 127.0.0.1.
		{"Host evil.example, JSON POST", request{method: "POST", path: create, body: spec, host: "evil.example" + port, header: jsonCT},
			421, "HOST_NOT_ALLOWED", "Host"},
		{"Host evil.example, list", request{method: "GET", path: create, host: "evil.example" + port}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"Host evil.example, console", request{method: "GET", path: "/", host: "evil.example"}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"Host evil.example, OpenAPI", request{method: "GET", path: "/openapi.json", host: "evil.example"}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"Host 0.0.0.0", request{method: "POST", path: create, body: spec, host: "0.0.0.0" + port, header: jsonCT}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"Host of a LAN address", request{method: "GET", path: create, host: "192.168.1.20" + port}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"the wildcard's own apex", request{method: "GET", path: create, host: "corp.example"}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"an allowed name as a prefix", request{method: "GET", path: create, host: "aileron.example.com.evil.example"}, 421, "HOST_NOT_ALLOWED", "Host"},
		{"localhost as a prefix", request{method: "GET", path: create, host: "localhost.evil.example"}, 421, "HOST_NOT_ALLOWED", "Host"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			resp, body := send(t, env, c.req)
			require.Equal(t, c.status, resp.StatusCode, "%v", body)
			require.Equal(t, c.code, body["code"], "%v", body)
			require.Equal(t, c.field, body["field"], "%v", body)
			require.Contains(t, body["message"], c.field, "the message names the header")
			require.NotEmpty(t, body["request_id"])
			requireNoCORS(t, resp)
		})
	}
	require.Equal(t, before, revisions(t, env), "refused requests must not write")
	_, list := send(t, env, request{method: "GET", path: create})
	require.Len(t, list["workspaces"], 1, "only the legitimate workspace exists: %v", list)

	t.Run("probes reach /healthz with the pod's IP as Host", func(t *testing.T) {
		resp, _ := send(t, env, request{method: "GET", path: "/healthz", host: "10.42.0.17:3001"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("GET from another origin is answered but not readable (no CORS)", func(t *testing.T) {
		resp, body := send(t, env, request{method: "GET", path: create,
			header: with("Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors")})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
		requireNoCORS(t, resp)
		resp, _ = send(t, env, request{method: "OPTIONS", path: create,
			header: with("Origin", "http://evil.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")})
		require.NotEqual(t, http.StatusNoContent, resp.StatusCode, "no preflight is ever granted")
		requireNoCORS(t, resp)
	})

	served := []struct {
		name string
		req  request
	}{
		{"the README's curl: JSON, no Origin", request{method: "POST", path: create, body: `{"name": "curl", "provisioner": "docker"}`,
			host: "localhost" + port, header: jsonCT}},
		{"the console: same-origin fetch", request{method: "POST", path: create, body: `{"name": "console"}`,
			header: with("Content-Type", "application/json", "Origin", "http://"+self, "Sec-Fetch-Site", "same-origin")}},
		{"the console on localhost", request{method: "POST", path: create, body: `{"name": "console-localhost"}`, host: "localhost" + port,
			header: with("Content-Type", "application/json; charset=utf-8", "Origin", "http://localhost"+port, "Sec-Fetch-Site", "same-origin")}},
		{"typed into the address bar", request{method: "POST", path: create, body: `{"name": "none"}`,
			header: with("Content-Type", "application/json", "Sec-Fetch-Site", "none")}},
		{"an allowed name", request{method: "POST", path: create, body: `{"name": "allowed"}`, host: "Aileron.Example.com",
			header: with("Content-Type", "application/json", "Origin", "https://aileron.example.com")}},
		{"a wildcard name", request{method: "POST", path: create, body: `{"name": "wildcard"}`, host: "api.eu.corp.example:8443", header: jsonCT}},
		{"*.localhost", request{method: "POST", path: create, body: `{"name": "sub-localhost"}`, host: "aileron.localhost" + port, header: jsonCT}},
		{"127.0.0.2", request{method: "POST", path: create, body: `{"name": "loopback-two"}`, host: "127.0.0.2" + port, header: jsonCT}},
		{"[::1]", request{method: "POST", path: create, body: `{"name": "ipv6"}`, host: "[::1]" + port, header: jsonCT}},
	}
	for _, c := range served {
		t.Run(c.name, func(t *testing.T) {
			resp, body := send(t, env, c.req)
			require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
			requireNoCORS(t, resp)
		})
	}
	t.Run("bodiless stop and DELETE need no Content-Type", func(t *testing.T) {
		resp, body := send(t, env, request{method: "POST", path: create + "/" + id + "/stop"})
		require.Equal(t, http.StatusConflict, resp.StatusCode, "the stop reached the API: %v", body)
		require.Equal(t, "WORKSPACE_STOP_NOT_ALLOWED", body["code"])
		resp, body = send(t, env, request{method: "DELETE", path: create + "/" + id})
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "%v", body)
	})
	_, list = send(t, env, request{method: "GET", path: create})
	require.Len(t, list["workspaces"], 1+len(served), "%v", list)
}

// requireNoCORS fails if the answer lets another origin read it.
func requireNoCORS(t *testing.T, resp *http.Response) {
	t.Helper()
	for k := range resp.Header {
		require.False(t, strings.HasPrefix(k, "Access-Control-"), "CORS header %s: %v", k, resp.Header)
	}
}
