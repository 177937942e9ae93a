// Package activity records the last time a person or an agent did something
// in the workspace: an API call that does work, input to a session, a
// running agent session. Health checks, pings and idle connections never
// count. Idle auto-stop reads it.
package activity

import (
	"sync"
	"time"
)

// Snapshot is the activity signal at one moment.
type Snapshot struct {
	// Last is when a person or an agent last did something; zero if never.
	Last time.Time `json:"last_activity"`
	// Source names what did it, e.g. "exec" or "session.input".
	Source string `json:"source,omitempty"`
	// Active is true while something holds the workspace busy (a running
	// agent session); Last is then the time of the snapshot.
	Active bool `json:"active"`
}

// Tracker is safe for concurrent use. The zero value is not usable: call New.
type Tracker struct {
	mu     sync.Mutex
	last   time.Time
	source string
	holds  map[string]int
	now    func() time.Time
}

// New returns a tracker that has seen no activity.
func New() *Tracker {
	return &Tracker{holds: map[string]int{}, now: time.Now}
}

// Touch records activity from source now.
func (t *Tracker) Touch(source string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last, t.source = t.now(), source
}

// Hold marks the workspace active until release is called (once; later
// calls do nothing). Release records the end as activity.
func (t *Tracker) Hold(source string) (release func()) {
	t.mu.Lock()
	t.holds[source]++
	t.last, t.source = t.now(), source
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.holds[source]--; t.holds[source] <= 0 {
				delete(t.holds, source)
			}
			t.last, t.source = t.now(), source
		})
	}
}

// Snapshot returns the signal now.
func (t *Tracker) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	for source := range t.holds {
		return Snapshot{Last: t.now(), Source: source, Active: true}
	}
	return Snapshot{Last: t.last, Source: t.source}
}
