package runtimeapi_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/agent"
	"aileron.dev/services/workspace/ports"
)

// fakeAgent writes a stand-in agent CLI: it prints the prompt it was given
// (its third argument), says it works on stderr, and ends when told to on
// stdin, with the exit code it is told.
func fakeAgent(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "fake-agent")
	script := "#!/bin/sh\nprintf 'fake-agent got: %s\\n' \"$2\"\necho working >&2\nread code\nexit \"$code\"\n"
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	return path
}

func TestAgentRun(t *testing.T) {
	h := newHarnessWith(t, agent.Set{
		"fake":    {fakeAgent(t), "--prompt", agent.Placeholder},
		"missing": {"no-such-agent-cli", agent.Placeholder},
	})
	var list struct {
		Agents []agent.Info `json:"agents"`
	}
	h.call(http.MethodGet, "/v1/agents", nil, 200, &list)
	require.Len(t, list.Agents, 2)
	require.Equal(t, "fake", list.Agents[0].Name)
	require.True(t, list.Agents[0].Installed)
	require.Equal(t, "missing", list.Agents[1].Name)
	require.False(t, list.Agents[1].Installed)
	require.True(t, h.act.Snapshot().Last.IsZero(), "listing agents is not activity")

	// The prompt is one argument: what a shell would run stays text.
	prompt := "fix the bug; $(touch pwned) `touch pwned2`"
	var run struct {
		Tag     string `json:"tag"`
		Running bool   `json:"running"`
		Agent   bool   `json:"agent"`
	}
	h.call(http.MethodPost, "/v1/agents/fake/runs", map[string]any{"prompt": prompt}, 201, &run)
	require.True(t, strings.HasPrefix(run.Tag, "agent-fake-"), run.Tag)
	require.True(t, run.Agent)
	snap := h.act.Snapshot()
	require.True(t, snap.Active, "a running agent keeps the workspace active")
	require.Equal(t, "agent:"+run.Tag, snap.Source)

	out := h.stream(http.MethodGet, "/v1/sessions/"+run.Tag+"/output", nil)
	// stdout and stderr are two pipes: either may come first.
	var got string
	for !strings.Contains(got, "fake-agent got: "+prompt+"\n") || !strings.Contains(got, "working\n") {
		got += out.readUntil("\n")
	}
	h.call(http.MethodPost, "/v1/sessions/"+run.Tag+"/input", map[string]any{"data": "3\n"}, 204, nil)
	var last event
	for e, ok := out.next(); ok; e, ok = out.next() {
		last = e
	}
	require.Equal(t, "exit", last.Type)
	require.Equal(t, 3, last.Exit.ExitCode)
	require.Eventually(t, func() bool { return !h.act.Snapshot().Active }, 5*time.Second, 20*time.Millisecond)
	for _, f := range []string{"pwned", "pwned2"} {
		require.NoFileExists(t, filepath.Join(h.root, f))
	}

	// A run is a session: stopped like one, with a tag of the caller's.
	h.call(http.MethodPost, "/v1/agents/fake/runs", map[string]any{"prompt": "again", "tag": "mine"}, 201, &run)
	require.Equal(t, "mine", run.Tag)
	h.call(http.MethodDelete, "/v1/sessions/mine", nil, 204, nil)

	e := h.refuse(http.MethodPost, "/v1/agents/nope/runs", map[string]any{"prompt": "x"}, 404, "AGENT_NOT_FOUND")
	require.Equal(t, "name", e.Field)
	require.Contains(t, e.Message, "fake, missing")
	e = h.refuse(http.MethodPost, "/v1/agents/missing/runs", map[string]any{"prompt": "x"}, 409, "AGENT_NOT_INSTALLED")
	require.Contains(t, e.Message, "no-such-agent-cli")
	e = h.refuse(http.MethodPost, "/v1/agents/fake/runs", map[string]any{"prompt": "  "}, 400, "REQUEST_INVALID")
	require.Equal(t, "prompt", e.Field)
	h.refuse(http.MethodPost, "/v1/agents/fake/runs", map[string]any{"prompt": "x", "cwd": "../.."}, 403, "PATH_OUTSIDE_ROOT")
	h.refuse(http.MethodPost, "/v1/agents/fake/runs", map[string]any{"prompt": "x", "tag": "bad tag"}, 400, "SESSION_TAG_INVALID")
}

func TestParseAgents(t *testing.T) {
	s, err := agent.Parse(`{"aider": ["aider", "--message", "{prompt}"], "x": ["sh", "-c", "echo \"$0\"", "prompt={prompt}"]}`)
	require.NoError(t, err)
	require.Equal(t, []string{"aider", "--message", "{prompt}"}, s["aider"])
	for js, want := range map[string]string{
		`[]`:                            "JSON object",
		`{"a": ["a"], "b": 1}`:          "JSON object",
		`{"Claude": ["c", "{prompt}"]}`: `name "Claude"`,
		`{"c": []}`:                     "must name a command",
		`{"c": ["c", "-p"]}`:            "must carry {prompt}",
	} {
		_, err := agent.Parse(js)
		require.ErrorContains(t, err, want, js)
	}
}

func TestPorts(t *testing.T) {
	h := newHarness(t)
	// A dev server started in the workspace.
	var run struct {
		Tag string `json:"tag"`
	}
	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "web", "argv": []string{"python3", "-m", "http.server", "--bind", "127.0.0.1", "0"}}, 201, &run)
	out := h.stream(http.MethodGet, "/v1/sessions/web/output", nil)
	line := out.readUntil("Serving HTTP")
	var port int
	_, err := fmt.Sscanf(line[strings.Index(line, "port ")+5:], "%d", &port)
	require.NoError(t, err, line)
	out.close()

	var list struct {
		Ports []ports.Port `json:"ports"`
	}
	h.call(http.MethodGet, "/v1/ports", nil, 200, &list)
	require.Contains(t, list.Ports, ports.Port{Port: uint16(port), Address: "127.0.0.1", Loopback: true})
	h.call(http.MethodDelete, "/v1/sessions/web", nil, 204, nil)
	require.Eventually(t, func() bool {
		h.call(http.MethodGet, "/v1/ports", nil, 200, &list)
		return !slices.Contains(list.Ports, ports.Port{Port: uint16(port), Address: "127.0.0.1", Loopback: true})
	}, 10*time.Second, 50*time.Millisecond, "a stopped server's port goes away")

	// Which ports have a preview: a server on loopback or all addresses
	// does; a daemon's own port does not, nor does the engine's DNS
	// resolver, which listens on the loopback address resolv.conf names
	// (Docker's 127.0.0.11; 127.0.0.2 here).
	serve := func(addr string) uint16 {
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		ln, err := net.Listen("tcp", addr)
		require.NoError(t, err)
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		return uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	dev, daemon, resolver := serve("127.0.0.1:0"), serve("127.0.0.1:0"), serve("127.0.0.2:0")
	h.api.WithPreviewDeny(daemon)
	resolvConf := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(resolvConf, []byte("# the engine's\nnameserver 127.0.0.2\noptions ndots:0\n"), 0o644))
	h.api.SetResolvConf(resolvConf)
	type listed struct {
		Address     string `json:"address"`
		Daemon      bool   `json:"daemon"`
		Previewable bool   `json:"previewable"`
	}
	var marked struct {
		Ports []struct {
			Port uint16 `json:"port"`
			listed
		} `json:"ports"`
	}
	h.call(http.MethodGet, "/v1/ports", nil, 200, &marked)
	got := map[uint16]listed{}
	for _, p := range marked.Ports {
		got[p.Port] = p.listed
	}
	require.Equal(t, listed{Address: "127.0.0.1", Previewable: true}, got[dev], "a dev server has a preview: %+v", marked.Ports)
	require.Equal(t, listed{Address: "127.0.0.1", Daemon: true}, got[daemon], "a daemon's port has none: %+v", marked.Ports)
	require.Equal(t, listed{Address: "127.0.0.2"}, got[resolver], "the resolver's has none: %+v", marked.Ports)
	// A preview of the resolver's port finds nothing to dial.
	resp := h.previewGet(strconv.Itoa(int(resolver)))
	var e errorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	resp.Body.Close()
	require.Equal(t, http.StatusBadGateway, resp.StatusCode, "%+v", e)
	require.Equal(t, "PREVIEW_PORT_NOT_LISTENING", e.Code)
}
