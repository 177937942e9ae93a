// Package exec runs one command for the runtime: an argv or a shell line in
// its own process group, with stdout and stderr read apart and handed to the
// caller as they come, then exactly one Exit — also after a timeout, a kill
// or a caller that went away.
//
// Output is back-pressured, never buffered without bound: at most one chunk
// per stream waits while the caller handles the previous one, so a slow
// caller stalls the command on a full pipe instead of growing memory.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrInvalid marks a Spec that cannot be run.
var ErrInvalid = errors.New("invalid command")

// ErrStart marks a command that could not be started (no such program,
// no such directory).
var ErrStart = errors.New("start command")

// chunkSize is the most a single read hands over.
const chunkSize = 32 << 10

// Spec is one command to run.
type Spec struct {
	// Argv is the program and its arguments; exclusive with Shell.
	Argv []string
	// Shell is run as `sh -c Shell`; exclusive with Argv.
	Shell string
	// Dir is the absolute working directory.
	Dir string
	// Env is added to the daemon's environment, KEY=VALUE each.
	Env []string
	// Stdin feeds the command; nil reads /dev/null.
	Stdin io.Reader
	// Timeout kills the command's process group; 0 means none.
	Timeout time.Duration
}

// Validate names the field that makes the spec unrunnable.
func (s Spec) Validate() error {
	switch {
	case len(s.Argv) == 0 && s.Shell == "":
		return fmt.Errorf("%w: argv or shell is required", ErrInvalid)
	case len(s.Argv) > 0 && s.Shell != "":
		return fmt.Errorf("%w: give argv or shell, not both", ErrInvalid)
	case len(s.Argv) > 0 && s.Argv[0] == "":
		return fmt.Errorf("%w: argv[0] is empty", ErrInvalid)
	case s.Timeout < 0:
		return fmt.Errorf("%w: timeout is negative", ErrInvalid)
	}
	return nil
}

// Starter starts commands on behalf of the child reaper, which must know
// every pid os/exec will wait for. Done is called once the command was
// waited for.
type Starter interface {
	Start(cmd *osexec.Cmd) error
	Done(pid int)
}

type plainStarter struct{}

func (plainStarter) Start(cmd *osexec.Cmd) error { return cmd.Start() }
func (plainStarter) Done(int)                    {}

// Stream names an output stream.
type Stream string

// Output streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Chunk is output as it was read.
type Chunk struct {
	Stream Stream
	Data   []byte
}

// Exit is how a command ended.
type Exit struct {
	// Code is the exit status, or 128+signal when a signal ended it.
	Code int `json:"exit_code"`
	// Signal names the signal that ended it (KILL, TERM…), if one did.
	Signal string `json:"signal,omitempty"`
	// TimedOut is true when the timeout killed it.
	TimedOut bool `json:"timed_out,omitempty"`
	// Error says why no status is known, if so.
	Error string `json:"error,omitempty"`
}

// Proc is a started command. Call Stream exactly once.
type Proc struct {
	cmd       *osexec.Cmd
	starter   Starter
	outR      *os.File
	errR      *os.File
	closeOnce sync.Once
	stopTimer func() bool
	timedOut  atomic.Bool
	// reaped is set once the command was waited for: its pid, and so its
	// group id, may then be reused and must not be signalled.
	reaped atomic.Bool
	// Grace is how long output may still arrive after the command exited
	// and its group was killed (a process that left the group may hold the
	// pipes); then the pipes are closed.
	Grace time.Duration
}

// errTimeout is the cause of a context that ran out of Spec.Timeout.
var errTimeout = errors.New("command timed out")

// Start starts the command; ctx ending kills its process group. st may be
// nil.
func Start(ctx context.Context, s Spec, st Starter) (*Proc, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if st == nil {
		st = plainStarter{}
	}
	cmd := command(s)
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = st.Start(cmd)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	p := &Proc{cmd: cmd, starter: st, outR: outR, errR: errR, Grace: 2 * time.Second}
	var cancel context.CancelFunc = func() {}
	if s.Timeout > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, s.Timeout, errTimeout)
	}
	stop := context.AfterFunc(ctx, func() {
		p.timedOut.Store(context.Cause(ctx) == errTimeout)
		p.Signal(syscall.SIGKILL)
	})
	p.stopTimer = func() bool { cancel(); return stop() }
	return p, nil
}

func command(s Spec) *osexec.Cmd {
	var cmd *osexec.Cmd
	if s.Shell != "" {
		cmd = osexec.Command("/bin/sh", "-c", s.Shell)
	} else {
		cmd = osexec.Command(s.Argv[0], s.Argv[1:]...)
	}
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdin = s.Stdin
	// Its own process group, so a timeout or a kill reaches every process
	// the command started, not just the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Bounds Wait when a stdin copy is still blocked after the exit.
	cmd.WaitDelay = time.Second
	return cmd
}

// Pid is the command's process id, which is also its process group id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the command's whole process group.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.reaped.Load() {
		return os.ErrProcessDone
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Stream hands every chunk of output to emit, in order per stream, from the
// calling goroutine, then returns how the command ended. If emit fails the
// command is killed and its remaining output dropped; the Exit still comes.
func (p *Proc) Stream(emit func(Chunk) error) Exit {
	chunks := make(chan Chunk)
	var readers sync.WaitGroup
	readers.Add(2)
	go read(Stdout, p.outR, chunks, &readers)
	go read(Stderr, p.errR, chunks, &readers)
	readersDone := make(chan struct{})
	go func() { readers.Wait(); close(readersDone) }()
	waited := make(chan error, 1)
	go func() { waited <- p.cmd.Wait() }()

	var waitErr error
	var grace <-chan time.Time
	emitting, exited, progressed := true, false, false
	for !exited || readersDone != nil {
		select {
		case c := <-chunks:
			progressed = true
			if emitting && emit(c) != nil {
				emitting = false
				_ = p.Signal(syscall.SIGKILL)
			}
		case waitErr = <-waited:
			exited = true
			// Whatever the command left running in its group goes with it.
			_ = p.Signal(syscall.SIGKILL)
			p.reaped.Store(true)
			progressed, grace = false, time.After(p.Grace)
		case <-grace:
			// Output still draining to a slow reader is waited for; silent
			// pipes (held by a process that left the group) or an expired
			// timeout are not.
			if progressed && emitting && !p.timedOut.Load() {
				progressed, grace = false, time.After(p.Grace)
				continue
			}
			p.closePipes()
		case <-readersDone:
			readersDone = nil
		}
	}
	p.closePipes()
	p.stopTimer()
	p.starter.Done(p.cmd.Process.Pid)
	return p.exit(waitErr)
}

func read(s Stream, f *os.File, out chan<- Chunk, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, chunkSize)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			// A copy of exactly n bytes: a short line must not pin a whole
			// read buffer where it is kept (a session's replay buffer).
			out <- Chunk{Stream: s, Data: append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proc) closePipes() {
	p.closeOnce.Do(func() {
		p.outR.Close()
		p.errR.Close()
	})
}

func (p *Proc) exit(waitErr error) Exit {
	e := Exit{TimedOut: p.timedOut.Load()}
	st := p.cmd.ProcessState
	if st == nil {
		e.Code, e.Error = -1, fmt.Sprint(waitErr)
		return e
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		e.Code, e.Signal = 128+int(ws.Signal()), SignalName(ws.Signal())
	default:
		e.Code = st.ExitCode()
	}
	return e
}
