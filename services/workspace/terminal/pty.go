package terminal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/creack/pty"

	"aileron.dev/services/workspace/exec"
	"aileron.dev/services/workspace/session"
)

// readSize is the most one read of the PTY takes.
const readSize = 32 << 10

// Terminal is one shell on a PTY, running or exited.
type Terminal struct {
	id      string
	pid     int
	cmd     *osexec.Cmd
	ptmx    *os.File
	buf     *session.Buffer
	starter exec.Starter
	inWait  time.Duration
	started time.Time
	done    chan struct{}
	reaped  atomic.Bool
	inMu    sync.Mutex // one input write at a time
	mu      sync.Mutex // guards the fields below
	size    Size
	clients int
	exit    *exec.Exit
	exited  time.Time
}

// Info describes a terminal.
type Info struct {
	ID        string     `json:"id"`
	Pid       int        `json:"pid"`
	Running   bool       `json:"running"`
	Cols      int        `json:"cols"`
	Rows      int        `json:"rows"`
	Clients   int        `json:"clients"`
	Buffered  int        `json:"buffered_bytes"`
	StartedAt time.Time  `json:"started_at"`
	ExitedAt  *time.Time `json:"exited_at,omitempty"`
	Exit      *exec.Exit `json:"exit,omitempty"`
}

// start runs the login shell on a new PTY, as the leader of a new session
// with the PTY as its controlling terminal, so job control works and a
// kill can find every process the shell started.
func start(o Options, id string, size Size) (*Terminal, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	defer tty.Close()
	ptmx, err := pollable(master)
	if err != nil {
		return nil, err
	}
	if err := setSize(ptmx, size); err != nil {
		ptmx.Close()
		return nil, err
	}
	cmd := osexec.Command(o.Shell, "-l")
	cmd.Dir = o.Dir
	cmd.Env = append(withoutTerm(os.Environ()), "TERM=xterm-256color", "COLORTERM=truecolor")
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	starter := o.Starter
	if starter == nil {
		starter = plainStarter{}
	}
	if err := starter.Start(cmd); err != nil {
		ptmx.Close()
		return nil, fmt.Errorf("%w: %w", exec.ErrStart, err)
	}
	t := &Terminal{
		id: id, pid: cmd.Process.Pid, cmd: cmd, ptmx: ptmx, buf: session.NewBuffer(o.Limits.BufferBytes),
		starter: starter, inWait: o.Limits.InputTimeout, started: time.Now(), done: make(chan struct{}), size: size,
	}
	go t.run()
	return t, nil
}

type plainStarter struct{}

func (plainStarter) Start(cmd *osexec.Cmd) error { return cmd.Start() }
func (plainStarter) Done(int)                    {}

// pollable re-opens the PTY master in non-blocking mode: pty.Open hands it
// over in blocking mode (it called Fd), where a Close does not wake a
// blocked Read and write deadlines do nothing.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pty: %w", err)
	}
	var fd int
	var dupErr error
	if err := sc.Control(func(raw uintptr) { fd, dupErr = syscall.Dup(int(raw)) }); err != nil {
		return nil, fmt.Errorf("pty: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("dup pty: %w", dupErr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("pty non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

// setSize sets the PTY's window size; the kernel signals SIGWINCH to the
// foreground job. Not pty.Setsize: it would put the master back in
// blocking mode.
func setSize(ptmx *os.File, s Size) error {
	ws := pty.Winsize{Cols: uint16(s.Cols), Rows: uint16(s.Rows)}
	sc, err := ptmx.SyscallConn()
	if err != nil {
		return fmt.Errorf("resize: %w", err)
	}
	var errno syscall.Errno
	if err := sc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws)))
	}); err != nil {
		return fmt.Errorf("resize: %w", err)
	}
	if errno != 0 {
		return fmt.Errorf("resize: %w", errno)
	}
	return nil
}

func withoutTerm(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, "COLORTERM=") {
			out = append(out, kv)
		}
	}
	return out
}

// run moves output into the buffer until the shell ends, then ends what it
// left in its session and records the exit.
func (t *Terminal) run() {
	pumped := make(chan struct{})
	go func() { defer close(pumped); t.pump() }()
	err := t.cmd.Wait()
	t.killSession()
	t.reaped.Store(true)
	t.starter.Done(t.pid)
	// The last output may still be in the PTY; a process that escaped the
	// kill (none should) must not hold the terminal open for ever.
	select {
	case <-pumped:
	case <-time.After(time.Second):
	}
	t.inMu.Lock()
	t.ptmx.Close()
	t.inMu.Unlock()
	<-pumped
	exit := exitOf(t.cmd.ProcessState, err)
	t.mu.Lock()
	t.exit, t.exited = &exit, time.Now()
	t.mu.Unlock()
	close(t.done)
	t.buf.Append(session.KindExit, nil, &exit)
}

// pump copies PTY output into the buffer; it never waits for clients.
func (t *Terminal) pump() {
	b := make([]byte, readSize)
	for {
		n, err := t.ptmx.Read(b)
		if n > 0 {
			t.buf.Append(session.KindStdout, append([]byte(nil), b[:n]...), nil)
		}
		if err != nil {
			return // EIO once no process holds the terminal, or closed
		}
	}
}

func exitOf(st *os.ProcessState, waitErr error) exec.Exit {
	if st == nil {
		return exec.Exit{Code: -1, Error: fmt.Sprint(waitErr)}
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exec.Exit{Code: 128 + int(ws.Signal()), Signal: exec.SignalName(ws.Signal())}
	}
	return exec.Exit{Code: st.ExitCode()}
}

// Kill ends every process of the terminal's session: the shell's process
// group and the jobs it put in groups of their own. The shell's exit
// follows on Done.
func (t *Terminal) Kill() {
	if !t.reaped.Load() {
		t.killSession()
	}
}

// killSession SIGKILLs the shell's process group and every process whose
// session is the shell's. The session id stays taken while any member
// lives, so it names no stranger.
func (t *Terminal) killSession() {
	_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	for _, pid := range sessionMembers(t.pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// sessionMembers lists the pids in /proc whose session id is sid.
func sessionMembers(sid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	want := strconv.Itoa(sid)
	var out []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session …; comm may hold anything.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 4 || string(f[3]) != want {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path))); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// ID is the terminal's id.
func (t *Terminal) ID() string { return t.id }

// Done is closed once the shell has ended and its exit is recorded.
func (t *Terminal) Done() <-chan struct{} { return t.done }

// Running reports whether the shell has not ended yet.
func (t *Terminal) Running() bool {
	select {
	case <-t.done:
		return false
	default:
		return true
	}
}

func (t *Terminal) exitedAt() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exited
}

// Info describes the terminal now.
func (t *Terminal) Info() Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	info := Info{
		ID: t.id, Pid: t.pid, Running: t.exit == nil, Cols: t.size.Cols, Rows: t.size.Rows,
		Clients: t.clients, Buffered: t.buf.Bytes(), StartedAt: t.started, Exit: t.exit,
	}
	if t.exit != nil {
		at := t.exited
		info.ExitedAt = &at
	}
	return info
}

// Write types data into the terminal. A shell that does not take it within
// the input timeout fails the write.
func (t *Terminal) Write(data []byte) error {
	t.inMu.Lock()
	defer t.inMu.Unlock()
	if !t.Running() || t.reaped.Load() {
		return ErrExited
	}
	_ = t.ptmx.SetWriteDeadline(time.Now().Add(t.inWait))
	if _, err := t.ptmx.Write(data); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ErrInputBlock
		}
		return ErrExited
	}
	return nil
}

// Resize sets the terminal's size.
func (t *Terminal) Resize(s Size) error {
	if err := s.validate(); err != nil {
		return err
	}
	t.inMu.Lock()
	defer t.inMu.Unlock()
	if t.reaped.Load() {
		return ErrExited
	}
	if err := setSize(t.ptmx, s); err != nil {
		return err
	}
	t.mu.Lock()
	t.size = s
	t.mu.Unlock()
	return nil
}

// attach counts a client in, if fewer than max are attached.
func (t *Terminal) attach(max int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients >= max {
		return fmt.Errorf("%w: at most %d", ErrClientLimit, max)
	}
	t.clients++
	return nil
}

func (t *Terminal) detach() {
	t.mu.Lock()
	t.clients--
	t.mu.Unlock()
}
