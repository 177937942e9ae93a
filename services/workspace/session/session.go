// Package session keeps long-running processes by tag: each keeps its
// recent output in a bounded buffer, so a client can detach, re-attach and
// get a replay; input and signals can be sent; an exited session stays
// listed, with its exit, until it is removed.
package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"aileron.dev/services/workspace/exec"
)

// Errors of the manager.
var (
	ErrNotFound     = errors.New("no such session")
	ErrExists       = errors.New("a running session has this tag")
	ErrTagInvalid   = errors.New("tag must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	ErrLimit        = errors.New("too many sessions")
	ErrInputClosed  = errors.New("session input is closed")
	ErrInputBlocked = errors.New("session did not read its input in time")
)

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Spec is a session to start.
type Spec struct {
	// Tag names the session.
	Tag string
	// Command is what it runs; its Stdin and Timeout are ignored.
	Command exec.Spec
	// Agent marks an agent run: the workspace counts as active while it runs.
	Agent bool
}

// Info describes a session.
type Info struct {
	Tag       string     `json:"tag"`
	Argv      []string   `json:"argv,omitempty"`
	Shell     string     `json:"shell,omitempty"`
	Pid       int        `json:"pid"`
	Agent     bool       `json:"agent,omitempty"`
	Running   bool       `json:"running"`
	StartedAt time.Time  `json:"started_at"`
	ExitedAt  *time.Time `json:"exited_at,omitempty"`
	Exit      *exec.Exit `json:"exit,omitempty"`
	// NextSeq is the sequence number the next output event will get.
	NextSeq uint64 `json:"next_seq"`
}

// Holder marks the workspace busy while an agent session runs.
type Holder interface {
	Hold(source string) (release func())
}

// Limits bound the manager.
type Limits struct {
	// Max is the most sessions kept, running or exited.
	Max int
	// BufferBytes is each session's output buffer.
	BufferBytes int
	// InputTimeout bounds a write to a session that does not read its
	// input; 0 means 5 s.
	InputTimeout time.Duration
}

// Manager keeps the sessions.
type Manager struct {
	limits  Limits
	starter exec.Starter
	holder  Holder
	mu      sync.Mutex
	byTag   map[string]*Session
}

// NewManager returns an empty manager. starter and holder may be nil.
func NewManager(l Limits, starter exec.Starter, holder Holder) *Manager {
	if l.InputTimeout <= 0 {
		l.InputTimeout = 5 * time.Second
	}
	return &Manager{limits: l, starter: starter, holder: holder, byTag: map[string]*Session{}}
}

// Session is one running or exited process.
type Session struct {
	spec    Spec
	proc    *exec.Proc
	stdin   *os.File
	inMu    sync.Mutex
	inWait  time.Duration
	ring    *ring
	started time.Time
	done    chan struct{}
	mu      sync.Mutex // guards exit, exitedAt
	exit    *exec.Exit
	exited  time.Time
}

// Start starts a session. A tag held by an exited session is reused. The
// session outlives ctx (the request that started it).
func (m *Manager) Start(ctx context.Context, s Spec) (*Session, error) {
	if !tagPattern.MatchString(s.Tag) {
		return nil, ErrTagInvalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.byTag[s.Tag]; ok && old.Running() {
		return nil, fmt.Errorf("%w: %s", ErrExists, s.Tag)
	}
	if _, reuse := m.byTag[s.Tag]; !reuse && len(m.byTag) >= m.limits.Max {
		return nil, fmt.Errorf("%w: at most %d, remove exited ones", ErrLimit, m.limits.Max)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	cmd := s.Command
	cmd.Stdin, cmd.Timeout = inR, 0
	proc, err := exec.Start(context.WithoutCancel(ctx), cmd, m.starter)
	inR.Close()
	if err != nil {
		inW.Close()
		return nil, err
	}
	sess := &Session{spec: s, proc: proc, stdin: inW, inWait: m.limits.InputTimeout, ring: newRing(m.limits.BufferBytes), started: time.Now(), done: make(chan struct{})}
	release := func() {}
	if s.Agent && m.holder != nil {
		release = m.holder.Hold("agent:" + s.Tag)
	}
	go sess.collect(release)
	m.byTag[s.Tag] = sess
	return sess, nil
}

// collect moves output into the ring until the process ends, then records
// the exit.
func (s *Session) collect(release func()) {
	defer release()
	exit := s.proc.Stream(func(c exec.Chunk) error {
		s.ring.append(string(c.Stream), c.Data, nil)
		return nil
	})
	s.mu.Lock()
	s.exit, s.exited = &exit, time.Now()
	s.mu.Unlock()
	s.stdin.Close()
	// Done before the exit event: whoever saw the exit sees it not running.
	close(s.done)
	s.ring.append(KindExit, nil, &exit)
}

// Get returns the session with tag.
func (m *Manager) Get(tag string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byTag[tag]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, tag)
	}
	return s, nil
}

// List describes every session, sorted by tag.
func (m *Manager) List() []Info {
	m.mu.Lock()
	out := make([]Info, 0, len(m.byTag))
	for _, s := range m.byTag {
		out = append(out, s.Info())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.Tag, b.Tag) })
	return out
}

// Remove kills the session's process group if it runs, waits for it to end
// (or ctx) and forgets it.
func (m *Manager) Remove(ctx context.Context, tag string) error {
	s, err := m.Get(tag)
	if err != nil {
		return err
	}
	if s.Running() {
		// Only while running: the group id of a reaped process may be reused.
		_ = s.proc.Signal(syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byTag[tag] == s {
		delete(m.byTag, tag)
	}
	return nil
}

// Close kills every session and waits for them, or ctx.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	tags := make([]string, 0, len(m.byTag))
	for t := range m.byTag {
		tags = append(tags, t)
	}
	m.mu.Unlock()
	var errs []error
	for _, t := range tags {
		if err := m.Remove(ctx, t); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
