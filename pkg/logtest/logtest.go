// Package logtest captures a service's log lines in tests and audits them:
// an operator filtering the logs by workspace_id must see every line about
// the workspace.
package logtest

import (
	"bytes"
	"strings"
	"sync"
)

// Lines collects the lines a slog text handler writes; it is safe for
// concurrent writes. The zero value is ready.
type Lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Unattributed returns the lines that mention workspace id (in a message,
// an object name, an error) without a workspace_id attribute naming it.
func (l *Lines) Unattributed(id string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, id) && !strings.Contains(line, "workspace_id="+id) {
			out = append(out, line)
		}
	}
	return out
}

// Problems returns the last n lines logged at WARN or ERROR, for a failed
// test to print.
func (l *Lines) Problems(n int) string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// Count returns how many lines contain every one of parts.
func (l *Lines) Count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}
