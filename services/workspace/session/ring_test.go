package session

import (
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/exec"
)

func TestRing(t *testing.T) {
	r := newRing(3 * (eventOverhead + 1))
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		r.append(KindStdout, []byte(d), nil)
	}
	tests := []struct {
		name string
		from uint64
		want []string // kind:data, or gap:lost
	}{
		{"from the start: a gap, then what is kept", 0, []string{"gap:2", "stdout:c", "stdout:d", "stdout:e"}},
		{"from what is kept", 3, []string{"stdout:d", "stdout:e"}},
		{"from the future", 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, next, done, _ := r.read(tt.from)
			var got []string
			for _, e := range events {
				if e.Kind == KindGap {
					got = append(got, "gap:"+string(rune('0'+e.Lost)))
					continue
				}
				got = append(got, e.Kind+":"+string(e.Data))
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, uint64(5), next)
			require.False(t, done)
		})
	}
	r.append(KindExit, nil, &exec.Exit{Code: 0})
	events, _, done, _ := r.read(5)
	require.True(t, done)
	require.Len(t, events, 1)
	require.Equal(t, KindExit, events[0].Kind)
}

// TestBuffer: the exported buffer is the ring, bounded the same way.
func TestBuffer(t *testing.T) {
	b := NewBuffer(2 * (eventOverhead + 4))
	for _, d := range []string{"one.", "two.", "six."} {
		b.Append(KindStdout, []byte(d), nil)
	}
	require.LessOrEqual(t, b.Bytes(), 2*(eventOverhead+4))
	events, next, done, _ := b.Read(0)
	require.Equal(t, uint64(3), next)
	require.False(t, done)
	require.Equal(t, KindGap, events[0].Kind)
	require.Equal(t, "six.", string(events[len(events)-1].Data))
}
