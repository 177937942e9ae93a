package orchestrator_test

import (
	"context"
	"fmt"
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
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
)

// TestSweeperPublishesAWriteThatLandsLate: a write whose answer was lost
// (a NATS failover) can land after the sweeper first looked at the record
// and found its event in the stream. The sweeper keeps looking and
// publishes the event the record then holds. (Seen under load in the
// natscluster failover test: a stop's event was never published.)
func TestSweeperPublishesAWriteThatLandsLate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, js, err := bus.Connect(ns.ClientURL(), t.Name())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.NoError(t, bus.Setup(ctx, js, bus.SetupConfig{}))
	st, err := store.Open(ctx, js)
	require.NoError(t, err)

	cfg := orchestrator.DefaultConfig()
	cfg.SweepInterval = 20 * time.Millisecond
	o, err := orchestrator.New(cfg, js, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, o.Init(ctx))
	go o.Run(ctx)

	w, err := o.Create(ctx, "alice", &workspacev1.CreateWorkspaceRequest{Name: "late"})
	require.NoError(t, err)
	sub, err := nc.SubscribeSync(event.WorkspaceSubject(workspace.ProvisionerDocker, w.Id, event.TypeStopRequested))
	require.NoError(t, err)

	// The stop's write failed as far as the orchestrator knows; the sweeper
	// looks and finds the create's event, the record's last, in the stream.
	o.RetryPublish(w.Id)
	time.Sleep(10 * cfg.SweepInterval)

	// Then the write lands.
	rec, err := st.Get(ctx, w.Id)
	require.NoError(t, err)
	rec.Workspace.State = string(workspace.StateStopping)
	rec.Workspace.Generation++
	rec.EventSequence++
	rec.LastEvent = &eventsv1.WorkspaceEvent{Id: fmt.Sprintf("%s-%d", w.Id, rec.EventSequence), Type: event.TypeStopRequested, Sequence: rec.EventSequence}
	_, err = st.Update(ctx, rec, rec.Workspace.Revision)
	require.NoError(t, err)

	msg, err := sub.NextMsg(30 * time.Second)
	require.NoError(t, err, "the stop's event was never published")
	ev := &eventsv1.WorkspaceEvent{}
	require.NoError(t, proto.Unmarshal(msg.Data, ev))
	require.Equal(t, rec.EventSequence, ev.Sequence)
	require.Equal(t, string(workspace.StateStopping), ev.Workspace.State)
}
