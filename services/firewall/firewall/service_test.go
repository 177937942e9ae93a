package firewall_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/firewall/firewall"
	"aileron.dev/services/firewall/policy"
)

func TestPolicyComputedStoredAnnouncedAndReported(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defaults := policy.Defaults{Workspace: []string{"proxy.golang.org", "API.Anthropic.com."}, Browser: []string{"*.wikipedia.org"}}
	svc, err := firewall.New(ctx, firewall.Config{Defaults: defaults}, env.JS, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	announced, err := env.NC.SubscribeSync(event.FirewallPolicyFilter("docker"))
	require.NoError(t, err)
	created, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{
		Name: "fw", WorkspaceFirewallAllowedDomains: []string{"example.com", "proxy.golang.org"},
	})
	require.NoError(t, err)
	id := created.Workspace.Id

	var fs *workspacev1.FirewallStatus
	require.Eventually(t, func() bool {
		got, err := env.Client.GetFirewall(ctx, &workspacev1.GetFirewallRequest{Id: id})
		require.NoError(t, err)
		fs = got.Firewall.Status
		return len(fs.WorkspaceEffectiveAllowedDomains) > 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{"api.anthropic.com", "example.com", "proxy.golang.org"}, fs.WorkspaceEffectiveAllowedDomains)
	require.Equal(t, []string{"*.wikipedia.org"}, fs.BrowserEffectiveAllowedDomains)
	require.Equal(t, "applying", fs.Phase)

	msg, err := announced.NextMsg(5 * time.Second)
	require.NoError(t, err)
	p := &eventsv1.FirewallPolicy{}
	require.NoError(t, proto.Unmarshal(msg.Data, p))
	require.Equal(t, uint64(1), p.Revision)
	require.Equal(t, "allowlist", p.Workspace.Mode)

	kv, err := env.JS.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	entry, err := kv.Get(ctx, id)
	require.NoError(t, err)
	stored := &eventsv1.FirewallPolicy{}
	require.NoError(t, proto.Unmarshal(entry.Value(), stored))
	require.True(t, proto.Equal(p, stored))

	// An update is recomputed and announced with the new revision.
	_, err = env.Client.UpdateFirewall(ctx, &workspacev1.UpdateFirewallRequest{
		Id: id, Revision: 1, WorkspaceFirewallNetworkAccessEnabled: false, WorkspaceFirewallDomainAccessMode: "deny",
		BrowserFirewallNetworkAccessEnabled: true, BrowserFirewallDomainAccessMode: "unrestricted",
	})
	require.NoError(t, err)
	msg, err = announced.NextMsg(5 * time.Second)
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(msg.Data, p))
	require.Equal(t, uint64(2), p.Revision)
	require.False(t, p.Workspace.NetworkAccessEnabled)
	require.Equal(t, "unrestricted", p.Browser.Mode)

	// Deleting the workspace record removes its policy.
	_, err = env.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: id})
	require.NoError(t, err)
	require.NoError(t, event.Publish(ctx, env.JS, event.StatusSubject(id), id+"-deleted", &eventsv1.StatusReport{WorkspaceId: id, ObservedGeneration: 3, Phase: "deleted"}))
	require.Eventually(t, func() bool { _, err := kv.Get(ctx, id); return err != nil }, 10*time.Second, 20*time.Millisecond)
}

func TestShippedDefaultsAreValid(t *testing.T) {
	require.NoError(t, firewall.Config{Defaults: firewall.BuiltinDefaults()}.Validate())
}

func TestInvalidDefaultsRejected(t *testing.T) {
	err := firewall.Config{Defaults: policy.Defaults{Workspace: []string{"10.0.0.1"}}}.Validate()
	require.ErrorContains(t, err, "10.0.0.1")
}

// TestServicesUnderTheirOwnNATSUsers runs the api and the firewall each as
// its own NATS user, as the chart installs them: the api creates and reads
// workspace records, the firewall writes the firewall bucket and its status
// reaches the api; the api's own user is refused a write to the firewall
// bucket and a provisioner's status subject.
func TestServicesUnderTheirOwnNATSUsers(t *testing.T) {
	env := apitest.Start(t, apitest.Options{OwnUsers: true})
	ctx, cancel := context.WithCancel(context.Background())
	nc, js, err := bus.Open(ctx, env.Users.URL(bus.RoleFirewall.User), bus.RoleFirewall, "", bus.SetupConfig{})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	svc, err := firewall.New(ctx, firewall.Config{Defaults: policy.Defaults{Workspace: []string{"proxy.golang.org"}}}, js, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	created, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: "own-users", WorkspaceFirewallAllowedDomains: []string{"example.com"}})
	require.NoError(t, err)
	id := created.Workspace.Id
	got, err := env.Client.GetWorkspace(ctx, &workspacev1.GetWorkspaceRequest{Id: id})
	require.NoError(t, err)
	require.Equal(t, "own-users", got.Workspace.Name)
	require.Eventually(t, func() bool {
		fw, err := env.Client.GetFirewall(ctx, &workspacev1.GetFirewallRequest{Id: id})
		require.NoError(t, err)
		return len(fw.Firewall.Status.WorkspaceEffectiveAllowedDomains) == 2
	}, 10*time.Second, 20*time.Millisecond, "the firewall's status report reached the api")
	kv, err := js.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	_, err = kv.Get(ctx, id)
	require.NoError(t, err, "the firewall wrote the policy under its own user")

	// The api's user, with the api's own connection options (its inbox).
	api := env.Users.Connect(t, bus.RoleAPI)
	for _, subject := range []string{"$KV." + bus.BucketFirewall + "." + id, event.StatusSubject(id)} {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := api.JS.Publish(pctx, subject, []byte("forged"))
		pcancel()
		require.Error(t, err, subject)
		api.RequireRefused(t, "Publish", subject)
	}
	entry, err := kv.Get(ctx, id)
	require.NoError(t, err)
	require.NotEqual(t, "forged", string(entry.Value()))
}
