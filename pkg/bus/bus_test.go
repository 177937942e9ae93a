package bus_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/event"
)

// TestSetupSplitsAudit: on a store made before audit had its own stream
// (AILERON capturing aileron.>), Setup moves audit to AILERON_AUDIT, the
// records already in AILERON stay, and a full audit stream drops its oldest
// records while events and bucket writes go on.
func TestSetupSplitsAudit(t *testing.T) {
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), InProcess: true, Sync: "always"})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	nc, js, err := bus.Connect("", t.Name(), nats.InProcessServer(ns))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx := context.Background()

	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: bus.StreamName, Subjects: []string{"aileron.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = js.Publish(ctx, event.AuditSubject("refused", "Old"), []byte("old"))
	require.NoError(t, err)

	const auditMax = 64 << 10
	require.NoError(t, bus.Setup(ctx, js, bus.SetupConfig{AuditMaxBytes: auditMax}))
	require.NoError(t, bus.Setup(ctx, js, bus.SetupConfig{AuditMaxBytes: auditMax}), "idempotent")

	main, err := js.Stream(ctx, bus.StreamName)
	require.NoError(t, err)
	require.Equal(t, bus.StreamSubjects, main.CachedInfo().Config.Subjects)
	require.Equal(t, int64(bus.DefaultMaxBytes), main.CachedInfo().Config.MaxBytes)
	require.Equal(t, jetstream.DiscardNew, main.CachedInfo().Config.Discard)
	require.Equal(t, uint64(1), main.CachedInfo().State.Msgs, "old audit record kept until it ages out")

	audit, err := js.Stream(ctx, bus.AuditStreamName)
	require.NoError(t, err)
	require.Equal(t, jetstream.DiscardOld, audit.CachedInfo().Config.Discard)

	blob := bytes.Repeat([]byte("x"), 4<<10)
	for i := 0; i < 100; i++ { // 400 KiB into a 64 KiB stream
		ack, err := js.Publish(ctx, event.AuditSubject("refused", "CreateWorkspace"), blob)
		require.NoError(t, err)
		require.Equal(t, bus.AuditStreamName, ack.Stream)
	}
	info, err := audit.Info(ctx)
	require.NoError(t, err)
	require.LessOrEqual(t, info.State.Bytes, uint64(auditMax))
	require.Greater(t, info.State.Msgs, uint64(0))
	require.Greater(t, info.State.FirstSeq, uint64(1), "oldest records dropped")

	ack, err := js.Publish(ctx, event.StatusSubject("w1"), []byte("status"))
	require.NoError(t, err)
	require.Equal(t, bus.StreamName, ack.Stream)
	kv, err := js.KeyValue(ctx, bus.BucketWorkspaces)
	require.NoError(t, err)
	_, err = kv.Put(ctx, "w1", []byte("record"))
	require.NoError(t, err)
}
