package runtimeapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/runtimeapi"
)

func TestExec(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, os.Mkdir(filepath.Join(h.root, "sub"), 0o755))
	tests := []struct {
		name       string
		req        map[string]any
		stdout     string
		stderr     string
		code       int
		signal     string
		timedOut   bool
		maxElapsed time.Duration
	}{
		{name: "streams apart and exit code", req: map[string]any{"shell": "echo out; echo err >&2; exit 3"}, stdout: "out\n", stderr: "err\n", code: 3},
		{name: "argv without a shell", req: map[string]any{"argv": []string{"printf", "%s|", "a b", "$HOME"}}, stdout: "a b|$HOME|"},
		{name: "stdin", req: map[string]any{"shell": "tr a-z A-Z", "stdin": "hello"}, stdout: "HELLO"},
		{name: "env and cwd", req: map[string]any{"shell": "echo $FOO; pwd", "env": map[string]string{"FOO": "bar"}, "cwd": "sub"},
			stdout: "bar\n" + filepath.Join(h.root, "sub") + "\n"},
		{name: "utf-8 text stays text", req: map[string]any{"shell": "printf 'h\\303\\251'"}, stdout: "hé"},
		{name: "binary output", req: map[string]any{"shell": "printf '\\377\\000'"}, stdout: "\xff\x00"},
		{name: "timeout kills and reports", req: map[string]any{"shell": "echo started; sleep 30", "timeout_ms": 300},
			stdout: "started\n", code: 137, signal: "KILL", timedOut: true, maxElapsed: 10 * time.Second},
		{name: "timeout reaches background children holding the pipes", req: map[string]any{"shell": "sleep 30 & sleep 30", "timeout_ms": 300},
			code: 137, signal: "KILL", timedOut: true, maxElapsed: 10 * time.Second},
		{name: "a process that left the group cannot hold the stream open", req: map[string]any{"shell": "setsid sh -c 'echo $$ > .tmp; mv .tmp .escaped; exec sleep 30' & while [ ! -e .escaped ]; do sleep 0.01; done; echo done"},
			stdout: "done\n", maxElapsed: 6 * time.Second},
		{name: "leftovers in the group go with the command", req: map[string]any{"shell": "sleep 30 & echo done"},
			stdout: "done\n", maxElapsed: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := h.stream(http.MethodPost, "/v1/exec", tt.req).all()
			require.Equal(t, tt.stdout, got.stdout)
			require.Equal(t, tt.stderr, got.stderr)
			require.Equal(t, 1, got.exits, "exactly one exit event, last")
			require.Equal(t, tt.code, got.exit.ExitCode)
			require.Equal(t, tt.signal, got.exit.Signal)
			require.Equal(t, tt.timedOut, got.exit.TimedOut)
			if b, err := os.ReadFile(filepath.Join(h.root, ".escaped")); err == nil {
				pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
				require.NoError(t, err)
				require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			}
			if tt.maxElapsed > 0 {
				require.Less(t, time.Since(start), tt.maxElapsed)
			}
		})
	}
}

func TestExecRefusals(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"neither argv nor shell", map[string]any{}, 400, "COMMAND_INVALID"},
		{"argv and shell", map[string]any{"argv": []string{"true"}, "shell": "true"}, 400, "COMMAND_INVALID"},
		{"bad env name", map[string]any{"shell": "true", "env": map[string]string{"A=B": "c"}}, 400, "COMMAND_INVALID"},
		{"timeout over the max", map[string]any{"shell": "true", "timeout_ms": 3600000}, 400, "COMMAND_INVALID"},
		{"no such program", map[string]any{"argv": []string{"/nonexistent/prog"}}, 400, "COMMAND_START_FAILED"},
		{"cwd outside the root", map[string]any{"shell": "true", "cwd": "../"}, 403, "PATH_OUTSIDE_ROOT"},
		{"cwd missing", map[string]any{"shell": "true", "cwd": "nope"}, 404, "FILE_NOT_FOUND"},
		{"malformed JSON", `{"shell":`, 400, "REQUEST_INVALID"},
		{"unknown field", map[string]any{"shell": "true", "user": "root"}, 400, "REQUEST_INVALID"},
		{"body over the cap", map[string]any{"shell": "true", "stdin": strings.Repeat("x", 70<<10)}, 413, "REQUEST_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.refuse(http.MethodPost, "/v1/exec", tt.body, tt.status, tt.code)
		})
	}
	h.refuse(http.MethodGet, "/v1/nothing", nil, 404, "ROUTE_NOT_FOUND")
}

func TestExecLimit(t *testing.T) {
	h := newHarness(t, func(l *runtimeapi.Limits) { l.MaxExecs = 1 })
	first := h.stream(http.MethodPost, "/v1/exec", map[string]any{"shell": "echo up; sleep 30"})
	e, ok := first.next()
	require.True(t, ok)
	require.Equal(t, "up\n", e.Data)

	h.refuse(http.MethodPost, "/v1/exec", map[string]any{"shell": "true"}, 429, "PROCESS_LIMIT_REACHED")

	// A client that goes away kills its command and frees the slot.
	first.close()
	require.Eventually(t, func() bool {
		resp := h.do(http.MethodPost, "/v1/exec", map[string]any{"shell": "true"})
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
}

// TestExecFloodSlowReader: a command writing 50 MB to a reader that stops
// reading must not make the daemon buffer it; the daemon keeps answering,
// and once the reader drains, every byte and the exit arrive.
func TestExecFloodSlowReader(t *testing.T) {
	const total = 50_000_000
	h := newHarness(t)
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()

	s := h.stream(http.MethodPost, "/v1/exec", map[string]any{"shell": "yes | head -c 50000000"})
	first, ok := s.next()
	require.True(t, ok)
	require.Equal(t, "stdout", first.Type)

	// The reader stalls: the command must stall with it, not fill memory.
	require.Never(t, func() bool { return heap() > base+16<<20 }, 1500*time.Millisecond, 100*time.Millisecond)
	h.call(http.MethodGet, "/healthz", nil, 200, nil)
	got := h.stream(http.MethodPost, "/v1/exec", map[string]any{"shell": "echo still here"}).all()
	require.Equal(t, "still here\n", got.stdout)

	rest := s.all()
	require.Equal(t, total, len(first.Data)+len(rest.stdout))
	require.Equal(t, 1, rest.exits)
	require.Equal(t, 0, rest.exit.ExitCode)
}

// TestExecStalledReaderIsCut: a reader that takes nothing for the stall
// timeout loses its stream; the command is killed and its slot freed.
func TestExecStalledReaderIsCut(t *testing.T) {
	h := newHarness(t, func(l *runtimeapi.Limits) { l.MaxExecs, l.StallTimeout = 1, 300*time.Millisecond })
	s := h.stream(http.MethodPost, "/v1/exec", map[string]any{"shell": "yes"})
	_, ok := s.next()
	require.True(t, ok)
	// s is never read again.
	require.Eventually(t, func() bool {
		resp := h.do(http.MethodPost, "/v1/exec", map[string]any{"shell": "true"})
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 100*time.Millisecond)
}
