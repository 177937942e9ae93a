package session

import (
	"sync"

	"aileron.dev/services/workspace/exec"
)

// Event kinds of a session's output.
const (
	KindStdout = "stdout"
	KindStderr = "stderr"
	KindExit   = "exit"
	// KindGap says Lost events fell out of the buffer before a reader got them.
	KindGap = "gap"
)

// Event is one entry of a session's output, numbered by Seq from 0.
type Event struct {
	Seq  uint64
	Kind string
	Data []byte
	Exit *exec.Exit
	Lost uint64
}

// eventOverhead is what an event costs beyond its data, so a flood of
// one-byte writes is bounded too.
const eventOverhead = 64

// ring keeps the most recent output of a session, at most max bytes, and
// wakes readers when it grows. Writers never wait for readers.
type ring struct {
	mu     sync.Mutex
	events []Event
	bytes  int
	max    int
	next   uint64
	closed bool
	grown  chan struct{}
}

func newRing(max int) *ring {
	return &ring{max: max, grown: make(chan struct{})}
}

// append adds an event and drops the oldest beyond the cap (the last
// event always stays).
func (r *ring) append(kind string, data []byte, exit *exec.Exit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Seq: r.next, Kind: kind, Data: data, Exit: exit})
	r.next++
	r.bytes += len(data) + eventOverhead
	for r.bytes > r.max && len(r.events) > 1 {
		r.bytes -= len(r.events[0].Data) + eventOverhead
		r.events[0] = Event{}
		r.events = r.events[1:]
	}
	if exit != nil {
		r.closed = true
	}
	close(r.grown)
	r.grown = make(chan struct{})
}

// read returns the events from seq on, with a gap event first when some
// were dropped, the seq to read next, whether no more will come, and a
// channel closed when more arrive.
func (r *ring) read(from uint64) (events []Event, next uint64, done bool, grown <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) > 0 && from < r.events[0].Seq {
		events = append(events, Event{Seq: from, Kind: KindGap, Lost: r.events[0].Seq - from})
		from = r.events[0].Seq
	}
	if len(r.events) > 0 && from <= r.events[len(r.events)-1].Seq {
		events = append(events, r.events[from-r.events[0].Seq:]...)
	}
	// Once closed, the events returned run through the exit.
	return events, r.next, r.closed, r.grown
}

// Buffer is the bounded replay buffer of a session, for other streams that
// re-attach the same way (the terminal's output). It keeps at most max
// bytes (plus a small cost per write) and never makes a writer wait.
type Buffer struct{ r *ring }

// NewBuffer returns an empty buffer of max bytes.
func NewBuffer(max int) *Buffer { return &Buffer{r: newRing(max)} }

// Append adds an event of kind; an exit event (exit not nil) is the last.
func (b *Buffer) Append(kind string, data []byte, exit *exec.Exit) { b.r.append(kind, data, exit) }

// Read returns the events from seq from on (a gap event first when some
// were dropped), the seq to read next, whether the exit was read, and a
// channel closed when more arrive.
func (b *Buffer) Read(from uint64) (events []Event, next uint64, done bool, grown <-chan struct{}) {
	return b.r.read(from)
}

// Bytes is what the buffer holds now, as it counts it.
func (b *Buffer) Bytes() int {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	return b.r.bytes
}
