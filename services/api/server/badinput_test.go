package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/api/apitest"
)

// TestBadInputs: every bad request answers its status and stable code, names
// the field, and writes nothing.
func TestBadInputs(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	w := create(t, env, "existing")
	id := w["id"].(string)
	const missing = "aaaaaaaaaaaaaaaaaaaa"
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"malformed json", "POST", "/api/v1/workspaces", `{"name":`, 400, "REQUEST_INVALID", "body"},
		{"unknown field", "POST", "/api/v1/workspaces", `{"name":"a","colour":"red"}`, 400, "REQUEST_INVALID", "body"},
		{"wrong type", "POST", "/api/v1/workspaces", `{"name":5}`, 400, "REQUEST_INVALID", "body"},
		{"oversized body", "POST", "/api/v1/workspaces", big, 413, "REQUEST_TOO_LARGE", "body"},
		{"empty name", "POST", "/api/v1/workspaces", map[string]any{"name": ""}, 400, "WORKSPACE_NAME_INVALID", "name"},
		{"upper-case name", "POST", "/api/v1/workspaces", map[string]any{"name": "My"}, 400, "WORKSPACE_NAME_INVALID", "name"},
		{"64-char name", "POST", "/api/v1/workspaces", map[string]any{"name": strings.Repeat("a", 64)}, 400, "WORKSPACE_NAME_INVALID", "name"},
		{"trailing hyphen", "POST", "/api/v1/workspaces", map[string]any{"name": "a-"}, 400, "WORKSPACE_NAME_INVALID", "name"},
		{"bad provisioner", "POST", "/api/v1/workspaces", map[string]any{"name": "a", "provisioner": "podman"}, 400, "WORKSPACE_PROVISIONER_INVALID", "provisioner"},
		{"bad mode", "POST", "/api/v1/workspaces", map[string]any{"name": "a", "workspace_firewall_domain_access_mode": "open"}, 400, "FIREWALL_MODE_INVALID", "workspace_firewall_domain_access_mode"},
		{"ip domain", "POST", "/api/v1/workspaces", map[string]any{"name": "a", "browser_firewall_allowed_domains": []string{"ok.com", "10.0.0.1"}}, 400, "FIREWALL_DOMAIN_INVALID", "browser_firewall_allowed_domains[1]"},
		{"duplicate name", "POST", "/api/v1/workspaces", map[string]any{"name": "existing"}, 409, "WORKSPACE_NAME_CONFLICT", "name"},
		{"bad id", "GET", "/api/v1/workspaces/NOT-AN-ID", nil, 400, "WORKSPACE_ID_INVALID", "id"},
		{"unknown id", "GET", "/api/v1/workspaces/" + missing, nil, 404, "WORKSPACE_NOT_FOUND", "id"},
		{"timeline bad id", "GET", "/api/v1/workspaces/NOT-AN-ID/timeline", nil, 400, "WORKSPACE_ID_INVALID", "id"},
		{"timeline unknown id", "GET", "/api/v1/workspaces/" + missing + "/timeline", nil, 404, "WORKSPACE_NOT_FOUND", "id"},
		{"stop unknown", "POST", "/api/v1/workspaces/" + missing + "/stop", nil, 404, "WORKSPACE_NOT_FOUND", "id"},
		{"stop while creating", "POST", "/api/v1/workspaces/" + id + "/stop", nil, 409, "WORKSPACE_STOP_NOT_ALLOWED", "state"},
		{"start while creating", "POST", "/api/v1/workspaces/" + id + "/start", nil, 409, "WORKSPACE_START_NOT_ALLOWED", "state"},
		{"restart while creating", "POST", "/api/v1/workspaces/" + id + "/restart", nil, 409, "WORKSPACE_RESTART_NOT_ALLOWED", "state"},
		{"bad service", "POST", "/api/v1/workspaces/" + id + "/services/gpu/restart", nil, 400, "WORKSPACE_SERVICE_INVALID", "service"},
		{"service restart while creating", "POST", "/api/v1/workspaces/" + id + "/services/runtime/restart", nil, 409, "WORKSPACE_SERVICE_RESTART_NOT_ALLOWED", "state"},
		{"stop with unknown body field", "POST", "/api/v1/workspaces/" + id + "/stop", `{"force":true}`, 400, "REQUEST_INVALID", "body"},
		{"page size too big", "GET", "/api/v1/workspaces?pageSize=101", nil, 400, "PAGE_SIZE_INVALID", "page_size"},
		{"page size negative", "GET", "/api/v1/workspaces?page_size=-1", nil, 400, "PAGE_SIZE_INVALID", "page_size"},
		{"page size not a number", "GET", "/api/v1/workspaces?pageSize=ten", nil, 400, "REQUEST_INVALID", "body"},
		{"bad page token", "GET", "/api/v1/workspaces?pageToken=%%%", nil, 400, "REQUEST_INVALID", "body"},
		{"garbage page token", "GET", "/api/v1/workspaces?pageToken=Zm9v", nil, 400, "PAGE_TOKEN_INVALID", "page_token"},
		{"bad state filter", "GET", "/api/v1/workspaces?state=happy", nil, 400, "WORKSPACE_STATE_INVALID", "state"},
		{"bad provisioner filter", "GET", "/api/v1/workspaces?provisioner=lxc", nil, 400, "WORKSPACE_PROVISIONER_INVALID", "provisioner"},
		{"firewall stale revision", "PUT", "/api/v1/workspaces/" + id + "/firewall", map[string]any{"revision": "7"}, 409, "FIREWALL_REVISION_CONFLICT", "revision"},
		{"firewall url", "PUT", "/api/v1/workspaces/" + id + "/firewall", map[string]any{"revision": "1", "workspace_firewall_allowed_domains": []string{"https://x.com/"}}, 400, "FIREWALL_DOMAIN_INVALID", "workspace_firewall_allowed_domains[0]"},
		{"firewall bare star", "PUT", "/api/v1/workspaces/" + id + "/firewall", map[string]any{"revision": "1", "workspace_firewall_allowed_domains": []string{"*"}}, 400, "FIREWALL_DOMAIN_INVALID", "workspace_firewall_allowed_domains[0]"},
		{"firewall negative revision", "PUT", "/api/v1/workspaces/" + id + "/firewall", `{"revision":"-1"}`, 400, "REQUEST_INVALID", "body"},
		// Strings that are not UTF-8 (proto3 strings must be) are refused,
		// naming the field, wherever they come from: path, query, body, header.
		{"non-utf8 page token", "GET", "/api/v1/workspaces?page_token=%FF", nil, 400, "REQUEST_ENCODING_INVALID", "page_token"},
		{"non-utf8 search (overlong encoding)", "GET", "/api/v1/workspaces?search=a%C0%AFb", nil, 400, "REQUEST_ENCODING_INVALID", "search"},
		{"non-utf8 path id", "GET", "/api/v1/workspaces/%FE%FF", nil, 400, "REQUEST_ENCODING_INVALID", "id"},
		{"non-utf8 path service", "POST", "/api/v1/workspaces/" + id + "/services/%FF/restart", nil, 400, "REQUEST_ENCODING_INVALID", "service"},
		{"non-utf8 body name", "POST", "/api/v1/workspaces", "{\"name\":\"a\xffb\"}", 400, "REQUEST_ENCODING_INVALID", "name"},
		{"non-utf8 body list entry", "PUT", "/api/v1/workspaces/" + id + "/firewall", "{\"revision\":\"1\",\"workspace_firewall_allowed_domains\":[\"ok.com\",\"\xed\xa0\x80.com\"]}", 400, "REQUEST_ENCODING_INVALID", "workspace_firewall_allowed_domains[1]"},
		{"unknown route", "GET", "/api/v1/nothing", nil, 404, "ROUTE_NOT_FOUND", ""},
		{"wrong method", "PATCH", "/api/v1/workspaces/" + id, nil, 405, "METHOD_NOT_ALLOWED", ""},
	}
	before := revisions(t, env)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := call(t, env, c.method, c.path, c.body)
			require.Equal(t, c.status, status, "%v", body)
			require.Equal(t, c.code, body["code"], "%v", body)
			field, _ := body["field"].(string)
			require.Equal(t, c.field, field, "%v", body)
			require.NotEmpty(t, body["message"])
			require.NotEmpty(t, body["request_id"])
			if c.field != "" && c.field != "body" {
				require.Contains(t, body["message"], strings.Split(c.field, "[")[0], "the message names the field")
			}
		})
	}
	require.Equal(t, before, revisions(t, env), "bad requests must not write")
}

// revisions maps every workspace id to its store revision.
func revisions(t *testing.T, env *apitest.Env) map[string]uint64 {
	recs, err := env.Store.List(context.Background())
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, r := range recs {
		out[r.Workspace.Id] = r.Workspace.Revision
	}
	return out
}

func TestErrorBodyOnGRPC(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	_, body := call(t, env, http.MethodGet, "/api/v1/workspaces/aaaaaaaaaaaaaaaaaaaa", nil)
	require.Equal(t, "WORKSPACE_NOT_FOUND", body["code"])
	require.Equal(t, float64(404), body["status"])
}

func TestOpenAPIAndHealth(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	code, doc := call(t, env, http.MethodGet, "/openapi.json", nil)
	require.Equal(t, http.StatusOK, code)
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/api/v1/workspaces", "/api/v1/workspaces/{id}", "/api/v1/workspaces/{id}/firewall", "/api/v1/workspaces/{id}/timeline", "/api/v1/workspaces/{id}/services/{service}/restart"} {
		require.Contains(t, paths, p)
	}

	// The document reads as the product's contract: its own title and version,
	// a description, and the bearer scheme every operation needs.
	info := doc["info"].(map[string]any)
	require.Equal(t, "Aileron Workspaces API", info["title"])
	require.Equal(t, "v1", info["version"])
	require.NotEmpty(t, info["description"])
	schemes := doc["securityDefinitions"].(map[string]any)
	require.Len(t, schemes, 1)
	scheme := schemes["bearer"].(map[string]any)
	require.Equal(t, "apiKey", scheme["type"])
	require.Equal(t, "header", scheme["in"])
	require.Equal(t, "Authorization", scheme["name"])
	require.Contains(t, scheme["description"], "Bearer <token>")
	bearer := []any{map[string]any{"bearer": []any{}}}
	require.Equal(t, bearer, doc["security"], "the bearer scheme applies to the whole API")
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			op := op.(map[string]any)
			if s, ok := op["security"]; ok {
				require.Equal(t, bearer, s, "%s %s overrides the bearer scheme", method, path)
			}
			require.NotEmpty(t, op["summary"], "%s %s has no description from the proto comments", method, path)
		}
	}
	for name, def := range doc["definitions"].(map[string]any) {
		if strings.HasPrefix(name, "v1") {
			require.NotEmpty(t, def.(map[string]any)["description"], "definition %s has no description from the proto comments", name)
		}
	}
	resp, err := http.Get(env.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestBadHeaders: a credential that is not printable ASCII (gRPC's rule for
// metadata) is refused naming the header; a request id that is not is
// replaced, like an oversized one.
func TestBadHeaders(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	send := func(h http.Header) (*http.Response, map[string]any) {
		req, err := http.NewRequest(http.MethodGet, env.URL+"/api/v1/workspaces", nil)
		require.NoError(t, err)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp, out
	}
	resp, body := send(http.Header{"Authorization": {"Bearer caf\xc3\xa9"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%v", body)
	require.Equal(t, "REQUEST_ENCODING_INVALID", body["code"])
	require.Equal(t, "Authorization", body["field"])
	require.Contains(t, body["message"], "Authorization")

	// Headers the API does not read are dropped by the gateway, not forwarded.
	resp, body = send(http.Header{"User-Agent": {"caf\xc3\xa9"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)

	resp, body = send(http.Header{"X-Request-Id": {"id-\xff"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
	require.Regexp(t, "^[0-9a-f]{16}$", resp.Header.Get("X-Request-Id"), "an unusable request id is replaced")
}
