package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/frontdoor"
	apiserver "aileron.dev/services/api/server"
	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/runtimeapi"
	"aileron.dev/services/workspace/session"
	"aileron.dev/services/workspace/terminal"
)

// startRuntime serves the runtime daemon's handlers (exec, files,
// sessions and terminals with real processes and a real shell) on a
// loopback server: the upstream the front door proxies to.
func startRuntime(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	fsys, err := files.Open(t.TempDir(), files.Limits{MaxFileBytes: 1 << 20, MaxListEntries: 100, MaxDepth: 4})
	require.NoError(t, err)
	act := activity.New()
	sessions := session.NewManager(session.Limits{Max: 4, BufferBytes: 64 << 10, InputTimeout: time.Second}, nil, act)
	api := runtimeapi.New(runtimeapi.Limits{MaxExecs: 4, MaxBodyBytes: 1 << 20, ExecTimeout: time.Minute, MaxExecTimeout: time.Minute, StallTimeout: 10 * time.Second},
		fsys, sessions, act, nil, log)
	terms := terminal.NewManager(terminal.Options{
		Limits: terminal.Limits{Max: 4, MaxClients: 4, BufferBytes: 64 << 10, MaxFrameBytes: 64 << 10, WriteTimeout: 5 * time.Second, InputTimeout: 5 * time.Second},
		Dir:    fsys.Dir(), Shell: "/bin/bash", Log: log, Activity: act,
		// A home of its own: the login shell reads no profile of the machine's user.
		Env: []string{"HOME=" + t.TempDir(), "HISTFILE=/dev/null", "PS1=$ "},
	})
	mux := http.NewServeMux()
	mux.Handle("/v1/terminals", terms.Handler())
	mux.Handle("/v1/terminals/", terms.Handler())
	mux.Handle("/", api.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, terms.Close(ctx))
		require.NoError(t, sessions.Close(ctx))
		srv.CloseClientConnections()
		srv.Close()
		fsys.Close()
	})
	return srv.URL
}

// runningWorkspace is a workspace the API reports running, whose runtime
// and terminal services are the daemon at upstream, behind the real front
// door of an in-process API.
func runningWorkspace(t *testing.T, upstream string) (*apitest.Env, string) {
	t.Helper()
	env := apitest.Start(t, apitest.Options{Server: func(c *apiserver.Config) {
		fc := frontdoor.DefaultConfig()
		c.FrontDoor = &fc
	}})
	w := createJSON(t, env, "shelled")
	svc := &workspacev1.ServiceStatus{Enabled: true, State: "running", Endpoint: upstream + "/"}
	rep := &eventsv1.StatusReport{WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: "running", Reporter: "test", Time: timestamppb.Now(),
		Services: &workspacev1.Services{Runtime: svc, Terminal: svc}}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(w.Id), w.Id+"-running", rep))
	waitState(t, env, w.Id, "running")
	return env, w.Id
}

func TestWorkspaceExec(t *testing.T) {
	env, id := runningWorkspace(t, startRuntime(t))

	t.Run("stdout, stderr and the exit code", func(t *testing.T) {
		r := execCLI(t, env, "", "workspace", "exec", id, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		require.Equal(t, 3, r.code, "%+v", r)
		require.Equal(t, "out\n", r.stdout)
		require.Equal(t, "err\n", r.stderr)
	})
	t.Run("a signal is 128+n", func(t *testing.T) {
		r := execCLI(t, env, "", "workspace", "exec", id, "--", "sh", "-c", "kill -TERM $$")
		require.Equal(t, 128+15, r.code, "%+v", r)
	})
	t.Run("cwd, env and flags of the command", func(t *testing.T) {
		r := execCLI(t, env, "", "workspace", "exec", id, "--", "mkdir", "-p", "sub")
		require.Equal(t, exitOK, r.code, "%+v", r)
		r = execCLI(t, env, "", "workspace", "exec", id, "--cwd", "sub", "--env", "GREETING=hi there", "--", "sh", "-c", `echo "$GREETING"; pwd; ls -la . >/dev/null`)
		require.Equal(t, exitOK, r.code, "%+v", r)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 2, r.stdout)
		require.Equal(t, "hi there", lines[0])
		require.True(t, strings.HasSuffix(lines[1], "/sub"), lines[1])
	})
	t.Run("stdin", func(t *testing.T) {
		r := execCLI(t, env, "line one\nline two\n", "workspace", "exec", id, "--stdin", "--", "wc", "-l")
		require.Equal(t, exitOK, r.code, "%+v", r)
		require.Equal(t, "2", strings.TrimSpace(r.stdout))
	})
	t.Run("timeout", func(t *testing.T) {
		r := execCLI(t, env, "", "workspace", "exec", id, "--timeout", "300ms", "--", "sleep", "30")
		require.Equal(t, 128+9, r.code, "%+v", r)
		require.Contains(t, r.stderr, "timed out")
	})
	t.Run("output streams as it comes; an interrupt kills the command", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"workspace", "exec", id, "--api", env.URL, "--", "sh", "-c", "echo first; sleep 60; echo never"}, strings.NewReader(""), &out, &errOut)
		}()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			require.Equal(c, "first\n", out.String(), "stderr %q", errOut.String())
		}, 10*time.Second, 10*time.Millisecond)
		select {
		case c := <-done:
			t.Fatalf("exec ended with %d while its command sleeps", c)
		default:
		}
		cancel()
		require.Equal(t, 130, <-done)
		require.NotContains(t, out.String(), "never")
	})
	t.Run("refusals", func(t *testing.T) {
		r := execCLI(t, env, "", "workspace", "exec", id, "--", "no-such-program-here")
		require.Equal(t, exitAPI, r.code, "%+v", r)
		require.Contains(t, r.stderr, "error: COMMAND_START_FAILED")

		r = execCLI(t, env, "", "workspace", "exec", id, "--cwd", "../..", "--", "ls")
		require.Equal(t, exitAPI, r.code, "%+v", r)
		require.Contains(t, r.stderr, "error: PATH_OUTSIDE_ROOT")

		r = execCLI(t, env, "", "workspace", "exec", id)
		require.Equal(t, exitUsage, r.code, "%+v", r)
		require.Contains(t, r.stderr, "no command")

		other := createJSON(t, env, "not-yet")
		r = execCLI(t, env, "", "workspace", "exec", other.Id, "--", "true")
		require.Equal(t, exitAPI, r.code, "%+v", r)
		require.Contains(t, r.stderr, "error: WORKSPACE_NOT_RUNNING: workspace "+other.Id+" is creating")
	})
}

func TestWorkspaceShell(t *testing.T) {
	env, id := runningWorkspace(t, startRuntime(t))

	t.Run("a new terminal; the exit code is the shell's", func(t *testing.T) {
		r := execCLI(t, env, "echo hi-$((6*7))\nexit 7\n", "workspace", "shell", id)
		require.Equal(t, 7, r.code, "%+v", r)
		require.Contains(t, r.stdout, "hi-42")
		require.Regexp(t, `attached to terminal t[0-9a-f]{12} of workspace `+id, r.stderr)
	})

	t.Run("detach and re-attach to the same shell", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"workspace", "shell", id, "--terminal", "keep", "--api", env.URL},
				strings.NewReader("MARK=$$; echo one-$((1+1))\n"), &out, &errOut)
		}()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			require.Contains(c, out.String(), "one-2", "stderr %q", errOut.String())
		}, 20*time.Second, 20*time.Millisecond)
		cancel()
		require.Equal(t, 130, <-done)
		require.Contains(t, errOut.String(), "the shell keeps running")

		r := execCLI(t, env, "echo same-$MARK-$$\nexit 5\n", "workspace", "shell", id, "--terminal", "keep")
		require.Equal(t, 5, r.code, "%+v", r)
		require.Contains(t, r.stdout, "one-2", "the replay brings the earlier output back")
		m := regexpFind(t, `same-(\d+)-(\d+)`, r.stdout)
		require.Equal(t, m[1], m[2], "the same shell")
	})

	t.Run("refusals", func(t *testing.T) {
		r := execCLI(t, env, "", "workspace", "shell", id, "--terminal", "bad id!")
		require.Equal(t, exitAPI, r.code, "%+v", r)
		require.Contains(t, r.stderr, "error: TERMINAL_ID_INVALID")
		r = execCLI(t, env, "", "workspace", "shell", "aaaaaaaaaaaaaaaaaaaa")
		require.Equal(t, exitAPI, r.code, "%+v", r)
		require.Contains(t, r.stderr, "error: WORKSPACE_NOT_FOUND")
	})
}

func regexpFind(t *testing.T, re, s string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	require.NotNil(t, m, "no %s in %q", re, s)
	return m
}

// execCLI is cli for a command line with "--": the CLI's flags go before it.
func execCLI(t *testing.T, env *apitest.Env, stdin string, args ...string) result {
	t.Helper()
	own, command := splitCommand(args)
	if len(command) == 0 && len(own) == len(args) {
		return cli(t, env, stdin, args...)
	}
	var out, errOut syncBuffer
	full := append(append(append([]string{}, own...), "--api", env.URL, "--"), command...)
	code := run(context.Background(), full, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// TestWorkspaceShellOnATerminal runs shell with a real PTY as its stdin,
// as a person would: raw mode while attached, the local size sent at the
// start and again on SIGWINCH, the terminal restored at the end.
func TestWorkspaceShellOnATerminal(t *testing.T) {
	upstream := startRuntime(t)
	env, id := runningWorkspace(t, upstream)
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	defer tty.Close()
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 100}))
	before, err := term.GetState(int(tty.Fd()))
	require.NoError(t, err)

	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"workspace", "shell", id, "--api", env.URL}, tty, &out, &errOut)
	}()
	require.Eventually(t, func() bool { return strings.Contains(errOut.String(), "attached to terminal") }, 20*time.Second, 20*time.Millisecond, errOut.String())
	_, err = ptmx.Write([]byte("stty size\r"))
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) { require.Contains(c, out.String(), "30 100") }, 20*time.Second, 20*time.Millisecond)
	// Raw mode: the local terminal does not echo what is typed (the remote
	// shell does) and passes Ctrl-C on as a byte, not a signal.
	raw, err := term.GetState(int(tty.Fd()))
	require.NoError(t, err)
	require.NotEqual(t, before, raw, "the local terminal is in raw mode while attached")

	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGWINCH))
	require.Eventually(t, func() bool {
		resp, err := http.Get(upstream + "/v1/terminals")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var l struct{ Terminals []struct{ Cols, Rows int } }
		return json.NewDecoder(resp.Body).Decode(&l) == nil && len(l.Terminals) == 1 && l.Terminals[0].Cols == 120 && l.Terminals[0].Rows == 40
	}, 20*time.Second, 20*time.Millisecond, "the resize never reached the terminal")
	_, err = ptmx.Write([]byte("stty size\r"))
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) { require.Contains(c, out.String(), "40 120") }, 20*time.Second, 20*time.Millisecond)

	_, err = ptmx.Write([]byte("exit 4\r"))
	require.NoError(t, err)
	select {
	case code := <-done:
		require.Equal(t, 4, code, "stdout %q stderr %q", out.String(), errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("shell did not end; stdout %q", out.String())
	}
	after, err := term.GetState(int(tty.Fd()))
	require.NoError(t, err)
	require.Equal(t, before, after, "the local terminal is restored")
	// The input pump still reads the tty: closing it ends that goroutine.
	tty.Close()
}
