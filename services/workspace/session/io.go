package session

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Running reports whether the process has not ended yet.
func (s *Session) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Done is closed once the session has ended and its exit is recorded.
func (s *Session) Done() <-chan struct{} { return s.done }

// Info describes the session now.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := Info{
		Tag: s.spec.Tag, Argv: s.spec.Command.Argv, Shell: s.spec.Command.Shell,
		Pid: s.proc.Pid(), Agent: s.spec.Agent, Running: s.exit == nil, StartedAt: s.started,
		Exit: s.exit,
	}
	if s.exit != nil {
		t := s.exited
		info.ExitedAt = &t
	}
	s.ring.mu.Lock()
	info.NextSeq = s.ring.next
	s.ring.mu.Unlock()
	return info
}

// Write sends data to the session's stdin, then closes it if eof. A session
// that does not read within the input timeout fails the write.
func (s *Session) Write(data []byte, eof bool) error {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if !s.Running() {
		return ErrInputClosed
	}
	if len(data) > 0 {
		_ = s.stdin.SetWriteDeadline(time.Now().Add(s.inWait))
		if _, err := s.stdin.Write(data); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return ErrInputBlocked
			}
			return ErrInputClosed
		}
	}
	if eof {
		if err := s.stdin.Close(); err != nil {
			return ErrInputClosed
		}
	}
	return nil
}

// Signal sends sig to the session's process group.
func (s *Session) Signal(sig syscall.Signal) error {
	if !s.Running() {
		return ErrInputClosed
	}
	return s.proc.Signal(sig)
}

// Follow hands emit the output from seq from on, as it comes, until the
// exit event has been handed over (nil), emit fails or ctx ends. Events
// that fell out of the buffer come as one gap event.
func (s *Session) Follow(ctx context.Context, from uint64, follow bool, emit func(Event) error) error {
	for {
		events, next, done, grown := s.ring.read(from)
		for _, e := range events {
			if err := emit(e); err != nil {
				return err
			}
		}
		from = next
		if done || !follow {
			return nil
		}
		select {
		case <-grown:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
