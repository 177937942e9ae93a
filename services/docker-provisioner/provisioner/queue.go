package provisioner

import (
	"sync"
	"time"
)

// queue hands workspace ids to workers. An id is never processed by two
// workers at once: adding an id that is being processed marks it dirty and
// it is queued again when its worker is done. Repeated adds of a queued id
// coalesce, so a burst of events costs one reconcile.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending []string
	queued  map[string]bool
	active  map[string]bool
	dirty   map[string]bool
	// changed is closed when an active id becomes dirty.
	changed map[string]chan struct{}
	closed  bool
}

func newQueue() *queue {
	q := &queue{queued: map[string]bool{}, active: map[string]bool{}, dirty: map[string]bool{}, changed: map[string]chan struct{}{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues id for reconciliation.
func (q *queue) Add(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.active[id] {
		if !q.dirty[id] {
			q.dirty[id] = true
			close(q.changed[id])
		}
		return
	}
	if q.queued[id] {
		return
	}
	q.queued[id] = true
	q.pending = append(q.pending, id)
	q.cond.Signal()
}

// AddAfter queues id after d.
func (q *queue) AddAfter(id string, d time.Duration) {
	if d <= 0 {
		q.Add(id)
		return
	}
	time.AfterFunc(d, func() { q.Add(id) })
}

// Get blocks until an id is available; ok is false once the queue is closed.
func (q *queue) Get() (id string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	id, q.pending = q.pending[0], q.pending[1:]
	delete(q.queued, id)
	q.active[id] = true
	q.changed[id] = make(chan struct{})
	return id, true
}

// Changed returns a channel closed once id, being processed, is added again:
// the pass in progress may stop waiting, as another one is queued. It is nil
// (never closed) for an id nobody is processing.
func (q *queue) Changed(id string) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed[id]
}

// Done releases id; if it was added while processing it is queued again.
func (q *queue) Done(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, id)
	delete(q.changed, id)
	if q.dirty[id] && !q.closed {
		delete(q.dirty, id)
		q.queued[id] = true
		q.pending = append(q.pending, id)
		q.cond.Signal()
	}
}

// Close wakes every waiting worker; Get returns false from now on.
func (q *queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Len returns the number of ids waiting for a worker.
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}
