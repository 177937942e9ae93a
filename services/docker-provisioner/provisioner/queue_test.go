package provisioner

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueueSerialisesAndCoalesces(t *testing.T) {
	q := newQueue()
	q.Add("a")
	q.Add("a")
	q.Add("b")
	id, ok := q.Get()
	require.True(t, ok)
	require.Equal(t, "a", id)
	changed := q.Changed("a")
	require.NotNil(t, changed)
	require.Nil(t, q.Changed("b"), "b is not being processed")
	q.Add("a") // while a is active: marked dirty, not handed out twice
	q.Add("a")
	select {
	case <-changed:
	default:
		t.Fatal("the pass in progress is not told that a changed")
	}
	id, _ = q.Get()
	require.Equal(t, "b", id)
	q.Done("b")
	q.Done("a") // a comes back once
	id, _ = q.Get()
	require.Equal(t, "a", id)
	q.Done("a")

	var wg sync.WaitGroup
	wg.Go(func() {
		_, ok := q.Get()
		require.False(t, ok)
	})
	q.Close()
	wg.Wait()
	q.Add("c")
	_, ok = q.Get()
	require.False(t, ok, "a closed queue hands out nothing")
}
