// Package reaper reaps the orphans a PID 1 inherits without stealing the
// exit status of the children os/exec waits for.
//
// A blind wait4(-1) would race os/exec: it could reap a command the API is
// about to Wait for, which then fails with ECHILD. So the daemon starts
// every command through a Reaper, which remembers its pid until os/exec
// has waited for it, and the reaper only waits for zombie children whose
// pid it does not know. Starting holds a read lock across fork and
// registration, reaping the write lock, so no child is ever seen
// unregistered.
package reaper

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// Reaper tracks the children os/exec owns and reaps the others.
type Reaper struct {
	// gate is read-held across a fork and its registration, write-held
	// while reaping.
	gate  sync.RWMutex
	mu    sync.Mutex // guards owned
	owned map[int]bool
	log   *slog.Logger
}

// New returns a reaper that owns no child yet.
func New(log *slog.Logger) *Reaper {
	return &Reaper{owned: map[int]bool{}, log: log}
}

// Start starts cmd and remembers its pid until Done.
func (r *Reaper) Start(cmd *osexec.Cmd) error {
	r.gate.RLock()
	defer r.gate.RUnlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.mu.Lock()
	r.owned[cmd.Process.Pid] = true
	r.mu.Unlock()
	return nil
}

// Done forgets pid: os/exec has waited for it.
func (r *Reaper) Done(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.owned, pid)
}

// Run reaps on every SIGCHLD until ctx ends. Call it only where orphans
// come to this process: as PID 1 or after SetSubreaper.
func (r *Reaper) Run(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	for {
		r.ReapOnce()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// RunAsInit runs Run in the background while this process is PID 1 (a
// container's entrypoint, where orphans come to it) and does nothing
// otherwise. The returned stop ends it and waits until it has.
func (r *Reaper) RunAsInit(ctx context.Context) (stop func()) {
	if os.Getpid() != 1 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	return func() { cancel(); <-done }
}

// ReapOnce reaps every zombie child that os/exec does not own and returns
// how many it reaped.
func (r *Reaper) ReapOnce() int {
	r.gate.Lock()
	defer r.gate.Unlock()
	n := 0
	for _, pid := range zombieChildren(os.Getpid()) {
		r.mu.Lock()
		owned := r.owned[pid]
		r.mu.Unlock()
		if owned {
			continue
		}
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err != nil || got != pid {
			continue
		}
		n++
		if r.log != nil {
			r.log.Debug("reaped orphan", slog.Int("pid", pid), slog.Int("status", ws.ExitStatus()))
		}
	}
	return n
}

// SetSubreaper makes orphans of this process's descendants come to it, as
// they would to a PID 1; for running the daemon (or a test) elsewhere.
func SetSubreaper() error {
	const prSetChildSubreaper = 36
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// zombieChildren lists the pids in /proc whose parent is ppid and whose
// state is Z.
func zombieChildren(ppid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 2 || string(f[0]) != "Z" || string(f[1]) != strconv.Itoa(ppid) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
