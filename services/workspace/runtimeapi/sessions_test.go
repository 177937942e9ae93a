package runtimeapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readUntil reads events until one's output holds want, and returns all
// output read.
func (s *stream) readUntil(want string) string {
	var out strings.Builder
	for !strings.Contains(out.String(), want) {
		e, ok := s.next()
		require.True(s.t, ok, "stream ended before %q; got %q", want, out.String())
		out.WriteString(e.bytes())
	}
	return out.String()
}

func TestSessionDetachReattachReplay(t *testing.T) {
	h := newHarness(t)
	var info struct {
		Tag     string `json:"tag"`
		Running bool   `json:"running"`
		Pid     int    `json:"pid"`
	}
	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "shell", "argv": []string{"sh"}}, 201, &info)
	require.Equal(t, "shell", info.Tag)
	require.True(t, info.Running)

	h.call(http.MethodPost, "/v1/sessions/shell/input", map[string]any{"data": "echo first-$((1+1))\n"}, 204, nil)
	attached := h.stream(http.MethodGet, "/v1/sessions/shell/output", nil)
	attached.readUntil("first-2")
	attached.close() // detach: the shell keeps running

	h.call(http.MethodPost, "/v1/sessions/shell/input", map[string]any{"data": "echo second >&2\n"}, 204, nil)
	again := h.stream(http.MethodGet, "/v1/sessions/shell/output?from=0", nil)
	out := again.readUntil("second")
	require.Contains(t, out, "first-2", "re-attach replays earlier output")
	again.close()

	var list struct {
		Sessions []struct {
			Tag     string `json:"tag"`
			Running bool   `json:"running"`
		} `json:"sessions"`
	}
	h.call(http.MethodGet, "/v1/sessions", nil, 200, &list)
	require.Len(t, list.Sessions, 1)
	require.True(t, list.Sessions[0].Running)

	h.call(http.MethodDelete, "/v1/sessions/shell", nil, 204, nil)
	h.refuse(http.MethodGet, "/v1/sessions/shell", nil, 404, "SESSION_NOT_FOUND")
}

func TestSessionExitAndSignals(t *testing.T) {
	h := newHarness(t)
	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "job", "shell": "echo bye; exit 5"}, 201, nil)
	s := h.stream(http.MethodGet, "/v1/sessions/job/output", nil)
	var last event
	for e, ok := s.next(); ok; e, ok = s.next() {
		last = e
	}
	require.Equal(t, "exit", last.Type, "the stream ends with the exit")
	require.NotNil(t, last.Exit)
	require.Equal(t, 5, last.Exit.ExitCode)
	h.refuse(http.MethodPost, "/v1/sessions/job/input", map[string]any{"data": "x"}, 409, "SESSION_INPUT_CLOSED")

	// An exited session's tag can be started again.
	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "job", "argv": []string{"sleep", "30"}}, 201, nil)
	h.refuse(http.MethodPost, "/v1/sessions", map[string]any{"tag": "job", "argv": []string{"true"}}, 409, "SESSION_EXISTS")
	h.refuse(http.MethodPost, "/v1/sessions/job/signal", map[string]any{"signal": "BOGUS"}, 400, "SIGNAL_INVALID")
	h.call(http.MethodPost, "/v1/sessions/job/signal", map[string]any{"signal": "TERM"}, 204, nil)
	var info struct {
		Running bool `json:"running"`
		Exit    *struct {
			Signal string `json:"signal"`
		} `json:"exit"`
	}
	require.Eventually(t, func() bool {
		h.call(http.MethodGet, "/v1/sessions/job", nil, 200, &info)
		return !info.Running
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "TERM", info.Exit.Signal)
}

func TestSessionRefusals(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"bad tag", http.MethodPost, "/v1/sessions", map[string]any{"tag": "../x", "shell": "true"}, 400, "SESSION_TAG_INVALID"},
		{"no command", http.MethodPost, "/v1/sessions", map[string]any{"tag": "a"}, 400, "COMMAND_INVALID"},
		{"unknown session input", http.MethodPost, "/v1/sessions/nope/input", map[string]any{"data": "x"}, 404, "SESSION_NOT_FOUND"},
		{"unknown session output", http.MethodGet, "/v1/sessions/nope/output", nil, 404, "SESSION_NOT_FOUND"},
		{"unknown session remove", http.MethodDelete, "/v1/sessions/nope", nil, 404, "SESSION_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.refuse(tt.method, tt.path, tt.body, tt.status, tt.code)
		})
	}
	for i := range 4 {
		h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "s" + string(rune('a'+i)), "argv": []string{"sleep", "30"}}, 201, nil)
	}
	h.refuse(http.MethodPost, "/v1/sessions", map[string]any{"tag": "more", "argv": []string{"true"}}, 429, "PROCESS_LIMIT_REACHED")
}

// TestSessionFloodIsBounded: a session writing far more than its buffer
// keeps only the recent output; a late reader is told what it lost.
func TestSessionFloodIsBounded(t *testing.T) {
	h := newHarness(t)
	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "flood", "shell": "head -c 2000000 /dev/zero | tr '\\0' y; echo; echo tail-marker"}, 201, nil)
	var info struct {
		Running bool `json:"running"`
	}
	require.Eventually(t, func() bool {
		h.call(http.MethodGet, "/v1/sessions/flood", nil, 200, &info)
		return !info.Running
	}, 20*time.Second, 50*time.Millisecond)
	s := h.stream(http.MethodGet, "/v1/sessions/flood/output?from=0", nil)
	first, ok := s.next()
	require.True(t, ok)
	require.Equal(t, "gap", first.Type)
	require.NotZero(t, first.Lost)
	out := s.readUntil("tail-marker")
	require.Less(t, len(out), 64<<10, "no more than the buffer is replayed")
}

// TestSessionInputBlocked: input to a session that never reads fails after
// the input timeout instead of holding the request.
func TestSessionInputBlocked(t *testing.T) {
	h := newHarness(t)
	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "deaf", "argv": []string{"sleep", "30"}}, 201, nil)
	chunk := map[string]any{"data": strings.Repeat("x", 60<<10)}
	require.Eventually(t, func() bool {
		resp := h.do(http.MethodPost, "/v1/sessions/deaf/input", chunk)
		resp.Body.Close()
		return resp.StatusCode == http.StatusConflict
	}, 10*time.Second, 10*time.Millisecond, "the pipe fills, then writes are refused")
	h.refuse(http.MethodPost, "/v1/sessions/deaf/input", chunk, 409, "SESSION_INPUT_BLOCKED")
}
