package store

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

// entry is a KV entry holding a workspace record.
type entry struct {
	jetstream.KeyValueEntry
	key   string
	value []byte
}

func (e entry) Key() string      { return e.key }
func (e entry) Value() []byte    { return e.value }
func (e entry) Revision() uint64 { return 1 }

func recordEntry(t *testing.T, id string) jetstream.KeyValueEntry {
	t.Helper()
	b, err := proto.Marshal(&storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{Id: id}})
	require.NoError(t, err)
	return entry{key: Key(id), value: b}
}

func TestCollect(t *testing.T) {
	t.Run("complete listing ends at the nil entry", func(t *testing.T) {
		ch := make(chan jetstream.KeyValueEntry, 3)
		ch <- recordEntry(t, "a")
		ch <- recordEntry(t, "b")
		ch <- nil
		recs, err := collect(context.Background(), ch)
		require.NoError(t, err)
		require.Len(t, recs, 2)
	})
	t.Run("a watcher that closes early is an error, not a partial list", func(t *testing.T) {
		ch := make(chan jetstream.KeyValueEntry, 1)
		ch <- recordEntry(t, "a")
		close(ch)
		recs, err := collect(context.Background(), ch)
		require.ErrorIs(t, err, ErrListIncomplete)
		require.Nil(t, recs)
	})
	t.Run("a context cancelled mid-listing is an error", func(t *testing.T) {
		ch := make(chan jetstream.KeyValueEntry, 1)
		ch <- recordEntry(t, "a")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := collect(ctx, ch)
			done <- err
		}()
		require.Eventually(t, func() bool { return len(ch) == 0 }, 10*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}
