package auth_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/orchestrator"
)

// issuer is an in-process HTTPS OIDC issuer publishing a JWKS and signing
// tokens of the test's own.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"authorization_endpoint":                is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewTLSServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	s, err := jws.CompactSerialize()
	require.NoError(t, err)
	return s
}

func (is *issuer) claims(sub string, mod func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": is.srv.URL, "aud": "aileron", "sub": sub, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "groups": []string{"users"}}
	if mod != nil {
		mod(c)
	}
	return c
}

const automationToken = "s3cret-automation-token"

func start(t *testing.T, is *issuer, mod func(*apitest.Options)) *apitest.Env {
	cfg := orchestrator.DefaultConfig()
	cfg.MaxWorkspacesPerOwner = 3
	opts := apitest.Options{
		Orchestrator: &cfg,
		Auth: &auth.Config{
			OIDC: &auth.OIDCConfig{
				Issuer: is.srv.URL, Audience: "aileron", AdminClaim: "groups", AdminValue: "aileron-admins",
				HTTPClient: is.srv.Client(),
			},
			Tokens: map[string]auth.StaticToken{auth.HashToken(automationToken): {Name: "ci-bot", SHA256: auth.HashToken(automationToken)}},
		},
	}
	if mod != nil {
		mod(&opts)
	}
	return apitest.Start(t, opts)
}

func do(t *testing.T, env *apitest.Env, token, method, path string, body any) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), string(data))
	}
	return resp, out
}

func TestBadCredentialsAnswer401WithCode(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, nil)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	header := `{"alg":"none","typ":"JWT"}`
	payload, _ := json.Marshal(is.claims("mallory", nil))
	none := b64(header) + "." + b64(string(payload)) + "."

	cases := []struct {
		name, token string
		code        errcode.Code
	}{
		{"missing", "", errcode.AuthTokenMissing},
		{"garbage", "not-a-token", errcode.AuthTokenInvalid},
		{"expired", is.sign(t, is.key, is.claims("a", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), errcode.AuthTokenExpired},
		{"wrong audience", is.sign(t, is.key, is.claims("a", func(c map[string]any) { c["aud"] = "someone-else" })), errcode.AuthAudienceInvalid},
		{"wrong issuer", is.sign(t, is.key, is.claims("a", func(c map[string]any) { c["iss"] = "https://evil.example" })), errcode.AuthIssuerInvalid},
		{"bad signature", is.sign(t, other, is.claims("a", nil)), errcode.AuthTokenInvalid},
		{"alg none", none, errcode.AuthTokenInvalid},
		{"not yet valid", is.sign(t, is.key, is.claims("a", func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })), errcode.AuthTokenInvalid},
		{"no subject", is.sign(t, is.key, is.claims("", nil)), errcode.AuthTokenInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, req := range [][2]string{{"GET", "/api/v1/workspaces"}, {"POST", "/api/v1/workspaces"}} {
				resp, body := do(t, env, c.token, req[0], req[1], map[string]any{"name": "x"})
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%v", body)
				require.Equal(t, string(c.code), body["code"])
				require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// Within the bounded skew an expiry a few seconds ago is still accepted.
	fresh := is.sign(t, is.key, is.claims("a", func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Second).Unix() }))
	resp, _ := do(t, env, fresh, "GET", "/api/v1/workspaces", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func b64(s string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(s)), "=")
}

func TestUsersSeeOnlyTheirOwnWorkspaces(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, nil)
	alice := is.sign(t, is.key, is.claims("alice", nil))
	bob := is.sign(t, is.key, is.claims("bob", nil))
	admin := is.sign(t, is.key, is.claims("root", func(c map[string]any) { c["groups"] = []string{"users", "aileron-admins"} }))

	resp, w := do(t, env, alice, "POST", "/api/v1/workspaces", map[string]any{"name": "shared-name"})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	require.Equal(t, "oidc:alice", w["owner"])
	id := w["id"].(string)
	// Names are unique per owner: bob may use the same one.
	resp, _ = do(t, env, bob, "POST", "/api/v1/workspaces", map[string]any{"name": "shared-name"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	resp, tl := do(t, env, alice, "GET", "/api/v1/workspaces/"+id+"/timeline", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the owner reads the timeline: %v", tl)
	require.Equal(t, id, tl["id"])
	_, list := do(t, env, bob, "GET", "/api/v1/workspaces", nil)
	require.Len(t, list["workspaces"], 1)
	for _, req := range [][2]string{{"GET", ""}, {"POST", "/stop"}, {"DELETE", ""}, {"GET", "/firewall"}, {"GET", "/timeline"}, {"POST", "/services/runtime/restart"}} {
		resp, body := do(t, env, bob, req[0], "/api/v1/workspaces/"+id+req[1], nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s: %v", req[0], req[1], body)
		require.Equal(t, "WORKSPACE_NOT_FOUND", body["code"])
	}
	_, list = do(t, env, admin, "GET", "/api/v1/workspaces", nil)
	require.Len(t, list["workspaces"], 2)
	resp, body := do(t, env, admin, "DELETE", "/api/v1/workspaces/"+id, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%v", body)

	// A static API token for automation.
	resp, w = do(t, env, automationToken, "POST", "/api/v1/workspaces", map[string]any{"name": "from-ci"})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	require.Equal(t, "token:ci-bot", w["owner"])
}

func TestQuotaAndRateLimit(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, func(o *apitest.Options) { o.Limiter = auth.NewLimiter(0.5, 5) })
	carol := is.sign(t, is.key, is.claims("carol", nil))
	for i := range 3 {
		resp, body := do(t, env, carol, "POST", "/api/v1/workspaces", map[string]any{"name": fmt.Sprintf("c%d", i)})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
	}
	resp, body := do(t, env, carol, "POST", "/api/v1/workspaces", map[string]any{"name": "c3"})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "QUOTA_EXCEEDED", body["code"])

	// The burst (5) is spent by the four creates and one more call.
	do(t, env, carol, "POST", "/api/v1/workspaces", map[string]any{"name": "c4"})
	resp, body = do(t, env, carol, "POST", "/api/v1/workspaces", map[string]any{"name": "c5"})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, string(errcode.RateLimited), body["code"])
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	// Reads are not rate-limited; other users are not affected.
	resp, _ = do(t, env, carol, "GET", "/api/v1/workspaces", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do(t, env, is.sign(t, is.key, is.claims("dave", nil)), "POST", "/api/v1/workspaces", map[string]any{"name": "d"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

func TestFirewallAdminOnly(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, func(o *apitest.Options) {
		o.Server = func(c *serverConfig) { c.Access.FirewallAdminOnly = true }
	})
	user := is.sign(t, is.key, is.claims("erin", nil))
	admin := is.sign(t, is.key, is.claims("root", func(c map[string]any) { c["groups"] = "aileron-admins" }))
	resp, body := do(t, env, user, "POST", "/api/v1/workspaces", map[string]any{"name": "fw", "workspace_firewall_domain_access_mode": "unrestricted"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "FIREWALL_ADMIN_ONLY", body["code"])
	resp, w := do(t, env, user, "POST", "/api/v1/workspaces", map[string]any{"name": "fw"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	path := "/api/v1/workspaces/" + w["id"].(string) + "/firewall"
	resp, body = do(t, env, user, "PUT", path, map[string]any{"revision": "1"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "FIREWALL_ADMIN_ONLY", body["code"])
	resp, body = do(t, env, admin, "PUT", path, map[string]any{"revision": "1", "workspace_firewall_domain_access_mode": "deny"})
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%v", body)
}

func TestAuditEvents(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, nil)
	sub, err := env.NC.SubscribeSync(event.AuditFilter)
	require.NoError(t, err)
	frank := is.sign(t, is.key, is.claims("frank", nil))

	req, _ := http.NewRequest("POST", env.URL+"/api/v1/workspaces", strings.NewReader(`{"name":"audited"}`))
	req.Header.Set("Authorization", "Bearer "+frank)
	req.Header.Set("X-Request-Id", "req-123")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	do(t, env, "", "POST", "/api/v1/workspaces", map[string]any{"name": "anon"})
	do(t, env, frank, "POST", "/api/v1/workspaces/aaaaaaaaaaaaaaaaaaaa/stop", nil)

	want := []struct{ subject, result, method, code string }{
		{"oidc:frank", "allowed", "CreateWorkspace", ""},
		{"anonymous", "refused", "CreateWorkspace", string(errcode.AuthTokenMissing)},
		{"oidc:frank", "refused", "StopWorkspace", "WORKSPACE_NOT_FOUND"},
	}
	for i, w := range want {
		msg, err := sub.NextMsg(5 * time.Second)
		require.NoError(t, err)
		ev := &eventsv1.AuditEvent{}
		require.NoError(t, proto.Unmarshal(msg.Data, ev))
		require.Equal(t, event.AuditSubject(w.result, w.method), msg.Subject)
		require.Equal(t, []string{w.subject, w.result, w.method, w.code}, []string{ev.Subject, ev.Result, ev.Method, ev.Code})
		if i == 0 {
			require.Equal(t, "req-123", ev.RequestId)
			require.Len(t, ev.WorkspaceId, 20)
		}
	}
}
