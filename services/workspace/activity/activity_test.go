package activity

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTracker(t *testing.T) {
	clock := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tr := New()
	tr.now = func() time.Time { return clock }

	require.True(t, tr.Snapshot().Last.IsZero(), "no activity yet")

	tr.Touch("exec")
	require.Equal(t, Snapshot{Last: clock, Source: "exec"}, tr.Snapshot())

	release := tr.Hold("agent")
	clock = clock.Add(time.Hour)
	require.Equal(t, Snapshot{Last: clock, Source: "agent", Active: true}, tr.Snapshot(), "a hold is activity now")

	clock = clock.Add(time.Minute)
	release()
	release() // a second release does nothing
	clock = clock.Add(time.Hour)
	require.Equal(t, Snapshot{Last: clock.Add(-time.Hour), Source: "agent"}, tr.Snapshot(), "the end of a hold is the last activity")
}
