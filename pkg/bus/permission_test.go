package bus_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/bus/bustest"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/logtest"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// open is bus.Open as role, each service's start-up, with a bounded context.
func open(t *testing.T, s *bustest.Server, role bus.Role) jetstream.JetStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := bus.Open(ctx, s.URL(role.User), role, "", bus.SetupConfig{})
	require.NoError(t, err, "%s starts under its own user", role.User)
	t.Cleanup(nc.Close)
	return js
}

// consumeOne runs the service's consumer until it has handled one message
// and returns that message's subject.
func consumeOne(t *testing.T, js jetstream.JetStream, durable string, filters ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan string, 1)
	err := event.Consume(ctx, js, event.ConsumerConfig{Durable: durable, FilterSubjects: filters}, slog.Default(),
		func(_ context.Context, m jetstream.Msg) error {
			select {
			case got <- m.Subject():
				cancel()
			default:
			}
			return nil
		})
	require.NoError(t, err, "consumer %s", durable)
	select {
	case s := <-got:
		return s
	default:
		t.Fatalf("consumer %s received nothing", durable)
		return ""
	}
}

// TestRolesWorkUnderTheirOwnUsers runs what each service does on NATS under
// its own user, in the order a fresh installation may start them (a
// provisioner before the api): setup, its buckets, its subjects, its
// consumer. A permission missing from a role fails here.
func TestRolesWorkUnderTheirOwnUsers(t *testing.T) {
	s := bustest.Start(t)
	ctx := context.Background()

	k8s := open(t, s, bus.RoleK8sProvisioner) // first: creates what it uses
	fw := open(t, s, bus.RoleFirewall)
	apiJS := open(t, s, bus.RoleAPI)
	docker := open(t, s, bus.RoleDockerProvisioner)

	// api: workspace records (create, CAS update, list by watch), events,
	// audit, the front-door key, its outbox check and its status consumer.
	st, err := store.Open(ctx, apiJS)
	require.NoError(t, err)
	rec := &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{Id: "w1", Name: "one", Provisioner: string(workspace.ProvisionerDocker)}}
	rev, err := st.Create(ctx, rec)
	require.NoError(t, err)
	_, err = st.Update(ctx, rec, rev)
	require.NoError(t, err)
	require.NoError(t, st.ClaimName(ctx, "owner", "one", "w1", time.Now()))
	list, err := st.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	created := event.WorkspaceSubject(workspace.ProvisionerDocker, "w1", event.TypeCreated)
	require.NoError(t, event.Publish(ctx, apiJS, created, "w1-1", wrapperspb.String("created")))
	require.NoError(t, event.Publish(ctx, apiJS, event.AuditSubject("refused", "CreateWorkspace"), "a1", wrapperspb.String("audit")))
	key, err := frontdoor.LoadKey(ctx, apiJS)
	require.NoError(t, err)
	events, err := apiJS.Stream(ctx, bus.StreamName)
	require.NoError(t, err)
	_, err = events.GetLastMsgForSubject(ctx, event.WorkspaceIDFilter(workspace.ProvisionerDocker, "w1"))
	require.NoError(t, err)

	// firewall: reads records, writes the firewall bucket, publishes a
	// policy and its status, consumes workspace events.
	fwStore, err := store.Open(ctx, fw)
	require.NoError(t, err)
	_, err = fwStore.Get(ctx, "w1")
	require.NoError(t, err)
	_, err = fwStore.List(ctx)
	require.NoError(t, err)
	policies, err := fw.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	_, err = policies.Put(ctx, "w1", []byte("policy"))
	require.NoError(t, err)
	_, err = policies.Get(ctx, "w1")
	require.NoError(t, err)
	require.NoError(t, policies.Purge(ctx, "w0"))
	_, err = policies.Put(ctx, "w1", []byte("policy v2"))
	require.NoError(t, err)
	require.NoError(t, event.Publish(ctx, fw, event.FirewallPolicySubject(workspace.ProvisionerDocker, "w1"), "p1", wrapperspb.String("policy")))
	require.NoError(t, event.Publish(ctx, fw, event.FirewallStatusSubject("w1"), "f1", wrapperspb.String("applied")))
	require.Equal(t, created, consumeOne(t, fw, bus.ConsumerFirewall, event.AllWorkspacesFilter))

	// docker provisioner: records, policies, both of its secrets, status,
	// its consumer of workspace events and policies.
	dStore, err := store.Open(ctx, docker)
	require.NoError(t, err)
	_, err = dStore.List(ctx)
	require.NoError(t, err)
	dPolicies, err := docker.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	e, err := dPolicies.Get(ctx, "w1")
	require.NoError(t, err)
	require.Equal(t, "policy v2", string(e.Value()))
	dKey, err := frontdoor.LoadKey(ctx, docker)
	require.NoError(t, err)
	require.Equal(t, key, dKey, "the provisioner reads the api's front-door key")
	_, err = bus.LoadOrCreateSecret(ctx, docker, bus.SecretDockerInstance, func() ([]byte, error) { return []byte("i1"), nil })
	require.NoError(t, err)
	require.NoError(t, event.Publish(ctx, docker, event.StatusSubject("w1"), "s1", wrapperspb.String("running")))
	require.Equal(t, created, consumeOne(t, docker, bus.ConsumerDockerProvisioner,
		event.WorkspaceFilter(workspace.ProvisionerDocker), event.FirewallPolicyFilter(workspace.ProvisionerDocker)))

	// k8s provisioner: records, status, its consumer (and its info, a metric).
	kStore, err := store.Open(ctx, k8s)
	require.NoError(t, err)
	_, err = kStore.List(ctx)
	require.NoError(t, err)
	require.NoError(t, event.Publish(ctx, k8s, event.StatusSubject("w2"), "s2", wrapperspb.String("running")))
	require.NoError(t, event.Publish(ctx, apiJS, event.WorkspaceSubject(workspace.ProvisionerKubernetes, "w2", event.TypeCreated), "w2-1", wrapperspb.String("created")))
	consumeOne(t, k8s, bus.ConsumerK8sProvisioner, event.WorkspaceFilter(workspace.ProvisionerKubernetes))
	_, err = k8s.Consumer(ctx, bus.StreamName, bus.ConsumerK8sProvisioner)
	require.NoError(t, err)

	// And the api reads the reports.
	require.True(t, strings.HasPrefix(consumeOne(t, apiJS, bus.ConsumerOrchestratorStatus, event.StatusFilter), "aileron.status."))
}

// publishRefused publishes to subject as c and requires the server to refuse
// it: JetStream never answers, and the violation names the subject.
func publishRefused(t *testing.T, c *bustest.Conn, subject string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.JS.Publish(ctx, subject, []byte("forged"))
	require.Error(t, err, "publish to %s", subject)
	c.RequireRefused(t, "Publish", subject)
}

// TestRolesAreRefusedWhatIsNotTheirs: the internet-facing api cannot write
// the firewall bucket, forge a provisioner's or the firewall's report, read
// another service's secret or take over another service's consumer; a
// provisioner cannot read the front-door key it has no use for, nor listen
// to another service's replies.
func TestRolesAreRefusedWhatIsNotTheirs(t *testing.T) {
	s := bustest.Start(t)
	ctx := context.Background()
	open(t, s, bus.RoleFirewall)
	open(t, s, bus.RoleAPI)
	admin := s.ConnectAdmin(t)

	api := s.Connect(t, bus.RoleAPI)
	publishRefused(t, api, "$KV."+bus.BucketFirewall+".w1")
	publishRefused(t, api, event.StatusSubject("w1"))
	publishRefused(t, api, event.FirewallStatusSubject("w1"))
	publishRefused(t, api, event.FirewallPolicySubject(workspace.ProvisionerDocker, "w1"))
	publishRefused(t, api, "$KV."+bus.BucketSecrets+"."+bus.SecretDockerInstance)
	// A refused request is never answered: bound the wait.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := api.JS.KeyValue(short, bus.BucketFirewall)
	require.Error(t, err)
	api.RequireRefused(t, "Publish", "$JS.API.STREAM.INFO.KV_"+bus.BucketFirewall)
	short, cancel = context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = api.JS.CreateOrUpdateConsumer(short, bus.StreamName, jetstream.ConsumerConfig{Durable: bus.ConsumerFirewall, FilterSubjects: []string{"aileron.none.>"}})
	require.Error(t, err)
	api.RequireRefused(t, "Publish", "$JS.API.CONSUMER.CREATE."+bus.StreamName+"."+bus.ConsumerFirewall)

	policies, err := admin.JS.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	_, err = policies.Get(ctx, "w1")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "nothing the api sent reached the firewall bucket")

	k8s := s.Connect(t, bus.RoleK8sProvisioner)
	short, cancel = context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = frontdoor.LoadKey(short, k8s.JS)
	require.Error(t, err)
	k8s.RequireRefused(t, "Publish", "$JS.API.STREAM.INFO.KV_"+bus.BucketSecrets)
	_, err = k8s.NC.SubscribeSync(bus.RoleAPI.InboxPrefix() + ".>")
	require.NoError(t, err) // refused asynchronously
	k8s.RequireRefused(t, "Subscription", bus.RoleAPI.InboxPrefix()+".>")
	publishRefused(t, k8s, created(workspace.ProvisionerKubernetes))
}

func created(p workspace.Provisioner) string {
	return event.WorkspaceSubject(p, "w9", event.TypeCreated)
}

// TestOpenWithAnotherRolesUserFails: a service given another service's
// credentials (a firewall with the api's password) fails at start-up, with
// the refused subject in its error and its log, instead of running without
// its bucket.
func TestOpenWithAnotherRolesUserFails(t *testing.T) {
	s := bustest.Start(t)
	start := time.Now()
	var logs logtest.Lines
	// No deadline, as at a service's start: each JetStream call times out
	// on its own (5 s).
	_, _, err := bus.Open(context.Background(), s.URL(bus.RoleAPI.User), bus.RoleFirewall, "", bus.SetupConfig{},
		bus.LogErrors(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Error(t, err)
	require.True(t, errors.Is(err, nats.ErrPermissionViolation), "error names the permission violation: %v", err)
	assert.Contains(t, err.Error(), "Permissions Violation for Subscription to \"_INBOX.firewall.", "the firewall's inbox is not the api's")
	assert.Less(t, time.Since(start), 20*time.Second, "fails at start-up")
	assert.Contains(t, logs.String(), "level=ERROR msg=\"nats refused an operation this service's user may not do\"")
	assert.Contains(t, logs.String(), "_INBOX.firewall.")
}

// TestPermissionsNameTheSharedConstants: the lists are built from the names
// the services use; a rename moves them (the chart's copy is checked in
// deploy/test).
func TestPermissionsNameTheSharedConstants(t *testing.T) {
	p := bus.RoleFirewall.Permissions()
	assert.Contains(t, p.Publish, "$KV."+bus.BucketFirewall+".>")
	assert.Contains(t, p.Publish, "$JS.API.STREAM.UPDATE.KV_"+bus.BucketFirewall)
	assert.Contains(t, p.Subscribe, "_INBOX.firewall.>")
	for _, r := range []bus.Role{bus.RoleAPI, bus.RoleDockerProvisioner, bus.RoleK8sProvisioner} {
		for _, subj := range r.Permissions().Publish {
			assert.NotContains(t, subj, "$KV."+bus.BucketFirewall+".", "%s writes the firewall bucket", r.User)
			assert.NotContains(t, subj, "STREAM.UPDATE.KV_"+bus.BucketFirewall, "%s reconfigures the firewall bucket", r.User)
		}
	}
}

// TestChartPermissionsAreGenerated fails when the chart's copy of the
// permissions drifts from the roles: run `go run ./pkg/bus/gen`.
func TestChartPermissionsAreGenerated(t *testing.T) {
	want, err := bus.ChartPermissions()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join("..", "..", bus.ChartPermissionsFile))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "%s is stale: run `go run ./pkg/bus/gen` (make generate)", bus.ChartPermissionsFile)
}
