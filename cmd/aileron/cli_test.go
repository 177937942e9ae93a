package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The nats client and server stop background goroutines asynchronously.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).acceptConnections.func1"),
		goleak.IgnoreTopFunction("time.Sleep"),
		// net/http keeps idle keep-alive connections of the default transport.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// result is what one CLI invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the aileron command line against env, with stdin as input.
func cli(t *testing.T, env *apitest.Env, stdin string, args ...string) result {
	t.Helper()
	return cliCtx(context.Background(), env, stdin, args...)
}

func cliCtx(ctx context.Context, env *apitest.Env, stdin string, args ...string) result {
	var out, errOut syncBuffer
	code := run(ctx, append(args, "--api", env.URL), strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// createJSON creates a workspace with the CLI and returns it.
func createJSON(t *testing.T, env *apitest.Env, args ...string) *workspacev1.Workspace {
	t.Helper()
	r := cli(t, env, "", append([]string{"workspace", "create"}, append(args, "-o", "json")...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	w := &workspacev1.Workspace{}
	require.NoError(t, protojson.Unmarshal([]byte(r.stdout), w), r.stdout)
	return w
}

// report publishes a provisioner status report for the current generation.
func report(t *testing.T, env *apitest.Env, id, phase string) {
	t.Helper()
	resp, err := env.Client.GetWorkspace(context.Background(), &workspacev1.GetWorkspaceRequest{Id: id})
	require.NoError(t, err)
	gen := resp.Workspace.Generation
	r := &eventsv1.StatusReport{WorkspaceId: id, ObservedGeneration: gen, Phase: phase, Reason: "test says " + phase,
		Reporter: "test", Time: timestamppb.Now()}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(id),
		fmt.Sprintf("%s-%d-%s-%d", id, gen, phase, time.Now().UnixNano()), r))
}

func waitState(t *testing.T, env *apitest.Env, id, state string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := env.Client.GetWorkspace(context.Background(), &workspacev1.GetWorkspaceRequest{Id: id})
		return err == nil && resp.Workspace.State == state
	}, 10*time.Second, 20*time.Millisecond, "workspace %s never reached %s", id, state)
}

func TestWorkspaceCommands(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})

	r := cli(t, env, "", "workspace", "create", "demo", "--canvas", "--workspace-domains", "example.org,api.example.com")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `^created workspace demo \([a-z2-7]{20}\): creating\n$`, r.stdout)

	w := createJSON(t, env, "second", "--provisioner", "kubernetes", "--browser-network-access=false")
	require.Equal(t, "second", w.Name)
	require.Equal(t, "kubernetes", w.Provisioner)
	require.False(t, w.BrowserFirewallNetworkAccessEnabled)
	require.True(t, w.WorkspaceFirewallNetworkAccessEnabled, "unset flags keep the server's default")

	t.Run("list", func(t *testing.T) {
		r := cli(t, env, "", "ws", "list")
		require.Equal(t, exitOK, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 3)
		require.Regexp(t, `^ID\s+NAME\s+STATE\s+PROVISIONER\s+SERVICES\s+FIREWALL\s+AGE$`, lines[0])
		require.Regexp(t, `^[a-z2-7]{20}\s+demo\s+creating\s+docker\s+0/4 running\s+\S+\s+\d+s$`, lines[1])

		r = cli(t, env, "", "workspace", "list", "-o", "json", "--search", "SEC")
		require.Equal(t, exitOK, r.code, r.stderr)
		list := &workspacev1.ListWorkspacesResponse{}
		require.NoError(t, protojson.Unmarshal([]byte(r.stdout), list), r.stdout)
		require.Len(t, list.Workspaces, 1)
		require.Equal(t, w.Id, list.Workspaces[0].Id)
		require.Contains(t, r.stdout, `"workspace_firewall_network_access_enabled": true`, "JSON uses the proto field names")
		require.Contains(t, r.stdout, `"browser_firewall_network_access_enabled": false`, "and shows zero values, like the API")

		r = cli(t, env, "", "workspace", "list", "--state", "running")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, "no workspaces\n", r.stdout)
	})

	t.Run("get", func(t *testing.T) {
		r := cli(t, env, "", "workspace", "get", w.Id)
		require.Equal(t, exitOK, r.code, r.stderr)
		for _, want := range []string{`(?m)^Name:\s+second$`, `(?m)^State:\s+creating \(.+\)$`, `(?m)^Deadline:\s+\S+ \(in \d+m\)$`,
			`(?m)^SERVICE\s+STATE\s+ENDPOINT`, `(?m)^canvas\s+disabled`, `(?m)^Firewall: applying \(revision 1, enforced 0\)$`, `(?m)^browser\s+off\s+allowlist`} {
			require.Regexp(t, want, r.stdout)
		}
		r = cli(t, env, "", "workspace", "get", w.Id, "-o", "json")
		require.Equal(t, exitOK, r.code, r.stderr)
		got := &workspacev1.Workspace{}
		require.NoError(t, protojson.Unmarshal([]byte(r.stdout), got))
		require.Equal(t, w.Id, got.Id)

		r = cli(t, env, "", "workspace", "get", "aaaaaaaaaaaaaaaaaaaa")
		require.Equal(t, exitAPI, r.code)
		require.Equal(t, "error: WORKSPACE_NOT_FOUND: ", r.stderr[:len("error: WORKSPACE_NOT_FOUND: ")])
	})

	t.Run("lifecycle", func(t *testing.T) {
		r := cli(t, env, "", "workspace", "stop", w.Id)
		require.Equal(t, exitAPI, r.code, "stop is refused while creating")
		require.Empty(t, r.stdout)
		require.Regexp(t, `^error: WORKSPACE_STOP_NOT_ALLOWED: cannot stop: the workspace state is creating .*\n$`, r.stderr)

		report(t, env, w.Id, "running")
		waitState(t, env, w.Id, "running")
		r = cli(t, env, "", "workspace", "restart-service", w.Id, "runtime")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("restart of runtime accepted: workspace second (%s) is running\n", w.Id), r.stdout)
		r = cli(t, env, "", "workspace", "restart-service", w.Id, "gpu")
		require.Equal(t, exitAPI, r.code)
		require.Contains(t, r.stderr, "error: WORKSPACE_SERVICE_INVALID: ")

		r = cli(t, env, "", "workspace", "stop", w.Id, "-o", "json")
		require.Equal(t, exitOK, r.code, r.stderr)
		stopped := &workspacev1.Workspace{}
		require.NoError(t, protojson.Unmarshal([]byte(r.stdout), stopped))
		require.Equal(t, "stopping", stopped.State)

		// start --wait follows the workspace until the provisioner reports it running.
		report(t, env, w.Id, "stopped")
		waitState(t, env, w.Id, "stopped")
		done := make(chan result, 1)
		go func() { done <- cli(t, env, "", "workspace", "start", w.Id, "--wait", "--timeout", "20s") }()
		waitState(t, env, w.Id, "starting")
		report(t, env, w.Id, "running")
		r = <-done
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("start accepted: workspace second (%s) is running\n", w.Id), r.stdout)
	})

	t.Run("timeline", func(t *testing.T) {
		r := cli(t, env, "", "workspace", "timeline", w.Id)
		require.Equal(t, exitOK, r.code, r.stderr)
		parts := strings.Split(strings.TrimSpace(r.stdout), "\n\n")
		require.Len(t, parts, 3, r.stdout)
		for i, want := range []string{`creating → running \(generation 1\)`, `stopping → stopped \(generation 3\)`, `starting → running \(generation 4\)`} {
			lines := strings.Split(parts[i], "\n")
			require.Regexp(t, `^`+want+`, \S+Z, took \d+\.\d{3}s$`, lines[0])
			require.Regexp(t, `^OFFSET\s+DURATION\s+STEP\s+TARGET\s+WATERFALL$`, lines[1])
			require.Regexp(t, `^\+0\.000s\s+\d+\.\d{3}s\s+requested\s+-\s+\|=`, lines[2])
			require.Regexp(t, `^\+\d+\.\d{3}s\s+\d+\.\d{3}s\s+`+strings.Fields(want)[2]+`\s+-\s+\|[ =]{30}\|$`, lines[len(lines)-1])
		}
		r = cli(t, env, "", "workspace", "timeline", w.Id, "-o", "json")
		require.Equal(t, exitOK, r.code, r.stderr)
		tl := &workspacev1.GetWorkspaceTimelineResponse{}
		require.NoError(t, protojson.Unmarshal([]byte(r.stdout), tl), r.stdout)
		require.Len(t, tl.Transitions, 3)

		r = cli(t, env, "", "workspace", "timeline", "NOT-AN-ID")
		require.Equal(t, exitAPI, r.code)
		require.Contains(t, r.stderr, "error: WORKSPACE_ID_INVALID: ")
	})

	t.Run("delete asks first", func(t *testing.T) {
		r := cli(t, env, "n\n", "workspace", "delete", w.Id)
		require.Equal(t, exitAborted, r.code)
		require.Contains(t, r.stderr, "Delete workspace second ("+w.Id+") and all its data?")
		require.Contains(t, r.stderr, "aborted: nothing was deleted")
		waitState(t, env, w.Id, "running")

		r = cli(t, env, "", "workspace", "delete", w.Id) // no answer at all: no
		require.Equal(t, exitAborted, r.code)

		r = cli(t, env, "yes\n", "workspace", "delete", w.Id)
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, "delete accepted: workspace second")
		waitState(t, env, w.Id, "deleting")

		r = cli(t, env, "", "ws", "rm", "--yes", w.Id, "-o", "json")
		require.Equal(t, exitOK, r.code, "a repeated delete is idempotent: %s", r.stderr)
	})
}

func TestFirewallCommands(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	w := createJSON(t, env, "fw-demo")

	r := cli(t, env, "", "firewall", "set", w.Id, "--workspace-domains", "example.org,http://bad.example.com")
	require.Equal(t, exitAPI, r.code)
	require.Regexp(t, `^error: FIREWALL_DOMAIN_INVALID: .*"http://bad.example.com".*\n$`, r.stderr)

	r = cli(t, env, "", "firewall", "set", w.Id, "--workspace-domains", "example.org,*.example.net", "--browser-mode", "deny")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "firewall update accepted: revision 2")

	r = cli(t, env, "", "firewall", "get", w.Id, "-o", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	fw := &workspacev1.Firewall{}
	require.NoError(t, protojson.Unmarshal([]byte(r.stdout), fw))
	require.Equal(t, uint64(2), fw.Revision)
	require.Equal(t, []string{"*.example.net", "example.org"}, fw.WorkspaceFirewallAllowedDomains)
	require.Equal(t, "deny", fw.BrowserFirewallDomainAccessMode)
	require.Equal(t, "allowlist", fw.WorkspaceFirewallDomainAccessMode, "unset flags keep their value")

	r = cli(t, env, "", "firewall", "get", w.Id)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Regexp(t, `(?m)^workspace\s+on\s+allowlist\s+\*\.example\.net,example\.org\s`, r.stdout)

	r = cli(t, env, "", "firewall", "set", w.Id, "--revision", "1", "--browser-network-access=false")
	require.Equal(t, exitAPI, r.code)
	require.Regexp(t, `^error: FIREWALL_REVISION_CONFLICT: revision 1 is stale`, r.stderr)

	r = cli(t, env, "", "firewall", "set", w.Id)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "error: USAGE: nothing to change")
}

func TestWatch(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	w := createJSON(t, env, "watched")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"workspace", "watch", "-o", "json", "--api", env.URL}, strings.NewReader(""), &out, &errOut)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), `"type":"added"`) }, 10*time.Second, 20*time.Millisecond)
	report(t, env, w.Id, "running")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), `"state":"running"`) }, 10*time.Second, 20*time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done, errOut.String())
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		ev := &workspacev1.WatchWorkspacesResponse{}
		require.NoError(t, protojson.Unmarshal([]byte(line), ev), "each line is one JSON event: %s", line)
		require.Equal(t, w.Id, ev.Workspace.Id)
	}

	r := cli(t, env, "", "workspace", "watch", "aaaaaaaaaaaaaaaaaaaa")
	require.Equal(t, exitAPI, r.code)
	require.Contains(t, r.stderr, "error: WORKSPACE_NOT_FOUND: ")
}

func TestUsageErrors(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"workspace", "explode"}, exitUsage, `error: USAGE: unknown workspace command "explode"`},
		{"missing id", []string{"workspace", "get"}, exitUsage, "error: USAGE: expected 1 argument(s), got 0\nusage: aileron workspace get ID [flags]"},
		{"extra argument", []string{"workspace", "stop", "a", "b"}, exitUsage, "error: USAGE: expected 1 argument(s), got 2"},
		{"bad output", []string{"workspace", "list", "-o", "yaml"}, exitUsage, `error: USAGE: -o "yaml": must be table or json`},
		{"unknown flag", []string{"workspace", "list", "--colour"}, exitUsage, "flag provided but not defined: -colour"},
		{"bad revision", []string{"firewall", "set", "x", "--revision", "two", "--browser-mode", "deny"}, exitUsage, `--revision "two" must be a number`},
		{"bad api url", []string{"workspace", "list", "--api", "localhost:3001"}, exitUsage, `--api "localhost:3001" must be an http(s) URL`},
		{"api unreachable", []string{"workspace", "list", "--api", "http://127.0.0.1:1"}, exitUnavailable, "error: UNAVAILABLE: cannot reach the API at http://127.0.0.1:1"},
		{"api refuses", []string{"workspace", "create", "Bad_Name"}, exitAPI, `error: WORKSPACE_NAME_INVALID: name "Bad_Name" must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			// The last --api wins, so the test cases can override env's.
			code := run(context.Background(), append([]string{tt.args[0], tt.args[1], "--api", env.URL}, tt.args[2:]...),
				strings.NewReader(""), &out, &errOut)
			require.Equal(t, tt.code, code, "stderr: %s", errOut.String())
			require.Contains(t, errOut.String(), tt.want)
			require.Empty(t, out.String())
		})
	}
}

func TestToken(t *testing.T) {
	const token = "cli-s3cret"
	sum := sha256.Sum256([]byte(token))
	h := hex.EncodeToString(sum[:])
	a, err := auth.New(auth.Config{Tokens: map[string]auth.StaticToken{h: {Name: "cli-test", SHA256: h}}})
	require.NoError(t, err)
	env := apitest.Start(t, apitest.Options{Server: func(c *server.Config) {
		c.Secure(auth.NewGuard(a, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
	}})

	r := cli(t, env, "", "workspace", "list")
	require.Equal(t, exitAPI, r.code)
	require.Regexp(t, `^error: AUTH_TOKEN_MISSING: `, r.stderr)

	r = cli(t, env, "", "workspace", "list", "--token", "wrong")
	require.Equal(t, exitAPI, r.code)
	require.Regexp(t, `^error: AUTH_TOKEN_INVALID: `, r.stderr)

	r = cli(t, env, "", "workspace", "create", "mine", "--token", token)
	require.Equal(t, exitOK, r.code, r.stderr)

	t.Setenv("AILERON_TOKEN", token)
	r = cli(t, env, "", "workspace", "list")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "mine")
}
