//go:build !unix

package main

import "context"

// resized never yields where there is no SIGWINCH.
func (t *localTerminal) resized(context.Context) <-chan struct{} {
	out := make(chan struct{})
	close(out)
	return out
}
