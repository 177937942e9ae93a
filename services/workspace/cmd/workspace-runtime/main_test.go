package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/agent"

	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/runtimeapi"
	"aileron.dev/services/workspace/session"
	"aileron.dev/services/workspace/terminal"
	"aileron.dev/services/workspace/terminalui"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			require.Equal(t, ":8080", c.Addr)
			require.Equal(t, "/workspace", c.Root)
			require.Equal(t, 10*time.Minute, c.ExecTimeout)
			require.Equal(t, "/usr/share/javascript/xterm", c.XtermDir)
			require.Equal(t, "/usr/share/nodejs/xterm", c.XtermModulesDir)
		}},
		{name: "env from flag name", env: map[string]string{"AILERON_ROOT": "/w", "AILERON_MAX_EXECS": "3"}, check: func(t *testing.T, c Config) {
			require.Equal(t, "/w", c.Root)
			require.Equal(t, 3, c.MaxExecs)
		}},
		{name: "flag wins", args: []string{"--addr", "127.0.0.1:9"}, env: map[string]string{"AILERON_ADDR": ":1"}, check: func(t *testing.T, c Config) {
			require.Equal(t, "127.0.0.1:9", c.Addr)
		}},
		{name: "bad addr", args: []string{"--addr", "nope"}, wantErr: "--addr"},
		{name: "timeout over max", args: []string{"--exec-timeout", "3h"}, wantErr: "--max-exec-timeout"},
		{name: "zero sessions", args: []string{"--max-sessions", "0"}, wantErr: "--max-sessions"},
		{name: "origins", args: []string{"--allowed-origin", "*.apps.example", "--allowed-origin", "localhost:3000"}, check: func(t *testing.T, c Config) {
			require.Equal(t, []string{"*.apps.example", "localhost:3000"}, c.AllowedOrigins)
			require.Equal(t, 8, c.MaxTerminals)
		}},
		{name: "origin env list", env: map[string]string{"AILERON_ALLOWED_ORIGIN": "a.example,b.example"}, check: func(t *testing.T, c Config) {
			require.Equal(t, []string{"a.example", "b.example"}, c.AllowedOrigins)
		}},
		{name: "origin with scheme", args: []string{"--allowed-origin", "https://a.example"}, wantErr: "--allowed-origin"},
		{name: "zero terminals", args: []string{"--max-terminals", "0"}, wantErr: "--max-terminals"},
		{name: "default agents", check: func(t *testing.T, c Config) {
			require.Equal(t, agent.Default, c.Agents)
		}},
		{name: "agents from env", env: map[string]string{"AILERON_AGENTS": `{"aider": ["aider", "--message", "{prompt}"]}`}, check: func(t *testing.T, c Config) {
			require.Equal(t, agent.Set{"aider": {"aider", "--message", "{prompt}"}}, c.Agents)
		}},
		{name: "agent without prompt", args: []string{"--agents", `{"a": ["a"]}`}, wantErr: "--agents"},
		{name: "xterm dirs", env: map[string]string{"AILERON_XTERM_DIR": "/x", "AILERON_XTERM_MODULES_DIR": "/y"}, check: func(t *testing.T, c Config) {
			require.Equal(t, "/x", c.XtermDir)
			require.Equal(t, "/y", c.XtermModulesDir)
		}},
		{name: "malformed env", env: map[string]string{"AILERON_STALL_TIMEOUT": "soon"}, wantErr: "AILERON_STALL_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

// TestRefusesRoot: as root, every command a caller sent would run as root,
// so the daemon does not start; any other user may.
func TestRefusesRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		// The whole run refuses too, before it opens anything.
		cfg, err := parseConfig([]string{"--root", t.TempDir(), "--addr", "127.0.0.1:0"}, func(string) string { return "" })
		require.NoError(t, err)
		err = run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.ErrorContains(t, err, "refusing to run as root")
	}
}

// TestRoutes: one port serves the runtime API, the terminals and the
// terminal page (xterm.js from Debian's node-xterm and libjs-xterm, which
// hack/setup.sh installs).
func TestRoutes(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	fsys, err := files.Open(t.TempDir(), files.Limits{MaxFileBytes: 1 << 20, MaxListEntries: 10, MaxDepth: 2})
	require.NoError(t, err)
	defer fsys.Close()
	act := activity.New()
	sessions := session.NewManager(session.Limits{Max: 1, BufferBytes: 1 << 10}, nil, act)
	api := runtimeapi.New(runtimeapi.Limits{MaxExecs: 1, MaxBodyBytes: 1 << 10, ExecTimeout: time.Second, MaxExecTimeout: time.Second, StallTimeout: time.Second}, fsys, sessions, act, nil, log)
	terminals := terminal.NewManager(terminal.Options{Limits: terminal.Limits{Max: 1, BufferBytes: 1 << 10, MaxFrameBytes: 1 << 10, WriteTimeout: time.Second}, Dir: fsys.Dir(), Log: log})
	page := terminalui.New(terminalui.Options{XtermDir: terminalui.DefaultXtermDir, XtermModulesDir: terminalui.DefaultXtermModulesDir})
	h := routes(api.Handler(), terminals.Handler(), page.Handler())
	tests := []struct {
		path, want string
		status     int
	}{
		{"/healthz", "ok", http.StatusOK},
		{"/v1/terminals", `"terminals":[]`, http.StatusOK},
		{"/v1/terminals/nope", "TERMINAL_NOT_FOUND", http.StatusNotFound},
		{"/v1/sessions/nope", "SESSION_NOT_FOUND", http.StatusNotFound},
		{"/v1/nope", "ROUTE_NOT_FOUND", http.StatusNotFound},
		{"/", `src="terminal-ui/app.js"`, http.StatusOK},
		{"/terminal-ui/xterm.js", "window.Terminal =", http.StatusOK},
		{"/terminal-ui/nope", "404", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			require.Equal(t, tt.status, rec.Code)
			require.Contains(t, rec.Body.String(), tt.want)
		})
	}
}
