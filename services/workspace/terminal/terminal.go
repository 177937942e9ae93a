// Package terminal keeps the workspace's interactive terminals: a login
// shell on a PTY per terminal, by id (a console's tabs), whose recent
// output stays in a bounded replay buffer so a client can leave and
// re-attach to the same shell. Handler serves them over a WebSocket;
// docs/terminal.md is the protocol.
package terminal

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"

	"aileron.dev/services/workspace/exec"
)

// Errors of the manager.
var (
	ErrNotFound    = errors.New("no such terminal")
	ErrExists      = errors.New("a running terminal has this id")
	ErrIDInvalid   = errors.New("terminal id must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	ErrLimit       = errors.New("too many terminals")
	ErrClientLimit = errors.New("too many clients attached to this terminal")
	ErrSizeInvalid = errors.New("cols and rows must be 1-1000")
	ErrExited      = errors.New("the terminal's shell has exited")
	ErrInputBlock  = errors.New("the terminal did not take its input in time")
	ErrClosed      = errors.New("terminal manager is closed")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Limits bound what clients can make the manager hold.
type Limits struct {
	// Max is the most terminals kept; an exited one makes room for a new one.
	Max int
	// MaxClients is the most WebSockets attached to one terminal; 0 means 8.
	MaxClients int
	// BufferBytes is each terminal's replay buffer.
	BufferBytes int
	// MaxFrameBytes is the largest WebSocket message a client may send.
	MaxFrameBytes int64
	// WriteTimeout drops a client that took no output for this long; the
	// shell keeps running.
	WriteTimeout time.Duration
	// PingInterval is how often an idle client is pinged, so a vanished one
	// is dropped; 0 means 30 s.
	PingInterval time.Duration
	// InputTimeout bounds a write to a shell that does not read; 0 means 5 s.
	InputTimeout time.Duration
}

// Toucher records activity; *activity.Tracker is one.
type Toucher interface {
	Touch(source string)
}

// Options configure a Manager.
type Options struct {
	Limits Limits
	// Dir is where shells start (the workspace root).
	Dir string
	// Shell is the program run as a login shell; empty picks LoginShell.
	Shell string
	// Env is added to the daemon's environment, KEY=VALUE each.
	Env []string
	// OriginPatterns are the extra origin hosts (path.Match patterns, e.g.
	// "*.example.com" or "localhost:3000") allowed besides the request's own
	// host.
	OriginPatterns []string
	// Starter starts shells (the PID 1 reaper); nil starts them plainly.
	Starter exec.Starter
	// Activity is told about terminal input; nil ignores it.
	Activity Toucher
	Log      *slog.Logger
}

// Manager keeps the terminals.
type Manager struct {
	opts    Options
	mu      sync.Mutex
	byID    map[string]*Terminal
	closed  bool
	clients sync.WaitGroup // attached WebSocket handlers
}

// NewManager returns a manager with no terminal.
func NewManager(o Options) *Manager {
	if o.Limits.InputTimeout <= 0 {
		o.Limits.InputTimeout = 5 * time.Second
	}
	if o.Limits.MaxClients <= 0 {
		o.Limits.MaxClients = 8
	}
	if o.Limits.PingInterval <= 0 {
		o.Limits.PingInterval = 30 * time.Second
	}
	if o.Shell == "" {
		o.Shell = LoginShell(os.Getenv, fileExists)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Manager{opts: o, byID: map[string]*Terminal{}}
}

// LoginShell is $SHELL, else /bin/bash, else /bin/sh.
func LoginShell(getenv func(string) string, exists func(string) bool) string {
	for _, s := range []string{getenv("SHELL"), "/bin/bash"} {
		if s != "" && exists(s) {
			return s
		}
	}
	return "/bin/sh"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Size is a terminal's size in cells.
type Size struct {
	Cols int `json:"cols"`
	Rows int `json:"rows"`
}

// DefaultSize is the size of a terminal created without one.
var DefaultSize = Size{Cols: 80, Rows: 24}

func (s Size) validate() error {
	if s.Cols < 1 || s.Cols > 1000 || s.Rows < 1 || s.Rows > 1000 {
		return fmt.Errorf("%w: got %dx%d", ErrSizeInvalid, s.Cols, s.Rows)
	}
	return nil
}

// Create starts a terminal with id (a random one when empty). An id held
// by an exited terminal is reused; at the limit, the terminal that exited
// first makes room.
func (m *Manager) Create(id string, size Size) (*Terminal, error) {
	if id == "" {
		id = newID()
	}
	if !idPattern.MatchString(id) {
		return nil, ErrIDInvalid
	}
	if size == (Size{}) {
		size = DefaultSize
	}
	if err := size.validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if old, ok := m.byID[id]; ok {
		if old.Running() {
			return nil, fmt.Errorf("%w: %s", ErrExists, id)
		}
		delete(m.byID, id)
	}
	if len(m.byID) >= m.opts.Limits.Max && !m.evictExited() {
		return nil, fmt.Errorf("%w: at most %d run at once", ErrLimit, m.opts.Limits.Max)
	}
	t, err := start(m.opts, id, size)
	if err != nil {
		return nil, err
	}
	m.byID[id] = t
	m.opts.Log.Info("terminal started", slog.String("id", id), slog.Int("pid", t.pid))
	return t, nil
}

// evictExited forgets the terminal that exited first; false if none has.
func (m *Manager) evictExited() bool {
	var oldest *Terminal
	for _, t := range m.byID {
		if !t.Running() && (oldest == nil || t.exitedAt().Before(oldest.exitedAt())) {
			oldest = t
		}
	}
	if oldest == nil {
		return false
	}
	delete(m.byID, oldest.id)
	return true
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

// Get returns the terminal with id.
func (m *Manager) Get(id string) (*Terminal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return t, nil
}

// List describes every terminal, sorted by id.
func (m *Manager) List() []Info {
	m.mu.Lock()
	out := make([]Info, 0, len(m.byID))
	for _, t := range m.byID {
		out = append(out, t.Info())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Remove kills the terminal's processes if it runs, waits for its end (or
// ctx) and forgets it.
func (m *Manager) Remove(ctx context.Context, id string) error {
	t, err := m.Get(id)
	if err != nil {
		return err
	}
	t.Kill()
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID[id] == t {
		delete(m.byID, id)
	}
	return nil
}

// Close refuses new terminals, kills every one, and waits for them and
// for the attached clients to end, or ctx.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	ids := make([]string, 0, len(m.byID))
	for id := range m.byID {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := m.Remove(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	waited := make(chan struct{})
	go func() { m.clients.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
