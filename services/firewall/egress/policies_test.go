package egress_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/policy"
)

func TestParsePolicies(t *testing.T) {
	ps, err := egress.ParsePolicies([]byte(`{
		"workspace": {"group": "workspace", "network_access_enabled": true, "mode": "allowlist",
		              "allowed_domains": ["B.example.com.", "*.a.example.com", "b.example.com"]},
		"browser": {"network_access_enabled": true, "mode": "deny", "allowed_domains": []}
	}`))
	require.NoError(t, err)
	want := egress.Policies{
		Workspace: policy.Effective{Group: policy.GroupWorkspace, NetworkAccessEnabled: true, Mode: policy.ModeAllowlist,
			AllowedDomains: []string{"*.a.example.com", "b.example.com"}},
		Browser: policy.Effective{Group: policy.GroupBrowser, NetworkAccessEnabled: true, Mode: policy.ModeDeny,
			AllowedDomains: []string{}},
	}
	require.Empty(t, cmp.Diff(want, ps))

	missing, err := egress.ParsePolicies([]byte(`{"workspace": {"network_access_enabled": true, "mode": "unrestricted"}}`))
	require.NoError(t, err)
	require.False(t, missing.Browser.Allows("example.com"), "an absent group allows nothing")
	require.Equal(t, policy.GroupBrowser, missing.For(policy.GroupBrowser).Group)
	require.False(t, missing.For("other").Allows("example.com"))

	for name, doc := range map[string]string{
		"unknown field":     `{"workspace": {"mode": "allowlist", "extra": 1}}`,
		"unknown group key": `{"db": {}}`,
		"bad mode":          `{"workspace": {"network_access_enabled": true, "mode": "open"}}`,
		"bad domain":        `{"workspace": {"network_access_enabled": true, "mode": "allowlist", "allowed_domains": ["*"]}}`,
		"crossed group":     `{"workspace": {"group": "browser", "mode": "deny"}}`,
		"not json":          `workspace: {}`,
	} {
		_, err := egress.ParsePolicies([]byte(doc))
		require.Error(t, err, name)
	}
}

func TestWatchPolicyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	write := func(s string) {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(s), 0o600))
		require.NoError(t, os.Rename(tmp, path)) // replaced the way a provisioner would
	}
	var mu sync.Mutex
	var applied []egress.Policies
	var digests []string
	current := func() []egress.Policies {
		mu.Lock()
		defer mu.Unlock()
		return append([]egress.Policies(nil), applied...)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		egress.WatchPolicyFile(ctx, path, 10*time.Millisecond, func(ps egress.Policies, digest string) {
			mu.Lock()
			applied = append(applied, ps)
			digests = append(digests, digest)
			mu.Unlock()
		}, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()

	write(`{"workspace": {"network_access_enabled": true, "mode": "allowlist", "allowed_domains": ["a.example.com"]}}`)
	require.Eventually(t, func() bool { return len(current()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.True(t, current()[0].Workspace.Allows("a.example.com"))

	write(`{"workspace": {"mode": "bogus"}}`) // invalid: ignored, last policy stays
	second := `{"workspace": {"network_access_enabled": true, "mode": "allowlist", "allowed_domains": ["b.example.com"]}}`
	write(second)
	require.Eventually(t, func() bool { return len(current()) == 2 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Equal(t, egress.PolicyDigest([]byte(second)), digests[1], "the digest is of the file's content")
	require.NotEqual(t, digests[0], digests[1])
	mu.Unlock()
	got := current()[1]
	require.True(t, got.Workspace.Allows("b.example.com"))
	require.False(t, got.Workspace.Allows("a.example.com"))

	// Unchanged content is not re-applied: five watch intervals pass without a third apply.
	require.Never(t, func() bool { return len(current()) != 2 }, 50*time.Millisecond, 10*time.Millisecond)
	require.Len(t, current(), 2)
}

func TestWatchAppliesToProxy(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"workspace": {"network_access_enabled": true, "mode": "allowlist", "allowed_domains": ["other.test"]}}`), 0o600))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		egress.WatchPolicyFile(ctx, path, 10*time.Millisecond, func(ps egress.Policies, _ string) { e.proxy.SetPolicies(ps) }, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return e.proxy.Policies().Workspace.Allows("other.test") }, 5*time.Second, 10*time.Millisecond)
	status, body, _ := e.get(t, policy.GroupWorkspace, "https://other.test/x")
	require.Equal(t, 200, status)
	require.Equal(t, "https other.test /x", body)
}

func TestLoadPolicies(t *testing.T) {
	_, err := egress.LoadPolicies(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
