//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// resized yields on every SIGWINCH until ctx ends; never for a stdin that
// is not a terminal.
func (t *localTerminal) resized(ctx context.Context) <-chan struct{} {
	out := make(chan struct{})
	if !t.isTTY {
		close(out)
		return out
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	go func() {
		defer close(out)
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
