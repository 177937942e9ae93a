package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	apiserver "aileron.dev/services/api/server"
)

// A token's name and an OIDC subject are different owners, even when they
// are the same word.
func TestTokenNameAndOIDCSubjectDoNotCollide(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, nil)
	resp, w := do(t, env, automationToken, "POST", "/api/v1/workspaces", map[string]any{"name": "build"})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	id := w["id"].(string)

	impostor := is.sign(t, is.key, is.claims("ci-bot", nil))
	_, list := do(t, env, impostor, "GET", "/api/v1/workspaces", nil)
	require.Empty(t, list["workspaces"], "the OIDC user ci-bot sees none of the ci-bot token's workspaces")
	resp, body := do(t, env, impostor, "GET", "/api/v1/workspaces/"+id, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%v", body)
	// Names are per owner: the OIDC user may take the same name.
	resp, w = do(t, env, impostor, "POST", "/api/v1/workspaces", map[string]any{"name": "build"})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	require.Equal(t, "oidc:ci-bot", w["owner"])
}

// With the email claim naming users, an unverified address is refused.
func TestUnverifiedEmailIsNoIdentity(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, func(o *apitest.Options) { o.Auth.OIDC.SubjectClaim = "email" })
	token := func(verified any) string {
		return is.sign(t, is.key, is.claims("u1", func(c map[string]any) {
			c["email"] = "alice@example.com"
			if verified != nil {
				c["email_verified"] = verified
			}
		}))
	}
	for _, v := range []any{nil, false, "false", "yes"} {
		resp, body := do(t, env, token(v), "GET", "/api/v1/workspaces", nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "email_verified=%v: %v", v, body)
		require.Equal(t, "AUTH_EMAIL_UNVERIFIED", body["code"], "email_verified=%v", v)
	}
	for _, v := range []any{true, "true"} {
		resp, w := do(t, env, token(v), "POST", "/api/v1/workspaces", map[string]any{"name": "n"})
		if resp.StatusCode == http.StatusConflict {
			continue // the second pass: the same user, the same name
		}
		require.Equal(t, http.StatusCreated, resp.StatusCode, "email_verified=%v: %v", v, w)
		require.Equal(t, "oidc:alice@example.com", w["owner"])
	}
}

// legacyIdentity is the identity an api had before owners named their kind:
// the bare name, here taken from the call's metadata.
func legacyIdentity(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	return md.Get("legacy-owner")[0], false
}

// Records written with bare owners are migrated on start: a configured
// token's name becomes token:<name>, any other oidc:<name>, with their name
// and quota claims.
func TestLegacyOwnersAreMigrated(t *testing.T) {
	is := newIssuer(t)
	old := start(t, is, func(o *apitest.Options) {
		o.Auth = nil
		o.Server = func(c *apiserver.Config) { c.Identity = legacyIdentity }
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := map[string]string{}
	for owner, name := range map[string]string{"ci-bot": "build", "alice": "notes"} {
		resp, err := old.Client.CreateWorkspace(metadata.AppendToOutgoingContext(ctx, "legacy-owner", owner),
			&workspacev1.CreateWorkspaceRequest{Name: name})
		require.NoError(t, err)
		require.Equal(t, owner, resp.Workspace.Owner)
		ids[owner] = resp.Workspace.Id
	}
	old.Stop()
	old.NATS.Shutdown()
	old.NATS.WaitForShutdown()

	env := start(t, is, func(o *apitest.Options) { o.StoreDir = old.StoreDir })
	_, list := do(t, env, automationToken, "GET", "/api/v1/workspaces", nil)
	require.Len(t, list["workspaces"], 1)
	got := list["workspaces"].([]any)[0].(map[string]any)
	require.Equal(t, ids["ci-bot"], got["id"])
	require.Equal(t, "token:ci-bot", got["owner"])

	alice := is.sign(t, is.key, is.claims("alice", nil))
	resp, w := do(t, env, alice, "GET", "/api/v1/workspaces/"+ids["alice"], nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", w)
	require.Equal(t, "oidc:alice", w["owner"])
	impostor := is.sign(t, is.key, is.claims("ci-bot", nil))
	_, list = do(t, env, impostor, "GET", "/api/v1/workspaces", nil)
	require.Empty(t, list["workspaces"])

	// The name claim moved with the owner: alice cannot take "notes" twice,
	// and the bare owner's claim is gone.
	resp, body := do(t, env, alice, "POST", "/api/v1/workspaces", map[string]any{"name": "notes"})
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%v", body)
	require.NoError(t, env.Store.ClaimName(ctx, "alice", "notes", "aaaaaaaaaaaaaaaaaaaa", time.Now()))
	// So did the quota place: 3 per owner, one is the migrated workspace.
	for _, name := range []string{"n1", "n2"} {
		resp, body = do(t, env, alice, "POST", "/api/v1/workspaces", map[string]any{"name": name})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
	}
	resp, body = do(t, env, alice, "POST", "/api/v1/workspaces", map[string]any{"name": "n3"})
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%v", body)
}

func TestLegacyOwner(t *testing.T) {
	tokens := map[string]auth.StaticToken{auth.HashToken("x"): {Name: "ci-bot", SHA256: auth.HashToken("x")}}
	withOIDC, err := auth.New(auth.Config{Tokens: tokens, OIDC: &auth.OIDCConfig{Issuer: "https://issuer.example", Audience: "aileron"}})
	require.NoError(t, err)
	tokensOnly, err := auth.New(auth.Config{Tokens: tokens})
	require.NoError(t, err)
	for _, tt := range []struct {
		a        *auth.Authenticator
		in, want string
	}{
		{withOIDC, "ci-bot", "token:ci-bot"},
		{withOIDC, "alice", "oidc:alice"},
		{withOIDC, "oidc:alice", "oidc:alice"},
		{withOIDC, "token:ci-bot", "token:ci-bot"},
		{withOIDC, "dev", "dev"},
		{withOIDC, "https://idp.example/u/1", "oidc:https://idp.example/u/1"},
		{tokensOnly, "old-bot", "token:old-bot"},
	} {
		require.Equal(t, tt.want, tt.a.LegacyOwner(tt.in), tt.in)
	}
}

// Each caller holds at most MaxWatches open watches; others are not
// affected, and closing one makes room.
func TestWatchCap(t *testing.T) {
	is := newIssuer(t)
	env := start(t, is, func(o *apitest.Options) { o.MaxWatches = 2 })
	alice := is.sign(t, is.key, is.claims("alice", nil))
	bob := is.sign(t, is.key, is.claims("bob", nil))
	watch := func(token string) (context.CancelFunc, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		s, err := env.Client.WatchWorkspaces(ctx, &workspacev1.WatchWorkspacesRequest{})
		if err == nil {
			_, err = s.Recv() // the server admitted it: SYNCED (no workspaces)
		}
		return cancel, err
	}
	first, err := watch(alice)
	require.NoError(t, err)
	second, err := watch(alice)
	require.NoError(t, err)
	defer second()
	_, err = watch(alice)
	st, _ := status.FromError(err)
	require.Equal(t, codes.ResourceExhausted, st.Code(), "%v", err)
	require.Contains(t, st.Message(), "2 open watches")

	req, err := http.NewRequest("GET", env.URL+"/api/v1/workspaces:watch", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%v", body)
	require.Equal(t, "WATCH_LIMIT_REACHED", body["code"])

	cancelBob, err := watch(bob)
	require.NoError(t, err, "another user has places of their own")
	cancelBob()

	first()
	require.Eventually(t, func() bool {
		cancel, err := watch(alice)
		if err == nil {
			cancel()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "a closed watch gives its place back")
}
