package provisioner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBehindTakesAnOlderRecordForALaggingReplica: a record read at an older
// revision than its event announced (or not found at all) is retried, not
// converged to, for readLagWindow; a deleted event ends that.
func TestBehindTakesAnOlderRecordForALaggingReplica(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	p := &Provisioner{announced: map[string]announcement{}, now: func() time.Time { return now }}
	require.NoError(t, p.behind("ws", 0), "nothing announced: any read is the truth")

	p.announce("ws", 7, false)
	require.Error(t, p.behind("ws", 6), "older than announced")
	require.Error(t, p.behind("ws", 0), "not found, though an event announced the record")
	require.NoError(t, p.behind("ws", 7))
	require.NoError(t, p.behind("ws", 8))

	p.announce("ws", 5, false) // a late, older event does not lower the bar
	require.Error(t, p.behind("ws", 6))

	now = now.Add(readLagWindow + time.Second)
	require.NoError(t, p.behind("ws", 6), "a difference that lasts is the truth")

	p.announce("ws", 9, false)
	p.announce("ws", 9, true)
	require.NoError(t, p.behind("ws", 0), "deleted: not found is the truth")
}
